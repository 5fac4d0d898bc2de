//! Ingestion benchmark: how many pre-signed transactions per second the node
//! accepts through `eth_sendRawTransaction`, one per request or batched.

use crate::accounts::{derive_accounts, ACCOUNTS_MAX, INGEST_ACCOUNT_SEED};
use crate::rpc::{SendOutcome, BATCH_SIZE_MAX};
use crate::setup::{fund_accounts, Chain};
use crate::signer::{transfer_request, Sender, TRANSFER_GAS};
use crate::stats::per_second;
use crate::tracker::millis;
use crate::LoadError;
use alloy_primitives::{Address, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use std::time::Instant;
use tokio::task::JoinSet;

/// Upper bound on transactions one benchmark pre-signs (they are held in memory).
pub const INGEST_TXS_MAX: usize = 1_000_000;

/// Transactions per sending account: small, so each account's nonces stay
/// within any pool's per-sender window.
pub const INGEST_TXS_PER_ACCOUNT: usize = 16;

/// Concurrent sending tasks; each owns a disjoint set of accounts so every
/// account's nonces still arrive in order.
pub const INGEST_CONCURRENCY: usize = 4;

/// Setup receipt timeout of the benchmark.
const INGEST_SETUP_TIMEOUT_MS: u64 = 120_000;

/// Minimum wei an ingest account is topped up to (covers value and fees).
const INGEST_FUND_MIN_WEI: u128 = 1_000_000_000_000_000;

/// What one ingestion benchmark measured.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestReport {
    /// Transactions pre-signed and sent.
    pub txs: usize,
    /// Transactions per JSON-RPC request.
    pub batch_size: usize,
    /// Sending accounts.
    pub accounts: usize,
    /// Transactions the node accepted (returned a hash for).
    pub accepted: u64,
    /// Transactions the node refused.
    pub rejected: u64,
    /// Wall time from the first send to the last answer, milliseconds.
    pub elapsed_ms: u64,
    /// `accepted` per second of `elapsed_ms`.
    pub accepted_tps: f64,
    /// The first refusal message, if any (the others are usually the same).
    pub first_error: Option<String>,
}

/// Pre-signs `txs` 1-wei transfers from `ceil(txs / INGEST_TXS_PER_ACCOUNT)`
/// ingest accounts (funded from `funder` first when short of balance), then
/// times sending them all with `batch_size` transactions per request
/// (1 = one `eth_sendRawTransaction` per HTTP request) over
/// [`INGEST_CONCURRENCY`] connections. Only acceptance is measured; inclusion
/// is not awaited.
pub async fn bench_ingest(
    rpc_url: &str,
    funder: &PrivateKeySigner,
    txs: usize,
    batch_size: usize,
) -> Result<IngestReport, LoadError> {
    if !(1..=INGEST_TXS_MAX).contains(&txs) {
        return Err(LoadError::config("txs", format!("must be 1..={INGEST_TXS_MAX}")));
    }
    if !(1..=BATCH_SIZE_MAX).contains(&batch_size) {
        return Err(LoadError::config("batch_size", format!("must be 1..={BATCH_SIZE_MAX}")));
    }
    let accounts = txs.div_ceil(INGEST_TXS_PER_ACCOUNT).clamp(2, ACCOUNTS_MAX);
    let chain = Chain::connect(rpc_url).await?;
    let signers = derive_accounts(INGEST_ACCOUNT_SEED, accounts);
    let addresses: Vec<Address> = signers.iter().map(|s| s.address()).collect();
    top_up(&chain, funder, &addresses).await?;
    let mut senders: Vec<Sender> = signers.into_iter().map(Sender::new).collect();
    for sender in &mut senders {
        sender.resync(&chain.rpc).await?;
    }
    let groups = presign(&chain, &mut senders, &addresses, txs)?;
    let start = Instant::now();
    let outcomes = send_groups(&chain, groups, batch_size).await?;
    let elapsed_ms = millis(start.elapsed());
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
    let first_error = outcomes.iter().find_map(|o| o.as_ref().err().cloned());
    Ok(IngestReport {
        txs,
        batch_size,
        accounts,
        accepted,
        rejected: txs as u64 - accepted,
        elapsed_ms,
        accepted_tps: per_second(accepted, elapsed_ms),
        first_error,
    })
}

/// Funds every account whose balance is below what its share of the
/// benchmark can cost.
async fn top_up(chain: &Chain, funder: &PrivateKeySigner, to: &[Address]) -> Result<(), LoadError> {
    let per_account = INGEST_TXS_PER_ACCOUNT as u64;
    let need = (chain.fees.max_cost(TRANSFER_GAS) + U256::from(1)) * U256::from(per_account * 4);
    let need = need.max(U256::from(INGEST_FUND_MIN_WEI));
    let mut short = Vec::new();
    for address in to {
        if chain.rpc.balance(*address).await? < need {
            short.push(*address);
        }
    }
    if short.is_empty() {
        return Ok(());
    }
    let mut funder = Sender::new(funder.clone());
    fund_accounts(chain, &mut funder, &short, need, INGEST_SETUP_TIMEOUT_MS).await
}

/// Signs `txs` transfers round-robin over the senders and splits them into
/// [`INGEST_CONCURRENCY`] groups by sender, each in nonce order.
fn presign(
    chain: &Chain,
    senders: &mut [Sender],
    addresses: &[Address],
    txs: usize,
) -> Result<Vec<Vec<Bytes>>, LoadError> {
    let mut groups = vec![Vec::new(); INGEST_CONCURRENCY];
    for i in 0..txs {
        let from = i % senders.len();
        let to = addresses[(from + 1) % addresses.len()];
        let tx =
            senders[from].sign(chain.chain_id, chain.fees, transfer_request(to, U256::from(1)))?;
        groups[from % INGEST_CONCURRENCY].push(tx.raw);
    }
    Ok(groups)
}

async fn send_groups(
    chain: &Chain,
    groups: Vec<Vec<Bytes>>,
    batch_size: usize,
) -> Result<Vec<SendOutcome>, LoadError> {
    let mut tasks = JoinSet::new();
    for group in groups {
        let rpc = chain.rpc.clone();
        tasks.spawn(async move { rpc.send_raw_many(&group, batch_size).await });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        // A panicking send task is a bug in this crate, not a node condition.
        outcomes.extend(joined.expect("ingest send task panicked")?);
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounds_are_checked_before_connecting() {
        let funder = PrivateKeySigner::random();
        let err = bench_ingest("http://127.0.0.1:1", &funder, 0, 1).await.unwrap_err();
        assert!(matches!(err, LoadError::InvalidConfig { field: "txs", .. }));
        let err = bench_ingest("http://127.0.0.1:1", &funder, 10, 0).await.unwrap_err();
        assert!(matches!(err, LoadError::InvalidConfig { field: "batch_size", .. }));
    }
}

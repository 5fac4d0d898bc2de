//! Setup transactions sent by the funder: funding accounts, deploying the
//! token and distributing it. Each chunk is sent, then its receipts awaited.

use crate::rpc::{ReceiptSummary, RpcClient};
use crate::signer::{transfer_request, Fees, Sender, SignedTx, TxRequest};
use crate::LoadError;
use alloy_primitives::{Address, B256, U256};
use std::time::{Duration, Instant};

/// Setup transactions sent before awaiting their receipts; small enough to
/// stay within any pool's per-sender nonce window.
pub const SETUP_CHUNK: usize = 64;

/// How often a setup receipt is polled.
const RECEIPT_POLL_MS: u64 = 50;

/// The node, chain id and fees a run signs against.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub rpc: RpcClient,
    pub chain_id: u64,
    pub fees: Fees,
}

impl Chain {
    /// Connects and reads the chain id and current fees.
    pub async fn connect(rpc_url: &str) -> Result<Self, LoadError> {
        let rpc = RpcClient::new(rpc_url)?;
        let chain_id = rpc.chain_id().await?;
        let fees = Fees::from_node(&rpc).await?;
        Ok(Self { rpc, chain_id, fees })
    }
}

/// Waits for the receipt of `hash` until `timeout_ms`, failing if it reverted.
pub(crate) async fn await_success(
    rpc: &RpcClient,
    hash: B256,
    what: &'static str,
    timeout_ms: u64,
) -> Result<ReceiptSummary, LoadError> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    loop {
        if let Some(receipt) = rpc.receipt(hash).await? {
            if !receipt.succeeded() {
                return Err(LoadError::SetupReverted { what, tx_hash: hash });
            }
            return Ok(receipt);
        }
        if Instant::now() >= deadline {
            return Err(LoadError::ReceiptTimeout { tx_hash: hash, timeout_ms });
        }
        tokio::time::sleep(Duration::from_millis(RECEIPT_POLL_MS)).await;
    }
}

/// Signs and sends `requests` from `funder` in chunks of [`SETUP_CHUNK`],
/// awaiting every receipt of a chunk (and requiring success) before the next.
pub(crate) async fn send_and_confirm(
    chain: &Chain,
    funder: &mut Sender,
    requests: Vec<TxRequest>,
    what: &'static str,
    timeout_ms: u64,
) -> Result<Vec<ReceiptSummary>, LoadError> {
    let mut receipts = Vec::with_capacity(requests.len());
    let mut requests = requests.into_iter().peekable();
    while requests.peek().is_some() {
        if funder.is_stale() {
            funder.resync(&chain.rpc).await?;
        }
        let mut signed: Vec<SignedTx> = Vec::with_capacity(SETUP_CHUNK);
        for request in requests.by_ref().take(SETUP_CHUNK) {
            signed.push(funder.sign(chain.chain_id, chain.fees, request)?);
        }
        for tx in &signed {
            if let Err(e) = chain.rpc.send_raw(&tx.raw).await {
                funder.mark_stale();
                return Err(LoadError::SetupRejected { what, message: e.to_string() });
            }
        }
        for tx in &signed {
            receipts.push(await_success(&chain.rpc, tx.hash, what, timeout_ms).await?);
        }
    }
    Ok(receipts)
}

/// Sends `amount_wei` from `funder` to each of `to`.
pub(crate) async fn fund_accounts(
    chain: &Chain,
    funder: &mut Sender,
    to: &[Address],
    amount_wei: U256,
    timeout_ms: u64,
) -> Result<(), LoadError> {
    let requests = to.iter().map(|a| transfer_request(*a, amount_wei)).collect();
    send_and_confirm(chain, funder, requests, "fund account", timeout_ms).await?;
    Ok(())
}

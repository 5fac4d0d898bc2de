//! [`TxPool`]: admission (stateless checks, then nonce and balance against the
//! latest committed state), selection for block building, and upkeep after
//! each committed block.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, U256};
use parking_lot::Mutex;
use phalanx_core_types::{RecoveredTx, StateView};

use crate::queues::{PoolStatus, Queues};
use crate::validate::{max_cost, validate_raw, validate_recovered};
use crate::{PoolConfig, PoolError, NONCE_WINDOW_MIN};

/// The transaction pool. Internally synchronised (`Send + Sync`); share it
/// through an `Arc`. Every operation is bounded by the pool's size limits.
#[derive(Debug)]
pub struct TxPool {
    config: PoolConfig,
    queues: Mutex<Queues>,
}

impl TxPool {
    /// An empty pool. `config.nonce_window` is raised to [`NONCE_WINDOW_MIN`]
    /// if smaller.
    pub fn new(mut config: PoolConfig) -> Self {
        config.nonce_window = config.nonce_window.max(NONCE_WINDOW_MIN);
        Self { config, queues: Mutex::new(Queues::default()) }
    }

    /// The configuration in force.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Stateless checks of raw EIP-2718 bytes: size (`tx_bytes_max`),
    /// canonical decoding, type (no blob or EIP-7702 transactions), chain id
    /// (EIP-155; unprotected legacy only with `accept_unprotected`), nonce below
    /// 2^64-1, gas limit fits u64 and the block gas limit, init code size
    /// (EIP-3860), tip ≤ fee cap, fee cap ≥ base fee, intrinsic gas, signature values (EIP-2) and sender recovery. Needs no
    /// state; the TransactionTests runner uses it directly.
    pub fn validate_stateless(config: &PoolConfig, raw: &[u8]) -> Result<RecoveredTx, PoolError> {
        validate_raw(config, raw)
    }

    /// [`TxPool::validate_stateless`], then [`TxPool::add`]'s state checks and
    /// insertion. Returns the transaction hash.
    pub fn add_raw(&self, raw: &[u8], state: &dyn StateView) -> Result<B256, PoolError> {
        let tx = validate_raw(&self.config, raw)?;
        self.admit(tx, state)
    }

    /// Admits an already recovered transaction: the stateless checks (except
    /// decoding and recovery), then against `state` (the latest committed
    /// state): nonce not below the sender's nonce nor beyond the window, and
    /// gas_limit * max_fee + value ≤ balance (and fits 256 bits); then duplicate, replacement
    /// (≥ 10 % fee bump) and bound checks. Returns the transaction hash.
    pub fn add(&self, tx: RecoveredTx, state: &dyn StateView) -> Result<B256, PoolError> {
        validate_recovered(&self.config, &tx)?;
        self.admit(tx, state)
    }

    fn admit(&self, tx: RecoveredTx, state: &dyn StateView) -> Result<B256, PoolError> {
        // State is read before taking the lock: reads may hit disk.
        let (state_nonce, balance) = read_account(state, &tx.sender)?;
        let cost = max_cost(&tx.tx).ok_or(PoolError::CostOverflow)?;
        if cost > balance {
            return Err(PoolError::InsufficientFunds {
                sender: tx.sender,
                balance,
                cost,
                overshot: cost - balance,
            });
        }
        self.queues.lock().insert(tx, state_nonce, &self.config)
    }

    /// Up to `max_txs` executable transactions whose gas limits sum to at most
    /// `gas_max`, for block building. Only each sender's gap-free run from its
    /// state nonce is executable; senders take turns (one transaction per
    /// sender per round, senders ordered by their oldest executable
    /// transaction's arrival), each sender's in nonce order. Removes nothing.
    pub fn best(&self, max_txs: usize, gas_max: u64) -> Vec<RecoveredTx> {
        self.queues.lock().best(max_txs, gas_max)
    }

    /// Upkeep after a block commits: drops `included` and, for each of their
    /// senders, every transaction below the sender's nonce in `state` (the
    /// newly committed state); later transactions that became gap-free turn
    /// pending. A sender whose nonce cannot be read keeps its other
    /// transactions until the next block or admission for it.
    pub fn on_block_committed(&self, included: &[RecoveredTx], state: &dyn StateView) {
        let senders: BTreeMap<Address, ()> = included.iter().map(|t| (t.sender, ())).collect();
        let nonces: Vec<(Address, u64)> = senders
            .keys()
            .filter_map(|sender| match read_account(state, sender) {
                Ok((nonce, _)) => Some((*sender, nonce)),
                Err(err) => {
                    tracing::warn!(%sender, %err, "txpool: cannot read nonce after block");
                    None
                }
            })
            .collect();
        let mut queues = self.queues.lock();
        for tx in included {
            queues.remove(&tx.hash);
        }
        queues.on_committed(&nonces);
    }

    /// Removes a transaction the executor rejected, so it is not proposed
    /// again. The sender's later transactions stay (as queued, behind the gap).
    pub fn remove_invalid(&self, hash: &B256) {
        self.queues.lock().remove(hash);
    }

    /// The pooled transaction with this hash.
    pub fn get(&self, hash: &B256) -> Option<RecoveredTx> {
        self.queues.lock().get(hash)
    }

    /// The nonce `sender`'s next transaction should carry: the first nonce
    /// after the gap-free run of pooled transactions starting at `state_nonce`
    /// (`state_nonce` itself when there is none), `state_nonce` first raised
    /// to a nonce a recent commit has reached (the caller's read may predate
    /// it). For `eth_getTransactionCount(.., "pending")`.
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        self.queues.lock().pending_nonce(sender, state_nonce)
    }

    /// How many transactions are executable (pending) and waiting behind a
    /// nonce gap (queued).
    pub fn status(&self) -> PoolStatus {
        self.queues.lock().status()
    }

    /// Total pooled transactions.
    pub fn len(&self) -> usize {
        let status = self.status();
        status.pending + status.queued
    }

    /// Whether the pool holds no transaction.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Panics if an internal invariant does not hold (see `queues.rs`).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        self.queues.lock().check_invariants(&self.config);
    }

    /// Senders with pooled transactions.
    #[cfg(test)]
    pub(crate) fn sender_count(&self) -> usize {
        self.queues.lock().sender_count()
    }
}

/// The sender's (nonce, balance); an absent account is (0, 0).
fn read_account(state: &dyn StateView, sender: &Address) -> Result<(u64, U256), PoolError> {
    let account = state
        .account(sender)
        .map_err(|e| PoolError::State { message: e.to_string() })?
        .unwrap_or_default();
    Ok((account.nonce, account.balance))
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;

//! The pool's data structure, without locking or state access: per-sender
//! nonce-ordered queues plus a hash index.
//!
//! **Invariants** (checked by [`Queues::check_invariants`] in tests):
//! - every pooled transaction is in exactly one sender queue, under its nonce,
//!   and in the hash index; the index holds nothing else;
//! - every queued nonce is at least the queue's state nonce;
//! - a queue's `pending` is the length of the gap-free run of nonces starting
//!   at its state nonce, and `pending_total` is their sum;
//! - no queue is empty.

use std::collections::{BTreeMap, HashMap, VecDeque};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, U256};
use phalanx_core_types::RecoveredTx;

use crate::{PoolConfig, PoolError, PRICE_BUMP_PERCENT};

/// A pooled transaction with its arrival sequence number (for fair ordering).
#[derive(Debug, Clone)]
struct PooledTx {
    tx: RecoveredTx,
    arrival: u64,
}

/// One sender's transactions by nonce.
#[derive(Debug, Default)]
struct SenderQueue {
    /// The sender's nonce in the latest state the pool has seen.
    state_nonce: u64,
    txs: BTreeMap<u64, PooledTx>,
    /// Length of the gap-free run of nonces starting at `state_nonce`.
    pending: usize,
}

impl SenderQueue {
    /// Length of the gap-free run of nonces starting at `from`.
    fn run_from(&self, from: u64) -> usize {
        let mut expected = from;
        let mut len = 0;
        for nonce in self.txs.range(from..).map(|(n, _)| *n) {
            if nonce != expected {
                break;
            }
            len += 1;
            expected = expected.saturating_add(1);
        }
        len
    }

    /// The first nonce after the pending run.
    fn pending_end(&self) -> u64 {
        self.state_nonce.saturating_add(self.pending as u64)
    }
}

/// Counts the pool reports; see [`crate::TxPool::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Executable transactions: the gap-free runs starting at each sender's state nonce.
    pub pending: usize,
    /// Future transactions: those after a nonce gap.
    pub queued: usize,
}

/// Per-sender queues and the hash index. Not synchronised: [`crate::TxPool`] wraps it in a mutex.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    by_hash: HashMap<B256, (Address, u64)>,
    senders: HashMap<Address, SenderQueue>,
    pending_total: usize,
    next_arrival: u64,
    /// The nonce each sender of the latest [`RECENT_COMMITS`] blocks had
    /// after its block, with the block's commit count. An admission reads its
    /// state before taking the pool's lock, so it may carry the nonce from
    /// before a commit whose upkeep has already run and dropped the sender's
    /// emptied queue; without this, such a transaction started a queue at the
    /// stale nonce, behind a gap that nothing fills, and was never proposed.
    committed: HashMap<Address, (u64, u64)>,
    /// Commits whose upkeep has run.
    commits: u64,
}

/// How many commits [`Queues`] remembers senders' nonces for: an admission's
/// state read is older than the upkeep it races by one admission's duration,
/// far less than this many blocks.
const RECENT_COMMITS: u64 = 16;

/// Whether `new` pays at least [`PRICE_BUMP_PERCENT`] more than `old`, both in
/// fee cap and in priority fee (gas price for legacy transactions).
fn outbids(new: &RecoveredTx, old: &RecoveredTx) -> bool {
    let bumped = |new: u128, old: u128| {
        U256::from(new) * U256::from(100u64)
            >= U256::from(old) * U256::from(100 + PRICE_BUMP_PERCENT)
    };
    let tip = |t: &RecoveredTx| t.tx.max_priority_fee_per_gas().unwrap_or(t.tx.max_fee_per_gas());
    bumped(new.tx.max_fee_per_gas(), old.tx.max_fee_per_gas()) && bumped(tip(new), tip(old))
}

impl Queues {
    /// Inserts a transaction that passed the stateless and balance checks;
    /// `state_nonce` is the sender's nonce in the latest state.
    pub(crate) fn insert(
        &mut self,
        tx: RecoveredTx,
        state_nonce: u64,
        config: &PoolConfig,
    ) -> Result<B256, PoolError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let state_nonce = self.fresh_nonce(&tx.sender, state_nonce);
        self.advance(&tx.sender, state_nonce);
        let state_nonce = self.senders.get(&tx.sender).map_or(state_nonce, |q| q.state_nonce);
        let nonce = tx.nonce();
        if nonce < state_nonce {
            return Err(PoolError::NonceTooLow { nonce, state_nonce });
        }
        if nonce - state_nonce > config.nonce_window {
            return Err(PoolError::NonceTooHigh {
                nonce,
                state_nonce,
                window: config.nonce_window,
            });
        }
        let replaced = self.senders.get(&tx.sender).and_then(|q| q.txs.get(&nonce));
        match replaced {
            Some(old) if !outbids(&tx, &old.tx) => Err(PoolError::ReplacementUnderpriced),
            Some(old) => {
                let old_hash = old.tx.hash;
                self.by_hash.remove(&old_hash);
                Ok(self.put(tx, state_nonce))
            }
            None => {
                self.check_room(&tx.sender, config)?;
                Ok(self.put(tx, state_nonce))
            }
        }
    }

    fn check_room(&self, sender: &Address, config: &PoolConfig) -> Result<(), PoolError> {
        if self.by_hash.len() >= config.pool_txs_max {
            return Err(PoolError::PoolFull);
        }
        let held = self.senders.get(sender).map_or(0, |q| q.txs.len());
        if held >= config.sender_txs_max {
            return Err(PoolError::AccountLimitExceeded {
                sender: *sender,
                limit: config.sender_txs_max,
            });
        }
        Ok(())
    }

    /// Stores `tx` (a new nonce or a replacement whose old hash is already
    /// unindexed) and extends the sender's pending run if it closes a gap.
    fn put(&mut self, tx: RecoveredTx, state_nonce: u64) -> B256 {
        let hash = tx.hash;
        let (sender, nonce) = (tx.sender, tx.nonce());
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        self.by_hash.insert(hash, (sender, nonce));
        let queue = self
            .senders
            .entry(sender)
            .or_insert_with(|| SenderQueue { state_nonce, ..SenderQueue::default() });
        queue.txs.insert(nonce, PooledTx { tx, arrival });
        if nonce == queue.pending_end() {
            let grown = queue.run_from(queue.state_nonce);
            self.pending_total += grown - queue.pending;
            queue.pending = grown;
        }
        hash
    }

    /// Moves `sender`'s state nonce up to `state_nonce` (never down), dropping
    /// the transactions below it.
    pub(crate) fn advance(&mut self, sender: &Address, state_nonce: u64) {
        let Some(queue) = self.senders.get_mut(sender) else { return };
        if state_nonce <= queue.state_nonce {
            return;
        }
        let kept = queue.txs.split_off(&state_nonce);
        for stale in std::mem::replace(&mut queue.txs, kept).into_values() {
            self.by_hash.remove(&stale.tx.hash);
        }
        queue.state_nonce = state_nonce;
        self.pending_total -= queue.pending;
        queue.pending = queue.run_from(state_nonce);
        self.pending_total += queue.pending;
        if queue.txs.is_empty() {
            self.senders.remove(sender);
        }
    }

    /// `state_nonce`, read by a caller before taking the pool's lock, raised
    /// to the nonce a commit since has reached (a read from before a commit
    /// whose upkeep already ran is stale; see the `committed` field).
    fn fresh_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        self.committed.get(sender).map_or(state_nonce, |&(nonce, _)| state_nonce.max(nonce))
    }

    /// Upkeep after a commit: `nonces` are the committed nonces of the
    /// block's senders. Advances their queues and remembers the nonces for
    /// [`RECENT_COMMITS`] commits (see the `committed` field).
    pub(crate) fn on_committed(&mut self, nonces: &[(Address, u64)]) {
        self.commits += 1;
        for &(sender, nonce) in nonces {
            self.advance(&sender, nonce);
            let entry = self.committed.entry(sender).or_default();
            *entry = (entry.0.max(nonce), self.commits);
        }
        let oldest = self.commits.saturating_sub(RECENT_COMMITS);
        self.committed.retain(|_, &mut (_, commit)| commit > oldest);
    }

    /// Removes one transaction; later nonces of its sender stay, as queued.
    pub(crate) fn remove(&mut self, hash: &B256) -> Option<RecoveredTx> {
        let (sender, nonce) = self.by_hash.remove(hash)?;
        let queue = self.senders.get_mut(&sender)?;
        let removed = queue.txs.remove(&nonce)?;
        if nonce < queue.pending_end() {
            let kept = (nonce - queue.state_nonce) as usize;
            self.pending_total -= queue.pending - kept;
            queue.pending = kept;
        }
        if queue.txs.is_empty() {
            self.senders.remove(&sender);
        }
        Some(removed.tx)
    }

    /// The pooled transaction with this hash.
    pub(crate) fn get(&self, hash: &B256) -> Option<RecoveredTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        Some(self.senders.get(sender)?.txs.get(nonce)?.tx.clone())
    }

    /// The first nonce after the gap-free run of pooled nonces starting at
    /// `state_nonce`.
    pub(crate) fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let state_nonce = self.fresh_nonce(sender, state_nonce);
        let run = self.senders.get(sender).map_or(0, |q| q.run_from(state_nonce));
        state_nonce.saturating_add(run as u64)
    }

    /// Pending and queued counts.
    pub(crate) fn status(&self) -> PoolStatus {
        PoolStatus { pending: self.pending_total, queued: self.by_hash.len() - self.pending_total }
    }

    /// Up to `max_txs` executable transactions whose gas limits sum to at most
    /// `gas_max`: senders in order of their oldest executable transaction's
    /// arrival, one transaction per sender per round, each sender's in nonce
    /// order. A sender whose next transaction does not fit the remaining gas
    /// is passed over from then on (its later nonces depend on it).
    pub(crate) fn best(&self, max_txs: usize, gas_max: u64) -> Vec<RecoveredTx> {
        let mut ready: Vec<(u64, &SenderQueue)> = self
            .senders
            .values()
            .filter(|q| q.pending > 0)
            .filter_map(|q| q.txs.get(&q.state_nonce).map(|t| (t.arrival, q)))
            .collect();
        ready.sort_unstable_by_key(|(arrival, _)| *arrival);
        let mut rounds: VecDeque<(&SenderQueue, u64)> =
            ready.into_iter().map(|(_, q)| (q, q.state_nonce)).collect();
        let mut out = Vec::with_capacity(max_txs.min(self.pending_total));
        let mut gas_left = gas_max;
        while out.len() < max_txs {
            let Some((queue, nonce)) = rounds.pop_front() else { break };
            let tx = &queue.txs[&nonce].tx;
            if tx.gas_limit() > gas_left {
                continue;
            }
            gas_left -= tx.gas_limit();
            out.push(tx.clone());
            if nonce + 1 < queue.pending_end() {
                rounds.push_back((queue, nonce + 1));
            }
        }
        out
    }

    /// Senders that currently have pooled transactions.
    #[cfg(test)]
    pub(crate) fn sender_count(&self) -> usize {
        self.senders.len()
    }

    /// Panics if an invariant from the module documentation does not hold.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self, config: &PoolConfig) {
        let mut total = 0;
        let mut pending_total = 0;
        for (sender, queue) in &self.senders {
            assert!(!queue.txs.is_empty(), "empty queue kept for {sender}");
            assert!(queue.txs.len() <= config.sender_txs_max, "sender bound broken");
            for (nonce, pooled) in &queue.txs {
                assert!(*nonce >= queue.state_nonce, "stale nonce kept");
                assert_eq!(pooled.tx.nonce(), *nonce);
                assert_eq!(pooled.tx.sender, *sender);
                assert_eq!(self.by_hash.get(&pooled.tx.hash), Some(&(*sender, *nonce)));
            }
            assert_eq!(queue.pending, queue.run_from(queue.state_nonce), "stale pending run");
            total += queue.txs.len();
            pending_total += queue.pending;
        }
        assert_eq!(total, self.by_hash.len(), "hash index out of sync");
        assert_eq!(pending_total, self.pending_total, "pending total out of sync");
        assert!(total <= config.pool_txs_max, "pool bound broken");
    }
}

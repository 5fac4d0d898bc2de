//! Inclusion tracking: transactions in flight, matched against the hashes of
//! each new block (one `eth_getBlockByNumber(n, false)` per block instead of
//! one receipt poll per transaction).

use crate::rpc::RpcClient;
use crate::stats::LatencySamples;
use alloy_primitives::B256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Upper bound on blocks fetched per poll, so one poll after a long stall
/// cannot monopolise the node; the rest are fetched on the next polls.
pub const BLOCKS_PER_POLL_MAX: u64 = 64;

/// A transaction sent and not yet seen in a block.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    sent_at: Instant,
    sender: usize,
}

/// Shared state of in-flight transactions and what the block scan observed.
#[derive(Debug)]
pub(crate) struct TrackerState {
    in_flight: HashMap<B256, InFlight>,
    /// The next block number to scan.
    next_block: u64,
    /// The highest block number seen.
    pub height: u64,
    /// Transactions seen in blocks.
    pub confirmed: u64,
    /// Latencies since the last report.
    pub interval: LatencySamples,
    /// Latencies of the whole run.
    pub all: LatencySamples,
    /// The largest latency seen, milliseconds.
    pub latency_max_ms: u64,
}

impl TrackerState {
    /// Tracking that starts scanning at block `first_block`.
    pub fn new(first_block: u64, samples_max: usize) -> Self {
        Self {
            in_flight: HashMap::new(),
            next_block: first_block,
            height: first_block.saturating_sub(1),
            confirmed: 0,
            interval: LatencySamples::new(samples_max),
            all: LatencySamples::new(samples_max),
            latency_max_ms: 0,
        }
    }

    /// Number of transactions sent and not yet included (nor expired).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Up to `max` of the transactions still in flight, oldest first (to name
    /// what never confirmed).
    pub fn oldest_in_flight(&self, max: usize) -> Vec<B256> {
        let mut all: Vec<_> = self.in_flight.iter().map(|(h, tx)| (tx.sent_at, *h)).collect();
        all.sort_unstable();
        all.into_iter().take(max).map(|(_, hash)| hash).collect()
    }

    /// Starts tracking `hash`, sent by sender index `sender` at `sent_at`.
    pub fn insert(&mut self, hash: B256, sender: usize, sent_at: Instant) {
        self.in_flight.insert(hash, InFlight { sent_at, sender });
    }

    /// Stops tracking `hash` (the node refused it).
    pub fn remove(&mut self, hash: &B256) {
        self.in_flight.remove(hash);
    }

    /// Records block `number` with transaction `hashes`, observed at `now`.
    pub fn observe_block(&mut self, number: u64, hashes: &[B256], now: Instant) {
        for hash in hashes {
            if let Some(tx) = self.in_flight.remove(hash) {
                let latency_ms = millis(now.saturating_duration_since(tx.sent_at));
                self.confirmed += 1;
                self.interval.record(latency_ms);
                self.all.record(latency_ms);
                self.latency_max_ms = self.latency_max_ms.max(latency_ms);
            }
        }
        self.height = self.height.max(number);
        self.next_block = self.next_block.max(number + 1);
    }

    /// Drops transactions in flight for longer than `timeout` and returns the
    /// sender index of each (their nonces can no longer be trusted).
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<usize> {
        let mut senders = Vec::new();
        self.in_flight.retain(|_, tx| {
            let keep = now.saturating_duration_since(tx.sent_at) < timeout;
            if !keep {
                senders.push(tx.sender);
            }
            keep
        });
        senders
    }
}

/// Milliseconds of `d`, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The tracker state shared between the sending loop and the block scanner.
pub(crate) type SharedTracker = Arc<Mutex<TrackerState>>;

/// Locks the shared state; a poisoned lock only means another task panicked
/// mid-update of plain counters, which stay usable.
pub(crate) fn lock(tracker: &SharedTracker) -> MutexGuard<'_, TrackerState> {
    tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Scans new blocks every `poll_interval` until the task is aborted.
///
/// RPC errors are logged and retried on the next poll: a node that is briefly
/// busy must not end the run.
pub(crate) async fn scan_blocks(rpc: RpcClient, tracker: SharedTracker, poll_interval: Duration) {
    let mut ticker = tokio::time::interval(poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // While more than BLOCKS_PER_POLL_MAX blocks are new (a node that mines
        // one block per transaction), scan on at once instead of waiting for
        // the next tick, so the scan never caps the measured rate. The scan is
        // sequential: it never has more than one request open.
        loop {
            match scan_once(&rpc, &tracker).await {
                Ok(true) => tokio::task::yield_now().await,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "block scan failed; retrying");
                    break;
                }
            }
        }
    }
}

/// Scans up to [`BLOCKS_PER_POLL_MAX`] new blocks; `true` if it read all of
/// them and the head was further still.
async fn scan_once(rpc: &RpcClient, tracker: &SharedTracker) -> Result<bool, crate::LoadError> {
    let head = rpc.block_number().await?;
    let first = lock(tracker).next_block;
    let last = head.min(first.saturating_add(BLOCKS_PER_POLL_MAX - 1));
    for number in first..=last {
        let Some(block) = rpc.block(number).await? else { return Ok(false) };
        lock(tracker).observe_block(number, &block.transactions, Instant::now());
    }
    Ok(last < head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_observation_confirms_and_measures() {
        let t0 = Instant::now();
        let mut st = TrackerState::new(5, 16);
        let (a, b, c) = (B256::repeat_byte(1), B256::repeat_byte(2), B256::repeat_byte(3));
        st.insert(a, 0, t0);
        st.insert(b, 1, t0);
        st.observe_block(5, &[a, c], t0 + Duration::from_millis(40));
        assert_eq!((st.confirmed, st.in_flight(), st.height, st.next_block), (1, 1, 5, 6));
        st.insert(c, 2, t0 + Duration::from_millis(1));
        assert_eq!(st.oldest_in_flight(1), vec![b], "oldest first");
        st.remove(&c);
        assert_eq!(st.latency_max_ms, 40);
        let expired = st.expire(t0 + Duration::from_millis(1_000), Duration::from_millis(500));
        assert_eq!(expired, vec![1]);
        assert_eq!(st.in_flight(), 0);
        assert!(st.oldest_in_flight(3).is_empty());
    }

    #[test]
    fn removal_forgets_refused_transactions() {
        let mut st = TrackerState::new(1, 4);
        let a = B256::repeat_byte(9);
        st.insert(a, 0, Instant::now());
        st.remove(&a);
        st.observe_block(1, &[a], Instant::now());
        assert_eq!(st.confirmed, 0);
    }
}

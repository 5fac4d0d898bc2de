//! A block's receipts, kept as they are committed, and their root, hashed
//! on a second thread while the executor goes on.
//!
//! The Ethereum receipts trie is keccak over every receipt (each carries a
//! 256-byte bloom): about a fifth of the serial executor's time on ERC-20
//! transfers. Nothing in it feeds back into execution, so once a block is
//! large enough for a thread to pay, committed receipts are moved to a
//! background [`ReceiptsRootBuilder`] in batches, and the thread hands them
//! back with the root when the block ends. Smaller blocks hash inline at the
//! end. The result is the same either way: only where the hashing runs
//! changes.
//!
//! The receipts are moved, not copied: cloning each receipt (its logs are
//! heap data) for the thread was about 4% of the serial executor's time.

use alloy_primitives::{Bloom, B256};
use phalanx_core_types::{receipts_root_and_bloom, ReceiptsRootBuilder, TxReceipt};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

/// Receipts a block must reach before its hashing moves to a thread: below
/// this, the thread's start (tens of microseconds) costs more than it saves.
pub const BACKGROUND_RECEIPTS_MIN: usize = 64;

/// Receipts handed to the thread at once. Each hand-over wakes the thread,
/// which costs about 16 µs on a virtual machine (perf: a futex wake-up per
/// batch of 64 was 6% of the serial executor's time); the last batch is
/// hashed after the block's last transaction, so batches cannot be huge.
const BATCH_RECEIPTS: usize = 256;

/// Batches that may wait for the hashing thread before the executor blocks.
const QUEUE_BATCHES_MAX: usize = 16;

/// What the hashing thread gives back: the root, the bloom and every
/// receipt it was handed, in order.
type Hashed = (B256, Bloom, Vec<TxReceipt>);

/// Holds a block's committed receipts in order and computes their root.
#[derive(Debug, Default)]
pub(crate) struct ReceiptsHasher {
    /// Receipts not handed to a thread: all of them while hashing inline,
    /// the batch being filled once a thread runs. Never empty after the
    /// first push (a full batch leaves only when the next receipt comes),
    /// so the latest receipt is always here.
    pending: Vec<TxReceipt>,
    /// Receipts committed so far.
    count: usize,
    /// Receipts the block is expected to have (a capacity hint).
    expected: usize,
    /// The hashing thread, once the block is large enough.
    thread: Option<Background>,
}

#[derive(Debug)]
struct Background {
    queue: SyncSender<Vec<TxReceipt>>,
    handle: JoinHandle<Hashed>,
}

impl ReceiptsHasher {
    /// A hasher for a block of about `expected` receipts.
    pub(crate) fn with_capacity(expected: usize) -> Self {
        Self {
            pending: Vec::with_capacity(expected.min(BACKGROUND_RECEIPTS_MIN)),
            expected,
            ..Self::default()
        }
    }

    /// Receipts committed so far.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Appends the next receipt of the block and returns it. Moves the
    /// hashing to a thread when the block reaches [`BACKGROUND_RECEIPTS_MIN`]
    /// receipts.
    pub(crate) fn push(&mut self, receipt: TxReceipt) -> &TxReceipt {
        match &self.thread {
            None if self.count == BACKGROUND_RECEIPTS_MIN => self.start(),
            Some(background) if self.pending.len() == BATCH_RECEIPTS => {
                let full = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_RECEIPTS));
                if background.queue.send(full).is_err() {
                    // The thread is gone, so it panicked: a bug, reported as one.
                    self.rethrow();
                }
            }
            _ => {}
        }
        self.pending.push(receipt);
        self.count += 1;
        self.pending.last().expect("a receipt was just pushed")
    }

    /// Starts the hashing thread with the receipts so far. If no thread can
    /// be started, hashing stays inline.
    fn start(&mut self) {
        let (queue, incoming) = sync_channel::<Vec<TxReceipt>>(QUEUE_BATCHES_MAX);
        let expected = self.expected;
        let spawned = std::thread::Builder::new().name("receipts-root".into()).spawn(move || {
            let mut builder = ReceiptsRootBuilder::default();
            let mut all = Vec::with_capacity(expected);
            for batch in incoming {
                batch.iter().for_each(|receipt| builder.push(receipt));
                all.extend(batch);
            }
            let (root, bloom) = builder.finish();
            (root, bloom, all)
        });
        let Ok(handle) = spawned else { return };
        let first = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_RECEIPTS));
        queue.send(first).expect("the thread just started holds its receiver");
        self.thread = Some(Background { queue, handle });
    }

    /// Joins a thread that hung up and resumes its panic here.
    fn rethrow(&mut self) -> ! {
        let background = self.thread.take().expect("only called with a thread");
        drop(background.queue);
        match background.handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(_) => unreachable!("the hashing thread returns only after the queue closes"),
        }
    }

    /// The block's receipts in commit order, their receipts root and logs bloom.
    pub(crate) fn finish(mut self) -> (Vec<TxReceipt>, B256, Bloom) {
        let Some(background) = self.thread.take() else {
            let (root, bloom) = receipts_root_and_bloom(&self.pending);
            return (self.pending, root, bloom);
        };
        let tail = std::mem::take(&mut self.pending);
        // If the thread is gone, the join below resumes its panic.
        let _ = background.queue.send(tail);
        drop(background.queue);
        match background.handle.join() {
            Ok((root, bloom, receipts)) => {
                assert_eq!(receipts.len(), self.count, "the hashing thread lost receipts");
                (receipts, root, bloom)
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(i: usize) -> TxReceipt {
        TxReceipt {
            tx_type: 2,
            success: !i.is_multiple_of(4),
            cumulative_gas_used: 21_000 * (i as u64 + 1),
            gas_used: 21_000,
            effective_gas_price: 0,
            logs: vec![],
            rw_hash: B256::ZERO,
            contract_address: None,
        }
    }

    #[test]
    fn background_and_inline_agree_on_either_side_of_the_thresholds() {
        let lens = [
            0,
            1,
            BACKGROUND_RECEIPTS_MIN - 1,
            BACKGROUND_RECEIPTS_MIN,
            BACKGROUND_RECEIPTS_MIN + 1,
            BACKGROUND_RECEIPTS_MIN + BATCH_RECEIPTS,
            BACKGROUND_RECEIPTS_MIN + BATCH_RECEIPTS + 1,
            3000,
        ];
        for len in lens {
            let mut hasher = ReceiptsHasher::with_capacity(len / 2);
            let receipts: Vec<_> = (0..len).map(receipt).collect();
            for (i, r) in receipts.iter().enumerate() {
                assert_eq!(hasher.push(r.clone()), r, "len {len}: push returns the receipt");
                assert_eq!(hasher.len(), i + 1);
            }
            let background = hasher.thread.is_some();
            assert_eq!(background, len > BACKGROUND_RECEIPTS_MIN, "len {len}");
            let (back, root, bloom) = hasher.finish();
            assert_eq!(back, receipts, "len {len}: receipts come back in order");
            assert_eq!((root, bloom), receipts_root_and_bloom(&receipts), "len {len}");
        }
    }
}

//! The receipts root of a serially executed block, hashed on a second thread
//! while the executor goes on.
//!
//! The Ethereum receipts trie is keccak over every receipt (each carries a
//! 256-byte bloom): about a fifth of the serial executor's time on ERC-20
//! transfers. Nothing in it feeds back into execution, so once a block is
//! large enough for a thread to pay, each committed receipt is handed to a
//! background [`ReceiptsRootBuilder`] and the root is ready, or nearly, when
//! the block ends. Smaller blocks hash inline at the end, as before. The
//! result is the same either way: only where the hashing runs changes.

use alloy_primitives::{Bloom, B256};
use phalanx_core_types::{receipts_root_and_bloom, ReceiptsRootBuilder, TxReceipt};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

/// Receipts a block must reach before its hashing moves to a thread: below
/// this, the thread's start (tens of microseconds) costs more than it saves.
pub const BACKGROUND_RECEIPTS_MIN: usize = 64;

/// Receipts handed to the thread at once: one wake-up per batch, not per
/// receipt (a wake-up costs microseconds, as much as hashing a receipt).
const BATCH_RECEIPTS: usize = 64;

/// Batches that may wait for the hashing thread before the executor blocks.
const QUEUE_BATCHES_MAX: usize = 16;

/// Where a block's receipts are hashed.
#[derive(Debug, Default)]
pub(crate) enum ReceiptsHasher {
    /// At the end of the block, on the executor's thread.
    #[default]
    Inline,
    /// On a thread that receives the receipts in batches as they are committed.
    Background {
        /// Committed receipts not yet handed over.
        batch: Vec<TxReceipt>,
        queue: SyncSender<Vec<TxReceipt>>,
        thread: JoinHandle<(B256, Bloom)>,
    },
}

impl ReceiptsHasher {
    /// Notes that `receipts` (all of the block's so far, the last one new)
    /// were committed; moves the hashing to a thread when the block reaches
    /// [`BACKGROUND_RECEIPTS_MIN`] receipts.
    pub(crate) fn committed(&mut self, receipts: &[TxReceipt]) {
        match self {
            Self::Background { batch, queue, .. } => {
                batch.push(receipts.last().expect("a receipt was just committed").clone());
                if batch.len() == BATCH_RECEIPTS {
                    let full = std::mem::replace(batch, Vec::with_capacity(BATCH_RECEIPTS));
                    if queue.send(full).is_err() {
                        // The thread is gone (it panicked): hash inline at the end.
                        *self = Self::Inline;
                    }
                }
            }
            Self::Inline if receipts.len() == BACKGROUND_RECEIPTS_MIN => {
                *self = Self::start(receipts);
            }
            Self::Inline => {}
        }
    }

    /// A hashing thread fed `receipts` so far, or `Inline` if no thread
    /// could be started (the end of the block then hashes them all).
    fn start(receipts: &[TxReceipt]) -> Self {
        let (queue, incoming) = sync_channel::<Vec<TxReceipt>>(QUEUE_BATCHES_MAX);
        let spawned = std::thread::Builder::new().name("receipts-root".into()).spawn(move || {
            let mut builder = ReceiptsRootBuilder::default();
            for batch in incoming {
                batch.iter().for_each(|receipt| builder.push(receipt));
            }
            builder.finish()
        });
        let Ok(thread) = spawned else { return Self::Inline };
        if queue.send(receipts.to_vec()).is_err() {
            return Self::Inline;
        }
        Self::Background { batch: Vec::with_capacity(BATCH_RECEIPTS), queue, thread }
    }

    /// The receipts root and logs bloom of `receipts`, the block's receipts.
    pub(crate) fn finish(self, receipts: &[TxReceipt]) -> (B256, Bloom) {
        match self {
            Self::Inline => receipts_root_and_bloom(receipts),
            Self::Background { batch, queue, thread } => {
                // If the thread is gone, the join below says so.
                let _ = queue.send(batch);
                drop(queue);
                match thread.join() {
                    Ok(root) => root,
                    // A panic in the hasher is a bug; the block still gets
                    // its correct root, computed here.
                    Err(_) => receipts_root_and_bloom(receipts),
                }
            }
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
    fn background_and_inline_agree_on_either_side_of_the_threshold() {
        for len in [0, 1, BACKGROUND_RECEIPTS_MIN - 1, BACKGROUND_RECEIPTS_MIN, 300] {
            let mut hasher = ReceiptsHasher::default();
            let mut receipts = Vec::new();
            for i in 0..len {
                receipts.push(receipt(i));
                hasher.committed(&receipts);
            }
            let background = matches!(hasher, ReceiptsHasher::Background { .. });
            assert_eq!(background, len >= BACKGROUND_RECEIPTS_MIN, "len {len}");
            assert_eq!(hasher.finish(&receipts), receipts_root_and_bloom(&receipts), "len {len}");
        }
    }
}

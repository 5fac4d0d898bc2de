//! The batch store: batches held locally, by digest, bounded in bytes.
//!
//! Uncommitted batches are kept until a block orders them and it commits;
//! committed batches stay a little longer (bounded FIFO) so that lagging
//! peers can still fetch them, then are evicted (they are also stored with
//! the block's certificate).

use crate::wire::Batch;
use alloy_primitives::B256;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// Most committed batches kept for peers after commit.
const COMMITTED_KEPT_MAX: usize = 1024;
/// Most committed digests remembered to refuse re-adding a committed batch.
const COMMITTED_DIGESTS_MAX: usize = 65_536;

/// Locally held batches.
#[derive(Debug)]
pub struct BatchStore {
    batches: HashMap<B256, Arc<Batch>>,
    /// Uncommitted digests in arrival order (proposal order).
    pending: VecDeque<B256>,
    committed_kept: VecDeque<B256>,
    committed: HashSet<B256>,
    committed_order: VecDeque<B256>,
    bytes: usize,
    bytes_max: usize,
}

impl BatchStore {
    /// An empty store holding at most `bytes_max` bytes of batches.
    pub fn new(bytes_max: usize) -> Self {
        Self {
            batches: HashMap::new(),
            pending: VecDeque::new(),
            committed_kept: VecDeque::new(),
            committed: HashSet::new(),
            committed_order: VecDeque::new(),
            bytes: 0,
            bytes_max,
        }
    }

    /// Adds a batch; returns its digest, or `None` when it is already held,
    /// already committed, or the store is full.
    pub fn insert(&mut self, batch: Batch) -> Option<B256> {
        let digest = batch.digest();
        let size = batch.size_bytes();
        if self.batches.contains_key(&digest) || self.committed.contains(&digest) {
            return None;
        }
        self.evict_committed_until(size);
        if self.bytes + size > self.bytes_max {
            return None;
        }
        self.bytes += size;
        self.batches.insert(digest, Arc::new(batch));
        self.pending.push_back(digest);
        Some(digest)
    }

    /// The batch with `digest`, if held.
    pub fn get(&self, digest: &B256) -> Option<&Arc<Batch>> {
        self.batches.get(digest)
    }

    /// Whether the batch is held.
    pub fn contains(&self, digest: &B256) -> bool {
        self.batches.contains_key(digest)
    }

    /// Uncommitted digests in arrival order, skipping those in `exclude`.
    pub fn pending_except<'a>(
        &'a self,
        exclude: &'a HashSet<B256>,
    ) -> impl Iterator<Item = B256> + 'a {
        self.pending.iter().copied().filter(move |d| !exclude.contains(d))
    }

    /// Marks batches as committed: no longer proposable, evicted later.
    pub fn mark_committed(&mut self, digests: &[B256]) {
        for digest in digests {
            if !self.committed.insert(*digest) {
                continue;
            }
            self.committed_order.push_back(*digest);
            if self.committed_order.len() > COMMITTED_DIGESTS_MAX {
                if let Some(old) = self.committed_order.pop_front() {
                    self.committed.remove(&old);
                }
            }
            if self.batches.contains_key(digest) {
                self.committed_kept.push_back(*digest);
            }
        }
        let committed = &self.committed;
        self.pending.retain(|d| !committed.contains(d));
        while self.committed_kept.len() > COMMITTED_KEPT_MAX {
            self.evict_oldest_committed();
        }
    }

    /// Bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn evict_committed_until(&mut self, size: usize) {
        while self.bytes + size > self.bytes_max && !self.committed_kept.is_empty() {
            self.evict_oldest_committed();
        }
    }

    fn evict_oldest_committed(&mut self) {
        if let Some(digest) = self.committed_kept.pop_front() {
            if let Some(batch) = self.batches.remove(&digest) {
                self.bytes -= batch.size_bytes();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(tag: u8, len: usize) -> Batch {
        Batch { txs: vec![vec![tag; len]] }
    }

    #[test]
    fn committed_batches_are_not_proposed_and_evicted_under_pressure() {
        let mut store = BatchStore::new(300);
        let a = store.insert(batch(1, 100)).unwrap();
        let b = store.insert(batch(2, 100)).unwrap();
        assert_eq!(store.insert(batch(1, 100)), None, "duplicates are ignored");
        let none = HashSet::new();
        assert_eq!(store.pending_except(&none).collect::<Vec<_>>(), vec![a, b]);
        store.mark_committed(&[a]);
        assert_eq!(store.pending_except(&none).collect::<Vec<_>>(), vec![b]);
        assert!(store.contains(&a), "kept for lagging peers");
        let c = store.insert(batch(3, 150)).unwrap();
        assert!(!store.contains(&a), "committed batch evicted to make room");
        assert!(store.contains(&b) && store.contains(&c));
        assert_eq!(store.insert(batch(4, 150)), None, "uncommitted batches are never evicted");
        assert_eq!(store.insert(batch(1, 100)), None, "a committed batch is not re-added");
        assert!(store.bytes() <= 300);
    }
}

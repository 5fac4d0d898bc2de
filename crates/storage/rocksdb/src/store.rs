//! The [`Store`] handle: opening, the cached head, and block reads.

use crate::codec::{
    decode_b256, decode_head, decode_height, decode_receipts, decode_tx_location, height_key,
    CF_BLOCKS, CF_BLOCK_HASHES, CF_CANONICAL, CF_CERTIFICATES, CF_META, CF_RECEIPTS, CF_TX_INDEX,
    COLUMN_FAMILIES, HEAD_KEY,
};
use crate::snapshot::{StateSnapshot, HISTORY_ONLY};
use crate::{PreparedState, StoreError, StoreOptions};
use alloy_primitives::B256;
use parking_lot::{Mutex, RwLock};
use phalanx_core_types::{Block, Header, StateChanges, TxReceipt};
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DBPinnableSlice, DB};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The last committed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: B256,
    /// Its header's state root (the JMT root at version `height`).
    pub state_root: B256,
}

/// Handle to a chain database. Cheap to clone; all clones share one RocksDB
/// instance. Commits are serialised internally; reads never block commits.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

/// Shared state behind a [`Store`].
pub(crate) struct Inner {
    pub(crate) db: DB,
    /// Mirror of the head record; updated only after a successful write.
    pub(crate) head: RwLock<Option<Head>>,
    /// Held for the whole of a commit so that checks and write are atomic.
    pub(crate) commit_lock: Mutex<()>,
    /// Even when idle, odd while a commit is writing; see [`StateSnapshot`].
    pub(crate) commit_seq: AtomicU64,
    pub(crate) sync_writes: bool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .field("head", &*self.head.read())
            .finish()
    }
}

impl Inner {
    /// The handle of a column family (all are created at open).
    pub(crate) fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::corrupt(name, &[], "column family missing"))
    }

    /// A point lookup.
    pub(crate) fn get(
        &self,
        cf: &'static str,
        key: &[u8],
    ) -> Result<Option<DBPinnableSlice<'_>>, StoreError> {
        self.db.get_pinned_cf(self.cf(cf)?, key).map_err(StoreError::rocks("reading"))
    }

    /// Reads the persisted head record and checks it against the canonical index.
    fn read_head(&self) -> Result<Option<Head>, StoreError> {
        let Some(bytes) = self.get(CF_META, HEAD_KEY)? else { return Ok(None) };
        let (height, hash, state_root) = decode_head(&bytes)?;
        let key = height_key(height);
        let indexed = self.get(CF_CANONICAL, &key)?.ok_or_else(|| {
            StoreError::corrupt(CF_CANONICAL, &key, "head height has no canonical hash")
        })?;
        if decode_b256(CF_CANONICAL, &key, &indexed)? != hash {
            return Err(StoreError::corrupt(CF_META, HEAD_KEY, "head hash differs from the index"));
        }
        Ok(Some(Head { height, hash, state_root }))
    }
}

impl Store {
    /// Opens (or, with `create_if_missing`, creates) the database at `path`
    /// and loads the head. After a crash this is exactly the last block whose
    /// commit returned `Ok`.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let cache = options.block_cache();
        let opts = options.rocks_options(&cache);
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, options.rocks_options(&cache)));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(StoreError::rocks("opening"))?;
        let inner = Inner {
            db,
            head: RwLock::new(None),
            commit_lock: Mutex::new(()),
            commit_seq: AtomicU64::new(0),
            sync_writes: options.sync_writes,
        };
        let head = inner.read_head()?;
        *inner.head.write() = head;
        tracing::info!(path = %path.display(), ?head, "opened chain store");
        Ok(Store { inner: Arc::new(inner) })
    }

    /// The last committed block; `None` before genesis.
    pub fn head(&self) -> Option<Head> {
        *self.inner.head.read()
    }

    /// The height the next commit must have: `head + 1`, or 0 on an empty store.
    pub fn next_height(&self) -> u64 {
        self.head().map_or(0, |h| h.height + 1)
    }

    /// Phase one of a commit: applies `changes` on top of the head's state in
    /// memory and returns the resulting state root with everything needed to
    /// write it. Writes nothing. `height` must be `head + 1` (0 for genesis).
    pub fn prepare_state(
        &self,
        height: u64,
        changes: &StateChanges,
    ) -> Result<PreparedState, StoreError> {
        let head = self.head();
        let expected = head.map_or(0, |h| h.height + 1);
        if height != expected {
            return Err(StoreError::NotNextHeight { expected, got: height });
        }
        crate::prepare::prepare(&self.inner, height, head.map(|h| h.hash), changes)
    }

    /// Phase one for a block whose parent is not committed yet: like
    /// [`Store::prepare_state`], on top of the head's state and then
    /// `ancestors`, the prepared states of the uncommitted blocks between the
    /// head and this block, oldest first, each with its block's hash. Writes
    /// nothing. The result commits as it is once the ancestors are committed
    /// ([`Store::commit_block`] checks that its parent is then the head), so
    /// a block's tree is computed once instead of once per descendant and
    /// again at commit.
    ///
    /// Rejects ancestors that do not chain: the first must be prepared on the
    /// head, each next one on the block before it, at consecutive heights,
    /// ending at `height - 1`.
    pub fn prepare_state_on(
        &self,
        ancestors: &[(&PreparedState, B256)],
        height: u64,
        changes: &StateChanges,
    ) -> Result<PreparedState, StoreError> {
        let head = self.head();
        let (mut expected_height, mut expected_base) = (self.next_height(), head.map(|h| h.hash));
        for (prepared, hash) in ancestors {
            if prepared.height != expected_height || prepared.base != expected_base {
                return Err(StoreError::StalePreparedState {
                    height: prepared.height,
                    prepared_on: prepared.base,
                    head: expected_base,
                });
            }
            (expected_height, expected_base) = (expected_height + 1, Some(*hash));
        }
        if height != expected_height {
            return Err(StoreError::NotNextHeight { expected: expected_height, got: height });
        }
        let layers: Vec<&PreparedState> = ancestors.iter().map(|(p, _)| *p).collect();
        crate::prepare::prepare_on(&self.inner, &layers, height, expected_base, changes)
    }

    /// The state root of the head's state with `changes` applied, for a block
    /// that is not (yet) `head + 1`: a speculative block on an uncommitted
    /// fork, whose `changes` are the merged changes of its uncommitted
    /// ancestors and itself. A root depends only on the resulting state, not on
    /// how the changes were grouped into blocks, so this equals the root the
    /// block will have when it is finally committed. Writes nothing. The
    /// tests' oracle for [`Store::prepare_state_on`], which the node uses.
    #[cfg(test)]
    pub(crate) fn speculative_root(&self, changes: &StateChanges) -> Result<B256, StoreError> {
        let head = self.head();
        let height = head.map_or(0, |h| h.height + 1);
        Ok(crate::prepare::prepare(&self.inner, height, head.map(|h| h.hash), changes)?.state_root)
    }

    /// The post-state of the head block, pinned: later commits do not change
    /// what it returns. Before genesis it is the empty state.
    pub fn latest_state(&self) -> StateSnapshot {
        let head = self.inner.head.read();
        // The commit path bumps the sequence number to odd before writing and
        // back to even (under the head lock) after; odd means the flat state
        // may already be ahead of `head`.
        let seq = self.inner.commit_seq.load(Ordering::SeqCst);
        let seq = if seq & 1 == 0 { seq } else { HISTORY_ONLY };
        StateSnapshot { inner: self.inner.clone(), height: head.map(|h| h.height), seq }
    }

    /// The post-state of committed block `height` (historical state, served
    /// from the JMT's value history).
    pub fn state_at(&self, height: u64) -> Result<StateSnapshot, StoreError> {
        let snapshot = self.latest_state();
        match snapshot.height {
            Some(h) if h == height => Ok(snapshot),
            Some(h) if height < h => Ok(StateSnapshot {
                inner: self.inner.clone(),
                height: Some(height),
                seq: HISTORY_ONLY,
            }),
            _ => Err(StoreError::StateUnavailable { height }),
        }
    }

    /// The committed block at `height`, checked to decode and to be at that height.
    pub fn block_by_height(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let key = height_key(height);
        let Some(bytes) = self.inner.get(CF_BLOCKS, &key)? else { return Ok(None) };
        let block = Block::decode_canonical(&bytes).map_err(|e| {
            StoreError::corrupt(CF_BLOCKS, &key, format!("block does not decode: {e}"))
        })?;
        if block.header.height != height {
            let reason = format!("block stored at {height} has height {}", block.header.height);
            return Err(StoreError::corrupt(CF_BLOCKS, &key, reason));
        }
        Ok(Some(block))
    }

    /// The committed block with hash `hash`.
    pub fn block_by_hash(&self, hash: &B256) -> Result<Option<Block>, StoreError> {
        let Some(height) = self.height_of(hash)? else { return Ok(None) };
        let block = self.block_by_height(height)?.ok_or_else(|| {
            StoreError::corrupt(CF_BLOCK_HASHES, hash.as_slice(), "indexed height has no block")
        })?;
        if block.hash() != *hash {
            let reason = format!("indexed block at {height} has hash {}", block.hash());
            return Err(StoreError::corrupt(CF_BLOCK_HASHES, hash.as_slice(), reason));
        }
        Ok(Some(block))
    }

    /// The height of the committed block with hash `hash`.
    pub fn height_of(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        let key = hash.as_slice();
        let Some(bytes) = self.inner.get(CF_BLOCK_HASHES, key)? else { return Ok(None) };
        decode_height(CF_BLOCK_HASHES, key, &bytes).map(Some)
    }

    /// The hash of committed block `height` (from the canonical index, no decode).
    pub fn block_hash(&self, height: u64) -> Result<Option<B256>, StoreError> {
        let key = height_key(height);
        let Some(bytes) = self.inner.get(CF_CANONICAL, &key)? else { return Ok(None) };
        decode_b256(CF_CANONICAL, &key, &bytes).map(Some)
    }

    /// The header of committed block `height` (decodes the whole block).
    pub fn header_by_height(&self, height: u64) -> Result<Option<Header>, StoreError> {
        Ok(self.block_by_height(height)?.map(|b| b.header))
    }

    /// The receipts of committed block `height`, in transaction order.
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, StoreError> {
        let key = height_key(height);
        let Some(bytes) = self.inner.get(CF_RECEIPTS, &key)? else { return Ok(None) };
        decode_receipts(&key, &bytes).map(Some)
    }

    /// The consensus certificate stored with committed block `height`, if the
    /// block was committed with one ([`Store::commit_block_certified`]).
    pub fn certificate(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(CF_CERTIFICATES, &height_key(height)).map(|v| v.map(|b| b.to_vec()))
    }

    /// Where a committed transaction is: (block height, index in the block).
    pub fn tx_location(&self, tx_hash: &B256) -> Result<Option<(u64, u32)>, StoreError> {
        let key = tx_hash.as_slice();
        let Some(bytes) = self.inner.get(CF_TX_INDEX, key)? else { return Ok(None) };
        decode_tx_location(key, &bytes).map(Some)
    }
}

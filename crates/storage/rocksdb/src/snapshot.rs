//! Read-only views of committed state, pinned to one height.

use crate::codec::{
    decode_account, decode_b256, decode_slot_value, height_key, storage_key, CF_ACCOUNTS,
    CF_CANONICAL, CF_CODE, CF_JMT_VALUES, CF_STORAGE,
};
use crate::commitment::{account_key_hash, storage_key_hash, value_at};
use crate::store::Inner;
use crate::StoreError;
use alloy_primitives::{Address, Bytes, B256, U256};
use phalanx_core_types::{Account, StateError, StateView};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Marks a snapshot that must always read the versioned JMT value history.
pub(crate) const HISTORY_ONLY: u64 = u64::MAX;

/// The state as of one committed block (or the empty state before genesis).
///
/// Reads are consistent: while no block has been committed since the snapshot
/// was taken they come from the flat column families (one point lookup);
/// afterwards they fall back to the JMT's value history at the snapshot's
/// height, which gives the same answers. A long-lived snapshot therefore stays
/// correct but gets slower; take a new one to see newer blocks.
#[derive(Clone)]
pub struct StateSnapshot {
    pub(crate) inner: Arc<Inner>,
    /// The block whose post-state this is; `None` before genesis.
    pub(crate) height: Option<u64>,
    /// The store's commit sequence number when the snapshot was taken.
    pub(crate) seq: u64,
}

impl std::fmt::Debug for StateSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSnapshot").field("height", &self.height).finish()
    }
}

impl StateSnapshot {
    /// The height whose post-state this view shows; `None` before genesis.
    pub fn height(&self) -> Option<u64> {
        self.height
    }

    /// Whether no commit has started since the snapshot was taken, so the
    /// flat column families still hold exactly this snapshot's state.
    fn flat_is_current(&self) -> bool {
        self.seq != HISTORY_ONLY && self.inner.commit_seq.load(Ordering::SeqCst) == self.seq
    }

    /// Reads through the flat state if it is (still) this snapshot's state,
    /// else through the value history at `height`.
    fn read<T>(
        &self,
        flat: impl FnOnce() -> Result<T, StoreError>,
        history: impl FnOnce(u64) -> Result<T, StoreError>,
        empty: T,
    ) -> Result<T, StoreError> {
        let Some(height) = self.height else { return Ok(empty) };
        if self.flat_is_current() {
            let value = flat()?;
            // A commit that began during the read may have changed what it saw.
            if self.flat_is_current() {
                return Ok(value);
            }
        }
        history(height)
    }

    /// [`StateView::account`] with the store's own error type.
    pub fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        let key = address.as_slice();
        self.read(
            || match self.inner.get(CF_ACCOUNTS, key)? {
                None => Ok(None),
                Some(bytes) => decode_account(CF_ACCOUNTS, key, &bytes).map(Some),
            },
            |height| match value_at(&self.inner.db, height, &account_key_hash(address))? {
                None => Ok(None),
                Some(bytes) => decode_account(CF_JMT_VALUES, key, &bytes).map(Some),
            },
            None,
        )
    }

    /// [`StateView::storage`] with the store's own error type.
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        let key = storage_key(address, slot);
        self.read(
            || match self.inner.get(CF_STORAGE, &key)? {
                None => Ok(U256::ZERO),
                Some(bytes) => decode_slot_value(CF_STORAGE, &key, &bytes),
            },
            |height| match value_at(&self.inner.db, height, &storage_key_hash(address, slot))? {
                None => Ok(U256::ZERO),
                Some(bytes) => decode_slot_value(CF_JMT_VALUES, &key, &bytes),
            },
            U256::ZERO,
        )
    }

    /// [`StateView::code`] with the store's own error type. Code is
    /// content-addressed and never deleted, so any committed code is returned.
    pub fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StoreError> {
        if self.height.is_none() {
            return Ok(None);
        }
        Ok(self.inner.get(CF_CODE, code_hash.as_slice())?.map(|b| Bytes::copy_from_slice(&b)))
    }

    /// [`StateView::block_hash`] with the store's own error type.
    pub fn block_hash(&self, height: u64) -> Result<Option<B256>, StoreError> {
        match self.height {
            Some(h) if height <= h => {
                let key = height_key(height);
                let bytes = self.inner.get(CF_CANONICAL, &key)?.ok_or_else(|| {
                    StoreError::corrupt(CF_CANONICAL, &key, "committed height has no hash")
                })?;
                decode_b256(CF_CANONICAL, &key, &bytes).map(Some)
            }
            _ => Ok(None),
        }
    }
}

impl StateView for StateSnapshot {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(StateSnapshot::account(self, address)?)
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(StateSnapshot::storage(self, address, slot)?)
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(StateSnapshot::code(self, code_hash)?)
    }
    fn block_hash(&self, height: u64) -> Result<Option<B256>, StateError> {
        Ok(StateSnapshot::block_hash(self, height)?)
    }
}

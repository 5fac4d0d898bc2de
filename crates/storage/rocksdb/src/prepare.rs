//! Phase one of a commit: turning a block's [`StateChanges`] into flat-state
//! writes plus a JMT update, and the resulting state root, without writing.

use crate::codec::{
    encode_account, encode_slot_value, storage_key, CF_ACCOUNTS, CF_CODE, CF_STORAGE,
};
use crate::commitment::{
    account_key_hash, put_leaves, storage_key_hash, LayeredTreeReader, RocksTreeReader,
};
use crate::store::Inner;
use crate::StoreError;
use alloy_primitives::{keccak256, Address, B256};
use jmt::storage::TreeUpdateBatch;
use jmt::{KeyHash, OwnedValue};
use phalanx_core_types::StateChanges;
use rocksdb::{Direction, IteratorMode};
use std::collections::{BTreeMap, BTreeSet};

/// The state a block produces, computed on top of the head but not written:
/// the producer reads `state_root` into the header, then hands this to
/// [`crate::Store::commit_block`], which writes it in the block's batch.
#[derive(Debug)]
pub struct PreparedState {
    /// The state root after applying the changes.
    pub state_root: B256,
    /// The height (= JMT version) this state is for.
    pub(crate) height: u64,
    /// Hash of the block whose state it extends: the head it was prepared
    /// on, or its last uncommitted ancestor ([`crate::Store::prepare_state_on`]);
    /// `None` on an empty store. It commits only while that block is the head.
    pub(crate) base: Option<B256>,
    /// Flat-state writes, keyed by (column family, key); `None` deletes.
    pub(crate) writes: BTreeMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    /// New JMT nodes and value history.
    pub(crate) tree: TreeUpdateBatch,
}

impl PreparedState {
    /// The height this state was prepared for.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The hash of the block whose state it extends (see the field's docs).
    pub fn base(&self) -> Option<B256> {
        self.base
    }
}

/// Checks the invariants [`StateChanges`] promises before anything is derived from it.
fn check_changes(changes: &StateChanges) -> Result<(), StoreError> {
    for (hash, code) in &changes.code {
        if keccak256(code) != *hash {
            return Err(StoreError::InvalidChanges {
                reason: format!("code filed under {hash} hashes to {}", keccak256(code)),
            });
        }
    }
    for (address, account) in &changes.accounts {
        let Some(storage) = changes.storage.get(address) else { continue };
        if account.is_none() && !storage.wiped {
            return Err(StoreError::InvalidChanges {
                reason: format!("account {address} is deleted but its storage is not wiped"),
            });
        }
        if account.is_none() && storage.slots.values().any(|v| !v.is_zero()) {
            return Err(StoreError::InvalidChanges {
                reason: format!("account {address} is deleted but gets storage slots"),
            });
        }
    }
    Ok(())
}

/// Builds the writes and tree update for `changes` at `height` on top of the
/// committed state. Cost is proportional to the changes plus the slots of
/// wiped accounts, never to the size of the state.
pub(crate) fn prepare(
    inner: &Inner,
    height: u64,
    base: Option<B256>,
    changes: &StateChanges,
) -> Result<PreparedState, StoreError> {
    prepare_on(inner, &[], height, base, changes)
}

/// [`prepare`] on top of the committed state and then `ancestors`, the
/// prepared states of uncommitted blocks, oldest first (the caller checked
/// that they chain from the head to `height - 1`): the tree update reads
/// their new nodes, and a wipe also deletes the slots they write. The result
/// is exactly what [`prepare`] gives for these changes once the ancestors are
/// committed, so it can be committed then as it is.
pub(crate) fn prepare_on(
    inner: &Inner,
    ancestors: &[&PreparedState],
    height: u64,
    base: Option<B256>,
    changes: &StateChanges,
) -> Result<PreparedState, StoreError> {
    check_changes(changes)?;
    let mut writes = BTreeMap::new();
    let mut leaves: BTreeMap<KeyHash, Option<OwnedValue>> = BTreeMap::new();

    // A deleted account loses its storage, as in Ethereum, whether or not the
    // changes carry an explicit wipe for it.
    let wiped: BTreeSet<Address> = changes
        .storage
        .iter()
        .filter(|(_, s)| s.wiped)
        .map(|(a, _)| *a)
        .chain(changes.accounts.iter().filter(|(_, a)| a.is_none()).map(|(a, _)| *a))
        .collect();
    for address in &wiped {
        for slot_key in slot_keys_on(inner, ancestors, address)? {
            let (_, slot) = crate::codec::decode_storage_key(&slot_key)?;
            leaves.insert(storage_key_hash(address, &slot), None);
            writes.insert((CF_STORAGE, slot_key), None);
        }
    }
    for (address, account) in &changes.accounts {
        let encoded = account.as_ref().map(|a| encode_account(a).to_vec());
        leaves.insert(account_key_hash(address), encoded.clone());
        writes.insert((CF_ACCOUNTS, address.to_vec()), encoded);
    }
    for (address, storage) in &changes.storage {
        for (slot, value) in &storage.slots {
            let encoded = (!value.is_zero()).then(|| encode_slot_value(value).to_vec());
            leaves.insert(storage_key_hash(address, slot), encoded.clone());
            writes.insert((CF_STORAGE, storage_key(address, slot).to_vec()), encoded);
        }
    }
    for (hash, code) in &changes.code {
        writes.insert((CF_CODE, hash.to_vec()), Some(code.to_vec()));
    }

    let committed = RocksTreeReader { db: &inner.db };
    let layers = ancestors.iter().map(|p| (p.height, &p.tree)).collect();
    let reader = LayeredTreeReader { committed, layers };
    let (root, tree) = put_leaves(&reader, leaves, height)?;
    Ok(PreparedState { state_root: B256::from(root.0), height, base, writes, tree })
}

/// Keys (in [`CF_STORAGE`]) of every slot of `address` once `ancestors` are
/// committed on top of the committed state: the committed keys, then each
/// ancestor's storage writes in order (a value adds its key, a deletion
/// removes it).
fn slot_keys_on(
    inner: &Inner,
    ancestors: &[&PreparedState],
    address: &Address,
) -> Result<BTreeSet<Vec<u8>>, StoreError> {
    let mut keys: BTreeSet<Vec<u8>> = inner.committed_slot_keys(address)?.into_iter().collect();
    let prefix = address.as_slice();
    for ancestor in ancestors {
        let from = (CF_STORAGE, prefix.to_vec());
        for ((cf, key), value) in ancestor.writes.range(from..) {
            if *cf != CF_STORAGE || !key.starts_with(prefix) {
                break;
            }
            match value {
                Some(_) => keys.insert(key.clone()),
                None => keys.remove(key),
            };
        }
    }
    Ok(keys)
}

impl Inner {
    /// Keys (in [`crate::codec::CF_STORAGE`]) of every committed slot of `address`.
    pub(crate) fn committed_slot_keys(
        &self,
        address: &Address,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let prefix = address.as_slice();
        let iter = self
            .db
            .iterator_cf(self.cf(CF_STORAGE)?, IteratorMode::From(prefix, Direction::Forward));
        let mut keys = Vec::new();
        for item in iter {
            let (key, _) = item.map_err(StoreError::rocks("scanning an account's storage"))?;
            if !key.starts_with(prefix) {
                break;
            }
            keys.push(key.to_vec());
        }
        Ok(keys)
    }
}

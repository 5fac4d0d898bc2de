//! The state commitment: a Jellyfish Merkle tree (sha256) over every account
//! and storage slot, versioned by block height.
//!
//! Leaf keys are `sha256(tag ‖ key)`: tag `0x01` ‖ address for accounts, tag
//! `0x02` ‖ address ‖ big-endian slot for storage slots; the tags keep the two
//! key spaces disjoint. Leaf values are [`encode_account`] (72 bytes) and
//! [`encode_slot_value`] (32 bytes). Code is not a leaf: it is committed to
//! through the account's `code_hash`.

use crate::codec::{
    decode_jmt_value, encode_account, encode_jmt_value, encode_slot_value, jmt_value_key,
    CF_JMT_NODES, CF_JMT_VALUES,
};
use crate::StoreError;
use alloy_primitives::{Address, B256, U256};
use jmt::storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader, TreeUpdateBatch, TreeWriter};
use jmt::{KeyHash, OwnedValue, RootHash, Version};
use parking_lot::RwLock;
use phalanx_core_types::Account;
use rocksdb::{Direction, IteratorMode, DB};
use sha2::Sha256;
use std::collections::BTreeMap;

/// The tree type: JMT with sha256.
pub(crate) type Tree<'a, R> = jmt::JellyfishMerkleTree<'a, R, Sha256>;

/// How many leaves the from-scratch rebuild inserts per tree version, so that
/// one value set (and the JMT's per-version cache) stays bounded.
const REBUILD_CHUNK_LEAVES: usize = 8_192;

/// The JMT key of an account.
pub fn account_key_hash(address: &Address) -> KeyHash {
    let mut key = [0u8; 21];
    key[0] = 0x01;
    key[1..].copy_from_slice(address.as_slice());
    KeyHash::with::<Sha256>(key)
}

/// The JMT key of a storage slot.
pub fn storage_key_hash(address: &Address, slot: &U256) -> KeyHash {
    let mut key = [0u8; 53];
    key[0] = 0x02;
    key[1..21].copy_from_slice(address.as_slice());
    key[21..].copy_from_slice(&slot.to_be_bytes::<32>());
    KeyHash::with::<Sha256>(key)
}

/// The JMT leaf of an account: its key hash and value bytes.
pub fn account_leaf(address: &Address, account: &Account) -> (KeyHash, Vec<u8>) {
    (account_key_hash(address), encode_account(account).to_vec())
}

/// The JMT leaf of a (non-zero) storage slot.
pub fn storage_leaf(address: &Address, slot: &U256, value: &U256) -> (KeyHash, Vec<u8>) {
    (storage_key_hash(address, slot), encode_slot_value(value).to_vec())
}

/// Converts a JMT root to the header's representation.
pub fn root_to_b256(root: RootHash) -> B256 {
    B256::from(root.0)
}

/// Reads committed tree nodes and values from RocksDB.
pub(crate) struct RocksTreeReader<'a> {
    pub(crate) db: &'a DB,
}

impl std::fmt::Debug for RocksTreeReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RocksTreeReader")
    }
}

fn cf<'a>(db: &'a DB, name: &'static str) -> anyhow::Result<&'a rocksdb::ColumnFamily> {
    db.cf_handle(name).ok_or_else(|| anyhow::anyhow!("column family {name} missing"))
}

impl TreeReader for RocksTreeReader<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let key = borsh::to_vec(node_key)?;
        match self.db.get_pinned_cf(cf(self.db, CF_JMT_NODES)?, &key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(borsh::from_slice::<Node>(&bytes).map_err(|e| {
                StoreError::corrupt(CF_JMT_NODES, &key, format!("node does not decode: {e}"))
            })?)),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(value_at(self.db, max_version, &key_hash)?)
    }

    /// Only JMT restore uses this; a full scan is acceptable there.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        let mut best: Option<(NodeKey, LeafNode)> = None;
        for item in self.db.iterator_cf(cf(self.db, CF_JMT_NODES)?, IteratorMode::Start) {
            let (key, value) = item?;
            if let Node::Leaf(leaf) = borsh::from_slice::<Node>(&value)? {
                if best.as_ref().is_none_or(|(_, b)| leaf.key_hash() > b.key_hash()) {
                    best = Some((borsh::from_slice::<NodeKey>(&key)?, leaf));
                }
            }
        }
        Ok(best)
    }
}

/// Reads tree nodes and values from the tree updates of uncommitted blocks
/// (`layers`, oldest first, each with its version) on top of the committed
/// tree: the tree as it will be once those blocks are committed in order.
pub(crate) struct LayeredTreeReader<'a> {
    pub(crate) committed: RocksTreeReader<'a>,
    pub(crate) layers: Vec<(Version, &'a TreeUpdateBatch)>,
}

impl std::fmt::Debug for LayeredTreeReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions: Vec<Version> = self.layers.iter().map(|(v, _)| *v).collect();
        f.debug_struct("LayeredTreeReader").field("versions", &versions).finish()
    }
}

impl TreeReader for LayeredTreeReader<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        // Node keys carry their version, so at most one layer holds a key.
        for (_, update) in self.layers.iter().rev() {
            if let Some(node) = update.node_batch.get_node(node_key) {
                return Ok(Some(node.clone()));
            }
        }
        self.committed.get_node_option(node_key)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        for (version, update) in self.layers.iter().rev().filter(|(v, _)| *v <= max_version) {
            if let Some(value) = update.node_batch.values().get(&(*version, key_hash)) {
                return Ok(value.clone());
            }
        }
        self.committed.get_value_option(max_version, key_hash)
    }

    /// Only JMT restore uses this, never on uncommitted layers.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        self.committed.get_rightmost_leaf()
    }
}

/// The value of `key_hash` as of `version` (the newest record at or below it).
pub(crate) fn value_at(
    db: &DB,
    version: Version,
    key_hash: &KeyHash,
) -> Result<Option<Vec<u8>>, StoreError> {
    let handle = db.cf_handle(CF_JMT_VALUES).ok_or_else(|| StoreError::Commitment {
        reason: format!("column family {CF_JMT_VALUES} missing"),
    })?;
    let seek = jmt_value_key(&key_hash.0, version);
    let mut iter = db.iterator_cf(handle, IteratorMode::From(&seek, Direction::Reverse));
    match iter.next() {
        None => Ok(None),
        Some(item) => {
            let (key, value) = item.map_err(StoreError::rocks("reading the JMT value history"))?;
            if key.len() != 40 || key[..32] != key_hash.0 {
                return Ok(None);
            }
            decode_jmt_value(&key, &value)
        }
    }
}

/// Appends a tree update to a write batch: new nodes and value history. Stale
/// nodes are kept (no pruning) so that proofs at every height stay available.
pub(crate) fn write_tree_batch(
    db: &DB,
    batch: &mut rocksdb::WriteBatch,
    update: &TreeUpdateBatch,
) -> Result<(), StoreError> {
    let missing =
        |name: &str| StoreError::Commitment { reason: format!("column family {name} missing") };
    let nodes_cf = db.cf_handle(CF_JMT_NODES).ok_or_else(|| missing(CF_JMT_NODES))?;
    let values_cf = db.cf_handle(CF_JMT_VALUES).ok_or_else(|| missing(CF_JMT_VALUES))?;
    for (key, node) in update.node_batch.nodes() {
        let key = borsh::to_vec(key).map_err(|e| StoreError::commitment(e.into()))?;
        let node = borsh::to_vec(node).map_err(|e| StoreError::commitment(e.into()))?;
        batch.put_cf(nodes_cf, key, node);
    }
    for ((version, key_hash), value) in update.node_batch.values() {
        let key = jmt_value_key(&key_hash.0, *version);
        batch.put_cf(values_cf, key, encode_jmt_value(value.as_deref()));
    }
    Ok(())
}

/// An in-memory tree store: verification and genesis build a fresh tree here.
#[derive(Debug, Default)]
pub(crate) struct MemTreeStore {
    nodes: RwLock<BTreeMap<NodeKey, Node>>,
    values: RwLock<BTreeMap<(KeyHash, Version), Option<OwnedValue>>>,
}

impl TreeReader for MemTreeStore {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.read().get(node_key).cloned())
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let values = self.values.read();
        let newest = values.range((key_hash, 0)..=(key_hash, max_version)).next_back();
        Ok(newest.and_then(|(_, v)| v.clone()))
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        let nodes = self.nodes.read();
        let leaves = nodes.iter().filter_map(|(k, n)| match n {
            Node::Leaf(leaf) => Some((k.clone(), leaf.clone())),
            _ => None,
        });
        Ok(leaves.max_by_key(|(_, leaf)| leaf.key_hash()))
    }
}

impl TreeWriter for MemTreeStore {
    fn write_node_batch(&self, node_batch: &NodeBatch) -> anyhow::Result<()> {
        self.nodes.write().extend(node_batch.nodes().iter().map(|(k, n)| (k.clone(), n.clone())));
        let mut values = self.values.write();
        for ((version, key_hash), value) in node_batch.values() {
            values.insert((*key_hash, *version), value.clone());
        }
        Ok(())
    }
}

/// The root of a tree holding exactly `leaves`, built from scratch in memory.
/// The JMT's shape depends only on its key set, so this equals the root of any
/// incrementally updated tree with the same contents.
pub(crate) fn fresh_root(
    leaves: impl IntoIterator<Item = (KeyHash, Vec<u8>)>,
) -> Result<B256, StoreError> {
    let store = MemTreeStore::default();
    let tree = Tree::new(&store);
    let mut leaves = leaves.into_iter().peekable();
    let mut version: Version = 0;
    loop {
        let chunk: Vec<(KeyHash, Option<OwnedValue>)> =
            leaves.by_ref().take(REBUILD_CHUNK_LEAVES).map(|(k, v)| (k, Some(v))).collect();
        let (root, update) = tree.put_value_set(chunk, version).map_err(StoreError::commitment)?;
        store.write_node_batch(&update.node_batch).map_err(StoreError::commitment)?;
        if leaves.peek().is_none() {
            return Ok(root_to_b256(root));
        }
        version += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spaces_are_disjoint_and_deterministic() {
        let a = Address::repeat_byte(7);
        assert_eq!(account_key_hash(&a), account_key_hash(&a));
        assert_ne!(account_key_hash(&a), storage_key_hash(&a, &U256::ZERO));
        assert_ne!(storage_key_hash(&a, &U256::from(1)), storage_key_hash(&a, &U256::from(2)));
    }

    #[test]
    fn fresh_root_is_order_and_chunk_independent() {
        let leaves: Vec<_> = (0..20_000u64)
            .map(|i| {
                account_leaf(&Address::left_padding_from(&i.to_be_bytes()), &Account::default())
            })
            .collect();
        let forward = fresh_root(leaves.clone()).unwrap();
        let backward = fresh_root(leaves.into_iter().rev()).unwrap();
        assert_eq!(forward, backward);
        assert_ne!(forward, fresh_root(std::iter::empty()).unwrap());
    }
}

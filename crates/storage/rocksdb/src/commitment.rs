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

/// Applies `leaves` (a key hash to its new value, `None` deleting it) as tree
/// version `version` on top of the tree `reader` holds, returning the new root
/// and the nodes and values to write.
///
/// A set without deletions goes through jmt's `batch_put_value_sets`, which
/// walks the tree once for the whole set and hashes each new node once.
/// `put_value_set` inserts key by key and re-hashes every node on the key's
/// path each time: the root and the dense upper levels (an internal node's
/// hash is up to 15 sha256 compressions) once per key. Measured with
/// `cargo run --release -p phalanx-storage-rocksdb --example commit_cost`
/// (see docs/BENCHMARKS.md). The batch path takes no deletions, so a set with
/// any (a slot zeroed, an account destroyed) and the empty set keep the
/// key-by-key path. Both give the same root: a JMT's shape depends only on
/// its key set (`batch_and_sequential_updates_agree` checks it).
pub(crate) fn put_leaves<R: TreeReader>(
    reader: &R,
    leaves: BTreeMap<KeyHash, Option<OwnedValue>>,
    version: Version,
) -> Result<(RootHash, TreeUpdateBatch), StoreError> {
    let tree = Tree::new(reader);
    if leaves.is_empty() || leaves.values().any(Option::is_none) {
        return tree.put_value_set(leaves, version).map_err(StoreError::commitment);
    }
    let inserts: Vec<(KeyHash, OwnedValue)> =
        leaves.into_iter().filter_map(|(key, value)| Some((key, value?))).collect();
    let (roots, update) =
        tree.batch_put_value_sets(vec![inserts], None, version).map_err(StoreError::commitment)?;
    assert_eq!(roots.len(), 1, "one value set gives one root");
    Ok((roots[0], update))
}

/// The root of a tree holding exactly `leaves`, built from scratch in memory.
/// The JMT's shape depends only on its key set, so this equals the root of any
/// incrementally updated tree with the same contents.
pub(crate) fn fresh_root(
    leaves: impl IntoIterator<Item = (KeyHash, Vec<u8>)>,
) -> Result<B256, StoreError> {
    let store = MemTreeStore::default();
    let mut leaves = leaves.into_iter().peekable();
    let mut version: Version = 0;
    loop {
        let chunk: BTreeMap<KeyHash, Option<OwnedValue>> =
            leaves.by_ref().take(REBUILD_CHUNK_LEAVES).map(|(k, v)| (k, Some(v))).collect();
        let (root, update) = put_leaves(&store, chunk, version)?;
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

    /// Key `i` of a small key space; odd keys share their first 30 bytes
    /// with the key before, so some leaves split deep in the tree.
    fn test_key(i: u16) -> KeyHash {
        let mut bytes = KeyHash::with::<Sha256>((i / 2).to_be_bytes()).0;
        if i % 2 == 1 {
            bytes[31] ^= 0x01;
        }
        KeyHash(bytes)
    }

    /// Applies `sets` version by version to a tree through [`put_leaves`] and
    /// to another through jmt's key-by-key `put_value_set`, returning both
    /// stores and the roots of each version.
    fn apply_both(
        sets: &[BTreeMap<u16, Option<u8>>],
    ) -> (MemTreeStore, MemTreeStore, Vec<(RootHash, RootHash)>) {
        let (batched, sequential) = (MemTreeStore::default(), MemTreeStore::default());
        let mut roots = Vec::new();
        for (version, set) in sets.iter().enumerate() {
            let leaves: BTreeMap<KeyHash, Option<OwnedValue>> =
                set.iter().map(|(k, v)| (test_key(*k), v.map(|v| vec![v; 3]))).collect();
            let version = version as Version;
            let (a, update) = put_leaves(&batched, leaves.clone(), version).unwrap();
            batched.write_node_batch(&update.node_batch).unwrap();
            let (b, update) = Tree::new(&sequential).put_value_set(leaves, version).unwrap();
            sequential.write_node_batch(&update.node_batch).unwrap();
            roots.push((a, b));
        }
        (batched, sequential, roots)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 64, ..proptest::prelude::ProptestConfig::default()
        })]

        /// The batch path (sets without deletions) and jmt's key-by-key path
        /// give the same root at every version, whichever path built the
        /// versions below, and the batched tree answers reads with proofs
        /// that verify against its root.
        #[test]
        fn batch_and_sequential_updates_agree(
            drawn in proptest::collection::vec(
                (
                    proptest::bool::weighted(0.3),
                    proptest::collection::btree_map(
                        0u16..96,
                        proptest::option::weighted(0.85, 1u8..4),
                        0..40,
                    ),
                ),
                1..8,
            )
        ) {
            // Most versions carry no deletion (the batch path), some do.
            let sets: Vec<BTreeMap<u16, Option<u8>>> = drawn
                .into_iter()
                .map(|(deletes, set)| {
                    set.into_iter().map(|(k, v)| (k, if deletes { v } else { v.or(Some(1)) })).collect()
                })
                .collect();
            let (batched, _, roots) = apply_both(&sets);
            for (version, (a, b)) in roots.iter().enumerate() {
                proptest::prop_assert_eq!(a, b, "version {}", version);
            }
            let last = (sets.len() - 1) as Version;
            let tree = Tree::new(&batched);
            for key in 0u16..96 {
                let (value, proof) = tree.get_with_proof(test_key(key), last).unwrap();
                proof.verify(roots[last as usize].0, test_key(key), value.as_deref()).unwrap();
            }
        }
    }

    #[test]
    fn batch_path_builds_on_an_empty_tree_and_on_a_single_leaf() {
        let one_then_many = [
            BTreeMap::from([(5u16, Some(1u8))]),
            BTreeMap::from([(5, Some(2)), (6, Some(1)), (7, Some(1)), (40, Some(3))]),
            BTreeMap::from([(6, None)]),
            BTreeMap::new(),
            BTreeMap::from([(6, Some(2)), (8, Some(1))]),
        ];
        let (_, _, roots) = apply_both(&one_then_many);
        for (version, (a, b)) in roots.iter().enumerate() {
            assert_eq!(a, b, "version {version}");
        }
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

//! "Incremental equals full": the root after applying random blocks one by
//! one equals the root of a tree built from scratch over the final state.

use super::*;
use crate::commitment::{account_leaf, fresh_root, storage_leaf};
use crate::StoreError;
use proptest::prelude::*;

/// The world state as plain maps: the model the store must agree with.
#[derive(Default)]
struct Model {
    accounts: BTreeMap<Address, Account>,
    slots: BTreeMap<(Address, U256), U256>,
}

impl Model {
    fn apply(&mut self, changes: &StateChanges) {
        let deleted = changes.accounts.iter().filter(|(_, a)| a.is_none()).map(|(a, _)| *a);
        let wiped = changes.storage.iter().filter(|(_, s)| s.wiped).map(|(a, _)| *a);
        for address in deleted.chain(wiped).collect::<Vec<_>>() {
            self.slots.retain(|(a, _), _| *a != address);
        }
        for (address, account) in &changes.accounts {
            match account {
                Some(account) => self.accounts.insert(*address, *account),
                None => self.accounts.remove(address),
            };
        }
        for (address, storage) in &changes.storage {
            for (slot, value) in &storage.slots {
                if value.is_zero() {
                    self.slots.remove(&(*address, *slot));
                } else {
                    self.slots.insert((*address, *slot), *value);
                }
            }
        }
    }

    /// Checks the store's latest state against the model, value by value,
    /// and that the stored chain verifies with exactly the model's leaves.
    fn check(&self, store: &Store) -> Result<(), TestCaseError> {
        let state = store.latest_state();
        for (address, account) in &self.accounts {
            prop_assert_eq!(state.account(address).unwrap(), Some(*account));
        }
        for ((address, slot), value) in &self.slots {
            prop_assert_eq!(state.storage(address, slot).unwrap(), *value);
        }
        let report = store.verify_chain(&mut |_| {}).unwrap();
        prop_assert!(report.is_ok(), "{:?}", report);
        prop_assert_eq!(report.accounts_checked, self.accounts.len() as u64);
        prop_assert_eq!(report.slots_checked, self.slots.len() as u64);
        Ok(())
    }

    fn root(&self) -> B256 {
        let accounts = self.accounts.iter().map(|(a, acct)| account_leaf(a, acct));
        let slots = self.slots.iter().map(|((a, s), v)| storage_leaf(a, s, v));
        fresh_root(accounts.chain(slots)).unwrap()
    }
}

/// A store and the model, both at the test genesis (unsynced writes: the
/// tests commit many blocks).
fn fresh_store(path: &Path) -> (Store, Model) {
    let options = StoreOptions { sync_writes: false, ..StoreOptions::default() };
    let store = Store::open(path, options).unwrap();
    store.init_genesis(&genesis()).unwrap();
    let mut model = Model::default();
    model.apply(&genesis().state_changes());
    (store, model)
}

/// Random changes over a small key universe so that blocks overwrite,
/// delete and wipe each other's keys.
fn arb_changes() -> impl Strategy<Value = StateChanges> {
    let account = prop_oneof![
        1 => Just(None),
        3 => (0u64..4, 0u64..1000).prop_map(|(n, b)| Some(Account { nonce: n, balance: U256::from(b), code_hash: phalanx_core_types::KECCAK_EMPTY })),
    ];
    let accounts = proptest::collection::btree_map(0u8..6, account, 0..4);
    let slots = proptest::collection::btree_map(0u64..6, 0u64..3, 0..5);
    let storage =
        proptest::collection::btree_map(0u8..6, (proptest::bool::weighted(0.2), slots), 0..4);
    (accounts, storage).prop_map(|(accounts, storage)| {
        let mut changes = StateChanges::default();
        for (a, acct) in accounts {
            changes.accounts.insert(addr(a), acct);
        }
        for (a, (wiped, slots)) in storage {
            let slots = slots.into_iter().map(|(k, v)| (U256::from(k), U256::from(v))).collect();
            changes.storage.insert(addr(a), StorageChanges { wiped, slots });
        }
        // Keep the StateChanges invariant: a deleted account's storage entry is a bare wipe.
        let deleted: Vec<Address> =
            changes.accounts.iter().filter(|(_, a)| a.is_none()).map(|(a, _)| *a).collect();
        for address in deleted {
            if let Some(storage) = changes.storage.get_mut(&address) {
                storage.wiped = true;
                storage.slots.retain(|_, v| v.is_zero());
            }
        }
        changes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn incremental_root_equals_full_rebuild(blocks in proptest::collection::vec(arb_changes(), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut model) = fresh_store(dir.path());
        prop_assert_eq!(model.root(), store.head().unwrap().state_root);
        for changes in &blocks {
            commit(&store, changes, vec![]);
            model.apply(changes);
            prop_assert_eq!(model.root(), store.head().unwrap().state_root);
        }
        model.check(&store)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// A speculative block on an uncommitted fork is rooted with the merged
    /// changes of its uncommitted ancestors: that root must be the one the
    /// chain has once the ancestors and the block are committed one by one.
    #[test]
    fn speculative_root_equals_root_after_committing(blocks in proptest::collection::vec(arb_changes(), 1..5)) {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions { sync_writes: false, ..StoreOptions::default() };
        let store = Store::open(dir.path(), options).unwrap();
        store.init_genesis(&genesis()).unwrap();
        // As in the EVM, a block that writes an account's storage leaves the
        // account existing (storage of an absent account is unreachable).
        let mut blocks = blocks;
        for changes in &mut blocks {
            let writers: Vec<Address> = changes.storage.iter().filter(|(_, s)| !s.slots.is_empty()).map(|(a, _)| *a).collect();
            for address in writers {
                changes.accounts.entry(address).or_insert(Some(Account::with_balance(U256::from(1))));
            }
        }
        let mut merged = StateChanges::default();
        for changes in &blocks {
            merged.extend(changes.clone());
        }
        let speculative = store.speculative_root(&merged).unwrap();
        let head_before = store.head().unwrap();
        for changes in &blocks {
            commit(&store, changes, vec![]);
        }
        prop_assert_eq!(speculative, store.head().unwrap().state_root);
        prop_assert_ne!(head_before.height, store.head().unwrap().height);
    }
}

/// The block at `height` on `parent` rooted at `prepared` (the store's
/// [`next_block`] always builds on the head).
fn block_on(store: &Store, parent: B256, height: u64, prepared: &PreparedState) -> Block {
    let mut block = next_block(store, vec![], prepared);
    block.header.parent_hash = parent;
    block.header.height = height;
    block.header.timestamp = 1_700_000_000 + height;
    block
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Blocks prepared on their uncommitted ancestors' prepared states (as
    /// validators execute ahead of commits) have the roots of the merged
    /// changes, commit as they are in order, and leave exactly the state
    /// (flat and tree) that preparing each on the head leaves. Commits are
    /// interleaved with preparations, so some blocks are prepared on a head
    /// that moved since their ancestors were.
    #[test]
    fn chained_preparation_equals_preparing_on_the_head(
        blocks in proptest::collection::vec(arb_changes(), 1..7),
        commits in proptest::collection::vec(proptest::bool::ANY, 7),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut model) = fresh_store(dir.path());
        let mut blocks = blocks;
        for changes in &mut blocks {
            let writers: Vec<Address> = changes.storage.iter().filter(|(_, s)| !s.slots.is_empty()).map(|(a, _)| *a).collect();
            for address in writers {
                changes.accounts.entry(address).or_insert(Some(Account::with_balance(U256::from(1))));
            }
        }
        // Uncommitted blocks, oldest first, with the changes merged so far.
        let mut pending: Vec<(PreparedState, Block)> = Vec::new();
        let mut merged = StateChanges::default();
        let head = store.head().unwrap();
        let (mut height, mut parent) = (head.height + 1, head.hash);
        for (i, changes) in blocks.iter().enumerate() {
            let ancestors: Vec<(&PreparedState, B256)> = pending.iter().map(|(p, b)| (p, b.hash())).collect();
            let prepared = store.prepare_state_on(&ancestors, height, changes).unwrap();
            merged.extend(changes.clone());
            model.apply(changes);
            prop_assert_eq!(prepared.state_root, store.speculative_root(&merged).unwrap());
            prop_assert_eq!(prepared.state_root, model.root());
            let block = block_on(&store, parent, height, &prepared);
            (height, parent) = (height + 1, block.hash());
            pending.push((prepared, block));
            if commits[i] && pending.len() > 1 {
                let (prepared, block) = pending.remove(0);
                store.commit_block(&block, &[], prepared).unwrap();
                merged = StateChanges::default();
                for (_, later) in &pending {
                    let index = usize::try_from(later.header.height - 1 - head.height).unwrap();
                    merged.extend(blocks[index].clone());
                }
            }
        }
        for (prepared, block) in pending {
            let root = prepared.state_root;
            store.commit_block(&block, &[], prepared).unwrap();
            prop_assert_eq!(store.head().unwrap().state_root, root);
        }
        model.check(&store)?;
    }
}

#[test]
fn chained_preparation_rejects_ancestors_that_do_not_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    let head = store.head().unwrap();
    let first = store.prepare_state(head.height + 1, &set_balance(addr(3), 5)).unwrap();
    let first_again = store.prepare_state(head.height + 1, &set_balance(addr(3), 5)).unwrap();
    let block = next_block(&store, vec![], &first);
    let changes = set_balance(addr(4), 6);
    assert!(matches!(
        store.prepare_state_on(&[(&first, block.hash())], head.height + 3, &changes),
        Err(StoreError::NotNextHeight { .. })
    ));
    // Prepared on an ancestor named with the wrong hash: it cannot commit
    // on top of the real block.
    let misnamed = store
        .prepare_state_on(&[(&first, B256::repeat_byte(1))], head.height + 2, &changes)
        .unwrap();
    let child = block_on(&store, block.hash(), head.height + 2, &misnamed);
    store.commit_block(&block, &[], first).unwrap();
    assert!(matches!(
        store.commit_block(&child, &[], misnamed),
        Err(StoreError::StalePreparedState { .. })
    ));
    // The head moved: an ancestor prepared on the old head no longer chains.
    assert!(matches!(
        store.prepare_state_on(&[(&first_again, block.hash())], head.height + 3, &changes),
        Err(StoreError::StalePreparedState { .. })
    ));
    assert_eq!(store.head().unwrap().hash, block.hash(), "nothing else was written");
}

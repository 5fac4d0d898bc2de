//! "Incremental equals full": the root after applying random blocks one by
//! one equals the root of a tree built from scratch over the final state.

use super::*;
use crate::commitment::{account_leaf, fresh_root, storage_leaf};
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

    fn root(&self) -> B256 {
        let accounts = self.accounts.iter().map(|(a, acct)| account_leaf(a, acct));
        let slots = self.slots.iter().map(|((a, s), v)| storage_leaf(a, s, v));
        fresh_root(accounts.chain(slots)).unwrap()
    }
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
        let options = StoreOptions { sync_writes: false, ..StoreOptions::default() };
        let store = Store::open(dir.path(), options).unwrap();
        store.init_genesis(&genesis()).unwrap();
        let mut model = Model::default();
        model.apply(&genesis().state_changes());
        prop_assert_eq!(model.root(), store.head().unwrap().state_root);
        for changes in &blocks {
            commit(&store, changes, vec![]);
            model.apply(changes);
            prop_assert_eq!(model.root(), store.head().unwrap().state_root);
        }
        let state = store.latest_state();
        for (address, account) in &model.accounts {
            prop_assert_eq!(state.account(address).unwrap(), Some(*account));
        }
        for ((address, slot), value) in &model.slots {
            prop_assert_eq!(state.storage(address, slot).unwrap(), *value);
        }
        let report = store.verify_chain(&mut |_| {}).unwrap();
        prop_assert!(report.is_ok(), "{:?}", report);
        prop_assert_eq!(report.accounts_checked, model.accounts.len() as u64);
        prop_assert_eq!(report.slots_checked, model.slots.len() as u64);
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

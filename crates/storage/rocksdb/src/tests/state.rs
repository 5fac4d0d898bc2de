//! State store: changes applied, wipes, deletions, code, snapshots, proofs.

use super::*;
use crate::{account_key_hash, encode_account, encode_slot_value, storage_key_hash, StoreError};
use jmt::RootHash;

fn slot(store: &Store, address: Address, key: u64) -> u64 {
    store.latest_state().storage(&address, &U256::from(key)).unwrap().to::<u64>()
}

#[test]
fn accounts_slots_code_deletions_and_wipes_apply() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    let a = addr(0x10);

    // Create an account with code and three slots.
    let code = Bytes::from_static(&[0x5f, 0x5f, 0xf3]);
    let code_hash = keccak256(&code);
    let mut changes = set_slots(a, false, &[(1, 11), (2, 22), (3, 33)]);
    changes.accounts.insert(a, Some(Account { nonce: 1, balance: U256::from(9u64), code_hash }));
    changes.code.insert(code_hash, code.clone());
    commit(&store, &changes, vec![]);
    let state = store.latest_state();
    assert_eq!(state.account(&a).unwrap().unwrap().code_hash, code_hash);
    assert_eq!(state.code(&code_hash).unwrap(), Some(code));
    assert_eq!((slot(&store, a, 1), slot(&store, a, 2), slot(&store, a, 3)), (11, 22, 33));

    // A zero value deletes a slot; others are untouched.
    commit(&store, &set_slots(a, false, &[(2, 0), (4, 44)]), vec![]);
    assert_eq!((slot(&store, a, 1), slot(&store, a, 2), slot(&store, a, 4)), (11, 0, 44));

    // A wipe removes every committed slot before the new ones apply.
    commit(&store, &set_slots(a, true, &[(3, 333), (5, 55)]), vec![]);
    let slots: Vec<u64> = (1..=5).map(|k| slot(&store, a, k)).collect();
    assert_eq!(slots, vec![0, 0, 333, 0, 55]);
    assert_eq!(store.inner.committed_slot_keys(&a).unwrap().len(), 2);

    // Deleting the account deletes its storage too.
    let mut delete = StateChanges::default();
    delete.accounts.insert(a, None);
    commit(&store, &delete, vec![]);
    assert_eq!(store.latest_state().account(&a).unwrap(), None);
    assert!(store.inner.committed_slot_keys(&a).unwrap().is_empty());

    // History stays readable (slot 1 existed until the wipe at height 3),
    // and every root matches a fresh rebuild.
    let old = store.state_at(2).unwrap();
    assert_eq!(old.storage(&a, &U256::from(1u64)).unwrap(), U256::from(11u64));
    assert_eq!(old.account(&a).unwrap().unwrap().nonce, 1);
    assert!(store.verify_chain(&mut |_| {}).unwrap().is_ok());
}

#[test]
fn invalid_changes_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    let mut bad_code = StateChanges::default();
    bad_code.code.insert(B256::repeat_byte(1), Bytes::from_static(b"x"));
    assert!(matches!(store.prepare_state(1, &bad_code), Err(StoreError::InvalidChanges { .. })));

    let mut unwiped = set_slots(addr(2), false, &[]);
    unwiped.accounts.insert(addr(2), None);
    assert!(matches!(store.prepare_state(1, &unwiped), Err(StoreError::InvalidChanges { .. })));
}

#[test]
fn snapshots_are_pinned_to_their_height() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    let before = store.latest_state();
    assert_eq!(before.height(), Some(0));
    commit(&store, &set_balance(addr(1), 7), vec![]);
    commit(&store, &set_slots(addr(2), true, &[]), vec![]);
    let genesis_balance = U256::from(1_000_000u64);
    assert_eq!(before.account(&addr(1)).unwrap().unwrap().balance, genesis_balance);
    assert_eq!(before.storage(&addr(2), &U256::from(1u64)).unwrap(), U256::from(42u64));
    assert_eq!(before.block_hash(1).unwrap(), None);
    let after = store.latest_state();
    assert_eq!(after.account(&addr(1)).unwrap().unwrap().balance, U256::from(7u64));
    assert_eq!(after.storage(&addr(2), &U256::from(1u64)).unwrap(), U256::ZERO);
    assert!(matches!(store.state_at(3), Err(StoreError::StateUnavailable { height: 3 })));
}

#[test]
fn state_view_before_genesis_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let view: &dyn phalanx_core_types::StateView = &store.latest_state();
    assert_eq!(view.account(&addr(1)).unwrap(), None);
    assert_eq!(view.storage(&addr(1), &U256::ZERO).unwrap(), U256::ZERO);
    assert_eq!(view.block_hash(0).unwrap(), None);
}

#[test]
fn proofs_verify_against_header_state_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    commit(&store, &set_balance(addr(1), 77), vec![]);
    let root = RootHash(store.header_by_height(1).unwrap().unwrap().state_root.0);
    let genesis_root = RootHash(store.header_by_height(0).unwrap().unwrap().state_root.0);

    let (account, proof) = store.account_proof(&addr(1), 1).unwrap();
    let account = account.unwrap();
    assert_eq!(account.balance, U256::from(77u64));
    let value = encode_account(&account);
    proof.verify(root, account_key_hash(&addr(1)), Some(value)).unwrap();
    assert!(proof.verify(genesis_root, account_key_hash(&addr(1)), Some(value)).is_err());

    // At genesis the same account had its original balance.
    let (old, old_proof) = store.account_proof(&addr(1), 0).unwrap();
    assert_eq!(old.unwrap().balance, U256::from(1_000_000u64));
    old_proof
        .verify(genesis_root, account_key_hash(&addr(1)), Some(encode_account(&old.unwrap())))
        .unwrap();

    // Exclusion proof for an absent account.
    let (absent, absent_proof) = store.account_proof(&addr(0x77), 1).unwrap();
    assert_eq!(absent, None);
    absent_proof.verify(root, account_key_hash(&addr(0x77)), None::<Vec<u8>>).unwrap();

    let (value, slot_proof) = store.storage_proof(&addr(2), &U256::from(1u64), 1).unwrap();
    assert_eq!(value, U256::from(42u64));
    let key = storage_key_hash(&addr(2), &U256::from(1u64));
    slot_proof.verify(root, key, Some(encode_slot_value(&value))).unwrap();
    assert!(slot_proof.verify(root, key, Some(encode_slot_value(&U256::from(43u64)))).is_err());

    assert!(matches!(
        store.account_proof(&addr(1), 2),
        Err(StoreError::StateUnavailable { height: 2 })
    ));
}

#[test]
fn commitment_cost_follows_the_writes_not_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    let mut big = StateChanges::default();
    for i in 0..3_000u64 {
        let account = Account::with_balance(U256::from(i));
        big.accounts.insert(Address::left_padding_from(&i.to_be_bytes()), Some(account));
    }
    commit(&store, &big, vec![]);
    // One changed account rewrites only the nodes on its path (root, a few
    // internal levels, the leaf), however large the state is.
    let prepared = store.prepare_state(2, &set_balance(addr(1), 5)).unwrap();
    let nodes = prepared.tree.node_batch.nodes().len();
    assert!(nodes <= 8, "{nodes} nodes written for one account");
}

#[test]
fn store_is_shareable_across_threads() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    assert_shareable::<Store>();
    assert_shareable::<crate::StateSnapshot>();
}

#[test]
fn snapshots_stay_consistent_during_concurrent_commits() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { sync_writes: false, ..StoreOptions::default() };
    let store = Store::open(dir.path(), options).unwrap();
    store.init_genesis(&genesis()).unwrap();
    let pinned = store.latest_state();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for h in 1..=40u64 {
                commit(&store, &set_balance(addr(1), h), vec![]);
            }
        })
    };
    let genesis_balance = U256::from(1_000_000u64);
    // Block h sets the balance of addr(1) to h: every snapshot must show
    // exactly the balance of its own height, whatever is being written.
    loop {
        let finished = writer.is_finished();
        assert_eq!(pinned.account(&addr(1)).unwrap().unwrap().balance, genesis_balance);
        let latest = store.latest_state();
        let balance = latest.account(&addr(1)).unwrap().unwrap().balance;
        match latest.height().unwrap() {
            0 => assert_eq!(balance, genesis_balance),
            h => assert_eq!(balance, U256::from(h)),
        }
        if finished {
            break;
        }
    }
    writer.join().unwrap();
    assert_eq!(store.head().unwrap().height, 40);
}

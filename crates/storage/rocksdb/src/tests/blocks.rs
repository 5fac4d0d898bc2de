//! Block store: genesis, round trips, linkage checks, immutability, reopen.

use super::*;
use crate::StoreError;

#[test]
fn genesis_is_idempotent_and_detects_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.head(), None);
    let first = store.init_genesis(&genesis()).unwrap();
    let second = store.init_genesis(&genesis()).unwrap();
    assert_eq!(first, second);
    let head = store.head().unwrap();
    assert_eq!(
        (head.height, head.hash, head.state_root),
        (0, first.hash(), first.header.state_root)
    );
    assert!(first.body_matches_header());
    assert_eq!(first.header.chain_id, CHAIN_ID);

    let mut other = genesis();
    other.alloc.get_mut(&addr(1)).unwrap().balance = U256::from(1u64);
    match store.init_genesis(&other) {
        Err(StoreError::GenesisMismatch { stored, configured }) => {
            assert_eq!(stored, first.hash());
            assert_ne!(configured, first.hash());
        }
        other => panic!("expected a genesis mismatch, got {other:?}"),
    }
    assert_eq!(store.head(), Some(head));
}

#[test]
fn genesis_state_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    let state = store.latest_state();
    let contract = state.account(&addr(2)).unwrap().unwrap();
    assert_eq!(contract.nonce, 1);
    assert_eq!(state.code(&contract.code_hash).unwrap().unwrap().len(), 5);
    assert_eq!(state.storage(&addr(2), &U256::from(1u64)).unwrap(), U256::from(42u64));
    assert_eq!(state.storage(&addr(2), &U256::from(2u64)).unwrap(), U256::ZERO);
    assert_eq!(state.account(&addr(3)).unwrap(), None);
    assert_eq!(state.block_hash(0).unwrap(), Some(store.head().unwrap().hash));
    assert_eq!(state.block_hash(1).unwrap(), None);
}

#[test]
fn blocks_round_trip_with_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    let mut blocks = vec![store.block_by_height(0).unwrap().unwrap()];
    for h in 1..=3u64 {
        let txs = (0..h).map(|i| transfer(h * 10 + i)).collect();
        blocks.push(commit(&store, &set_balance(addr(1), h), txs));
    }
    for (height, block) in blocks.iter().enumerate() {
        let height = height as u64;
        assert_eq!(store.block_by_height(height).unwrap().as_ref(), Some(block));
        assert_eq!(store.block_by_hash(&block.hash()).unwrap().as_ref(), Some(block));
        assert_eq!(store.header_by_height(height).unwrap().as_ref(), Some(&block.header));
        assert_eq!(store.block_hash(height).unwrap(), Some(block.hash()));
        assert_eq!(store.latest_state().block_hash(height).unwrap(), Some(block.hash()));
        let receipts = store.receipts(height).unwrap().unwrap();
        assert_eq!(receipts, receipts_for(&block.transactions));
        for (index, tx) in block.transactions.iter().enumerate() {
            assert_eq!(store.tx_location(tx.tx_hash()).unwrap(), Some((height, index as u32)));
        }
    }
    assert_eq!(store.block_by_height(4).unwrap(), None);
    assert_eq!(store.block_by_hash(&B256::repeat_byte(1)).unwrap(), None);
    assert_eq!(store.receipts(4).unwrap(), None);
    assert_eq!(store.tx_location(&B256::repeat_byte(1)).unwrap(), None);
    assert_eq!(store.head().unwrap().hash, blocks[3].hash());
}

/// Asserts that the store still ends at block 1 and holds nothing of a block 2.
fn assert_nothing_written(store: &Store, head: crate::Head, tx: &TxEnvelope) {
    assert_eq!(store.head(), Some(head));
    assert_eq!(store.block_by_height(2).unwrap(), None);
    assert_eq!(store.receipts(2).unwrap(), None);
    assert_eq!(store.tx_location(tx.tx_hash()).unwrap(), None);
    assert_eq!(store.latest_state().account(&addr(7)).unwrap(), None);
    let reopened_head = store.head();
    assert_eq!(reopened_head, Some(head));
}

#[test]
fn bad_commits_are_rejected_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    commit(&store, &set_balance(addr(1), 1), vec![transfer(0)]);
    let head = store.head().unwrap();
    let changes = set_balance(addr(7), 70);
    let tx = transfer(1);

    assert!(matches!(
        store.prepare_state(3, &changes),
        Err(StoreError::NotNextHeight { expected: 2, got: 3 })
    ));
    let good = |store: &Store| {
        let prepared = store.prepare_state(2, &changes).unwrap();
        (next_block(store, vec![tx.clone()], &prepared), prepared)
    };
    let receipts = receipts_for(std::slice::from_ref(&tx));

    let (mut block, prepared) = good(&store);
    block.header.parent_hash = B256::repeat_byte(9);
    let err = store.commit_block(&block, &receipts, prepared).unwrap_err();
    assert!(matches!(err, StoreError::ParentMismatch { height: 2, .. }), "{err}");

    let (mut block, prepared) = good(&store);
    block.header.height = 3;
    let err = store.commit_block(&block, &receipts, prepared).unwrap_err();
    assert!(matches!(err, StoreError::NotNextHeight { expected: 2, got: 3 }), "{err}");

    let (mut block, prepared) = good(&store);
    block.header.state_root = B256::repeat_byte(1);
    let err = store.commit_block(&block, &receipts, prepared).unwrap_err();
    assert!(matches!(err, StoreError::StateRootMismatch { height: 2, .. }), "{err}");

    let (block, prepared) = good(&store);
    let err = store.commit_block(&block, &[], prepared).unwrap_err();
    assert!(matches!(err, StoreError::ReceiptsMismatch { height: 2, .. }), "{err}");

    let (block, prepared) = good(&store);
    let mut wrong_gas = receipts.clone();
    wrong_gas[0].cumulative_gas_used += 1;
    let err = store.commit_block(&block, &wrong_gas, prepared).unwrap_err();
    assert!(matches!(err, StoreError::ReceiptsMismatch { height: 2, .. }), "{err}");

    let (mut block, prepared) = good(&store);
    block.transactions.push(transfer(99));
    let err = store.commit_block(&block, &receipts, prepared).unwrap_err();
    assert!(matches!(err, StoreError::BodyMismatch { height: 2 }), "{err}");

    let (block, _) = good(&store);
    let err = store.commit_block(
        &block,
        &receipts,
        store.prepare_state(2, &set_balance(addr(8), 1)).unwrap(),
    );
    assert!(matches!(err, Err(StoreError::StateRootMismatch { .. })));

    assert_nothing_written(&store, head, &tx);
    drop(store);
    let store = open(dir.path());
    assert_nothing_written(&store, head, &tx);
}

#[test]
fn committed_blocks_cannot_be_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_genesis(dir.path());
    // Prepared before block 1 exists: must not be usable once it does.
    let early = store.prepare_state(1, &set_balance(addr(5), 5)).unwrap();
    let early_block = next_block(&store, vec![], &early);
    let block1 = commit(&store, &set_balance(addr(1), 1), vec![transfer(0)]);

    let err = store.commit_block(&early_block, &[], early).unwrap_err();
    assert!(matches!(err, StoreError::NotNextHeight { expected: 2, got: 1 }), "{err}");
    assert_eq!(store.block_by_height(1).unwrap(), Some(block1.clone()));

    // A stale preparation reused for the right height is rejected too.
    let stale = store.prepare_state(2, &StateChanges::default()).unwrap();
    commit(&store, &StateChanges::default(), vec![]);
    let stale_block = next_block(&store, vec![], &stale);
    let err = store.commit_block(&stale_block, &[], stale).unwrap_err();
    assert!(matches!(err, StoreError::StalePreparedState { height: 2, .. }), "{err}");

    // Re-including a committed transaction would overwrite its index entry.
    let prepared = store.prepare_state(3, &StateChanges::default()).unwrap();
    let replay = next_block(&store, vec![transfer(0)], &prepared);
    let err =
        store.commit_block(&replay, &receipts_for(&replay.transactions), prepared).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateTransaction { existing_height: 1, .. }), "{err}");
    assert_eq!(store.tx_location(block1.transactions[0].tx_hash()).unwrap(), Some((1, 0)));
    assert_eq!(store.head().unwrap().height, 2);
}

#[test]
fn reopen_restores_head_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let (head, root) = {
        let store = open_with_genesis(dir.path());
        commit(&store, &set_balance(addr(3), 33), vec![transfer(0)]);
        commit(&store, &set_slots(addr(2), false, &[(5, 55)]), vec![]);
        (store.head().unwrap(), store.header_by_height(2).unwrap().unwrap().state_root)
    };
    let store = open(dir.path());
    assert_eq!(store.head(), Some(head));
    assert_eq!(head.state_root, root);
    let state = store.latest_state();
    assert_eq!(state.account(&addr(3)).unwrap().unwrap().balance, U256::from(33u64));
    assert_eq!(state.storage(&addr(2), &U256::from(5u64)).unwrap(), U256::from(55u64));
    // The reopened store keeps appending.
    commit(&store, &set_balance(addr(3), 34), vec![]);
    assert_eq!(store.head().unwrap().height, 3);
    assert!(store.verify_chain(&mut |_| {}).unwrap().is_ok());
}

#[test]
fn open_without_create_fails_on_missing_dir() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { create_if_missing: false, ..StoreOptions::default() };
    let err = Store::open(&dir.path().join("absent"), options).unwrap_err();
    assert!(matches!(err, StoreError::Rocks { .. }), "{err}");
}

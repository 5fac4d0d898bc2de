//! `verify_chain`: passes on a good chain, names the first bad block or the
//! bad state after the database is tampered with underneath the store.

use super::*;
use crate::codec::{height_key, CF_ACCOUNTS, CF_BLOCKS, CF_RECEIPTS};
use crate::{VerifyFailure, COLUMN_FAMILIES};

/// A chain of genesis plus four blocks with transactions and state changes.
fn build_chain(path: &Path) -> Store {
    let store = open_with_genesis(path);
    for h in 1..=4u64 {
        let mut changes = set_slots(addr(2), false, &[(h, h * 100)]);
        changes.accounts.insert(addr(1), Some(Account::with_balance(U256::from(h))));
        commit(&store, &changes, vec![transfer(h)]);
    }
    store
}

/// Overwrites one raw value, bypassing the store (which has no such API).
fn tamper(path: &Path, cf: &str, key: &[u8], value: &[u8]) {
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), path, COLUMN_FAMILIES).unwrap();
    db.put_cf(db.cf_handle(cf).unwrap(), key, value).unwrap();
}

fn verify(path: &Path) -> crate::VerifyReport {
    let mut seen = Vec::new();
    let report = open(path).verify_chain(&mut |h| seen.push(h)).unwrap();
    assert_eq!(
        seen,
        (0..seen.len() as u64).collect::<Vec<_>>(),
        "progress reports heights in order"
    );
    report
}

#[test]
fn good_chain_verifies_with_counts() {
    let dir = tempfile::tempdir().unwrap();
    drop(build_chain(dir.path()));
    let report = verify(dir.path());
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.blocks_checked, 5);
    assert_eq!(report.transactions_checked, 4);
    assert_eq!(report.accounts_checked, 2);
    // Genesis slot 1 (overwritten at height 1) plus slots 2..=4.
    assert_eq!(report.slots_checked, 4);
    assert_eq!(report.head.unwrap().height, 4);
}

#[test]
fn empty_store_verifies_trivially() {
    let dir = tempfile::tempdir().unwrap();
    let report = open(dir.path()).verify_chain(&mut |_| {}).unwrap();
    assert!(report.is_ok());
    assert_eq!(report.blocks_checked, 0);
}

#[test]
fn tampered_block_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = build_chain(dir.path());
    // A well-formed block with a different header: decodes, but no longer
    // matches the hash index (and breaks block 3's parent link).
    let mut block = store.block_by_height(2).unwrap().unwrap();
    block.header.gas_limit += 1;
    drop(store);
    tamper(dir.path(), CF_BLOCKS, &height_key(2), &block.encode_canonical());
    let report = verify(dir.path());
    match report.failure {
        Some(VerifyFailure::Block { height: 2, reason }) => {
            assert!(reason.contains("index"), "{reason}")
        }
        other => panic!("expected block 2 to fail, got {other:?}"),
    }
    assert_eq!(report.blocks_checked, 2);
}

#[test]
fn garbage_block_bytes_are_a_failure_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    drop(build_chain(dir.path()));
    tamper(dir.path(), CF_BLOCKS, &height_key(3), b"\xff\x00garbage");
    let report = verify(dir.path());
    assert!(matches!(report.failure, Some(VerifyFailure::Block { height: 3, .. })), "{report:?}");
    let store = open(dir.path());
    assert!(matches!(
        store.block_by_height(3),
        Err(crate::StoreError::Corrupt { cf: "blocks", .. })
    ));
}

#[test]
fn tampered_receipts_are_named() {
    let dir = tempfile::tempdir().unwrap();
    drop(build_chain(dir.path()));
    let mut receipts = receipts_for(&[transfer(1)]);
    receipts[0].success = false;
    tamper(dir.path(), CF_RECEIPTS, &height_key(1), &crate::codec::encode_receipts(&receipts));
    let report = verify(dir.path());
    assert!(matches!(report.failure, Some(VerifyFailure::Block { height: 1, .. })), "{report:?}");
}

#[test]
fn tampered_state_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    drop(build_chain(dir.path()));
    let forged = crate::encode_account(&Account::with_balance(U256::from(u64::MAX)));
    tamper(dir.path(), CF_ACCOUNTS, addr(1).as_slice(), &forged);
    let report = verify(dir.path());
    assert_eq!(report.blocks_checked, 5);
    match report.failure {
        Some(VerifyFailure::State { height: 4, reason }) => {
            assert!(reason.contains("flat state"), "{reason}")
        }
        other => panic!("expected a state failure, got {other:?}"),
    }

    let dir = tempfile::tempdir().unwrap();
    drop(build_chain(dir.path()));
    tamper(dir.path(), CF_ACCOUNTS, addr(1).as_slice(), b"short");
    let report = verify(dir.path());
    assert!(matches!(report.failure, Some(VerifyFailure::State { height: 4, .. })), "{report:?}");
}

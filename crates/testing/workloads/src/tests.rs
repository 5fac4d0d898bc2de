//! Every kind at the conflict extremes, executed by the serial executor.

use crate::*;
use alloy_primitives::{Address, U256};
use phalanx_core_types::{ReadWriteSet, RecoveredTx, WriteOp};
use phalanx_execution_evm::{execute_block, BlockOutcome};
use std::collections::{HashMap, HashSet};

const TXS: usize = 50;

/// A written location at the granularity a parallel executor tracks: a whole
/// account (balance, nonce, code, deletion) or one storage slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Loc {
    Account(Address),
    Slot(Address, U256),
}

/// The locations `rw` writes, without logs (not state) and the coinbase.
fn written(rw: &ReadWriteSet) -> HashSet<Loc> {
    rw.writes
        .iter()
        .filter_map(|w| match *w {
            WriteOp::Balance { address, .. }
            | WriteOp::Nonce { address, .. }
            | WriteOp::Code { address, .. }
            | WriteOp::Destroy { address } => Some(Loc::Account(address)),
            WriteOp::Storage { address, slot, .. } => Some(Loc::Slot(address, slot)),
            WriteOp::Log { .. } => None,
        })
        .filter(|loc| *loc != Loc::Account(PROPOSER))
        .collect()
}

fn run(spec: &WorkloadSpec) -> (Prepared, BlockOutcome) {
    let prepared = prepare(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    assert_eq!(prepared.txs.len(), spec.txs);
    assert_eq!(prepared.kinds.len(), spec.txs);
    for tx in &prepared.txs {
        assert_eq!(&RecoveredTx::recover(tx.tx.clone()).expect("signature recovers"), tx);
    }
    let outcome = execute_block(&prepared.state, &prepared.env, &prepared.txs)
        .unwrap_or_else(|e| panic!("{}: {e}", prepared.description));
    for (i, receipt) in outcome.receipts.iter().enumerate() {
        assert!(
            receipt.success,
            "{}: tx {i} ({:?}) failed",
            prepared.description, prepared.kinds[i]
        );
    }
    (prepared, outcome)
}

fn assert_disjoint(prepared: &Prepared, outcome: &BlockOutcome) {
    let mut owner: HashMap<Loc, usize> = HashMap::new();
    for (i, rw) in outcome.rw_sets.iter().enumerate() {
        for loc in written(rw) {
            if let Some(j) = owner.insert(loc, i) {
                panic!("{}: txs {j} and {i} both write {loc:?}", prepared.description);
            }
        }
    }
}

/// Whether every transaction among `txs` writes one common location.
fn share_a_location(outcome: &BlockOutcome, txs: &[usize]) -> bool {
    let mut common = written(&outcome.rw_sets[txs[0]]);
    for &i in &txs[1..] {
        let w = written(&outcome.rw_sets[i]);
        common.retain(|loc| w.contains(loc));
    }
    !common.is_empty()
}

#[test]
fn no_conflict_writes_disjoint_locations() {
    for kind in WorkloadKind::ALL {
        let (prepared, outcome) = run(&WorkloadSpec::new(kind, TXS).with_seed(11));
        assert!(prepared.hot.iter().all(|h| !h));
        assert_disjoint(&prepared, &outcome);
    }
}

#[test]
fn full_conflict_shares_a_written_location() {
    for kind in WorkloadKind::ALL {
        let (prepared, outcome) = run(&WorkloadSpec::new(kind, TXS).with_conflict(Conflict::FULL));
        assert!(prepared.hot.iter().all(|h| *h));
        // Mixed has one hot location per kind; the others have one in all.
        for single in WorkloadKind::SINGLE {
            let group: Vec<usize> = (0..TXS).filter(|&i| prepared.kinds[i] == single).collect();
            if !group.is_empty() {
                assert!(share_a_location(&outcome, &group), "{}: {single:?}", prepared.description);
            }
        }
        if kind != WorkloadKind::Mixed {
            let all: Vec<usize> = (0..TXS).collect();
            assert!(share_a_location(&outcome, &all), "{}", prepared.description);
        }
    }
}

#[test]
fn fully_dependent_is_one_nonce_chain() {
    for kind in WorkloadKind::ALL {
        let (prepared, outcome) = run(&fully_dependent(kind, TXS));
        let sender = prepared.txs[0].sender;
        for (i, tx) in prepared.txs.iter().enumerate() {
            assert_eq!(tx.sender, sender);
            assert_eq!(tx.nonce(), prepared.txs[0].nonce() + i as u64);
        }
        let all: Vec<usize> = (0..TXS).collect();
        assert!(share_a_location(&outcome, &all));
    }
}

#[test]
fn partial_hot_ratio_confines_conflicts_to_the_hot_txs() {
    for kind in [WorkloadKind::Erc20, WorkloadKind::KvStore, WorkloadKind::Uniswap] {
        let spec = WorkloadSpec::new(kind, 40).with_conflict(Conflict::HotKey { ratio: 0.25 });
        let (prepared, outcome) = run(&spec.with_seed(5));
        let hot: Vec<usize> = (0..40).filter(|&i| prepared.hot[i]).collect();
        assert_eq!(hot.len(), 10);
        assert!(share_a_location(&outcome, &hot));
        let cold = (0..40).filter(|&i| !prepared.hot[i]);
        let mut seen: HashSet<Loc> =
            hot.iter().flat_map(|&i| written(&outcome.rw_sets[i])).collect();
        for i in cold {
            for loc in written(&outcome.rw_sets[i]) {
                assert!(seen.insert(loc), "{}: cold tx {i} shares {loc:?}", prepared.description);
            }
        }
    }
}

#[test]
fn zipf_and_shared_senders_stay_valid() {
    for kind in WorkloadKind::ALL {
        run(&WorkloadSpec::new(kind, 30).with_conflict(Conflict::Zipf { s: 1.1 }).with_seed(2));
        run(&WorkloadSpec::new(kind, 30).with_accounts(7).with_seed(3));
    }
}

#[test]
fn the_seed_fixes_the_block() {
    let spec = WorkloadSpec::new(WorkloadKind::Mixed, 20).with_conflict(Conflict::Zipf { s: 1.0 });
    let hashes = |p: Prepared| p.txs.iter().map(|t| t.hash).collect::<Vec<_>>();
    let a = hashes(prepare(&spec).unwrap());
    assert_eq!(a, hashes(prepare(&spec).unwrap()));
    assert_ne!(a, hashes(prepare(&spec.with_seed(1)).unwrap()));
}

#[test]
fn invalid_specs_are_rejected() {
    let spec = WorkloadSpec::new(WorkloadKind::Transfer, 0);
    assert!(matches!(prepare(&spec), Err(WorkloadError::TxCount { txs: 0, .. })));
}

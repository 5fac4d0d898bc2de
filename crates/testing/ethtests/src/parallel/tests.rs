//! Unit tests of the parallel cross-check: selection, allowed fallbacks,
//! the tally, and that a divergence from the serial outcome is caught.

use super::*;
use crate::model::{FixtureAccount, FixtureState};
use crate::state::{BlockHashes, MemoryState};
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use phalanx_execution_evm::execute_block;

#[test]
fn stride_selection_is_deterministic_and_roughly_proportional() {
    let every = ParallelCheck::new(&[2], 1);
    let some = ParallelCheck::new(&[2], 8);
    let labels: Vec<String> = (0..4000).map(|i| format!("file{i}.json::t::d0 g0 v0")).collect();
    assert!(labels.iter().all(|l| every.selects(l)));
    let picked = labels.iter().filter(|l| some.selects(l)).count();
    assert!((300..700).contains(&picked), "picked {picked} of 4000 at stride 8");
    let again = labels.iter().filter(|l| some.selects(l)).count();
    assert_eq!(picked, again);
}

#[test]
fn only_legitimate_fallbacks_are_allowed() {
    assert!(allowed_fallback(&Fallback::CoinbaseRead { index: 0 }));
    assert!(allowed_fallback(&Fallback::BlockGasLimit { index: 1 }));
    assert!(allowed_fallback(&Fallback::ExecutionError { index: 2 }));
    assert!(allowed_fallback(&Fallback::TooFewTransactions { count: 0 }));
    assert!(!allowed_fallback(&Fallback::TooFewTransactions { count: 1 }));
    assert!(!allowed_fallback(&Fallback::Sequential { bound_percent: 100 }));
}

#[test]
fn tally_counts_paths() {
    let tally = Tally::default();
    tally.add("leader 2t: parallel".into());
    tally.add("leader 2t: parallel".into());
    assert_eq!(tally.count("leader 2t: parallel"), 2);
    assert!(tally.to_string().contains("leader 2t: parallel: 2"));
}

/// Two independent transfers from two funded senders, and a third from the
/// first sender again (so the block has a read-after-write dependency).
fn transfers() -> (MemoryState, BlockEnv, Vec<RecoveredTx>) {
    let keys = [
        PrivateKeySigner::from_bytes(&B256::repeat_byte(1)).unwrap(),
        PrivateKeySigner::from_bytes(&B256::repeat_byte(2)).unwrap(),
    ];
    let funded = FixtureAccount {
        balance: U256::from(10u128.pow(20)),
        code: Default::default(),
        nonce: U256::ZERO,
        storage: Default::default(),
    };
    let pre: FixtureState = keys.iter().map(|k| (k.address(), funded.clone())).collect();
    let state = MemoryState::from_fixture(&pre, BlockHashes::StateTestConvention).unwrap();
    let env = BlockEnv {
        height: 1,
        timestamp: 1_000,
        proposer: Address::repeat_byte(0xcc),
        gas_limit: 30_000_000,
        base_fee_per_gas: 7,
        prev_randao: B256::ZERO,
        chain_id: 1,
    };
    let transfer = |key: &PrivateKeySigner, nonce: u64, to: u8| {
        let tx = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 100,
            max_priority_fee_per_gas: 2,
            to: TxKind::Call(Address::repeat_byte(to)),
            value: U256::from(1_000),
            access_list: Default::default(),
            input: Default::default(),
        };
        let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        RecoveredTx::recover(tx.into_signed(signature).into()).unwrap()
    };
    let txs =
        vec![transfer(&keys[0], 0, 0xa1), transfer(&keys[1], 0, 0xa2), transfer(&keys[0], 1, 0xa3)];
    (state, env, txs)
}

#[test]
fn an_honest_block_passes_through_both_paths() {
    let (state, env, txs) = transfers();
    let serial = execute_block(&state, &env, &txs).unwrap();
    let check = ParallelCheck::new(&[2, 4], 1);
    check.check(&state, &env, &txs, &serial, &[0, 1, 2]).unwrap();
    for threads in [2, 4] {
        assert_eq!(check.tally().count(&format!("leader {threads}t: parallel")), 1);
        assert_eq!(check.tally().count(&format!("validator {threads}t: Followed")), 1);
    }
}

#[test]
fn a_divergence_from_the_serial_outcome_is_reported() {
    let (state, env, txs) = transfers();
    let mut serial = execute_block(&state, &env, &txs).unwrap();
    serial.gas_used += 1;
    let err =
        ParallelCheck::new(&[2], 1).check(&state, &env, &txs, &serial, &[0, 1, 2]).unwrap_err();
    assert!(err.contains("leader outcome differs from serial in gas_used"), "{err}");
    let serial = execute_block(&state, &env, &txs).unwrap();
    let err = ParallelCheck::new(&[2], 1).check(&state, &env, &txs, &serial, &[0, 1]).unwrap_err();
    assert!(err.contains("leader included [0, 1, 2]"), "{err}");
}

#[test]
fn skipped_and_unselected_cases_are_counted() {
    let check = ParallelCheck::new(&[2], 1);
    assert!(check.for_case("a.json::t", Some("slow")).is_none());
    assert!(check.for_case("a.json::t", None).is_some());
    assert_eq!(check.tally().count("not checked (skip.toml parallel_skip): slow"), 1);
}

//! Tests of admission against state, ordering, replacement, the nonce
//! window, the bounds and block upkeep, plus a proptest of the invariants.

use std::sync::Arc;

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::U256;
use proptest::prelude::*;

use super::*;
use crate::test_utils::{signer, BrokenState, Kind, MemState, Spec, CHAIN_ID};
use crate::{PoolStatus, RPC_CODE_INTERNAL};

const RICH: u64 = 1_000_000_000_000_000_000;

fn config() -> PoolConfig {
    PoolConfig::new(CHAIN_ID, 30_000_000, 0)
}

fn setup(senders: u8) -> (TxPool, MemState) {
    (TxPool::new(config()), MemState::funded(senders, U256::from(RICH)))
}

fn tx(key: u8, nonce: u64) -> RecoveredTx {
    Spec::default().nonce(nonce).recovered(&signer(key))
}

fn add(pool: &TxPool, state: &MemState, key: u8, nonce: u64) -> Result<B256, PoolError> {
    pool.add_raw(&Spec::default().nonce(nonce).raw(&signer(key)), state)
}

#[test]
fn pool_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<TxPool>();
    shareable::<Arc<TxPool>>();
}

#[test]
fn admits_and_reports() {
    let (pool, state) = setup(1);
    let hash = add(&pool, &state, 0, 0).expect("admitted");
    assert_eq!(pool.get(&hash).map(|t| t.sender), Some(signer(0).address()));
    assert_eq!(pool.status(), PoolStatus { pending: 1, queued: 0 });
    assert_eq!(pool.len(), 1);
    pool.check_invariants();
}

#[test]
fn add_runs_stateless_checks_too() {
    let (pool, state) = setup(1);
    let wrong_chain =
        Spec { chain_id: Some(CHAIN_ID + 1), ..Spec::default() }.recovered(&signer(0));
    assert!(matches!(pool.add(wrong_chain, &state), Err(PoolError::InvalidChainId { .. })));
    assert!(pool.add(tx(0, 0), &state).is_ok());
}

#[test]
fn rejects_duplicates() {
    let (pool, state) = setup(1);
    add(&pool, &state, 0, 0).unwrap();
    assert_eq!(add(&pool, &state, 0, 0).unwrap_err(), PoolError::AlreadyKnown);
}

#[test]
fn rejects_replays() {
    let (pool, mut state) = setup(1);
    state.set_nonce(signer(0).address(), 5);
    let err = add(&pool, &state, 0, 4).unwrap_err();
    assert_eq!(err, PoolError::NonceTooLow { nonce: 4, state_nonce: 5 });
    assert!(err.to_string().starts_with("nonce too low"));
    assert!(add(&pool, &state, 0, 5).is_ok());
}

#[test]
fn future_nonce_window_is_1024() {
    let (pool, mut state) = setup(1);
    state.set_nonce(signer(0).address(), 10);
    assert!(add(&pool, &state, 0, 10 + 1024).is_ok());
    let err = add(&pool, &state, 0, 10 + 1025).unwrap_err();
    assert_eq!(err, PoolError::NonceTooHigh { nonce: 1035, state_nonce: 10, window: 1024 });
    assert!(err.to_string().contains("future-nonce window"));
    assert_eq!(pool.status(), PoolStatus { pending: 0, queued: 1 });
}

#[test]
fn window_is_never_below_minimum() {
    let pool = TxPool::new(PoolConfig { nonce_window: 3, ..config() });
    assert_eq!(pool.config().nonce_window, NONCE_WINDOW_MIN);
}

#[test]
fn rejects_insufficient_funds() {
    let pool = TxPool::new(config());
    // 21,000 gas * 1 gwei + 1 wei is needed.
    let needed = U256::from(21_000u64 * 1_000_000_000 + 1);
    let state = MemState::funded(1, needed - U256::from(1));
    let err = add(&pool, &state, 0, 0).unwrap_err();
    assert!(
        matches!(err, PoolError::InsufficientFunds { overshot, .. } if overshot == U256::from(1))
    );
    assert!(err.to_string().starts_with("insufficient funds for gas * price + value"));
    assert!(add(&pool, &MemState::funded(1, needed), 0, 0).is_ok());
}

#[test]
fn zero_fee_chain_checks_only_value() {
    let pool = TxPool::new(config());
    let state = MemState::funded(1, U256::from(5));
    let spec = Spec { value: U256::from(5), ..Spec::default() }.fee(0);
    assert!(pool.add_raw(&spec.raw(&signer(0)), &state).is_ok());
    let too_much = Spec { value: U256::from(6), ..spec }.nonce(1);
    let err = pool.add_raw(&too_much.raw(&signer(0)), &state).unwrap_err();
    assert!(matches!(err, PoolError::InsufficientFunds { .. }));
}

#[test]
fn cost_above_256_bits_is_insufficient_funds() {
    let (pool, _) = setup(1);
    let state = MemState::funded(1, U256::MAX);
    let raw = Spec { value: U256::MAX, ..Spec::default() }.raw(&signer(0));
    let err = pool.add_raw(&raw, &state).unwrap_err();
    assert_eq!(err, PoolError::CostOverflow);
    assert!(err.to_string().starts_with("insufficient funds for gas * price + value"));
}

#[test]
fn unknown_sender_has_nothing() {
    let pool = TxPool::new(config());
    let err = add(&pool, &MemState::default(), 0, 0).unwrap_err();
    assert!(matches!(err, PoolError::InsufficientFunds { balance, .. } if balance.is_zero()));
}

#[test]
fn state_failure_is_reported() {
    let pool = TxPool::new(config());
    let err = pool.add_raw(&Spec::default().raw(&signer(0)), &BrokenState).unwrap_err();
    assert!(matches!(err, PoolError::State { .. }));
    assert_eq!(err.rpc_code(), RPC_CODE_INTERNAL);
}

#[test]
fn replacement_needs_ten_percent_more() {
    let (pool, state) = setup(1);
    let base = Spec::default().fee(1_000);
    let old = pool.add_raw(&base.raw(&signer(0)), &state).unwrap();
    let cheap = base.clone().fee(1_099).raw(&signer(0));
    assert_eq!(pool.add_raw(&cheap, &state).unwrap_err(), PoolError::ReplacementUnderpriced);
    // A higher fee cap alone is not enough: the tip must rise too.
    let tip_only = Spec { max_fee: 2_000, tip: 1_000, ..base.clone() }.raw(&signer(0));
    assert_eq!(pool.add_raw(&tip_only, &state).unwrap_err(), PoolError::ReplacementUnderpriced);
    let new = pool.add_raw(&base.fee(1_100).raw(&signer(0)), &state).expect("replaces");
    assert!(pool.get(&old).is_none());
    assert_eq!(pool.get(&new).map(|t| t.nonce()), Some(0));
    assert_eq!(pool.status(), PoolStatus { pending: 1, queued: 0 });
    pool.check_invariants();
}

#[test]
fn legacy_replacement_compares_gas_price() {
    let (pool, state) = setup(1);
    let base = Spec { kind: Kind::Legacy, ..Spec::default() }.fee(100);
    pool.add_raw(&base.raw(&signer(0)), &state).unwrap();
    let err = pool.add_raw(&base.clone().fee(109).raw(&signer(0)), &state).unwrap_err();
    assert_eq!(err, PoolError::ReplacementUnderpriced);
    assert!(pool.add_raw(&base.fee(110).raw(&signer(0)), &state).is_ok());
}

#[test]
fn pool_bound_rejects_new_but_allows_replacement() {
    let pool = TxPool::new(PoolConfig { pool_txs_max: 3, ..config() });
    let state = MemState::funded(4, U256::from(RICH));
    for key in 0..3 {
        add(&pool, &state, key, 0).unwrap();
    }
    assert_eq!(add(&pool, &state, 3, 0).unwrap_err(), PoolError::PoolFull);
    let bump = Spec::default().fee(2_000_000_000).raw(&signer(0));
    assert!(pool.add_raw(&bump, &state).is_ok());
    assert_eq!(pool.len(), 3);
    pool.check_invariants();
}

#[test]
fn sender_bound() {
    let pool = TxPool::new(PoolConfig { sender_txs_max: 2, ..config() });
    let state = MemState::funded(2, U256::from(RICH));
    add(&pool, &state, 0, 0).unwrap();
    add(&pool, &state, 0, 1).unwrap();
    let err = add(&pool, &state, 0, 2).unwrap_err();
    assert!(matches!(err, PoolError::AccountLimitExceeded { limit: 2, .. }));
    assert!(add(&pool, &state, 1, 0).is_ok(), "other senders are not limited");
}

#[test]
fn gap_keeps_transactions_queued_until_filled() {
    let (pool, state) = setup(1);
    add(&pool, &state, 0, 2).unwrap();
    add(&pool, &state, 0, 1).unwrap();
    assert_eq!(pool.status(), PoolStatus { pending: 0, queued: 2 });
    assert!(pool.best(10, u64::MAX).is_empty());
    assert_eq!(pool.pending_nonce(&signer(0).address(), 0), 0);
    add(&pool, &state, 0, 0).unwrap();
    assert_eq!(pool.status(), PoolStatus { pending: 3, queued: 0 });
    assert_eq!(pool.pending_nonce(&signer(0).address(), 0), 3);
    let nonces: Vec<u64> = pool.best(10, u64::MAX).iter().map(|t| t.nonce()).collect();
    assert_eq!(nonces, vec![0, 1, 2]);
    pool.check_invariants();
}

#[test]
fn best_interleaves_senders_in_arrival_order() {
    let (pool, state) = setup(3);
    for nonce in 0..3 {
        add(&pool, &state, 1, nonce).unwrap();
    }
    for nonce in 0..2 {
        add(&pool, &state, 0, nonce).unwrap();
    }
    add(&pool, &state, 2, 1).unwrap(); // Behind a gap: not executable.
    let order: Vec<(Address, u64)> =
        pool.best(100, u64::MAX).iter().map(|t| (t.sender, t.nonce())).collect();
    let (a, b) = (signer(0).address(), signer(1).address());
    assert_eq!(order, vec![(b, 0), (a, 0), (b, 1), (a, 1), (b, 2)]);
    assert_eq!(pool.best(2, u64::MAX).len(), 2);
    assert_eq!(pool.best(100, 3 * 21_000).len(), 3);
    assert_eq!(pool.len(), 6, "best removes nothing");
}

/// An admission reads state before the pool's lock: a read from before a
/// commit whose upkeep already dropped the sender's emptied queue must not
/// start a queue behind a gap nothing fills (seen on the four-validator
/// devnet: one transaction per run, the sender's last, never proposed).
#[test]
fn an_admission_racing_a_commit_stays_executable() {
    let (pool, mut state) = setup(1);
    let address = signer(0).address();
    add(&pool, &state, 0, 0).unwrap();
    let stale = state.clone();
    let first = pool.best(10, u64::MAX);
    state.set_nonce(address, 1);
    pool.on_block_committed(&first, &state);
    assert!(pool.is_empty(), "the sender's queue emptied");
    assert_eq!(pool.pending_nonce(&address, 0), 1, "a stale read's pending nonce");
    add(&pool, &stale, 0, 1).unwrap();
    let next: Vec<u64> = pool.best(10, u64::MAX).iter().map(|t| t.nonce()).collect();
    assert_eq!(next, vec![1], "executable despite the stale read");
    // The remembered nonce also refuses a stale read's replay of the
    // committed transaction.
    assert!(matches!(add(&pool, &stale, 0, 0), Err(PoolError::NonceTooLow { .. })));
}

#[test]
fn best_skips_sender_whose_next_tx_does_not_fit() {
    let (pool, state) = setup(2);
    let big = Spec { gas_limit: 100_000, ..Spec::default() };
    pool.add_raw(&big.raw(&signer(0)), &state).unwrap();
    add(&pool, &state, 0, 1).unwrap();
    add(&pool, &state, 1, 0).unwrap();
    let picked = pool.best(10, 50_000);
    assert_eq!(picked.len(), 1);
    assert_eq!(picked[0].sender, signer(1).address());
}

#[test]
fn block_commit_prunes_and_promotes() {
    let (pool, mut state) = setup(2);
    let included: Vec<RecoveredTx> = (0..2).map(|n| tx(0, n)).collect();
    for t in &included {
        pool.add(t.clone(), &state).unwrap();
    }
    add(&pool, &state, 0, 3).unwrap(); // Queued behind nonce 2.
    add(&pool, &state, 1, 0).unwrap();
    // The block also consumed nonce 2 (e.g. a transaction sent to another node).
    state.set_nonce(signer(0).address(), 3);
    pool.on_block_committed(&included, &state);
    assert!(included.iter().all(|t| pool.get(&t.hash).is_none()));
    assert_eq!(pool.status(), PoolStatus { pending: 2, queued: 0 });
    assert_eq!(pool.pending_nonce(&signer(0).address(), 3), 4);
    assert_eq!(
        add(&pool, &state, 0, 2).unwrap_err(),
        PoolError::NonceTooLow { nonce: 2, state_nonce: 3 }
    );
    pool.check_invariants();
}

#[test]
fn block_commit_with_unreadable_state_still_drops_included() {
    let (pool, state) = setup(1);
    let t = tx(0, 0);
    pool.add(t.clone(), &state).unwrap();
    add(&pool, &state, 0, 1).unwrap();
    pool.on_block_committed(std::slice::from_ref(&t), &BrokenState);
    assert!(pool.get(&t.hash).is_none());
    assert_eq!(pool.status(), PoolStatus { pending: 0, queued: 1 });
    pool.check_invariants();
}

#[test]
fn stale_transactions_go_when_state_moves_on_admission() {
    let (pool, mut state) = setup(1);
    add(&pool, &state, 0, 0).unwrap();
    add(&pool, &state, 0, 1).unwrap();
    state.set_nonce(signer(0).address(), 1);
    add(&pool, &state, 0, 2).unwrap();
    assert_eq!(pool.status(), PoolStatus { pending: 2, queued: 0 });
    assert_eq!(pool.sender_count(), 1);
    pool.check_invariants();
}

#[test]
fn remove_invalid_queues_the_rest() {
    let (pool, state) = setup(1);
    let hashes: Vec<B256> = (0..3).map(|n| add(&pool, &state, 0, n).unwrap()).collect();
    pool.remove_invalid(&hashes[1]);
    assert!(pool.get(&hashes[1]).is_none());
    assert_eq!(pool.status(), PoolStatus { pending: 1, queued: 1 });
    pool.remove_invalid(&hashes[1]); // Unknown hashes are ignored.
    pool.remove_invalid(&hashes[0]);
    pool.remove_invalid(&hashes[2]);
    assert!(pool.is_empty());
    assert_eq!(pool.sender_count(), 0, "empty queues are dropped");
    pool.check_invariants();
}

#[test]
fn add_raw_and_add_agree_on_hash() {
    let (pool, state) = setup(1);
    let t = Spec { kind: Kind::Eip2930, ..Spec::default() }.recovered(&signer(0));
    let raw = t.tx.encoded_2718();
    assert_eq!(pool.add(t.clone(), &state).unwrap(), t.hash);
    assert_eq!(pool.add_raw(&raw, &state).unwrap_err(), PoolError::AlreadyKnown);
}

/// One step of the random-operation proptest.
#[derive(Debug, Clone)]
enum Op {
    Add { key: u8, nonce: u64, fee: u128 },
    Commit { key: u8, advance: u64 },
    RemoveInvalid { pick: prop::sample::Index },
    Best { max_txs: usize, gas_max: u64 },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, 0u64..8, 1u128..4).prop_map(|(key, nonce, fee)| Op::Add { key, nonce, fee }),
        1 => (0u8..4, 0u64..4).prop_map(|(key, advance)| Op::Commit { key, advance }),
        1 => any::<prop::sample::Index>().prop_map(|pick| Op::RemoveInvalid { pick }),
        1 => (0usize..10, 0u64..300_000).prop_map(|(max_txs, gas_max)| Op::Best { max_txs, gas_max }),
    ]
}

/// Applies `op`, checking `best`'s output whenever it is asked for.
fn apply(pool: &TxPool, state: &mut MemState, hashes: &mut Vec<B256>, op: Op) {
    match op {
        Op::Add { key, nonce, fee } => {
            let raw = Spec::default().nonce(nonce).fee(fee * 1_000).raw(&signer(key));
            if let Ok(hash) = pool.add_raw(&raw, &*state) {
                hashes.push(hash);
            }
        }
        Op::Commit { key, advance } => {
            let address = signer(key).address();
            let nonce = state.accounts[&address].nonce + advance;
            state.set_nonce(address, nonce);
            let included: Vec<RecoveredTx> = pool.best(usize::MAX, u64::MAX);
            let included: Vec<RecoveredTx> =
                included.into_iter().filter(|t| t.sender == address && t.nonce() < nonce).collect();
            pool.on_block_committed(&included, &*state);
            // Every sender's queue must now start at or above its state nonce.
            assert!(pool
                .best(usize::MAX, u64::MAX)
                .iter()
                .all(|t| t.sender != address || t.nonce() >= nonce));
        }
        Op::RemoveInvalid { pick } if !hashes.is_empty() => {
            pool.remove_invalid(&hashes[pick.index(hashes.len())]);
        }
        Op::RemoveInvalid { .. } => {}
        Op::Best { max_txs, gas_max } => check_best(pool, state, max_txs, gas_max),
    }
}

/// `best` respects its limits and yields, per sender, consecutive nonces from
/// the state nonce, without duplicates.
fn check_best(pool: &TxPool, state: &MemState, max_txs: usize, gas_max: u64) {
    let picked = pool.best(max_txs, gas_max);
    assert!(picked.len() <= max_txs);
    assert!(picked.iter().map(|t| t.gas_limit()).sum::<u64>() <= gas_max);
    let mut next: std::collections::HashMap<Address, u64> = Default::default();
    for t in &picked {
        let expected = next.entry(t.sender).or_insert(state.accounts[&t.sender].nonce);
        assert_eq!(t.nonce(), *expected, "nonce order broken for {}", t.sender);
        *expected += 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_operations_keep_invariants(ops in proptest::collection::vec(arb_op(), 1..40)) {
        let pool = TxPool::new(PoolConfig { pool_txs_max: 12, sender_txs_max: 5, ..config() });
        let mut state = MemState::funded(4, U256::from(RICH));
        let mut hashes = Vec::new();
        for op in ops {
            apply(&pool, &mut state, &mut hashes, op);
            pool.check_invariants();
            let status = pool.status();
            prop_assert!(status.pending + status.queued <= 12);
        }
    }
}

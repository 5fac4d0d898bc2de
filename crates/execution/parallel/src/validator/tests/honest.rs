//! Honest schedules: the leader's schedule lets the validator reproduce
//! serial execution with every transaction executed exactly once.

use super::*;
use crate::tests::{init_code, COUNTER};
use crate::Fallback;
use alloy_primitives::U256;
use phalanx_core_types::Account;
use proptest::prelude::*;

/// Leads `txs`, then validates the block by the leader's graph at every
/// thread count; returns the graph.
fn assert_honest_everywhere(state: &MemoryState, env: &BlockEnv, txs: &[RecoveredTx]) -> Schedule {
    let (block, schedule) = lead(state, env, txs);
    let BlockSchedule::Graph(graph) = &schedule else { panic!("leader fell back: {schedule:?}") };
    for threads in THREADS {
        let out = scheduled(state, env, &block, &schedule, threads);
        assert_honest(&out, block.len());
        assert_eq!(out.stats.threads, threads.min(block.len().max(1)));
    }
    graph.clone()
}

#[test]
fn independent_blocks_get_no_edges_despite_the_fees() {
    for contract in [false, true] {
        let (state, txs) = conflict_block(24, 0, 1, contract);
        let graph = assert_honest_everywhere(&state, &env(30_000_000), &txs);
        assert_eq!(graph.edge_count(), 0, "the beneficiary's fees must not create edges");
    }
}

#[test]
fn fully_conflicting_blocks_are_chains_and_still_run_once() {
    let (state, txs) = conflict_block(16, 100, 2, true);
    let graph = assert_honest_everywhere(&state, &env(30_000_000), &txs);
    assert_eq!(graph, Schedule::chain(16));
}

/// Plain transfers to one recipient credit it lazily on the leader and on
/// the validator alike: the graph has no edge, and the validator defers
/// every credit instead of running a chain.
#[test]
fn transfers_to_one_recipient_are_independent_for_validators() {
    let (state, txs) = conflict_block(16, 100, 3, false);
    let env = env(30_000_000);
    let graph = assert_honest_everywhere(&state, &env, &txs);
    assert_eq!(graph, Schedule::independent(16));
    let (block, schedule) = lead(&state, &env, &txs);
    for threads in THREADS {
        let out = scheduled(&state, &env, &block, &schedule, threads);
        assert_eq!(out.stats.deferred_credits, 16, "{threads} threads");
    }
}

#[test]
fn every_conflict_rate_is_honest() {
    for rate in [10, 25, 50, 75, 90] {
        for contract in [false, true] {
            let (state, txs) = conflict_block(24, rate, rate, contract);
            assert_honest_everywhere(&state, &env(30_000_000), &txs);
        }
    }
}

#[test]
fn sender_chains_deployments_and_empty_accounts_are_honest() {
    let state = base(4);
    let empty = Address::repeat_byte(0xe0);
    let mut txs: Vec<_> = (0..6).map(|n| transfer(&key(1), n, key(2).address(), 7)).collect();
    txs.push(tx(&key(3), 0, TxKind::Create, 0, init_code(COUNTER), 200_000, 2));
    txs.push(transfer(&key(2), 0, empty, 0));
    txs.push(transfer(&key(4), 0, empty, 5));
    txs.push(tx(&key(3), 1, TxKind::Call(counter()), 0, Bytes::new(), 100_000, 2));
    txs.push(tx(&key(4), 1, TxKind::Call(counter()), 0, Bytes::new(), 100_000, 2));
    assert_honest_everywhere(&state, &env(30_000_000), &txs);
}

#[test]
fn a_beneficiary_destroyed_by_zero_fees_is_honest() {
    let mut state = base(3);
    state.insert_account(coinbase(), Account::with_balance(U256::ZERO));
    state.insert_storage(coinbase(), U256::from(1), U256::from(1));
    let to = |s: u8| TxKind::Call(key(s).address());
    let txs = vec![
        tx(&key(1), 0, to(2), 1, Bytes::new(), 21_000, 0),
        tx(&key(2), 0, to(3), 1, Bytes::new(), 21_000, 2),
        tx(&key(3), 0, to(1), 1, Bytes::new(), 21_000, 0),
    ];
    assert_honest_everywhere(&state, &env(30_000_000), &txs);
}

#[test]
fn small_blocks_run_serially_and_are_still_judged() {
    let (state, txs) = conflict_block(4, 100, 4, true);
    let env = env(30_000_000);
    let (block, schedule) = lead(&state, &env, &txs);
    let config = ParallelConfig { threads: 8, min_txs_parallel: 16, sequential_bound_percent: 0 };
    let out = execute_scheduled(&state, &env, &block, &schedule, &config).unwrap();
    assert_eq!(out.outcome, serial(&state, &env, &block));
    assert_eq!(out.verdict, ScheduleVerdict::Followed);
    assert_eq!(out.stats.threads, 0);
    let fallback = out.stats.fallback.and_then(|s| s.fallback);
    assert_eq!(fallback, Some(Fallback::TooFewTransactions { count: block.len() }));
    let claim = BlockSchedule::Graph(Schedule::independent(block.len()));
    let out = execute_scheduled(&state, &env, &block, &claim, &config).unwrap();
    assert_eq!(out.outcome, serial(&state, &env, &block));
    assert!(is_wrong(&out.verdict), "{:?}", out.verdict);
}

#[test]
fn the_empty_block_follows_the_empty_graph() {
    let state = base(1);
    let env = env(30_000_000);
    let schedule = BlockSchedule::Graph(Schedule::independent(0));
    let out = scheduled(&state, &env, &[], &schedule, 4);
    assert_eq!(out.verdict, ScheduleVerdict::Followed);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn leader_schedules_are_honest_at_any_conflict_rate(
        rate in 0u64..=100,
        seed in any::<u64>(),
        contract in any::<bool>(),
        n in 1u8..32,
    ) {
        let (state, txs) = conflict_block(n, rate, seed, contract);
        assert_honest_everywhere(&state, &env(30_000_000), &txs);
    }
}

/// A graph that is one chain runs serially, and so does a block of plain
/// transfers on two threads whatever its graph. Either way the graph is
/// judged.
#[test]
fn a_chain_graph_runs_serially_and_is_still_judged() {
    let state = base(2);
    let env = env(30_000_000);
    let config = ParallelConfig { threads: 2, min_txs_parallel: 1, ..ParallelConfig::default() };
    // Leads `txs`, validates the block serially by its graph with the
    // given fallback, and returns the block and its schedule.
    let judged_serially = |txs: &[RecoveredTx], expected: Fallback| {
        let (block, schedule) = lead(&state, &env, txs);
        let out = execute_scheduled(&state, &env, &block, &schedule, &config).unwrap();
        assert_eq!(out.outcome, serial(&state, &env, &block));
        assert_eq!(out.verdict, ScheduleVerdict::Followed);
        assert_eq!(out.stats.fallback.and_then(|s| s.fallback), Some(expected));
        (block, schedule)
    };
    let plain: Vec<_> = (0..40).map(|n| transfer(&key(1), n, key(2).address(), 7)).collect();
    judged_serially(&plain, Fallback::CheapTransactions { plain_percent: 100 });
    let call = |n| tx(&key(1), n, TxKind::Call(counter()), 0, Bytes::new(), 100_000, 2);
    let calls: Vec<_> = (0..40).map(call).collect();
    let (block, schedule) = judged_serially(&calls, Fallback::Sequential { bound_percent: 100 });
    // A chain that skips one needed edge is still caught.
    let BlockSchedule::Graph(graph) = &schedule else { panic!("leader published {schedule:?}") };
    let mut lists = lists(graph);
    lists[20].clear();
    let holey = BlockSchedule::Graph(Schedule::from_deps(&lists).unwrap());
    let out = execute_scheduled(&state, &env, &block, &holey, &config).unwrap();
    assert_eq!(out.outcome, serial(&state, &env, &block));
    assert!(is_wrong(&out.verdict), "{:?}", out.verdict);
}

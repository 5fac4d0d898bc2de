//! Wrong schedules: the outcome is still serial execution's, and the verdict
//! names the schedule wrong; valid but slow schedules are followed.

use super::*;
use crate::{execute_scheduled_bytes, WrongSchedule};
use phalanx_execution_evm::ExecError;
use phalanx_execution_schedule::ScheduleError;

/// A half-conflicting contract block and its leader's schedule.
fn conflicting() -> (MemoryState, BlockEnv, Vec<RecoveredTx>, Schedule) {
    let (state, txs) = conflict_block(24, 60, 7, true);
    let env = env(30_000_000);
    let (block, schedule) = lead(&state, &env, &txs);
    let BlockSchedule::Graph(graph) = schedule else { panic!("leader fell back") };
    assert!(graph.edge_count() > 0);
    (state, env, block, graph)
}

/// Whether `graph` covers the block's dependencies (the oracle for verdicts).
fn sufficient(
    state: &MemoryState,
    env: &BlockEnv,
    block: &[RecoveredTx],
    graph: &Schedule,
) -> bool {
    let sets = serial(state, env, block).rw_sets;
    check_sufficient(graph, &sets, block, env).is_ok()
}

#[test]
fn claiming_full_independence_is_caught() {
    let (state, env, block, _) = conflicting();
    let claim = BlockSchedule::Graph(Schedule::independent(block.len()));
    for threads in THREADS {
        let out = scheduled(&state, &env, &block, &claim, threads);
        let ScheduleVerdict::Wrong { first_bad_tx, reason } = out.verdict else {
            panic!("independence accepted with {threads} threads: {:?}", out.verdict)
        };
        assert!(first_bad_tx.is_some_and(|tx| tx < block.len()));
        match reason {
            // The run read stale values: its result was discarded.
            WrongSchedule::StaleRead { writer } => {
                assert!(first_bad_tx.is_some_and(|reader| writer < reader));
                assert!(out.stats.fallback.is_some());
            }
            // The run got lucky (always so on one thread, which runs in
            // block order): its result stands, no re-execution.
            WrongSchedule::Insufficient(_) => assert_eq!(out.stats.fallback, None),
            other => panic!("unexpected reason {other:?}"),
        }
        if threads == 1 {
            assert!(out.stats.fallback.is_none());
        }
    }
}

#[test]
fn dropping_random_edges_is_caught_unless_they_were_implied() {
    let (state, env, block, graph) = conflicting();
    let mut seed = 11u64;
    for round in 0..12 {
        let dropped: Vec<Vec<u32>> = lists(&graph)
            .into_iter()
            .map(|deps| {
                deps.into_iter()
                    .filter(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        !(seed >> 40).is_multiple_of(3)
                    })
                    .collect()
            })
            .collect();
        let mutated = Schedule::from_deps(&dropped).unwrap();
        let expect_wrong = !sufficient(&state, &env, &block, &mutated);
        let threads = THREADS[round % THREADS.len()];
        let out = scheduled(&state, &env, &block, &BlockSchedule::Graph(mutated), threads);
        assert_eq!(is_wrong(&out.verdict), expect_wrong, "round {round}: {:?}", out.verdict);
    }
}

#[test]
fn malformed_bytes_are_rejected_and_the_block_still_runs() {
    let (state, env, block, _) = conflicting();
    // Edges pointing forwards cannot even be built.
    let forwards = Schedule::from_deps(&[vec![1], vec![]]);
    assert_eq!(forwards, Err(ScheduleError::DepNotEarlier { tx: 0, dep: 1 }));
    let n = block.len() as u8;
    // Transaction 0 claims a dependency; a gap walks below transaction 0.
    let mut too_many = vec![1, n, 1, 0];
    too_many.resize(too_many.len() + usize::from(n) - 1, 0);
    let mut out_of_range = vec![1, n, 0, 1, 1];
    out_of_range.resize(out_of_range.len() + usize::from(n) - 2, 0);
    for bytes in [too_many, out_of_range, vec![9, n], vec![1, n, 0]] {
        let out = execute_scheduled_bytes(&state, &env, &block, &bytes, &config(4)).unwrap();
        assert_eq!(out.outcome, serial(&state, &env, &block));
        assert!(
            matches!(
                out.verdict,
                ScheduleVerdict::Wrong { reason: WrongSchedule::Undecodable(_), .. }
            ),
            "{bytes:?}: {:?}",
            out.verdict
        );
    }
}

#[test]
fn honest_bytes_round_trip() {
    let (state, env, block, graph) = conflicting();
    let bytes = BlockSchedule::Graph(graph).encode();
    let out = execute_scheduled_bytes(&state, &env, &block, &bytes, &config(4)).unwrap();
    assert_eq!(out.outcome, serial(&state, &env, &block));
    assert_honest(&out, block.len());
}

#[test]
fn a_schedule_for_another_block_size_is_wrong() {
    let (state, env, block, _) = conflicting();
    let n = block.len();
    for graph in [Schedule::chain(n + 1), Schedule::independent(n - 1)] {
        let count = graph.tx_count();
        let out = scheduled(&state, &env, &block, &BlockSchedule::Graph(graph.clone()), 4);
        let reason = WrongSchedule::TxCountMismatch { schedule: count, block: n };
        assert_eq!(out.verdict, ScheduleVerdict::Wrong { first_bad_tx: None, reason });
        assert!(out.stats.fallback.is_some());
        let bytes = BlockSchedule::Graph(graph).encode();
        let out = execute_scheduled_bytes(&state, &env, &block, &bytes, &config(4)).unwrap();
        let ScheduleVerdict::Wrong { reason: WrongSchedule::Undecodable(e), .. } = out.verdict
        else {
            panic!("{:?}", out.verdict)
        };
        assert!(matches!(e, ScheduleError::TxCountMismatch { .. }), "{e:?}");
    }
}

#[test]
fn serial_and_chain_schedules_are_valid() {
    let (state, env, block, _) = conflicting();
    for threads in THREADS {
        let out = scheduled(&state, &env, &block, &BlockSchedule::Serial, threads);
        assert_eq!(out.verdict, ScheduleVerdict::Serial);
        let chain = BlockSchedule::Graph(Schedule::chain(block.len()));
        assert_honest(&scheduled(&state, &env, &block, &chain, threads), block.len());
        // Every possible edge: valid, and as slow as a chain.
        let all: Vec<Vec<u32>> = (0..block.len() as u32).map(|i| (0..i).collect()).collect();
        let all = BlockSchedule::Graph(Schedule::from_deps(&all).unwrap());
        assert_honest(&scheduled(&state, &env, &block, &all, threads), block.len());
    }
}

#[test]
fn a_graph_over_a_beneficiary_reader_is_wrong_and_the_leader_says_serial() {
    let state = base(3);
    let env = env(30_000_000);
    let txs = vec![
        transfer(&key(1), 0, key(2).address(), 1),
        transfer(&key(2), 0, coinbase(), 1),
        transfer(&key(3), 0, key(1).address(), 1),
    ];
    let (block, schedule) = lead(&state, &env, &txs);
    assert_eq!(schedule, BlockSchedule::Serial);
    for threads in THREADS {
        let chain = BlockSchedule::Graph(Schedule::chain(3));
        let out = scheduled(&state, &env, &block, &chain, threads);
        let reason = WrongSchedule::CoinbaseRead;
        assert_eq!(out.verdict, ScheduleVerdict::Wrong { first_bad_tx: Some(1), reason });
        let out = scheduled(&state, &env, &block, &schedule, threads);
        assert_eq!(out.verdict, ScheduleVerdict::Serial);
    }
}

#[test]
fn invalid_blocks_are_rejected_like_serial_whatever_the_schedule() {
    let state = base(3);
    let env = env(30_000_000);
    let block = vec![
        transfer(&key(1), 0, key(2).address(), 1),
        transfer(&key(1), 1, key(2).address(), 1),
        transfer(&key(1), 5, key(2).address(), 1),
        transfer(&key(3), 0, key(2).address(), 1),
    ];
    let expected = execute_block(&state, &env, &block).unwrap_err();
    assert!(matches!(expected, ExecError::InvalidBlockTransaction { index: 2, .. }));
    for graph in [Schedule::chain(4), Schedule::independent(4)] {
        for threads in THREADS {
            let schedule = BlockSchedule::Graph(graph.clone());
            let got = execute_scheduled(&state, &env, &block, &schedule, &config(threads));
            assert_eq!(got.unwrap_err().to_string(), expected.to_string());
        }
    }
}

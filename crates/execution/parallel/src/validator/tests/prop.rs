//! Property: random blocks under randomly mutated schedules always give
//! serial execution's outcome, and a schedule is followed only if sufficient.

use super::*;
use crate::tests::prop::{build, op};
use alloy_primitives::U256;
use phalanx_core_types::Account;
use proptest::prelude::*;

/// How the leader's schedule is mangled.
#[derive(Debug, Clone, Copy)]
enum Mutation {
    /// Left as the leader made it.
    Honest,
    /// Each edge dropped when the matching bit of the mask is set.
    Drop(u64),
    /// Extra backward edges (valid, only slower).
    Add(u64),
    /// Claims full independence.
    Independent,
    /// The chain (valid, serial).
    Chain,
    /// Serial (no graph).
    Serial,
    /// A graph for one transaction more.
    OneMore,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => Just(Mutation::Honest),
        3 => any::<u64>().prop_map(Mutation::Drop),
        1 => any::<u64>().prop_map(Mutation::Add),
        1 => Just(Mutation::Independent),
        1 => Just(Mutation::Chain),
        1 => Just(Mutation::Serial),
        1 => Just(Mutation::OneMore),
    ]
}

fn mutate(schedule: &BlockSchedule, n: usize, mutation: Mutation) -> BlockSchedule {
    let graph = schedule.to_schedule(n);
    let mut bit = 0u32;
    let mut next_bit = |mask: u64| {
        bit = (bit + 1) % 64;
        mask >> bit & 1 == 1
    };
    let graph = match mutation {
        Mutation::Honest => return schedule.clone(),
        Mutation::Serial => return BlockSchedule::Serial,
        Mutation::Drop(mask) => {
            let lists: Vec<Vec<u32>> = lists(&graph)
                .into_iter()
                .map(|deps| deps.into_iter().filter(|_| !next_bit(mask)).collect())
                .collect();
            Schedule::from_deps(&lists).unwrap()
        }
        Mutation::Add(mask) => {
            let lists: Vec<Vec<u32>> = lists(&graph)
                .into_iter()
                .enumerate()
                .map(|(i, mut deps)| {
                    if i > 0 && next_bit(mask) {
                        deps.push((mask % i as u64) as u32);
                        deps.sort_unstable();
                        deps.dedup();
                    }
                    deps
                })
                .collect();
            Schedule::from_deps(&lists).unwrap()
        }
        Mutation::Independent => Schedule::independent(n),
        Mutation::Chain => Schedule::chain(n),
        Mutation::OneMore => Schedule::chain(n + 1),
    };
    BlockSchedule::Graph(graph)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_schedule_gives_the_serial_outcome(
        senders in 1u8..7,
        ops in any::<bool>().prop_flat_map(|c| proptest::collection::vec(op(c), 0..28)),
        coinbase_state in 0u8..3,
        tight_gas in proptest::bool::weighted(0.1),
        mutation in mutation(),
        threads_index in 0usize..4,
    ) {
        let mut state = base(senders);
        match coinbase_state {
            0 => {}
            1 => state.insert_account(coinbase(), Account::with_balance(U256::ZERO)),
            _ => state.insert_account(coinbase(), Account::with_balance(U256::from(5))),
        }
        let env = env(if tight_gas { 150_000 } else { 30_000_000 });
        let (block, schedule) = lead(&state, &env, &build(&ops, senders));
        let schedule = mutate(&schedule, block.len(), mutation);
        let threads = THREADS[threads_index];
        let out = scheduled(&state, &env, &block, &schedule, threads);
        let expected = serial(&state, &env, &block);
        match (&schedule, &out.verdict) {
            (BlockSchedule::Serial, verdict) => prop_assert_eq!(verdict, &ScheduleVerdict::Serial),
            (BlockSchedule::Graph(graph), ScheduleVerdict::Followed) => {
                let sufficient = check_sufficient(graph, &expected.rw_sets, &block, &env);
                prop_assert!(sufficient.is_ok());
                prop_assert_eq!(out.stats.executions, block.len() as u64);
                // An empty block (below every threshold) is judged serially.
                prop_assert!(out.stats.fallback.is_none() || block.is_empty());
            }
            (BlockSchedule::Graph(_), verdict) => {
                if matches!(mutation, Mutation::Honest | Mutation::Chain | Mutation::Add(_)) {
                    // A sufficient graph is only ever rejected for a
                    // beneficiary reader, which the leader never schedules.
                    prop_assert!(
                        matches!(verdict, ScheduleVerdict::Wrong {
                            reason: crate::WrongSchedule::CoinbaseRead, ..
                        }),
                        "{:?}", verdict
                    );
                    prop_assert!(!matches!(mutation, Mutation::Honest));
                }
            }
        }
    }
}

//! Fixtures and tests of the scheduled executor: honest schedules reproduce
//! serial execution without re-execution; wrong ones still do, and are caught.

mod adversarial;
mod credits;
mod honest;
mod prop;

use crate::lazy::lazy_recipients;
use crate::tests::blocks::base;
use crate::tests::{coinbase, counter, env, key, transfer, tx};
use crate::{
    execute_leader, execute_scheduled, schedule_for, ParallelConfig, ScheduleVerdict,
    ScheduledOutcome,
};
use alloy_primitives::{Address, Bytes, TxKind};
use phalanx_core_types::{ReadWriteSet, RecoveredTx};
use phalanx_execution_evm::{execute_block, BlockEnv, BlockOutcome, MemoryState};
use phalanx_execution_schedule::{BlockSchedule, Exempt, Insufficient, Schedule};

pub(crate) const THREADS: [usize; 4] = [1, 2, 4, 8];

/// A parallel configuration with `threads` workers and no size threshold.
fn config(threads: usize) -> ParallelConfig {
    ParallelConfig { threads, min_txs_parallel: 1, sequential_bound_percent: 0 }
}

/// The leader's view of `txs`: the block it publishes (its included
/// transactions) and the schedule for it.
fn lead(
    state: &MemoryState,
    env: &BlockEnv,
    txs: &[RecoveredTx],
) -> (Vec<RecoveredTx>, BlockSchedule) {
    let leader = execute_leader(state, env, txs, &config(4)).unwrap();
    let block = leader.included.iter().map(|&i| txs[i].clone()).collect();
    (block, schedule_for(&leader, txs, env))
}

/// The validator's sufficiency check of `graph` on `sets`, the sets of
/// `block` (the oracle for verdicts): the beneficiary left out and the
/// block's lazy credits commuting, as [`schedule_for`] builds graphs.
fn check_sufficient(
    graph: &Schedule,
    sets: &[ReadWriteSet],
    block: &[RecoveredTx],
    env: &BlockEnv,
) -> Result<(), Insufficient> {
    let credits = lazy_recipients(block, env.proposer);
    graph
        .check_sufficient_with(sets, &Exempt { beneficiary: Some(env.proposer), credits: &credits })
}

/// The serial executor's outcome of a valid block.
fn serial(state: &MemoryState, env: &BlockEnv, block: &[RecoveredTx]) -> BlockOutcome {
    execute_block(state, env, block).unwrap()
}

/// Runs `block` by `schedule` with `threads` workers and asserts the outcome
/// is the serial one.
fn scheduled(
    state: &MemoryState,
    env: &BlockEnv,
    block: &[RecoveredTx],
    schedule: &BlockSchedule,
    threads: usize,
) -> ScheduledOutcome {
    let out = execute_scheduled(state, env, block, schedule, &config(threads)).unwrap();
    assert_eq!(out.outcome, serial(state, env, block), "outcome with {threads} threads");
    out
}

/// Asserts an honest run: followed, every transaction executed exactly once.
fn assert_honest(out: &ScheduledOutcome, block_len: usize) {
    assert_eq!(out.verdict, ScheduleVerdict::Followed);
    assert_eq!(out.stats.executions, block_len as u64);
    assert_eq!(out.stats.fallback, None);
}

/// Whether a verdict is `Wrong`.
fn is_wrong(verdict: &ScheduleVerdict) -> bool {
    matches!(verdict, ScheduleVerdict::Wrong { .. })
}

/// A block of `n` transactions from distinct senders (keys 2..), each of
/// which conflicts with probability `rate_pct`% (derived from `seed`):
/// conflicting ones call the counter (`contract`) or pay key 1 (transfers);
/// the others pay a fresh address. Returns the base state with it.
fn conflict_block(
    n: u8,
    rate_pct: u64,
    seed: u64,
    contract: bool,
) -> (MemoryState, Vec<RecoveredTx>) {
    assert!(n <= 60, "fresh recipients must stay below the fixtures' addresses");
    let mut state_seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let txs = (0..n)
        .map(|i| {
            state_seed =
                state_seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let conflicts = (state_seed >> 33) % 100 < rate_pct;
            let sender = key(i + 2);
            match (conflicts, contract) {
                (true, true) => {
                    tx(&sender, 0, TxKind::Call(counter()), 0, Bytes::new(), 100_000, 2)
                }
                (true, false) => transfer(&sender, 0, key(1).address(), 5),
                (false, _) => transfer(&sender, 0, Address::repeat_byte(0x40 + i), 5),
            }
        })
        .collect();
    (base(n + 2), txs)
}

/// The explicit dependency lists of a graph.
fn lists(schedule: &Schedule) -> Vec<Vec<u32>> {
    schedule.iter().map(|(_, deps)| deps.to_vec()).collect()
}

#[test]
fn coinbase_is_the_fixture_beneficiary() {
    assert_eq!(env(1).proposer, coinbase());
}

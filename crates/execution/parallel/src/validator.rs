//! The validator's scheduled executor: a block runs in parallel by the
//! dependency graph its leader published (PaVM §III-E: "the validator performs
//! parallel validation ... based on the grouping information"), without
//! speculation, and a wrong graph is caught and reported.
//!
//! **Rule:** whatever the schedule, the result equals serial execution of the
//! block ([`phalanx_execution_evm::execute_block`]): a wrong schedule costs a
//! re-execution, never a wrong outcome.
//!
//! How: each transaction runs once, when every transaction it depends on has
//! finished, over multi-version memory with the beneficiary's fee deferred
//! and plain transfers to a recipient several transfers pay credited lazily
//! (both as on the leader), so it reads, per location, the write of the
//! highest finished transaction below it (plus, for an account, the credits
//! above that write). After the run:
//! 1. the value check re-reads every transaction's reads against the final
//!    multi-version state (and re-checks that each lazily credited recipient
//!    still has no code); a mismatch means the transaction ran before a
//!    writer it needed (the schedule omitted that dependency), and the block
//!    is re-executed by the optimistic executor ([`execute_block_parallel`]);
//! 2. the leader's post-pass credits the fees and the deferred value credits
//!    in block order (falling back to serial execution exactly as the leader
//!    does);
//! 3. [`Schedule::check_sufficient_with`] checks the schedule against the
//!    read/write sets (under the rules of [`schedule_for`]): a schedule that
//!    lacks a needed edge is wrong even if the run got lucky.
//!
//! **The contract a graph states.** A [`BlockSchedule::Graph`] claims that
//! the block runs with deferred fees (no transaction reads the beneficiary)
//! and covers every read-after-write dependency of the read/write sets,
//! without the beneficiary's fee read and write, and with the value credits
//! of the block's lazy credit candidates commuting ([`Exempt`]: a credit
//! waits only for its recipient's latest non-credit writer, a non-credit
//! reader of the recipient for that writer and every credit since).
//! [`schedule_for`] builds such a graph, or `Serial` when it cannot know the
//! claim holds. Both sides find the candidates the same way, from the
//! block's transactions alone; a graph built without the credit rules (it
//! chains the credits) is sufficient under them too.

mod check;
mod run;

#[cfg(test)]
mod tests;

use crate::assemble::{self, assemble, Assembled, Policy};
use crate::lazy::lazy_recipients;
use crate::{
    cheap_block, execute_block_parallel, sequential_bound, serial, Fallback, ParallelConfig,
    ParallelOutcome, ParallelStats,
};
use alloy_primitives::Address;
use phalanx_core_types::{ReadWriteSet, RecoveredTx, StateView};
use phalanx_execution_evm::{BlockEnv, BlockOutcome, ExecError};
use phalanx_execution_schedule::{
    list_schedule_makespan, BlockSchedule, Exempt, Insufficient, Schedule, ScheduleError,
    SCHEDULE_EDGES_MAX,
};
use run::ReadCheck;

/// Why a schedule is wrong: evidence against the block's proposer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrongSchedule {
    /// The schedule bytes do not decode (for this block's size).
    #[error("schedule bytes rejected: {0}")]
    Undecodable(ScheduleError),
    /// The graph covers a different number of transactions than the block.
    #[error("schedule covers {schedule} transactions, the block has {block}")]
    TxCountMismatch {
        /// Transactions in the schedule.
        schedule: usize,
        /// Transactions in the block.
        block: usize,
    },
    /// A transaction read a value that a lower transaction, which the
    /// schedule did not make it wait for, overwrote afterwards.
    #[error("read a value later overwritten by transaction {writer}, which it did not wait for")]
    StaleRead {
        /// The transaction it should have waited for.
        writer: usize,
    },
    /// The run happened to read correct values, but the schedule does not
    /// cover a read-after-write dependency.
    #[error("schedule is insufficient: {0}")]
    Insufficient(Insufficient),
    /// A transaction reads the beneficiary, which a graph schedule claims no
    /// transaction does (fees are deferred under a graph).
    #[error("a transaction reads the beneficiary under a graph schedule")]
    CoinbaseRead,
}

/// What the validator concluded about the block's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleVerdict {
    /// The block ran by the graph, and the graph is sufficient.
    Followed,
    /// The block carried no graph ([`BlockSchedule::Serial`]); it ran on the
    /// optimistic executor.
    Serial,
    /// The schedule is wrong; the outcome comes from re-execution unless the
    /// run's values were all correct (see [`ScheduledStats::fallback`]).
    Wrong {
        /// The lowest transaction shown to be mis-scheduled, when one is.
        first_bad_tx: Option<usize>,
        /// Why.
        reason: WrongSchedule,
    },
    /// The block needed serial execution for a reason that is no fault of the
    /// schedule (a state or EVM error during the run): not judged.
    Unjudged {
        /// The reason for the serial execution.
        fallback: Fallback,
    },
}

/// What the scheduled run did (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduledStats {
    /// Worker threads of the scheduled run (0 if it did not run).
    pub threads: usize,
    /// Transaction executions of the scheduled run: one per transaction.
    pub executions: u64,
    /// Transactions of the scheduled run whose value credit was deferred
    /// (lazy credits, as on the leader; see [`schedule_for`]).
    pub deferred_credits: u64,
    /// Set when the outcome comes from a re-execution of the block (the
    /// optimistic executor's or the serial executor's stats): in the honest
    /// case it is `None` and no transaction ran twice.
    pub fallback: Option<ParallelStats>,
}

/// The result of executing a block by its schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledOutcome {
    /// Equal to serial execution's outcome.
    pub outcome: BlockOutcome,
    /// What the schedule turned out to be.
    pub verdict: ScheduleVerdict,
    /// How it went.
    pub stats: ScheduledStats,
}

/// Validator path: executes the block `txs` following `schedule` (see the
/// module docs), returning serial execution's outcome whatever the schedule
/// and a verdict on the schedule. Every transaction must be valid, else
/// [`ExecError::InvalidBlockTransaction`] names the first invalid one, as
/// [`phalanx_execution_evm::execute_block`] does (the verdict is then lost:
/// the block is rejected anyway). Blocks smaller than
/// `config.min_txs_parallel`, cheap blocks (as [`Fallback::CheapTransactions`]
/// on the leader) and graphs too close to one chain run serially, and the
/// graph is judged on the serial read/write sets.
pub fn execute_scheduled<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    schedule: &BlockSchedule,
    config: &ParallelConfig,
) -> Result<ScheduledOutcome, ExecError> {
    let graph = match schedule {
        BlockSchedule::Serial => {
            return optimistic(state, env, txs, config, ScheduleVerdict::Serial, 0, 0)
        }
        BlockSchedule::Graph(graph) => graph,
    };
    if graph.tx_count() != txs.len() {
        let reason =
            WrongSchedule::TxCountMismatch { schedule: graph.tx_count(), block: txs.len() };
        let verdict = ScheduleVerdict::Wrong { first_bad_tx: None, reason };
        return optimistic(state, env, txs, config, verdict, 0, 0);
    }
    let credits = lazy_recipients(txs, env.proposer);
    let judged = Judged { graph, credits: &credits };
    if txs.len() < config.min_txs_parallel {
        // Following the graph on one thread costs more than serial execution
        // (multi-version memory, the post-pass); serial execution judges it too.
        let fallback = Fallback::TooFewTransactions { count: txs.len() };
        return serial_judged(state, env, txs, judged, fallback);
    }
    let (threads, min_percent) = (config.threads.max(1), config.sequential_bound_percent);
    if let Some(fallback) = cheap_block(txs, threads, min_percent) {
        return serial_judged(state, env, txs, judged, fallback);
    }
    if let Some(fallback) = sequential_bound(graph, threads, min_percent) {
        // Following a graph nearly one chain would run the block serially,
        // at the cost of the parallel machinery. (A leader whose optimistic
        // run beat such a chain publishes no graph instead: see
        // [`schedule_for`].)
        return serial_judged(state, env, txs, judged, fallback);
    }
    let threads = run::worker_count(threads, txs.len());
    run_graph(state, env, txs, judged, threads, config)
}

/// The graph a block is judged by, with the credit recipients its rules
/// exempt ([`lazy_recipients`] of the block, as [`schedule_for`] built it).
#[derive(Clone, Copy)]
struct Judged<'a> {
    graph: &'a Schedule,
    credits: &'a [Option<Address>],
}

impl Judged<'_> {
    /// Whether the graph covers every read-after-write dependency of
    /// `rw_sets`, without the beneficiary's fee entries and with the credits
    /// commuting (see [`schedule_for`]).
    fn judge(&self, rw_sets: &[ReadWriteSet], env: &BlockEnv) -> ScheduleVerdict {
        let exempt = Exempt { beneficiary: Some(env.proposer), credits: self.credits };
        match self.graph.check_sufficient_with(rw_sets, &exempt) {
            Ok(()) => ScheduleVerdict::Followed,
            Err(insufficient) => ScheduleVerdict::Wrong {
                first_bad_tx: match insufficient {
                    Insufficient::MissingDependency { tx, .. } => Some(tx as usize),
                    _ => None,
                },
                reason: WrongSchedule::Insufficient(insufficient),
            },
        }
    }
}

/// [`execute_scheduled`] from a block's schedule bytes: bytes that do not
/// decode for `txs.len()` transactions make the verdict
/// [`WrongSchedule::Undecodable`], and the block runs optimistically.
pub fn execute_scheduled_bytes<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    schedule_bytes: &[u8],
    config: &ParallelConfig,
) -> Result<ScheduledOutcome, ExecError> {
    match BlockSchedule::decode(schedule_bytes, txs.len()) {
        Ok(schedule) => execute_scheduled(state, env, txs, &schedule, config),
        Err(error) => {
            let reason = WrongSchedule::Undecodable(error);
            let verdict = ScheduleVerdict::Wrong { first_bad_tx: None, reason };
            optimistic(state, env, txs, config, verdict, 0, 0)
        }
    }
}

/// Leader path: the schedule to publish with a block the leader executed
/// with [`crate::execute_leader`] from `candidates` (the block is
/// `outcome.included` of them, in order) under `env`. The graph holds the
/// read-after-write edges of the final read/write sets without the
/// beneficiary's fee read and write (every transaction has them, and
/// deferred fees make them no dependency), and with plain value credits to
/// a recipient several transfers of the block pay commuting (see the module
/// docs), so independent transactions stay independent. `Serial` when the
/// leader's run fell back to serial execution (then nothing shows that no
/// transaction reads the beneficiary, which a graph claims), and when the
/// leader's optimistic run overlapped the transactions clearly more than
/// validators following the graph could (see `optimistic_beats_graph`):
/// validators then run the block on the optimistic engine as well.
pub fn schedule_for(
    outcome: &ParallelOutcome,
    candidates: &[RecoveredTx],
    env: &BlockEnv,
) -> BlockSchedule {
    let stats = &outcome.stats;
    if stats.fallback.is_some() {
        return BlockSchedule::Serial;
    }
    let block = outcome.included.iter().map(|&i| &candidates[i]);
    let graph = block_graph(block, &outcome.outcome.rw_sets, env);
    if graph.edge_count() > SCHEDULE_EDGES_MAX {
        // No validator would decode it.
        return BlockSchedule::Serial;
    }
    if optimistic_beats_graph(outcome, &graph) {
        // Without a graph, validators run the optimistic engine too.
        return BlockSchedule::Serial;
    }
    BlockSchedule::Graph(graph)
}

/// How far the leader's optimistic run must outdo a graph's bound, in
/// percent of it, before the leader publishes no graph: following a graph
/// costs less per transaction than speculating (no validation, no
/// re-execution), so a near tie goes to the graph.
const OPTIMISTIC_MARGIN_PERCENT: u128 = 115;

/// Whether the leader's optimistic run overlapped the block's transactions
/// clearly more than validators following `graph` could: the graph's
/// list-scheduled speedup on the run's threads, each transaction weighted
/// by its final run's duration, times [`OPTIMISTIC_MARGIN_PERCENT`], below
/// [`ParallelStats::overlap_percent`]. Dependent transactions whose
/// conflicting access comes late (heavy calls ending on one hot slot)
/// overlap under speculation but must run one after another by a graph.
/// Measured (`phalanx bench exec --conflict 1`): CPU-heavy calls on one hot
/// key ran at 1.5× on both engines without a graph, against 1.0× for
/// validators following the chain.
fn optimistic_beats_graph(outcome: &ParallelOutcome, graph: &Schedule) -> bool {
    if outcome.run_ns.is_empty() || graph.tx_count() == 0 {
        return false;
    }
    let weights: Vec<u64> = outcome.included.iter().map(|&i| outcome.run_ns[i].max(1)).collect();
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let threads = outcome.stats.threads.max(1);
    let makespan = u128::from(list_schedule_makespan(graph, &weights, threads).max(1));
    let graph_percent = total * 100 / makespan;
    u128::from(outcome.stats.overlap_percent) * 100 > graph_percent * OPTIMISTIC_MARGIN_PERCENT
}

/// The dependency graph of `block`'s read/write sets `rw_sets` (serial
/// execution's, in block order) under the rules validators follow: the
/// beneficiary's fee entries left out, the value credits of the block's
/// lazy credit candidates commuting. What [`schedule_for`] publishes when
/// the leader ran in parallel; its critical path bounds what any executor
/// following it can gain.
pub fn block_graph<'t>(
    block: impl IntoIterator<Item = &'t RecoveredTx>,
    rw_sets: &[ReadWriteSet],
    env: &BlockEnv,
) -> Schedule {
    let credits = lazy_recipients(block, env.proposer);
    let exempt = Exempt { beneficiary: Some(env.proposer), credits: &credits };
    Schedule::from_rw_sets_with(rw_sets, &exempt)
}

/// Runs the block by `graph` and judges it (steps 1–3 of the module docs).
fn run_graph<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    judged: Judged<'_>,
    threads: usize,
    config: &ParallelConfig,
) -> Result<ScheduledOutcome, ExecError> {
    let run = run::run(state, env, txs, judged, threads);
    let deferred_credits = run.slots.iter().filter(|slot| slot.credit().is_some()).count() as u64;
    let stats =
        ScheduledStats { threads, executions: run.executions, deferred_credits, fallback: None };
    match run.check {
        ReadCheck::Consistent => {}
        ReadCheck::Stale(stale) => {
            let reason = WrongSchedule::StaleRead { writer: stale.writer };
            let verdict = ScheduleVerdict::Wrong { first_bad_tx: Some(stale.tx), reason };
            return optimistic(state, env, txs, config, verdict, threads, run.executions);
        }
        ReadCheck::Unreadable { index } => {
            // No fault of the schedule: the base state failed a read.
            let fallback = Fallback::ExecutionError { index };
            let verdict = ScheduleVerdict::Unjudged { fallback };
            return serial_outcome(state, env, txs, fallback, verdict, stats);
        }
    }
    // Every read is what serial execution reads: the post-pass's verdicts
    // (invalid transactions, block gas) are serial execution's.
    // The graph is judged on the final sets beside the post-pass's hashing.
    let judge_sets = |sets: &[ReadWriteSet]| judged.judge(sets, env);
    let assembled = assemble::Run { slots: run.slots, mv: &run.mv };
    match assemble(state, env, txs, assembled, Policy::RejectBlock, threads, Some(&judge_sets))? {
        Assembled::Outcome { outcome, verdict, .. } => {
            let verdict = verdict.expect("the post-pass ran the judge");
            Ok(ScheduledOutcome { outcome, verdict, stats })
        }
        Assembled::Fallback(fallback) => {
            let verdict = match fallback {
                Fallback::CoinbaseRead { index } => ScheduleVerdict::Wrong {
                    first_bad_tx: Some(index),
                    reason: WrongSchedule::CoinbaseRead,
                },
                other => ScheduleVerdict::Unjudged { fallback: other },
            };
            serial_outcome(state, env, txs, fallback, verdict, stats)
        }
    }
}

/// Runs a block whose graph is (nearly) one chain serially — following it
/// would cost more than the little parallelism returns — and judges the
/// graph on the serial read/write sets. Serial execution credits fees
/// inline, so a transaction reading the beneficiary beyond its fee is not
/// caught here; that costs nothing, the outcome being serial execution's.
fn serial_judged<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    judged: Judged<'_>,
    fallback: Fallback,
) -> Result<ScheduledOutcome, ExecError> {
    let serial_stats = ParallelStats { fallback: Some(fallback), ..Default::default() };
    let run = serial(state, env, txs, Policy::RejectBlock, serial_stats)?;
    let verdict = judged.judge(&run.outcome.rw_sets, env);
    let executions = txs.len() as u64;
    let stats = ScheduledStats { executions, fallback: Some(run.stats), ..Default::default() };
    Ok(ScheduledOutcome { outcome: run.outcome, verdict, stats })
}

/// Re-executes the block with the optimistic executor (the schedule gave no
/// usable result), keeping the scheduled run's counts.
fn optimistic<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    config: &ParallelConfig,
    verdict: ScheduleVerdict,
    threads: usize,
    executions: u64,
) -> Result<ScheduledOutcome, ExecError> {
    let rerun = execute_block_parallel(state, env, txs, config)?;
    let stats =
        ScheduledStats { threads, executions, fallback: Some(rerun.stats), ..Default::default() };
    Ok(ScheduledOutcome { outcome: rerun.outcome, verdict, stats })
}

/// Re-executes the block serially, as the leader's executor does for
/// `fallback`.
fn serial_outcome<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    fallback: Fallback,
    verdict: ScheduleVerdict,
    mut stats: ScheduledStats,
) -> Result<ScheduledOutcome, ExecError> {
    let serial_stats = ParallelStats { fallback: Some(fallback), ..Default::default() };
    let rerun = serial(state, env, txs, Policy::RejectBlock, serial_stats)?;
    stats.fallback = Some(rerun.stats);
    Ok(ScheduledOutcome { outcome: rerun.outcome, verdict, stats })
}

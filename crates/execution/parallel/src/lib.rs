//! The leader's optimistic parallel block executor (Block-STM, as pevm and
//! grevm run it on revm).
//!
//! **Rule:** the result always equals executing the transactions serially in
//! block order ([`phalanx_execution_evm::execute_block`] /
//! [`BlockExecutor`](phalanx_execution_evm::BlockExecutor)): same receipts
//! (with `rw_hash`), read/write sets, state changes and roots.
//!
//! How: transactions run speculatively on worker threads over multi-version
//! memory ([`MvMemory`], viewed per transaction through [`MvView`]), each
//! with its reads recorded (PaVM §III); a [`Scheduler`] hands out execution
//! and validation tasks lowest index first; a validation re-reads a
//! transaction's reads and, if any value changed, aborts it, turns its writes
//! into ESTIMATE markers (readers wait for it) and re-executes it.
//!
//! Transactions run with the beneficiary's fee deferred, so that they do not
//! all conflict on `COINBASE`; a post-pass in block order credits the fees and
//! inserts the beneficiary's read and write exactly where the serial executor
//! records them. Plain transfers to an account without code defer their value
//! credit the same way, so transfers to one hot recipient do not serialise
//! the block (`lazy.rs`). The post-pass also applies the block gas limit. Cases the
//! parallel results cannot reproduce fall back to serial execution of the
//! whole block ([`Fallback`]), which is always correct:
//! - a transaction reads the beneficiary itself (it would have seen the
//!   earlier fees);
//! - a valid transaction's gas limit exceeds the block's remaining gas (the
//!   leader skips it serially, but later transactions saw its writes);
//! - a transaction failed with a state or EVM error (serial execution
//!   reports it in block order);
//! - a deferred value credit would overflow its recipient's balance;
//! - the block has fewer than [`ParallelConfig::min_txs_parallel`] transactions;
//! - the block is too dependent or too cheap to gain ([`Fallback::Sequential`],
//!   [`Fallback::CheapTransactions`], [`Fallback::ObservedSequential`],
//!   [`Fallback::Contention`]): the static prediction races a serial run that
//!   has already started (`head_start.rs`).
//!
//! Validators instead follow the leader's published dependency graph
//! ([`schedule_for`] builds it): [`execute_scheduled`] runs each transaction
//! once, after its dependencies, with no speculation, and reports a wrong
//! graph ([`ScheduleVerdict::Wrong`]) while still returning the serial outcome.

mod assemble;
mod engine;
mod head_start;
mod lazy;
mod mv;
mod pool;
mod scheduler;
mod validator;
mod view;

#[cfg(test)]
mod tests;

pub use mv::{credited, MvKey, MvMemory, MvRead, MvValue};
pub use scheduler::{Scheduler, Task, Version};
pub use validator::{
    block_graph, execute_scheduled, execute_scheduled_bytes, schedule_for, ScheduleVerdict,
    ScheduledOutcome, ScheduledStats, WrongSchedule,
};
pub use view::MvView;

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256};
use assemble::{assemble, Assembled, Policy};
use engine::EngineRun;
use head_start::HeadStart;
use phalanx_core_types::{RecoveredTx, StateView};
use phalanx_execution_evm::{BlockEnv, BlockOutcome, ExecError};
use phalanx_execution_schedule::{
    critical_path, list_schedule_makespan, predict, Schedule, StaticTxInfo, SELECTOR_APPROVE,
    SELECTOR_TRANSFER, SELECTOR_TRANSFER_FROM,
};

/// Blocks smaller than this run serially by default: below it, starting
/// threads, the multi-version memory and the post-pass cost more than they
/// save. Measured (`phalanx bench exec --txs N --min-txs-parallel 0`, 2
/// threads, docs/BENCHMARKS.md): OpenZeppelin ERC20 transfers break even
/// near 256 transactions (1.27x there, 0.53x at 16), plain transfers near
/// 512 (0.75x at 256); CPU-heavy calls would gain already at 8 (1.55x),
/// which a count cannot tell apart.
pub const DEFAULT_MIN_TXS_PARALLEL: usize = 256;

/// A block whose known dependencies bound the speedup on the configured
/// threads below this (percent of serial speed) runs serially: the parallel
/// machinery costs more than the little parallelism can return. Measured by
/// `phalanx bench exec` (docs/BENCHMARKS.md): a fully dependent block ran at
/// about half of serial speed through the parallel paths.
pub const SEQUENTIAL_BOUND_PERCENT: u32 = 125;

/// Blocks run on at most this many threads fall back to serial execution
/// when they are nearly all plain value transfers ([`Fallback::CheapTransactions`]).
/// Measured (`phalanx bench exec --workload transfer`, 2 threads, 2,000
/// transfers, docs/BENCHMARKS.md): the leader's engine ran blocks of plain
/// transfers at 0.58–0.85× serial speed at every conflict level, lazy
/// value credits included and with no aborts: a transfer costs about 3 µs,
/// no more than the engine's own work per transaction. ERC-20 transfers
/// (about 10 µs) break even and costlier calls gain, so the rule only looks
/// at plain transfers. More threads were not measured (2-core machine), so
/// the rule leaves them alone.
pub const CHEAP_BLOCK_THREADS_MAX: usize = 2;

/// The share of plain value transfers, in percent, from which a block
/// counts as cheap (see [`CHEAP_BLOCK_THREADS_MAX`]).
pub const CHEAP_BLOCK_PLAIN_PERCENT: usize = 90;

/// How to execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelConfig {
    /// Worker threads (at least one; more than the cores is allowed).
    pub threads: usize,
    /// Blocks with fewer transactions run serially.
    pub min_txs_parallel: usize,
    /// Blocks whose known dependencies bound the speedup on `threads`
    /// threads below this many percent of serial speed run serially
    /// ([`Fallback::Sequential`]); 0 never falls back for that reason, nor
    /// stops an optimistic run for contention ([`Fallback::Contention`]).
    pub sequential_bound_percent: u32,
}

impl Default for ParallelConfig {
    /// One worker per available core, [`DEFAULT_MIN_TXS_PARALLEL`],
    /// [`SEQUENTIAL_BOUND_PERCENT`].
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self {
            threads,
            min_txs_parallel: DEFAULT_MIN_TXS_PARALLEL,
            sequential_bound_percent: SEQUENTIAL_BOUND_PERCENT,
        }
    }
}

/// Why a block was executed serially.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Fewer transactions than `min_txs_parallel`.
    TooFewTransactions {
        /// Transactions in the block.
        count: usize,
    },
    /// Transaction `index` reads the beneficiary's account.
    CoinbaseRead {
        /// Its position in the block.
        index: usize,
    },
    /// Valid transaction `index` exceeds the block's remaining gas.
    BlockGasLimit {
        /// Its position in the block.
        index: usize,
    },
    /// Transaction `index` failed with a state or EVM error.
    ExecutionError {
        /// Its position in the block.
        index: usize,
    },
    /// Transaction `index`'s deferred value credit overflows its
    /// recipient's balance (serially, the transfer fails).
    CreditOverflow {
        /// Its position in the block.
        index: usize,
    },
    /// The dependencies known before execution (the DiPETrans-style static
    /// prediction on the leader, the published graph on a validator) bound
    /// the speedup on the configured threads below
    /// [`ParallelConfig::sequential_bound_percent`]: a long dependency chain.
    Sequential {
        /// The list-scheduled speedup bound, in percent of serial (for a
        /// critical path long enough to decide alone, the upper bound it
        /// and the thread count set).
        bound_percent: u32,
    },
    /// At least [`CHEAP_BLOCK_PLAIN_PERCENT`] percent of the block are plain
    /// value transfers (calls with value and no input) and it runs on at most
    /// [`CHEAP_BLOCK_THREADS_MAX`] threads: too little work per transaction
    /// for the parallel machinery to pay. Off when
    /// [`ParallelConfig::sequential_bound_percent`] is 0.
    CheapTransactions {
        /// The share of plain transfers, in percent.
        plain_percent: u32,
    },
    /// The optimistic run re-executed so much that the threads together did
    /// more work than serial execution (more executions than threads per
    /// started transaction, once 64 have started): the block is more
    /// dependent than anything known before execution showed. Off when
    /// [`ParallelConfig::sequential_bound_percent`] is 0.
    Contention {
        /// Executions when the run stopped.
        executions: u64,
    },
    /// The serial run that starts while the static prediction decides
    /// (`head_start.rs`) finished the block before the prediction asked for
    /// the parallel engine: a machine that gave the prediction no core.
    SerialFinishedFirst,
    /// The transactions the serial head start had run when the prediction
    /// asked for the parallel engine (`head_start.rs`) turned out too
    /// dependent for it — through conflicts the prediction cannot see, such
    /// as one hot storage slot — so the block went on serially.
    ObservedSequential {
        /// Transactions run when the prediction came.
        prefix_txs: u32,
        /// The bound their observed dependencies set on the speedup, in
        /// percent of serial.
        bound_percent: u32,
    },
}

/// What the parallel run did (for benchmarks and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParallelStats {
    /// Worker threads used (0 when the block ran serially from the start).
    pub threads: usize,
    /// Transaction executions, first runs included (parallel phase only).
    pub executions: u64,
    /// Executions beyond one per transaction.
    pub re_executions: u64,
    /// Executions abandoned on an ESTIMATE, to wait for the writer.
    pub dependency_waits: u64,
    /// Validations performed.
    pub validations: u64,
    /// Validations that failed and aborted a transaction.
    pub aborts: u64,
    /// Transactions whose final run deferred a plain transfer's value
    /// credit (lazy credits to a recipient several transfers pay).
    pub deferred_credits: u64,
    /// The optimistic run's overlap: the durations of every transaction's
    /// final run summed, over the run's wall-clock time, in percent (about
    /// the speedup it achieved over running the same transactions one after
    /// another). A timing, so not reproducible: only [`schedule_for`] uses
    /// it, as a hint. 0 when not measured, and when `sequential_bound_percent`
    /// is 0 (the parallel paths forced).
    pub overlap_percent: u32,
    /// Set when the outcome comes from serial execution.
    pub fallback: Option<Fallback>,
}

/// A transaction the leader left out of the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedTx {
    /// Its position in the input.
    pub index: usize,
    /// Its hash.
    pub hash: B256,
    /// The serial executor's reason.
    pub reason: String,
}

/// The result of a parallel execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelOutcome {
    /// Equal to the serial executor's outcome for the included transactions.
    pub outcome: BlockOutcome,
    /// Indices (into the input) of the transactions in the block, ascending;
    /// `outcome.receipts[k]` belongs to `included[k]`.
    pub included: Vec<usize>,
    /// The transactions left out, ascending (always empty for validators).
    pub rejected: Vec<RejectedTx>,
    /// How it went.
    pub stats: ParallelStats,
    /// How long each transaction's final run in the optimistic engine took,
    /// in nanoseconds, indexed like the input (empty unless the engine ran
    /// to the end with `sequential_bound_percent` above 0). A timing: a hint
    /// for [`schedule_for`] only, like [`ParallelStats::overlap_percent`].
    pub run_ns: Vec<u64>,
}

/// Leader path: executes `txs` on `state` in parallel, leaving out invalid
/// transactions exactly as a serial [`BlockExecutor`] fed them in order would.
/// `Err` only for state or EVM errors (as the serial executor).
pub fn execute_leader<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    config: &ParallelConfig,
) -> Result<ParallelOutcome, ExecError> {
    execute(state, env, txs, config, Policy::Skip)
}

/// Validator path: like [`phalanx_execution_evm::execute_block`], every
/// transaction must be valid, else
/// [`ExecError::InvalidBlockTransaction`] names the first invalid one (with
/// the serial executor's reason).
pub fn execute_block_parallel<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    config: &ParallelConfig,
) -> Result<ParallelOutcome, ExecError> {
    execute(state, env, txs, config, Policy::RejectBlock)
}

fn execute<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    config: &ParallelConfig,
    policy: Policy,
) -> Result<ParallelOutcome, ExecError> {
    if txs.len() < config.min_txs_parallel.max(1) {
        let fallback = Fallback::TooFewTransactions { count: txs.len() };
        return serial(
            state,
            env,
            txs,
            policy,
            ParallelStats { fallback: Some(fallback), ..Default::default() },
        );
    }
    let threads = config.threads.max(1);
    let bound = config.sequential_bound_percent;
    // The cheap-block look first: it needs no table, and a block of plain
    // transfers would pay more for the prediction than for its execution.
    if let Some(fallback) = cheap_block(txs, threads, bound) {
        let stats = ParallelStats { fallback: Some(fallback), ..Default::default() };
        return serial(state, env, txs, policy, stats);
    }
    // The static prediction races a serial run that has already started;
    // the engine also needs the lazy credit recipients it finds.
    let lazy = if threads > 1 && bound > 0 {
        match head_start::race(state, env, txs, policy, threads, bound) {
            HeadStart::Serial(outcome) => return outcome,
            HeadStart::Parallel(lazy) => lazy,
        }
    } else {
        lazy::lazy_recipients(txs, env.proposer)
    };
    let enabled = bound > 0;
    let run = engine::run(state, env, txs, lazy, engine::Contention::new(threads, enabled));
    let EngineRun { slots, counters, mv, halted, overlap_percent, run_ns } = run;
    let run_ns = if enabled { run_ns } else { Vec::new() };
    let credits = slots.iter().filter(|slot| slot.credit().is_some()).count();
    let mut stats = ParallelStats {
        threads,
        executions: counters.executions,
        re_executions: counters.executions.saturating_sub(txs.len() as u64),
        dependency_waits: counters.dependency_waits,
        validations: counters.validations,
        aborts: counters.aborts,
        deferred_credits: credits as u64,
        overlap_percent: if enabled { overlap_percent } else { 0 },
        fallback: None,
    };
    if halted {
        let executions = counters.executions;
        stats.fallback = Some(Fallback::Contention { executions });
        return serial(state, env, txs, policy, stats);
    }
    match assemble(state, env, txs, assemble::Run { slots, mv: &mv }, policy, threads, None)? {
        Assembled::Outcome { outcome, included, rejected, .. } => {
            Ok(ParallelOutcome { outcome, included, rejected, stats, run_ns })
        }
        Assembled::Fallback(fallback) => {
            stats.fallback = Some(fallback);
            serial(state, env, txs, policy, stats)
        }
    }
}

/// The static prediction (DiPETrans: sender, recipient, access lists, known
/// ERC-20 calls) of `txs`, with only the conflicts that are certain: a call
/// the prediction does not understand keeps just its sender's key (the full
/// prediction would chain every call to the same contract, which ran
/// CPU-heavy and key-value blocks with 62x of parallelism serially). It may
/// miss conflicts — the optimistic run then pays for them — but never
/// invents a chain. [`sequential_bound`] of it on the configured threads
/// decides [`Fallback::Sequential`].
fn certain_prediction(txs: &[RecoveredTx], lazy: &[Option<Address>]) -> Schedule {
    let infos: Vec<StaticTxInfo> =
        txs.iter().zip(lazy).map(|(tx, lazy)| certain_static_info(tx, *lazy)).collect();
    predict(&infos)
}

/// [`Fallback::CheapTransactions`] when the block is nearly all plain
/// value transfers and runs on few threads (`min_percent` 0: never).
pub(crate) fn cheap_block(
    txs: &[RecoveredTx],
    threads: usize,
    min_percent: u32,
) -> Option<Fallback> {
    if txs.is_empty() || threads > CHEAP_BLOCK_THREADS_MAX || min_percent == 0 {
        return None;
    }
    // Misjudging a payment to a contract as plain costs speed, never results.
    let plain = txs.iter().filter(|tx| lazy::plain_transfer_recipient(tx).is_some()).count();
    let plain_percent = plain * 100 / txs.len();
    (plain_percent >= CHEAP_BLOCK_PLAIN_PERCENT).then(|| Fallback::CheapTransactions {
        plain_percent: u32::try_from(plain_percent).expect("a percentage"),
    })
}

/// What static analysis reads from a transaction, reduced to the keys it
/// certainly writes: calls other than plain transfers and known ERC-20 calls
/// keep only the sender (as a creation does), and so do plain transfers
/// whose value credit the engine may defer (they conflict on their
/// recipient only if it has code or sends itself).
fn certain_static_info(tx: &RecoveredTx, lazy: Option<Address>) -> StaticTxInfo {
    let access_list = tx
        .tx
        .access_list()
        .map(|list| list.iter().map(|i| (i.address, i.storage_keys.clone())).collect())
        .unwrap_or_default();
    let mut info =
        StaticTxInfo::new(tx.sender, tx.tx.to().to().copied(), access_list, tx.tx.input());
    let known = info.input_empty
        || matches!(
            info.selector,
            Some(SELECTOR_TRANSFER | SELECTOR_TRANSFER_FROM | SELECTOR_APPROVE)
        );
    if !known || lazy.is_some() {
        info.to = None;
    }
    info
}

/// [`Fallback::Sequential`] when `graph` bounds the speedup on `threads`
/// threads below `min_percent` of serial speed.
pub(crate) fn sequential_bound(
    graph: &Schedule,
    threads: usize,
    min_percent: u32,
) -> Option<Fallback> {
    let n = graph.tx_count();
    if n == 0 || threads <= 1 || min_percent == 0 {
        return None;
    }
    // Graham's bound: greedy list scheduling of unit-time transactions
    // finishes within ⌈n / threads⌉ + the critical path, so a short critical
    // path settles the question without simulating the schedule (perf: the
    // simulation was a tenth of the leader's static pass).
    let critical = critical_path(graph) as usize;
    let graham_makespan = n.div_ceil(threads) + critical;
    if n * 100 >= min_percent as usize * graham_makespan {
        return None;
    }
    // And no schedule ends before the critical path, nor before every
    // thread is busy throughout: a long chain settles it the other way
    // (perf: the simulation built block-sized heaps for every fully
    // dependent block). The bound reported is then this upper bound.
    let lower_makespan = critical.max(n.div_ceil(threads)).max(1);
    if n * 100 < min_percent as usize * lower_makespan {
        let bound_percent = u32::try_from(n * 100 / lower_makespan).unwrap_or(u32::MAX);
        return Some(Fallback::Sequential { bound_percent });
    }
    let makespan = list_schedule_makespan(graph, &vec![1; n], threads).max(1);
    let bound_percent = u32::try_from(n * 100 / makespan as usize).unwrap_or(u32::MAX);
    (bound_percent < min_percent).then_some(Fallback::Sequential { bound_percent })
}

/// The serial executor, with the same outputs.
pub(crate) fn serial<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    policy: Policy,
    stats: ParallelStats,
) -> Result<ParallelOutcome, ExecError> {
    let run = head_start::serial_unless(state, env, txs, policy, |_, _, _| head_start::Next::Go);
    let (outcome, _) = run.expect("a serial run that is never stopped finishes");
    let mut outcome = outcome?;
    outcome.stats = stats;
    Ok(outcome)
}

//! The worker threads: Block-STM's execution and validation loop over
//! multi-version memory, with every transaction run by a [`TxRunner`] that
//! defers the beneficiary's fee, and plain transfers to accounts without
//! code deferring their value credit (`lazy.rs`).

use crate::lazy::{defer_credit, Credit};
use crate::mv::MvMemory;
use crate::pool::run_workers;
use crate::scheduler::{Scheduler, Task, Version};
use crate::view::MvView;
use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, U256};
use parking_lot::Mutex;
use phalanx_core_types::{RecoveredTx, StateView};
use phalanx_execution_evm::{BlockEnv, TxDelta, TxOutcome, TxRunner};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The latest result of one transaction.
#[derive(Debug)]
pub(crate) enum Slot {
    /// Never executed (only before the engine finishes).
    Empty,
    /// Ran to a verdict: executed or invalid.
    Done(TxOutcome),
    /// Ran to a verdict with its recipient's value credit deferred: the
    /// outcome holds no read, write or record of the recipient.
    Credited(TxOutcome, Credit),
    /// Reading state failed for a reason other than a dependency, or revm
    /// reported an internal error. The block falls back to serial execution,
    /// which reports the error in block order if it is real (so the error
    /// itself is not kept).
    Failed,
}

impl Slot {
    /// What the slot writes to multi-version memory: an executed
    /// transaction's delta; nothing for an invalid or failed one.
    pub(crate) fn delta(&self) -> &TxDelta {
        static NOTHING: TxDelta = TxDelta {
            accounts: Vec::new(),
            wiped: Vec::new(),
            slots: Vec::new(),
            code: Vec::new(),
        };
        match self {
            Slot::Done(TxOutcome::Executed(executed))
            | Slot::Credited(TxOutcome::Executed(executed), _) => &executed.delta,
            _ => &NOTHING,
        }
    }

    /// The slot of `tx`'s run that produced `outcome` over `view`, a view
    /// made with the lazy recipient `lazy`: its credit deferred if the view
    /// hid the recipient's balance, `Failed` if the run then was not the
    /// plain credit it looked like (serial execution decides). Shared by
    /// the optimistic and the scheduled engines.
    pub(crate) fn ran<S: StateView>(
        outcome: TxOutcome,
        lazy: Option<Address>,
        view: Option<&MvView<'_, S>>,
        tx: &RecoveredTx,
    ) -> Slot {
        match lazy.filter(|_| view.is_some_and(MvView::lazy_used)) {
            None => Slot::Done(outcome),
            Some(recipient) => match defer_credit(outcome, recipient, tx.tx.value()) {
                Some((outcome, credit)) => Slot::Credited(outcome, credit),
                None => Slot::Failed,
            },
        }
    }

    /// The value credit the slot writes to multi-version memory, if any.
    pub(crate) fn credit(&self) -> Option<(Address, U256)> {
        match self {
            Slot::Credited(_, credit) if !credit.amount.is_zero() => {
                Some((credit.recipient, credit.amount))
            }
            _ => None,
        }
    }
}

/// Counters of one run, summed over workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub executions: u64,
    pub dependency_waits: u64,
    pub validations: u64,
    pub aborts: u64,
}

impl Counters {
    fn add(&mut self, other: Counters) {
        self.executions += other.executions;
        self.dependency_waits += other.dependency_waits;
        self.validations += other.validations;
        self.aborts += other.aborts;
    }
}

/// Transactions that must have started before the contention check may
/// stop a run: enough that a few early conflicts do not decide, few enough
/// (3% of a 2,000-transaction block) that a hopeless run wastes little.
const CONTENTION_WINDOW_TXS: usize = 64;

/// Transactions that must have started before the contention check may stop
/// a run early, on evidence of conflicts (see [`Contention::hopeless`]).
/// Measured (`phalanx bench exec --workload kvstore --conflict 1`): the
/// 64-transaction window cost cheap writes to one hot key about 0.45 ms of a
/// 8 ms block before the serial run started.
const CONTENTION_EARLY_WINDOW_TXS: usize = 16;

/// A run's overlap (see [`Progress::overlap_percent`]) below which it is not
/// beating serial execution: the durations summed are the transactions'
/// useful runs, each already dearer than serially (multi-version reads), so
/// at 100% the threads together have done no more useful work than one
/// thread would have done serially in the same time.
const CONTENTION_OVERLAP_MIN_PERCENT: u128 = 100;

/// How far a run has got, for the contention check.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Progress {
    /// Executions so far (re-executions and abandoned runs included).
    pub executions: usize,
    /// Transactions started.
    pub started: usize,
    /// Conflicts seen so far: executions abandoned on a dependency plus
    /// validations that aborted a transaction.
    pub conflicts: usize,
    /// The duration of each transaction's latest run, summed, in
    /// nanoseconds: the useful work done so far, as serial execution would
    /// have done it.
    pub useful_ns: u128,
    /// Wall-clock time since the run started, in nanoseconds.
    pub elapsed_ns: u128,
}

impl Progress {
    /// The useful work over the wall-clock time, in percent: about the
    /// speedup over serial execution so far.
    pub(crate) fn overlap_percent(&self) -> u128 {
        self.useful_ns * 100 / self.elapsed_ns.max(1)
    }
}

/// When to give up on a run because of contention (see [`Contention::hopeless`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Contention {
    threads: usize,
    enabled: bool,
}

impl Contention {
    /// The check for a run on `threads` threads; `enabled: false` never stops one.
    pub(crate) fn new(threads: usize, enabled: bool) -> Self {
        Self { threads, enabled }
    }

    /// Whether a run that has got to `progress` cannot beat serial
    /// execution, once [`CONTENTION_WINDOW_TXS`] transactions have started:
    /// - more executions per transaction than threads means the threads
    ///   together do more work than one thread running the block serially.
    ///   Measured (`phalanx bench exec`): one hot Uniswap pool ran ≈ 3.75
    ///   executions per transaction on two threads at 0.90× serial;
    /// - an overlap below [`CONTENTION_OVERLAP_MIN_PERCENT`]: the threads
    ///   have not yet done more useful work than serial execution would have
    ///   in the same time. Executions alone cannot tell the cases apart:
    ///   CPU-heavy calls on one hot key ran ≈ 1.45 executions per
    ///   transaction at 1.55× serial (overlap ≈ 155%), cheap key-value
    ///   writes to one hot key ≈ 1.5–2 at 0.5–0.9× (overlap ≈ 90%).
    ///
    /// From [`CONTENTION_EARLY_WINDOW_TXS`] on, a run stops early when it
    /// both has conflicts on at least half of the transactions started and
    /// is not overlapping: evidence that the block is a chain of cheap
    /// transactions. Conflicts alone do not decide (CPU-heavy calls on one
    /// hot key conflict on every transaction and still overlap), nor does
    /// the overlap alone this early (a helper thread that wakes up late
    /// makes a conflict-free run look serial).
    ///
    /// The overlap is a timing, so two runs of one block may decide
    /// differently; either way the outcome is serial execution's.
    fn hopeless(&self, progress: Progress) -> bool {
        if !self.enabled || progress.started < CONTENTION_EARLY_WINDOW_TXS {
            return false;
        }
        let overlapping = progress.overlap_percent() >= CONTENTION_OVERLAP_MIN_PERCENT;
        if progress.started < CONTENTION_WINDOW_TXS {
            return !overlapping && progress.conflicts * 2 >= progress.started;
        }
        progress.executions > self.threads * progress.started || !overlapping
    }
}

/// Everything the workers share.
struct Shared<'a, S: StateView> {
    base: &'a S,
    txs: &'a [RecoveredTx],
    mv: MvMemory,
    scheduler: Scheduler,
    contention: Contention,
    /// Executions so far, for the contention check.
    executions: AtomicUsize,
    /// Dependency waits and aborts so far, for the contention check.
    conflicts: AtomicUsize,
    /// Set when the contention check gave up: workers stop.
    halted: AtomicBool,
    slots: Box<[Mutex<Slot>]>,
    /// Each transaction's recipient whose value credit it defers, if any.
    lazy: Vec<Option<Address>>,
    /// How long each transaction's latest run took, in nanoseconds.
    run_ns: Box<[AtomicU64]>,
    /// `run_ns` summed.
    useful_ns: AtomicU64,
    /// When the run started.
    started_at: Instant,
}

/// What an optimistic run produced.
pub(crate) struct EngineRun {
    /// Each transaction's final result (equal to what it produces, fee
    /// deferred, over the serial state before it); meaningless if `halted`.
    pub slots: Vec<Slot>,
    /// Work done.
    pub counters: Counters,
    /// The multi-version memory holding the final writes.
    pub mv: MvMemory,
    /// The contention check stopped the run: the block must run serially.
    pub halted: bool,
    /// How long each transaction's final run took, in nanoseconds.
    pub run_ns: Vec<u64>,
    /// The durations of every transaction's final run summed, over the
    /// run's wall-clock time, in percent: about the speedup the run achieved
    /// over running the same transactions one after another (0 for an empty
    /// block). Timing, so not reproducible; only ever a hint.
    pub overlap_percent: u32,
}

/// Runs `txs` optimistically on `contention.threads` workers until every
/// transaction is executed and validated, or until the contention check
/// finds the run hopeless. `lazy` holds each transaction's recipient whose
/// value credit it may defer ([`lazy_recipients`] of `txs`).
pub(crate) fn run<S: StateView>(
    base: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    lazy: Vec<Option<Address>>,
    contention: Contention,
) -> EngineRun {
    debug_assert_eq!(lazy.len(), txs.len(), "one lazy recipient slot per transaction");
    let shared = Shared {
        base,
        txs,
        mv: MvMemory::new(txs.len()),
        scheduler: Scheduler::new(txs.len()),
        contention,
        executions: AtomicUsize::new(0),
        conflicts: AtomicUsize::new(0),
        halted: AtomicBool::new(false),
        slots: txs.iter().map(|_| Mutex::new(Slot::Empty)).collect(),
        lazy,
        run_ns: txs.iter().map(|_| AtomicU64::new(0)).collect(),
        useful_ns: AtomicU64::new(0),
        started_at: Instant::now(),
    };
    let mut counters = Counters::default();
    for c in run_workers(contention.threads.max(1), |_| worker(&shared, env)) {
        counters.add(c);
    }
    let useful_ns = u128::from(shared.useful_ns.into_inner());
    let elapsed_ns = shared.started_at.elapsed().as_nanos();
    let progress = Progress { useful_ns, elapsed_ns, ..Default::default() };
    let overlap_percent = u32::try_from(progress.overlap_percent()).unwrap_or(u32::MAX);
    let slots = shared.slots.into_vec().into_iter().map(Mutex::into_inner).collect();
    let halted = shared.halted.into_inner();
    let run_ns = shared.run_ns.into_vec().into_iter().map(AtomicU64::into_inner).collect();
    EngineRun { slots, counters, mv: shared.mv, halted, overlap_percent, run_ns }
}

fn worker<'a, S: StateView>(shared: &'a Shared<'a, S>, env: &BlockEnv) -> Counters {
    let mut runner = TxRunner::new(*env).with_deferred_fee(true);
    let mut counters = Counters::default();
    let mut task = None;
    loop {
        if shared.halted.load(Ordering::Relaxed) {
            break;
        }
        task = match task {
            Some(Task::Execute(version)) => execute(shared, &mut runner, version, &mut counters),
            Some(Task::Validate(version)) => validate(shared, version, &mut counters),
            None if shared.scheduler.done() => break,
            None => {
                let next = shared.scheduler.next_task();
                if next.is_none() {
                    // Others hold the remaining work; give them the core
                    // (there may be more workers than cores).
                    std::thread::yield_now();
                }
                next
            }
        };
    }
    counters
}

/// Block-STM's `try_execute`: runs `version` (again after a dependency that
/// resolved meanwhile) and records its writes.
fn execute<'a, S: StateView>(
    shared: &'a Shared<'a, S>,
    runner: &mut TxRunner<'a, MvView<'a, S>>,
    version: Version,
    counters: &mut Counters,
) -> Option<Task> {
    let tx = version.tx;
    let lazy = shared.lazy[tx];
    loop {
        let view = MvView::new(&shared.mv, shared.base, tx).with_lazy_recipient(lazy);
        let started = Instant::now();
        let result = runner.run(view, &shared.txs[tx]);
        // The last run of a transaction is its final one.
        let took_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let previous_ns = shared.run_ns[tx].swap(took_ns, Ordering::Relaxed);
        // Replaces this transaction's earlier run in the sum (wrapping: the
        // sum of the latest runs never underflows once both updates land).
        let change_ns = took_ns.wrapping_sub(previous_ns);
        let useful_ns =
            shared.useful_ns.fetch_add(change_ns, Ordering::Relaxed).wrapping_add(change_ns);
        counters.executions += 1;
        let progress = Progress {
            executions: shared.executions.fetch_add(1, Ordering::Relaxed) + 1,
            started: shared.scheduler.started(),
            conflicts: shared.conflicts.load(Ordering::Relaxed),
            useful_ns: u128::from(useful_ns),
            elapsed_ns: shared.started_at.elapsed().as_nanos(),
        };
        if shared.contention.hopeless(progress) {
            shared.halted.store(true, Ordering::Relaxed);
            return None;
        }
        let blocked = runner.view().and_then(MvView::blocked_on);
        let slot = match result {
            Err(_) if blocked.is_some() => {
                let blocking = blocked.expect("checked just above");
                if shared.scheduler.add_dependency(tx, blocking) {
                    counters.dependency_waits += 1;
                    shared.conflicts.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                continue;
            }
            Ok(outcome) => Slot::ran(outcome, lazy, runner.view(), &shared.txs[tx]),
            Err(_) => Slot::Failed,
        };
        let wrote_new_location =
            shared.mv.record(tx, version.incarnation, slot.delta(), slot.credit());
        *shared.slots[tx].lock() = slot;
        return shared.scheduler.finish_execution(version, wrote_new_location);
    }
}

/// Block-STM's `needs_reexecution`: re-reads the version's reads; on a
/// mismatch, aborts it and turns its writes into estimates.
fn validate<S: StateView>(
    shared: &Shared<'_, S>,
    version: Version,
    counters: &mut Counters,
) -> Option<Task> {
    counters.validations += 1;
    let view = MvView::new(&shared.mv, shared.base, version.tx);
    let valid = match &*shared.slots[version.tx].lock() {
        // A failing base read makes the version invalid: re-execution
        // then records the failure, which the post-pass handles.
        Slot::Done(outcome) => view.reads_still_valid(outcome.reads()).unwrap_or(false),
        Slot::Credited(outcome, credit) => {
            view.reads_still_valid(outcome.reads()).unwrap_or(false)
                && view.still_creditable(&credit.recipient).unwrap_or(false)
        }
        // The failure is not a function of the reads: serial execution decides.
        Slot::Failed => true,
        Slot::Empty => unreachable!("transaction {} validated before executing", version.tx),
    };
    let aborted = !valid && shared.scheduler.try_validation_abort(version);
    if aborted {
        counters.aborts += 1;
        shared.conflicts.fetch_add(1, Ordering::Relaxed);
        shared.mv.mark_estimates(version.tx);
    }
    shared.scheduler.finish_validation(version, aborted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lazy::lazy_recipients;
    use crate::tests::{blocks::base, env, key, transfer};
    use alloy_primitives::Address;

    #[test]
    fn contention_needs_the_window_and_more_executions_than_threads() {
        let check = Contention::new(2, true);
        // Useful work at 150% of the wall-clock time: only executions decide.
        let at = |executions, started| Progress {
            executions,
            started,
            conflicts: started,
            useful_ns: 1_500,
            elapsed_ns: 1_000,
        };
        assert!(!check.hopeless(at(1000, CONTENTION_WINDOW_TXS - 1)), "too early to judge");
        assert!(!check.hopeless(at(2 * CONTENTION_WINDOW_TXS, CONTENTION_WINDOW_TXS)));
        assert!(check.hopeless(at(2 * CONTENTION_WINDOW_TXS + 1, CONTENTION_WINDOW_TXS)));
        assert!(!Contention::new(2, false).hopeless(at(usize::MAX, CONTENTION_WINDOW_TXS)));
    }

    #[test]
    fn contention_also_stops_a_run_that_does_not_overlap() {
        let check = Contention::new(2, true);
        let at = |useful_ns| Progress {
            executions: CONTENTION_WINDOW_TXS,
            started: CONTENTION_WINDOW_TXS,
            conflicts: 0,
            useful_ns,
            elapsed_ns: 1_000,
        };
        assert!(check.hopeless(at(999)), "less useful work than serial in the time");
        assert!(!check.hopeless(at(1_000)));
        let early = Progress { started: CONTENTION_WINDOW_TXS - 1, ..at(0) };
        assert!(!check.hopeless(early), "too early to judge");
        assert!(!Contention::new(2, false).hopeless(at(0)));
    }

    #[test]
    fn conflicts_without_overlap_stop_a_run_early() {
        let check = Contention::new(2, true);
        let at = |started, conflicts, useful_ns| Progress {
            executions: started,
            started,
            conflicts,
            useful_ns,
            elapsed_ns: 1_000,
        };
        let early = CONTENTION_EARLY_WINDOW_TXS;
        assert!(check.hopeless(at(early, early / 2, 999)), "conflicts and no overlap");
        assert!(!check.hopeless(at(early - 1, early, 0)), "too early even for evidence");
        assert!(!check.hopeless(at(early, early / 2 - 1, 0)), "too few conflicts");
        assert!(!check.hopeless(at(early, early, 1_000)), "overlapping despite conflicts");
        // Without conflicts, a run that does not overlap yet (a helper that
        // woke up late) runs on to the full window.
        assert!(!check.hopeless(at(CONTENTION_WINDOW_TXS - 1, 0, 0)));
        assert!(!Contention::new(2, false).hopeless(at(early, early, 0)));
    }

    #[test]
    fn a_hopeless_run_halts_after_the_window() {
        let state = base(1);
        let txs: Vec<_> =
            (0..100).map(|n| transfer(&key(1), n, Address::repeat_byte(0x70), 1)).collect();
        // Zero threads' worth of executions allowed: the check fires as
        // soon as the window has started (one worker runs it).
        let check = Contention { threads: 0, enabled: true };
        let lazy = lazy_recipients(&txs, env(30_000_000).proposer);
        let run = run(&state, &env(30_000_000), &txs, lazy.clone(), check);
        assert!(run.halted);
        let executed = run.counters.executions as usize;
        assert!((CONTENTION_WINDOW_TXS..txs.len()).contains(&executed), "{executed}");
        // Without the check the same block runs to the end.
        let run = super::run(&state, &env(30_000_000), &txs, lazy, Contention::new(1, false));
        assert!(!run.halted);
        assert!(run.slots.iter().all(|slot| matches!(slot, Slot::Done(_) | Slot::Credited(..))));
    }
}

//! The worker threads: Block-STM's execution and validation loop over
//! multi-version memory, with every transaction run by a [`TxRunner`] that
//! defers the beneficiary's fee.

use crate::mv::MvMemory;
use crate::pool::run_workers;
use crate::scheduler::{Scheduler, Task, Version};
use crate::view::MvView;
use parking_lot::Mutex;
use phalanx_core_types::{RecoveredTx, StateView};
use phalanx_execution_evm::{BlockEnv, TxDelta, TxOutcome, TxRunner};

/// The latest result of one transaction.
#[derive(Debug)]
pub(crate) enum Slot {
    /// Never executed (only before the engine finishes).
    Empty,
    /// Ran to a verdict: executed or invalid.
    Done(TxOutcome),
    /// Reading state failed for a reason other than a dependency, or revm
    /// reported an internal error. The block falls back to serial execution,
    /// which reports the error in block order if it is real (so the error
    /// itself is not kept).
    Failed,
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

/// Everything the workers share.
struct Shared<'a, S: StateView> {
    base: &'a S,
    txs: &'a [RecoveredTx],
    mv: MvMemory,
    scheduler: Scheduler,
    slots: Box<[Mutex<Slot>]>,
}

/// Runs `txs` optimistically on `threads` workers until every transaction
/// is executed and validated; returns each transaction's final result (equal
/// to what it produces, fee deferred, over the serial state before it) and
/// the multi-version memory holding their final writes.
pub(crate) fn run<S: StateView>(
    base: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    threads: usize,
) -> (Vec<Slot>, Counters, MvMemory) {
    let shared = Shared {
        base,
        txs,
        mv: MvMemory::new(txs.len()),
        scheduler: Scheduler::new(txs.len()),
        slots: txs.iter().map(|_| Mutex::new(Slot::Empty)).collect(),
    };
    let mut counters = Counters::default();
    for c in run_workers(threads.max(1), |_| worker(&shared, env)) {
        counters.add(c);
    }
    let slots = shared.slots.into_vec().into_iter().map(Mutex::into_inner).collect();
    (slots, counters, shared.mv)
}

fn worker<'a, S: StateView>(shared: &'a Shared<'a, S>, env: &BlockEnv) -> Counters {
    let mut runner = TxRunner::new(*env).with_deferred_fee(true);
    let mut counters = Counters::default();
    let mut task = None;
    loop {
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
    loop {
        let result = runner.run(MvView::new(&shared.mv, shared.base, tx), &shared.txs[tx]);
        counters.executions += 1;
        let blocked = runner.view().and_then(MvView::blocked_on);
        let slot = match result {
            Err(_) if blocked.is_some() => {
                let blocking = blocked.expect("checked just above");
                if shared.scheduler.add_dependency(tx, blocking) {
                    counters.dependency_waits += 1;
                    return None;
                }
                continue;
            }
            Ok(outcome) => Slot::Done(outcome),
            Err(_) => Slot::Failed,
        };
        let empty = TxDelta::default();
        let delta = match &slot {
            Slot::Done(TxOutcome::Executed(executed)) => &executed.delta,
            _ => &empty,
        };
        let wrote_new_location = shared.mv.record(tx, version.incarnation, delta);
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
    let valid = match &*shared.slots[version.tx].lock() {
        Slot::Done(outcome) => {
            let view = MvView::new(&shared.mv, shared.base, version.tx);
            // A failing base read makes the version invalid: re-execution
            // then records the failure, which the post-pass handles.
            view.reads_still_valid(outcome.reads()).unwrap_or(false)
        }
        // The failure is not a function of the reads: serial execution decides.
        Slot::Failed => true,
        Slot::Empty => unreachable!("transaction {} validated before executing", version.tx),
    };
    let aborted = !valid && shared.scheduler.try_validation_abort(version);
    if aborted {
        counters.aborts += 1;
        shared.mv.mark_estimates(version.tx);
    }
    shared.scheduler.finish_validation(version, aborted)
}

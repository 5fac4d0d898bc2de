//! The scheduled engine: every transaction runs exactly once, as soon as all
//! its schedule dependencies have finished, over multi-version memory with the
//! beneficiary's fee deferred and lazy value credits (as the leader's engine
//! runs it). Nothing is speculative: no transaction is validated or
//! re-executed during the run; [`stale_read`](super::check::stale_read)
//! checks the reads afterwards.

use super::check::{stale_read, StaleRead};
use super::Judged;
use crate::engine::Slot;
use crate::mv::MvMemory;
use crate::pool::run_workers;
use crate::view::MvView;
use alloy_primitives::Address;
use parking_lot::{Condvar, Mutex};
use phalanx_core_types::{RecoveredTx, StateView};
use phalanx_execution_evm::{BlockEnv, TxRunner};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the run found when it re-read every transaction's reads at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadCheck {
    /// Every read equals the final value below its transaction: each
    /// transaction saw the serial state before it.
    Consistent,
    /// The lowest transaction that read a value a lower transaction it did not
    /// wait for overwrote afterwards.
    Stale(StaleRead),
    /// Re-reading a value from the base state failed (at the lowest such
    /// transaction): the run cannot be judged.
    Unreadable {
        /// The transaction whose read could not be re-read.
        index: usize,
    },
}

/// The result of a scheduled run.
#[derive(Debug)]
pub(crate) struct Run {
    /// Each transaction's result, fee deferred.
    pub slots: Vec<Slot>,
    /// Executions performed (one per transaction).
    pub executions: u64,
    /// Whether the reads were all consistent.
    pub check: ReadCheck,
    /// The multi-version memory the run left (every transaction's writes).
    pub mv: MvMemory,
}

/// The ready queue: transactions that became ready when their last
/// dependency finished, and the counters behind it. The longest chain of
/// dependents goes first (list scheduling by critical path: a chain left for
/// last runs alone at the end while the other threads idle), the lowest
/// index among equals. Transactions ready from the start are handed out
/// apart, in the same order, without the lock (see [`Initial`]).
#[derive(Debug)]
struct Queue {
    ready: BinaryHeap<(u32, Reverse<usize>)>,
    /// Unfinished direct dependencies of each transaction.
    pending: Vec<u32>,
    /// A worker panicked: the others stop waiting (the panic is re-raised
    /// when the scope joins it).
    abandoned: bool,
}

/// The transactions with no dependency, in the queue's priority order,
/// taken by an atomic cursor: in a block of mostly independent
/// transactions, the queue's lock (two acquisitions per transaction, its
/// cache line moving between cores) cost each worker about 6% of its run
/// (timed: 0.75 ms of 13 ms per 2,000 ERC-20 transfers on two threads).
#[derive(Debug)]
struct Initial {
    order: Vec<usize>,
    /// The next position of `order` to hand out (may run past its end).
    cursor: AtomicUsize,
}

impl Initial {
    /// The priority of the next transaction `order` would hand out.
    fn peek(&self, levels: &[u32]) -> Option<(u32, Reverse<usize>)> {
        let next = self.cursor.load(Ordering::Relaxed);
        self.order.get(next).map(|&tx| (levels[tx], Reverse(tx)))
    }

    /// The next transaction of `order`, if any is left.
    fn take(&self) -> Option<usize> {
        let next = self.cursor.fetch_add(1, Ordering::Relaxed);
        self.order.get(next).copied()
    }
}

struct Shared<'a, S: StateView> {
    base: &'a S,
    txs: &'a [RecoveredTx],
    /// Each transaction's recipient whose value credit it defers, if any.
    lazy: &'a [Option<Address>],
    dependents: Vec<Vec<u32>>,
    mv: MvMemory,
    slots: Box<[Mutex<Slot>]>,
    initial: Initial,
    /// Each transaction's priority: the longest chain of transactions
    /// depending on it, itself included.
    levels: Vec<u32>,
    /// Transactions in [`Queue::ready`], readable without the lock: a worker
    /// skips the lock while it is zero.
    queued: AtomicUsize,
    /// Transactions finished. Waiting workers read it under the queue's
    /// lock, and the transaction that finishes the block takes the lock
    /// before waking them, so no wake-up is lost.
    finished: AtomicUsize,
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// Runs `txs` by `schedule` (whose transaction count must equal `txs.len()`)
/// on `threads` workers (at least one, at most one per transaction: see
/// [`worker_count`]), then checks every transaction's reads against the
/// final multi-version state.
pub(crate) fn run<S: StateView>(
    base: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    judged: Judged<'_>,
    threads: usize,
) -> Run {
    let Judged { graph: schedule, credits: lazy } = judged;
    assert_eq!(schedule.tx_count(), txs.len(), "schedule and block sizes differ");
    let threads = worker_count(threads, txs.len());
    let pending: Vec<u32> = schedule.iter().map(|(_, deps)| deps.len() as u32).collect();
    let dependents = schedule.dependents();
    let levels = chain_levels(&dependents);
    let mut order: Vec<usize> = (0..txs.len()).filter(|&tx| pending[tx] == 0).collect();
    order.sort_unstable_by_key(|&tx| (Reverse(levels[tx]), tx));
    let shared = Shared {
        base,
        txs,
        lazy,
        dependents,
        mv: MvMemory::new(txs.len()),
        slots: txs.iter().map(|_| Mutex::new(Slot::Empty)).collect(),
        initial: Initial { order, cursor: AtomicUsize::new(0) },
        levels,
        queued: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        queue: Mutex::new(Queue { ready: BinaryHeap::new(), pending, abandoned: false }),
        wake: Condvar::new(),
    };
    let mut executions = 0;
    let mut check = ReadCheck::Consistent;
    for (count, found) in run_workers(threads, |id| worker(&shared, env, id, threads)) {
        executions += count;
        if found.is_some_and(|f| check.index().is_none_or(|lowest| f.index() < Some(lowest))) {
            check = found.expect("checked just above");
        }
    }
    let slots = shared.slots.into_vec().into_iter().map(Mutex::into_inner).collect();
    Run { slots, executions, check, mv: shared.mv }
}

/// For each transaction, the longest chain of transactions depending on it
/// (transitively), itself included, from the graph's `dependents` lists
/// (which point forwards, so one backward pass suffices).
fn chain_levels(dependents: &[Vec<u32>]) -> Vec<u32> {
    let mut levels = vec![1u32; dependents.len()];
    for tx in (0..dependents.len()).rev() {
        let longest = dependents[tx].iter().map(|&d| levels[d as usize]).max().unwrap_or(0);
        levels[tx] = 1 + longest;
    }
    levels
}

/// The workers a run of `tx_count` transactions uses when asked for `threads`.
pub(crate) fn worker_count(threads: usize, tx_count: usize) -> usize {
    threads.clamp(1, tx_count.max(1))
}

/// Wakes every waiting worker if its thread unwinds, so that a panic in one
/// worker cannot leave the others waiting forever.
struct AbandonOnPanic<'s, 'a, S: StateView>(&'s Shared<'a, S>);

impl<S: StateView> Drop for AbandonOnPanic<'_, '_, S> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.queue.lock().abandoned = true;
            self.0.wake.notify_all();
        }
    }
}

impl ReadCheck {
    /// The transaction a failed check names.
    fn index(&self) -> Option<usize> {
        match self {
            ReadCheck::Consistent => None,
            ReadCheck::Stale(stale) => Some(stale.tx),
            ReadCheck::Unreadable { index } => Some(*index),
        }
    }
}

/// Executions and the lowest failed check among the worker's share.
type WorkerResult = (u64, Option<ReadCheck>);

/// Executes ready transactions until all have finished, then checks the reads
/// of transactions `id, id + stride, ...` (all writes are final by then).
fn worker<'a, S: StateView>(
    shared: &'a Shared<'a, S>,
    env: &BlockEnv,
    id: usize,
    stride: usize,
) -> WorkerResult {
    let guard = AbandonOnPanic(shared);
    let mut runner = TxRunner::new(*env).with_deferred_fee(true);
    let mut executions = 0;
    while let Some(tx) = next_ready(shared) {
        execute(shared, &mut runner, tx);
        executions += 1;
        finish(shared, tx);
    }
    let mut failed = None;
    for tx in (id..shared.txs.len()).step_by(stride) {
        let slot = shared.slots[tx].lock();
        let (outcome, credited) = match &*slot {
            Slot::Done(outcome) => (outcome, None),
            Slot::Credited(outcome, credit) => (outcome, Some(credit.recipient)),
            _ => continue,
        };
        let found = match stale_read(&shared.mv, shared.base, tx, outcome.reads(), credited) {
            Ok(None) => continue,
            Ok(Some(stale)) => ReadCheck::Stale(stale),
            Err(_) => ReadCheck::Unreadable { index: tx },
        };
        // Transactions are visited in increasing order: the first is the lowest.
        failed = Some(found);
        break;
    }
    drop(guard);
    (executions, failed)
}

/// The ready transaction of highest priority, waiting while others run;
/// `None` once every transaction has finished.
fn next_ready<S: StateView>(shared: &Shared<'_, S>) -> Option<usize> {
    if shared.queued.load(Ordering::Acquire) > 0 {
        let mut queue = shared.queue.lock();
        let initial = shared.initial.peek(&shared.levels);
        if queue.ready.peek().is_some_and(|&top| initial.is_none_or(|first| top > first)) {
            return Some(pop(shared, &mut queue));
        }
    }
    if let Some(tx) = shared.initial.take() {
        return Some(tx);
    }
    // Every transaction ready from the start has been handed out: the rest
    // come through the queue.
    let mut queue = shared.queue.lock();
    loop {
        if !queue.ready.is_empty() {
            return Some(pop(shared, &mut queue));
        }
        if shared.finished.load(Ordering::Acquire) == shared.txs.len() || queue.abandoned {
            return None;
        }
        // Some transaction is running (the graph is acyclic, every
        // transaction ready from the start has been handed out, and every
        // other one with no pending dependency is queued); the `finish` that
        // queues a dependent or ends the block wakes us.
        shared.wake.wait(&mut queue);
    }
}

/// Runs `tx` once over the state its finished predecessors left and records
/// its writes (incarnation 0: there is no other).
fn execute<'a, S: StateView>(
    shared: &'a Shared<'a, S>,
    runner: &mut TxRunner<'a, MvView<'a, S>>,
    tx: usize,
) {
    let lazy = shared.lazy[tx];
    let view = MvView::new(&shared.mv, shared.base, tx).with_lazy_recipient(lazy);
    let slot = match runner.run(view, &shared.txs[tx]) {
        Ok(outcome) => Slot::ran(outcome, lazy, runner.view(), &shared.txs[tx]),
        // A base read or revm failed: the caller re-executes the block
        // serially, which reports the error in block order if it is real.
        Err(_) => Slot::Failed,
    };
    debug_assert!(
        runner.view().and_then(MvView::blocked_on).is_none(),
        "no estimates exist without speculation"
    );
    shared.mv.record(tx, 0, slot.delta(), slot.credit());
    *shared.slots[tx].lock() = slot;
}

/// Takes the queue's top transaction (the queue must not be empty).
fn pop<S: StateView>(shared: &Shared<'_, S>, queue: &mut Queue) -> usize {
    let (_, Reverse(tx)) = queue.ready.pop().expect("called on a non-empty queue");
    shared.queued.fetch_sub(1, Ordering::Release);
    tx
}

/// Marks `tx` finished and queues the dependents it was the last wait of.
/// A transaction nothing depends on takes the lock only if it finishes the
/// block (to wake the waiting workers).
fn finish<S: StateView>(shared: &Shared<'_, S>, tx: usize) {
    let last = shared.finished.fetch_add(1, Ordering::AcqRel) + 1 == shared.txs.len();
    if shared.dependents[tx].is_empty() && !last {
        return;
    }
    let mut queue = shared.queue.lock();
    let mut woken = 0;
    for &dependent in &shared.dependents[tx] {
        let dependent = dependent as usize;
        queue.pending[dependent] -= 1;
        if queue.pending[dependent] == 0 {
            queue.ready.push((shared.levels[dependent], Reverse(dependent)));
            shared.queued.fetch_add(1, Ordering::Release);
            woken += 1;
        }
    }
    if last {
        shared.wake.notify_all();
    } else {
        for _ in 0..woken {
            shared.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_execution_schedule::Schedule;

    #[test]
    fn initial_hands_out_each_transaction_once_in_order_then_nothing() {
        let initial = Initial { order: vec![4, 0, 2], cursor: AtomicUsize::new(0) };
        let levels = [3, 1, 1, 1, 5];
        assert_eq!(initial.peek(&levels), Some((5, Reverse(4))));
        let taken: Vec<Option<usize>> = (0..5).map(|_| initial.take()).collect();
        assert_eq!(taken, vec![Some(4), Some(0), Some(2), None, None]);
        assert_eq!(initial.peek(&levels), None, "a cursor past the end peeks nothing");
    }

    #[test]
    fn chain_levels_count_the_longest_chain_of_dependents() {
        // 0 <- 1 <- 3, 0 <- 2, 4 alone.
        let graph = Schedule::from_deps(&[vec![], vec![0], vec![0], vec![1], vec![]]).unwrap();
        assert_eq!(chain_levels(&graph.dependents()), vec![3, 2, 1, 1, 1]);
    }
}

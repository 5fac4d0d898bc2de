//! Block-STM's collaborative scheduler (Gelashvili et al., "Block-STM:
//! Scaling Blockchain Execution by Turning Ordering Curse to a Performance
//! Blessing", algorithms 4 and 5): execution and validation tasks handed out
//! lowest transaction index first, incarnations, and dependency waiting.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One execution attempt of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Index of the transaction in the block.
    pub tx: usize,
    /// How many times it was (re-)started before this attempt.
    pub incarnation: usize,
}

/// Work for a worker thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Execute this version and record its writes.
    Execute(Version),
    /// Check this version's reads against multi-version memory.
    Validate(Version),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    ReadyToExecute,
    Executing,
    Executed,
    Aborting,
}

#[derive(Debug)]
struct TxState {
    incarnation: usize,
    status: Status,
}

/// The shared scheduler of one block. Every method may be called from any
/// worker; `done` becomes true once every transaction is executed and
/// validated with no task in flight.
#[derive(Debug)]
pub struct Scheduler {
    block_size: usize,
    execution_idx: AtomicUsize,
    validation_idx: AtomicUsize,
    /// Bumped whenever an index decreases, so that `check_done` notices a
    /// decrease that raced with its reads.
    decrease_cnt: AtomicUsize,
    num_active_tasks: AtomicUsize,
    done: AtomicBool,
    states: Box<[Mutex<TxState>]>,
    /// Transactions waiting for each transaction to finish executing.
    dependencies: Box<[Mutex<Vec<usize>>]>,
}

impl Scheduler {
    /// A scheduler for `block_size` transactions, none executed yet.
    pub fn new(block_size: usize) -> Self {
        let ready = || Mutex::new(TxState { incarnation: 0, status: Status::ReadyToExecute });
        Self {
            block_size,
            execution_idx: AtomicUsize::new(0),
            validation_idx: AtomicUsize::new(0),
            decrease_cnt: AtomicUsize::new(0),
            num_active_tasks: AtomicUsize::new(0),
            done: AtomicBool::new(block_size == 0),
            states: (0..block_size).map(|_| ready()).collect(),
            dependencies: (0..block_size).map(|_| Mutex::default()).collect(),
        }
    }

    /// How many transactions have started their first execution (the
    /// execution index, capped at the block size; it may step back when a
    /// transaction is re-scheduled).
    pub fn started(&self) -> usize {
        self.execution_idx.load(Ordering::Relaxed).min(self.block_size)
    }

    /// Whether all work is finished.
    pub fn done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    fn decrease_execution_idx(&self, target: usize) {
        self.execution_idx.fetch_min(target, Ordering::SeqCst);
        self.decrease_cnt.fetch_add(1, Ordering::SeqCst);
    }

    fn decrease_validation_idx(&self, target: usize) {
        self.validation_idx.fetch_min(target, Ordering::SeqCst);
        self.decrease_cnt.fetch_add(1, Ordering::SeqCst);
    }

    fn check_done(&self) {
        let observed = self.decrease_cnt.load(Ordering::SeqCst);
        let execution = self.execution_idx.load(Ordering::SeqCst);
        let validation = self.validation_idx.load(Ordering::SeqCst);
        if execution.min(validation) >= self.block_size
            && self.num_active_tasks.load(Ordering::SeqCst) == 0
            && observed == self.decrease_cnt.load(Ordering::SeqCst)
        {
            self.done.store(true, Ordering::SeqCst);
        }
    }

    fn try_incarnate(&self, tx: usize) -> Option<Version> {
        if tx < self.block_size {
            let mut state = self.states[tx].lock();
            if state.status == Status::ReadyToExecute {
                state.status = Status::Executing;
                return Some(Version { tx, incarnation: state.incarnation });
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    fn next_version_to_execute(&self) -> Option<Version> {
        if self.execution_idx.load(Ordering::SeqCst) >= self.block_size {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, Ordering::SeqCst);
        let tx = self.execution_idx.fetch_add(1, Ordering::SeqCst);
        self.try_incarnate(tx)
    }

    fn next_version_to_validate(&self) -> Option<Version> {
        if self.validation_idx.load(Ordering::SeqCst) >= self.block_size {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, Ordering::SeqCst);
        let tx = self.validation_idx.fetch_add(1, Ordering::SeqCst);
        if tx < self.block_size {
            let state = self.states[tx].lock();
            if state.status == Status::Executed {
                return Some(Version { tx, incarnation: state.incarnation });
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// The next task, validation first when it lags behind execution (both
    /// lowest index first). `None` when there is nothing to do right now.
    pub fn next_task(&self) -> Option<Task> {
        let validation = self.validation_idx.load(Ordering::SeqCst);
        if validation < self.execution_idx.load(Ordering::SeqCst) {
            self.next_version_to_validate().map(Task::Validate)
        } else {
            self.next_version_to_execute().map(Task::Execute)
        }
    }

    /// Transaction `tx` read an ESTIMATE of `blocking`: parks `tx` until
    /// `blocking` finishes executing. Returns false if `blocking` already has
    /// (the caller then simply re-executes `tx`).
    pub fn add_dependency(&self, tx: usize, blocking: usize) -> bool {
        assert!(blocking < tx, "transaction {tx} cannot depend on later transaction {blocking}");
        let mut dependents = self.dependencies[blocking].lock();
        if self.states[blocking].lock().status == Status::Executed {
            return false;
        }
        self.states[tx].lock().status = Status::Aborting;
        dependents.push(tx);
        drop(dependents);
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        true
    }

    fn set_ready_status(&self, tx: usize) {
        let mut state = self.states[tx].lock();
        assert_eq!(state.status, Status::Aborting, "only aborted transactions restart");
        state.incarnation += 1;
        state.status = Status::ReadyToExecute;
    }

    /// Records that `version` finished executing; `wrote_new_location`
    /// says whether it wrote a location its previous incarnation did not.
    /// May hand back the validation of `version` itself.
    pub fn finish_execution(&self, version: Version, wrote_new_location: bool) -> Option<Task> {
        let tx = version.tx;
        {
            let mut state = self.states[tx].lock();
            assert_eq!(state.status, Status::Executing, "transaction {tx} was not executing");
            state.status = Status::Executed;
        }
        let dependents = std::mem::take(&mut *self.dependencies[tx].lock());
        if let Some(&lowest) = dependents.iter().min() {
            for dependent in dependents {
                self.set_ready_status(dependent);
            }
            self.decrease_execution_idx(lowest);
        }
        if self.validation_idx.load(Ordering::SeqCst) > tx {
            if wrote_new_location {
                // Transactions above may have read around the new location.
                self.decrease_validation_idx(tx);
            } else {
                return Some(Task::Validate(version));
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// Claims the abort of `version` after its validation failed; false if
    /// another worker already aborted it (or it was re-executed since).
    pub fn try_validation_abort(&self, version: Version) -> bool {
        let mut state = self.states[version.tx].lock();
        if state.incarnation == version.incarnation && state.status == Status::Executed {
            state.status = Status::Aborting;
            return true;
        }
        false
    }

    /// Records that the validation of `version` finished (`aborted` if this
    /// worker claimed its abort). May hand back its re-execution.
    pub fn finish_validation(&self, version: Version, aborted: bool) -> Option<Task> {
        let tx = version.tx;
        if aborted {
            self.set_ready_status(tx);
            self.decrease_validation_idx(tx + 1);
            if self.execution_idx.load(Ordering::SeqCst) > tx {
                return self.try_incarnate(tx).map(Task::Execute);
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(tx: usize, incarnation: usize) -> Version {
        Version { tx, incarnation }
    }

    #[test]
    fn empty_block_is_done_at_once() {
        let s = Scheduler::new(0);
        assert!(s.done());
        assert_eq!(s.next_task(), None);
    }

    #[test]
    fn serial_run_executes_then_validates_each_transaction() {
        let s = Scheduler::new(2);
        assert_eq!(s.next_task(), Some(Task::Execute(v(0, 0))));
        // Validation index (0) is not above 0: validation comes from next_task.
        assert_eq!(s.finish_execution(v(0, 0), true), None);
        assert_eq!(s.next_task(), Some(Task::Validate(v(0, 0))));
        assert_eq!(s.finish_validation(v(0, 0), false), None);
        assert_eq!(s.next_task(), Some(Task::Execute(v(1, 0))));
        assert_eq!(s.finish_execution(v(1, 0), true), None);
        assert_eq!(s.next_task(), Some(Task::Validate(v(1, 0))));
        assert_eq!(s.finish_validation(v(1, 0), false), None);
        assert!(!s.done());
        assert_eq!(s.next_task(), None);
        assert!(s.done());
    }

    #[test]
    fn aborted_validation_reexecutes_with_next_incarnation() {
        let s = Scheduler::new(1);
        assert_eq!(s.next_task(), Some(Task::Execute(v(0, 0))));
        s.finish_execution(v(0, 0), true);
        assert_eq!(s.next_task(), Some(Task::Validate(v(0, 0))));
        assert!(s.try_validation_abort(v(0, 0)));
        assert!(!s.try_validation_abort(v(0, 0)), "an abort is claimed once");
        assert_eq!(s.finish_validation(v(0, 0), true), Some(Task::Execute(v(0, 1))));
        // Same locations: the version validates itself.
        assert_eq!(s.finish_execution(v(0, 1), false), Some(Task::Validate(v(0, 1))));
        assert_eq!(s.finish_validation(v(0, 1), false), None);
        assert_eq!(s.next_task(), None);
        assert!(s.done());
    }

    #[test]
    fn dependency_parks_reader_until_writer_finishes() {
        let s = Scheduler::new(2);
        assert_eq!(s.next_task(), Some(Task::Execute(v(0, 0))));
        // Validation lags execution, but tx 0 is not executed yet: no task.
        assert_eq!(s.next_task(), None);
        assert_eq!(s.next_task(), Some(Task::Execute(v(1, 0))));
        // Tx 1 hit an estimate of tx 0, still executing.
        assert!(s.add_dependency(1, 0));
        assert_eq!(s.finish_execution(v(0, 0), true), None);
        // Tx 1 is ready again, with its next incarnation.
        assert_eq!(s.next_task(), Some(Task::Validate(v(0, 0))));
        assert_eq!(s.finish_validation(v(0, 0), false), None);
        assert_eq!(s.next_task(), Some(Task::Execute(v(1, 1))));
        // Once tx 0 is executed, a dependency on it is refused.
        assert!(!s.add_dependency(1, 0));
        assert_eq!(s.finish_execution(v(1, 1), true), None);
        assert_eq!(s.next_task(), Some(Task::Validate(v(1, 1))));
        assert_eq!(s.finish_validation(v(1, 1), false), None);
        assert_eq!(s.next_task(), None);
        assert!(s.done());
    }
}

//! Reachability in a schedule ("must `to` have finished before `from`
//! starts?") and the validator's sufficiency check.

use crate::observed::{required_edges, Exempt};
use crate::schedule::Schedule;
use phalanx_core_types::ReadWriteSet;

/// Why a schedule does not cover the read-after-write dependencies of a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Insufficient {
    /// The schedule and the read/write sets are for different block sizes.
    #[error("schedule covers {schedule} transactions, {sets} read/write sets given")]
    TxCountMismatch {
        /// Transactions in the schedule.
        schedule: usize,
        /// Read/write sets given.
        sets: usize,
    },
    /// `tx` read a location last written by `dep`, but `dep` is not a
    /// (transitive) dependency of `tx`: `tx` may have read a stale value.
    #[error("transaction {tx} reads what {dep} wrote but does not wait for it")]
    MissingDependency {
        /// The reading transaction.
        tx: u32,
        /// Its latest earlier writer.
        dep: u32,
    },
    /// Proving the dependencies would visit more than the step budget: an
    /// honest leader's schedule never needs it (see [`Schedule::check_sufficient`]).
    #[error("reachability search exceeded {steps_max} steps")]
    BudgetExceeded {
        /// The budget.
        steps_max: usize,
    },
}

/// A reusable depth-first search over a schedule's edges, restricted to
/// indices not below the target (edges point backwards, so nothing below the
/// target can lead to it).
#[derive(Debug)]
pub(crate) struct Reach {
    /// `seen[t] == stamp` marks `t` visited in the current query.
    seen: Vec<u32>,
    stamp: u32,
    stack: Vec<u32>,
    /// Steps left across all queries.
    steps_left: usize,
}

impl Reach {
    /// A search over schedules of `tx_count` transactions with `steps_max`
    /// edge visits in total.
    pub(crate) fn new(tx_count: usize, steps_max: usize) -> Self {
        Self { seen: vec![0; tx_count], stamp: 0, stack: Vec::new(), steps_left: steps_max }
    }

    /// Whether `to` is a (transitive) dependency of `from`; `None` once the
    /// step budget is spent.
    pub(crate) fn reaches(&mut self, s: &Schedule, from: u32, to: u32) -> Option<bool> {
        if to >= from {
            return Some(false);
        }
        self.stamp += 1;
        self.stack.clear();
        self.stack.push(from);
        while let Some(t) = self.stack.pop() {
            for &d in s.deps(t as usize).iter().rev().take_while(|&&d| d >= to) {
                self.steps_left = self.steps_left.checked_sub(1)?;
                if d == to {
                    return Some(true);
                }
                if self.seen[d as usize] != self.stamp {
                    self.seen[d as usize] = self.stamp;
                    self.stack.push(d);
                }
            }
        }
        Some(false)
    }
}

impl Schedule {
    /// Whether `dep` must have finished before `tx` starts (it is a transitive
    /// dependency). Linear in the part of the graph between the two.
    pub fn depends_on(&self, tx: usize, dep: usize) -> bool {
        let mut reach = Reach::new(self.tx_count(), usize::MAX);
        reach.reaches(self, tx as u32, dep as u32) == Some(true)
    }

    /// The validator's check, after running the block by this schedule:
    /// every read-after-write dependency in `sets` (the latest earlier writer
    /// of each location each transaction read) must be a transitive
    /// dependency in the schedule. If it holds, every transaction read what it
    /// would have read serially (by induction over the block order), so the
    /// parallel run equals the serial one.
    ///
    /// Bounded: direct edges are checked by binary search; others by a search
    /// sharing a budget of 16 edge visits per transaction and edge. A schedule
    /// from [`Schedule::from_rw_sets`] over the same sets only ever needs
    /// paths of length two, so it passes well within the budget.
    pub fn check_sufficient(&self, sets: &[ReadWriteSet]) -> Result<(), Insufficient> {
        self.check_sufficient_with(sets, &Exempt::NONE)
    }

    /// [`check_sufficient`](Self::check_sufficient) with the accesses
    /// `exempt` names unordered or relaxed: the validator's check under
    /// deferred fees (every transaction reads and credits the beneficiary
    /// in the post-pass, in block order, and needs no edge for it; equal to
    /// checking copies of the sets without those entries, without the
    /// copies) and lazy value credits (see [`Exempt`]).
    pub fn check_sufficient_with(
        &self,
        sets: &[ReadWriteSet],
        exempt: &Exempt<'_>,
    ) -> Result<(), Insufficient> {
        if sets.len() != self.tx_count() {
            return Err(Insufficient::TxCountMismatch {
                schedule: self.tx_count(),
                sets: sets.len(),
            });
        }
        let steps_max = 16 * (self.tx_count() + self.edge_count()) + 1024;
        let mut reach = Reach::new(self.tx_count(), steps_max);
        let mut result = Ok(());
        required_edges(sets, exempt, |tx, deps| {
            if result.is_err() {
                return;
            }
            let direct = self.deps(tx);
            for &dep in deps.iter().filter(|d| direct.binary_search(d).is_err()) {
                match reach.reaches(self, tx as u32, dep) {
                    Some(true) => {}
                    Some(false) => {
                        result = Err(Insufficient::MissingDependency { tx: tx as u32, dep });
                        return;
                    }
                    None => {
                        result = Err(Insufficient::BudgetExceeded { steps_max });
                        return;
                    }
                }
            }
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::tests::{rw, slot};

    #[test]
    fn reachability() {
        let s = Schedule::from_deps(&[vec![], vec![0], vec![1], vec![]]).unwrap();
        assert!(s.depends_on(2, 0));
        assert!(s.depends_on(2, 1));
        assert!(!s.depends_on(3, 0));
        assert!(!s.depends_on(0, 2));
        assert!(!s.depends_on(1, 1));
    }

    #[test]
    fn observed_schedule_is_sufficient_and_others_are_not() {
        let sets = vec![
            rw(&[], &[(1, 0)]),
            rw(&[slot(1, 0)], &[(1, 1)]),
            rw(&[slot(1, 0), slot(1, 1)], &[]),
            rw(&[slot(2, 0)], &[]),
        ];
        let observed = Schedule::from_rw_sets(&sets);
        assert_eq!(observed.check_sufficient(&sets), Ok(()));
        assert_eq!(Schedule::chain(4).check_sufficient(&sets), Ok(()));
        assert_eq!(
            Schedule::independent(4).check_sufficient(&sets),
            Err(Insufficient::MissingDependency { tx: 1, dep: 0 })
        );
        assert_eq!(
            observed.check_sufficient(&sets[..3]),
            Err(Insufficient::TxCountMismatch { schedule: 4, sets: 3 })
        );
    }

    #[test]
    fn budget_bounds_the_search() {
        let n = 2000;
        let s = Schedule::chain(n);
        let mut reach = Reach::new(n, 100);
        assert_eq!(reach.reaches(&s, n as u32 - 1, 0), None);
    }
}

//! How well a predicted schedule (static analysis) agrees with the observed
//! one (read/write sets): the benchmark's measure of DiPETrans-style
//! pre-grouping.
//!
//! Edges are compared up to transitivity, since either side may order two
//! transactions through a third: a predicted edge is *justified* if the
//! observed graph orders the pair too, and an observed edge is *covered* if
//! the prediction orders the pair.

use crate::groups::Groups;
use crate::reach::Reach;
use crate::schedule::Schedule;

/// Edge-level agreement between a predicted and an observed schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Agreement {
    /// Direct edges in the observed schedule.
    pub actual_edges: usize,
    /// Direct edges in the predicted schedule.
    pub predicted_edges: usize,
    /// Predicted edges the observed schedule also orders (transitively).
    pub true_positive_edges: usize,
    /// Predicted edges the observed schedule does not order: parallelism
    /// the prediction gives up for nothing.
    pub false_positive_edges: usize,
    /// Observed edges the prediction orders (transitively).
    pub covered_edges: usize,
    /// Observed edges the prediction does not order: running by the
    /// prediction alone would have read stale values there.
    pub missed_edges: usize,
    /// Edges present directly in both.
    pub exact_edges: usize,
    /// Groups (connected components) of the predicted schedule.
    pub predicted_groups: usize,
    /// Groups (connected components) of the observed schedule.
    pub actual_groups: usize,
    /// Whether both schedules split the block into exactly the same groups.
    pub same_groups: bool,
}

impl Agreement {
    /// Whether the prediction alone would have been a correct schedule (it
    /// orders every observed dependency).
    pub fn is_safe(&self) -> bool {
        self.missed_edges == 0
    }

    /// Share of predicted edges that were justified (1 when none predicted).
    pub fn precision(&self) -> f64 {
        share(self.true_positive_edges, self.predicted_edges)
    }

    /// Share of observed edges the prediction covered (1 when none observed).
    pub fn recall(&self) -> f64 {
        share(self.covered_edges, self.actual_edges)
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Counts of `from`'s edges that `to` orders, and of those present directly.
fn ordered_by(from: &Schedule, to: &Schedule) -> (usize, usize) {
    let mut reach = Reach::new(to.tx_count(), usize::MAX);
    let (mut ordered, mut exact) = (0, 0);
    for (tx, deps) in from.iter() {
        for &dep in deps {
            if to.deps(tx).binary_search(&dep).is_ok() {
                exact += 1;
                ordered += 1;
            } else if reach.reaches(to, tx as u32, dep) == Some(true) {
                ordered += 1;
            }
        }
    }
    (ordered, exact)
}

/// Compares `predicted` with `actual` (both over the same transactions).
/// Cost is up to one graph search per edge, fine for a benchmark but not
/// meant for the block path. Panics if the transaction counts differ.
pub fn agreement(predicted: &Schedule, actual: &Schedule) -> Agreement {
    assert_eq!(predicted.tx_count(), actual.tx_count(), "schedules of one block");
    let (true_positive_edges, exact_edges) = ordered_by(predicted, actual);
    let (covered_edges, _) = ordered_by(actual, predicted);
    let (pg, ag) = (Groups::from_schedule(predicted), Groups::from_schedule(actual));
    Agreement {
        actual_edges: actual.edge_count(),
        predicted_edges: predicted.edge_count(),
        true_positive_edges,
        false_positive_edges: predicted.edge_count() - true_positive_edges,
        covered_edges,
        missed_edges: actual.edge_count() - covered_edges,
        exact_edges,
        predicted_groups: pg.group_count(),
        actual_groups: ag.group_count(),
        same_groups: pg == ag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::tests::rw;
    use crate::predict::{predict, tests::transfer};
    use alloy_primitives::U256;
    use phalanx_core_types::ReadKey;

    fn sched(lists: &[&[u32]]) -> Schedule {
        Schedule::from_deps(&lists.iter().map(|l| l.to_vec()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn transitive_edges_count_as_agreement() {
        let actual = sched(&[&[], &[0], &[1]]);
        let predicted = sched(&[&[], &[0], &[0, 1]]);
        let a = agreement(&predicted, &actual);
        assert_eq!((a.true_positive_edges, a.false_positive_edges, a.exact_edges), (3, 0, 2));
        assert_eq!((a.covered_edges, a.missed_edges), (2, 0));
        assert!(a.is_safe() && a.same_groups);
        assert_eq!(a.precision(), 1.0);
    }

    #[test]
    fn false_positives_and_misses() {
        let actual = sched(&[&[], &[0], &[], &[]]);
        let predicted = sched(&[&[], &[], &[0], &[2]]);
        let a = agreement(&predicted, &actual);
        assert_eq!((a.true_positive_edges, a.false_positive_edges), (0, 2));
        assert_eq!((a.covered_edges, a.missed_edges), (0, 1));
        assert!(!a.is_safe() && !a.same_groups);
        assert_eq!((a.predicted_groups, a.actual_groups), (2, 3));
        assert_eq!(a.recall(), 0.0);
    }

    /// ERC-20 transfers: the prediction from calldata matches the graph
    /// observed from balance-slot reads and writes exactly.
    #[test]
    fn erc20_prediction_matches_observation() {
        // (sender, recipient) of transfers on token 9; balance slot of holder h is h.
        let pairs = [(1u8, 2u8), (3, 4), (2, 5), (4, 1), (6, 7)];
        let txs: Vec<_> = pairs.iter().map(|&(s, r)| transfer(s, 9, r)).collect();
        let sets: Vec<_> = pairs
            .iter()
            .map(|&(s, r)| {
                let bal = |h: u8| ReadKey::Storage(crate::predict::tests::a(9), U256::from(h));
                rw(&[bal(s), bal(r)], &[(9, u64::from(s)), (9, u64::from(r))])
            })
            .collect();
        let actual = Schedule::from_rw_sets(&sets);
        let a = agreement(&predict(&txs), &actual);
        assert!(a.is_safe(), "{a:?}");
        assert_eq!(a.false_positive_edges, 0, "{a:?}");
        assert!(a.same_groups);
    }
}

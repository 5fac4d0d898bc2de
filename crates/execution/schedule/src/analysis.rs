//! How much parallelism a schedule or a grouping allows: critical paths,
//! upper bounds on speedup, and a list-scheduling simulation, plus the
//! graph-versus-groups comparison the benchmark uses to choose a format.
//!
//! Weights are per-transaction costs (gas used, typically); without weights
//! every transaction costs one unit. Speedups are relative to running the
//! whole block serially on one core (`total weight / makespan`).

use crate::groups::Groups;
use crate::schedule::Schedule;
use phalanx_core_types::ReadWriteSet;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The core counts every analysis reports.
pub const CORE_COUNTS: [usize; 6] = [2, 4, 8, 16, 32, 64];

/// The speedup achievable on one number of cores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speedup {
    /// Number of cores.
    pub cores: usize,
    /// Upper bound: `min(cores, total / critical)`, where `critical` is the
    /// weighted critical path (graph) or the heaviest group (groups).
    pub bound: f64,
    /// Greedy list scheduling (lowest ready index first) on `cores`: a
    /// realistic figure, at most `bound`.
    pub simulated: f64,
}

/// The parallelism of a dependency graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphAnalysis {
    /// Transactions in the block.
    pub tx_count: usize,
    /// Direct dependency edges.
    pub edge_count: usize,
    /// Longest dependency chain, in transactions.
    pub critical_path_txs: u32,
    /// Heaviest dependency chain, in weight.
    pub critical_path_weight: u64,
    /// Sum of all weights.
    pub total_weight: u64,
    /// One entry per [`CORE_COUNTS`] element.
    pub speedups: Vec<Speedup>,
}

/// The parallelism of a disjoint-set grouping.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupsAnalysis {
    /// Number of groups.
    pub group_count: usize,
    /// Members of the largest group.
    pub largest_group_txs: u32,
    /// Weight of the heaviest group.
    pub heaviest_group_weight: u64,
    /// Sum of all weights.
    pub total_weight: u64,
    /// One entry per [`CORE_COUNTS`] element.
    pub speedups: Vec<Speedup>,
}

/// Which schedule form parallelises a block better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// The dependency graph.
    Graph,
    /// PaVM's disjoint-set groups.
    Groups,
}

/// The graph and the groups of one block, side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The observed dependency graph.
    pub graph: GraphAnalysis,
    /// PaVM's groups of the same read/write sets.
    pub groups: GroupsAnalysis,
}

impl Comparison {
    /// The better form on `cores` cores by simulated speedup; on a tie,
    /// `Groups`, whose coarser units cost less to dispatch. `cores` must be
    /// one of [`CORE_COUNTS`].
    pub fn preferred(&self, cores: usize) -> ScheduleKind {
        let at = |s: &[Speedup]| s.iter().find(|x| x.cores == cores).map(|x| x.simulated);
        let graph = at(&self.graph.speedups).expect("cores is one of CORE_COUNTS");
        let groups = at(&self.groups.speedups).expect("cores is one of CORE_COUNTS");
        if graph > groups {
            ScheduleKind::Graph
        } else {
            ScheduleKind::Groups
        }
    }
}

/// Per-transaction weights: `weights` if given (its length must be
/// `tx_count`), else all ones.
fn weights_or_unit(weights: Option<&[u64]>, tx_count: usize) -> Vec<u64> {
    match weights {
        Some(w) => {
            assert_eq!(w.len(), tx_count, "one weight per transaction");
            w.to_vec()
        }
        None => vec![1; tx_count],
    }
}

/// The longest dependency chain, in transactions (0 for an empty block).
pub fn critical_path(schedule: &Schedule) -> u32 {
    critical_path_within(schedule, schedule.tx_count())
}

/// The longest dependency chain among the first `tx_count` transactions
/// (all of them if the schedule has fewer), in transactions: dependencies
/// point to earlier transactions, so a prefix of a block is closed under
/// them.
pub fn critical_path_within(schedule: &Schedule, tx_count: usize) -> u32 {
    let tx_count = tx_count.min(schedule.tx_count());
    let mut depth = vec![0u32; tx_count];
    for (tx, deps) in schedule.iter().take(tx_count) {
        depth[tx] = 1 + deps.iter().map(|&j| depth[j as usize]).max().unwrap_or(0);
    }
    depth.into_iter().max().unwrap_or(0)
}

/// The heaviest dependency chain, summing `weights` (one per transaction).
pub fn critical_path_weighted(schedule: &Schedule, weights: &[u64]) -> u64 {
    assert_eq!(weights.len(), schedule.tx_count(), "one weight per transaction");
    let mut finish = vec![0u64; schedule.tx_count()];
    for (tx, deps) in schedule.iter() {
        let start = deps.iter().map(|&j| finish[j as usize]).max().unwrap_or(0);
        finish[tx] = start + weights[tx];
    }
    finish.into_iter().max().unwrap_or(0)
}

/// The makespan of greedy list scheduling on `cores` cores: whenever a core
/// is free it takes the lowest-index transaction whose dependencies have all
/// finished. Transaction `i` takes `weights[i]` time units.
pub fn list_schedule_makespan(schedule: &Schedule, weights: &[u64], cores: usize) -> u64 {
    assert!(cores > 0, "at least one core");
    assert_eq!(weights.len(), schedule.tx_count(), "one weight per transaction");
    let dependents = schedule.dependents();
    let mut waiting: Vec<usize> = schedule.iter().map(|(_, d)| d.len()).collect();
    let mut ready: BinaryHeap<Reverse<u32>> = (0..schedule.tx_count() as u32)
        .filter(|&t| waiting[t as usize] == 0)
        .map(Reverse)
        .collect();
    let mut running: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let (mut now, mut done) = (0u64, 0usize);
    loop {
        while running.len() < cores {
            let Some(Reverse(tx)) = ready.pop() else { break };
            running.push(Reverse((now + weights[tx as usize], tx)));
        }
        let Some(Reverse((finish, _))) = running.peek().copied() else { break };
        now = finish;
        // Release everything finishing now before dispatching, so the lowest
        // index among all newly ready transactions goes first.
        while let Some(&Reverse((t, tx))) = running.peek() {
            if t != now {
                break;
            }
            running.pop();
            done += 1;
            for &d in &dependents[tx as usize] {
                waiting[d as usize] -= 1;
                if waiting[d as usize] == 0 {
                    ready.push(Reverse(d));
                }
            }
        }
    }
    assert_eq!(done, schedule.tx_count(), "every transaction ran (the graph is acyclic)");
    now
}

/// `total / span`, or 1 when nothing takes time.
fn ratio(total: u64, span: u64) -> f64 {
    if span == 0 {
        1.0
    } else {
        total as f64 / span as f64
    }
}

/// Speedups at every [`CORE_COUNTS`] entry, for a schedule whose critical
/// unit (path or group) weighs `critical`.
fn speedups(schedule: &Schedule, weights: &[u64], critical: u64) -> Vec<Speedup> {
    let total: u64 = weights.iter().sum();
    CORE_COUNTS
        .iter()
        .map(|&cores| Speedup {
            cores,
            bound: (cores as f64).min(ratio(total, critical)),
            simulated: ratio(total, list_schedule_makespan(schedule, weights, cores)),
        })
        .collect()
}

/// The parallelism of `schedule` with optional per-transaction `weights`.
pub fn analyse_graph(schedule: &Schedule, weights: Option<&[u64]>) -> GraphAnalysis {
    let w = weights_or_unit(weights, schedule.tx_count());
    let critical_path_weight = critical_path_weighted(schedule, &w);
    GraphAnalysis {
        tx_count: schedule.tx_count(),
        edge_count: schedule.edge_count(),
        critical_path_txs: critical_path(schedule),
        critical_path_weight,
        total_weight: w.iter().sum(),
        speedups: speedups(schedule, &w, critical_path_weight),
    }
}

/// The parallelism of `groups` (serial inside, parallel between) with
/// optional per-transaction `weights`; the bound is
/// `total / max(heaviest group, total / cores)`.
pub fn analyse_groups(groups: &Groups, weights: Option<&[u64]>) -> GroupsAnalysis {
    let w = weights_or_unit(weights, groups.tx_count());
    let mut group_weight = vec![0u64; groups.group_count()];
    for (tx, &wt) in w.iter().enumerate() {
        group_weight[groups.group_of(tx) as usize] += wt;
    }
    let heaviest_group_weight = group_weight.iter().copied().max().unwrap_or(0);
    GroupsAnalysis {
        group_count: groups.group_count(),
        largest_group_txs: groups.sizes().iter().copied().max().unwrap_or(0),
        heaviest_group_weight,
        total_weight: w.iter().sum(),
        speedups: speedups(&groups.to_schedule(), &w, heaviest_group_weight),
    }
}

/// Graph versus groups for one block's observed read/write sets, with
/// optional per-transaction `weights` (gas used).
pub fn compare(sets: &[ReadWriteSet], weights: Option<&[u64]>) -> Comparison {
    Comparison {
        graph: analyse_graph(&Schedule::from_rw_sets(sets), weights),
        groups: analyse_groups(&Groups::from_rw_sets(sets), weights),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::tests::{rw, slot};

    fn sched(lists: &[&[u32]]) -> Schedule {
        Schedule::from_deps(&lists.iter().map(|l| l.to_vec()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn critical_paths() {
        assert_eq!(critical_path(&Schedule::chain(5)), 5);
        assert_eq!(critical_path(&Schedule::independent(5)), 1);
        assert_eq!(critical_path(&Schedule::independent(0)), 0);
        // Diamond 0 <- {1, 2} <- 3 plus a loose 4.
        let d = sched(&[&[], &[0], &[0], &[1, 2], &[]]);
        assert_eq!(critical_path(&d), 3);
        assert_eq!(critical_path_weighted(&d, &[1, 10, 2, 1, 20]), 20);
        assert_eq!(critical_path_weighted(&d, &[1, 10, 2, 1, 5]), 12);
        // Prefixes of the diamond; a prefix longer than the block is all of it.
        let within: Vec<u32> = (0..=6).map(|k| critical_path_within(&d, k)).collect();
        assert_eq!(within, vec![0, 1, 2, 2, 3, 3, 3]);
    }

    #[test]
    fn list_scheduling() {
        assert_eq!(list_schedule_makespan(&Schedule::independent(8), &[1; 8], 4), 2);
        assert_eq!(list_schedule_makespan(&Schedule::independent(8), &[1; 8], 64), 1);
        assert_eq!(list_schedule_makespan(&Schedule::chain(8), &[1; 8], 4), 8);
        // Two chains of 3 and three loose transactions on 2 cores: 9 units of work,
        // lowest index first runs 0,1 | 2,3 | 4,5 | 6,7 | 8 => 5.
        let s = sched(&[&[], &[], &[0], &[1], &[2], &[3], &[], &[], &[]]);
        assert_eq!(list_schedule_makespan(&s, &[1; 9], 2), 5);
        assert_eq!(list_schedule_makespan(&s, &[1; 9], 4), 3);
        assert_eq!(list_schedule_makespan(&Schedule::independent(0), &[], 4), 0);
    }

    #[test]
    fn graph_analysis_numbers() {
        let a = analyse_graph(&Schedule::independent(16), None);
        assert_eq!(a.critical_path_txs, 1);
        let at = |k: usize| a.speedups.iter().find(|s| s.cores == k).copied().unwrap();
        assert_eq!(at(4).bound, 4.0);
        assert_eq!(at(4).simulated, 4.0);
        assert_eq!(at(64).bound, 16.0);
        assert_eq!(at(64).simulated, 16.0);
        let c = analyse_graph(&Schedule::chain(16), Some(&[3; 16]));
        assert!(c.speedups.iter().all(|s| s.bound == 1.0 && s.simulated == 1.0));
        assert_eq!(c.critical_path_weight, 48);
    }

    /// Eight transactions on disjoint slots all read a config slot that
    /// transaction 0 wrote: the graph is a star (speedup 8/2 = 4 with 64
    /// cores), groups merge everything (speedup 1).
    #[test]
    fn hot_read_key_graph_beats_groups() {
        let mut sets = vec![rw(&[], &[(9, 0)])];
        sets.extend((1..9).map(|i| rw(&[slot(9, 0), slot(1, i)], &[(1, i)])));
        let cmp = compare(&sets, None);
        assert_eq!(cmp.graph.critical_path_txs, 2);
        assert_eq!(cmp.groups.group_count, 1);
        let g64 = cmp.graph.speedups.last().unwrap();
        assert_eq!((g64.bound, g64.simulated), (4.5, 4.5));
        assert_eq!(cmp.groups.speedups.last().unwrap().simulated, 1.0);
        assert_eq!(cmp.preferred(8), ScheduleKind::Graph);
    }

    #[test]
    fn independent_block_ties_and_prefers_groups() {
        let sets: Vec<_> = (0..8).map(|i| rw(&[slot(1, i)], &[(1, i)])).collect();
        let cmp = compare(&sets, Some(&[21_000; 8]));
        assert_eq!(cmp.groups.group_count, 8);
        assert_eq!(cmp.preferred(4), ScheduleKind::Groups);
        assert_eq!(cmp.groups.speedups[1].bound, 4.0);
    }
}

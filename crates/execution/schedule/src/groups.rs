//! PaVM's disjoint-set transaction groups (PaVM §III-E), kept for comparison
//! with the dependency graph.
//!
//! Two transactions share a group when they touch a common location and at
//! least one of them writes it (read-write, write-read or write-write
//! conflicts, in either order), closed transitively. Groups run in parallel
//! with each other and serially inside. One hot location therefore merges
//! every group that touches it, which the graph avoids: that difference is
//! what [`crate::compare`] measures.

use crate::observed::{read_locs, write_locs, Loc};
use crate::schedule::Schedule;
use alloy_primitives::map::HashMap;
use phalanx_core_types::ReadWriteSet;

/// A partition of a block's transactions into conflict groups.
///
/// Canonical: groups are numbered in the order of their lowest member, so
/// equal partitions compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Groups {
    /// The group number of each transaction.
    group_of: Vec<u32>,
    /// The number of transactions in each group.
    sizes: Vec<u32>,
}

/// Union-find with path halving and union by size.
#[derive(Debug)]
pub(crate) struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets.
    pub(crate) fn new(n: usize) -> Self {
        Self { parent: (0..n as u32).collect(), size: vec![1; n] }
    }

    /// The representative of `x`'s set.
    pub(crate) fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Merges the sets of `a` and `b`.
    pub(crate) fn union(&mut self, a: u32, b: u32) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
    }

    /// The canonical partition.
    pub(crate) fn into_groups(mut self) -> Groups {
        let n = self.parent.len();
        let mut number: HashMap<u32, u32> = HashMap::default();
        let mut groups = Groups { group_of: Vec::with_capacity(n), sizes: Vec::new() };
        for tx in 0..n as u32 {
            let root = self.find(tx);
            let next = number.len() as u32;
            let g = *number.entry(root).or_insert(next);
            if g == next {
                groups.sizes.push(0);
            }
            groups.sizes[g as usize] += 1;
            groups.group_of.push(g);
        }
        groups
    }
}

/// Per location: the first transaction that touched it, whether anyone wrote
/// it yet, and the readers seen before the first write.
#[derive(Debug)]
struct LocState {
    first: u32,
    written: bool,
    early_readers: Vec<u32>,
}

impl Groups {
    /// PaVM's grouping of the observed read/write sets (module docs).
    pub fn from_rw_sets(sets: &[ReadWriteSet]) -> Groups {
        let mut uf = UnionFind::new(sets.len());
        let mut locs: HashMap<Loc, LocState> = HashMap::default();
        for (tx, set) in sets.iter().enumerate() {
            let tx = u32::try_from(tx).expect("transaction index fits in u32");
            let reads = set.reads.iter().flat_map(|(k, _)| read_locs(k)).map(|l| (l, false));
            let writes = set.writes.iter().flat_map(write_locs).map(|l| (l, true));
            for (loc, write) in reads.chain(writes) {
                touch(&mut uf, &mut locs, loc, tx, write);
            }
        }
        uf.into_groups()
    }

    /// The groups of a dependency graph: its weakly connected components.
    pub fn from_schedule(schedule: &Schedule) -> Groups {
        let mut uf = UnionFind::new(schedule.tx_count());
        for (tx, deps) in schedule.iter() {
            deps.iter().for_each(|&j| uf.union(tx as u32, j));
        }
        uf.into_groups()
    }

    /// The number of transactions.
    pub fn tx_count(&self) -> usize {
        self.group_of.len()
    }

    /// The number of groups.
    pub fn group_count(&self) -> usize {
        self.sizes.len()
    }

    /// The group of transaction `tx`. Panics if `tx >= tx_count()`.
    pub fn group_of(&self, tx: usize) -> u32 {
        self.group_of[tx]
    }

    /// The number of transactions in each group, by group number.
    pub fn sizes(&self) -> &[u32] {
        &self.sizes
    }

    /// The members of each group, in block order.
    pub fn members(&self) -> Vec<Vec<u32>> {
        let mut out: Vec<Vec<u32>> =
            self.sizes.iter().map(|&s| Vec::with_capacity(s as usize)).collect();
        for (tx, &g) in self.group_of.iter().enumerate() {
            out[g as usize].push(tx as u32);
        }
        out
    }

    /// The groups as a schedule: each transaction depends on the previous
    /// member of its group, so groups run serially inside and in parallel
    /// with each other; the validator then needs only the graph format.
    pub fn to_schedule(&self) -> Schedule {
        let mut last: Vec<Option<u32>> = vec![None; self.group_count()];
        let mut s = Schedule::with_capacity(self.tx_count(), self.tx_count());
        for (tx, &g) in self.group_of.iter().enumerate() {
            s.push(last[g as usize].as_slice());
            last[g as usize] = Some(tx as u32);
        }
        s
    }
}

/// Records that `tx` reads (or writes) `loc`, merging groups on conflict.
fn touch(uf: &mut UnionFind, locs: &mut HashMap<Loc, LocState>, loc: Loc, tx: u32, write: bool) {
    let state =
        locs.entry(loc).or_insert(LocState { first: tx, written: false, early_readers: vec![] });
    if state.written {
        uf.union(state.first, tx);
    } else if write {
        state.written = true;
        uf.union(state.first, tx);
        state.early_readers.drain(..).for_each(|r| uf.union(state.first, r));
    } else if state.first != tx {
        state.early_readers.push(tx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::tests::{rw, slot};

    #[test]
    fn conflicts_merge_and_reads_alone_do_not() {
        let sets = vec![
            rw(&[slot(1, 0)], &[]),
            rw(&[slot(1, 0)], &[]),
            rw(&[slot(2, 0)], &[]),
            rw(&[], &[(2, 0)]),
            rw(&[], &[(3, 0)]),
            rw(&[], &[(3, 0)]),
        ];
        let g = Groups::from_rw_sets(&sets);
        assert_eq!(g.members(), vec![vec![0], vec![1], vec![2, 3], vec![4, 5]]);
        assert_eq!(g.sizes(), &[1, 1, 2, 2]);
        // A reader seen before the first write joins the writer's group.
        let late = vec![rw(&[slot(1, 0)], &[]), rw(&[slot(1, 0)], &[]), rw(&[], &[(1, 0)])];
        assert_eq!(Groups::from_rw_sets(&late).group_count(), 1);
    }

    /// A hot key every transaction writes blindly collapses the groups into
    /// one, while the graph keeps every transaction independent.
    #[test]
    fn hot_key_collapses_groups_not_graph() {
        let sets: Vec<_> = (0..8).map(|i| rw(&[slot(1, i)], &[(1, i), (9, 0)])).collect();
        assert_eq!(Groups::from_rw_sets(&sets).group_count(), 1);
        assert_eq!(Schedule::from_rw_sets(&sets).edge_count(), 0);
        assert_eq!(Groups::from_schedule(&Schedule::from_rw_sets(&sets)).group_count(), 8);
    }

    #[test]
    fn to_schedule_chains_each_group() {
        let sets = vec![rw(&[], &[(1, 0)]), rw(&[], &[(2, 0)]), rw(&[slot(1, 0)], &[])];
        let g = Groups::from_rw_sets(&sets);
        let s = g.to_schedule();
        assert_eq!(s.deps(2), &[0]);
        assert_eq!(s.deps(1), &[] as &[u32]);
        assert_eq!(Groups::from_schedule(&s), g);
        assert_eq!(s.check_sufficient(&sets), Ok(()));
    }
}

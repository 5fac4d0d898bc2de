//! The dependency graph between a block's transactions, and the block-level
//! choice between it and plain serial execution.

use crate::ScheduleError;

/// The most dependency edges a schedule may hold (encoding and decoding
/// enforce it, since the schedule is peer input). About 2 M edges: two
/// orders of magnitude above what a 10 000-transaction block of ordinary
/// transfers and token calls produces.
pub const SCHEDULE_EDGES_MAX: usize = 1 << 21;

/// A dependency graph over a block's transactions.
///
/// For each transaction index `i`, [`deps(i)`](Self::deps) is the strictly
/// increasing list of earlier indices `j < i` that `i` directly depends on.
/// Edges only point backwards, so the graph is acyclic and the block order is
/// a valid topological order: serial execution always respects a schedule.
///
/// **Contract with the validator.** An edge `i -> j` means "`i` must not start
/// before `j` has finished". The validator runs every transaction against a
/// multi-version store keyed by transaction index, reading for each location
/// the version written by the highest index below `i`. Under that contract
/// only read-after-write edges are needed (a later write never changes what an
/// earlier transaction reads, and the highest-index write wins at commit), and
/// a schedule is *sufficient* for a block when, for every location each
/// transaction read, the latest earlier writer of that location is a
/// (transitive) dependency; see [`Schedule::check_sufficient`]. An executor
/// that instead runs on one shared, single-version state needs the
/// write-after-read and write-after-write edges too, which this format does
/// not carry.
///
/// The representation is compressed sparse rows; two schedules are equal
/// exactly when they hold the same edges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// `offsets[i]..offsets[i + 1]` is the range of `edges` holding `deps(i)`;
    /// `offsets.len() == tx_count + 1`.
    offsets: Vec<u32>,
    /// Every dependency list, concatenated in transaction order.
    edges: Vec<u32>,
}

impl Schedule {
    /// An empty schedule to which transactions are appended with
    /// [`push`](Self::push).
    pub(crate) fn with_capacity(tx_count: usize, edge_count: usize) -> Self {
        let mut offsets = Vec::with_capacity(tx_count + 1);
        offsets.push(0);
        Self { offsets, edges: Vec::with_capacity(edge_count) }
    }

    /// Appends the next transaction with dependency list `deps`.
    ///
    /// Panics unless `deps` is strictly increasing and below the new index:
    /// every constructor funnels through here, so the invariant is checked once.
    pub(crate) fn push(&mut self, deps: &[u32]) {
        let tx = self.tx_count();
        assert!(deps.windows(2).all(|w| w[0] < w[1]), "deps of {tx} not strictly increasing");
        assert!(deps.last().is_none_or(|&j| (j as usize) < tx), "dep of {tx} is not earlier");
        self.edges.extend_from_slice(deps);
        let end = u32::try_from(self.edges.len()).expect("edge count fits in u32");
        self.offsets.push(end);
    }

    /// `tx_count` transactions with no dependencies: everything may run at once.
    pub fn independent(tx_count: usize) -> Self {
        let mut s = Self::with_capacity(tx_count, 0);
        (0..tx_count).for_each(|_| s.push(&[]));
        s
    }

    /// `tx_count` transactions each depending on the previous one: serial
    /// execution, expressed as a graph.
    pub fn chain(tx_count: usize) -> Self {
        let mut s = Self::with_capacity(tx_count, tx_count.saturating_sub(1));
        for i in 0..tx_count as u32 {
            s.push(i.checked_sub(1).as_slice());
        }
        s
    }

    /// Builds a schedule from explicit dependency lists (`lists[i]` = deps of
    /// `i`), rejecting lists that are not strictly increasing, that name an
    /// index not below `i`, or that hold more than [`SCHEDULE_EDGES_MAX`]
    /// edges in total.
    pub fn from_deps(lists: &[Vec<u32>]) -> Result<Self, ScheduleError> {
        let total: usize = lists.iter().map(Vec::len).sum();
        if total > SCHEDULE_EDGES_MAX {
            return Err(ScheduleError::TooManyEdges { edges_max: SCHEDULE_EDGES_MAX });
        }
        let mut s = Self::with_capacity(lists.len(), total);
        for (tx, deps) in lists.iter().enumerate() {
            let tx = tx as u32;
            if let Some(&dep) = deps.iter().find(|&&j| j >= tx) {
                return Err(ScheduleError::DepNotEarlier { tx, dep });
            }
            if deps.windows(2).any(|w| w[0] >= w[1]) {
                return Err(ScheduleError::DepsNotIncreasing { tx });
            }
            s.push(deps);
        }
        Ok(s)
    }

    /// The number of transactions the schedule covers.
    pub fn tx_count(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The total number of dependency edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// The direct dependencies of transaction `tx`, strictly increasing, all
    /// below `tx`. Panics if `tx >= tx_count()`.
    pub fn deps(&self, tx: usize) -> &[u32] {
        &self.edges[self.offsets[tx] as usize..self.offsets[tx + 1] as usize]
    }

    /// Each transaction index with its dependency list, in block order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[u32])> + '_ {
        (0..self.tx_count()).map(move |tx| (tx, self.deps(tx)))
    }

    /// For each transaction, the later transactions that directly depend on
    /// it (the reversed graph), each list increasing.
    pub fn dependents(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.tx_count()];
        for (tx, deps) in self.iter() {
            deps.iter().for_each(|&j| out[j as usize].push(tx as u32));
        }
        out
    }
}

/// What a block's `schedule` bytes say: run serially, or follow a graph.
///
/// Empty bytes mean [`BlockSchedule::Serial`] (the block format's "no
/// schedule"); any other bytes must decode as a [`Schedule`] for exactly the
/// block's transactions. A graph over zero transactions still encodes to two
/// non-empty bytes, so the two variants never share an encoding and the codec
/// stays canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockSchedule {
    /// Execute the transactions one after another (empty schedule bytes).
    Serial,
    /// Execute following the dependency graph.
    Graph(Schedule),
}

impl BlockSchedule {
    /// The schedule bytes for a block: empty for `Serial`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            BlockSchedule::Serial => Vec::new(),
            BlockSchedule::Graph(s) => s.encode(),
        }
    }

    /// Decodes a block's schedule bytes for a block of `tx_count` transactions.
    pub fn decode(bytes: &[u8], tx_count: usize) -> Result<Self, ScheduleError> {
        if bytes.is_empty() {
            return Ok(BlockSchedule::Serial);
        }
        Schedule::decode(bytes, tx_count).map(BlockSchedule::Graph)
    }

    /// The graph a validator follows: for `Serial`, the chain over `tx_count`.
    pub fn to_schedule(&self, tx_count: usize) -> Schedule {
        match self {
            BlockSchedule::Serial => Schedule::chain(tx_count),
            BlockSchedule::Graph(s) => s.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors() {
        assert_eq!(Schedule::independent(3).edge_count(), 0);
        let c = Schedule::chain(4);
        assert_eq!(c.tx_count(), 4);
        assert_eq!(c.deps(0), &[] as &[u32]);
        assert_eq!(c.deps(3), &[2]);
        assert_eq!(Schedule::chain(0).tx_count(), 0);
        assert_eq!(Schedule::independent(0).tx_count(), 0);
        assert_eq!(Schedule::from_deps(&[vec![], vec![0], vec![0, 1]]).unwrap().edge_count(), 3);
    }

    #[test]
    fn from_deps_rejects_bad_lists() {
        assert_eq!(
            Schedule::from_deps(&[vec![], vec![1]]),
            Err(ScheduleError::DepNotEarlier { tx: 1, dep: 1 })
        );
        assert_eq!(
            Schedule::from_deps(&[vec![], vec![0], vec![1, 0]]),
            Err(ScheduleError::DepsNotIncreasing { tx: 2 })
        );
        assert_eq!(
            Schedule::from_deps(&[vec![], vec![0], vec![0, 0]]),
            Err(ScheduleError::DepsNotIncreasing { tx: 2 })
        );
    }

    #[test]
    fn dependents_reverse_the_graph() {
        let s = Schedule::from_deps(&[vec![], vec![0], vec![0, 1]]).unwrap();
        assert_eq!(s.dependents(), vec![vec![1, 2], vec![2], vec![]]);
    }

    #[test]
    fn block_schedule_serial_is_empty_bytes() {
        assert!(BlockSchedule::Serial.encode().is_empty());
        assert_eq!(BlockSchedule::decode(&[], 5).unwrap(), BlockSchedule::Serial);
        let g = BlockSchedule::Graph(Schedule::independent(0));
        assert!(!g.encode().is_empty());
        assert_eq!(BlockSchedule::decode(&g.encode(), 0).unwrap(), g);
        assert_eq!(BlockSchedule::Serial.to_schedule(3), Schedule::chain(3));
    }
}

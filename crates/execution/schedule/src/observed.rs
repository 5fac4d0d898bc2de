//! Building the schedule from the read/write sets the leader observed.
//!
//! Locations: a read of [`ReadKey`] `k` reads location `k`; a read of a
//! storage slot of `a` also reads the pseudo-location "storage of `a`", which
//! only [`WriteOp::Destroy`] writes (self-destruct wipes every slot, so every
//! later slot read of that address depends on the latest destroy). Balance,
//! nonce, code and destroy write the account record location
//! (`ReadKey::Account(a)`), storage writes write their slot, logs write
//! nothing readable.

use crate::schedule::{BlockSchedule, Schedule, SCHEDULE_EDGES_MAX};
use alloy_primitives::{map::HashMap, Address};
use phalanx_core_types::{ReadKey, ReadValue, ReadWriteSet, WriteOp};

/// The longest dependency list the cheap transitive reduction looks at; longer
/// lists are kept whole (the reduction is quadratic in the list length).
const REDUCE_DEPS_MAX: usize = 32;

/// A location in the conflict model: a real key or every slot of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Loc {
    /// A location the executor records reads of.
    Key(ReadKey),
    /// All storage of an address, as wiped by a destroy.
    StorageOf(Address),
}

/// The locations a read of `key` reads (one or two).
pub(crate) fn read_locs(key: &ReadKey) -> impl Iterator<Item = Loc> {
    let all_slots = match key {
        ReadKey::Storage(a, _) => Some(Loc::StorageOf(*a)),
        _ => None,
    };
    std::iter::once(Loc::Key(*key)).chain(all_slots)
}

/// The locations a write writes (none, one or two).
pub(crate) fn write_locs(op: &WriteOp) -> impl Iterator<Item = Loc> {
    let (first, second) = match *op {
        WriteOp::Balance { address, .. }
        | WriteOp::Nonce { address, .. }
        | WriteOp::Code { address, .. } => (Some(Loc::Key(ReadKey::Account(address))), None),
        WriteOp::Storage { address, slot, .. } => {
            (Some(Loc::Key(ReadKey::Storage(address, slot))), None)
        }
        WriteOp::Destroy { address } => {
            (Some(Loc::Key(ReadKey::Account(address))), Some(Loc::StorageOf(address)))
        }
        WriteOp::Log { .. } => (None, None),
    };
    first.into_iter().chain(second)
}

/// The address a write is to, if any (logs have none).
pub(crate) fn write_address(op: &WriteOp) -> Option<Address> {
    match *op {
        WriteOp::Balance { address, .. }
        | WriteOp::Nonce { address, .. }
        | WriteOp::Code { address, .. }
        | WriteOp::Storage { address, .. }
        | WriteOp::Destroy { address } => Some(address),
        WriteOp::Log { .. } => None,
    }
}

/// Accesses the dependency rules leave unordered, because the executors
/// apply them in block order afterwards or make them commute.
///
/// - `beneficiary`: that account's record reads and every write to it are
///   left out, as if absent from the sets (the beneficiary under deferred
///   fees, whose reads and writes every transaction has and which the
///   post-pass applies in block order).
/// - `credits`: per transaction, the account whose value credit it may defer
///   (a plain value transfer's recipient; the parallel executors' lazy
///   credits). Empty means none. A transaction listed there whose set shows
///   a *credit* to that account — its record read without code, and one
///   balance write as its only write to it — is a credit: its read of the
///   account orders it only after the account's latest non-credit writer
///   (all the deferred run reads is whether the account has code), and its
///   write is an addition that commutes with other credits. A non-credit
///   read of the account then depends on that writer and on every credit
///   since, whose sum it sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exempt<'a> {
    /// The account left out of the sets (the block's beneficiary).
    pub beneficiary: Option<Address>,
    /// Each transaction's deferrable credit recipient, or empty.
    pub credits: &'a [Option<Address>],
}

impl Exempt<'_> {
    /// Nothing exempt: every access is ordered as the sets record it.
    pub const NONE: Exempt<'static> = Exempt { beneficiary: None, credits: &[] };

    /// The account transaction `tx` (with set `set`) credits under these
    /// rules, if any.
    pub(crate) fn credit_of(&self, tx: usize, set: &ReadWriteSet) -> Option<Address> {
        let recipient = (*self.credits.get(tx)?)?;
        if Some(recipient) == self.beneficiary {
            return None;
        }
        let key = ReadKey::Account(recipient);
        let without_code = set.reads.iter().any(|(k, value)| {
            *k == key && matches!(value, ReadValue::Account(record) if !record.is_some_and(|a| a.has_code()))
        });
        let mut writes = set.writes.iter().filter(|op| write_address(op) == Some(recipient));
        let balance_only =
            matches!(writes.next(), Some(WriteOp::Balance { .. })) && writes.next().is_none();
        (without_code && balance_only).then_some(recipient)
    }
}

/// For each transaction, the deduplicated, increasing list of latest earlier
/// writers of the locations it read: exactly the read-after-write edges the
/// validator's contract requires (see [`Schedule`]), with the accesses
/// `exempt` names unordered or relaxed. `sink` receives each list.
///
/// Filtering the beneficiary here instead of copying the sets without it
/// saves a copy of every set (perf: as much as the search itself).
pub(crate) fn required_edges(
    sets: &[ReadWriteSet],
    exempt: &Exempt<'_>,
    mut sink: impl FnMut(usize, &mut Vec<u32>),
) {
    let excluded = exempt.beneficiary;
    let excluded_read = excluded.map(ReadKey::Account);
    // Sized once for every write: growing a block-sized table rehashes it
    // and faults in fresh pages at each doubling (perf put 30% of the
    // validator's check in page zeroing; the whole-block effect was below
    // this machine's noise).
    let writes = sets.iter().map(|set| set.writes.len()).sum();
    let mut last_writer: HashMap<Loc, u32> =
        HashMap::with_capacity_and_hasher(writes, Default::default());
    // The credits to each account since its latest non-credit writer.
    let mut credits_since: HashMap<Address, Vec<u32>> = HashMap::default();
    let mut deps = Vec::new();
    for (tx, set) in sets.iter().enumerate() {
        let credit = exempt.credit_of(tx, set);
        deps.clear();
        for (key, _) in set.reads.iter().filter(|(key, _)| Some(*key) != excluded_read) {
            deps.extend(read_locs(key).filter_map(|loc| last_writer.get(&loc).copied()));
            match key {
                ReadKey::Account(address)
                    if !credits_since.is_empty() && credit != Some(*address) =>
                {
                    deps.extend(credits_since.get(address).into_iter().flatten());
                }
                _ => {}
            }
        }
        deps.sort_unstable();
        deps.dedup();
        sink(tx, &mut deps);
        let tx = u32::try_from(tx).expect("transaction index fits in u32");
        for op in &set.writes {
            let address = write_address(op);
            if excluded.is_some() && address == excluded {
                continue;
            }
            if let Some(recipient) = credit.filter(|r| address == Some(*r)) {
                credits_since.entry(recipient).or_default().push(tx);
                continue;
            }
            for loc in write_locs(op) {
                last_writer.insert(loc, tx);
                if let Loc::Key(ReadKey::Account(address)) = loc {
                    // Later readers see this record, which includes the
                    // earlier credits; they wait for it instead.
                    credits_since.remove(&address);
                }
            }
        }
    }
}

/// Drops from `deps` every `j` that another listed dependency `k` already
/// depends on directly (one level of transitive reduction); `schedule` holds
/// the lists of all earlier transactions.
fn reduce(schedule: &Schedule, deps: &mut Vec<u32>) {
    if deps.len() < 2 || deps.len() > REDUCE_DEPS_MAX {
        return;
    }
    let listed = deps.clone();
    deps.retain(|&j| {
        !listed.iter().any(|&k| k > j && schedule.deps(k as usize).binary_search(&j).is_ok())
    });
}

impl Schedule {
    /// The dependency graph implied by the observed read/write sets, one per
    /// transaction in block order: transaction `i` depends on the latest
    /// earlier writer of each location it read (read-after-write only; the
    /// validator's multi-version contract makes write-after-write and
    /// write-after-read harmless, see [`Schedule`]). An edge implied by a
    /// one-step path through another dependency is dropped when the list is
    /// short (at most 32 entries). The result may exceed
    /// [`SCHEDULE_EDGES_MAX`]; [`BlockSchedule::from_rw_sets`] handles that.
    pub fn from_rw_sets(sets: &[ReadWriteSet]) -> Schedule {
        Self::from_rw_sets_with(sets, &Exempt::NONE)
    }

    /// [`from_rw_sets`](Self::from_rw_sets) with the accesses `exempt`
    /// names unordered or relaxed (see [`Exempt`] and
    /// [`check_sufficient_with`](Self::check_sufficient_with)).
    pub fn from_rw_sets_with(sets: &[ReadWriteSet], exempt: &Exempt<'_>) -> Schedule {
        let mut schedule = Schedule::with_capacity(sets.len(), sets.len());
        required_edges(sets, exempt, |_, deps| {
            reduce(&schedule, deps);
            schedule.push(deps);
        });
        schedule
    }
}

impl BlockSchedule {
    /// The schedule a leader puts in its block: the observed graph, or
    /// `Serial` if the graph holds more than [`SCHEDULE_EDGES_MAX`] edges
    /// (which no validator would decode).
    pub fn from_rw_sets(sets: &[ReadWriteSet]) -> BlockSchedule {
        Self::from_rw_sets_with(sets, &Exempt::NONE)
    }

    /// [`from_rw_sets`](Self::from_rw_sets) under `exempt`, as in
    /// [`Schedule::from_rw_sets_with`].
    pub fn from_rw_sets_with(sets: &[ReadWriteSet], exempt: &Exempt<'_>) -> BlockSchedule {
        let schedule = Schedule::from_rw_sets_with(sets, exempt);
        if schedule.edge_count() > SCHEDULE_EDGES_MAX {
            return BlockSchedule::Serial;
        }
        BlockSchedule::Graph(schedule)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloy_primitives::{B256, U256};
    use phalanx_core_types::ReadValue;

    pub(crate) fn addr(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    pub(crate) fn slot(a: u8, s: u64) -> ReadKey {
        ReadKey::Storage(addr(a), U256::from(s))
    }

    /// A set reading `reads` and writing storage `writes` (address, slot).
    pub(crate) fn rw(reads: &[ReadKey], writes: &[(u8, u64)]) -> ReadWriteSet {
        ReadWriteSet {
            reads: reads.iter().map(|k| (*k, ReadValue::Word(B256::ZERO))).collect(),
            writes: writes
                .iter()
                .map(|&(a, s)| WriteOp::Storage {
                    address: addr(a),
                    slot: U256::from(s),
                    value: U256::from(1),
                })
                .collect(),
        }
    }

    fn lists(s: &Schedule) -> Vec<Vec<u32>> {
        s.iter().map(|(_, d)| d.to_vec()).collect()
    }

    #[test]
    fn chain_of_read_modify_write() {
        let sets: Vec<_> = (0..4).map(|_| rw(&[slot(1, 0)], &[(1, 0)])).collect();
        assert_eq!(Schedule::from_rw_sets(&sets), Schedule::chain(4));
    }

    #[test]
    fn disjoint_transactions_are_independent() {
        let sets: Vec<_> = (0..4).map(|i| rw(&[slot(1, i)], &[(1, i)])).collect();
        assert_eq!(Schedule::from_rw_sets(&sets), Schedule::independent(4));
    }

    #[test]
    fn only_read_after_write_makes_edges() {
        // tx1 overwrites what tx0 wrote (WAW), tx2 overwrites what tx0 read (WAR),
        // tx3 reads the slot both wrote: it depends on the latest writer only.
        let sets = vec![
            rw(&[slot(1, 9)], &[(1, 0)]),
            rw(&[], &[(1, 0)]),
            rw(&[], &[(1, 9)]),
            rw(&[slot(1, 0)], &[]),
        ];
        assert_eq!(lists(&Schedule::from_rw_sets(&sets)), vec![vec![], vec![], vec![], vec![1]]);
    }

    #[test]
    fn implied_edge_is_dropped() {
        // tx1 reads tx0's slot a and writes b; tx2 reads a and b: 2 -> 0 is implied by 2 -> 1 -> 0.
        let sets = vec![
            rw(&[], &[(1, 0)]),
            rw(&[slot(1, 0)], &[(1, 1)]),
            rw(&[slot(1, 0), slot(1, 1)], &[]),
        ];
        assert_eq!(lists(&Schedule::from_rw_sets(&sets)), vec![vec![], vec![0], vec![1]]);
    }

    #[test]
    fn destroy_wipes_storage_and_account() {
        let destroy =
            ReadWriteSet { reads: vec![], writes: vec![WriteOp::Destroy { address: addr(1) }] };
        let nonce = ReadWriteSet {
            reads: vec![],
            writes: vec![WriteOp::Nonce { address: addr(2), value: 1 }],
        };
        let log = ReadWriteSet {
            reads: vec![],
            writes: vec![WriteOp::Log { index: 0, hash: B256::ZERO }],
        };
        let sets = vec![
            destroy,
            nonce,
            log,
            rw(&[slot(1, 5)], &[]),
            rw(&[ReadKey::Account(addr(1))], &[]),
            rw(&[ReadKey::Account(addr(2)), slot(3, 0)], &[]),
        ];
        assert_eq!(
            lists(&Schedule::from_rw_sets(&sets)),
            vec![vec![], vec![], vec![], vec![0], vec![0], vec![1]]
        );
    }

    /// One hot key everyone writes (a fee sink) but nobody else reads keeps
    /// the graph fully parallel.
    #[test]
    fn blind_hot_writes_keep_parallelism() {
        let sets: Vec<_> = (0..8).map(|i| rw(&[slot(1, i)], &[(1, i), (9, 0)])).collect();
        assert_eq!(Schedule::from_rw_sets(&sets).edge_count(), 0);
    }

    #[test]
    fn block_schedule_from_rw_sets_is_graph() {
        let sets = vec![rw(&[], &[(1, 0)]), rw(&[slot(1, 0)], &[])];
        let BlockSchedule::Graph(g) = BlockSchedule::from_rw_sets(&sets) else {
            panic!("expected a graph")
        };
        assert_eq!(g.deps(1), &[0]);
    }
}

//! The canonical binary encoding of a [`Schedule`].
//!
//! Layout (version 1), all integers canonical LEB128 varints of at most 32 bits:
//!
//! ```text
//! version: u8 = 1
//! tx_count
//! for each transaction i, in block order:
//!     d = number of direct dependencies (at most i)
//!     d gaps, walking the dependencies from the highest index down:
//!         first gap  = (i - 1) - j_1            (j_1 the highest dependency)
//!         next gaps  = (j_prev - 1) - j_next
//! ```
//!
//! Encoding gaps minus one makes unsorted or duplicate dependency lists
//! unrepresentable: every gap sequence decodes to a strictly decreasing list,
//! so the only ways to be non-canonical are overlong varints (rejected by the
//! varint reader), a count above `i`, a gap walking below index 0, a wrong
//! transaction count, or trailing bytes, and each is rejected. The common
//! "depends on the previous transaction" costs two bytes (`01 00`), an
//! independent transaction one (`00`).

use crate::schedule::{Schedule, SCHEDULE_EDGES_MAX};
use crate::varint::{self, VarintError};

/// The codec version this crate writes and reads.
pub const SCHEDULE_VERSION: u8 = 1;

/// Why schedule bytes (or explicit dependency lists) were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Empty bytes are the serial schedule, not a graph (see `BlockSchedule`).
    #[error("empty bytes are the serial schedule, not a graph")]
    Empty,
    /// The version byte is not [`SCHEDULE_VERSION`].
    #[error("unknown schedule version {version}")]
    UnknownVersion {
        /// The version byte found.
        version: u8,
    },
    /// The encoded transaction count differs from the block's.
    #[error("schedule covers {encoded} transactions, the block has {expected}")]
    TxCountMismatch {
        /// The count in the bytes.
        encoded: u32,
        /// The count the caller expected.
        expected: usize,
    },
    /// The bytes ended early.
    #[error("schedule truncated at byte {offset}")]
    Truncated {
        /// Byte offset where more input was needed.
        offset: usize,
    },
    /// A varint was overlong or above 32 bits.
    #[error("malformed varint at byte {offset}")]
    BadVarint {
        /// Byte offset of the varint.
        offset: usize,
    },
    /// A transaction claims more dependencies than there are earlier transactions.
    #[error("transaction {tx} claims {count} dependencies")]
    TooManyDeps {
        /// The transaction index.
        tx: u32,
        /// The claimed count.
        count: u32,
    },
    /// A gap walked below transaction 0.
    #[error("a dependency gap of transaction {tx} points before transaction 0")]
    GapOutOfRange {
        /// The transaction index.
        tx: u32,
    },
    /// More than [`SCHEDULE_EDGES_MAX`] edges.
    #[error("schedule holds more than {edges_max} edges")]
    TooManyEdges {
        /// The limit.
        edges_max: usize,
    },
    /// Bytes were left after the last transaction.
    #[error("{extra} trailing bytes after the schedule")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// An explicit dependency list names an index not below its transaction.
    #[error("transaction {tx} depends on {dep}, which is not earlier")]
    DepNotEarlier {
        /// The transaction index.
        tx: u32,
        /// The offending dependency.
        dep: u32,
    },
    /// An explicit dependency list is not strictly increasing.
    #[error("dependencies of transaction {tx} are not strictly increasing")]
    DepsNotIncreasing {
        /// The transaction index.
        tx: u32,
    },
}

impl Schedule {
    /// The canonical encoding (module docs of `codec`). Panics if the schedule
    /// holds more than [`SCHEDULE_EDGES_MAX`] edges, since no decoder would
    /// accept the result: check [`Schedule::edge_count`] first, or use
    /// `BlockSchedule::from_rw_sets`, which falls back to serial.
    pub fn encode(&self) -> Vec<u8> {
        assert!(self.edge_count() <= SCHEDULE_EDGES_MAX, "schedule above SCHEDULE_EDGES_MAX");
        let mut out = Vec::with_capacity(6 + self.tx_count() + 2 * self.edge_count());
        out.push(SCHEDULE_VERSION);
        varint::write(&mut out, self.tx_count() as u32);
        for (tx, deps) in self.iter() {
            varint::write(&mut out, deps.len() as u32);
            let mut above = tx as u32;
            for &j in deps.iter().rev() {
                varint::write(&mut out, above - 1 - j);
                above = j;
            }
        }
        out
    }

    /// Decodes [`encode`](Self::encode) output for a block of `tx_count`
    /// transactions. Bounded for peer input: work and allocation are linear
    /// in `bytes.len()` whatever `tx_count` says, and every non-canonical
    /// input is rejected, so `encode(decode(b)?) == b`.
    pub fn decode(bytes: &[u8], tx_count: usize) -> Result<Self, ScheduleError> {
        let (&version, mut input) = bytes.split_first().ok_or(ScheduleError::Empty)?;
        if version != SCHEDULE_VERSION {
            return Err(ScheduleError::UnknownVersion { version });
        }
        let encoded = read(bytes, &mut input)?;
        if encoded as usize != tx_count {
            return Err(ScheduleError::TxCountMismatch { encoded, expected: tx_count });
        }
        // Each transaction costs at least one byte, which bounds the allocation.
        if input.len() < tx_count {
            return Err(ScheduleError::Truncated { offset: bytes.len() });
        }
        let mut schedule = Schedule::with_capacity(tx_count, 0);
        let mut deps = Vec::new();
        for tx in 0..encoded {
            read_deps(bytes, &mut input, tx, schedule.edge_count(), &mut deps)?;
            schedule.push(&deps);
        }
        if !input.is_empty() {
            return Err(ScheduleError::TrailingBytes { extra: input.len() });
        }
        Ok(schedule)
    }
}

/// Reads transaction `tx`'s dependency list into `deps` (increasing order),
/// given `edges_so_far` already decoded.
fn read_deps(
    bytes: &[u8],
    input: &mut &[u8],
    tx: u32,
    edges_so_far: usize,
    deps: &mut Vec<u32>,
) -> Result<(), ScheduleError> {
    let count = read(bytes, input)?;
    if count > tx {
        return Err(ScheduleError::TooManyDeps { tx, count });
    }
    if edges_so_far + count as usize > SCHEDULE_EDGES_MAX {
        return Err(ScheduleError::TooManyEdges { edges_max: SCHEDULE_EDGES_MAX });
    }
    deps.clear();
    let mut above = tx;
    for _ in 0..count {
        let gap = read(bytes, input)?;
        // A large earlier gap can leave `above` at 0 with dependencies still
        // to read, so both subtractions are checked.
        above = above
            .checked_sub(1)
            .and_then(|a| a.checked_sub(gap))
            .ok_or(ScheduleError::GapOutOfRange { tx })?;
        deps.push(above);
    }
    deps.reverse();
    Ok(())
}

/// Reads one varint, mapping errors to byte offsets within `bytes`.
fn read(bytes: &[u8], input: &mut &[u8]) -> Result<u32, ScheduleError> {
    let offset = bytes.len() - input.len();
    varint::read(input).map_err(|e| match e {
        VarintError::Truncated => ScheduleError::Truncated { offset: bytes.len() },
        VarintError::Overflow | VarintError::NonCanonical => ScheduleError::BadVarint { offset },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sched(lists: &[&[u32]]) -> Schedule {
        Schedule::from_deps(&lists.iter().map(|l| l.to_vec()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn known_bytes() {
        let s = sched(&[&[], &[0], &[0, 1], &[0]]);
        // tx1: one dep at gap 0; tx2: deps 1 (gap 0) then 0 (gap 0); tx3: dep 0 (gap 2).
        assert_eq!(s.encode(), vec![1, 4, 0, 1, 0, 2, 0, 0, 1, 2]);
        assert_eq!(Schedule::decode(&s.encode(), 4).unwrap(), s);
    }

    #[test]
    fn rejections() {
        let dec = |b: &[u8], n| Schedule::decode(b, n);
        assert_eq!(dec(&[], 0), Err(ScheduleError::Empty));
        assert_eq!(dec(&[2, 0], 0), Err(ScheduleError::UnknownVersion { version: 2 }));
        assert_eq!(
            dec(&[1, 1, 0], 2),
            Err(ScheduleError::TxCountMismatch { encoded: 1, expected: 2 })
        );
        assert_eq!(dec(&[1, 2, 0], 2), Err(ScheduleError::Truncated { offset: 3 }));
        assert_eq!(dec(&[1, 1, 1], 1), Err(ScheduleError::TooManyDeps { tx: 0, count: 1 }));
        assert_eq!(dec(&[1, 2, 0, 1, 1], 2), Err(ScheduleError::GapOutOfRange { tx: 1 }));
        // tx 3 claims two dependencies, the first gap (2) already reaches index 0.
        assert_eq!(dec(&[1, 4, 0, 0, 0, 2, 2, 0], 4), Err(ScheduleError::GapOutOfRange { tx: 3 }));
        assert_eq!(dec(&[1, 1, 0, 0], 1), Err(ScheduleError::TrailingBytes { extra: 1 }));
        assert_eq!(dec(&[1, 0x80, 0x00], 0), Err(ScheduleError::BadVarint { offset: 1 }));
        assert_eq!(dec(&[1, 2, 0, 1], 2), Err(ScheduleError::Truncated { offset: 4 }));
    }

    /// A huge claimed transaction count is rejected before any allocation.
    #[test]
    fn huge_tx_count_is_cheap_to_reject() {
        let mut b = vec![SCHEDULE_VERSION];
        varint::write(&mut b, u32::MAX);
        assert!(matches!(
            Schedule::decode(&b, u32::MAX as usize),
            Err(ScheduleError::Truncated { .. })
        ));
    }

    pub(crate) fn arb_schedule() -> impl Strategy<Value = Schedule> {
        proptest::collection::vec(proptest::collection::vec(any::<u32>(), 0..6), 0..40).prop_map(
            |raw| {
                let lists: Vec<Vec<u32>> = raw
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let mut l: Vec<u32> =
                            if i == 0 { vec![] } else { l.iter().map(|x| x % i as u32).collect() };
                        l.sort_unstable();
                        l.dedup();
                        l
                    })
                    .collect();
                Schedule::from_deps(&lists).unwrap()
            },
        )
    }

    proptest! {
        #[test]
        fn roundtrip(s in arb_schedule()) {
            let bytes = s.encode();
            prop_assert_eq!(Schedule::decode(&bytes, s.tx_count()).unwrap(), s);
        }

        /// Mutating any byte either is rejected or yields a schedule that
        /// re-encodes to exactly the mutated bytes; nothing panics.
        #[test]
        fn mutations_are_rejected_or_canonical(
            s in arb_schedule(), pos in any::<usize>(), byte in any::<u8>(), cut in any::<bool>(),
        ) {
            let mut bytes = s.encode();
            let pos = pos % bytes.len();
            if cut { bytes.truncate(pos) } else { bytes[pos] = byte }
            if let Ok(d) = Schedule::decode(&bytes, s.tx_count()) {
                prop_assert_eq!(d.encode(), bytes);
            }
        }

        /// Arbitrary bytes never panic, and whatever decodes is canonical.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64), n in 0usize..40) {
            let mut bytes = bytes;
            if let Some(b) = bytes.first_mut() { *b = SCHEDULE_VERSION; }
            if bytes.len() > 1 { bytes[1] = n as u8; }
            if let Ok(d) = Schedule::decode(&bytes, n) {
                prop_assert_eq!(d.encode(), bytes);
            }
        }
    }
}

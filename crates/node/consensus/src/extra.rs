//! The driver-defined bytes of a consensus block ([`phalanx_consensus_core::Block::extra`]):
//! everything besides the batch digests that a replica needs to re-execute
//! the leader's Phalanx block and reach the same hash.
//!
//! Layout (big-endian):
//!
//! ```text
//! timestamp      u64      block timestamp, seconds
//! left_out_count u32      number of left-out candidate positions
//! left_out       u32 × n  strictly ascending positions in the candidate list
//! schedule       rest     the block's schedule bytes (phalanx-execution-schedule)
//! ```
//!
//! The candidate list is what every replica rebuilds from the payload's
//! batches ([`crate::worker::candidates`]); removing the left-out positions
//! gives the block's transactions, in order, *before* executing anything,
//! so a validator can follow the leader's schedule (PaVM §III-E: "the
//! groups are put in the block so validators run them in parallel") instead
//! of re-discovering conflicts. A leader that leaves out valid transactions
//! only censors (as choosing batches could); a leader that keeps an invalid
//! one proposes an invalid block, which no correct replica votes for.

/// Why extra bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtraError {
    /// The bytes end before the fixed fields.
    #[error("extra is {len} bytes, shorter than its fields")]
    Truncated {
        /// Bytes present.
        len: usize,
    },
    /// More left-out positions than candidates.
    #[error("{count} left-out positions for {candidates} candidates")]
    TooManyLeftOut {
        /// Positions claimed.
        count: usize,
        /// Candidates in the payload.
        candidates: usize,
    },
    /// A position is out of range or not above the previous one.
    #[error("left-out position {position} is out of order or beyond {candidates} candidates")]
    BadPosition {
        /// The offending position.
        position: u32,
        /// Candidates in the payload.
        candidates: usize,
    },
}

/// The decoded extra of a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalExtra {
    /// Block timestamp, seconds.
    pub timestamp: u64,
    /// Strictly ascending positions of the candidates not in the block.
    pub left_out: Vec<u32>,
    /// The block's schedule bytes (decoded and judged by the executor).
    pub schedule: Vec<u8>,
}

const FIXED_BYTES: usize = 8 + 4;

impl ProposalExtra {
    /// The canonical encoding.
    ///
    /// # Panics
    /// If `left_out` is not strictly ascending (a programmer error).
    pub fn encode(&self) -> Vec<u8> {
        assert!(self.left_out.windows(2).all(|w| w[0] < w[1]), "left_out must ascend");
        let count = u32::try_from(self.left_out.len()).expect("left_out fits a u32");
        let mut out =
            Vec::with_capacity(FIXED_BYTES + 4 * self.left_out.len() + self.schedule.len());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        for position in &self.left_out {
            out.extend_from_slice(&position.to_be_bytes());
        }
        out.extend_from_slice(&self.schedule);
        out
    }

    /// Decodes the extra of a block whose payload yields `candidates`
    /// candidates. Never allocates more than the input's size.
    pub fn decode(bytes: &[u8], candidates: usize) -> Result<Self, ExtraError> {
        let truncated = ExtraError::Truncated { len: bytes.len() };
        let (fixed, rest) = bytes.split_at_checked(FIXED_BYTES).ok_or(truncated.clone())?;
        let timestamp = u64::from_be_bytes(fixed[..8].try_into().expect("8 bytes"));
        let count = u32::from_be_bytes(fixed[8..].try_into().expect("4 bytes")) as usize;
        if count > candidates {
            return Err(ExtraError::TooManyLeftOut { count, candidates });
        }
        let (positions, schedule) = rest.split_at_checked(4 * count).ok_or(truncated)?;
        let mut left_out = Vec::with_capacity(count);
        for chunk in positions.chunks_exact(4) {
            let position = u32::from_be_bytes(chunk.try_into().expect("4 bytes"));
            let ascending = left_out.last().is_none_or(|&last| position > last);
            if !ascending || position as usize >= candidates {
                return Err(ExtraError::BadPosition { position, candidates });
            }
            left_out.push(position);
        }
        Ok(Self { timestamp, left_out, schedule: schedule.to_vec() })
    }

    /// The timestamp alone (the first 8 bytes), for checks that precede
    /// fetching the payload.
    pub fn timestamp_of(bytes: &[u8]) -> Option<u64> {
        bytes.get(..8).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    /// Removes the left-out positions from `candidates`, keeping order.
    pub fn block_transactions<T>(&self, candidates: Vec<T>) -> Vec<T> {
        let mut skip = self.left_out.iter().peekable();
        candidates
            .into_iter()
            .enumerate()
            .filter(|(index, _)| {
                let left = skip.peek().is_some_and(|&&p| p as usize == *index);
                if left {
                    skip.next();
                }
                !left
            })
            .map(|(_, tx)| tx)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn extra(left_out: Vec<u32>) -> ProposalExtra {
        ProposalExtra { timestamp: 1_700_000_000, left_out, schedule: vec![1, 2, 3] }
    }

    #[test]
    fn removes_left_out_positions_in_order() {
        let e = extra(vec![0, 2, 5]);
        assert_eq!(e.block_transactions((0..7).collect()), vec![1, 3, 4, 6]);
    }

    #[test]
    fn refuses_malformed_positions() {
        let bytes = extra(vec![1, 4]).encode();
        assert_eq!(
            ProposalExtra::decode(&bytes, 4),
            Err(ExtraError::BadPosition { position: 4, candidates: 4 })
        );
        assert_eq!(
            ProposalExtra::decode(&bytes, 1),
            Err(ExtraError::TooManyLeftOut { count: 2, candidates: 1 })
        );
        let mut unordered = bytes[..12].to_vec();
        unordered.extend_from_slice(&3u32.to_be_bytes());
        unordered.extend_from_slice(&3u32.to_be_bytes());
        assert_eq!(
            ProposalExtra::decode(&unordered, 10),
            Err(ExtraError::BadPosition { position: 3, candidates: 10 })
        );
        assert!(matches!(
            ProposalExtra::decode(&bytes[..13], 10),
            Err(ExtraError::Truncated { .. })
        ));
        assert!(matches!(ProposalExtra::decode(&[0; 7], 10), Err(ExtraError::Truncated { .. })));
    }

    proptest! {
        #[test]
        fn round_trips(
            timestamp in any::<u64>(),
            positions in proptest::collection::btree_set(0u32..500, 0..50),
            schedule in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let e = ProposalExtra { timestamp, left_out: positions.into_iter().collect(), schedule };
            let bytes = e.encode();
            prop_assert_eq!(ProposalExtra::timestamp_of(&bytes), Some(timestamp));
            prop_assert_eq!(ProposalExtra::decode(&bytes, 500), Ok(e));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80), n in 0usize..40) {
            let _ = ProposalExtra::decode(&bytes, n);
        }
    }
}

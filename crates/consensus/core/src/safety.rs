//! Safety rules, kept apart from liveness.
//!
//! These pure functions decide whether signing a vote or a timeout is safe
//! and return the new [`SafetyState`]; the replica persists that state
//! (`Action::PersistSafety`) before the signed message leaves. Nothing here
//! depends on time, the pacemaker or the network, so safety holds however
//! badly liveness is attacked.
//!
//! The rules are chained HotStuff's with views (as in LibraBFT):
//! * vote only in a view above every view already voted or timed out in;
//! * vote only for a block whose `justify` is at least the preferred (locked) view;
//! * the preferred view is the highest view of a block that heads a two-chain
//!   (the grandparent of a block we know a QC for).

use crate::types::View;

/// What a replica must remember across restarts to never equivocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SafetyState {
    /// Highest view voted in (or timed out in: a timeout forfeits voting in its view).
    pub last_voted_view: View,
    /// The lock: the view of the highest two-chain head seen. Votes must
    /// extend a QC at least this high.
    pub preferred_view: View,
    /// Highest view a timeout was signed for.
    pub highest_timeout_view: View,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SafetyError {
    /// Already voted or timed out in this view or a later one.
    #[error("view {view} is not above the last voted view {last_voted}")]
    AlreadyVoted {
        /// The view asked for.
        view: View,
        /// The last voted view.
        last_voted: View,
    },
    /// The block's justify is below the lock.
    #[error("justify view {justify} is below the preferred view {preferred}")]
    BelowLock {
        /// The block's justify view.
        justify: View,
        /// The lock.
        preferred: View,
    },
    /// A timeout for a view below one already timed out in.
    #[error("timeout for view {view} is below the highest timeout view {highest}")]
    StaleTimeout {
        /// The view asked for.
        view: View,
        /// The highest timeout view.
        highest: View,
    },
    /// A block whose justify is not from an earlier view.
    #[error("block view {view} does not exceed its justify view {justify}")]
    MalformedBlock {
        /// The block view.
        view: View,
        /// Its justify view.
        justify: View,
    },
}

impl SafetyState {
    /// Decides whether voting for a block of `block_view` whose justify QC has
    /// `justify_view` is safe; if so returns the state to persist first.
    pub fn vote(&self, block_view: View, justify_view: View) -> Result<SafetyState, SafetyError> {
        if justify_view >= block_view {
            return Err(SafetyError::MalformedBlock { view: block_view, justify: justify_view });
        }
        if block_view <= self.last_voted_view {
            return Err(SafetyError::AlreadyVoted {
                view: block_view,
                last_voted: self.last_voted_view,
            });
        }
        if justify_view < self.preferred_view {
            return Err(SafetyError::BelowLock {
                justify: justify_view,
                preferred: self.preferred_view,
            });
        }
        Ok(SafetyState { last_voted_view: block_view, ..*self })
    }

    /// Decides whether signing a timeout for `view` is safe; if so returns the
    /// state to persist first. Timing out forfeits voting in `view`.
    pub fn timeout(&self, view: View) -> Result<SafetyState, SafetyError> {
        if view < self.highest_timeout_view {
            return Err(SafetyError::StaleTimeout { view, highest: self.highest_timeout_view });
        }
        Ok(SafetyState {
            last_voted_view: self.last_voted_view.max(view),
            highest_timeout_view: view,
            ..*self
        })
    }

    /// Raises the lock on learning that a block whose parent has view
    /// `two_chain_head_view` is certified. Returns `None` when unchanged.
    pub fn observe_two_chain(&self, two_chain_head_view: View) -> Option<SafetyState> {
        (two_chain_head_view > self.preferred_view)
            .then_some(SafetyState { preferred_view: two_chain_head_view, ..*self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn never_votes_twice_in_a_view() {
        let s = SafetyState::default();
        let s1 = s.vote(5, 4).unwrap();
        assert_eq!(s1.last_voted_view, 5);
        assert_eq!(s1.vote(5, 4), Err(SafetyError::AlreadyVoted { view: 5, last_voted: 5 }));
        assert_eq!(s1.vote(3, 2), Err(SafetyError::AlreadyVoted { view: 3, last_voted: 5 }));
        assert!(s1.vote(6, 5).is_ok());
    }

    #[test]
    fn never_votes_against_the_lock() {
        let s = SafetyState::default().observe_two_chain(7).unwrap();
        assert_eq!(s.vote(10, 6), Err(SafetyError::BelowLock { justify: 6, preferred: 7 }));
        assert!(s.vote(10, 7).is_ok());
        assert!(s.vote(10, 9).is_ok());
        assert_eq!(s.observe_two_chain(5), None, "the lock never goes down");
    }

    #[test]
    fn timeout_forfeits_the_vote_and_is_monotone() {
        let s = SafetyState::default().timeout(4).unwrap();
        assert_eq!(s.vote(4, 3), Err(SafetyError::AlreadyVoted { view: 4, last_voted: 4 }));
        assert!(s.timeout(4).is_ok(), "re-signing the same view is allowed");
        assert_eq!(s.timeout(3), Err(SafetyError::StaleTimeout { view: 3, highest: 4 }));
        let voted = SafetyState::default().vote(9, 8).unwrap();
        assert_eq!(voted.timeout(9).unwrap().last_voted_view, 9);
    }

    #[test]
    fn rejects_blocks_that_do_not_advance_the_view() {
        assert_eq!(
            SafetyState::default().vote(3, 3),
            Err(SafetyError::MalformedBlock { view: 3, justify: 3 })
        );
    }

    proptest! {
        /// Whatever sequence of requests arrives, accepted votes have strictly
        /// increasing views and always respect the lock at the time.
        #[test]
        fn accepted_votes_are_strictly_increasing(ops in prop::collection::vec((0u8..3, 0u64..20, 0u64..20), 0..60)) {
            let mut s = SafetyState::default();
            let mut last_vote = 0;
            for (op, a, b) in ops {
                match op {
                    0 => if let Ok(n) = s.vote(a, b) {
                        prop_assert!(a > last_vote && b >= s.preferred_view);
                        last_vote = a;
                        s = n;
                    },
                    1 => if let Ok(n) = s.timeout(a) { s = n },
                    _ => if let Some(n) = s.observe_two_chain(a) { s = n },
                }
                prop_assert!(s.last_voted_view >= last_vote);
            }
        }
    }
}

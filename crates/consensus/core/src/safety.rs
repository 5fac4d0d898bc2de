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
//! * timeouts are liveness-only: signing one for view `v` forfeits voting in
//!   `v` (the last voted view rises to `v`) but is allowed for any view, even
//!   one below an earlier timeout. Safety never rests on timeouts (every vote
//!   checks the lock), and a replica restarted into a view below the one it
//!   last timed out in must be able to help form the certificates that move
//!   everyone forward again, or a restart of every replica could leave them
//!   spread over views no quorum shares;
//! * vote only for a block whose `justify` is at least the preferred (locked) view;
//! * the preferred view is the highest view of a block that heads a two-chain
//!   (the grandparent of a block we know a QC for);
//! * propose at most once per view, even across restarts: the proposed view
//!   is persisted before the proposal leaves, so a leader that crashes after
//!   proposing in `v` never signs a second, different block for `v`.

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
    /// Highest view this replica signed a proposal in. It never proposes in
    /// this view or an earlier one again.
    pub last_proposed_view: View,
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
    /// Already proposed in this view or a later one.
    #[error("view {view} is not above the last proposed view {last_proposed}")]
    AlreadyProposed {
        /// The view asked for.
        view: View,
        /// The last proposed view.
        last_proposed: View,
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

    /// The state to persist before signing a timeout for `view` (always
    /// allowed, see the module docs). Timing out forfeits voting in `view`.
    pub fn timeout(&self, view: View) -> SafetyState {
        SafetyState {
            last_voted_view: self.last_voted_view.max(view),
            highest_timeout_view: self.highest_timeout_view.max(view),
            ..*self
        }
    }

    /// Decides whether signing a proposal in `view` is safe (no proposal was
    /// signed in `view` or later); if so returns the state to persist before
    /// the proposal leaves.
    pub fn propose(&self, view: View) -> Result<SafetyState, SafetyError> {
        if view <= self.last_proposed_view {
            return Err(SafetyError::AlreadyProposed {
                view,
                last_proposed: self.last_proposed_view,
            });
        }
        Ok(SafetyState { last_proposed_view: view, ..*self })
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
    fn timeout_forfeits_the_vote_and_keeps_the_state_monotone() {
        let s = SafetyState::default().timeout(4);
        assert_eq!(s.vote(4, 3), Err(SafetyError::AlreadyVoted { view: 4, last_voted: 4 }));
        assert_eq!(s.timeout(4), s, "re-signing the same view changes nothing");
        assert_eq!(s.timeout(3), s, "a lower view may be timed out; nothing goes back");
        let voted = SafetyState::default().vote(9, 8).unwrap();
        assert_eq!(voted.timeout(9).last_voted_view, 9);
    }

    #[test]
    fn proposes_at_most_once_per_view() {
        let s = SafetyState::default().propose(4).unwrap();
        assert_eq!(s.last_proposed_view, 4);
        assert_eq!(s.propose(4), Err(SafetyError::AlreadyProposed { view: 4, last_proposed: 4 }));
        assert_eq!(s.propose(2), Err(SafetyError::AlreadyProposed { view: 2, last_proposed: 4 }));
        assert_eq!(s.vote(4, 3).unwrap().last_proposed_view, 4, "voting keeps the proposal view");
        assert_eq!(s.timeout(9).last_proposed_view, 4);
        assert!(s.propose(5).is_ok());
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
        fn accepted_votes_are_strictly_increasing(ops in prop::collection::vec((0u8..4, 0u64..20, 0u64..20), 0..60)) {
            let mut s = SafetyState::default();
            let (mut last_vote, mut last_proposal) = (0, 0);
            for (op, a, b) in ops {
                match op {
                    0 => if let Ok(n) = s.vote(a, b) {
                        prop_assert!(a > last_vote && b >= s.preferred_view);
                        last_vote = a;
                        s = n;
                    },
                    1 => {
                        let n = s.timeout(a);
                        prop_assert!(n.highest_timeout_view >= s.highest_timeout_view);
                        s = n;
                    }
                    2 => if let Ok(n) = s.propose(a) {
                        prop_assert!(a > last_proposal);
                        last_proposal = a;
                        s = n;
                    },
                    _ => if let Some(n) = s.observe_two_chain(a) { s = n },
                }
                prop_assert!(s.last_voted_view >= last_vote);
                prop_assert_eq!(s.last_proposed_view, last_proposal);
            }
        }
    }
}

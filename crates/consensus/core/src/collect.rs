//! Aggregation of verified votes into QCs and verified timeouts into TCs.
//!
//! Each validator counts once per view (its first message); later
//! conflicting votes are reported as equivocation. Maps are keyed by view and
//! pruned as views advance, so memory is bounded by the view window times `n`.

use crate::cert::{QuorumCert, Timeout, TimeoutCert, Vote};
use crate::types::{ValidatorIndex, View};
use ed25519_dalek::Signature;
use std::collections::{BTreeMap, BTreeSet};

/// What adding a vote produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Counted (or a duplicate); no certificate yet.
    Pending,
    /// The vote completed a quorum.
    Formed(QuorumCert),
    /// The signer already voted differently in this view; carries the first vote.
    Equivocation(Vote),
}

/// Collects votes per view.
#[derive(Debug, Default)]
pub struct VoteCollector {
    votes: BTreeMap<View, BTreeMap<ValidatorIndex, Vote>>,
    formed: BTreeSet<View>,
}

impl VoteCollector {
    /// Adds a verified vote; forms a QC once `quorum` votes agree on a block.
    pub fn add(&mut self, vote: Vote, quorum: usize) -> VoteOutcome {
        let view = vote.view;
        let per_view = self.votes.entry(view).or_default();
        if let Some(first) = per_view.get(&vote.signer) {
            if first.block_id != vote.block_id || first.exec != vote.exec {
                return VoteOutcome::Equivocation(first.clone());
            }
            return VoteOutcome::Pending;
        }
        let (block_id, exec) = (vote.block_id, vote.exec);
        per_view.insert(vote.signer, vote);
        if self.formed.contains(&view) {
            return VoteOutcome::Pending;
        }
        let signatures: Vec<(ValidatorIndex, Signature)> = per_view
            .values()
            .filter(|v| v.block_id == block_id && v.exec == exec)
            .map(|v| (v.signer, v.signature))
            .collect();
        if signatures.len() < quorum {
            return VoteOutcome::Pending;
        }
        self.formed.insert(view);
        VoteOutcome::Formed(QuorumCert { view, block_id, exec, signatures })
    }

    /// Forgets views below `view`.
    pub fn prune_below(&mut self, view: View) {
        self.votes = self.votes.split_off(&view);
        self.formed = self.formed.split_off(&view);
    }
}

/// Per-view timeout collection state.
#[derive(Debug)]
struct ViewTimeouts {
    signatures: BTreeMap<ValidatorIndex, (View, Signature)>,
    high_qc: QuorumCert,
    formed: bool,
}

/// Collects timeouts per view.
#[derive(Debug, Default)]
pub struct TimeoutCollector {
    views: BTreeMap<View, ViewTimeouts>,
}

impl TimeoutCollector {
    /// Adds a verified timeout. Returns how many distinct signers timed out in
    /// its view, and the TC when this timeout completed a quorum.
    pub fn add(&mut self, timeout: &Timeout, quorum: usize) -> (usize, Option<TimeoutCert>) {
        let entry = self.views.entry(timeout.view).or_insert_with(|| ViewTimeouts {
            signatures: BTreeMap::new(),
            high_qc: timeout.high_qc.clone(),
            formed: false,
        });
        if entry.signatures.contains_key(&timeout.signer) {
            return (entry.signatures.len(), None);
        }
        entry.signatures.insert(timeout.signer, (timeout.high_qc.view, timeout.signature));
        if timeout.high_qc.view > entry.high_qc.view {
            entry.high_qc = timeout.high_qc.clone();
        }
        let count = entry.signatures.len();
        if entry.formed || count < quorum {
            return (count, None);
        }
        entry.formed = true;
        let signatures: Vec<(ValidatorIndex, View, Signature)> =
            entry.signatures.iter().map(|(s, (h, sig))| (*s, *h, *sig)).collect();
        let tc = TimeoutCert { view: timeout.view, high_qc: entry.high_qc.clone(), signatures };
        (count, Some(tc))
    }

    /// Forgets views below `view`.
    pub fn prune_below(&mut self, view: View) {
        self.views = self.views.split_off(&view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::tests::{qc_from, set_of, signers};
    use alloy_primitives::B256;

    #[test]
    fn forms_qc_once_at_quorum_and_flags_double_votes() {
        let s = signers(4);
        let set = set_of(&s);
        let g = set.genesis_id();
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let vote = |i: u16, block| {
            Vote::new(&s[usize::from(i)], g, ValidatorIndex(i), 3, block, B256::ZERO)
        };
        let mut c = VoteCollector::default();
        assert_eq!(c.add(vote(2, a), 3), VoteOutcome::Pending);
        assert_eq!(c.add(vote(2, a), 3), VoteOutcome::Pending, "duplicates count once");
        assert_eq!(c.add(vote(0, a), 3), VoteOutcome::Pending);
        assert_eq!(c.add(vote(1, b), 3), VoteOutcome::Pending);
        assert_eq!(c.add(vote(1, a), 3), VoteOutcome::Equivocation(vote(1, b)));
        let VoteOutcome::Formed(qc) = c.add(vote(3, a), 3) else { panic!("no QC") };
        assert_eq!(qc.signatures.iter().map(|(i, _)| i.0).collect::<Vec<_>>(), vec![0, 2, 3]);
        assert_eq!(qc.verify(&set), Ok(()));
        c.prune_below(4);
        assert_eq!(c.add(vote(2, a), 3), VoteOutcome::Pending);
    }

    #[test]
    fn forms_tc_carrying_highest_qc() {
        let s = signers(4);
        let set = set_of(&s);
        let g = set.genesis_id();
        let low = qc_from(&s, &[0, 1, 2], 2, B256::repeat_byte(1));
        let high = qc_from(&s, &[0, 1, 2], 3, B256::repeat_byte(2));
        let t = |i: u16, qc: &QuorumCert| {
            Timeout::new(&s[usize::from(i)], g, ValidatorIndex(i), 5, qc.clone(), None, None)
        };
        let mut c = TimeoutCollector::default();
        assert_eq!(c.add(&t(0, &low), 3), (1, None));
        assert_eq!(c.add(&t(3, &high), 3), (2, None));
        let (count, Some(tc)) = c.add(&t(1, &low), 3) else { panic!("no TC") };
        assert_eq!(count, 3);
        assert_eq!(tc.high_qc, high);
        assert_eq!(tc.verify(&set), Ok(()));
        assert_eq!(c.add(&t(2, &low), 3), (4, None), "formed once");
    }
}

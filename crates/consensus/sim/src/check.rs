//! Invariant checkers run on every commit and at the end of a run.

use phalanx_consensus_core::{BlockId, CertifiedBlock, Height, QuorumCert, ValidatorSet};
use std::collections::BTreeMap;

/// A property the simulator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// No two correct replicas commit different blocks at one height.
    Agreement,
    /// Every committed block carries a valid QC for itself.
    Certificate,
    /// Each replica's committed heights are contiguous from 1.
    Contiguity,
    /// After the faults stop, commits resume within bounded virtual time.
    Liveness,
    /// A vote or timeout left before the safety state covering it was persisted.
    PersistBeforeSign,
    /// A persisted safety state went backwards.
    SafetyRegression,
    /// The core asked to execute a block whose parent state the driver lacks.
    ExecuteOrder,
    /// A correct replica produced evidence against a correct validator.
    FalseEvidence,
    /// The durable certified chain is not a chain of certified blocks
    /// extending the committed tip, or exceeds its bound.
    PersistedChain,
    /// The configuration is impossible (e.g. more than `f` Byzantine validators).
    Config,
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// One invariant violation, before the run adds seed and step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What was violated.
    pub invariant: Invariant,
    /// Human-readable specifics (heights, ids, nodes).
    pub details: String,
}

impl Violation {
    pub(crate) fn new(invariant: Invariant, details: String) -> Self {
        Self { invariant, details }
    }
}

/// Tracks commits across replicas (and across their crashes: the committed
/// log is durable) and checks agreement, certificates and contiguity.
#[derive(Debug)]
pub struct CommitChecker {
    validators: ValidatorSet,
    /// The first block a correct node committed at each height, and which node.
    canonical: BTreeMap<Height, (BlockId, usize)>,
    /// Highest height committed per node.
    last: BTreeMap<usize, Height>,
    /// QCs already verified, per block, so each is batch-verified once.
    verified: BTreeMap<BlockId, Vec<QuorumCert>>,
}

impl CommitChecker {
    /// A checker for one chain.
    pub fn new(validators: ValidatorSet) -> Self {
        Self {
            validators,
            canonical: BTreeMap::new(),
            last: BTreeMap::new(),
            verified: BTreeMap::new(),
        }
    }

    /// Checks and records that `node` committed `cb`. Agreement is only
    /// enforced between `correct` nodes; certificates and contiguity for all.
    pub fn commit(
        &mut self,
        node: usize,
        correct: bool,
        cb: &CertifiedBlock,
    ) -> Result<(), Violation> {
        let height = cb.block.height;
        let last = self.last.get(&node).copied().unwrap_or(0);
        if height != last + 1 {
            return Err(Violation::new(
                Invariant::Contiguity,
                format!("node {node} committed height {height} after {last}"),
            ));
        }
        self.last.insert(node, height);
        let id = cb.block.id();
        self.check_certificate(node, id, cb)?;
        if !correct {
            return Ok(());
        }
        match self.canonical.get(&height) {
            Some((other, by)) if *other != id => Err(Violation::new(
                Invariant::Agreement,
                format!("height {height}: node {node} committed {id}, node {by} committed {other}"),
            )),
            Some(_) => Ok(()),
            None => {
                self.canonical.insert(height, (id, node));
                Ok(())
            }
        }
    }

    fn check_certificate(
        &mut self,
        node: usize,
        id: BlockId,
        cb: &CertifiedBlock,
    ) -> Result<(), Violation> {
        let bad = |why: String| {
            Violation::new(
                Invariant::Certificate,
                format!("node {node} committed {id} at height {}: {why}", cb.block.height),
            )
        };
        if cb.qc.block_id != id || cb.qc.view != cb.block.view || cb.qc.exec != cb.block.exec {
            return Err(bad(format!("QC names block {} view {}", cb.qc.block_id, cb.qc.view)));
        }
        let known = self.verified.entry(id).or_default();
        if known.contains(&cb.qc) {
            return Ok(());
        }
        cb.qc.verify(&self.validators).map_err(|e| bad(format!("QC does not verify: {e}")))?;
        known.push(cb.qc.clone());
        Ok(())
    }

    /// The highest height any node committed.
    pub fn max_height(&self) -> Height {
        self.last.values().copied().max().unwrap_or(0)
    }

    /// The highest height committed by a correct node (the agreed prefix length).
    pub fn canonical_height(&self) -> Height {
        self.canonical.keys().next_back().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256};
    use phalanx_consensus_core::{Block, Ed25519Signer, Signer, ValidatorIndex, Vote};

    fn setup() -> (Vec<Ed25519Signer>, ValidatorSet) {
        let s: Vec<Ed25519Signer> =
            (0..4).map(|i| Ed25519Signer::from_seed([i as u8 + 1; 32])).collect();
        let keys = s.iter().map(|k| k.public_key()).collect();
        let set = ValidatorSet::new(keys, vec![Address::ZERO; 4], B256::repeat_byte(7)).unwrap();
        (s, set)
    }

    fn certified(s: &[Ed25519Signer], set: &ValidatorSet, height: u64, tag: u8) -> CertifiedBlock {
        let genesis = set.genesis_id();
        let block = Block {
            view: height,
            height,
            parent_id: genesis,
            payload: vec![B256::repeat_byte(tag)],
            exec: B256::ZERO,
            extra: Vec::new(),
            proposer: ValidatorIndex(0),
            justify: QuorumCert::genesis(genesis),
        };
        let id = block.id();
        let signatures = (0..3u16)
            .map(|i| {
                let v = Vote::new(
                    &s[usize::from(i)],
                    genesis,
                    ValidatorIndex(i),
                    height,
                    id,
                    B256::ZERO,
                );
                (v.signer, v.signature)
            })
            .collect();
        CertifiedBlock {
            block,
            qc: QuorumCert { view: height, block_id: id, exec: B256::ZERO, signatures },
        }
    }

    #[test]
    fn two_different_commits_at_one_height_are_caught() {
        let (s, set) = setup();
        let mut c = CommitChecker::new(set.clone());
        c.commit(0, true, &certified(&s, &set, 1, 1)).unwrap();
        c.commit(1, true, &certified(&s, &set, 1, 1)).unwrap();
        let err = c.commit(2, true, &certified(&s, &set, 1, 2)).unwrap_err();
        assert_eq!(err.invariant, Invariant::Agreement);
        // A faulty node's divergent commit is not an agreement violation.
        c.commit(3, false, &certified(&s, &set, 1, 3)).unwrap();
    }

    #[test]
    fn gaps_and_bad_certificates_are_caught() {
        let (s, set) = setup();
        let mut c = CommitChecker::new(set.clone());
        let err = c.commit(0, true, &certified(&s, &set, 2, 1)).unwrap_err();
        assert_eq!(err.invariant, Invariant::Contiguity);
        let mut forged = certified(&s, &set, 1, 1);
        forged.qc.signatures[0].1 = forged.qc.signatures[1].1;
        let err = c.commit(1, true, &forged).unwrap_err();
        assert_eq!(err.invariant, Invariant::Certificate);
        let mut moved = certified(&s, &set, 1, 1);
        moved.qc.block_id = B256::repeat_byte(9);
        assert_eq!(c.commit(2, true, &moved).unwrap_err().invariant, Invariant::Certificate);
        assert_eq!(c.max_height(), 1);
    }
}

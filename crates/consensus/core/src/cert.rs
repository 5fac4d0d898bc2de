//! Signed votes and timeouts, and the certificates formed from a quorum of them.
//!
//! Single messages are checked with `verify_strict` (exact equation, no
//! small-order keys); certificates are checked with `verify_batch`. A strict
//! signature always passes the batch equation, so a certificate an honest
//! replica assembles from strictly verified messages verifies everywhere.

use crate::types::{BlockId, ExecDigest, ValidatorIndex, View};
use crate::validators::{Signer, ValidatorSet};
use alloy_primitives::B256;
use ed25519_dalek::{Signature, VerifyingKey};

const VOTE_DOMAIN: &[u8] = b"phalanx/consensus/vote/v1";
const TIMEOUT_DOMAIN: &[u8] = b"phalanx/consensus/timeout/v1";
const PROPOSAL_DOMAIN: &[u8] = b"phalanx/consensus/proposal/v1";

/// Why a signature or certificate was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The signer index is not in the validator set.
    #[error("unknown signer {signer}")]
    UnknownSigner {
        /// The offending index.
        signer: ValidatorIndex,
    },
    /// Signers are not strictly increasing (a duplicate or unsorted list).
    #[error("signer {signer} is duplicated or out of order")]
    DuplicateSigner {
        /// The first index that broke the order.
        signer: ValidatorIndex,
    },
    /// Fewer than a quorum of signatures.
    #[error("{have} signatures, quorum is {need}")]
    NoQuorum {
        /// Signatures present.
        have: usize,
        /// Signatures required.
        need: usize,
    },
    /// A signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// A view-0 certificate that is not the genesis certificate.
    #[error("view-0 certificate does not certify the genesis block")]
    BadGenesis,
    /// A timeout certificate whose carried QC is not the highest its signers reported.
    #[error("timeout certificate carries QC of view {carried}, signers reported {reported}")]
    HighQcMismatch {
        /// View of the carried QC.
        carried: View,
        /// Highest QC view among the signatures.
        reported: View,
    },
}

fn signing_bytes(domain: &[u8], genesis: B256, fields: &[&[u8]]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(domain.len() + 32 + fields.iter().map(|f| f.len()).sum::<usize>());
    out.extend_from_slice(domain);
    out.extend_from_slice(genesis.as_slice());
    for f in fields {
        out.extend_from_slice(f);
    }
    out
}

/// The bytes a vote signs: domain tag, genesis id, view, block id, exec digest.
pub fn vote_signing_bytes(genesis: B256, view: View, block: BlockId, exec: ExecDigest) -> Vec<u8> {
    signing_bytes(VOTE_DOMAIN, genesis, &[&view.to_be_bytes(), block.as_slice(), exec.as_slice()])
}

/// The bytes a timeout signs: domain tag, genesis id, view, the signer's high-QC view.
pub fn timeout_signing_bytes(genesis: B256, view: View, high_qc_view: View) -> Vec<u8> {
    signing_bytes(TIMEOUT_DOMAIN, genesis, &[&view.to_be_bytes(), &high_qc_view.to_be_bytes()])
}

/// The bytes a proposal signs: domain tag, genesis id, view, block id.
pub fn proposal_signing_bytes(genesis: B256, view: View, block: BlockId) -> Vec<u8> {
    signing_bytes(PROPOSAL_DOMAIN, genesis, &[&view.to_be_bytes(), block.as_slice()])
}

/// Verifies one signature strictly against a member's key.
pub fn verify_one(
    validators: &ValidatorSet,
    signer: ValidatorIndex,
    message: &[u8],
    signature: &Signature,
) -> Result<(), CertError> {
    let key = validators.key(signer).ok_or(CertError::UnknownSigner { signer })?;
    key.verify_strict(message, signature).map_err(|_| CertError::BadSignature)
}

/// A vote: a validator's signature for a block (and its execution results) in a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// The block's view.
    pub view: View,
    /// The block voted for.
    pub block_id: BlockId,
    /// The execution results digest the voter computed (equal to the block's).
    pub exec: ExecDigest,
    /// Who votes.
    pub signer: ValidatorIndex,
    /// Signature over [`vote_signing_bytes`].
    pub signature: Signature,
}

impl Vote {
    /// Signs a vote. Public so tests and Byzantine mocks can forge votes.
    pub fn new(
        signer_key: &dyn Signer,
        genesis: B256,
        signer: ValidatorIndex,
        view: View,
        block_id: BlockId,
        exec: ExecDigest,
    ) -> Self {
        let signature = signer_key.sign(&vote_signing_bytes(genesis, view, block_id, exec));
        Self { view, block_id, exec, signer, signature }
    }

    /// Checks the signer is a member and the signature is valid.
    pub fn verify(&self, validators: &ValidatorSet) -> Result<(), CertError> {
        let msg = vote_signing_bytes(validators.genesis_id(), self.view, self.block_id, self.exec);
        verify_one(validators, self.signer, &msg, &self.signature)
    }
}

/// A quorum certificate: a quorum of votes for one block in one view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumCert {
    /// The certified block's view.
    pub view: View,
    /// The certified block.
    pub block_id: BlockId,
    /// The certified execution results digest.
    pub exec: ExecDigest,
    /// `(signer, signature)` pairs, signers strictly increasing.
    pub signatures: Vec<(ValidatorIndex, Signature)>,
}

impl QuorumCert {
    /// The genesis certificate: view 0, no signatures, certifies the genesis block.
    pub fn genesis(genesis_id: BlockId) -> Self {
        Self { view: 0, block_id: genesis_id, exec: B256::ZERO, signatures: Vec::new() }
    }

    /// Verifies membership, order, quorum and (batch) signatures.
    pub fn verify(&self, validators: &ValidatorSet) -> Result<(), CertError> {
        if self.view == 0 {
            return if *self == Self::genesis(validators.genesis_id()) {
                Ok(())
            } else {
                Err(CertError::BadGenesis)
            };
        }
        let signers: Vec<ValidatorIndex> = self.signatures.iter().map(|(s, _)| *s).collect();
        let keys = check_signers(validators, &signers)?;
        let msg = vote_signing_bytes(validators.genesis_id(), self.view, self.block_id, self.exec);
        let messages: Vec<&[u8]> = vec![&msg; keys.len()];
        let sigs: Vec<Signature> = self.signatures.iter().map(|(_, s)| *s).collect();
        ed25519_dalek::verify_batch(&messages, &sigs, &keys).map_err(|_| CertError::BadSignature)
    }
}

/// Checks signers are known, strictly increasing and a quorum; returns their keys.
fn check_signers(
    validators: &ValidatorSet,
    signers: &[ValidatorIndex],
) -> Result<Vec<VerifyingKey>, CertError> {
    let mut keys = Vec::with_capacity(signers.len());
    for (i, &signer) in signers.iter().enumerate() {
        if i > 0 && signers[i - 1] >= signer {
            return Err(CertError::DuplicateSigner { signer });
        }
        keys.push(*validators.key(signer).ok_or(CertError::UnknownSigner { signer })?);
    }
    if keys.len() < validators.quorum() {
        return Err(CertError::NoQuorum { have: keys.len(), need: validators.quorum() });
    }
    Ok(keys)
}

/// A signed timeout: the signer gives up on `view` and reports its highest QC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    /// The view given up on.
    pub view: View,
    /// The signer's highest quorum certificate.
    pub high_qc: QuorumCert,
    /// The timeout certificate for `view - 1`, when the signer entered `view` through one;
    /// it lets lagging replicas catch up.
    pub last_tc: Option<TimeoutCert>,
    /// The signer's vote in `view`, if it cast one. Replicas aggregate these
    /// so a block whose next leader is silent still gets certified.
    pub vote: Option<Vote>,
    /// Who times out.
    pub signer: ValidatorIndex,
    /// Signature over [`timeout_signing_bytes`] with `high_qc.view`.
    pub signature: Signature,
}

impl Timeout {
    /// Signs a timeout. Public so tests and Byzantine mocks can forge timeouts.
    pub fn new(
        signer_key: &dyn Signer,
        genesis: B256,
        signer: ValidatorIndex,
        view: View,
        high_qc: QuorumCert,
        last_tc: Option<TimeoutCert>,
        vote: Option<Vote>,
    ) -> Self {
        let signature = signer_key.sign(&timeout_signing_bytes(genesis, view, high_qc.view));
        Self { view, high_qc, last_tc, vote, signer, signature }
    }

    /// Checks the signer and signature only (not the carried certificates).
    pub fn verify_signature(&self, validators: &ValidatorSet) -> Result<(), CertError> {
        let msg = timeout_signing_bytes(validators.genesis_id(), self.view, self.high_qc.view);
        verify_one(validators, self.signer, &msg, &self.signature)
    }
}

/// A timeout certificate: a quorum of timeouts for one view. Moves everyone to
/// `view + 1` and carries the highest QC its signers reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutCert {
    /// The view that timed out.
    pub view: View,
    /// The highest QC among the signers' reports.
    pub high_qc: QuorumCert,
    /// `(signer, signer's high-QC view, signature)`, signers strictly increasing.
    pub signatures: Vec<(ValidatorIndex, View, Signature)>,
}

impl TimeoutCert {
    /// Verifies membership, order, quorum, batch signatures and that `high_qc`
    /// is the highest reported; also verifies `high_qc` itself.
    pub fn verify(&self, validators: &ValidatorSet) -> Result<(), CertError> {
        let signers: Vec<ValidatorIndex> = self.signatures.iter().map(|(s, _, _)| *s).collect();
        let keys = check_signers(validators, &signers)?;
        let reported = self.signatures.iter().map(|(_, v, _)| *v).max().unwrap_or(0);
        if reported != self.high_qc.view {
            return Err(CertError::HighQcMismatch { carried: self.high_qc.view, reported });
        }
        let genesis = validators.genesis_id();
        let owned: Vec<Vec<u8>> = self
            .signatures
            .iter()
            .map(|(_, hqc, _)| timeout_signing_bytes(genesis, self.view, *hqc))
            .collect();
        let messages: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let sigs: Vec<Signature> = self.signatures.iter().map(|(_, _, s)| *s).collect();
        ed25519_dalek::verify_batch(&messages, &sigs, &keys)
            .map_err(|_| CertError::BadSignature)?;
        self.high_qc.verify(validators)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::validators::Ed25519Signer;
    use phalanx_core_types::Address;

    pub(crate) fn signers(n: usize) -> Vec<Ed25519Signer> {
        (0..n).map(|i| Ed25519Signer::from_seed([i as u8 + 1; 32])).collect()
    }

    pub(crate) fn set_of(signers: &[Ed25519Signer]) -> ValidatorSet {
        let keys = signers.iter().map(|s| s.public_key()).collect();
        ValidatorSet::new(keys, vec![Address::ZERO; signers.len()], B256::repeat_byte(0x99))
            .unwrap()
    }

    pub(crate) fn qc_from(
        signers: &[Ed25519Signer],
        who: &[u16],
        view: View,
        block: BlockId,
    ) -> QuorumCert {
        qc_with_exec(signers, who, view, block, B256::ZERO)
    }

    /// A QC by `who` on `block` at `view` with execution results `exec`.
    pub(crate) fn qc_with_exec(
        signers: &[Ed25519Signer],
        who: &[u16],
        view: View,
        block: BlockId,
        exec: ExecDigest,
    ) -> QuorumCert {
        let set = set_of(signers);
        let signatures = who
            .iter()
            .map(|&i| {
                let v = Vote::new(
                    &signers[usize::from(i)],
                    set.genesis_id(),
                    ValidatorIndex(i),
                    view,
                    block,
                    exec,
                );
                (v.signer, v.signature)
            })
            .collect();
        QuorumCert { view, block_id: block, exec, signatures }
    }

    #[test]
    fn qc_with_quorum_verifies() {
        let s = signers(4);
        let qc = qc_from(&s, &[0, 2, 3], 5, B256::repeat_byte(1));
        assert_eq!(qc.verify(&set_of(&s)), Ok(()));
    }

    #[test]
    fn qc_rejects_duplicates_unknown_short_and_forged() {
        let s = signers(4);
        let set = set_of(&s);
        let block = B256::repeat_byte(1);
        let dup = qc_from(&s, &[0, 2, 2], 5, block);
        assert_eq!(dup.verify(&set), Err(CertError::DuplicateSigner { signer: ValidatorIndex(2) }));
        let unsorted = qc_from(&s, &[2, 0, 3], 5, block);
        assert!(matches!(unsorted.verify(&set), Err(CertError::DuplicateSigner { .. })));
        let short = qc_from(&s, &[0, 1], 5, block);
        assert_eq!(short.verify(&set), Err(CertError::NoQuorum { have: 2, need: 3 }));
        let mut unknown = qc_from(&s, &[0, 1, 2], 5, block);
        unknown.signatures[2].0 = ValidatorIndex(9);
        assert_eq!(
            unknown.verify(&set),
            Err(CertError::UnknownSigner { signer: ValidatorIndex(9) })
        );
        // Validator 3 signs in place of validator 2: a forged signature.
        let mut forged = qc_from(&s, &[0, 1, 3], 5, block);
        forged.signatures[2].0 = ValidatorIndex(2);
        assert_eq!(forged.verify(&set), Err(CertError::BadSignature));
        // A valid QC moved to another block does not verify.
        let mut moved = qc_from(&s, &[0, 1, 2], 5, block);
        moved.block_id = B256::repeat_byte(2);
        assert_eq!(moved.verify(&set), Err(CertError::BadSignature));
    }

    #[test]
    fn genesis_qc_only_for_genesis_block() {
        let s = signers(4);
        let set = set_of(&s);
        assert_eq!(QuorumCert::genesis(set.genesis_id()).verify(&set), Ok(()));
        assert_eq!(QuorumCert::genesis(B256::ZERO).verify(&set), Err(CertError::BadGenesis));
    }

    fn tc_from(
        s: &[Ed25519Signer],
        who: &[(u16, View)],
        view: View,
        high_qc: QuorumCert,
    ) -> TimeoutCert {
        let set = set_of(s);
        let signatures = who
            .iter()
            .map(|&(i, hqc)| {
                let sig =
                    s[usize::from(i)].sign(&timeout_signing_bytes(set.genesis_id(), view, hqc));
                (ValidatorIndex(i), hqc, sig)
            })
            .collect();
        TimeoutCert { view, high_qc, signatures }
    }

    #[test]
    fn tc_verifies_and_checks_high_qc() {
        let s = signers(4);
        let set = set_of(&s);
        let qc = qc_from(&s, &[0, 1, 2], 4, B256::repeat_byte(1));
        let tc = tc_from(&s, &[(0, 4), (1, 3), (3, 4)], 6, qc.clone());
        assert_eq!(tc.verify(&set), Ok(()));
        let lying = tc_from(&s, &[(0, 3), (1, 3), (3, 3)], 6, qc.clone());
        assert_eq!(lying.verify(&set), Err(CertError::HighQcMismatch { carried: 4, reported: 3 }));
        let mut forged = tc_from(&s, &[(0, 4), (1, 3), (3, 4)], 6, qc);
        forged.signatures[1].1 = 4;
        assert_eq!(forged.verify(&set), Err(CertError::BadSignature));
    }

    #[test]
    fn single_votes_verify_strictly() {
        let s = signers(4);
        let set = set_of(&s);
        let v = Vote::new(&s[1], set.genesis_id(), ValidatorIndex(1), 3, B256::ZERO, B256::ZERO);
        assert_eq!(v.verify(&set), Ok(()));
        let mut wrong = v.clone();
        wrong.signer = ValidatorIndex(2);
        assert_eq!(wrong.verify(&set), Err(CertError::BadSignature));
        wrong.signer = ValidatorIndex(7);
        assert_eq!(wrong.verify(&set), Err(CertError::UnknownSigner { signer: ValidatorIndex(7) }));
    }
}

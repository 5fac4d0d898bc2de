//! Consensus messages exchanged between replicas. Encoded by [`crate::codec`].

use crate::cert::{
    proposal_signing_bytes, verify_one, CertError, QuorumCert, Timeout, TimeoutCert, Vote,
};
use crate::types::{Block, BlockId, CertifiedBlock, Height};
use crate::validators::{Signer, ValidatorSet};
use alloy_primitives::B256;
use ed25519_dalek::Signature;

/// Most blocks one [`BlockResponse`] may carry.
pub const MAX_BLOCKS_PER_RESPONSE: usize = 32;

/// A leader's signed proposal of a block for its view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The proposed block; `block.proposer` signs.
    pub block: Block,
    /// The timeout certificate for `block.view - 1`, present when the block's
    /// `justify` is not from the previous view.
    pub tc: Option<TimeoutCert>,
    /// The proposer's signature over [`proposal_signing_bytes`] of `(view, id)`.
    pub signature: Signature,
}

impl Proposal {
    /// Signs a proposal. Public so tests and Byzantine mocks can equivocate.
    pub fn new(
        signer_key: &dyn Signer,
        genesis: B256,
        block: Block,
        tc: Option<TimeoutCert>,
    ) -> Self {
        let signature = signer_key.sign(&proposal_signing_bytes(genesis, block.view, block.id()));
        Self { block, tc, signature }
    }

    /// Checks the proposer's signature given the block id (computed once by the caller).
    pub fn verify_signature(
        &self,
        validators: &ValidatorSet,
        id: BlockId,
    ) -> Result<(), CertError> {
        let msg = proposal_signing_bytes(validators.genesis_id(), self.block.view, id);
        verify_one(validators, self.block.proposer, &msg, &self.signature)
    }
}

/// The sender's highest certificates; sent to a replica that is behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncInfo {
    /// The sender's highest QC.
    pub high_qc: QuorumCert,
    /// The sender's highest TC, if higher than `high_qc`.
    pub high_tc: Option<TimeoutCert>,
}

/// Asks for the chain ending at `target`, from `from_height` upwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRequest {
    /// Lowest height wanted (the requester's committed height plus one).
    pub from_height: Height,
    /// The block whose ancestors (and itself) are wanted.
    pub target: BlockId,
}

/// Certified blocks in ascending height order, at most [`MAX_BLOCKS_PER_RESPONSE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockResponse {
    /// The target the response answers.
    pub target: BlockId,
    /// Blocks, each with the QC that certifies it, parents first.
    pub blocks: Vec<CertifiedBlock>,
}

/// Everything replicas send each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A leader's proposal (broadcast).
    Proposal(Proposal),
    /// A vote (sent to the next view's leader).
    Vote(Vote),
    /// A timeout (broadcast).
    Timeout(Timeout),
    /// Highest certificates (sent to a lagging replica).
    SyncInfo(SyncInfo),
    /// A request for missing blocks.
    BlockRequest(BlockRequest),
    /// The answer to a [`BlockRequest`].
    BlockResponse(BlockResponse),
}

impl Message {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Proposal(_) => "proposal",
            Message::Vote(_) => "vote",
            Message::Timeout(_) => "timeout",
            Message::SyncInfo(_) => "sync_info",
            Message::BlockRequest(_) => "block_request",
            Message::BlockResponse(_) => "block_response",
        }
    }
}

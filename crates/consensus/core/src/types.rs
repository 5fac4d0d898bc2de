//! The consensus core's block vocabulary: views, heights, block identity.
//!
//! Consensus runs on hashes: a [`Block`] carries only the digests of the
//! transaction batches it orders and the digest of its execution results. The
//! driver maps it to Phalanx's full block.

use crate::cert::QuorumCert;
use crate::codec::{Encode, Writer};
use alloy_primitives::{keccak256, B256};

/// A consensus view (round). Each view has one deterministic leader.
pub type View = u64;
/// A block height; the genesis block has height 0.
pub type Height = u64;
/// Identity of a block: keccak256 of its canonical encoding.
pub type BlockId = B256;
/// Digest of a block's execution results (state root, receipts root and
/// schedule hash combined by the driver).
pub type ExecDigest = B256;

/// Index of a validator in the [`crate::ValidatorSet`] (its position in genesis order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorIndex(pub u16);

impl std::fmt::Display for ValidatorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// Most batch digests one block may order; bounds proposals from peers.
pub const MAX_PAYLOAD_DIGESTS: usize = 4096;
/// Most bytes of [`Block::extra`]; bounds proposals from peers.
pub const MAX_EXTRA_BYTES: usize = 4 << 20;

/// A consensus block. Its [`Block::id`] commits to every field, including the
/// quorum certificate `justify` that certifies its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The view in which it was proposed.
    pub view: View,
    /// Its height: the parent's height plus one.
    pub height: Height,
    /// The parent block; always equal to `justify.block_id`.
    pub parent_id: BlockId,
    /// Digests of the transaction batches it orders (consensus on hashes).
    pub payload: Vec<B256>,
    /// The leader's execution results digest for this block.
    pub exec: ExecDigest,
    /// Driver-defined bytes the block id commits to, at most
    /// [`MAX_EXTRA_BYTES`]: what every replica needs to re-execute the block
    /// besides its batches (Phalanx: the timestamp and the execution schedule).
    pub extra: Vec<u8>,
    /// The leader of `view`, who proposed it.
    pub proposer: ValidatorIndex,
    /// The quorum certificate of the parent block.
    pub justify: QuorumCert,
}

impl Block {
    /// The block id: keccak256 of the canonical encoding. Recomputed on every
    /// call; callers that need it repeatedly should keep it.
    pub fn id(&self) -> BlockId {
        let mut w = Writer::default();
        self.encode(&mut w);
        keccak256(w.finish())
    }

    /// A reference to this block (id, view, height).
    pub fn as_ref(&self) -> BlockRef {
        BlockRef { id: self.id(), view: self.view, height: self.height }
    }
}

/// Enough to name a block and place it in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// The block id.
    pub id: BlockId,
    /// The view it was proposed in (0 for genesis).
    pub view: View,
    /// Its height.
    pub height: Height,
}

/// What the driver returns for a [`crate::Action::BuildProposal`]: the batch
/// digests it chose and the digest of the results of executing them on top of
/// the parent's (speculative) state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockProposalBody {
    /// Batch digests, at most [`MAX_PAYLOAD_DIGESTS`].
    pub payload: Vec<B256>,
    /// The execution results digest.
    pub exec: ExecDigest,
    /// Driver-defined bytes for [`Block::extra`], at most [`MAX_EXTRA_BYTES`].
    pub extra: Vec<u8>,
}

/// A block together with the quorum certificate that certifies it
/// (`qc.block_id == block.id()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedBlock {
    /// The block.
    pub block: Block,
    /// Its certificate.
    pub qc: QuorumCert,
}

//! The core's interface with its driver: events in, actions out, evidence and metrics.

use crate::message::Message;
use crate::safety::SafetyState;
use crate::types::{
    Block, BlockId, BlockProposalBody, BlockRef, CertifiedBlock, ExecDigest, Height,
    ValidatorIndex, View,
};
use alloy_primitives::B256;
use ed25519_dalek::Signature;

/// Something that happened, fed to [`crate::Replica::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The driver is ready: arm the first timer and, as leader, ask for a proposal.
    Start,
    /// A message from a peer (already decoded; the core verifies it).
    Message {
        /// The authenticated sender.
        from: ValidatorIndex,
        /// The message.
        msg: Message,
    },
    /// A timer set by [`Action::SetTimer`] expired.
    TimerFired {
        /// The view it was set for.
        view: View,
    },
    /// Answer to [`Action::BuildProposal`]: the leader's block was built and executed.
    ProposalReady {
        /// The view it was built for.
        view: View,
        /// The chosen batch digests and the execution results digest.
        block: BlockProposalBody,
    },
    /// Answer to [`Action::Execute`].
    BlockExecuted {
        /// The block executed.
        block_id: BlockId,
        /// The execution results digest the replica computed.
        results: ExecDigest,
        /// False when the block could not be executed at all (invalid contents).
        ok: bool,
    },
    /// Answer to [`Action::FetchPayload`]: every batch of the block is held locally.
    PayloadAvailable {
        /// The block.
        block_id: BlockId,
    },
}

/// Something the driver must do. Actions are executed in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a message to one validator.
    Send {
        /// The recipient.
        to: ValidatorIndex,
        /// The message.
        msg: Message,
    },
    /// Send a message to every other validator (not to this replica).
    Broadcast {
        /// The message.
        msg: Message,
    },
    /// Fire [`Event::TimerFired`] for `view` after `duration_ms`. Replaces any
    /// earlier timer: at most one timer is live.
    SetTimer {
        /// The view the timer belongs to.
        view: View,
        /// Delay from now.
        duration_ms: u64,
    },
    /// As leader of `view`: pick batches, build a block on top of `parent`'s
    /// (speculative) post-state, execute it, and answer with
    /// [`Event::ProposalReady`]. The resulting block id becomes known from the
    /// [`Message::Proposal`] the core then broadcasts.
    BuildProposal {
        /// The view to propose in.
        view: View,
        /// The block to build on (always already executed locally).
        parent: BlockRef,
    },
    /// Make sure every batch in `digests` is held locally (fetching from
    /// `from` or anyone), then answer with [`Event::PayloadAvailable`]
    /// (immediately if already held).
    FetchPayload {
        /// The block needing the batches.
        block_id: BlockId,
        /// The batch digests.
        digests: Vec<B256>,
        /// The peer the block came from; a hint.
        from: ValidatorIndex,
    },
    /// Execute `block` on top of its parent's (speculative) post-state and
    /// answer with [`Event::BlockExecuted`]. The parent is the committed tip or
    /// a block this action was already issued for and answered `ok`.
    Execute {
        /// The block.
        block: Block,
    },
    /// Durably persist the safety state before executing any later action.
    PersistSafety(SafetyState),
    /// Update the durable *certified chain*: the certified, not yet committed
    /// blocks from the committed root upward that the replica's safety state
    /// may depend on, which it gets back in [`crate::RecoveryState::certified`].
    ///
    /// The driver replaces every persisted certified block at a height
    /// `>= from_height` with `blocks` (ascending heights from `from_height`,
    /// each extending the previous; empty to only truncate). Separately, when
    /// it performs [`Action::Commit`] it may drop the persisted blocks at or
    /// below the highest committed height. The persisted set is therefore
    /// always a chain of at most [`crate::MAX_PERSISTED_CERTIFIED`] blocks.
    ///
    /// Usually one new block. Emitted only immediately before an
    /// [`Action::PersistSafety`], so a driver may write both in one durable
    /// write, provided both are durable before any later action. The payload
    /// (batches) of every block here is held by the driver (its
    /// `FetchPayload` was answered, or it built the block) and must be kept
    /// with it: after a restart the block is re-executed ([`Action::Execute`]).
    ///
    /// `voted` is the *voted branch*: the block of this replica's latest vote
    /// when it is not yet in the chain (it has no QC this replica knows of),
    /// last, preceded by its ancestors that are neither the root nor in the
    /// chain (a vote may extend a fork other than the highest QC's), parents
    /// first; each of those is certified by the next block's justify. It
    /// replaces the previously persisted branch (empty clears it) and comes
    /// back in [`crate::RecoveryState::voted`]. A leader can form a QC from
    /// votes alone; if every correct voter crashed, only their durable copies
    /// let anyone fetch the certified block. Every payload is held and kept
    /// like the chain's.
    PersistCertified {
        /// Lowest height replaced.
        from_height: Height,
        /// The new blocks from `from_height` upward, each with its QC.
        blocks: Vec<CertifiedBlock>,
        /// The voted branch (the voted block last), replacing the persisted one.
        voted: Vec<Block>,
    },
    /// These blocks are final, in height order, each with the QC certifying it.
    /// Each has been executed locally (its `Execute` was answered `ok`).
    Commit {
        /// The newly committed blocks.
        blocks: Vec<CertifiedBlock>,
    },
    /// Proof of misbehaviour, for logs and slashing.
    Evidence(Evidence),
    /// Consensus-level sync cannot reach `target` (the peer no longer holds
    /// the blocks in memory): fetch certified blocks from height `from_height`
    /// on the chain to `target` from `peer`'s storage and feed them back as
    /// `Event::Message { from: peer, msg: Message::BlockResponse(..) }`.
    FetchBlocks {
        /// Lowest height wanted.
        from_height: Height,
        /// The block the chain must reach.
        target: BlockId,
        /// Who should have them.
        peer: ValidatorIndex,
    },
}

/// Misbehaviour the core detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// The proposer's claimed execution results differ from ours (or the block
    /// did not execute). The replica does not vote for it.
    ExecMismatch {
        /// The block.
        block_id: BlockId,
        /// Its view.
        view: View,
        /// Its proposer.
        proposer: ValidatorIndex,
        /// The digest in the block.
        claimed: ExecDigest,
        /// Our digest, `None` when execution failed.
        computed: Option<ExecDigest>,
    },
    /// Two validly signed proposals by the same leader for one view.
    ProposalEquivocation {
        /// The view.
        view: View,
        /// The leader.
        proposer: ValidatorIndex,
        /// First block id and its proposal signature.
        first: (BlockId, Signature),
        /// Second block id and its proposal signature.
        second: (BlockId, Signature),
    },
    /// Two validly signed votes by one validator in one view for different blocks.
    VoteEquivocation {
        /// The view.
        view: View,
        /// The voter.
        signer: ValidatorIndex,
        /// First `(block id, exec, signature)`.
        first: (BlockId, ExecDigest, Signature),
        /// Second `(block id, exec, signature)`.
        second: (BlockId, ExecDigest, Signature),
    },
}

/// Counters of what the replica did and rejected. Monotone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Messages with an invalid signature (single or in a certificate).
    pub rejected_bad_signature: u64,
    /// Messages naming a signer outside the validator set.
    pub rejected_unknown_signer: u64,
    /// Certificates with duplicate or unsorted signers.
    pub rejected_duplicate_signer: u64,
    /// Certificates short of a quorum (or a bad genesis certificate).
    pub rejected_no_quorum: u64,
    /// Proposals from a validator that does not lead the view, or votes sent to a non-leader.
    pub rejected_wrong_leader: u64,
    /// Messages whose claimed author is not the authenticated sender.
    pub rejected_wrong_sender: u64,
    /// Messages for views beyond the accepted window.
    pub rejected_future_view: u64,
    /// Structurally invalid messages (bad links, oversize payloads).
    pub rejected_malformed: u64,
    /// Input dropped because a bounded buffer was full.
    pub rejected_capacity: u64,
    /// Messages ignored as outdated.
    pub ignored_stale: u64,
    /// Proposals broadcast.
    pub proposals_sent: u64,
    /// Votes sent (including to self).
    pub votes_sent: u64,
    /// Timeouts signed.
    pub timeouts_sent: u64,
    /// Quorum certificates formed from votes.
    pub qcs_formed: u64,
    /// Timeout certificates formed.
    pub tcs_formed: u64,
    /// Blocks committed.
    pub blocks_committed: u64,
    /// Blocks whose execution disagreed with the proposer.
    pub exec_mismatches: u64,
    /// Equivocations detected (proposals or votes).
    pub equivocations: u64,
    /// Block requests sent.
    pub sync_requests_sent: u64,
    /// Block requests answered.
    pub sync_requests_served: u64,
}

//! The durable certified chain: certified blocks above the committed root
//! that the replica keeps on disk through its driver, so that a restart of
//! every replica at once does not lose the blocks their locks refer to.
//!
//! Chained HotStuff locks on a certified block (the preferred view) long
//! before it is committed. If that block lived only in memory and every
//! correct replica holding it crashed, the restarted replicas would refuse
//! every proposal below their lock while no leader could build above it:
//! liveness lost for good. So before every signature (vote, timeout,
//! proposal) the replica makes its driver persist the path from the
//! committed root to its highest certified block whose payload it holds
//! ([`Action::PersistCertified`], always right before the
//! [`Action::PersistSafety`]); on restart it gets that chain back in
//! [`RecoveryState::certified`], re-inserts it into its block tree and
//! re-executes it. The chain's tip is certified at a view above the lock,
//! so after a restart a leader can always extend a QC every lock accepts.
//!
//! A QC can also be formed by a leader that never received the block, from
//! votes alone; if every voter then crashed before learning the QC, the
//! certified block would be lost while the QC lives on in high QCs and
//! timeouts. So the block of the latest vote, still uncertified, is
//! persisted too (the *voted block*, in the same action) and restored
//! uncertified: once its QC arrives the restarted voter serves it through
//! block sync like any certified block.

use super::{RecoveryState, Replica, ReplicaError};
use crate::cert::QuorumCert;
use crate::io::Action;
use crate::tree::{ExecState, Inserted};
use crate::types::{Block, BlockId, BlockRef, CertifiedBlock, Height};
use crate::validators::ValidatorSet;

/// Most certified blocks the durable chain holds (heights above the root).
/// In steady state it holds two or three; it only grows while views keep
/// failing to form the three consecutive certified views a commit needs.
/// Certified blocks beyond this height above the root stay in memory only.
pub const MAX_PERSISTED_CERTIFIED: usize = 128;

impl Replica {
    /// Brings the driver's durable certified chain up to date, emitting the
    /// changed suffix as one [`Action::PersistCertified`]. Called right
    /// before every [`Action::PersistSafety`].
    pub(super) fn refresh_certified(&mut self, out: &mut Vec<Action>) {
        let root = self.tree.root();
        // The driver drops blocks at or below the root when it commits them.
        self.durable.retain(|(height, _)| *height > root.height);
        let want = self.tree.certified_chain(MAX_PERSISTED_CERTIFIED);
        let aligned = self.durable.first().is_none_or(|(h, _)| *h == root.height + 1);
        let common = if aligned {
            want.iter().zip(&self.durable).take_while(|(cb, (_, id))| cb.qc.block_id == *id).count()
        } else {
            0
        };
        let voted = self.voted_to_persist(&want);
        let voted_id = voted.as_ref().map(|(id, _)| *id);
        if common == want.len() && common == self.durable.len() && voted_id == self.durable_voted {
            return;
        }
        self.durable.truncate(common);
        let blocks: Vec<CertifiedBlock> = want.into_iter().skip(common).collect();
        self.durable.extend(blocks.iter().map(|cb| (cb.block.height, cb.qc.block_id)));
        debug_assert!(self.durable.len() <= MAX_PERSISTED_CERTIFIED);
        self.durable_voted = voted_id;
        let from_height = root.height + 1 + common as Height;
        let voted = voted.map(|(_, block)| block);
        out.push(Action::PersistCertified { from_height, blocks, voted });
    }

    /// The block of our latest vote, if it still needs its own durable slot:
    /// held with its payload, not (yet) in the certified chain `chain`, and
    /// a child of the root or of a block of `chain` so it can be restored.
    /// A vote for a block on another fork than our highest QC is not kept
    /// (its parent's branch is not durable here); other voters may keep it.
    fn voted_to_persist(&self, chain: &[CertifiedBlock]) -> Option<(BlockId, Block)> {
        let id = self.voted?;
        let node = self.tree.get(&id)?;
        let held =
            matches!(node.exec, ExecState::Ready | ExecState::Executing | ExecState::Executed);
        let parent = node.block.parent_id;
        let in_chain = |b: &BlockId| chain.iter().any(|cb| cb.qc.block_id == *b);
        let links = parent == self.tree.root().id || in_chain(&parent);
        (held && links && !in_chain(&id)).then(|| (id, node.block.clone()))
    }

    /// Re-inserts the verified recovered voted block (see
    /// [`RecoveryState::voted`]) uncertified, awaiting re-execution, and
    /// keeps it durable until its QC arrives or it is superseded.
    pub(super) fn restore_voted(&mut self, voted: Option<(BlockId, Block)>) {
        let Some((id, block)) = voted else { return };
        let from = block.proposer;
        if self.tree.insert(id, block, from, ExecState::Ready) == Inserted::New {
            self.voted = Some(id);
            self.durable_voted = Some(id);
        }
    }
}

/// Why a recovered certified chain is rejected.
fn bad(height: Height, reason: &'static str) -> ReplicaError {
    ReplicaError::BadCertifiedChain { height, reason }
}

/// Checks the recovered certified chain against the root and returns it with
/// each block's id, parents first. Blocks at or below the root are dropped
/// (already committed). A chain whose lowest remaining block does not extend
/// the root is a fork the commit pruned (the driver crashed between the
/// commit and the next update) and is dropped whole. Anything else that does
/// not link, or a QC that does not certify its block or does not verify, is
/// an error: the storage is corrupt.
pub(super) fn verify_recovered(
    validators: &ValidatorSet,
    recovered: &RecoveryState,
) -> Result<Vec<(BlockId, CertifiedBlock)>, ReplicaError> {
    let root = recovered.root;
    let above: Vec<&CertifiedBlock> =
        recovered.certified.iter().filter(|cb| cb.block.height > root.height).collect();
    if above.len() > MAX_PERSISTED_CERTIFIED {
        return Err(bad(root.height, "more blocks than MAX_PERSISTED_CERTIFIED"));
    }
    if above.first().is_none_or(|cb| cb.block.parent_id != root.id) {
        return Ok(Vec::new());
    }
    let mut prev = root;
    let mut out = Vec::with_capacity(above.len());
    for cb in above {
        let id = check_link(validators, prev, cb)?;
        prev = BlockRef { id, view: cb.block.view, height: cb.block.height };
        out.push((id, cb.clone()));
    }
    Ok(out)
}

/// Checks the recovered voted block against the root and the verified
/// recovered `chain`: `None` when there is none, it is at or below the root
/// (committed) or its parent is neither the root nor in `chain` (a pruned
/// fork). A block that names such a parent but does not extend it, or whose
/// justify does not verify, is an error: the storage is corrupt.
pub(super) fn verify_voted(
    validators: &ValidatorSet,
    recovered: &RecoveryState,
    chain: &[(BlockId, CertifiedBlock)],
) -> Result<Option<(BlockId, Block)>, ReplicaError> {
    let root = recovered.root;
    let Some(block) = recovered.voted.as_ref().filter(|b| b.height > root.height) else {
        return Ok(None);
    };
    let parent = if block.parent_id == root.id {
        root
    } else if let Some((id, cb)) = chain.iter().find(|(id, _)| *id == block.parent_id) {
        BlockRef { id: *id, view: cb.block.view, height: cb.block.height }
    } else {
        return Ok(None);
    };
    let id = check_extends(validators, parent, block)?;
    if chain.iter().any(|(cid, _)| *cid == id) {
        return Ok(None);
    }
    block.justify.verify(validators).map_err(|_| bad(block.height, "justify does not verify"))?;
    Ok(Some((id, block.clone())))
}

/// Checks that `block` extends `prev` (height, parent, justify, view,
/// proposer); returns its id. Signatures are not checked here.
fn check_extends(
    validators: &ValidatorSet,
    prev: BlockRef,
    block: &Block,
) -> Result<BlockId, ReplicaError> {
    let height = block.height;
    if block.parent_id != prev.id || height != prev.height + 1 {
        return Err(bad(height, "block does not extend the previous one"));
    }
    if block.justify.block_id != prev.id || block.justify.view != prev.view {
        return Err(bad(height, "justify does not certify the parent"));
    }
    if block.view <= prev.view || validators.leader(block.view) != block.proposer {
        return Err(bad(height, "block view or proposer is invalid"));
    }
    Ok(block.id())
}

/// Checks that `cb` extends `prev` and its QC certifies it; returns its id.
fn check_link(
    validators: &ValidatorSet,
    prev: BlockRef,
    cb: &CertifiedBlock,
) -> Result<BlockId, ReplicaError> {
    let (block, height) = (&cb.block, cb.block.height);
    let id = check_extends(validators, prev, block)?;
    let QuorumCert { view, block_id, exec, .. } = &cb.qc;
    if *block_id != id || *view != block.view || *exec != block.exec {
        return Err(bad(height, "QC does not certify the block"));
    }
    cb.qc.verify(validators).map_err(|_| bad(height, "QC does not verify"))?;
    Ok(id)
}

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
//! block sync like any certified block. A vote may extend a fork other than
//! the highest QC's (its justify is above the lock, on another branch); the
//! voted block's ancestors down to the durable chain or the root are then
//! persisted with it (the *voted branch*), so that it can be restored at all.

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
        let voted = voted.map(|(_, branch)| branch).unwrap_or_default();
        out.push(Action::PersistCertified { from_height, blocks, voted });
    }

    /// The branch of our latest vote, if the voted block still needs its
    /// own durable slot (it is not in the certified chain `chain`): the voted
    /// block last, preceded by its ancestors down to (excluding) the root or
    /// a block of `chain`, parents first. `None` when any of them is not held
    /// with its payload (it could not be re-executed after a restart), the
    /// branch leaves the tree or reaches the root's height on another fork
    /// (a dead fork: nothing on it can commit), or it is longer than
    /// [`MAX_PERSISTED_CERTIFIED`].
    fn voted_to_persist(&self, chain: &[CertifiedBlock]) -> Option<(BlockId, Vec<Block>)> {
        let id = self.voted?;
        let in_chain = |b: &BlockId| chain.iter().any(|cb| cb.qc.block_id == *b);
        if in_chain(&id) {
            return None;
        }
        let mut branch = Vec::new();
        let mut cursor = id;
        while cursor != self.tree.root().id && !in_chain(&cursor) {
            let node = self.tree.get(&cursor)?;
            let held =
                matches!(node.exec, ExecState::Ready | ExecState::Executing | ExecState::Executed);
            let live = node.block.height > self.tree.root().height;
            if !held || !live || branch.len() >= MAX_PERSISTED_CERTIFIED {
                return None;
            }
            branch.push(node.block.clone());
            cursor = node.block.parent_id;
        }
        branch.reverse();
        Some((id, branch))
    }

    /// Re-inserts the verified recovered voted branch (see
    /// [`RecoveryState::voted`]), awaiting re-execution: the ancestors
    /// certified by their children's justify, the voted block (the last)
    /// uncertified and kept durable until its QC arrives or it is superseded.
    pub(super) fn restore_voted(&mut self, branch: Vec<(BlockId, Block)>) {
        let Some(voted_id) = branch.last().map(|(id, _)| *id) else { return };
        let justifies: Vec<QuorumCert> =
            branch.iter().skip(1).map(|(_, b)| b.justify.clone()).collect();
        for (index, (id, block)) in branch.into_iter().enumerate() {
            let from = block.proposer;
            if self.tree.insert(id, block, from, ExecState::Ready) != Inserted::New {
                return;
            }
            if let Some(qc) = justifies.get(index) {
                self.verified_insert(qc);
                self.tree.add_qc(qc);
                if qc.view > self.high_qc.view {
                    self.high_qc = qc.clone();
                }
            }
        }
        self.voted = Some(voted_id);
        self.durable_voted = Some(voted_id);
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

/// Checks the recovered voted branch against the root and the verified
/// recovered `chain`; returns the branch with each block's id, parents
/// first, minus any leading blocks already in `chain`. Empty when there is
/// none, it is at or below the root (committed), its first block's parent is
/// neither the root nor in `chain` (a pruned fork), or the voted block is in
/// `chain`. Blocks that do not extend one another, or a justify that does not
/// verify, are an error: the storage is corrupt.
pub(super) fn verify_voted(
    validators: &ValidatorSet,
    recovered: &RecoveryState,
    chain: &[(BlockId, CertifiedBlock)],
) -> Result<Vec<(BlockId, Block)>, ReplicaError> {
    let root = recovered.root;
    let voted = &recovered.voted;
    if voted.len() > MAX_PERSISTED_CERTIFIED {
        return Err(bad(root.height, "voted branch longer than MAX_PERSISTED_CERTIFIED"));
    }
    let Some(first) = voted.first().filter(|b| b.height > root.height) else {
        return Ok(Vec::new());
    };
    let known = |id: &BlockId| {
        chain.iter().find(|(cid, _)| cid == id).map(|(cid, cb)| BlockRef {
            id: *cid,
            view: cb.block.view,
            height: cb.block.height,
        })
    };
    let mut prev = if first.parent_id == root.id {
        root
    } else if let Some(parent) = known(&first.parent_id) {
        parent
    } else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(voted.len());
    for block in voted {
        let id = check_extends(validators, prev, block)?;
        prev = BlockRef { id, view: block.view, height: block.height };
        if out.is_empty() && known(&id).is_some() {
            // Already restored with the chain.
            continue;
        }
        block
            .justify
            .verify(validators)
            .map_err(|_| bad(block.height, "justify does not verify"))?;
        out.push((id, block.clone()));
    }
    // A voted block in `chain` leaves nothing: a chain's blocks come as a
    // prefix of the branch, all skipped above.
    Ok(out)
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

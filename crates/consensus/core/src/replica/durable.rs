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

use super::{RecoveryState, Replica, ReplicaError};
use crate::cert::QuorumCert;
use crate::io::Action;
use crate::types::{BlockId, BlockRef, CertifiedBlock, Height};
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
        if common == want.len() && common == self.durable.len() {
            return;
        }
        self.durable.truncate(common);
        let blocks: Vec<CertifiedBlock> = want.into_iter().skip(common).collect();
        self.durable.extend(blocks.iter().map(|cb| (cb.block.height, cb.qc.block_id)));
        debug_assert!(self.durable.len() <= MAX_PERSISTED_CERTIFIED);
        let from_height = root.height + 1 + common as Height;
        out.push(Action::PersistCertified { from_height, blocks });
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

/// Checks that `cb` extends `prev` and its QC certifies it; returns its id.
fn check_link(
    validators: &ValidatorSet,
    prev: BlockRef,
    cb: &CertifiedBlock,
) -> Result<BlockId, ReplicaError> {
    let (block, height) = (&cb.block, cb.block.height);
    if block.parent_id != prev.id || height != prev.height + 1 {
        return Err(bad(height, "block does not extend the previous one"));
    }
    if block.justify.block_id != prev.id || block.justify.view != prev.view {
        return Err(bad(height, "justify does not certify the parent"));
    }
    if block.view <= prev.view || validators.leader(block.view) != block.proposer {
        return Err(bad(height, "block view or proposer is invalid"));
    }
    let id = block.id();
    let QuorumCert { view, block_id, exec, .. } = &cb.qc;
    if *block_id != id || *view != block.view || *exec != block.exec {
        return Err(bad(height, "QC does not certify the block"));
    }
    cb.qc.verify(validators).map_err(|_| bad(height, "QC does not verify"))?;
    Ok(id)
}

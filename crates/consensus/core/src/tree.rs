//! The block tree above the committed root: blocks, their execution state,
//! the QCs that certify them, parked orphans, and a short window of recently
//! committed blocks kept to serve lagging peers. Everything is bounded and
//! pruned below the committed height. Maps are `BTreeMap`s so every
//! iteration (and hence every action) is deterministic.

use crate::cert::QuorumCert;
use crate::message::MAX_BLOCKS_PER_RESPONSE;
use crate::types::{Block, BlockId, BlockRef, CertifiedBlock, Height, ValidatorIndex, View};
use std::collections::{BTreeMap, BTreeSet};

/// Most uncommitted blocks held.
pub const MAX_TREE_BLOCKS: usize = 1024;
/// Most blocks parked while their parent is missing.
pub const MAX_ORPHANS: usize = 64;
/// Committed blocks kept (with their QCs) to answer block requests.
pub const RETAINED_COMMITTED: usize = 128;
/// Most QCs held for blocks not (yet) in the tree.
pub const MAX_DETACHED_QCS: usize = 256;

/// Where a block is in the fetch–execute pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecState {
    /// Waiting for `PayloadAvailable`.
    AwaitingPayload,
    /// Payload held; waiting for the parent to be executed.
    Ready,
    /// `Execute` issued; waiting for `BlockExecuted`.
    Executing,
    /// Executed with results equal to the block's `exec`.
    Executed,
    /// Execution failed or disagreed with the block's `exec`.
    Failed,
}

/// A block in the tree.
#[derive(Debug, Clone)]
pub struct Node {
    /// The block.
    pub block: Block,
    /// Its pipeline state.
    pub exec: ExecState,
    /// The peer it came from (a hint for payload fetches).
    pub from: ValidatorIndex,
}

/// The outcome of [`BlockTree::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Newly added.
    New,
    /// Already held.
    Duplicate,
    /// Parent unknown: parked as an orphan (or dropped when full).
    Orphan,
    /// At or below the committed height, or not a child of its parent.
    Stale,
    /// The tree is full.
    Full,
}

/// The uncommitted block tree rooted at the committed tip.
#[derive(Debug)]
pub struct BlockTree {
    root: BlockRef,
    root_qc: QuorumCert,
    nodes: BTreeMap<BlockId, Node>,
    qcs: BTreeMap<BlockId, QuorumCert>,
    orphans: BTreeMap<BlockId, (Block, ValidatorIndex)>,
    committed: BTreeMap<Height, (BlockId, CertifiedBlock)>,
    commit_target: Option<BlockRef>,
}

impl BlockTree {
    /// A tree whose root is the committed tip `root`, certified by `root_qc`.
    pub fn new(root: BlockRef, root_qc: QuorumCert) -> Self {
        Self {
            root,
            root_qc,
            nodes: BTreeMap::new(),
            qcs: BTreeMap::new(),
            orphans: BTreeMap::new(),
            committed: BTreeMap::new(),
            commit_target: None,
        }
    }

    /// The committed tip.
    pub fn root(&self) -> BlockRef {
        self.root
    }

    /// The QC certifying the committed tip.
    pub fn root_qc(&self) -> &QuorumCert {
        &self.root_qc
    }

    /// An uncommitted block.
    pub fn get(&self, id: &BlockId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Whether `id` is the root or an uncommitted block.
    pub fn contains(&self, id: &BlockId) -> bool {
        *id == self.root.id || self.nodes.contains_key(id)
    }

    /// Height of the root or an uncommitted block.
    pub fn height_of(&self, id: &BlockId) -> Option<Height> {
        if *id == self.root.id {
            return Some(self.root.height);
        }
        self.nodes.get(id).map(|n| n.block.height)
    }

    /// Whether the block's post-state exists at the driver (root, or executed).
    pub fn is_executed(&self, id: &BlockId) -> bool {
        *id == self.root.id || self.nodes.get(id).is_some_and(|n| n.exec == ExecState::Executed)
    }

    /// Number of uncommitted blocks.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no uncommitted block is held.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The QC certifying `id`, if known.
    pub fn qc_of(&self, id: &BlockId) -> Option<&QuorumCert> {
        if *id == self.root.id {
            return Some(&self.root_qc);
        }
        self.qcs.get(id)
    }

    /// Records a verified QC. Returns true when it is new.
    pub fn add_qc(&mut self, qc: &QuorumCert) -> bool {
        if qc.view <= self.root.view || self.qcs.contains_key(&qc.block_id) {
            return false;
        }
        if !self.nodes.contains_key(&qc.block_id) && self.detached_qcs() >= MAX_DETACHED_QCS {
            return false;
        }
        self.qcs.insert(qc.block_id, qc.clone());
        true
    }

    fn detached_qcs(&self) -> usize {
        self.qcs.keys().filter(|id| !self.nodes.contains_key(*id)).count()
    }

    /// Adds a block whose `justify` was verified. `state` is its initial pipeline state.
    pub fn insert(
        &mut self,
        id: BlockId,
        block: Block,
        from: ValidatorIndex,
        state: ExecState,
    ) -> Inserted {
        if block.height <= self.root.height {
            return Inserted::Stale;
        }
        if self.nodes.contains_key(&id) {
            return Inserted::Duplicate;
        }
        let Some(parent_height) = self.height_of(&block.parent_id) else {
            if self.orphans.len() < MAX_ORPHANS {
                self.orphans.insert(id, (block, from));
            }
            return Inserted::Orphan;
        };
        if parent_height.checked_add(1) != Some(block.height) {
            return Inserted::Stale;
        }
        if self.nodes.len() >= MAX_TREE_BLOCKS {
            return Inserted::Full;
        }
        self.nodes.insert(id, Node { block, exec: state, from });
        Inserted::New
    }

    /// Removes and returns the parked orphans whose parent is `parent`.
    pub fn take_orphans_of(&mut self, parent: &BlockId) -> Vec<(BlockId, Block, ValidatorIndex)> {
        let ids: Vec<BlockId> = self
            .orphans
            .iter()
            .filter(|(_, (b, _))| b.parent_id == *parent)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.orphans.remove(&id).map(|(b, from)| (id, b, from)))
            .collect()
    }

    /// Marks a block's payload as held locally.
    pub fn payload_available(&mut self, id: &BlockId) {
        if let Some(n) = self.nodes.get_mut(id) {
            if n.exec == ExecState::AwaitingPayload {
                n.exec = ExecState::Ready;
            }
        }
    }

    /// Blocks that can be executed now (payload held, parent executed), in
    /// height-then-id order; marks them `Executing`.
    pub fn take_executable(&mut self) -> Vec<Block> {
        let mut ready: Vec<(Height, BlockId)> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.exec == ExecState::Ready && self.is_executed(&n.block.parent_id))
            .map(|(id, n)| (n.block.height, *id))
            .collect();
        ready.sort();
        let mut out = Vec::with_capacity(ready.len());
        for (_, id) in ready {
            if let Some(n) = self.nodes.get_mut(&id) {
                n.exec = ExecState::Executing;
                out.push(n.block.clone());
            }
        }
        out
    }

    /// Records an execution result; returns false if the block was not executing.
    pub fn set_executed(&mut self, id: &BlockId, ok: bool) -> bool {
        match self.nodes.get_mut(id) {
            Some(n) if n.exec == ExecState::Executing => {
                n.exec = if ok { ExecState::Executed } else { ExecState::Failed };
                true
            }
            _ => false,
        }
    }

    /// Applies the three-chain rule to a QC for a known block `b2`: if
    /// `b0 <- b1 <- b2` have consecutive views, `b0` is decided. Returns `b0`
    /// when it is above the committed root and the current target.
    pub fn three_chain(&mut self, b2: &BlockId) -> Option<BlockRef> {
        let n2 = self.nodes.get(b2)?;
        let n1 = self.nodes.get(&n2.block.parent_id)?;
        let n0 = self.nodes.get(&n1.block.parent_id)?;
        let consecutive = n0.block.view.checked_add(1) == Some(n1.block.view)
            && n1.block.view.checked_add(1) == Some(n2.block.view);
        let target =
            BlockRef { id: n1.block.parent_id, view: n0.block.view, height: n0.block.height };
        let higher = self.commit_target.is_none_or(|t| t.height < target.height);
        if consecutive && higher {
            self.commit_target = Some(target);
            return Some(target);
        }
        None
    }

    /// Commits the longest executed prefix of the path to the decided target:
    /// returns those blocks with their QCs (parents first), moves the root and
    /// prunes everything that does not descend from it.
    pub fn commit_ready(&mut self) -> Vec<CertifiedBlock> {
        let Some(target) = self.commit_target else { return Vec::new() };
        let mut path = Vec::new();
        let mut cursor = target.id;
        while cursor != self.root.id {
            let Some(n) = self.nodes.get(&cursor) else { return Vec::new() };
            path.push(cursor);
            cursor = n.block.parent_id;
        }
        path.reverse();
        let mut out = Vec::new();
        for id in path {
            let (Some(n), Some(qc)) = (self.nodes.get(&id), self.qcs.get(&id)) else { break };
            if n.exec != ExecState::Executed {
                break;
            }
            out.push((id, CertifiedBlock { block: n.block.clone(), qc: qc.clone() }));
        }
        let Some((last_id, last)) = out.last() else { return Vec::new() };
        self.root = BlockRef { id: *last_id, view: last.block.view, height: last.block.height };
        self.root_qc = last.qc.clone();
        if self.root.id == target.id {
            self.commit_target = None;
        }
        for (id, cb) in &out {
            self.committed.insert(cb.block.height, (*id, cb.clone()));
        }
        while self.committed.len() > RETAINED_COMMITTED {
            self.committed.pop_first();
        }
        self.prune();
        out.into_iter().map(|(_, cb)| cb).collect()
    }

    /// Drops blocks, QCs and orphans that cannot extend the root.
    fn prune(&mut self) {
        let mut by_height: Vec<(Height, BlockId)> =
            self.nodes.iter().map(|(id, n)| (n.block.height, *id)).collect();
        by_height.sort();
        let mut keep = BTreeSet::from([self.root.id]);
        for (height, id) in by_height {
            let parent = self.nodes[&id].block.parent_id;
            if height > self.root.height && keep.contains(&parent) {
                keep.insert(id);
            }
        }
        self.nodes.retain(|id, _| keep.contains(id));
        let root_view = self.root.view;
        self.qcs.retain(|_, qc| qc.view > root_view);
        let root_height = self.root.height;
        self.orphans.retain(|_, (b, _)| b.height > root_height);
    }

    /// Certified blocks on the chain ending at `target`, at heights
    /// `>= from_height`: the lowest [`MAX_BLOCKS_PER_RESPONSE`], parents first.
    /// Stops where the chain is no longer held.
    pub fn chain_for(&self, target: BlockId, from_height: Height) -> Vec<CertifiedBlock> {
        let mut out = Vec::new();
        let mut cursor = target;
        let bound = MAX_TREE_BLOCKS + RETAINED_COMMITTED;
        for _ in 0..bound {
            let (block, height) = if let Some(n) = self.nodes.get(&cursor) {
                (n.block.clone(), n.block.height)
            } else if let Some((_, cb)) =
                self.committed.values().find(|(id, _)| *id == cursor).map(|(id, cb)| (id, cb))
            {
                (cb.block.clone(), cb.block.height)
            } else {
                break;
            };
            if height < from_height {
                break;
            }
            let parent = block.parent_id;
            if let Some(qc) = self.qc_of(&cursor).or_else(|| self.committed_qc(height, &cursor)) {
                out.push(CertifiedBlock { block, qc: qc.clone() });
            }
            cursor = parent;
        }
        out.reverse();
        out.truncate(MAX_BLOCKS_PER_RESPONSE);
        out
    }

    fn committed_qc(&self, height: Height, id: &BlockId) -> Option<&QuorumCert> {
        self.committed.get(&height).filter(|(cid, _)| cid == id).map(|(_, cb)| &cb.qc)
    }

    /// The chain the replica keeps durable: the path from the root to the
    /// highest-view certified block such that every block on the path has its
    /// payload held (not awaiting it, not failed) and lies at most
    /// `height_max` above the root. Parents first, each with its QC (a
    /// block's QC is its child's `justify`, the tip's is the recorded one).
    /// Empty when no such block exists.
    pub fn certified_chain(&self, height_max: usize) -> Vec<CertifiedBlock> {
        let mut by_height: Vec<(Height, BlockId)> =
            self.nodes.iter().map(|(id, n)| (n.block.height, *id)).collect();
        by_height.sort();
        let limit = self.root.height.saturating_add(height_max as Height);
        let mut good = BTreeSet::from([self.root.id]);
        let mut tip: Option<(View, Height, BlockId)> = None;
        for (height, id) in by_height {
            let n = &self.nodes[&id];
            let held =
                matches!(n.exec, ExecState::Ready | ExecState::Executing | ExecState::Executed);
            if height > limit || !held || !good.contains(&n.block.parent_id) {
                continue;
            }
            good.insert(id);
            if self.qcs.contains_key(&id) {
                tip = tip.max(Some((n.block.view, height, id)));
            }
        }
        let Some((_, _, tip)) = tip else { return Vec::new() };
        let mut out: Vec<CertifiedBlock> = Vec::new();
        let mut cursor = tip;
        while cursor != self.root.id {
            let n = &self.nodes[&cursor];
            let qc = match out.last() {
                Some(child) => child.block.justify.clone(),
                None => self.qcs[&cursor].clone(),
            };
            out.push(CertifiedBlock { block: n.block.clone(), qc });
            cursor = n.block.parent_id;
        }
        out.reverse();
        out
    }

    /// The view of a held block's justify, i.e. its parent's view; `None` for the root.
    pub fn justify_view(&self, id: &BlockId) -> Option<View> {
        self.nodes.get(id).map(|n| n.block.justify.view)
    }
}

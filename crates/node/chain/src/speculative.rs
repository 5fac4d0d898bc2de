//! Blocks that are executed but not yet committed, and execution on top of them.
//!
//! Chained HotStuff keeps a few certified-but-uncommitted blocks in flight; a
//! leader proposes on top of the newest of them and every replica re-executes
//! the proposal "on top of its parent's speculative state" before voting. A
//! [`SpecTree`] holds those executed blocks (forks included) keyed by block
//! hash; the state a child executes on is the committed head's state plus the
//! changes of the uncommitted ancestors, oldest first.
//!
//! **Invariant:** a speculative block's header has exactly the fields the same
//! block will have when committed: its state is prepared on the head and its
//! uncommitted ancestors' prepared states (`Store::prepare_state_on`), which
//! gives the root of the merged changes of its ancestors and itself, and a
//! state root depends only on the state.

use crate::chain::ChainError;
use alloy_primitives::{Address, B256};
use phalanx_core_types::{Block, RecoveredTx, StateChanges, TxReceipt};
use phalanx_storage_rocksdb::{Head, PreparedState};
use std::collections::HashMap;
use std::sync::Arc;

/// Most uncommitted blocks a [`SpecTree`] holds (forks included). Chained
/// HotStuff needs about three per fork; the rest is room for competing forks
/// during view changes. Reaching it means commits have stalled far behind.
pub const SPEC_BLOCKS_MAX: usize = 256;

/// What the header of a block to build says beyond its transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpec {
    /// Hash of the parent (the committed head or a block in the [`SpecTree`]).
    pub parent_hash: B256,
    /// Consensus view (round) the block is proposed in.
    pub view: u64,
    /// The proposer's address: the block's `COINBASE`.
    pub proposer: Address,
    /// Block timestamp in seconds; raised to the parent's if lower.
    pub timestamp: u64,
}

/// A block together with everything its execution produced.
#[derive(Debug)]
pub struct ExecutedBlock {
    /// The block, header complete (roots, digests, schedule).
    pub block: Block,
    /// Receipts, one per transaction.
    pub receipts: Vec<TxReceipt>,
    /// This block's own state changes (not merged with its ancestors).
    pub changes: StateChanges,
    /// The block's transactions with their senders (for pool upkeep).
    pub included: Vec<RecoveredTx>,
    /// Candidates the executor rejected as invalid on their own merits (they
    /// are not in the block and can leave the pool). Empty for blocks from
    /// [`crate::Chain::execute_block`].
    pub rejected: Vec<B256>,
    /// Positions, in the candidate list given to [`crate::Chain::build_block`],
    /// of the candidates that are not in the block (ascending; a superset of
    /// `rejected`). Validators need it to know the block's transactions
    /// before executing them. Empty for blocks from `execute_block`.
    pub left_out: Vec<usize>,
    /// The state prepared for committing, on the head and the block's
    /// uncommitted ancestors: committed as it is once its parent is the
    /// head, and the layer its descendants' states are prepared on.
    pub(crate) prepared: PreparedState,
}

impl ExecutedBlock {
    /// The block's hash.
    pub fn hash(&self) -> B256 {
        self.block.hash()
    }

    /// The block's height.
    pub fn height(&self) -> u64 {
        self.block.header.height
    }
}

/// Executed, uncommitted blocks by hash (a tree rooted at the committed head).
#[derive(Debug, Default)]
pub struct SpecTree {
    blocks: HashMap<B256, Arc<ExecutedBlock>>,
}

impl SpecTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an executed block. Fails when the tree already holds
    /// [`SPEC_BLOCKS_MAX`] blocks.
    pub fn insert(&mut self, block: Arc<ExecutedBlock>) -> Result<(), ChainError> {
        if self.blocks.len() >= SPEC_BLOCKS_MAX && !self.blocks.contains_key(&block.hash()) {
            return Err(ChainError::SpecTreeFull { blocks_max: SPEC_BLOCKS_MAX });
        }
        self.blocks.insert(block.hash(), block);
        Ok(())
    }

    /// The executed block with `hash`, if held.
    pub fn get(&self, hash: &B256) -> Option<&Arc<ExecutedBlock>> {
        self.blocks.get(hash)
    }

    /// Number of blocks held.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Forgets every block at or below `height` (committed, or on a fork that
    /// can no longer commit).
    pub fn prune_to(&mut self, height: u64) {
        self.blocks.retain(|_, b| b.height() > height);
    }

    /// The uncommitted ancestors of a child of `parent`, oldest first:
    /// `parent` itself and its ancestors down to (excluding) the committed
    /// `head`. Empty when `parent` is the head. Fails if the chain of parents
    /// does not lead to the head (unknown block, or a fork below the head).
    pub(crate) fn ancestors(
        &self,
        parent: B256,
        head: Head,
    ) -> Result<Vec<Arc<ExecutedBlock>>, ChainError> {
        let mut chain = Vec::new();
        let mut cursor = parent;
        while cursor != head.hash {
            let Some(block) = self.blocks.get(&cursor) else {
                return Err(ChainError::UnknownParent { hash: parent, head: head.height });
            };
            if block.height() <= head.height {
                return Err(ChainError::UnknownParent { hash: parent, head: head.height });
            }
            cursor = block.block.header.parent_hash;
            chain.push(Arc::clone(block));
        }
        chain.reverse();
        Ok(chain)
    }
}

//! Building a block on any parent (committed head or speculative block) and
//! committing an executed block.

use crate::chain::{Chain, ChainError};
use crate::speculative::{BlockSpec, ExecutedBlock, SpecTree};
use alloy_primitives::{keccak256, Address, Bytes};
use phalanx_core_types::{Block, Header, RecoveredTx, StateChanges, HEADER_VERSION};
use phalanx_execution_evm::{BlockEnv, BlockExecutor, BlockOutcome, ExecError, Overlay};
use phalanx_storage_rocksdb::StateSnapshot;
use std::collections::HashSet;
use std::sync::Arc;

impl Chain {
    /// Executes `candidates` in order as the block `spec` describes, on top
    /// of `spec.parent_hash` (the committed head or a block in `tree`), and
    /// returns the complete block with its results. Nothing is written.
    ///
    /// Deterministic: the same parent, spec and candidates give the same
    /// block on every node, which is what lets replicas re-execute a
    /// proposal and compare. Candidates that are invalid where they stand
    /// (bad nonce, unaffordable, ...) are left out and listed in `rejected`,
    /// as are a sender's later candidates; a candidate whose gas limit does
    /// not fit in the block's remaining gas is left out (not rejected)
    /// together with that sender's later candidates.
    pub fn build_block(
        &self,
        tree: &SpecTree,
        spec: BlockSpec,
        candidates: Vec<RecoveredTx>,
    ) -> Result<ExecutedBlock, ChainError> {
        let head = self.store.head().expect("a chain always has genesis");
        let snapshot = self.store.latest_state();
        if snapshot.height() != Some(head.height) {
            // A commit landed between the two reads; the caller serialises
            // building with committing, so this is a bug.
            return Err(ChainError::Commit {
                height: head.height + 1,
                reason: "head moved while building".into(),
            });
        }
        let ancestors = tree.ancestors(spec.parent_hash, head)?;
        let parent = match ancestors.last() {
            Some(block) => block.block.header.clone(),
            None => self.store.header_by_height(head.height)?.ok_or_else(|| {
                ChainError::Commit { height: head.height, reason: "head header missing".into() }
            })?,
        };
        let env = BlockEnv {
            height: parent.height + 1,
            timestamp: spec.timestamp.max(parent.timestamp),
            proposer: spec.proposer,
            gas_limit: self.params.gas_limit,
            base_fee_per_gas: self.params.base_fee_per_gas,
            prev_randao: spec.parent_hash,
            chain_id: self.params.chain_id,
        };
        let state = speculative_state(snapshot, &ancestors);
        let (outcome, included, rejected) = execute_candidates(state, env, candidates)?;

        // The state root: directly on the head when there are no uncommitted
        // ancestors (and keep the prepared state for the commit), else from
        // the merged changes of the ancestors and this block.
        let (state_root, prepared) = if ancestors.is_empty() {
            let prepared = self.store.prepare_state(env.height, &outcome.changes)?;
            (prepared.state_root, Some(prepared))
        } else {
            let mut merged = StateChanges::default();
            for block in &ancestors {
                merged.extend(block.changes.clone());
            }
            merged.extend(outcome.changes.clone());
            (self.store.speculative_root(&merged)?, None)
        };
        let transactions: Vec<_> = included.iter().map(|t| t.tx.clone()).collect();
        let schedule = Bytes::new();
        let header = make_header(&env, &spec, &outcome, state_root, &transactions, &schedule);
        Ok(ExecutedBlock {
            block: Block { header, transactions, schedule },
            receipts: outcome.receipts,
            changes: outcome.changes,
            included,
            rejected,
            prepared,
        })
    }

    /// Commits an executed block that extends the head: writes it durably with
    /// its state, updates the pool and notifies `newHeads` subscribers.
    ///
    /// The state is re-prepared if the block was built on a speculative parent
    /// (or the head moved since); the resulting root must equal the header's,
    /// which the storage layer checks before writing anything.
    ///
    /// `certificate` is the consensus proof of commitment (opaque bytes),
    /// stored in the same atomic write as the block; `None` for a single node.
    pub fn commit_executed(
        &self,
        executed: ExecutedBlock,
        certificate: Option<&[u8]>,
    ) -> Result<(), ChainError> {
        let ExecutedBlock { block, receipts, changes, included, prepared, .. } = executed;
        let head = self.store.head().expect("a chain always has genesis");
        let height = block.header.height;
        if block.header.parent_hash != head.hash || height != head.height + 1 {
            return Err(ChainError::Commit {
                height,
                reason: format!(
                    "parent {} is not the head {}",
                    block.header.parent_hash, head.hash
                ),
            });
        }
        let prepared = match prepared {
            Some(p) if p.height() == height => p,
            _ => self.store.prepare_state(height, &changes)?,
        };
        self.store.commit_block_certified(&block, &receipts, prepared, certificate)?;
        self.pool.on_block_committed(&included, &self.store.latest_state());
        // No subscriber is not an error.
        let _ = self.heads.send(block.header.clone());
        Ok(())
    }
}

/// The state a child of the last of `ancestors` executes on: the committed
/// snapshot with each uncommitted ancestor's changes applied, oldest first,
/// and their hashes answering `BLOCKHASH`.
fn speculative_state(
    snapshot: StateSnapshot,
    ancestors: &[Arc<ExecutedBlock>],
) -> Overlay<StateSnapshot> {
    let mut state = Overlay::new(snapshot);
    for block in ancestors {
        state.apply(&block.changes);
        state.set_block_hash(block.height(), block.hash());
    }
    state
}

/// Runs the candidates through the serial executor, skipping invalid ones
/// (and the later candidates of their senders) and candidates that do not fit
/// in the remaining gas. Returns the outcome, included and rejected.
fn execute_candidates(
    state: Overlay<StateSnapshot>,
    env: BlockEnv,
    candidates: Vec<RecoveredTx>,
) -> Result<(BlockOutcome, Vec<RecoveredTx>, Vec<alloy_primitives::B256>), ChainError> {
    let mut executor = BlockExecutor::new(state, env);
    let mut included: Vec<RecoveredTx> = Vec::with_capacity(candidates.len());
    let mut blocked_senders: HashSet<Address> = HashSet::new();
    let mut rejected = Vec::new();
    for tx in candidates {
        if blocked_senders.contains(&tx.sender) {
            continue;
        }
        if executor.gas_used().saturating_add(tx.gas_limit()) > env.gas_limit {
            // Does not fit this block; the sender's later nonces wait behind it.
            blocked_senders.insert(tx.sender);
            continue;
        }
        match executor.execute(&tx) {
            Ok(_) => included.push(tx),
            Err(ExecError::InvalidTransaction { reason, .. }) => {
                tracing::debug!(hash = %tx.hash, %reason, "leaving out invalid transaction");
                blocked_senders.insert(tx.sender);
                rejected.push(tx.hash);
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok((executor.finish(), included, rejected))
}

/// The header of a block whose execution produced `outcome`.
fn make_header(
    env: &BlockEnv,
    spec: &BlockSpec,
    outcome: &BlockOutcome,
    state_root: alloy_primitives::B256,
    transactions: &[phalanx_core_types::TxEnvelope],
    schedule: &Bytes,
) -> Header {
    Header {
        version: HEADER_VERSION,
        chain_id: env.chain_id,
        height: env.height,
        view: spec.view,
        proposer: env.proposer,
        parent_hash: spec.parent_hash,
        transactions_root: phalanx_core_types::transactions_root(transactions),
        state_root,
        receipts_root: outcome.receipts_root,
        rw_digest: outcome.rw_digest,
        schedule_hash: keccak256(schedule),
        logs_bloom: outcome.logs_bloom,
        gas_used: outcome.gas_used,
        gas_limit: env.gas_limit,
        base_fee_per_gas: env.base_fee_per_gas,
        timestamp: env.timestamp,
    }
}

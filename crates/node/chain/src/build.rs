//! Building a block on any parent (committed head or speculative block) and
//! committing an executed block.

use crate::chain::{Chain, ChainError};
use crate::speculative::{BlockSpec, ExecutedBlock, SpecTree};
use alloy_primitives::{keccak256, Address, Bytes, B256};
use phalanx_core_types::{Block, Header, RecoveredTx, HEADER_VERSION};
use phalanx_execution_evm::{BlockEnv, BlockOutcome, Overlay};
use phalanx_execution_parallel::{
    execute_leader, execute_scheduled_bytes, schedule_for, ParallelOutcome, ScheduleVerdict,
};
use phalanx_storage_rocksdb::StateSnapshot;
use std::collections::HashSet;
use std::sync::Arc;

impl Chain {
    /// Leader path: executes `candidates` in order as the block `spec`
    /// describes, on top of `spec.parent_hash` (the committed head or a block
    /// in `tree`), with the optimistic parallel executor, and returns the
    /// complete block with its results and its schedule (the dependency
    /// graph validators follow). Nothing is written.
    ///
    /// Candidates that are invalid where they stand (bad nonce, unaffordable,
    /// no room left in the block's gas) are left out, exactly as a serial
    /// executor fed them in order would leave them out; their positions are
    /// in `left_out`. Only a sender's first invalid candidate is listed in
    /// `rejected` (to be dropped from the pool), and not when it merely did
    /// not fit: the sender's later candidates were judged against a state
    /// that lacked it and may be valid in a later block.
    pub fn build_block(
        &self,
        tree: &SpecTree,
        spec: BlockSpec,
        candidates: Vec<RecoveredTx>,
    ) -> Result<ExecutedBlock, ChainError> {
        let base = self.base(tree, &spec)?;
        let run = execute_leader(&base.state, &base.env, &candidates, &self.params.parallel)?;
        if let Some(fallback) = run.stats.fallback {
            tracing::debug!(height = base.env.height, ?fallback, "leader executed serially");
        }
        let schedule = Bytes::from(schedule_for(&run, &candidates, &base.env).encode());
        let rejected = pool_rejections(&run, &candidates, &base.env);
        let left_out = left_out(&run.included, candidates.len());
        let mut slots: Vec<Option<RecoveredTx>> = candidates.into_iter().map(Some).collect();
        let included: Vec<RecoveredTx> = run
            .included
            .iter()
            .map(|&i| slots[i].take().expect("included indices are distinct"))
            .collect();
        let mut executed = self.assemble(base, &spec, run.outcome, included, schedule)?;
        executed.rejected = rejected;
        executed.left_out = left_out;
        Ok(executed)
    }

    /// Validator path: executes the block a leader proposed — exactly `txs`,
    /// following the leader's `schedule` bytes — on top of `spec.parent_hash`.
    /// The result equals serial execution whatever the schedule; a wrong
    /// schedule only costs time and is reported in the verdict (evidence
    /// against the proposer, also logged). An invalid transaction makes the
    /// whole block invalid: [`ChainError::Exec`] names it.
    pub fn execute_block(
        &self,
        tree: &SpecTree,
        spec: BlockSpec,
        txs: Vec<RecoveredTx>,
        schedule: Bytes,
    ) -> Result<(ExecutedBlock, ScheduleVerdict), ChainError> {
        let base = self.base(tree, &spec)?;
        let run = execute_scheduled_bytes(
            &base.state,
            &base.env,
            &txs,
            &schedule,
            &self.params.parallel,
        )?;
        if let ScheduleVerdict::Wrong { first_bad_tx, reason } = &run.verdict {
            tracing::warn!(
                height = base.env.height,
                proposer = %spec.proposer,
                ?first_bad_tx,
                %reason,
                "evidence: the proposer published a wrong schedule (block re-executed)"
            );
        }
        let executed = self.assemble(base, &spec, run.outcome, txs, schedule)?;
        Ok((executed, run.verdict))
    }

    /// The parent, environment and speculative state a block on
    /// `spec.parent_hash` executes with.
    fn base(&self, tree: &SpecTree, spec: &BlockSpec) -> Result<Base, ChainError> {
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
        Ok(Base { env, state, ancestors })
    }

    /// Computes the state root of an executed block and puts the block
    /// together.
    fn assemble(
        &self,
        base: Base,
        spec: &BlockSpec,
        outcome: BlockOutcome,
        included: Vec<RecoveredTx>,
        schedule: Bytes,
    ) -> Result<ExecutedBlock, ChainError> {
        let Base { env, ancestors, .. } = base;
        assert_eq!(outcome.receipts.len(), included.len(), "one receipt per transaction");
        // Prepared on the head and the uncommitted ancestors' prepared states,
        // and kept for the commit: each block's tree is computed once. (perf
        // of a four-validator devnet: recomputing it from the head over the
        // merged changes of every uncommitted ancestor, then again at commit,
        // was a quarter of a validator's CPU.)
        let chained: Vec<_> = ancestors.iter().map(|b| (&b.prepared, b.hash())).collect();
        let prepared = self.store.prepare_state_on(&chained, env.height, &outcome.changes)?;
        let state_root = prepared.state_root;
        let transactions: Vec<_> = included.iter().map(|t| t.tx.clone()).collect();
        let header = make_header(&env, spec, &outcome, state_root, &transactions, &schedule);
        Ok(ExecutedBlock {
            block: Block { header, transactions, schedule },
            receipts: outcome.receipts,
            changes: outcome.changes,
            included,
            rejected: Vec::new(),
            left_out: Vec::new(),
            prepared,
        })
    }

    /// Commits an executed block that extends the head: writes it durably with
    /// its state, updates the pool and notifies `newHeads` subscribers.
    ///
    /// The state prepared at execution is committed as it is when the block's
    /// parent is the head; otherwise (a fork the head left) it is re-prepared.
    /// The root must equal the header's, which the storage layer checks
    /// before writing anything.
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
        let prepared = if prepared.height() == height && prepared.base() == Some(head.hash) {
            prepared
        } else {
            self.store.prepare_state(height, &changes)?
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

/// What a block executes on.
struct Base {
    env: BlockEnv,
    state: Overlay<StateSnapshot>,
    ancestors: Vec<Arc<ExecutedBlock>>,
}

/// The hashes of the left-out candidates that are invalid on their own merits
/// and can leave the pool: each sender's first left-out candidate, unless it
/// merely did not fit in the block's remaining gas.
fn pool_rejections(run: &ParallelOutcome, candidates: &[RecoveredTx], env: &BlockEnv) -> Vec<B256> {
    let mut judged: HashSet<Address> = HashSet::new();
    let mut rejections = Vec::new();
    let mut next_included = 0;
    let mut gas_before = 0u64;
    for rejected in &run.rejected {
        // Gas used by the included transactions before this candidate.
        while next_included < run.included.len() && run.included[next_included] < rejected.index {
            gas_before = run.outcome.receipts[next_included].cumulative_gas_used;
            next_included += 1;
        }
        let tx = &candidates[rejected.index];
        if !judged.insert(tx.sender) {
            continue;
        }
        let did_not_fit = tx.gas_limit() > env.gas_limit.saturating_sub(gas_before);
        tracing::debug!(hash = %tx.hash, reason = %rejected.reason, did_not_fit, "left out");
        if !did_not_fit {
            rejections.push(rejected.hash);
        }
    }
    rejections
}

/// Positions in `0..count` that are not in `included` (ascending).
fn left_out(included: &[usize], count: usize) -> Vec<usize> {
    let mut left_out = Vec::with_capacity(count - included.len());
    let mut next = included.iter().peekable();
    for index in 0..count {
        if next.peek() == Some(&&index) {
            next.next();
        } else {
            left_out.push(index);
        }
    }
    left_out
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

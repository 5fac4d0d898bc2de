//! The block executor: transactions in order over a running overlay.

use crate::db::RecordingDb;
use crate::diff::{net_effects, DiffScratch};
use crate::env::{effective_gas_price, fill_tx_env, tx_type};
use crate::error::classify;
use crate::receipts_hasher::ReceiptsHasher;
use crate::run::{new_evm, tx_facts, Evm, Mode};
use crate::tx::{created_address, success_logs};
use crate::{BlockEnv, ExecError, Overlay};
use alloy_primitives::{Bloom, B256};
use phalanx_core_types::{
    rw_digest, ReadWriteSet, RecoveredTx, StateChanges, StateView, TxReceipt,
};
use revm::primitives::ResultAndState;

/// Everything a block's execution produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// One receipt per executed transaction, in block order.
    pub receipts: Vec<TxReceipt>,
    /// One recorded read/write set per executed transaction, in block order:
    /// reads carry the raw values observed and are sorted by location (the
    /// order `op_hash` hashes in); writes are sorted.
    pub rw_sets: Vec<ReadWriteSet>,
    /// The block's net state delta (sorted; deletions carry `wiped` storage).
    pub changes: StateChanges,
    /// Total gas used (the last receipt's cumulative gas, 0 for an empty block).
    pub gas_used: u64,
    /// OR of the receipts' blooms.
    pub logs_bloom: Bloom,
    /// Ethereum receipts root over `receipts`.
    pub receipts_root: B256,
    /// PaVM block digest over the receipts' `rw_hash`es.
    pub rw_digest: B256,
}

/// Executes the transactions of one block in order, on top of a state view.
///
/// Valid transactions are committed to an in-memory overlay of the block as
/// they execute, so each sees its predecessors' effects; invalid ones leave
/// no trace at all. Every read is recorded (PaVM's runtime recording).
pub struct BlockExecutor<'a, S: StateView + 'a> {
    /// The EVM over the block's running overlay, reused for every transaction.
    evm: Evm<'a, Overlay<S>>,
    env: BlockEnv,
    rw_sets: Vec<ReadWriteSet>,
    gas_used: u64,
    /// The receipts committed so far and where their root is hashed (a
    /// second thread for large blocks).
    receipts: ReceiptsHasher,
    /// Buffers reused across transactions (they never carry data between them).
    scratch: DiffScratch,
}

impl<'a, S: StateView + 'a> std::fmt::Debug for BlockExecutor<'a, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockExecutor")
            .field("env", &self.env)
            .field("tx_count", &self.receipts.len())
            .field("gas_used", &self.gas_used)
            .finish_non_exhaustive()
    }
}

impl<'a, S: StateView + 'a> BlockExecutor<'a, S> {
    /// An executor for a block described by `env`, starting from `state`.
    pub fn new(state: S, env: BlockEnv) -> Self {
        let db = RecordingDb::new(Overlay::new(state));
        Self {
            evm: new_evm(db, &env, Mode::Block),
            env,
            rw_sets: Vec::new(),
            gas_used: 0,
            receipts: ReceiptsHasher::default(),
            scratch: DiffScratch::default(),
        }
    }

    /// Like [`new`](Self::new), reserving room for `tx_count` transactions'
    /// receipts and read/write sets up front (growing them copies every
    /// earlier entry and faults in fresh pages; perf showed it in large blocks).
    pub fn with_capacity(state: S, env: BlockEnv, tx_count: usize) -> Self {
        let mut executor = Self::new(state, env);
        executor.evm.context.evm.inner.db.state.reserve_accounts(tx_count);
        executor.receipts = ReceiptsHasher::with_capacity(tx_count);
        executor.rw_sets.reserve_exact(tx_count);
        executor
    }

    /// Executes `tx` after all previously executed ones.
    ///
    /// An invalid transaction (nonce mismatch, insufficient funds for
    /// gas * price + value, gas limit above the block's remaining gas,
    /// intrinsic gas too low, fee cap below base fee, wrong chain id, init
    /// code too large, sender with code, ...) returns
    /// [`ExecError::InvalidTransaction`] and leaves the state exactly as
    /// before. A valid transaction that reverts, runs out of gas or halts is
    /// `Ok` with a receipt whose `success` is false.
    pub fn execute(&mut self, tx: &RecoveredTx) -> Result<&TxReceipt, ExecError> {
        self.prepare(tx)?;
        match self.evm.transact() {
            Ok(result_and_state) => Ok(self.commit(tx, result_and_state)),
            Err(err) => {
                let inner = &mut self.evm.context.evm.inner;
                inner.db.recorder.clear();
                let facts = tx_facts(&inner.env.tx, &self.env);
                let reason = classify(err, &facts)?;
                Err(ExecError::InvalidTransaction { hash: tx.hash, reason })
            }
        }
    }

    /// Loads `tx` into the context and applies the block-level check revm cannot
    /// know about: the gas still available in this block.
    fn prepare(&mut self, tx: &RecoveredTx) -> Result<(), ExecError> {
        let invalid = |reason: String| ExecError::InvalidTransaction { hash: tx.hash, reason };
        let inner = &mut self.evm.context.evm.inner;
        fill_tx_env(&mut inner.env.tx, tx).map_err(|e| invalid(e.reason()))?;
        // EIP-2681: revm 14 does not check this itself (its nonce check only
        // compares with the account nonce, which saturates at 2^64-1).
        if tx.nonce() == u64::MAX {
            return Err(invalid("nonce has max value".into()));
        }
        let remaining = self.env.gas_limit.saturating_sub(self.gas_used);
        let gas_limit = inner.env.tx.gas_limit;
        if gas_limit > remaining {
            return Err(invalid(crate::tx::block_gas_reason(gas_limit, remaining)));
        }
        inner.db.recorder.clear();
        Ok(())
    }

    /// Commits a valid transaction's effects to the block overlay and records
    /// its receipt and read/write set.
    fn commit(&mut self, tx: &RecoveredTx, outcome: ResultAndState) -> &TxReceipt {
        let inner = &mut self.evm.context.evm.inner;
        let ResultAndState { result, state } = outcome;
        let db = &mut inner.db;
        let logs = result.logs();
        let rw_set = net_effects(&mut db.state, &mut db.recorder, &mut self.scratch, state, logs);
        db.cache_deployed(&mut self.scratch.new_code);

        let tx_env = &inner.env.tx;
        let gas_used = result.gas_used();
        self.gas_used += gas_used;
        let receipt = TxReceipt {
            tx_type: tx_type(&tx.tx),
            success: result.is_success(),
            cumulative_gas_used: self.gas_used,
            gas_used,
            effective_gas_price: effective_gas_price(tx_env, self.env.base_fee_per_gas),
            contract_address: created_address(tx_env, tx),
            rw_hash: rw_set.op_hash(),
            logs: success_logs(result),
        };
        self.rw_sets.push(rw_set);
        self.receipts.push(receipt)
    }

    /// Gas used by the transactions executed so far.
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    /// Number of transactions executed (invalid ones are not counted).
    pub fn tx_count(&self) -> usize {
        self.receipts.len()
    }

    /// The read/write sets of the transactions executed so far, in order
    /// (invalid ones have none).
    pub fn rw_sets(&self) -> &[ReadWriteSet] {
        &self.rw_sets
    }

    /// The block's running state: the base with every executed transaction applied.
    pub fn state(&self) -> &Overlay<S> {
        &self.evm.context.evm.inner.db.state
    }

    /// Ends the block: receipts, read/write sets, the state delta and digests.
    pub fn finish(self) -> BlockOutcome {
        let (_, changes) = self.evm.into_context().evm.inner.db.state.into_parts();
        let (receipts, receipts_root, logs_bloom) = self.receipts.finish();
        BlockOutcome {
            receipts_root,
            rw_digest: rw_digest(receipts.iter().map(|r| &r.rw_hash)),
            receipts,
            rw_sets: self.rw_sets,
            changes,
            gas_used: self.gas_used,
            logs_bloom,
        }
    }
}

/// Validator path: executes all of `txs` on `state`; every transaction must be
/// valid, else [`ExecError::InvalidBlockTransaction`] names the first invalid one.
pub fn execute_block<S: StateView>(
    state: S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
) -> Result<BlockOutcome, ExecError> {
    let mut executor = BlockExecutor::with_capacity(state, *env, txs.len());
    for (index, tx) in txs.iter().enumerate() {
        match executor.execute(tx) {
            Ok(_) => {}
            Err(ExecError::InvalidTransaction { reason, .. }) => {
                return Err(ExecError::InvalidBlockTransaction { index, reason })
            }
            Err(other) => return Err(other),
        }
    }
    Ok(executor.finish())
}

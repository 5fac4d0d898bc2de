//! Executing one transaction over any state view without committing it: the
//! primitive under the parallel executors (the leader's optimistic engine and
//! the validator's scheduled one), which supply views onto multi-version
//! memory instead of the serial executor's running overlay.
//!
//! Reads are recorded and net writes computed by the same code as in
//! [`BlockExecutor`](crate::BlockExecutor) (`RecordingDb`, `diff_state`), so
//! a transaction run here over a view equal to the serial executor's running
//! state records exactly what the serial executor records.

use crate::beneficiary::beneficiary_fee;
use crate::db::RecordingDb;
use crate::diff::{diff_state, DiffSink};
use crate::env::{effective_gas_price, fill_tx_env, tx_type};
use crate::error::classify;
use crate::run::{new_context, transact, tx_facts, Mode};
use crate::{BlockEnv, ExecError, Overlay};
use alloy_primitives::{Address, Log, TxKind, B256, U256};
use phalanx_core_types::{
    ReadKey, ReadValue, ReadWriteSet, RecoveredTx, StateChanges, StateView, TxReceipt, WriteOp,
};
use revm::primitives::{Bytecode, ExecutionResult, ResultAndState, TxEnv};
use rustc_hash::FxHashMap;

/// Where in the serial executor's checks a transaction was found invalid.
/// The serial executor checks, in order: the envelope (type, gas limit width,
/// EIP-2681 nonce), the block's remaining gas, then revm's checks against
/// state; a runner does not know the block's remaining gas, so callers need
/// the stage to reproduce the serial executor's first reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidStage {
    /// Rejected before any state was read (unsupported type, gas limit
    /// overflow, nonce 2^64-1): independent of state and of the block's gas.
    Envelope,
    /// Rejected by revm's checks (nonce, balance, fees, intrinsic gas, ...);
    /// may depend on the reads recorded.
    Evm,
}

/// An invalid transaction: it has no effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxInvalid {
    /// The check that rejected it.
    pub stage: InvalidStage,
    /// Ethereum-style reason, as [`ExecError::InvalidTransaction`] carries it.
    pub reason: String,
    /// The reads the verdict was based on, sorted by location (empty for
    /// [`InvalidStage::Envelope`]): the verdict stands as long as they do.
    pub reads: Vec<(ReadKey, ReadValue)>,
}

/// A valid transaction's results (it may still have reverted or halted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxExecuted {
    /// Every location read, with the value observed, sorted by location.
    pub reads: Vec<(ReadKey, ReadValue)>,
    /// Net writes, sorted; without the beneficiary's when the fee is deferred.
    pub writes: Vec<WriteOp>,
    /// The transaction's state delta (accounts, storage, new code); without
    /// the beneficiary's when the fee is deferred.
    pub changes: StateChanges,
    /// Whether execution succeeded.
    pub success: bool,
    /// Gas used (after refunds).
    pub gas_used: u64,
    /// The transaction's gas limit (what the block's remaining gas is checked against).
    pub gas_limit: u64,
    /// Logs emitted (empty unless `success`).
    pub logs: Vec<Log>,
    /// The created contract's address, for creations.
    pub contract_address: Option<Address>,
    /// EIP-2718 type byte.
    pub tx_type: u8,
    /// EIP-1559 effective gas price.
    pub effective_gas_price: u128,
    /// The beneficiary's fee, `(effective price - base fee) * gas_used`
    /// (computed as revm does); credited by the run itself unless deferred.
    pub beneficiary_fee: U256,
}

impl TxExecuted {
    /// The read/write set as the serial executor records it (when the fee
    /// was not deferred).
    pub fn rw_set(&self) -> ReadWriteSet {
        ReadWriteSet { reads: self.reads.clone(), writes: self.writes.clone() }
    }

    /// The receipt, given the block's cumulative gas including this
    /// transaction and the hash of its final read/write set.
    pub fn receipt(&self, cumulative_gas_used: u64, rw_hash: B256) -> TxReceipt {
        TxReceipt {
            tx_type: self.tx_type,
            success: self.success,
            cumulative_gas_used,
            gas_used: self.gas_used,
            effective_gas_price: self.effective_gas_price,
            logs: self.logs.clone(),
            rw_hash,
            contract_address: self.contract_address,
        }
    }
}

/// What running one transaction produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutcome {
    /// Valid: executed (successfully or not).
    Executed(TxExecuted),
    /// Invalid: no effects.
    Invalid(TxInvalid),
}

impl TxOutcome {
    /// The reads the outcome depends on, sorted by location.
    pub fn reads(&self) -> &[(ReadKey, ReadValue)] {
        match self {
            TxOutcome::Executed(e) => &e.reads,
            TxOutcome::Invalid(i) => &i.reads,
        }
    }
}

/// Runs single transactions of one block over caller-supplied state views,
/// committing nothing. One runner per worker thread: it keeps an analysed-code
/// cache (code is immutable per hash, so the cache never goes stale) and
/// scratch buffers across transactions.
///
/// Does not check the block's remaining gas (it depends on the transactions
/// before); callers check `gas_limit` against it in block order.
pub struct TxRunner {
    env: BlockEnv,
    defer_fee: bool,
    code_cache: FxHashMap<B256, Bytecode>,
    new_code: Vec<(B256, Bytecode)>,
    log_encoding: Vec<u8>,
}

impl std::fmt::Debug for TxRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxRunner")
            .field("env", &self.env)
            .field("defer_fee", &self.defer_fee)
            .field("cached_codes", &self.code_cache.len())
            .finish_non_exhaustive()
    }
}

impl TxRunner {
    /// A runner for transactions of the block described by `env`, paying the
    /// beneficiary as the serial executor does.
    pub fn new(env: BlockEnv) -> Self {
        Self {
            env,
            defer_fee: false,
            code_cache: FxHashMap::default(),
            new_code: Vec::new(),
            log_encoding: Vec::new(),
        }
    }

    /// Whether to defer the beneficiary's fee: if so, the run neither reads
    /// nor credits `COINBASE` (unless the transaction itself touches it) and
    /// leaves [`TxExecuted::beneficiary_fee`] for the caller to credit.
    pub fn with_deferred_fee(mut self, defer: bool) -> Self {
        self.defer_fee = defer;
        self
    }

    /// The block environment.
    pub fn env(&self) -> &BlockEnv {
        &self.env
    }

    /// Executes `tx` over `view` (the state just before it) and returns its
    /// reads, writes and delta, or why it is invalid. `Err` only when reading
    /// state failed (including a view refusing a read, e.g. to make the
    /// caller wait for another transaction) or revm reported an internal error.
    pub fn run<V: StateView>(&mut self, view: V, tx: &RecoveredTx) -> Result<TxOutcome, ExecError> {
        // One non-generic instantiation of the EVM, compiled (optimised) in
        // this crate whatever the caller's view type; a virtual call per state
        // read costs nothing next to the interpreter.
        self.run_dyn(&view, tx)
    }

    fn run_dyn(&mut self, view: &dyn StateView, tx: &RecoveredTx) -> Result<TxOutcome, ExecError> {
        let cache = std::mem::take(&mut self.code_cache);
        let mut ctx =
            new_context(RecordingDb::with_code_cache(Overlay::new(view), cache), &self.env);
        if let Some(reason) = envelope_check(&mut ctx.evm.inner.env.tx, tx) {
            self.code_cache = ctx.evm.inner.db.take_code_cache();
            let invalid = TxInvalid { stage: InvalidStage::Envelope, reason, reads: Vec::new() };
            return Ok(TxOutcome::Invalid(invalid));
        }
        let mode = if self.defer_fee { Mode::BlockDeferredFee } else { Mode::Block };
        let (ctx, result) = transact(ctx, mode);
        let tx_env = ctx.evm.inner.env.tx.clone();
        let mut db = ctx.evm.inner.db;
        self.code_cache = db.take_code_cache();
        match result {
            Ok(result_and_state) => {
                Ok(TxOutcome::Executed(self.finish(db, &tx_env, tx, result_and_state)))
            }
            Err(err) => {
                let reads = db.recorder.take_sorted_reads();
                let reason = classify(err, &tx_facts(&tx_env, &self.env))?;
                Ok(TxOutcome::Invalid(TxInvalid { stage: InvalidStage::Evm, reason, reads }))
            }
        }
    }

    /// Turns revm's finalised state into the transaction's writes and delta.
    fn finish(
        &mut self,
        mut db: RecordingDb<&dyn StateView>,
        tx_env: &TxEnv,
        tx: &RecoveredTx,
        outcome: ResultAndState,
    ) -> TxExecuted {
        let ResultAndState { result, state } = outcome;
        let mut writes = Vec::with_capacity(8);
        let mut sink = DiffSink {
            writes: &mut writes,
            state: &mut db.state,
            new_code: &mut self.new_code,
            scratch: &mut self.log_encoding,
        };
        diff_state(&mut sink, &state, &db.recorder.accounts, result.logs());
        drop(state);
        for (hash, code) in self.new_code.drain(..) {
            self.code_cache.entry(hash).or_insert(code);
        }
        let reads = db.recorder.take_sorted_reads();
        let (_, changes) = db.state.into_parts();
        let gas_used = result.gas_used();
        TxExecuted {
            reads,
            writes,
            changes,
            success: result.is_success(),
            gas_used,
            gas_limit: tx_env.gas_limit,
            contract_address: match tx_env.transact_to {
                TxKind::Create => Some(tx.sender.create(tx.nonce())),
                TxKind::Call(_) => None,
            },
            tx_type: tx_type(&tx.tx),
            effective_gas_price: effective_gas_price(tx_env, self.env.base_fee_per_gas),
            beneficiary_fee: beneficiary_fee(tx_env, self.env.base_fee_per_gas, gas_used),
            logs: match result {
                ExecutionResult::Success { logs, .. } => logs,
                _ => Vec::new(),
            },
        }
    }
}

/// The serial executor's checks that precede any state access; fills `env`.
fn envelope_check(env: &mut TxEnv, tx: &RecoveredTx) -> Option<String> {
    if let Err(e) = fill_tx_env(env, tx) {
        return Some(e.reason());
    }
    // EIP-2681, as in `BlockExecutor::prepare`.
    (tx.nonce() == u64::MAX).then(|| "nonce has max value".to_string())
}

/// The serial executor's reason for a transaction whose gas limit exceeds the
/// gas left in the block.
pub fn block_gas_reason(gas_limit: u64, remaining: u64) -> String {
    format!("gas limit reached: tx gas limit {gas_limit}, block gas remaining {remaining}")
}

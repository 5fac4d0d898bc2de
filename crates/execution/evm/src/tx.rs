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
use crate::diff::{net_effects, DiffScratch};
use crate::env::{effective_gas_price, fill_tx_env, tx_type};
use crate::error::classify;
use crate::run::{new_evm, tx_facts, Evm, Mode};
use crate::{BlockEnv, ExecError, TxDelta};
use alloy_primitives::{Address, Log, TxKind, B256, U256};
use phalanx_core_types::{
    ReadKey, ReadValue, ReadWriteSet, RecoveredTx, StateView, TxReceipt, WriteOp,
};
use revm::primitives::{ExecutionResult, ResultAndState, TxEnv};

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
    pub delta: TxDelta,
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

/// Runs single transactions of one block over caller-supplied state views
/// of type `V`, committing nothing. One runner per worker thread: its EVM
/// (environment, handler, recorder buffers and analysed-code cache; code is
/// immutable per hash, so the cache never goes stale) is built on the first
/// run and reused by every later one, which only swaps the view in.
///
/// Does not check the block's remaining gas (it depends on the transactions
/// before); callers check `gas_limit` against it in block order.
pub struct TxRunner<'v, V: StateView + 'v> {
    env: BlockEnv,
    defer_fee: bool,
    /// `None` until the first run.
    evm: Option<Evm<'v, V>>,
    scratch: DiffScratch,
}

impl<'v, V: StateView + 'v> std::fmt::Debug for TxRunner<'v, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxRunner")
            .field("env", &self.env)
            .field("defer_fee", &self.defer_fee)
            .field("started", &self.evm.is_some())
            .finish_non_exhaustive()
    }
}

impl<'v, V: StateView + 'v> TxRunner<'v, V> {
    /// A runner for transactions of the block described by `env`, paying the
    /// beneficiary as the serial executor does.
    pub fn new(env: BlockEnv) -> Self {
        Self { env, defer_fee: false, evm: None, scratch: DiffScratch::default() }
    }

    /// Whether to defer the beneficiary's fee: if so, the run neither reads
    /// nor credits `COINBASE` (unless the transaction itself touches it) and
    /// leaves [`TxExecuted::beneficiary_fee`] for the caller to credit.
    /// Set before the first run.
    pub fn with_deferred_fee(mut self, defer: bool) -> Self {
        assert!(self.evm.is_none(), "the fee mode is fixed once the runner has run");
        self.defer_fee = defer;
        self
    }

    /// The block environment.
    pub fn env(&self) -> &BlockEnv {
        &self.env
    }

    /// The view of the latest run (the runner keeps it until the next run or
    /// its drop), e.g. to ask a multi-version view what it waited on.
    pub fn view(&self) -> Option<&V> {
        self.evm.as_ref().map(|evm| &evm.context.evm.inner.db.state)
    }

    /// Executes `tx` over `view` (the state just before it) and returns its
    /// reads, writes and delta, or why it is invalid. `Err` only when reading
    /// state failed (including a view refusing a read, e.g. to make the
    /// caller wait for another transaction) or revm reported an internal error.
    pub fn run(&mut self, view: V, tx: &RecoveredTx) -> Result<TxOutcome, ExecError> {
        let evm = match &mut self.evm {
            Some(evm) => {
                evm.context.evm.inner.db.state = view;
                evm
            }
            empty => {
                let mode = if self.defer_fee { Mode::BlockDeferredFee } else { Mode::Block };
                empty.insert(new_evm(RecordingDb::new(view), &self.env, mode))
            }
        };
        let inner = &mut evm.context.evm.inner;
        inner.db.recorder.clear();
        if let Some(reason) = envelope_check(&mut inner.env.tx, tx) {
            let invalid = TxInvalid { stage: InvalidStage::Envelope, reason, reads: Vec::new() };
            return Ok(TxOutcome::Invalid(invalid));
        }
        let result = evm.transact();
        let inner = &mut evm.context.evm.inner;
        match result {
            Ok(result_and_state) => Ok(TxOutcome::Executed(executed(
                &mut inner.db,
                &mut self.scratch,
                Finished { env: &self.env, tx_env: &inner.env.tx, tx, outcome: result_and_state },
            ))),
            Err(err) => {
                let reads = inner.db.recorder.take_sorted_reads();
                let reason = classify(err, &tx_facts(&inner.env.tx, &self.env))?;
                Ok(TxOutcome::Invalid(TxInvalid { stage: InvalidStage::Evm, reason, reads }))
            }
        }
    }
}

/// A transaction revm has just executed.
struct Finished<'a> {
    env: &'a BlockEnv,
    tx_env: &'a TxEnv,
    tx: &'a RecoveredTx,
    outcome: ResultAndState,
}

/// Turns revm's finalised state into the transaction's writes and delta.
fn executed<V: StateView>(
    db: &mut RecordingDb<V>,
    scratch: &mut DiffScratch,
    finished: Finished<'_>,
) -> TxExecuted {
    let Finished { env, tx_env, tx, outcome } = finished;
    let ResultAndState { result, state } = outcome;
    let mut delta = TxDelta::default();
    let rw_set = net_effects(&mut delta, &mut db.recorder, scratch, state, result.logs());
    db.cache_deployed(&mut scratch.new_code);
    delta.sort();
    let gas_used = result.gas_used();
    TxExecuted {
        reads: rw_set.reads,
        writes: rw_set.writes,
        delta,
        success: result.is_success(),
        gas_used,
        gas_limit: tx_env.gas_limit,
        contract_address: created_address(tx_env, tx),
        tx_type: tx_type(&tx.tx),
        effective_gas_price: effective_gas_price(tx_env, env.base_fee_per_gas),
        beneficiary_fee: beneficiary_fee(tx_env, env.base_fee_per_gas, gas_used),
        logs: success_logs(result),
    }
}

/// The address a creation deploys to (`None` for calls).
pub(crate) fn created_address(tx_env: &TxEnv, tx: &RecoveredTx) -> Option<Address> {
    match tx_env.transact_to {
        TxKind::Create => Some(tx.sender.create(tx.nonce())),
        TxKind::Call(_) => None,
    }
}

/// The logs a receipt carries: those of a successful execution, none otherwise.
pub(crate) fn success_logs(result: ExecutionResult) -> Vec<Log> {
    match result {
        ExecutionResult::Success { logs, .. } => logs,
        _ => Vec::new(),
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

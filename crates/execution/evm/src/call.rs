//! `eth_call` and `eth_estimateGas`: execution that commits nothing.

use crate::db::RecordingDb;
use crate::error::{classify, EstimateError};
use crate::run::{new_evm, tx_facts, Evm, Mode};
use crate::{BlockEnv, ExecError};
use alloy_primitives::{Bytes, Log, TxKind, U256};
pub use phalanx_core_types::CallRequest;
use phalanx_core_types::StateView;
use revm::primitives::{AccessListItem, ExecutionResult, TxEnv};

/// The call stipend geth adds to its optimistic first estimate.
const CALL_STIPEND: u64 = 2_300;
/// Upper bound on binary-search probes: the search halves a 64-bit range.
const ESTIMATE_PROBES_MAX: usize = 64;

/// The result of a call that executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// The call succeeded.
    Success {
        /// Return data (or deployed code for a creation).
        output: Bytes,
        /// Gas used, after refunds.
        gas_used: u64,
        /// Logs that would have been emitted.
        logs: Vec<Log>,
    },
    /// The call reverted.
    Revert {
        /// Revert data.
        output: Bytes,
        /// Gas used.
        gas_used: u64,
    },
    /// The call halted exceptionally (out of gas, invalid opcode, ...): all gas used.
    Halt {
        /// revm's halt reason, e.g. "OutOfGas(Basic)".
        reason: String,
        /// Gas used.
        gas_used: u64,
    },
}

impl CallOutcome {
    /// Whether the call succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, CallOutcome::Success { .. })
    }

    /// Gas used in all cases.
    pub fn gas_used(&self) -> u64 {
        match self {
            CallOutcome::Success { gas_used, .. }
            | CallOutcome::Revert { gas_used, .. }
            | CallOutcome::Halt { gas_used, .. } => *gas_used,
        }
    }
}

/// Whether the request pays nothing per gas (price fields absent or zero,
/// the condition under which geth skips the base-fee check for calls).
fn is_free(req: &CallRequest) -> bool {
    req.gas_price.unwrap_or(0) == 0
        && req.max_fee_per_gas.unwrap_or(0) == 0
        && req.max_priority_fee_per_gas.unwrap_or(0) == 0
}

fn call_tx_env(env: &BlockEnv, req: &CallRequest) -> TxEnv {
    let (gas_price, gas_priority_fee) = match (req.gas_price, req.max_fee_per_gas) {
        (Some(price), _) => (price, None),
        (None, Some(max_fee)) => (max_fee, Some(req.max_priority_fee_per_gas.unwrap_or(0))),
        (None, None) => (0, None),
    };
    TxEnv {
        caller: req.from.unwrap_or_default(),
        // revm rejects limits above the block's; calls are capped instead.
        gas_limit: req.gas.unwrap_or(env.gas_limit).min(env.gas_limit),
        gas_price: U256::from(gas_price),
        gas_priority_fee: gas_priority_fee.map(U256::from),
        transact_to: req.to.map_or(TxKind::Create, TxKind::Call),
        value: req.value.unwrap_or_default(),
        data: req.input.clone(),
        nonce: None,
        chain_id: None,
        access_list: req
            .access_list
            .iter()
            .map(|(address, keys)| AccessListItem { address: *address, storage_keys: keys.clone() })
            .collect(),
        ..TxEnv::default()
    }
}

/// An EVM for calls: like a block's, except that a request paying nothing
/// per gas runs with base fee 0 (revm cannot skip its base-fee check
/// otherwise; geth's `NoBaseFee` has the same effect on validation).
fn call_evm<'a, S: StateView + 'a>(state: S, env: &BlockEnv, req: &CallRequest) -> Evm<'a, S> {
    let mut env = *env;
    if is_free(req) {
        env.base_fee_per_gas = 0;
    }
    let mut evm = new_evm(RecordingDb::new(state), &env, Mode::Call);
    evm.context.evm.inner.env.tx = call_tx_env(&env, req);
    evm
}

/// Runs the transaction in `evm` once, leaving `evm` reusable for another run.
fn run_once<S: StateView>(
    evm: &mut Evm<'_, S>,
    env: &BlockEnv,
) -> Result<ExecutionResult, ExecError> {
    let outcome = evm.transact();
    let inner = &mut evm.context.evm.inner;
    inner.db.recorder.clear();
    match outcome {
        Ok(result_and_state) => Ok(result_and_state.result),
        Err(err) => match classify(err, &tx_facts(&inner.env.tx, env)) {
            Ok(reason) => Err(ExecError::InvalidCall { reason }),
            Err(other) => Err(other),
        },
    }
}

fn outcome(result: ExecutionResult) -> CallOutcome {
    match result {
        ExecutionResult::Success { output, gas_used, logs, .. } => {
            CallOutcome::Success { output: output.into_data(), gas_used, logs }
        }
        ExecutionResult::Revert { output, gas_used } => CallOutcome::Revert { output, gas_used },
        ExecutionResult::Halt { reason, gas_used } => {
            CallOutcome::Halt { reason: format!("{reason:?}"), gas_used }
        }
    }
}

/// Executes `req` on `state` without committing anything and without a nonce
/// check. Without `gas`, the block gas limit is used; without price fields
/// the price is 0, so the balance check only covers `value`.
pub fn call<S: StateView>(
    state: S,
    env: &BlockEnv,
    req: &CallRequest,
) -> Result<CallOutcome, ExecError> {
    run_once(&mut call_evm(state, env, req), env).map(outcome)
}

/// Finds (by binary search, as geth does) the lowest gas limit at which `req`
/// succeeds, between the gas it used at the cap and the cap (`req.gas` or the
/// block gas limit, further limited by what the sender can pay for).
///
/// A call that fails even at the cap gives [`EstimateError::Reverted`] /
/// [`EstimateError::Halted`]; an invalid request gives [`EstimateError::Exec`].
pub fn estimate_gas<S: StateView>(
    state: S,
    env: &BlockEnv,
    req: &CallRequest,
) -> Result<u64, EstimateError> {
    let mut evm = call_evm(state, env, req);
    let mut hi = evm.context.evm.inner.env.tx.gas_limit;
    hi = hi.min(affordable_gas(&evm, req)?);
    evm.context.evm.inner.env.tx.gas_limit = hi;
    let (used, refunded) = match run_once(&mut evm, env)? {
        ExecutionResult::Success { gas_used, gas_refunded, .. } => (gas_used, gas_refunded),
        ExecutionResult::Revert { output, .. } => return Err(EstimateError::Reverted { output }),
        ExecutionResult::Halt { reason, .. } => {
            return Err(EstimateError::Halted { reason: format!("{reason:?}") })
        }
    };
    // Any limit below the gas used fails: execution spends it before refunds.
    let mut lo = used.saturating_sub(1);
    // geth's optimistic probe: usually right on the first try.
    let optimistic = (used + refunded + CALL_STIPEND).saturating_mul(64) / 63;
    let mut probe = optimistic.min(hi);
    for _ in 0..ESTIMATE_PROBES_MAX {
        if lo + 1 >= hi {
            break;
        }
        if probe <= lo || probe >= hi {
            probe = lo + (hi - lo) / 2;
        }
        evm.context.evm.inner.env.tx.gas_limit = probe;
        let ok = match run_once(&mut evm, env) {
            Ok(result) => result.is_success(),
            Err(ExecError::InvalidCall { .. }) => false,
            Err(other) => return Err(other.into()),
        };
        if ok {
            hi = probe;
        } else {
            lo = probe;
        }
        probe = lo + (hi - lo) / 2;
    }
    Ok(hi)
}

/// The most gas the sender can pay for after the value (unbounded at price 0).
fn affordable_gas<S: StateView>(evm: &Evm<'_, S>, req: &CallRequest) -> Result<u64, ExecError> {
    let inner = &evm.context.evm.inner;
    let price = inner.env.tx.gas_price;
    if price.is_zero() {
        return Ok(u64::MAX);
    }
    let from = req.from.unwrap_or_default();
    let balance = inner.db.state.account(&from)?.map(|a| a.balance).unwrap_or_default();
    let Some(available) = balance.checked_sub(req.value.unwrap_or_default()) else {
        return Err(ExecError::InvalidCall {
            reason: format!("insufficient funds for transfer: address {from}"),
        });
    };
    Ok(u64::try_from(available / price).unwrap_or(u64::MAX))
}

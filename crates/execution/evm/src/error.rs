//! Execution errors, with Ethereum-style reasons for invalid transactions.

use alloy_primitives::{Address, Bytes, B256};
use phalanx_core_types::StateError;
use revm::primitives::{EVMError, InvalidTransaction, MAX_INITCODE_SIZE};

/// Why a transaction, block or call could not be executed.
///
/// Note the difference with a *failed* transaction: a valid transaction that
/// reverts or runs out of gas is not an error (it gets a receipt with
/// `success == false`); these variants mean nothing was executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The transaction is invalid against the current state or block (wrong
    /// nonce, insufficient funds, gas limits, fee below base fee, ...). The
    /// state is unchanged and the block producer leaves the transaction out.
    #[error("invalid transaction {hash}: {reason}")]
    InvalidTransaction {
        /// Hash of the rejected transaction.
        hash: B256,
        /// Ethereum-style description, e.g. "nonce too low: next nonce 3, tx nonce 1".
        reason: String,
    },
    /// A block under validation contains an invalid transaction.
    #[error("block transaction {index} is invalid: {reason}")]
    InvalidBlockTransaction {
        /// Position of the offending transaction in the block.
        index: usize,
        /// Ethereum-style description of the problem.
        reason: String,
    },
    /// An `eth_call`-style request is invalid (e.g. the sender cannot pay the value).
    #[error("invalid call: {reason}")]
    InvalidCall {
        /// Ethereum-style description of the problem.
        reason: String,
    },
    /// Reading state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The EVM reported an internal error (bad block environment, precompile
    /// failure outside of execution); this is a bug or misconfiguration.
    #[error("evm error: {message}")]
    Evm {
        /// revm's description.
        message: String,
    },
}

/// Why `estimate_gas` produced no estimate.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    /// The call reverts even with the maximum gas allowed.
    #[error("execution reverted")]
    Reverted {
        /// The revert data (ABI-encoded reason, if any).
        output: Bytes,
    },
    /// The call halts (out of gas, invalid opcode, ...) even with the maximum gas allowed.
    #[error("execution halted: {reason}")]
    Halted {
        /// revm's halt reason, e.g. "OutOfGas(Basic)".
        reason: String,
    },
    /// The request could not be executed at all.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// The facts needed to phrase an invalid-transaction reason as geth does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxFacts {
    pub caller: Address,
    pub gas_limit: u64,
    pub intrinsic_gas: u64,
    pub max_fee: u128,
    pub base_fee: u64,
    pub chain_id: u64,
    pub tx_chain_id: Option<u64>,
    pub input_len: usize,
}

/// Turns revm's validation error into an Ethereum-style (geth) reason string.
pub(crate) fn invalid_reason(err: &InvalidTransaction, facts: &TxFacts) -> String {
    use InvalidTransaction as I;
    match err {
        I::NonceTooLow { tx, state } => format!("nonce too low: next nonce {state}, tx nonce {tx}"),
        I::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        I::LackOfFundForMaxFee { fee, balance } => format!(
            "insufficient funds for gas * price + value: address {} have {balance} want {fee}",
            facts.caller
        ),
        I::CallGasCostMoreThanGasLimit => {
            format!("intrinsic gas too low: have {}, want {}", facts.gas_limit, facts.intrinsic_gas)
        }
        I::CallerGasLimitMoreThanBlock => "exceeds block gas limit".to_string(),
        I::GasPriceLessThanBasefee => format!(
            "max fee per gas less than block base fee: address {}, maxFeePerGas: {}, baseFee: {}",
            facts.caller, facts.max_fee, facts.base_fee
        ),
        I::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".to_string()
        }
        I::InvalidChainId => format!(
            "invalid chain id: have {}, want {}",
            facts.tx_chain_id.unwrap_or_default(),
            facts.chain_id
        ),
        I::CreateInitCodeSizeLimit => format!(
            "max initcode size exceeded: code size {} limit {MAX_INITCODE_SIZE}",
            facts.input_len
        ),
        I::RejectCallerWithCode => format!("sender not an eoa: address {}", facts.caller),
        I::NonceOverflowInTransaction => "nonce has max value".to_string(),
        I::OverflowPaymentInTransaction => {
            "insufficient funds for gas * price + value: overflow".to_string()
        }
        other => other.to_string(),
    }
}

/// Classifies a revm error: invalid transactions become `reason` strings (for
/// the caller to wrap), everything else becomes an [`ExecError`] directly.
pub(crate) fn classify(err: EVMError<StateError>, facts: &TxFacts) -> Result<String, ExecError> {
    match err {
        EVMError::Transaction(e) => Ok(invalid_reason(&e, facts)),
        EVMError::Database(e) => Err(ExecError::State(e)),
        EVMError::Header(e) => Err(ExecError::Evm { message: e.to_string() }),
        EVMError::Custom(message) | EVMError::Precompile(message) => {
            Err(ExecError::Evm { message })
        }
    }
}

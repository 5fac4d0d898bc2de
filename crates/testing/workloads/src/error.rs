//! Why a workload cannot be prepared.

use alloy_primitives::{Address, B256};

/// Why [`prepare`](crate::prepare) failed: a spec out of bounds, or a setup
/// transaction that did not do what the workload needs (a bug in this crate
/// or in the executor, never a property of the spec).
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The transaction count is zero or above the bound.
    #[error("a workload has 1..={max} transactions, asked for {txs}")]
    TxCount {
        /// Requested.
        txs: usize,
        /// [`TXS_MAX`](crate::TXS_MAX).
        max: usize,
    },
    /// The account count is zero or above the bound.
    #[error("a workload has 1..={max} accounts, asked for {accounts}")]
    AccountCount {
        /// Requested.
        accounts: usize,
        /// [`ACCOUNTS_MAX`](crate::ACCOUNTS_MAX).
        max: usize,
    },
    /// A hot-key ratio outside `[0, 1]`.
    #[error("hot-key ratio must be in [0, 1], got {ratio}")]
    HotRatio {
        /// Requested.
        ratio: f64,
    },
    /// A Zipf exponent that is negative or not finite.
    #[error("Zipf exponent must be finite and >= 0, got {s}")]
    ZipfExponent {
        /// Requested.
        s: f64,
    },
    /// A setup transaction was rejected as invalid.
    #[error("setup transaction {index} ({what}) is invalid: {reason}")]
    SetupInvalid {
        /// Its position in the setup sequence.
        index: usize,
        /// What it was meant to do.
        what: &'static str,
        /// The executor's reason.
        reason: String,
    },
    /// A setup transaction executed but reverted or halted.
    #[error("setup transaction {index} ({what}, hash {hash}) failed")]
    SetupReverted {
        /// Its position in the setup sequence.
        index: usize,
        /// What it was meant to do.
        what: &'static str,
        /// Its hash.
        hash: B256,
    },
    /// After setup, a contract the workload calls has no code.
    #[error("{name} is not deployed at {address} after setup")]
    NotDeployed {
        /// The contract.
        name: &'static str,
        /// Where it was expected.
        address: Address,
    },
}

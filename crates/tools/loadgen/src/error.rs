//! The one error type of the load generator.

use alloy_primitives::B256;

/// Why a load run or benchmark could not proceed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A configuration value is out of its allowed range.
    #[error("invalid load config `{field}`: {reason}")]
    InvalidConfig {
        /// Which field.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The JSON-RPC client could not be built for the URL.
    #[error("cannot build a JSON-RPC client for `{url}`: {source}")]
    Client {
        /// The RPC URL.
        url: String,
        /// The underlying error.
        #[source]
        source: jsonrpsee::core::ClientError,
    },
    /// A JSON-RPC call failed (transport error or error object).
    #[error("JSON-RPC `{method}` failed: {source}")]
    Rpc {
        /// The method called.
        method: &'static str,
        /// The underlying error.
        #[source]
        source: jsonrpsee::core::ClientError,
    },
    /// The node answered with something that is not what the method promises.
    #[error("JSON-RPC `{method}` returned an unusable answer: {reason}")]
    BadResponse {
        /// The method called.
        method: &'static str,
        /// What was wrong with the answer.
        reason: String,
    },
    /// Signing a transaction failed.
    #[error("signing a transaction failed: {0}")]
    Sign(#[from] alloy_signer::Error),
    /// The node refused a setup transaction (funding, deployment, distribution).
    #[error("the node refused setup transaction `{what}`: {message}")]
    SetupRejected {
        /// Which setup step.
        what: &'static str,
        /// The node's error message.
        message: String,
    },
    /// A setup transaction was mined but reverted.
    #[error("setup transaction `{what}` ({tx_hash}) reverted")]
    SetupReverted {
        /// Which setup step.
        what: &'static str,
        /// The transaction hash.
        tx_hash: B256,
    },
    /// A setup transaction did not get a receipt in time.
    #[error("no receipt for setup transaction {tx_hash} within {timeout_ms} ms")]
    ReceiptTimeout {
        /// The transaction hash.
        tx_hash: B256,
        /// How long we waited.
        timeout_ms: u64,
    },
}

impl LoadError {
    /// Shorthand for an [`LoadError::InvalidConfig`].
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig { field, reason: reason.into() }
    }
}

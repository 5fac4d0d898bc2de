//! The boundary between the RPC layer and the node.
//!
//! **API boundary:** [`EthBackend`] is the whole contract between this crate
//! and the node. The RPC layer never touches the executor, the pool or storage
//! directly; it resolves block tags to heights, shapes JSON and maps errors.

use std::sync::Arc;

use alloy_primitives::{Address, Bytes, B256};
use phalanx_core_types::{Block, Header, RecoveredTx, StateView, TxReceipt};

/// What the node must provide to serve the Ethereum JSON-RPC API.
///
/// Every method may be called concurrently from many RPC worker threads.
/// Methods returning `Result` (and [`EthBackend::pool_transaction`]) may block
/// on disk or the EVM: the server calls them on tokio's blocking pool. The
/// others (`chain_id`, `latest_height`, `pool_status`,
/// `subscribe_new_heads`, `max_priority_fee_per_gas`) are also called from
/// async tasks and must return promptly. Heights are block numbers; genesis
/// is 0.
pub trait EthBackend: Send + Sync + 'static {
    /// The EIP-155 chain id.
    fn chain_id(&self) -> u64;

    /// Height of the newest committed block. Committed blocks are final, so
    /// `latest`, `safe`, `finalized` and `pending` all resolve to it.
    fn latest_height(&self) -> u64;

    /// The committed block at `height`, `Ok(None)` if there is none (yet).
    fn block_by_height(&self, height: u64) -> Result<Option<Block>, BackendError>;

    /// The committed block whose header hash is `hash`, `Ok(None)` if unknown.
    fn block_by_hash(&self, hash: &B256) -> Result<Option<Block>, BackendError>;

    /// The receipts of the block at `height`, one per transaction in block
    /// order, `Ok(None)` if there is no such block.
    fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, BackendError>;

    /// Where a committed transaction lives: `(height, index in block)`;
    /// `Ok(None)` if no committed block contains it.
    fn tx_location(&self, tx_hash: &B256) -> Result<Option<(u64, u32)>, BackendError>;

    /// A transaction waiting in the pool (served with `blockHash: null`);
    /// `None` if the pool does not hold it.
    fn pool_transaction(&self, tx_hash: &B256) -> Option<RecoveredTx>;

    /// State after block `height` (the RPC resolves tags to heights first).
    /// The backend may support only the latest height and return
    /// [`BackendError::StateUnavailable`] for others.
    fn state_at(&self, height: u64) -> Result<Arc<dyn StateView>, BackendError>;

    /// The nonce the sender's next transaction should carry: the latest state
    /// nonce advanced past the sender's gap-free run of pooled transactions.
    fn pending_nonce(&self, address: &Address) -> Result<u64, BackendError>;

    /// Executes `request` on top of the state after block `height` without
    /// committing anything. A revert or halt is a [`CallResult`], not an error;
    /// errors are for requests that cannot run at all (e.g. insufficient funds).
    fn call(&self, request: &CallRequest, height: u64) -> Result<CallResult, BackendError>;

    /// The smallest gas limit with which `request` succeeds on top of the
    /// state after block `height`, or why it never does.
    fn estimate_gas(
        &self,
        request: &CallRequest,
        height: u64,
    ) -> Result<EstimateResult, BackendError>;

    /// Decodes the EIP-2718 bytes `raw`, checks them and admits them into the
    /// pool, returning the transaction hash. Admission failures are
    /// [`BackendError::Rejected`] with a JSON-RPC error code (geth uses -32000)
    /// and a message tools recognise (e.g. "nonce too low").
    fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, BackendError>;

    /// Counts of pool transactions: executable now and waiting on a nonce gap.
    fn pool_status(&self) -> PoolStatus;

    /// A receiver of every newly committed block header, in height order.
    /// A lagging receiver may skip headers; it never sees them out of order.
    fn subscribe_new_heads(&self) -> tokio::sync::broadcast::Receiver<Header>;

    /// The priority fee (tip) per gas the node suggests, in wei.
    fn max_priority_fee_per_gas(&self) -> u128;
}

/// A call or gas-estimation request, converted from the JSON-RPC
/// `TransactionRequest` (both `input` and `data` are accepted there).
pub use phalanx_core_types::CallRequest;

/// The outcome of [`EthBackend::call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// Execution returned normally with `output`.
    Success {
        /// Return data.
        output: Bytes,
        /// Gas consumed.
        gas_used: u64,
    },
    /// Execution hit REVERT with `output` as revert data.
    Revert {
        /// Revert data (often ABI `Error(string)`).
        output: Bytes,
        /// Gas consumed.
        gas_used: u64,
    },
    /// Execution halted exceptionally (out of gas, invalid opcode...).
    Halt {
        /// Human-readable reason, e.g. "out of gas".
        reason: String,
        /// Gas consumed.
        gas_used: u64,
    },
}

/// The outcome of [`EthBackend::estimate_gas`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EstimateResult {
    /// The request succeeds with this gas limit.
    Gas(u64),
    /// The request reverts even with the maximum gas allowance.
    Revert {
        /// Revert data.
        output: Bytes,
    },
    /// The request halts even with the maximum gas allowance.
    Halt {
        /// Human-readable reason.
        reason: String,
    },
}

/// Counts of transactions in the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Transactions executable now (no nonce gap before them).
    pub pending: u64,
    /// Transactions waiting for an earlier nonce.
    pub queued: u64,
}

/// Why the backend could not answer. Each maps to one JSON-RPC error code
/// (see [`crate::error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The pool (or a check before it) refused a transaction; `code` and
    /// `message` are passed to the client verbatim.
    #[error("{message}")]
    Rejected {
        /// JSON-RPC error code to return.
        code: i32,
        /// Message to return.
        message: String,
    },
    /// State after block `height` is not kept by this node.
    #[error("state at block {height} is not available")]
    StateUnavailable {
        /// The height asked for.
        height: u64,
    },
    /// The request cannot be executed as given (served as -32000, like geth's
    /// "insufficient funds for gas * price + value").
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong with it.
        message: String,
    },
    /// The node failed (storage error, corruption): served as -32603.
    #[error("internal error: {message}")]
    Internal {
        /// The node's description.
        message: String,
    },
}

impl From<phalanx_core_types::StateError> for BackendError {
    fn from(e: phalanx_core_types::StateError) -> Self {
        match e {
            phalanx_core_types::StateError::Unavailable { height } => {
                Self::StateUnavailable { height }
            }
            other => Self::Internal { message: other.to_string() },
        }
    }
}

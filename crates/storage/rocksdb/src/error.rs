//! The store's error type.

use alloy_primitives::B256;
use phalanx_core_types::{GenesisError, StateError};

/// Everything that can go wrong in the store. Variants carry the values that
/// disagreed so that a caller (or an operator reading a log) can see why.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB itself failed (I/O, lock held by another process, ...).
    #[error("rocksdb failed while {context}: {source}")]
    Rocks {
        /// What the store was doing.
        context: &'static str,
        /// The engine's error.
        #[source]
        source: rocksdb::Error,
    },
    /// A block (or state) was offered for a height other than `head + 1`.
    #[error("expected height {expected}, got {got}")]
    NotNextHeight {
        /// The only height that can be committed now.
        expected: u64,
        /// The height that was offered.
        got: u64,
    },
    /// The block's parent hash is not the hash of the current head.
    #[error("block {height} has parent {got}, but the head is {expected}")]
    ParentMismatch {
        /// Height of the offered block.
        height: u64,
        /// Hash of the current head (zero for genesis).
        expected: B256,
        /// The block's `parent_hash`.
        got: B256,
    },
    /// The header's state root is not the root the prepared state produces.
    #[error("block {height} claims state root {header}, the prepared state has {prepared}")]
    StateRootMismatch {
        /// Height of the offered block.
        height: u64,
        /// Root computed by `prepare_state`.
        prepared: B256,
        /// Root written in the header.
        header: B256,
    },
    /// A `PreparedState` was computed on top of a different head than the current one.
    #[error(
        "prepared state for height {height} was built on head {prepared_on:?}, head is {head:?}"
    )]
    StalePreparedState {
        /// Height the state was prepared for.
        height: u64,
        /// Head hash the state was prepared on (`None`: empty store).
        prepared_on: Option<B256>,
        /// Head hash now.
        head: Option<B256>,
    },
    /// The block body does not match the header's commitments.
    #[error("block {height}: body does not match the header (transactions root or schedule hash)")]
    BodyMismatch {
        /// Height of the offered block.
        height: u64,
    },
    /// The receipts do not match the block (count, root or gas used).
    #[error("block {height}: receipts do not match: {reason}")]
    ReceiptsMismatch {
        /// Height of the offered block.
        height: u64,
        /// Which check failed.
        reason: String,
    },
    /// A transaction of the block is already in the committed chain (or twice in the block).
    #[error(
        "transaction {tx_hash} of block {height} is already included at height {existing_height}"
    )]
    DuplicateTransaction {
        /// Height of the offered block.
        height: u64,
        /// The repeated transaction.
        tx_hash: B256,
        /// Where it already is.
        existing_height: u64,
    },
    /// The state changes break their own invariants.
    #[error("invalid state changes: {reason}")]
    InvalidChanges {
        /// Which invariant.
        reason: String,
    },
    /// The genesis description is unusable.
    #[error("invalid genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// The store already holds a different genesis block.
    #[error("stored genesis {stored} differs from the configured genesis {configured}")]
    GenesisMismatch {
        /// Hash of block 0 in the store.
        stored: B256,
        /// Hash of block 0 built from the genesis description.
        configured: B256,
    },
    /// Stored bytes failed to decode or broke an invariant: the database is corrupt.
    #[error("corrupt record in column family `{cf}` under key {key}: {reason}")]
    Corrupt {
        /// Column family of the record.
        cf: &'static str,
        /// Hex of the key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The JMT commitment failed (its traits report `anyhow` errors; kept as text).
    #[error("state commitment failed: {reason}")]
    Commitment {
        /// The JMT's message.
        reason: String,
    },
    /// State (or a proof) was requested for a height that is not committed.
    #[error("state at height {height} is not available")]
    StateUnavailable {
        /// The requested height.
        height: u64,
    },
}

impl StoreError {
    /// A `Corrupt` error for `key` in `cf`.
    pub(crate) fn corrupt(cf: &'static str, key: &[u8], reason: impl Into<String>) -> Self {
        StoreError::Corrupt { cf, key: hex_of(key), reason: reason.into() }
    }

    /// Wraps a RocksDB error with what the store was doing.
    pub(crate) fn rocks(context: &'static str) -> impl FnOnce(rocksdb::Error) -> Self {
        move |source| StoreError::Rocks { context, source }
    }

    /// Wraps a JMT error.
    pub(crate) fn commitment(err: anyhow::Error) -> Self {
        StoreError::Commitment { reason: format!("{err:#}") }
    }
}

/// Lower-case hex with a `0x` prefix.
pub(crate) fn hex_of(bytes: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(bytes))
}

impl From<StoreError> for StateError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Corrupt { cf, key, reason } => {
                StateError::Corrupt { key: format!("{cf}/{key}"), reason }
            }
            StoreError::StateUnavailable { height } => StateError::Unavailable { height },
            other => StateError::Backend { message: other.to_string() },
        }
    }
}

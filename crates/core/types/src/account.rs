//! Accounts and the read-only state boundary.

use alloy_primitives::{b256, Address, Bytes, B256, U256};

/// keccak256 of the empty byte string: the code hash of every account without code.
pub const KECCAK_EMPTY: B256 =
    b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

/// An account as the state stores it: the EVM's nonce, balance and code hash.
/// Code lives separately, addressed by its hash; storage slots live separately,
/// addressed by (account, slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Account {
    /// Number of transactions sent from (or contracts created by) this account.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the account's code, [`KECCAK_EMPTY`] when it has none.
    pub code_hash: B256,
}

impl Account {
    /// An account with a balance and nothing else.
    pub fn with_balance(balance: U256) -> Self {
        Self { nonce: 0, balance, code_hash: KECCAK_EMPTY }
    }

    /// Whether the account carries code.
    pub fn has_code(&self) -> bool {
        self.code_hash != KECCAK_EMPTY && self.code_hash != B256::ZERO
    }
}

/// Failure to read state. State readers are backed by storage that can fail
/// (I/O, corruption); they never fail because a key is absent.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The storage engine reported an error.
    #[error("state backend error: {message}")]
    Backend {
        /// The backend's own description.
        message: String,
    },
    /// Stored bytes did not decode as the expected type: corruption.
    #[error("corrupt state record under key {key}: {reason}")]
    Corrupt {
        /// Hex of the key that failed to decode.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The requested historical state is no longer (or not yet) available.
    #[error("state at block {height} is not available")]
    Unavailable {
        /// The height that was asked for.
        height: u64,
    },
}

/// Read-only view of world state at one point (a committed block, or a
/// committed block plus in-memory overlays of not-yet-committed blocks).
///
/// **API boundary:** the executor, the mempool and the RPC layer read state only
/// through this trait; only the storage crate knows how state is laid out on disk.
///
/// Contract: absent keys are `Ok(None)` / `Ok(U256::ZERO)`, never errors; every
/// method is deterministic for a given view.
pub trait StateView: Send + Sync {
    /// The account at `address`, `None` if it does not exist.
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError>;
    /// The value of storage `slot` of `address`; zero if unset.
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError>;
    /// The code whose keccak256 is `code_hash`, `None` if unknown.
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError>;
    /// The hash of block `height`, `None` if there is no such block in this view's past.
    fn block_hash(&self, height: u64) -> Result<Option<B256>, StateError>;
}

impl<T: StateView + ?Sized> StateView for std::sync::Arc<T> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        (**self).account(address)
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        (**self).storage(address, slot)
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        (**self).code(code_hash)
    }
    fn block_hash(&self, height: u64) -> Result<Option<B256>, StateError> {
        (**self).block_hash(height)
    }
}

impl<T: StateView + ?Sized> StateView for &T {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        (**self).account(address)
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        (**self).storage(address, slot)
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        (**self).code(code_hash)
    }
    fn block_hash(&self, height: u64) -> Result<Option<B256>, StateError> {
        (**self).block_hash(height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccak_empty_is_hash_of_nothing() {
        assert_eq!(KECCAK_EMPTY, alloy_primitives::keccak256([]));
    }
}

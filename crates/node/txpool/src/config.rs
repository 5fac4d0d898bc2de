//! Pool configuration: chain parameters the checks need and the pool's bounds.

/// Smallest future-nonce window the pool accepts: high-volume senders sign
/// ahead by this many nonces.
pub const NONCE_WINDOW_MIN: u64 = 1024;

/// Default bound on the transactions held in total.
pub const POOL_TXS_MAX_DEFAULT: usize = 100_000;

/// Default bound on the transactions held per sender.
pub const SENDER_TXS_MAX_DEFAULT: usize = 2048;

/// Default bound on one transaction's EIP-2718 encoding (128 KiB, as geth).
pub const TX_BYTES_MAX_DEFAULT: usize = 128 * 1024;

/// Minimum fee increase, in percent, for a transaction to replace a pooled one
/// with the same (sender, nonce).
pub const PRICE_BUMP_PERCENT: u64 = 10;

/// Chain parameters and bounds for [`crate::TxPool`] and
/// [`crate::TxPool::validate_stateless`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// EIP-155 chain id transactions must be signed for.
    pub chain_id: u64,
    /// Block gas limit: transactions with a larger gas limit are rejected.
    pub block_gas_limit: u64,
    /// The chain's constant EIP-1559 base fee (may be zero).
    pub base_fee_per_gas: u64,
    /// How far ahead of the sender's state nonce a nonce may be; clamped up to
    /// [`NONCE_WINDOW_MIN`] by [`crate::TxPool::new`].
    pub nonce_window: u64,
    /// Bound on transactions held in total.
    pub pool_txs_max: usize,
    /// Bound on transactions held per sender.
    pub sender_txs_max: usize,
    /// Bound on one transaction's encoded size in bytes.
    pub tx_bytes_max: usize,
    /// Whether legacy transactions without a chain id (pre-EIP-155) are accepted.
    pub accept_unprotected: bool,
}

impl PoolConfig {
    /// Defaults for `chain_id` with the given block gas limit and base fee.
    pub fn new(chain_id: u64, block_gas_limit: u64, base_fee_per_gas: u64) -> Self {
        Self {
            chain_id,
            block_gas_limit,
            base_fee_per_gas,
            nonce_window: NONCE_WINDOW_MIN,
            pool_txs_max: POOL_TXS_MAX_DEFAULT,
            sender_txs_max: SENDER_TXS_MAX_DEFAULT,
            tx_bytes_max: TX_BYTES_MAX_DEFAULT,
            accept_unprotected: false,
        }
    }
}

impl Default for PoolConfig {
    /// Chain id 1, a 30M block gas limit, zero base fee, default bounds.
    fn default() -> Self {
        Self::new(1, 30_000_000, 0)
    }
}

//! phalanx-node-txpool: the mempool.
//!
//! [`TxPool`] admits transactions after the stateless checks
//! ([`TxPool::validate_stateless`]: size, decoding, type, chain id, gas, fees,
//! intrinsic gas, signature) and the state checks (nonce, balance) against the
//! latest committed state, keeps them in per-sender nonce-ordered queues with
//! a future-nonce window, hands executable ones to the block builder
//! ([`TxPool::best`]) and prunes after each block
//! ([`TxPool::on_block_committed`]). Every rejection is a [`PoolError`] whose
//! message is geth's wording, with [`PoolError::rpc_code`] for JSON-RPC.
//!
//! Everything is bounded: total transactions (`pool_txs_max`), per sender
//! (`sender_txs_max`), nonce distance (`nonce_window`) and encoded size
//! (`tx_bytes_max`), see [`PoolConfig`].

mod config;
mod error;
mod pool;
mod queues;
mod validate;

#[cfg(test)]
mod fuzz_props;
#[cfg(test)]
mod test_utils;

pub use config::{
    PoolConfig, NONCE_WINDOW_MIN, POOL_TXS_MAX_DEFAULT, PRICE_BUMP_PERCENT, SENDER_TXS_MAX_DEFAULT,
    TX_BYTES_MAX_DEFAULT,
};
pub use error::{PoolError, RPC_CODE_INTERNAL, RPC_CODE_TX_REJECTED};
pub use pool::TxPool;
pub use queues::PoolStatus;
pub use validate::{intrinsic_gas, MAX_INIT_CODE_BYTES};

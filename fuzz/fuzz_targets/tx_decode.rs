//! Fuzzes transaction intake: arbitrary bytes through the shared decoder,
//! sender recovery and the mempool's stateless validation. Nothing may panic;
//! whatever the pool accepts must re-encode to exactly its input and carry
//! keccak256 of it as its hash.

#![no_main]

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::keccak256;
use libfuzzer_sys::fuzz_target;
use phalanx_core_types::{decode_transaction, RecoveredTx};
use phalanx_node_txpool::{PoolConfig, TxPool};

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = decode_transaction(data) {
        let _ = RecoveredTx::recover(tx);
    }
    // Mainnet-like limits, unprotected legacy transactions allowed, so that
    // as many inputs as possible reach the deeper checks.
    let config = PoolConfig { accept_unprotected: true, ..PoolConfig::new(1, u64::MAX, 0) };
    if let Ok(tx) = TxPool::validate_stateless(&config, data) {
        assert_eq!(tx.tx.encoded_2718(), data, "accepted bytes are not canonical");
        assert_eq!(tx.hash, keccak256(data), "hash is not keccak256 of the bytes");
    }
});

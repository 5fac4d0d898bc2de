//! Receipt and log shapes.

use alloy_primitives::{Address, Bloom, Bytes, B256};
use phalanx_core_types::{RecoveredTx, TxReceipt};
use serde::Serialize;

/// A log in Ethereum's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    /// Emitting contract.
    pub address: Address,
    /// Indexed topics.
    pub topics: Vec<B256>,
    /// Non-indexed data.
    pub data: Bytes,
    /// Containing block hash.
    pub block_hash: B256,
    /// Containing block height.
    #[serde(with = "alloy_serde::quantity")]
    pub block_number: u64,
    /// Emitting transaction.
    pub transaction_hash: B256,
    /// Index of the emitting transaction in the block.
    #[serde(with = "alloy_serde::quantity")]
    pub transaction_index: u64,
    /// Index of the log in the whole block.
    #[serde(with = "alloy_serde::quantity")]
    pub log_index: u64,
    /// Always false: committed blocks are final.
    pub removed: bool,
}

/// A receipt in Ethereum's JSON shape plus Phalanx's `rwHash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceipt {
    /// Transaction hash.
    pub transaction_hash: B256,
    /// Index in the block.
    #[serde(with = "alloy_serde::quantity")]
    pub transaction_index: u64,
    /// Containing block hash.
    pub block_hash: B256,
    /// Containing block height.
    #[serde(with = "alloy_serde::quantity")]
    pub block_number: u64,
    /// Sender.
    pub from: Address,
    /// Callee, `null` for creation.
    pub to: Option<Address>,
    /// Gas used by this and earlier transactions of the block.
    #[serde(with = "alloy_serde::quantity")]
    pub cumulative_gas_used: u64,
    /// Gas used by this transaction.
    #[serde(with = "alloy_serde::quantity")]
    pub gas_used: u64,
    /// Price paid per gas.
    #[serde(with = "alloy_serde::quantity")]
    pub effective_gas_price: u128,
    /// Created contract, `null` otherwise.
    pub contract_address: Option<Address>,
    /// Logs, with block-wide log indices.
    pub logs: Vec<RpcLog>,
    /// Bloom over the logs.
    pub logs_bloom: Bloom,
    /// EIP-2718 type.
    #[serde(rename = "type", with = "alloy_serde::quantity")]
    pub tx_type: u8,
    /// 1 on success, 0 on failure.
    #[serde(with = "alloy_serde::quantity")]
    pub status: u64,
    /// Non-standard: PaVM read/write operation hash.
    pub rw_hash: B256,
}

/// Position of a receipt's logs in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogContext {
    /// Containing block hash.
    pub block_hash: B256,
    /// Containing block height.
    pub block_number: u64,
    /// Emitting transaction hash.
    pub transaction_hash: B256,
    /// Index of the transaction in the block.
    pub transaction_index: u64,
    /// Block-wide index of the receipt's first log (the number of logs
    /// emitted by earlier transactions of the block).
    pub first_log_index: u64,
}

/// The logs of `receipt` in Ethereum shape.
pub fn rpc_logs(receipt: &TxReceipt, ctx: LogContext) -> Vec<RpcLog> {
    receipt
        .logs
        .iter()
        .enumerate()
        .map(|(i, log)| RpcLog {
            address: log.address,
            topics: log.topics().to_vec(),
            data: log.data.data.clone(),
            block_hash: ctx.block_hash,
            block_number: ctx.block_number,
            transaction_hash: ctx.transaction_hash,
            transaction_index: ctx.transaction_index,
            log_index: ctx.first_log_index + i as u64,
            removed: false,
        })
        .collect()
}

/// The Ethereum-shaped receipt of `tx`, which sits at `ctx` in its block.
pub fn rpc_receipt(tx: &RecoveredTx, receipt: &TxReceipt, ctx: LogContext) -> RpcReceipt {
    use alloy_consensus::Transaction;
    RpcReceipt {
        transaction_hash: ctx.transaction_hash,
        transaction_index: ctx.transaction_index,
        block_hash: ctx.block_hash,
        block_number: ctx.block_number,
        from: tx.sender,
        to: tx.tx.to().to().copied(),
        cumulative_gas_used: receipt.cumulative_gas_used,
        gas_used: receipt.gas_used,
        effective_gas_price: receipt.effective_gas_price,
        contract_address: receipt.contract_address,
        logs: rpc_logs(receipt, ctx),
        logs_bloom: receipt.bloom(),
        tx_type: receipt.tx_type,
        status: u64::from(receipt.success),
        rw_hash: receipt.rw_hash,
    }
}

//! Read-only lookups of blocks, transactions and receipts.

use alloy_primitives::B256;
use jsonrpsee::types::ErrorObjectOwned;
use phalanx_core_types::{Block, RecoveredTx, TxReceipt};

use crate::backend::EthBackend;
use crate::error::{backend_error, internal_error};
use crate::shapes::{
    rpc_block, rpc_receipt, rpc_transaction, LogContext, RpcBlock, RpcReceipt, RpcTransaction,
    TxContext,
};

/// Lookup result: `Ok(None)` is JSON `null`.
pub type Lookup<T> = Result<Option<T>, ErrorObjectOwned>;

/// The block at `height` in Ethereum shape.
pub fn block_at(backend: &dyn EthBackend, height: u64, full: bool) -> Lookup<RpcBlock> {
    let block = backend.block_by_height(height).map_err(backend_error)?;
    block.map(|b| rpc_block(&b, full).map_err(internal_error)).transpose()
}

/// The block with `hash` in Ethereum shape.
pub fn block_with_hash(backend: &dyn EthBackend, hash: &B256, full: bool) -> Lookup<RpcBlock> {
    let block = backend.block_by_hash(hash).map_err(backend_error)?;
    block.map(|b| rpc_block(&b, full).map_err(internal_error)).transpose()
}

/// Recovers the sender of a committed transaction; failure means corrupt
/// storage, since the node checked the signature before committing.
fn recover(block: &Block, index: usize) -> Result<RecoveredTx, ErrorObjectOwned> {
    let tx = block.transactions.get(index).ok_or_else(|| {
        internal_error(format!("block {} has no transaction {index}", block.header.height))
    })?;
    RecoveredTx::recover(tx.clone())
        .map_err(|e| internal_error(format!("committed transaction does not recover: {e}")))
}

/// Transaction `index` of `block` in Ethereum shape, `None` past the end.
pub fn transaction_in_block(block: &Block, index: u64) -> Lookup<RpcTransaction> {
    let Ok(i) = usize::try_from(index) else { return Ok(None) };
    if i >= block.transactions.len() {
        return Ok(None);
    }
    let recovered = recover(block, i)?;
    let context = TxContext {
        block_hash: block.hash(),
        block_number: block.header.height,
        index,
        base_fee: block.header.base_fee_per_gas,
    };
    Ok(Some(rpc_transaction(&recovered, Some(context))))
}

/// A committed or pooled transaction by hash.
pub fn transaction_by_hash(backend: &dyn EthBackend, hash: &B256) -> Lookup<RpcTransaction> {
    if let Some((height, index)) = backend.tx_location(hash).map_err(backend_error)? {
        let block = backend.block_by_height(height).map_err(backend_error)?.ok_or_else(|| {
            internal_error(format!("transaction {hash} indexed in missing block {height}"))
        })?;
        return transaction_in_block(&block, u64::from(index));
    }
    Ok(backend.pool_transaction(hash).map(|tx| rpc_transaction(&tx, None)))
}

/// The receipt of a committed transaction; `None` while pooled or unknown.
pub fn receipt_by_hash(backend: &dyn EthBackend, hash: &B256) -> Lookup<RpcReceipt> {
    let Some((height, index)) = backend.tx_location(hash).map_err(backend_error)? else {
        return Ok(None);
    };
    let missing =
        || internal_error(format!("transaction {hash} indexed in missing block {height}"));
    let block = backend.block_by_height(height).map_err(backend_error)?.ok_or_else(missing)?;
    let receipts = backend.receipts(height).map_err(backend_error)?.ok_or_else(missing)?;
    let index = index as usize;
    let receipt = receipts.get(index).ok_or_else(|| {
        internal_error(format!("block {height} has no receipt for transaction {index}"))
    })?;
    let tx = recover(&block, index)?;
    let ctx = log_context(&block, &receipts, index);
    Ok(Some(rpc_receipt(&tx, receipt, ctx)))
}

/// All receipts of the block at `height`, `None` if there is no such block.
pub fn block_receipts(backend: &dyn EthBackend, height: u64) -> Lookup<Vec<RpcReceipt>> {
    let Some(block) = backend.block_by_height(height).map_err(backend_error)? else {
        return Ok(None);
    };
    let receipts = backend
        .receipts(height)
        .map_err(backend_error)?
        .ok_or_else(|| internal_error(format!("receipts of block {height} are missing")))?;
    let mut out = Vec::with_capacity(receipts.len());
    let mut first_log_index = 0u64;
    for (index, receipt) in receipts.iter().enumerate() {
        let tx = recover(&block, index)?;
        let ctx = LogContext {
            block_hash: block.hash(),
            block_number: height,
            transaction_hash: tx.hash,
            transaction_index: index as u64,
            first_log_index,
        };
        first_log_index += receipt.logs.len() as u64;
        out.push(rpc_receipt(&tx, receipt, ctx));
    }
    Ok(Some(out))
}

/// The log context of receipt `index`: its first log's block-wide index is
/// the number of logs of the receipts before it.
fn log_context(block: &Block, receipts: &[TxReceipt], index: usize) -> LogContext {
    let first_log_index = receipts[..index].iter().map(|r| r.logs.len() as u64).sum();
    LogContext {
        block_hash: block.hash(),
        block_number: block.header.height,
        transaction_hash: *block.transactions[index].tx_hash(),
        transaction_index: index as u64,
        first_log_index,
    }
}

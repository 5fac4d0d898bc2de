//! Transaction shape (legacy, EIP-2930, EIP-1559, EIP-4844, EIP-7702).

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2930::AccessList;
use alloy_eips::eip7702::SignedAuthorization;
// alloy-consensus 0.3 signs with the (since deprecated) `Signature` type.
#[allow(deprecated)]
use alloy_primitives::Signature;
use alloy_primitives::{Address, Bytes, B256, U256};
use phalanx_core_types::RecoveredTx;
use serde::Serialize;

/// Where a committed transaction sits; `None` for pooled transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxContext {
    /// Hash of the containing block.
    pub block_hash: B256,
    /// Height of the containing block.
    pub block_number: u64,
    /// Index within the block.
    pub index: u64,
    /// Base fee of the containing block (for the effective gas price).
    pub base_fee: u64,
}

/// A transaction in Ethereum's JSON shape (geth's fields). Fields that do not
/// apply to the transaction's type are omitted; block fields are `null` for
/// pooled transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTransaction {
    /// Containing block hash, `null` while pooled.
    pub block_hash: Option<B256>,
    /// Containing block height, `null` while pooled.
    #[serde(with = "alloy_serde::quantity::opt")]
    pub block_number: Option<u64>,
    /// Index within the block, `null` while pooled.
    #[serde(with = "alloy_serde::quantity::opt")]
    pub transaction_index: Option<u64>,
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub from: Address,
    /// Callee, `null` for contract creation.
    pub to: Option<Address>,
    /// Sender nonce.
    #[serde(with = "alloy_serde::quantity")]
    pub nonce: u64,
    /// Value in wei.
    pub value: U256,
    /// Gas limit.
    #[serde(with = "alloy_serde::quantity")]
    pub gas: u128,
    /// Legacy price, or for fee-market transactions the effective price once
    /// mined (the fee cap while pooled), as geth does.
    #[serde(with = "alloy_serde::quantity")]
    pub gas_price: u128,
    /// EIP-1559 fee cap.
    #[serde(skip_serializing_if = "Option::is_none", with = "alloy_serde::quantity::opt")]
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip cap.
    #[serde(skip_serializing_if = "Option::is_none", with = "alloy_serde::quantity::opt")]
    pub max_priority_fee_per_gas: Option<u128>,
    /// EIP-4844 blob fee cap.
    #[serde(skip_serializing_if = "Option::is_none", with = "alloy_serde::quantity::opt")]
    pub max_fee_per_blob_gas: Option<u128>,
    /// Calldata or init code.
    pub input: Bytes,
    /// EIP-2718 type.
    #[serde(rename = "type", with = "alloy_serde::quantity")]
    pub tx_type: u8,
    /// Chain id (absent for pre-EIP-155 legacy transactions).
    #[serde(skip_serializing_if = "Option::is_none", with = "alloy_serde::quantity::opt")]
    pub chain_id: Option<u64>,
    /// Access list (typed transactions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_list: Option<AccessList>,
    /// Blob hashes (EIP-4844).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_versioned_hashes: Option<Vec<B256>>,
    /// Authorizations (EIP-7702).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_list: Option<Vec<SignedAuthorization>>,
    /// Signature v: EIP-155 value for legacy, y-parity for typed transactions.
    #[serde(with = "alloy_serde::quantity")]
    pub v: u64,
    /// Signature r.
    pub r: U256,
    /// Signature s.
    pub s: U256,
    /// y-parity (typed transactions only).
    #[serde(skip_serializing_if = "Option::is_none", with = "alloy_serde::quantity::opt")]
    pub y_parity: Option<u64>,
}

#[allow(deprecated)]
/// The signature of any envelope variant; `None` only for variants newer
/// than this crate (the enum is non-exhaustive).
fn signature(tx: &TxEnvelope) -> Option<&Signature> {
    match tx {
        TxEnvelope::Legacy(s) => Some(s.signature()),
        TxEnvelope::Eip2930(s) => Some(s.signature()),
        TxEnvelope::Eip1559(s) => Some(s.signature()),
        TxEnvelope::Eip4844(s) => Some(s.signature()),
        TxEnvelope::Eip7702(s) => Some(s.signature()),
        _ => None,
    }
}

#[allow(deprecated)]
/// The Ethereum-shaped transaction; `context` is the block position of a
/// committed transaction, `None` for a pooled one.
pub fn rpc_transaction(recovered: &RecoveredTx, context: Option<TxContext>) -> RpcTransaction {
    let tx = &recovered.tx;
    let sig = signature(tx);
    let y_parity = sig.map_or(0, |s| s.v().y_parity() as u64);
    let is_legacy = tx.is_legacy();
    let v = if is_legacy {
        match tx.chain_id() {
            Some(chain_id) => 35 + 2 * chain_id + y_parity,
            None => 27 + y_parity,
        }
    } else {
        y_parity
    };
    let fee_market = tx.max_priority_fee_per_gas().is_some();
    let gas_price = match (tx.gas_price(), context) {
        (Some(price), _) => price,
        (None, Some(ctx)) => effective_price(tx, ctx.base_fee),
        (None, None) => tx.max_fee_per_gas(),
    };
    RpcTransaction {
        block_hash: context.map(|c| c.block_hash),
        block_number: context.map(|c| c.block_number),
        transaction_index: context.map(|c| c.index),
        hash: recovered.hash,
        from: recovered.sender,
        to: tx.to().to().copied(),
        nonce: tx.nonce(),
        value: tx.value(),
        gas: tx.gas_limit(),
        gas_price,
        max_fee_per_gas: fee_market.then(|| tx.max_fee_per_gas()),
        max_priority_fee_per_gas: tx.max_priority_fee_per_gas(),
        max_fee_per_blob_gas: tx.max_fee_per_blob_gas(),
        input: Bytes::copy_from_slice(tx.input()),
        tx_type: tx.ty(),
        chain_id: tx.chain_id(),
        access_list: tx.access_list().cloned(),
        blob_versioned_hashes: tx.blob_versioned_hashes().map(<[B256]>::to_vec),
        authorization_list: tx.authorization_list().map(<[SignedAuthorization]>::to_vec),
        v,
        r: sig.map_or(U256::ZERO, Signature::r),
        s: sig.map_or(U256::ZERO, Signature::s),
        y_parity: (!is_legacy).then_some(y_parity),
    }
}

/// The price a fee-market transaction pays per gas under `base_fee`:
/// min(fee cap, base fee + tip cap).
fn effective_price(tx: &TxEnvelope, base_fee: u64) -> u128 {
    let tip = tx.max_priority_fee_per_gas().unwrap_or(0);
    tx.max_fee_per_gas().min((base_fee as u128).saturating_add(tip))
}

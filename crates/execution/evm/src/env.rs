//! The block environment and the translation of transactions into revm's `TxEnv`.

use alloy_consensus::{TxEip4844Variant, TxEnvelope};
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, TxKind, B256, U256};
use phalanx_core_types::RecoveredTx;
use revm::primitives::{
    AccessListItem, BlobExcessGasAndPrice, BlockEnv as RevmBlockEnv, CfgEnv, TxEnv,
};

/// Everything about the enclosing block that the EVM sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEnv {
    /// Block number (`NUMBER`).
    pub height: u64,
    /// Block timestamp in seconds (`TIMESTAMP`).
    pub timestamp: u64,
    /// The EVM `COINBASE`: the whitepaper's `ProposerAddr()`; receives priority fees.
    pub proposer: Address,
    /// Block gas limit (`GASLIMIT`), also the cap on the sum of the block's gas used.
    pub gas_limit: u64,
    /// EIP-1559 base fee per gas (`BASEFEE`); burnt.
    pub base_fee_per_gas: u64,
    /// `PREVRANDAO`.
    pub prev_randao: B256,
    /// Chain id (`CHAINID`), checked against EIP-155 / typed transactions.
    pub chain_id: u64,
}

impl BlockEnv {
    /// revm's block environment: difficulty 0, prevrandao set and blob
    /// excess gas 0 so that the blob base fee is defined (Cancun requires both).
    pub(crate) fn to_revm(self) -> RevmBlockEnv {
        RevmBlockEnv {
            number: U256::from(self.height),
            coinbase: self.proposer,
            timestamp: U256::from(self.timestamp),
            gas_limit: U256::from(self.gas_limit),
            basefee: U256::from(self.base_fee_per_gas),
            difficulty: U256::ZERO,
            prevrandao: Some(self.prev_randao),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(0)),
        }
    }

    /// revm's configuration: only the chain id differs from the defaults, so
    /// every check (nonce, balance, base fee, EIP-3607) stays enabled.
    pub(crate) fn cfg(self) -> CfgEnv {
        CfgEnv::default().with_chain_id(self.chain_id)
    }
}

/// Why a transaction cannot even be expressed to revm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxEnvError {
    /// The gas limit does not fit in 64 bits.
    GasLimitOverflow,
    /// The transaction type is not enabled under Cancun rules.
    UnsupportedType(u8),
}

impl TxEnvError {
    /// Ethereum-style text.
    pub(crate) fn reason(&self) -> String {
        match self {
            TxEnvError::GasLimitOverflow => "gas limit overflows 64 bits".to_string(),
            TxEnvError::UnsupportedType(t) => format!("transaction type {t} not supported"),
        }
    }
}

fn access_list(list: &AccessList) -> Vec<AccessListItem> {
    list.0
        .iter()
        .map(|item| AccessListItem {
            address: item.address,
            storage_keys: item.storage_keys.clone(),
        })
        .collect()
}

fn gas_u64(gas: u128) -> Result<u64, TxEnvError> {
    u64::try_from(gas).map_err(|_| TxEnvError::GasLimitOverflow)
}

/// Fills `env` from `tx` (overwriting every field), as revm's statetest runner does.
pub(crate) fn fill_tx_env(env: &mut TxEnv, tx: &RecoveredTx) -> Result<(), TxEnvError> {
    env.caller = tx.sender;
    env.blob_hashes.clear();
    env.max_fee_per_blob_gas = None;
    env.authorization_list = None;
    match &tx.tx {
        TxEnvelope::Legacy(signed) => {
            let t = signed.tx();
            env.gas_limit = gas_u64(t.gas_limit)?;
            env.gas_price = U256::from(t.gas_price);
            env.gas_priority_fee = None;
            env.transact_to = t.to;
            env.value = t.value;
            env.data = t.input.clone();
            env.nonce = Some(t.nonce);
            // Pre-EIP-155 transactions carry no chain id and are not checked.
            env.chain_id = t.chain_id;
            env.access_list.clear();
        }
        TxEnvelope::Eip2930(signed) => {
            let t = signed.tx();
            env.gas_limit = gas_u64(t.gas_limit)?;
            env.gas_price = U256::from(t.gas_price);
            env.gas_priority_fee = None;
            env.transact_to = t.to;
            env.value = t.value;
            env.data = t.input.clone();
            env.nonce = Some(t.nonce);
            env.chain_id = Some(t.chain_id);
            env.access_list = access_list(&t.access_list);
        }
        TxEnvelope::Eip1559(signed) => {
            let t = signed.tx();
            env.gas_limit = gas_u64(t.gas_limit)?;
            env.gas_price = U256::from(t.max_fee_per_gas);
            env.gas_priority_fee = Some(U256::from(t.max_priority_fee_per_gas));
            env.transact_to = t.to;
            env.value = t.value;
            env.data = t.input.clone();
            env.nonce = Some(t.nonce);
            env.chain_id = Some(t.chain_id);
            env.access_list = access_list(&t.access_list);
        }
        TxEnvelope::Eip4844(signed) => {
            let t = match signed.tx() {
                TxEip4844Variant::TxEip4844(t) => t,
                TxEip4844Variant::TxEip4844WithSidecar(t) => t.tx(),
            };
            env.gas_limit = gas_u64(t.gas_limit)?;
            env.gas_price = U256::from(t.max_fee_per_gas);
            env.gas_priority_fee = Some(U256::from(t.max_priority_fee_per_gas));
            env.transact_to = TxKind::Call(t.to);
            env.value = t.value;
            env.data = t.input.clone();
            env.nonce = Some(t.nonce);
            env.chain_id = Some(t.chain_id);
            env.access_list = access_list(&t.access_list);
            env.blob_hashes.clone_from(&t.blob_versioned_hashes);
            env.max_fee_per_blob_gas = Some(U256::from(t.max_fee_per_blob_gas));
        }
        // EIP-7702 (and any later type) is not part of Cancun.
        other => return Err(TxEnvError::UnsupportedType(tx_type(other))),
    }
    Ok(())
}

/// The EIP-2718 type byte of `tx`.
pub(crate) fn tx_type(tx: &TxEnvelope) -> u8 {
    tx.tx_type() as u8
}

/// The price per gas actually paid under `base_fee` (EIP-1559 effective gas price).
pub(crate) fn effective_gas_price(env: &TxEnv, base_fee: u64) -> u128 {
    let price = match env.gas_priority_fee {
        Some(tip) => env.gas_price.min(U256::from(base_fee).saturating_add(tip)),
        None => env.gas_price,
    };
    u128::try_from(price).unwrap_or(u128::MAX)
}

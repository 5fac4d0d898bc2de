//! Building a state test's transaction from its template fields, signed with
//! the fixture's secret key (the fallback when `txbytes` is absent or does
//! not decode).

use crate::model::{Indexes, StateTest};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEnvelope, TxLegacy};
use alloy_primitives::{TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// Chain id of every state test.
pub const STATE_TEST_CHAIN_ID: u64 = 1;

/// Why a transaction could not be built from the template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// An index points past its variant array.
    #[error("index {index} out of range for {field}")]
    IndexOutOfRange {
        /// The template field.
        field: &'static str,
        /// The index.
        index: usize,
    },
    /// A numeric field does not fit the transaction type's field width.
    #[error("{field} = {value} does not fit")]
    Overflow {
        /// The template field.
        field: &'static str,
        /// Its value.
        value: U256,
    },
    /// A blob transaction without a recipient (not representable).
    #[error("blob transaction without a recipient")]
    BlobCreate,
    /// The secret key is invalid or signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

fn pick<T: Clone>(items: &[T], index: usize, field: &'static str) -> Result<T, SignError> {
    items.get(index).cloned().ok_or(SignError::IndexOutOfRange { field, index })
}

fn narrow<T: TryFrom<U256>>(value: U256, field: &'static str) -> Result<T, SignError> {
    T::try_from(value).map_err(|_| SignError::Overflow { field, value })
}

/// Builds and signs the transaction selected by `indexes`. The type follows
/// the fields present: blob hashes → EIP-4844, fee caps → EIP-1559, access
/// lists (non-null entry) → EIP-2930, otherwise legacy, with EIP-155 replay protection only if
/// `legacy_eip155` (the retesteth fixtures sign without it, the Pyspecs ones
/// with it; the template does not say which).
pub fn sign_from_template(
    test: &StateTest,
    indexes: Indexes,
    legacy_eip155: bool,
) -> Result<TxEnvelope, SignError> {
    let t = &test.transaction;
    let input = pick(&t.data, indexes.data, "data")?;
    let gas_limit: u128 = narrow(pick(&t.gas_limit, indexes.gas, "gasLimit")?, "gasLimit")?;
    let value = pick(&t.value, indexes.value, "value")?;
    let nonce: u64 = narrow(t.nonce, "nonce")?;
    let to = t.to.map(TxKind::Call).unwrap_or(TxKind::Create);
    // A null access-list entry means "no access list" (a legacy transaction
    // unless fee caps make it EIP-1559), as in revm's runner.
    let picked_list = match &t.access_lists {
        Some(lists) => pick(lists, indexes.data, "accessLists")?,
        None => None,
    };
    let has_access_list = picked_list.is_some();
    let access_list = picked_list.unwrap_or_default();
    let signer = PrivateKeySigner::from_bytes(&t.secret_key)
        .map_err(|e| SignError::Signing(e.to_string()))?;
    let sign = |hash| signer.sign_hash_sync(&hash).map_err(|e| SignError::Signing(e.to_string()));
    let chain_id = STATE_TEST_CHAIN_ID;
    let fee = |v: Option<U256>, field| narrow::<u128>(v.unwrap_or_default(), field);
    if let Some(hashes) = &t.blob_versioned_hashes {
        let to = t.to.ok_or(SignError::BlobCreate)?;
        let tx = TxEip4844 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: fee(t.max_fee_per_gas, "maxFeePerGas")?,
            max_priority_fee_per_gas: fee(t.max_priority_fee_per_gas, "maxPriorityFeePerGas")?,
            to,
            value,
            access_list,
            blob_versioned_hashes: hashes.clone(),
            max_fee_per_blob_gas: fee(t.max_fee_per_blob_gas, "maxFeePerBlobGas")?,
            input,
        };
        let sig = sign(tx.signature_hash())?;
        return Ok(tx.into_signed(sig).into());
    }
    if t.max_fee_per_gas.is_some() {
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: fee(t.max_fee_per_gas, "maxFeePerGas")?,
            max_priority_fee_per_gas: fee(t.max_priority_fee_per_gas, "maxPriorityFeePerGas")?,
            to,
            value,
            access_list,
            input,
        };
        let sig = sign(tx.signature_hash())?;
        return Ok(tx.into_signed(sig).into());
    }
    let gas_price = fee(t.gas_price, "gasPrice")?;
    if has_access_list {
        let tx = TxEip2930 { chain_id, nonce, gas_price, gas_limit, to, value, access_list, input };
        let sig = sign(tx.signature_hash())?;
        return Ok(tx.into_signed(sig).into());
    }
    let chain_id = legacy_eip155.then_some(chain_id);
    let tx = TxLegacy { chain_id, nonce, gas_price, gas_limit, to, value, input };
    let sig = sign(tx.signature_hash())?;
    Ok(tx.into_signed(sig).into())
}

//! Stateless transaction checks: everything that can be decided from the
//! transaction and the chain configuration alone.

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{TxKind, U256};
use phalanx_core_types::RecoveredTx;

use crate::{PoolConfig, PoolError};

/// Gas every transaction pays.
const TX_GAS: u64 = 21_000;
/// Extra gas a contract creation pays.
const TX_CREATE_GAS: u64 = 32_000;
/// Gas per zero byte of input.
const TX_DATA_ZERO_GAS: u64 = 4;
/// Gas per non-zero byte of input (EIP-2028).
const TX_DATA_NON_ZERO_GAS: u64 = 16;
/// Gas per access-list address (EIP-2930).
const ACCESS_LIST_ADDRESS_GAS: u64 = 2_400;
/// Gas per access-list storage key (EIP-2930).
const ACCESS_LIST_STORAGE_KEY_GAS: u64 = 1_900;
/// Gas per 32-byte word of init code (EIP-3860).
const INIT_CODE_WORD_GAS: u64 = 2;

/// Largest init code a creation may carry (EIP-3860: twice the EIP-170 code limit).
pub const MAX_INIT_CODE_BYTES: usize = 2 * 24_576;

/// secp256k1 group order n: r and s must be below it.
const SECP256K1N: U256 = U256::from_be_bytes([
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
]);

/// secp256k1 group order n / 2 (rounded down): EIP-2 requires s <= n/2.
const SECP256K1N_HALF: U256 = U256::from_be_bytes([
    0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0,
]);

/// Intrinsic gas of `tx` under the Cancun rules: base cost, creation cost,
/// calldata (EIP-2028), access list (EIP-2930) and init-code words (EIP-3860).
/// Saturates instead of overflowing (the result is then above any gas limit).
pub fn intrinsic_gas(tx: &TxEnvelope) -> u64 {
    let input = tx.input();
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = input.len() as u64 - zeros;
    let mut gas = TX_GAS
        .saturating_add(zeros.saturating_mul(TX_DATA_ZERO_GAS))
        .saturating_add(non_zeros.saturating_mul(TX_DATA_NON_ZERO_GAS));
    if tx.to().is_create() {
        let words = (input.len() as u64).div_ceil(32);
        gas = gas
            .saturating_add(TX_CREATE_GAS)
            .saturating_add(words.saturating_mul(INIT_CODE_WORD_GAS));
    }
    if let Some(list) = tx.access_list() {
        for item in &list.0 {
            let keys = item.storage_keys.len() as u64;
            gas = gas
                .saturating_add(ACCESS_LIST_ADDRESS_GAS)
                .saturating_add(keys.saturating_mul(ACCESS_LIST_STORAGE_KEY_GAS));
        }
    }
    gas
}

/// Checks raw bytes without state: size, decoding (canonical encoding only),
/// type, chain id, nonce, gas, fees, intrinsic gas, signature values, and
/// recovers the sender. See [`crate::TxPool::validate_stateless`].
pub(crate) fn validate_raw(config: &PoolConfig, raw: &[u8]) -> Result<RecoveredTx, PoolError> {
    check_size(config, raw.len())?;
    let tx = decode_exact(raw)?;
    // Re-encoding must give the input back: the hash clients computed over
    // their bytes is then the hash the pool reports.
    if tx.encoded_2718() != raw {
        return Err(PoolError::Decode { reason: "non-canonical encoding".into() });
    }
    check_fields(config, &tx)?;
    check_signature_values(&tx)?;
    RecoveredTx::recover(tx).map_err(|_| PoolError::InvalidSender)
}

/// Stateless checks of an already recovered transaction (its signature was
/// checked when it was recovered, its size is that of its encoding).
pub(crate) fn validate_recovered(config: &PoolConfig, tx: &RecoveredTx) -> Result<(), PoolError> {
    check_size(config, tx.tx.encode_2718_len())?;
    check_fields(config, &tx.tx)?;
    check_signature_values(&tx.tx)
}

/// Decodes one EIP-2718 transaction that must span all of `raw`.
///
/// This does not use `phalanx_core_types::decode_transaction`: alloy-eips
/// 0.3.6's `decode_2718` decodes typed transactions from a copy of the buffer
/// and never advances it, so that function's trailing-bytes check rejects
/// every typed transaction.
pub(crate) fn decode_exact(raw: &[u8]) -> Result<TxEnvelope, PoolError> {
    let decode_err = |reason: String| PoolError::Decode { reason };
    let mut buf = raw;
    let tx = match raw.first() {
        // EIP-2718: a first byte below 0x7f is a type; legacy RLP lists start at 0xc0.
        Some(&ty) if ty < 0x7f => {
            buf = &raw[1..];
            TxEnvelope::typed_decode(ty, &mut buf)
        }
        _ => TxEnvelope::fallback_decode(&mut buf),
    }
    .map_err(|e| decode_err(e.to_string()))?;
    if !buf.is_empty() {
        return Err(decode_err(format!("{} trailing bytes", buf.len())));
    }
    Ok(tx)
}

fn check_size(config: &PoolConfig, size: usize) -> Result<(), PoolError> {
    if size > config.tx_bytes_max {
        return Err(PoolError::OversizedData { size, limit: config.tx_bytes_max });
    }
    Ok(())
}

/// Every check on the transaction's fields, in the order geth applies them.
fn check_fields(config: &PoolConfig, tx: &TxEnvelope) -> Result<(), PoolError> {
    check_type(tx)?;
    check_chain_id(config, tx)?;
    if tx.nonce() == u64::MAX {
        return Err(PoolError::NonceMax);
    }
    let gas = u64::try_from(tx.gas_limit()).map_err(|_| PoolError::GasUintOverflow)?;
    if gas > config.block_gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit { gas, limit: config.block_gas_limit });
    }
    if tx.to() == TxKind::Create && tx.input().len() > MAX_INIT_CODE_BYTES {
        return Err(PoolError::MaxInitCodeSizeExceeded {
            size: tx.input().len(),
            limit: MAX_INIT_CODE_BYTES,
        });
    }
    // gas_limit * max_fee + value may still exceed 256 bits (value near
    // 2^256); like geth, that is the balance check's business, not a
    // stateless rejection (TransactionTests' TransactionWithHighValue is valid).
    check_fees(config, tx)?;
    let needed = intrinsic_gas(tx);
    if gas < needed {
        return Err(PoolError::IntrinsicGasTooLow { gas, needed });
    }
    Ok(())
}

fn check_type(tx: &TxEnvelope) -> Result<(), PoolError> {
    match tx {
        TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_) => Ok(()),
        // Blob transactions need blob gas accounting and sidecars this chain
        // does not have; EIP-7702 is not active; future types are unknown.
        _ => Err(PoolError::TxTypeNotSupported { ty: tx.tx_type() as u8 }),
    }
}

fn check_chain_id(config: &PoolConfig, tx: &TxEnvelope) -> Result<(), PoolError> {
    match tx.chain_id() {
        None if config.accept_unprotected => Ok(()),
        None => Err(PoolError::Unprotected),
        Some(have) if have == config.chain_id => Ok(()),
        Some(have) => Err(PoolError::InvalidChainId { have, want: config.chain_id }),
    }
}

fn check_fees(config: &PoolConfig, tx: &TxEnvelope) -> Result<(), PoolError> {
    let fee_cap = tx.max_fee_per_gas();
    if let Some(tip) = tx.max_priority_fee_per_gas() {
        if tip > fee_cap {
            return Err(PoolError::TipAboveFeeCap { tip, fee_cap });
        }
    }
    if fee_cap < u128::from(config.base_fee_per_gas) {
        return Err(PoolError::FeeCapTooLow { fee_cap, base_fee: config.base_fee_per_gas });
    }
    Ok(())
}

/// gas_limit * max_fee_per_gas + value: the most the transaction can cost its
/// sender. `None` when it does not fit 256 bits.
pub(crate) fn max_cost(tx: &TxEnvelope) -> Option<U256> {
    U256::from(tx.gas_limit())
        .checked_mul(U256::from(tx.max_fee_per_gas()))?
        .checked_add(tx.value())
}

/// (r, s, v as encoded) of a supported transaction's signature.
fn signature_values(tx: &TxEnvelope) -> Option<(U256, U256, u64)> {
    let sig = match tx {
        TxEnvelope::Legacy(t) => t.signature(),
        TxEnvelope::Eip2930(t) => t.signature(),
        TxEnvelope::Eip1559(t) => t.signature(),
        _ => return None,
    };
    Some((sig.r(), sig.s(), sig.v().to_u64()))
}

/// r and s in [1, n) and s <= n/2 (EIP-2); v of the form the transaction
/// type requires: 27/28 or EIP-155 (>= 35) for legacy, a bare y-parity (0/1)
/// for typed transactions.
fn check_signature_values(tx: &TxEnvelope) -> Result<(), PoolError> {
    let (r, s, v) = signature_values(tx).ok_or(PoolError::InvalidSignatureValues)?;
    let v_ok = match tx {
        TxEnvelope::Legacy(_) => v == 27 || v == 28 || v >= 35,
        _ => v <= 1,
    };
    let rs_ok = !r.is_zero() && r < SECP256K1N && !s.is_zero() && s <= SECP256K1N_HALF;
    if v_ok && rs_ok {
        Ok(())
    } else {
        Err(PoolError::InvalidSignatureValues)
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

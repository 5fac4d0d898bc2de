//! Parameter types and conversions that jsonrpsee's derive does not cover.

use alloy_primitives::U256;
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::types::ErrorObjectOwned;
use serde::{Deserialize, Deserializer};

use crate::backend::CallRequest;
use crate::error::invalid_params;

/// A quantity given either as a hex string ("0x10") or a JSON number (16), as
/// `eth_feeHistory`'s `blockCount` is by different tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlexibleU64(pub u64);

impl<'de> Deserialize<'de> for FlexibleU64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(s) => parse_hex_u64(&s).map(Self).map_err(serde::de::Error::custom),
        }
    }
}

/// Parses a "0x"-prefixed hex quantity.
fn parse_hex_u64(s: &str) -> Result<u64, String> {
    let digits = s.strip_prefix("0x").ok_or_else(|| format!("quantity {s:?} lacks 0x prefix"))?;
    u64::from_str_radix(digits, 16).map_err(|e| format!("invalid quantity {s:?}: {e}"))
}

/// Converts a JSON-RPC transaction request into the backend's call
/// parameters, rejecting conflicting `input`/`data` and out-of-range gas.
pub fn call_params(request: TransactionRequest) -> Result<CallRequest, ErrorObjectOwned> {
    let input = request
        .input
        .try_into_unique_input()
        .map_err(|e| invalid_params(format!("invalid transaction request: {e}")))?
        .unwrap_or_default();
    let gas = request
        .gas
        .map(|g| u64::try_from(g).map_err(|_| invalid_params(format!("gas {g} exceeds 2^64-1"))))
        .transpose()?;
    let access_list = request
        .access_list
        .map(|list| list.0.into_iter().map(|item| (item.address, item.storage_keys)).collect())
        .unwrap_or_default();
    Ok(CallRequest {
        from: request.from,
        to: request.to.and_then(|kind| kind.to().copied()),
        gas,
        gas_price: request.gas_price,
        max_fee_per_gas: request.max_fee_per_gas,
        max_priority_fee_per_gas: request.max_priority_fee_per_gas,
        value: request.value,
        input,
        nonce: request.nonce,
        access_list,
    })
}

/// Checks `eth_feeHistory` reward percentiles: each in [0, 100], non-decreasing,
/// at most `count_max` of them.
pub fn check_percentiles(percentiles: &[f64], count_max: usize) -> Result<(), ErrorObjectOwned> {
    if percentiles.len() > count_max {
        return Err(invalid_params(format!(
            "{} reward percentiles given, at most {count_max} allowed",
            percentiles.len()
        )));
    }
    let mut previous = 0.0;
    for (i, p) in percentiles.iter().copied().enumerate() {
        if !(0.0..=100.0).contains(&p) {
            return Err(invalid_params(format!("reward percentile {i} ({p}) is not in [0, 100]")));
        }
        if p < previous {
            return Err(invalid_params(format!(
                "reward percentiles must be non-decreasing: {p} follows {previous}"
            )));
        }
        previous = p;
    }
    Ok(())
}

/// The storage slot of `eth_getStorageAt`: a hex quantity or 32-byte word.
pub fn storage_slot(slot: &alloy_serde::storage::JsonStorageKey) -> U256 {
    U256::from_be_bytes(slot.0 .0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flexible_u64_accepts_hex_and_numbers() {
        assert_eq!(serde_json::from_str::<FlexibleU64>("16").unwrap(), FlexibleU64(16));
        assert_eq!(serde_json::from_str::<FlexibleU64>("\"0x10\"").unwrap(), FlexibleU64(16));
        assert!(serde_json::from_str::<FlexibleU64>("\"16\"").is_err());
        assert!(serde_json::from_str::<FlexibleU64>("-1").is_err());
    }

    #[test]
    fn data_and_input_are_both_accepted() {
        let req: TransactionRequest = serde_json::from_str(r#"{"data":"0x01"}"#).unwrap();
        assert_eq!(call_params(req).unwrap().input.as_ref(), &[1]);
        let req: TransactionRequest = serde_json::from_str(r#"{"input":"0x02"}"#).unwrap();
        assert_eq!(call_params(req).unwrap().input.as_ref(), &[2]);
        let req: TransactionRequest =
            serde_json::from_str(r#"{"input":"0x02","data":"0x03"}"#).unwrap();
        assert_eq!(call_params(req).unwrap_err().code(), -32602);
    }

    #[test]
    fn percentiles_are_checked() {
        assert!(check_percentiles(&[10.0, 50.0, 50.0, 90.0], 100).is_ok());
        assert!(check_percentiles(&[50.0, 10.0], 100).is_err());
        assert!(check_percentiles(&[101.0], 100).is_err());
        assert!(check_percentiles(&[f64::NAN], 100).is_err());
        assert!(check_percentiles(&[1.0; 3], 2).is_err());
    }
}

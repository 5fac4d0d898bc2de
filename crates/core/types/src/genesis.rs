//! The genesis description: chain id, validators and an Ethereum-style `alloc`.

use crate::{Account, StateChanges, KECCAK_EMPTY};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A prefunded (or pre-deployed) account in the `alloc` section, in the same
/// shape as geth's genesis files.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GenesisAccount {
    /// Balance in wei (hex `0x…` or decimal string).
    pub balance: U256,
    /// Starting nonce (number or hex string); 0 when absent.
    #[serde(default, deserialize_with = "de_u64_flexible", skip_serializing_if = "is_zero")]
    pub nonce: u64,
    /// Contract code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Bytes>,
    /// Initial storage slots.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storage: BTreeMap<B256, B256>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Accepts `17`, `"17"` or `"0x11"`.
fn de_u64_flexible<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(u64),
        Str(String),
    }
    match Raw::deserialize(d)? {
        Raw::Num(n) => Ok(n),
        Raw::Str(s) => {
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.map_err(serde::de::Error::custom)
        }
    }
}

/// A member of the permissioned validator set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Validator {
    /// Human-readable name (for logs).
    pub name: String,
    /// The validator's Ethereum address: the `COINBASE` of blocks it proposes.
    pub address: Address,
    /// The validator's ed25519 consensus public key, hex-encoded (32 bytes).
    pub consensus_key: String,
}

/// Genesis configuration of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Genesis {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Genesis timestamp, seconds since the Unix epoch.
    #[serde(default)]
    pub timestamp: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Constant EIP-1559 base fee per gas; zero makes gas free.
    #[serde(default)]
    pub base_fee_per_gas: u64,
    /// The validator set (n = 3f + 1 for BFT; one for a single node).
    pub validators: Vec<Validator>,
    /// Prefunded and pre-deployed accounts.
    pub alloc: BTreeMap<Address, GenesisAccount>,
}

/// Why a genesis description is unusable.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The JSON did not parse.
    #[error("genesis JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// A field has a value the chain cannot run with.
    #[error("genesis field `{field}` is invalid: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What to fix.
        reason: String,
    },
}

impl Genesis {
    /// Parses and validates a genesis JSON document.
    pub fn from_json(json: &str) -> Result<Self, GenesisError> {
        let genesis: Genesis = serde_json::from_str(json)?;
        genesis.validate()?;
        Ok(genesis)
    }

    /// Checks the values a chain cannot run without.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let invalid =
            |field, reason: &str| Err(GenesisError::Invalid { field, reason: reason.to_string() });
        if self.chain_id == 0 {
            return invalid("chainId", "must be non-zero (EIP-155 replay protection)");
        }
        if self.gas_limit < 21_000 {
            return invalid("gasLimit", "must be at least 21000, the cost of a plain transfer");
        }
        if self.validators.is_empty() {
            return invalid("validators", "at least one validator is required");
        }
        for v in &self.validators {
            let ok = hex_decode(&v.consensus_key).is_some_and(|b| b.len() == 32);
            if !ok {
                return invalid(
                    "validators",
                    &format!("consensus key of `{}` is not 32 hex-encoded bytes", v.name),
                );
            }
        }
        Ok(())
    }

    /// The state changes that create the genesis state.
    pub fn state_changes(&self) -> StateChanges {
        let mut changes = StateChanges::default();
        for (address, acct) in &self.alloc {
            let code_hash = match &acct.code {
                Some(code) if !code.is_empty() => {
                    let h = keccak256(code);
                    changes.code.insert(h, code.clone());
                    h
                }
                _ => KECCAK_EMPTY,
            };
            changes.accounts.insert(
                *address,
                Some(Account { nonce: acct.nonce, balance: acct.balance, code_hash }),
            );
            if !acct.storage.is_empty() {
                let slots = acct
                    .storage
                    .iter()
                    .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                    .filter(|(_, v)| !v.is_zero())
                    .collect();
                changes.storage.insert(*address, crate::StorageChanges { wiped: false, slots });
            }
        }
        changes
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.len().checked_rem(2) != Some(0) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
        "chainId": 7777, "gasLimit": 30000000, "baseFeePerGas": 0,
        "validators": [{"name": "v0", "address": "0x00000000000000000000000000000000000000aa",
                        "consensusKey": "0x0101010101010101010101010101010101010101010101010101010101010101"}],
        "alloc": {"0x00000000000000000000000000000000000000bb": {"balance": "0xde0b6b3a7640000", "nonce": "0x2"}}
    }"#;

    #[test]
    fn parses_geth_style_alloc() {
        let g = Genesis::from_json(SAMPLE).unwrap();
        let acct = &g.alloc[&Address::with_last_byte(0xbb)];
        assert_eq!(acct.nonce, 2);
        assert_eq!(acct.balance, U256::from(10u64.pow(18)));
        let changes = g.state_changes();
        assert_eq!(changes.accounts.len(), 1);
    }

    #[test]
    fn rejects_zero_chain_id() {
        let bad = SAMPLE.replace("7777", "0");
        assert!(matches!(
            Genesis::from_json(&bad),
            Err(GenesisError::Invalid { field: "chainId", .. })
        ));
    }
}

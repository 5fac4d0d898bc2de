//! Serde models of the ethereum/tests JSON fixtures (only the fields the
//! runners use; unknown fields are ignored so new fixture fields do not break
//! parsing).

use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, Bytes, B256, U256};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// One GeneralStateTests file: several named tests.
pub type StateTestFile = BTreeMap<String, StateTest>;

/// One BlockchainTests file: several named tests.
pub type BlockchainTestFile = BTreeMap<String, BlockchainTest>;

/// An account as fixtures describe it in `pre` and `postState`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FixtureAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Code (possibly empty).
    pub code: Bytes,
    /// Nonce; a U256 in the JSON, converted to u64 where used.
    pub nonce: U256,
    /// Storage slots (zero values may appear and mean "unset").
    pub storage: BTreeMap<U256, U256>,
}

/// A set of accounts keyed by address.
pub type FixtureState = BTreeMap<Address, FixtureAccount>;

/// One state test: a pre-state, one transaction template, expected outcomes per fork.
#[derive(Debug, Clone, Deserialize)]
pub struct StateTest {
    /// Block environment.
    pub env: StateEnv,
    /// State before the transaction.
    pub pre: FixtureState,
    /// Transaction template; `post` entries pick fields by index.
    pub transaction: TxTemplate,
    /// Expected outcomes keyed by fork name ("Cancun", ...).
    pub post: BTreeMap<String, Vec<PostEntry>>,
}

/// The block environment of a state test.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateEnv {
    /// Block beneficiary (receives the priority fee).
    pub current_coinbase: Address,
    /// Block gas limit.
    pub current_gas_limit: U256,
    /// Block number.
    pub current_number: U256,
    /// Block timestamp.
    pub current_timestamp: U256,
    /// EIP-1559 base fee; absent in pre-London tests.
    #[serde(default)]
    pub current_base_fee: Option<U256>,
    /// PREVRANDAO; absent in pre-Merge tests.
    #[serde(default)]
    pub current_random: Option<B256>,
    /// EIP-4844 excess blob gas; absent in pre-Cancun tests.
    #[serde(default)]
    pub current_excess_blob_gas: Option<U256>,
}

/// The transaction template of a state test.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxTemplate {
    /// Call data variants, picked by `indexes.data`.
    pub data: Vec<Bytes>,
    /// Gas limit variants, picked by `indexes.gas`.
    pub gas_limit: Vec<U256>,
    /// Value variants, picked by `indexes.value`.
    pub value: Vec<U256>,
    /// Legacy / EIP-2930 gas price.
    #[serde(default)]
    pub gas_price: Option<U256>,
    /// Sender nonce.
    pub nonce: U256,
    /// The sender's private key.
    pub secret_key: B256,
    /// Recipient; `None` (empty string in the JSON) creates a contract.
    #[serde(deserialize_with = "deserialize_to")]
    pub to: Option<Address>,
    /// Access-list variants, picked by `indexes.data`.
    #[serde(default)]
    pub access_lists: Option<Vec<Option<AccessList>>>,
    /// EIP-1559 fee cap.
    #[serde(default)]
    pub max_fee_per_gas: Option<U256>,
    /// EIP-1559 tip cap.
    #[serde(default)]
    pub max_priority_fee_per_gas: Option<U256>,
    /// EIP-4844 blob hashes.
    #[serde(default)]
    pub blob_versioned_hashes: Option<Vec<B256>>,
    /// EIP-4844 blob fee cap.
    #[serde(default)]
    pub max_fee_per_blob_gas: Option<U256>,
}

/// One expected outcome of a state test.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostEntry {
    /// Expected post-state root (Ethereum MPT).
    pub hash: B256,
    /// Expected keccak256 of the RLP of the logs list.
    pub logs: B256,
    /// Which template variants form the transaction.
    pub indexes: Indexes,
    /// The signed transaction, EIP-2718 encoded.
    #[serde(default)]
    pub txbytes: Option<Bytes>,
    /// Set when the transaction must be rejected.
    #[serde(default)]
    pub expect_exception: Option<String>,
}

/// Indexes into the transaction template's variant arrays.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Indexes {
    /// Index into `data` (and `accessLists`).
    pub data: usize,
    /// Index into `gasLimit`.
    pub gas: usize,
    /// Index into `value`.
    pub value: usize,
}

/// One blockchain test: a genesis, blocks, and the expected final state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockchainTest {
    /// Fork rules ("Cancun", ...).
    pub network: String,
    /// Genesis state.
    pub pre: FixtureState,
    /// RLP of the genesis header.
    #[serde(rename = "genesisRLP")]
    pub genesis_rlp: Bytes,
    /// Blocks in import order (possibly with side chains).
    pub blocks: Vec<FixtureBlock>,
    /// Expected final state of the canonical chain.
    #[serde(default)]
    pub post_state: Option<FixtureState>,
    /// Expected final state root when `post_state` is omitted.
    #[serde(default)]
    pub post_state_hash: Option<B256>,
    /// Hash of the canonical head after importing all blocks.
    pub lastblockhash: B256,
}

/// One block of a blockchain test.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBlock {
    /// The full block, RLP encoded (header, transactions, uncles, withdrawals).
    pub rlp: Bytes,
    /// Set when the block must be rejected.
    #[serde(default)]
    pub expect_exception: Option<String>,
}

fn deserialize_to<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Address>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<Address>().map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_state_test() {
        let json = r#"{"t": {
            "env": {"currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
                    "currentGasLimit": "0x10", "currentNumber": "0x01",
                    "currentTimestamp": "0x03e8", "currentBaseFee": "0x0a"},
            "pre": {"0x095e7baea6a6c7c4c2dfeb977efac326af552d87":
                    {"balance": "0x01", "code": "0x6001", "nonce": "0x00",
                     "storage": {"0x00": "0x01"}}},
            "transaction": {"data": ["0x"], "gasLimit": ["0x061a80"], "value": ["0x00"],
                    "gasPrice": "0x0a", "nonce": "0x00", "to": "",
                    "secretKey": "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8"},
            "post": {"Cancun": [{"hash": "0x0000000000000000000000000000000000000000000000000000000000000001",
                    "logs": "0x0000000000000000000000000000000000000000000000000000000000000002",
                    "indexes": {"data": 0, "gas": 0, "value": 0}}]}
        }}"#;
        let file: StateTestFile = serde_json::from_str(json).unwrap();
        let t = &file["t"];
        assert_eq!(t.transaction.to, None);
        assert_eq!(t.env.current_base_fee, Some(U256::from(10)));
        let account = t.pre.values().next().unwrap();
        assert_eq!(account.storage[&U256::ZERO], U256::from(1));
        assert_eq!(t.post["Cancun"][0].txbytes, None);
    }
}

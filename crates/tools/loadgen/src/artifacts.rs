//! The committed contract artifacts (`contracts/artifacts/*.json`), embedded
//! at compile time so no tool or test needs Node, plus typed ERC-20 bindings.

use alloy_json_abi::JsonAbi;
use alloy_primitives::{Bytes, U256};
use alloy_sol_types::{sol, SolConstructor};
use serde::Deserialize;
use std::sync::LazyLock;

sol! {
    /// The ERC-20 calls, event and error the load generator and tests use.
    #[derive(Debug, PartialEq, Eq)]
    interface IERC20 {
        /// Emitted on every balance move, including mint (`from` = 0).
        event Transfer(address indexed from, address indexed to, uint256 value);
        /// Moves `value` from the caller to `to`.
        function transfer(address to, uint256 value) external returns (bool);
        /// The token balance of `account`.
        function balanceOf(address account) external view returns (uint256);
        /// OpenZeppelin 5's revert when a sender lacks the balance.
        error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    }

    /// The constructor of `contracts/src/PhalanxToken.sol`.
    #[derive(Debug)]
    contract PhalanxToken {
        constructor(string name, string symbol, uint256 initialSupply);
    }
}

/// A compiled contract: ABI, creation code and runtime code.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// The contract's name in its source.
    pub contract_name: String,
    /// The JSON ABI.
    pub abi: JsonAbi,
    /// Creation (init) code; constructor arguments are appended to it.
    pub bytecode: Bytes,
    /// Runtime code, as stored on-chain after deployment.
    pub deployed_bytecode: Bytes,
}

impl Artifact {
    /// Parses an artifact JSON document in the shape `contracts/build.sh` writes.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

const ERC20_JSON: &str = include_str!("../../../../contracts/artifacts/ERC20.json");
const UNISWAP_V2_FACTORY_JSON: &str =
    include_str!("../../../../contracts/artifacts/UniswapV2Factory.json");
const UNISWAP_V2_PAIR_JSON: &str =
    include_str!("../../../../contracts/artifacts/UniswapV2Pair.json");

fn parse_embedded(name: &str, json: &str) -> Artifact {
    // The embedded JSON is committed and checked by this module's tests, so a
    // parse failure is a broken build, not a runtime condition.
    Artifact::from_json(json).unwrap_or_else(|e| panic!("embedded artifact {name} is invalid: {e}"))
}

static ERC20: LazyLock<Artifact> = LazyLock::new(|| parse_embedded("ERC20", ERC20_JSON));
static UNISWAP_V2_FACTORY: LazyLock<Artifact> =
    LazyLock::new(|| parse_embedded("UniswapV2Factory", UNISWAP_V2_FACTORY_JSON));
static UNISWAP_V2_PAIR: LazyLock<Artifact> =
    LazyLock::new(|| parse_embedded("UniswapV2Pair", UNISWAP_V2_PAIR_JSON));

/// `PhalanxToken`, an OpenZeppelin 5 ERC-20 (`contracts/artifacts/ERC20.json`).
pub fn erc20() -> &'static Artifact {
    &ERC20
}

/// Uniswap V2's factory, unchanged from `@uniswap/v2-core` 1.0.1.
pub fn uniswap_v2_factory() -> &'static Artifact {
    &UNISWAP_V2_FACTORY
}

/// Uniswap V2's pair, unchanged from `@uniswap/v2-core` 1.0.1.
pub fn uniswap_v2_pair() -> &'static Artifact {
    &UNISWAP_V2_PAIR
}

/// The creation transaction input that deploys `PhalanxToken` minting
/// `initial_supply` to the deployer: creation code followed by the
/// ABI-encoded constructor arguments.
pub fn erc20_deploy_input(name: &str, symbol: &str, initial_supply: U256) -> Bytes {
    let args = PhalanxToken::constructorCall {
        name: name.to_string(),
        symbol: symbol.to_string(),
        initialSupply: initial_supply,
    }
    .abi_encode();
    let mut input = erc20().bytecode.to_vec();
    input.extend_from_slice(&args);
    input.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, hex, Address, LogData};
    use alloy_sol_types::{SolCall, SolError, SolEvent};

    #[test]
    fn embedded_artifacts_parse_and_have_code() {
        for art in [erc20(), uniswap_v2_factory(), uniswap_v2_pair()] {
            assert!(!art.bytecode.is_empty(), "{} has no creation code", art.contract_name);
            assert!(!art.deployed_bytecode.is_empty(), "{} has no runtime code", art.contract_name);
            assert!(art.bytecode.len() > art.deployed_bytecode.len());
        }
        assert_eq!(erc20().contract_name, "PhalanxToken");
        assert!(uniswap_v2_factory().abi.function("createPair").is_some());
        assert!(uniswap_v2_pair().abi.function("swap").is_some());
    }

    #[test]
    fn erc20_abi_matches_the_sol_bindings() {
        let abi = &erc20().abi;
        let transfer = &abi.function("transfer").expect("ABI has transfer")[0];
        assert_eq!(transfer.selector(), IERC20::transferCall::SELECTOR);
        let balance_of = &abi.function("balanceOf").expect("ABI has balanceOf")[0];
        assert_eq!(balance_of.selector(), IERC20::balanceOfCall::SELECTOR);
        let event = &abi.event("Transfer").expect("ABI has Transfer")[0];
        assert_eq!(event.selector(), IERC20::Transfer::SIGNATURE_HASH);
        let error = &abi.error("ERC20InsufficientBalance").expect("ABI has the error")[0];
        assert_eq!(error.selector(), IERC20::ERC20InsufficientBalance::SELECTOR);
        let ctor = abi.constructor().expect("ABI has a constructor");
        assert_eq!(ctor.inputs.len(), 3);
    }

    #[test]
    fn transfer_call_encodes_like_solidity() {
        let to = address!("00000000000000000000000000000000000000aa");
        let data = IERC20::transferCall { to, value: U256::from(5) }.abi_encode();
        // Selector of transfer(address,uint256), then two 32-byte words.
        assert_eq!(&data[..4], hex!("a9059cbb"));
        assert_eq!(data.len(), 4 + 64);
        assert_eq!(&data[4 + 12..4 + 32], to.as_slice());
        assert_eq!(data[4 + 63], 5);
        let back = IERC20::transferCall::abi_decode(&data, true).unwrap();
        assert_eq!((back.to, back.value), (to, U256::from(5)));
    }

    #[test]
    fn transfer_event_decodes() {
        let from = Address::repeat_byte(1);
        let to = Address::repeat_byte(2);
        let topics = vec![IERC20::Transfer::SIGNATURE_HASH, from.into_word(), to.into_word()];
        let data = LogData::new_unchecked(topics, U256::from(7).to_be_bytes::<32>().into());
        let ev = IERC20::Transfer::decode_log_data(&data, true).unwrap();
        assert_eq!((ev.from, ev.to, ev.value), (from, to, U256::from(7)));
    }

    #[test]
    fn deploy_input_appends_constructor_args() {
        let input = erc20_deploy_input("Phalanx", "PHX", U256::from(1_000));
        let code = &erc20().bytecode;
        assert_eq!(&input[..code.len()], &code[..]);
        // Three head words, then two (length, data) string pairs.
        assert_eq!(input.len() - code.len(), 32 * 7);
    }
}

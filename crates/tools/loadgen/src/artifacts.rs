//! The committed contract artifacts (`contracts/artifacts/*.json`), embedded
//! at compile time so no tool or test needs Node, plus typed ERC-20 bindings.

use alloy_json_abi::JsonAbi;
use alloy_primitives::{Address, Bytes, U256};
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
        /// Lets `spender` move up to `value` of the caller's tokens
        /// (OpenZeppelin 5 never decrements an allowance of `U256::MAX`).
        function approve(address spender, uint256 value) external returns (bool);
        /// How much `spender` may still move of `owner`'s tokens.
        function allowance(address owner, address spender) external view returns (uint256);
        /// OpenZeppelin 5's revert when a sender lacks the balance.
        error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    }

    /// The constructor of `contracts/src/PhalanxToken.sol`.
    #[derive(Debug)]
    contract PhalanxToken {
        constructor(string name, string symbol, uint256 initialSupply);
    }

    /// `contracts/src/KVStore.sol`: BLOCKBENCH's YCSB key-value store.
    #[derive(Debug, PartialEq, Eq)]
    interface IKVStore {
        /// Stores `value` under `key` (zero deletes).
        function set(bytes32 key, bytes32 value) external;
        /// The value under `key`, zero if none.
        function get(bytes32 key) external view returns (bytes32);
        /// Stores `values[i]` under `keys[i]`; at most 256 keys.
        function setMany(bytes32[] keys, bytes32[] values) external;
    }

    /// `contracts/src/CPUHeavy.sol`: BLOCKBENCH's CPUHeavy (Fibonacci, quicksort).
    #[derive(Debug, PartialEq, Eq)]
    interface ICPUHeavy {
        /// The `n`-th Fibonacci number modulo 2^256.
        function fib(uint256 n) external pure returns (uint256);
        /// Quicksorts `size` words generated from `seed`; returns the median.
        function sort(uint256 size, uint256 seed) external pure returns (uint256);
        /// `fib(n)`, folded into `results[key]` (always changes the slot).
        function fibAndStore(uint256 n, bytes32 key) external returns (uint256);
        /// `sort(size, seed)`, folded into `results[key]` (always changes the slot).
        function sortAndStore(uint256 size, uint256 seed, bytes32 key) external returns (uint256);
        /// The running digest stored under `key`.
        function results(bytes32 key) external view returns (uint256);
    }

    /// `contracts/src/SwapHelper.sol`: one-transaction exact-input swap on a V2 pair.
    #[derive(Debug, PartialEq, Eq)]
    interface ISwapHelper {
        /// Uniswap V2's output for an exact input (0.3% fee).
        function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
            external pure returns (uint256);
        /// Moves `amountIn` of `tokenIn` from the caller into `pair`, swaps it
        /// for the other token paid to `to`; reverts below `amountOutMin`.
        function swapExactIn(
            address pair,
            address tokenIn,
            uint256 amountIn,
            uint256 amountOutMin,
            address to
        ) external returns (uint256 amountOut);
    }

    /// The Uniswap V2 factory calls the workloads use.
    #[derive(Debug, PartialEq, Eq)]
    interface IUniswapV2Factory {
        /// Deploys the pair of `tokenA` and `tokenB` (CREATE2) and returns it.
        function createPair(address tokenA, address tokenB) external returns (address pair);
        /// The pair of two tokens, zero if none.
        function getPair(address tokenA, address tokenB) external view returns (address pair);
    }

    /// The Uniswap V2 pair calls the workloads use.
    #[derive(Debug, PartialEq, Eq)]
    interface IUniswapV2Pair {
        /// The lower-addressed token.
        function token0() external view returns (address);
        /// The higher-addressed token.
        function token1() external view returns (address);
        /// The reserves as of the last interaction.
        function getReserves() external view
            returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
        /// Mints liquidity for the tokens sent to the pair since the last sync.
        function mint(address to) external returns (uint256 liquidity);
    }

    /// The constructor of Uniswap V2's factory.
    #[derive(Debug)]
    contract UniswapV2Factory {
        constructor(address feeToSetter);
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
const KV_STORE_JSON: &str = include_str!("../../../../contracts/artifacts/KVStore.json");
const CPU_HEAVY_JSON: &str = include_str!("../../../../contracts/artifacts/CPUHeavy.json");
const SWAP_HELPER_JSON: &str = include_str!("../../../../contracts/artifacts/SwapHelper.json");

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
static KV_STORE: LazyLock<Artifact> = LazyLock::new(|| parse_embedded("KVStore", KV_STORE_JSON));
static CPU_HEAVY: LazyLock<Artifact> = LazyLock::new(|| parse_embedded("CPUHeavy", CPU_HEAVY_JSON));
static SWAP_HELPER: LazyLock<Artifact> =
    LazyLock::new(|| parse_embedded("SwapHelper", SWAP_HELPER_JSON));

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

/// `KVStore` (`contracts/src/KVStore.sol`); its constructor takes no arguments.
pub fn kv_store() -> &'static Artifact {
    &KV_STORE
}

/// `CPUHeavy` (`contracts/src/CPUHeavy.sol`); its constructor takes no arguments.
pub fn cpu_heavy() -> &'static Artifact {
    &CPU_HEAVY
}

/// `SwapHelper` (`contracts/src/SwapHelper.sol`); its constructor takes no arguments.
pub fn swap_helper() -> &'static Artifact {
    &SWAP_HELPER
}

/// The creation transaction input that deploys a Uniswap V2 factory whose
/// `feeToSetter` is `fee_to_setter` (the protocol fee stays off).
pub fn uniswap_v2_factory_deploy_input(fee_to_setter: Address) -> Bytes {
    let args = UniswapV2Factory::constructorCall { feeToSetter: fee_to_setter }.abi_encode();
    let mut input = uniswap_v2_factory().bytecode.to_vec();
    input.extend_from_slice(&args);
    input.into()
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
    fn benchmark_contracts_parse_and_match_their_bindings() {
        fn selector(art: &Artifact, name: &str) -> [u8; 4] {
            let f = art.abi.function(name).unwrap_or_else(|| panic!("ABI has {name}"));
            f[0].selector().0
        }
        for art in [kv_store(), cpu_heavy(), swap_helper()] {
            assert!(!art.deployed_bytecode.is_empty(), "{} has no runtime code", art.contract_name);
            assert!(art.abi.constructor().is_none(), "{} takes no arguments", art.contract_name);
        }
        assert_eq!(kv_store().contract_name, "KVStore");
        assert_eq!(cpu_heavy().contract_name, "CPUHeavy");
        assert_eq!(swap_helper().contract_name, "SwapHelper");
        assert_eq!(selector(kv_store(), "set"), IKVStore::setCall::SELECTOR);
        assert_eq!(selector(kv_store(), "get"), IKVStore::getCall::SELECTOR);
        assert_eq!(selector(kv_store(), "setMany"), IKVStore::setManyCall::SELECTOR);
        assert_eq!(selector(cpu_heavy(), "fib"), ICPUHeavy::fibCall::SELECTOR);
        assert_eq!(selector(cpu_heavy(), "sort"), ICPUHeavy::sortCall::SELECTOR);
        assert_eq!(selector(cpu_heavy(), "fibAndStore"), ICPUHeavy::fibAndStoreCall::SELECTOR);
        assert_eq!(selector(cpu_heavy(), "sortAndStore"), ICPUHeavy::sortAndStoreCall::SELECTOR);
        assert_eq!(selector(cpu_heavy(), "results"), ICPUHeavy::resultsCall::SELECTOR);
        assert_eq!(selector(swap_helper(), "swapExactIn"), ISwapHelper::swapExactInCall::SELECTOR);
        assert_eq!(
            selector(swap_helper(), "getAmountOut"),
            ISwapHelper::getAmountOutCall::SELECTOR
        );
        let factory = uniswap_v2_factory();
        assert_eq!(selector(factory, "createPair"), IUniswapV2Factory::createPairCall::SELECTOR);
        assert_eq!(selector(factory, "getPair"), IUniswapV2Factory::getPairCall::SELECTOR);
        let pair = uniswap_v2_pair();
        assert_eq!(selector(pair, "token0"), IUniswapV2Pair::token0Call::SELECTOR);
        assert_eq!(selector(pair, "getReserves"), IUniswapV2Pair::getReservesCall::SELECTOR);
        assert_eq!(selector(pair, "mint"), IUniswapV2Pair::mintCall::SELECTOR);
        assert_eq!(selector(erc20(), "approve"), IERC20::approveCall::SELECTOR);
        assert_eq!(selector(erc20(), "allowance"), IERC20::allowanceCall::SELECTOR);
    }

    #[test]
    fn factory_deploy_input_appends_the_fee_setter() {
        let setter = Address::repeat_byte(9);
        let input = uniswap_v2_factory_deploy_input(setter);
        let code = &uniswap_v2_factory().bytecode;
        assert_eq!(&input[..code.len()], &code[..]);
        assert_eq!(&input[code.len() + 12..], setter.as_slice());
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

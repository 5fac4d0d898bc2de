//! End-to-end: the devnet serves standard Ethereum clients unchanged.
//!
//! Deploys the OpenZeppelin ERC20 (committed artifact) with alloy's provider,
//! transfers tokens, checks balances, receipts, logs and revert errors; then
//! runs the web3.py suite (tests/python) against the same node.

mod common;

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{sol, SolCall, SolConstructor, SolEvent};
use common::{dev_key, free_port, Devnet};

sol! {
    #[sol(rpc)]
    interface IERC20 {
        function transfer(address to, uint256 value) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
        event Transfer(address indexed from, address indexed to, uint256 value);
        error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    }
    contract PhalanxToken {
        constructor(string name, string symbol, uint256 initialSupply);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alloy_and_web3py_use_the_devnet_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let mut devnet = Devnet::start(&dir, free_port());
    devnet.wait_ready().await;
    let url = devnet.url();

    let owner = dev_key(0);
    let owner_addr = owner.address();
    let provider = ProviderBuilder::new()
        .with_recommended_fillers()
        .wallet(EthereumWallet::from(owner))
        .on_http(url.parse().unwrap());
    assert_eq!(provider.get_chain_id().await.unwrap(), 7777);

    // Deploy the OpenZeppelin ERC20 from the committed artifact.
    let supply = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18));
    let bytecode = phalanx_tools_loadgen::artifacts::erc20().bytecode.clone();
    let ctor = PhalanxToken::constructorCall {
        name: "Phalanx".into(),
        symbol: "PHX".into(),
        initialSupply: supply,
    };
    let mut init = bytecode.to_vec();
    init.extend(ctor.abi_encode());
    let deploy = TransactionRequest::default().with_deploy_code(Bytes::from(init));
    let receipt = provider.send_transaction(deploy).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "deployment failed: {receipt:?}");
    let token_addr = receipt.contract_address.expect("deployment receipt names the contract");
    assert!(!provider.get_code_at(token_addr).await.unwrap().is_empty());

    // Transfer and check balances, receipt and the Transfer log.
    let token = IERC20::new(token_addr, &provider);
    let recipient = Address::repeat_byte(0x42);
    let amount = U256::from(12_345u64);
    let receipt =
        token.transfer(recipient, amount).send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert!(receipt.gas_used > 21_000);
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    let event = IERC20::Transfer::decode_log_data(logs[0].data(), true).unwrap();
    assert_eq!((event.from, event.to, event.value), (owner_addr, recipient, amount));
    assert_eq!(token.balanceOf(recipient).call().await.unwrap()._0, amount);
    assert_eq!(token.balanceOf(owner_addr).call().await.unwrap()._0, supply - amount);

    // The block holding the transfer reports the receipt's logs through eth_getLogs.
    let block = receipt.block_number.unwrap();
    let filter = alloy_rpc_types_eth::Filter::new()
        .address(token_addr)
        .event_signature(IERC20::Transfer::SIGNATURE_HASH)
        .from_block(block)
        .to_block(block);
    let found = provider.get_logs(&filter).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].transaction_hash, Some(receipt.transaction_hash));

    // A transfer above the balance reverts with OpenZeppelin's custom error:
    // JSON-RPC error code 3 with the revert data, for eth_call and eth_estimateGas.
    let too_much = IERC20::transferCall { to: owner_addr, value: U256::from(1u64) };
    let call = TransactionRequest::default()
        .from(Address::with_last_byte(0x99))
        .to(token_addr)
        .input(too_much.abi_encode().into());
    for method in ["eth_call", "eth_estimateGas"] {
        let err = match method {
            "eth_call" => provider.call(&call).await.unwrap_err(),
            _ => provider.estimate_gas(&call).await.unwrap_err(),
        };
        let payload = err
            .as_error_resp()
            .unwrap_or_else(|| panic!("{method}: expected a JSON-RPC error, got {err}"));
        assert_eq!(payload.code, 3, "{method}: {payload:?}");
        let data: String = serde_json::from_str(payload.data.as_ref().unwrap().get()).unwrap();
        let selector = <IERC20::ERC20InsufficientBalance as alloy_sol_types::SolError>::SELECTOR;
        assert!(
            data.starts_with(&format!("0x{}", alloy_primitives::hex::encode(selector))),
            "{method}: {data}"
        );
    }

    run_web3py(&url);
    devnet.terminate();
}

/// Runs tests/python/run.sh (creates its venv from PyPI on first use).
fn run_web3py(url: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let key = format!("0x{}", alloy_primitives::hex::encode(dev_key(1).to_bytes()));
    let status = std::process::Command::new("bash")
        .arg(root.join("tests/python/run.sh"))
        .env("PHALANX_RPC_URL", url)
        .env("PHALANX_DEV_KEY", key)
        .env("PHALANX_WS_URL", url.replace("http://", "ws://"))
        .env("PHALANX_CHAIN_ID", "7777")
        .current_dir(&root)
        .status()
        .expect("run tests/python/run.sh");
    assert!(status.success(), "web3.py suite failed: {status}");
}

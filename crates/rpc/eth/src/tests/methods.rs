//! Method behaviour, called in-process through the method table.

use alloy_primitives::{keccak256, Address, B256};
use serde_json::{json, Value};

use super::fixtures::{call, chain, module, signer, CONTRACT_A};
use super::mock::{boom_revert_data, HALTER, REVERTER};
use crate::RpcConfig;

fn default_module() -> jsonrpsee::RpcModule<crate::EthRpc> {
    module(chain(), &RpcConfig::default())
}

#[tokio::test]
async fn static_methods() {
    let m = default_module();
    assert_eq!(call(&m, "eth_chainId", json!([])).await.unwrap(), "0x539");
    assert_eq!(call(&m, "net_version", json!([])).await.unwrap(), "1337");
    assert_eq!(call(&m, "net_listening", json!([])).await.unwrap(), true);
    assert_eq!(call(&m, "eth_syncing", json!([])).await.unwrap(), false);
    assert_eq!(call(&m, "eth_accounts", json!([])).await.unwrap(), json!([]));
    assert_eq!(call(&m, "eth_blockNumber", json!([])).await.unwrap(), "0x2");
    let version = call(&m, "web3_clientVersion", json!([])).await.unwrap();
    assert!(version.as_str().unwrap().starts_with("phalanx/v0.1.0/"));
    assert_eq!(
        call(&m, "txpool_status", json!([])).await.unwrap(),
        json!({"pending": "0x1", "queued": "0x3"})
    );
}

#[tokio::test]
async fn block_tags_and_counts() {
    let backend = chain();
    let hashes: Vec<B256> = backend.blocks.iter().map(|b| b.hash()).collect();
    let m = module(backend, &RpcConfig::default());
    for tag in ["latest", "pending", "safe", "finalized"] {
        let block = call(&m, "eth_getBlockByNumber", json!([tag, false])).await.unwrap();
        assert_eq!(block["hash"], json!(hashes[2]), "{tag}");
    }
    let earliest = call(&m, "eth_getBlockByNumber", json!(["earliest", true])).await.unwrap();
    assert_eq!(earliest["number"], "0x0");
    assert_eq!(call(&m, "eth_getBlockByNumber", json!(["0x9", false])).await.unwrap(), Value::Null);
    let by_hash = call(&m, "eth_getBlockByHash", json!([hashes[1], true])).await.unwrap();
    assert_eq!(by_hash["transactions"][1]["type"], "0x1");
    assert_eq!(
        call(&m, "eth_getBlockByHash", json!([B256::ZERO, false])).await.unwrap(),
        Value::Null
    );
    let count = call(&m, "eth_getBlockTransactionCountByNumber", json!(["0x1"])).await.unwrap();
    assert_eq!(count, "0x3");
    let count = call(&m, "eth_getBlockTransactionCountByHash", json!([hashes[2]])).await.unwrap();
    assert_eq!(count, "0x1");
    let tx =
        call(&m, "eth_getTransactionByBlockNumberAndIndex", json!(["0x1", "0x2"])).await.unwrap();
    assert_eq!(tx["transactionIndex"], "0x2");
    let none = call(&m, "eth_getTransactionByBlockHashAndIndex", json!([hashes[1], "0x9"])).await;
    assert_eq!(none.unwrap(), Value::Null);
    let receipts = call(&m, "eth_getBlockReceipts", json!(["0x1"])).await.unwrap();
    let logs: Vec<&Value> =
        receipts.as_array().unwrap().iter().flat_map(|r| r["logs"].as_array().unwrap()).collect();
    let indices: Vec<&Value> = logs.iter().map(|l| &l["logIndex"]).collect();
    assert_eq!(indices, [&json!("0x0"), &json!("0x1"), &json!("0x2")]);
}

#[tokio::test]
async fn state_queries() {
    let m = default_module();
    let sender = signer().address();
    assert_eq!(
        call(&m, "eth_getTransactionCount", json!([sender, "latest"])).await.unwrap(),
        "0x4"
    );
    assert_eq!(call(&m, "eth_getTransactionCount", json!([sender])).await.unwrap(), "0x4");
    assert_eq!(
        call(&m, "eth_getTransactionCount", json!([sender, "pending"])).await.unwrap(),
        "0x5"
    );
    assert_eq!(
        call(&m, "eth_getBalance", json!([sender, "latest"])).await.unwrap(),
        "0xde0b6b3a7640000"
    );
    assert_eq!(call(&m, "eth_getBalance", json!([Address::ZERO])).await.unwrap(), "0x0");
    assert_eq!(call(&m, "eth_getCode", json!([CONTRACT_A, "latest"])).await.unwrap(), "0x60016000");
    assert_eq!(call(&m, "eth_getCode", json!([sender, "latest"])).await.unwrap(), "0x");
    let slot = call(&m, "eth_getStorageAt", json!([CONTRACT_A, "0x1", "latest"])).await.unwrap();
    assert_eq!(slot, json!(B256::left_padding_from(&[0xab, 0xcd])));
    let slot_word = format!("{:#x}", B256::with_last_byte(1));
    let same =
        call(&m, "eth_getStorageAt", json!([CONTRACT_A, slot_word, "latest"])).await.unwrap();
    assert_eq!(same, slot);
    // EIP-1898 block objects.
    let by_hash = json!({"blockHash": keccak256([0u8])});
    let err = call(&m, "eth_getBalance", json!([sender, by_hash])).await.unwrap_err();
    assert_eq!(err["code"], -32000);
    let by_number = json!({"blockNumber": "0x2"});
    assert!(call(&m, "eth_getBalance", json!([sender, by_number])).await.is_ok());
    // Old state is not kept by the mock; future state does not exist.
    let err = call(&m, "eth_getBalance", json!([sender, "0x1"])).await.unwrap_err();
    assert_eq!(err["code"], -32000);
    assert!(err["message"].as_str().unwrap().contains("not available"));
    let err = call(&m, "eth_getBalance", json!([sender, "0x7"])).await.unwrap_err();
    assert!(err["message"].as_str().unwrap().contains("header not found"));
}

#[tokio::test]
async fn call_and_estimate() {
    let m = default_module();
    let ok = call(&m, "eth_call", json!([{"to": CONTRACT_A, "data": "0x1234"}, "latest"])).await;
    assert_eq!(ok.unwrap(), "0x1234");
    let ok = call(&m, "eth_call", json!([{"to": CONTRACT_A, "input": "0x12"}])).await;
    assert_eq!(ok.unwrap(), "0x12");
    let err = call(&m, "eth_call", json!([{"to": REVERTER}, "latest"])).await.unwrap_err();
    assert_eq!(err["code"], 3);
    assert_eq!(err["message"], "execution reverted: boom");
    assert_eq!(err["data"], json!(boom_revert_data()));
    let err = call(&m, "eth_call", json!([{"to": HALTER}])).await.unwrap_err();
    assert_eq!(err, json!({"code": -32000, "message": "out of gas"}));
    let err = call(&m, "eth_call", json!([{"to": CONTRACT_A}, "latest", {"0x00": {}}]))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32602);

    let gas = call(&m, "eth_estimateGas", json!([{"to": CONTRACT_A, "data": "0x1234"}])).await;
    assert_eq!(gas.unwrap(), format!("0x{:x}", 21_000 + 32));
    let err = call(&m, "eth_estimateGas", json!([{"to": REVERTER}])).await.unwrap_err();
    assert_eq!(err["code"], 3);
    assert_eq!(err["data"], json!(boom_revert_data()));
}

#[tokio::test]
async fn fees() {
    let m = default_module();
    // Base fee 7 + tip 1 gwei.
    assert_eq!(call(&m, "eth_gasPrice", json!([])).await.unwrap(), "0x3b9aca07");
    assert_eq!(call(&m, "eth_maxPriorityFeePerGas", json!([])).await.unwrap(), "0x3b9aca00");
    let history =
        call(&m, "eth_feeHistory", json!(["0x2", "latest", [0.0, 50.0, 100.0]])).await.unwrap();
    assert_eq!(history["oldestBlock"], "0x1");
    assert_eq!(history["baseFeePerGas"], json!(["0x7", "0x7", "0x7"]));
    assert_eq!(history["gasUsedRatio"].as_array().unwrap().len(), 2);
    // Block 1 tips: 13 (21k gas), 23 (40k), 2 (50k); block 2: 2 (30k).
    assert_eq!(history["reward"], json!([["0x2", "0xd", "0x17"], ["0x2", "0x2", "0x2"]]));
    // Decimal block counts are accepted, large ones capped by the chain length.
    let history = call(&m, "eth_feeHistory", json!([100, "0x2"])).await.unwrap();
    assert_eq!(history["oldestBlock"], "0x0");
    assert_eq!(history["baseFeePerGas"].as_array().unwrap().len(), 4);
    assert!(history.get("reward").is_none());
    let err = call(&m, "eth_feeHistory", json!(["0x1", "latest", [60.0, 10.0]])).await.unwrap_err();
    assert_eq!(err["code"], -32602);
    let err = call(&m, "eth_feeHistory", json!(["0x1", "0x9"])).await.unwrap_err();
    assert_eq!(err["code"], -32000);
}

#[tokio::test]
async fn send_raw_transaction() {
    let backend = chain();
    let tx = super::fixtures::eip1559_tx(9, Some(Address::repeat_byte(0x12)));
    let raw = alloy_eips::eip2718::Encodable2718::encoded_2718(&tx);
    let m = module(backend, &RpcConfig::default());
    let hash =
        call(&m, "eth_sendRawTransaction", json!([alloy_primitives::Bytes::from(raw)])).await;
    assert_eq!(hash.unwrap(), json!(tx.tx_hash()));
    let err = call(&m, "eth_sendRawTransaction", json!(["0x02ff"])).await.unwrap_err();
    assert_eq!(err["code"], -32000);
    assert!(err["message"].as_str().unwrap().starts_with("invalid transaction"));
    let err = call(&m, "eth_sendRawTransaction", json!(["0x"])).await.unwrap_err();
    assert_eq!(err["code"], -32602);
}

#[tokio::test]
async fn malformed_params_are_invalid_params() {
    let m = default_module();
    let cases = [
        ("eth_getBlockByNumber", json!(["lastest", false])),
        ("eth_getBlockByNumber", json!([])),
        ("eth_getBlockByHash", json!(["0x1234", false])),
        ("eth_getBalance", json!(["0xnothex"])),
        ("eth_getBalance", json!([42, "latest"])),
        ("eth_getStorageAt", json!([CONTRACT_A, {"slot": 1}, "latest"])),
        ("eth_call", json!(["0x"])),
        ("eth_call", json!([{"to": CONTRACT_A, "data": "0x01", "input": "0x02"}])),
        ("eth_feeHistory", json!(["ten", "latest"])),
        ("eth_getLogs", json!([{"topics": "0x1"}])),
        ("eth_getTransactionByHash", json!([null])),
        ("eth_sendRawTransaction", json!([{}])),
    ];
    for (method, params) in cases {
        let err = call(&m, method, params.clone()).await.unwrap_err();
        assert_eq!(err["code"], -32602, "{method} {params}: {err}");
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
}

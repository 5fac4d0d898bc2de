//! Golden tests of the JSON shapes: exact field names and hex formats, and
//! that alloy (what Foundry uses) parses them back.

use std::collections::BTreeSet;

use alloy_consensus::TxEnvelope;
use alloy_primitives::B256;
use serde_json::{json, Value};

use super::fixtures::{chain, signer, BASE_FEE, CREATED, PROPOSER, RECIPIENT};
use crate::lookups;
use crate::shapes::{rpc_block, rpc_header};

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const TX_COMMON: &[&str] = &[
    "blockHash",
    "blockNumber",
    "transactionIndex",
    "hash",
    "from",
    "to",
    "nonce",
    "value",
    "gas",
    "gasPrice",
    "input",
    "type",
    "chainId",
    "v",
    "r",
    "s",
];

fn tx_json(hash: &B256) -> Value {
    let backend = chain();
    let tx = lookups::transaction_by_hash(&backend, hash).unwrap().expect("known transaction");
    serde_json::to_value(tx).unwrap()
}

/// Parses our JSON with alloy and rebuilds the signed envelope: the hash must
/// match, which proves every signed field (and v/r/s) round-trips.
fn assert_alloy_roundtrip(json: &Value, original: &TxEnvelope) {
    let parsed: alloy_rpc_types_eth::Transaction = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(parsed.from, signer().address());
    let rebuilt = TxEnvelope::try_from(parsed).expect("alloy rebuilds the transaction");
    assert_eq!(rebuilt.tx_hash(), original.tx_hash());
}

#[test]
fn legacy_transaction_shape() {
    let backend = chain();
    let tx = &backend.blocks[1].transactions[0];
    let json = tx_json(tx.tx_hash());
    assert_eq!(keys(&json), set(TX_COMMON));
    assert_eq!(json["type"], "0x0");
    assert_eq!(json["nonce"], "0x0");
    assert_eq!(json["gas"], "0x5208");
    assert_eq!(json["gasPrice"], "0x14");
    assert_eq!(json["value"], "0x3e8");
    assert_eq!(json["chainId"], "0x539");
    assert_eq!(json["blockNumber"], "0x1");
    assert_eq!(json["transactionIndex"], "0x0");
    assert_eq!(json["blockHash"], json!(backend.blocks[1].hash()));
    assert_eq!(json["to"], json!(RECIPIENT));
    assert_eq!(json["input"], "0x");
    // EIP-155: v = 2 * chain id + 35 + parity.
    let v = json["v"].as_str().unwrap();
    assert!(v == "0xa95" || v == "0xa96", "v = {v}");
    assert_alloy_roundtrip(&json, tx);
}

#[test]
fn eip2930_transaction_shape() {
    let backend = chain();
    let tx = &backend.blocks[1].transactions[1];
    let json = tx_json(tx.tx_hash());
    let mut expected = set(TX_COMMON);
    expected.extend(set(&["accessList", "yParity"]));
    assert_eq!(keys(&json), expected);
    assert_eq!(json["type"], "0x1");
    assert_eq!(json["gasPrice"], "0x1e");
    assert_eq!(json["input"], "0xdeadbeef");
    assert_eq!(json["v"], json["yParity"]);
    assert_eq!(
        json["accessList"],
        json!([{
            "address": "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "storageKeys": ["0x0000000000000000000000000000000000000000000000000000000000000001"]
        }])
    );
    assert_alloy_roundtrip(&json, tx);
}

#[test]
fn eip1559_transaction_shape_mined_and_pooled() {
    let backend = chain();
    let tx = &backend.blocks[1].transactions[2];
    let json = tx_json(tx.tx_hash());
    let mut expected = set(TX_COMMON);
    expected.extend(set(&["accessList", "yParity", "maxFeePerGas", "maxPriorityFeePerGas"]));
    assert_eq!(keys(&json), expected);
    assert_eq!(json["type"], "0x2");
    assert_eq!(json["to"], Value::Null, "creation has a null `to`");
    assert_eq!(json["maxFeePerGas"], "0x32");
    assert_eq!(json["maxPriorityFeePerGas"], "0x2");
    // Mined: effective price = min(fee cap 50, base fee 7 + tip 2).
    assert_eq!(json["gasPrice"], format!("0x{:x}", BASE_FEE + 2));
    assert_eq!(json["accessList"], json!([]));
    assert_alloy_roundtrip(&json, tx);

    let pooled_hash = *backend.pool.keys().next().unwrap();
    let json = tx_json(&pooled_hash);
    assert_eq!(keys(&json), expected);
    assert_eq!(json["blockHash"], Value::Null);
    assert_eq!(json["blockNumber"], Value::Null);
    assert_eq!(json["transactionIndex"], Value::Null);
    assert_eq!(json["gasPrice"], "0x32", "pooled: the fee cap");
    assert_eq!(json["nonce"], "0x4");
}

const HEADER_KEYS: &[&str] = &[
    "hash",
    "parentHash",
    "sha3Uncles",
    "miner",
    "stateRoot",
    "transactionsRoot",
    "receiptsRoot",
    "logsBloom",
    "difficulty",
    "number",
    "gasLimit",
    "gasUsed",
    "timestamp",
    "extraData",
    "mixHash",
    "nonce",
    "baseFeePerGas",
    "rwDigest",
];

#[test]
fn block_shape_with_hashes_and_full_transactions() {
    let backend = chain();
    let block = &backend.blocks[1];
    let json = serde_json::to_value(rpc_block(block, false).unwrap()).unwrap();
    let mut expected = set(HEADER_KEYS);
    expected.extend(set(&["totalDifficulty", "size", "uncles", "transactions"]));
    assert_eq!(keys(&json), expected);
    assert_eq!(json["hash"], json!(block.hash()));
    assert_eq!(json["parentHash"], json!(backend.blocks[0].hash()));
    assert_eq!(
        json["sha3Uncles"],
        "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
    );
    assert_eq!(json["miner"], json!(PROPOSER));
    assert_eq!(json["difficulty"], "0x0");
    assert_eq!(json["totalDifficulty"], "0x0");
    assert_eq!(json["nonce"], "0x0000000000000000");
    assert_eq!(json["mixHash"], json!(B256::ZERO));
    assert_eq!(json["extraData"], "0x");
    assert_eq!(json["number"], "0x1");
    assert_eq!(json["gasLimit"], "0x1c9c380");
    assert_eq!(json["gasUsed"], format!("0x{:x}", 21_000 + 40_000 + 50_000));
    assert_eq!(json["timestamp"], format!("0x{:x}", 1_700_000_001u64));
    assert_eq!(json["baseFeePerGas"], "0x7");
    assert_eq!(json["uncles"], json!([]));
    assert_eq!(json["size"], format!("0x{:x}", block.encode_canonical().len()));
    assert_eq!(json["logsBloom"].as_str().unwrap().len(), 2 + 512);
    let hashes: Vec<Value> = block.transactions.iter().map(|t| json!(t.tx_hash())).collect();
    assert_eq!(json["transactions"], Value::Array(hashes));
    let parsed: alloy_rpc_types_eth::Block = serde_json::from_value(json).unwrap();
    assert_eq!(parsed.header.hash, block.hash());
    assert_eq!(parsed.header.base_fee_per_gas, Some(u128::from(BASE_FEE)));

    let full = serde_json::to_value(rpc_block(block, true).unwrap()).unwrap();
    let txs = full["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 3);
    assert_eq!(txs[2]["transactionIndex"], "0x2");
    assert_eq!(txs[2]["blockHash"], json!(block.hash()));
    let parsed: alloy_rpc_types_eth::Block = serde_json::from_value(full).unwrap();
    assert_eq!(parsed.transactions.len(), 3);
}

#[test]
fn header_shape_for_new_heads() {
    let backend = chain();
    let json = serde_json::to_value(rpc_header(&backend.blocks[2].header)).unwrap();
    assert_eq!(keys(&json), set(HEADER_KEYS));
    let parsed: alloy_rpc_types_eth::Header = serde_json::from_value(json).unwrap();
    assert_eq!(parsed.number, 2);
    assert_eq!(parsed.hash, backend.blocks[2].hash());
}

const LOG_KEYS: &[&str] = &[
    "address",
    "topics",
    "data",
    "blockHash",
    "blockNumber",
    "transactionHash",
    "transactionIndex",
    "logIndex",
    "removed",
];

#[test]
fn receipt_and_log_shape() {
    let backend = chain();
    let block = &backend.blocks[1];
    let tx = &block.transactions[2];
    let receipt = lookups::receipt_by_hash(&backend, tx.tx_hash()).unwrap().unwrap();
    let json = serde_json::to_value(&receipt).unwrap();
    assert_eq!(
        keys(&json),
        set(&[
            "transactionHash",
            "transactionIndex",
            "blockHash",
            "blockNumber",
            "from",
            "to",
            "cumulativeGasUsed",
            "gasUsed",
            "effectiveGasPrice",
            "contractAddress",
            "logs",
            "logsBloom",
            "type",
            "status",
            "rwHash",
        ])
    );
    assert_eq!(json["status"], "0x1");
    assert_eq!(json["type"], "0x2");
    assert_eq!(json["to"], Value::Null);
    assert_eq!(json["contractAddress"], json!(CREATED));
    assert_eq!(json["from"], json!(signer().address()));
    assert_eq!(json["gasUsed"], "0xc350");
    assert_eq!(json["cumulativeGasUsed"], format!("0x{:x}", 111_000));
    assert_eq!(json["effectiveGasPrice"], "0x9");
    assert_eq!(json["transactionIndex"], "0x2");
    assert_eq!(json["rwHash"], json!(backend.receipts[1][2].rw_hash));
    let log = &json["logs"][0];
    assert_eq!(keys(log), set(LOG_KEYS));
    assert_eq!(log["logIndex"], "0x2", "log indices are block-wide");
    assert_eq!(log["transactionIndex"], "0x2");
    assert_eq!(log["blockNumber"], "0x1");
    assert_eq!(log["data"], "0x03");
    assert_eq!(log["removed"], false);
    assert_eq!(log["transactionHash"], json!(tx.tx_hash()));
    assert_eq!(log["blockHash"], json!(block.hash()));

    let parsed: alloy_rpc_types_eth::TransactionReceipt = serde_json::from_value(json).unwrap();
    assert!(parsed.status());
    assert_eq!(parsed.contract_address, Some(CREATED));
    assert_eq!(parsed.inner.logs()[0].log_index, Some(2));
}

#[test]
fn pooled_transaction_has_no_receipt() {
    let backend = chain();
    let pooled_hash = *backend.pool.keys().next().unwrap();
    assert_eq!(lookups::receipt_by_hash(&backend, &pooled_hash).unwrap(), None);
    assert_eq!(lookups::receipt_by_hash(&backend, &B256::ZERO).unwrap(), None);
}

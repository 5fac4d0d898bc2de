//! Bad input through the real node: every rejection is a clear JSON-RPC
//! error, nothing enters the pool, and the node keeps serving.

mod common;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use common::{dev_key, free_port, rpc, Devnet};
use serde_json::json;

fn signed(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    value: U256,
    input: Vec<u8>,
) -> String {
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 5_000_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(Address::repeat_byte(7)),
        value,
        input: Bytes::from(input),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    format!(
        "0x{}",
        alloy_primitives::hex::encode(TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_are_clear_errors_and_leave_the_pool_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let mut devnet = Devnet::start(&tmp.path().join("devnet"), free_port());
    devnet.wait_ready().await;
    let url = devnet.url();
    let funded = dev_key(3);
    let pauper = PrivateKeySigner::random();

    // (raw transaction, expected fragment of the error message)
    let mut corrupted = signed(&funded, 7777, 0, U256::from(1), vec![]);
    corrupted.replace_range(corrupted.len() - 6.., "000000");
    let cases = [
        ("0xdeadbeef".to_string(), "decode"),
        ("0x".to_string(), "empty transaction"),
        (corrupted, ""),
        (signed(&funded, 1, 0, U256::from(1), vec![]), "invalid chain id"),
        (signed(&funded, 7777, 5_000_000, U256::from(1), vec![]), "nonce too high"),
        (signed(&pauper, 7777, 0, U256::from(1), vec![]), "insufficient funds"),
        (signed(&funded, 7777, 0, U256::from(1), vec![0xab; 200_000]), "oversized data"),
    ];
    for (raw, expected) in &cases {
        let err = rpc(&url, "eth_sendRawTransaction", json!([raw])).await.unwrap_err();
        assert!(
            err.contains(expected),
            "sending {}…: expected `{expected}` in `{err}`",
            &raw[..raw.len().min(20)]
        );
    }
    // Malformed params are invalid-params errors, not crashes.
    for (method, params) in [
        ("eth_getBalance", json!(["not-an-address", "latest"])),
        ("eth_getBlockByNumber", json!([{"x": 1}, false])),
        ("eth_sendRawTransaction", json!([42])),
        ("eth_call", json!([{"to": "0x12"}])),
    ] {
        let err = rpc(&url, method, params).await.unwrap_err();
        assert!(err.contains("-32602") || err.contains("nvalid"), "{method}: {err}");
    }
    let status = rpc(&url, "txpool_status", json!([])).await.unwrap();
    assert_eq!(status, json!({"pending": "0x0", "queued": "0x0"}), "nothing may enter the pool");

    // A stale nonce: commit nonce 0, then replay it.
    let first = signed(&funded, 7777, 0, U256::from(1), vec![]);
    rpc(&url, "eth_sendRawTransaction", json!([first])).await.unwrap();
    let second = rpc(&url, "eth_sendRawTransaction", json!([first])).await.unwrap_err();
    assert!(second.contains("already known") || second.contains("nonce too low"), "{second}");
    assert!(common::block_number(&url).await.is_ok(), "node still serving");
    devnet.terminate();
}

//! Random JSON values as parameters of every method: the server answers with
//! a result or a JSON-RPC error, never panics and never reports an internal
//! error (which is what a panicking blocking method turns into).

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::fixtures::{chain, module, CONTRACT_A, T1};
use crate::{RpcConfig, INTERNAL_ERROR_CODE};

const METHODS: &[&str] = &[
    "eth_chainId",
    "net_version",
    "net_listening",
    "web3_clientVersion",
    "eth_syncing",
    "eth_accounts",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_getTransactionByHash",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionReceipt",
    "eth_getBlockReceipts",
    "eth_getTransactionCount",
    "eth_getBalance",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_call",
    "eth_estimateGas",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "eth_sendRawTransaction",
    "eth_getLogs",
    "txpool_status",
    "eth_subscribe",
    "eth_unsubscribe",
];

const KEYS: &[&str] = &[
    "to",
    "from",
    "data",
    "input",
    "gas",
    "value",
    "nonce",
    "gasPrice",
    "maxFeePerGas",
    "accessList",
    "blockHash",
    "blockNumber",
    "requireCanonical",
    "fromBlock",
    "toBlock",
    "address",
    "topics",
];

/// Strings that parse as something for at least one parameter type.
fn interesting_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("latest".to_string()),
        Just("pending".to_string()),
        Just("earliest".to_string()),
        Just("finalized".to_string()),
        Just("newHeads".to_string()),
        Just("0x".to_string()),
        Just("0x0".to_string()),
        Just("0x1".to_string()),
        Just("0x2".to_string()),
        Just("0xffffffffffffffff".to_string()),
        Just("0x10000000000000000".to_string()),
        Just(format!("{CONTRACT_A:#x}")),
        Just(format!("{T1:#x}")),
        "0x[0-9a-f]{0,80}",
        ".{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        interesting_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..4).prop_map(
                |entries| {
                    let map: Map<String, Value> =
                        entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                    Value::Object(map)
                }
            ),
        ]
    })
}

fn params() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => proptest::collection::vec(json_value(), 0..4).prop_map(Value::Array),
        1 => json_value(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_params_never_panic(params in params()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let m = module(chain(), &RpcConfig { logs_block_range_max: 100, ..RpcConfig::default() });
        runtime.block_on(async {
            for method in METHODS {
                let request = serde_json::json!({
                    "jsonrpc": "2.0", "id": 7, "method": method, "params": params,
                });
                let answer = m.raw_json_request(&request.to_string(), 4).await;
                let Ok((response, _)) = answer else {
                    // jsonrpsee rejects params that are neither array nor object
                    // (or null) before any method runs.
                    assert!(!(params.is_array() || params.is_object()), "{method} {params}");
                    continue;
                };
                let response: Value = serde_json::from_str(&response).expect("JSON response");
                let error_code = response.get("error").map(|e| e["code"].as_i64().unwrap());
                assert!(response.get("result").is_some() || error_code.is_some(), "{response}");
                assert_ne!(error_code, Some(i64::from(INTERNAL_ERROR_CODE)), "{method} {params}: {response}");
            }
        });
    }
}

//! `eth_getLogs` filters and bounds.

use serde_json::{json, Value};

use super::fixtures::{call, chain, module, CONTRACT_A, CONTRACT_B, T1, T2, T3};
use crate::RpcConfig;

async fn logs(params: Value, config: &RpcConfig) -> Result<Vec<Value>, Value> {
    let m = module(chain(), config);
    call(&m, "eth_getLogs", json!([params])).await.map(|v| v.as_array().unwrap().clone())
}

fn data_of(found: &[Value]) -> Vec<&str> {
    found.iter().map(|l| l["data"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn filters_by_address_and_topics() {
    let c = RpcConfig::default();
    let all = logs(json!({"fromBlock": "earliest", "toBlock": "latest"}), &c).await.unwrap();
    assert_eq!(data_of(&all), ["0x01", "0x02", "0x03", "0x04"]);
    assert_eq!(all[3]["logIndex"], "0x0");
    assert_eq!(all[2]["logIndex"], "0x2");

    let by_address = logs(json!({"fromBlock": "0x0", "address": CONTRACT_A}), &c).await.unwrap();
    assert_eq!(data_of(&by_address), ["0x01", "0x02", "0x04"]);
    let either = logs(json!({"fromBlock": "0x0", "address": [CONTRACT_B, CONTRACT_A]}), &c).await;
    assert_eq!(data_of(&either.unwrap()), ["0x01", "0x02", "0x03", "0x04"]);

    let first_t1 = logs(json!({"fromBlock": "0x0", "topics": [T1]}), &c).await.unwrap();
    assert_eq!(data_of(&first_t1), ["0x01", "0x02"]);
    let first_t1_or_t2 = logs(json!({"fromBlock": "0x0", "topics": [[T1, T2]]}), &c).await;
    assert_eq!(data_of(&first_t1_or_t2.unwrap()), ["0x01", "0x02", "0x04"]);
    // null is a wildcard for a position; the log needs a topic there.
    let second_t2 = logs(json!({"fromBlock": "0x0", "topics": [null, T2]}), &c).await.unwrap();
    assert_eq!(data_of(&second_t2), ["0x01"]);
    let none = logs(json!({"fromBlock": "0x0", "topics": [T3], "address": CONTRACT_A}), &c).await;
    assert!(none.unwrap().is_empty());
}

#[tokio::test]
async fn filters_by_block() {
    let c = RpcConfig::default();
    let backend = chain();
    let hash1 = backend.blocks[1].hash();
    let latest_only = logs(json!({}), &c).await.unwrap();
    assert_eq!(data_of(&latest_only), ["0x04"]);
    let at_hash = logs(json!({"blockHash": hash1}), &c).await.unwrap();
    assert_eq!(data_of(&at_hash), ["0x01", "0x02", "0x03"]);
    assert!(logs(json!({"blockHash": alloy_primitives::B256::ZERO}), &c).await.is_err());
    let block2 = logs(json!({"fromBlock": "0x2", "toBlock": "0x2"}), &c).await.unwrap();
    assert_eq!(data_of(&block2), ["0x04"]);
    let future = logs(json!({"fromBlock": "0x5", "toBlock": "0x9"}), &c).await.unwrap();
    assert!(future.is_empty());
    let err = logs(json!({"fromBlock": "0x2", "toBlock": "0x1"}), &c).await.unwrap_err();
    assert_eq!(err["code"], -32602);
}

#[tokio::test]
async fn bounds_are_enforced() {
    let narrow = RpcConfig { logs_block_range_max: 2, ..RpcConfig::default() };
    let err = logs(json!({"fromBlock": "0x0", "toBlock": "latest"}), &narrow).await.unwrap_err();
    assert_eq!(err["code"], -32005);
    assert!(err["message"].as_str().unwrap().contains("narrow the range"), "{err}");
    assert!(logs(json!({"fromBlock": "0x1", "toBlock": "0x2"}), &narrow).await.is_ok());

    let few = RpcConfig { logs_max: 3, ..RpcConfig::default() };
    let err = logs(json!({"fromBlock": "0x0"}), &few).await.unwrap_err();
    assert_eq!(err["code"], -32005);
    assert!(err["message"].as_str().unwrap().contains("more than 3 logs"), "{err}");
    assert_eq!(logs(json!({"fromBlock": "0x1", "toBlock": "0x1"}), &few).await.unwrap().len(), 3);
}

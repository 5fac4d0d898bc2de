//! The real server on 127.0.0.1:0, called over HTTP, WebSocket and raw TCP.

use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::core::client::{ClientT, Error as ClientError, SubscriptionClientT};
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fixtures::chain;
use super::mock::{boom_revert_data, REVERTER};
use crate::{start_server, RpcConfig, RpcError, RpcServerHandle};

/// Every network step of these tests must finish well within this.
const DEADLINE: Duration = Duration::from_secs(20);

async fn start(
    config: RpcConfig,
) -> (RpcServerHandle, tokio::sync::broadcast::Sender<phalanx_core_types::Header>) {
    let backend = chain();
    let heads = backend.heads.clone();
    let config = RpcConfig { addr: "127.0.0.1:0".parse().unwrap(), ..config };
    let handle = start_server(config, Arc::new(backend)).await.expect("server starts");
    assert_ne!(handle.local_addr().port(), 0);
    (handle, heads)
}

async fn stop(handle: RpcServerHandle) {
    handle.stop().expect("first stop succeeds");
    assert!(matches!(handle.stop(), Err(RpcError::AlreadyStopped)));
    tokio::time::timeout(DEADLINE, handle.stopped()).await.expect("server stops in time");
}

#[tokio::test]
async fn http_client_calls_and_errors() {
    let (handle, _) = start(RpcConfig::default()).await;
    let client =
        HttpClientBuilder::default().build(format!("http://{}", handle.local_addr())).unwrap();
    let chain_id: String = client.request("eth_chainId", rpc_params![]).await.unwrap();
    assert_eq!(chain_id, "0x539");
    let block: Value =
        client.request("eth_getBlockByNumber", rpc_params!["latest", true]).await.unwrap();
    assert_eq!(block["number"], "0x2");

    let err = client
        .request::<Value, _>("eth_call", rpc_params![json!({"to": REVERTER}), "latest"])
        .await
        .unwrap_err();
    let ClientError::Call(err) = err else { panic!("expected a call error, got {err:?}") };
    assert_eq!(err.code(), 3);
    assert_eq!(err.message(), "execution reverted: boom");
    assert_eq!(err.data().unwrap().get(), format!("\"{}\"", boom_revert_data()));

    let err = client.request::<Value, _>("eth_getBalance", rpc_params!["0xzz"]).await.unwrap_err();
    let ClientError::Call(err) = err else { panic!("expected a call error, got {err:?}") };
    assert_eq!(err.code(), -32602);
    stop(handle).await;
}

#[tokio::test]
async fn websocket_new_heads_subscription() {
    let (handle, heads) = start(RpcConfig::default()).await;
    let client =
        WsClientBuilder::default().build(format!("ws://{}", handle.local_addr())).await.unwrap();
    let number: String = client.request("eth_blockNumber", rpc_params![]).await.unwrap();
    assert_eq!(number, "0x2");

    let mut sub = client
        .subscribe::<Value, _>("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
        .await
        .unwrap();
    let mut header = chain().blocks[2].header.clone();
    header.height = 3;
    header.parent_hash = chain().blocks[2].hash();
    assert_eq!(heads.send(header.clone()).expect("the subscription listens"), 1);
    let pushed = tokio::time::timeout(DEADLINE, sub.next()).await.expect("header in time");
    let pushed = pushed.expect("stream open").expect("valid item");
    assert_eq!(pushed["number"], "0x3");
    assert_eq!(pushed["hash"], json!(header.hash()));
    assert_eq!(pushed["difficulty"], "0x0");
    sub.unsubscribe().await.unwrap();

    let err = client
        .subscribe::<Value, _>(
            "eth_subscribe",
            rpc_params!["newPendingTransactions"],
            "eth_unsubscribe",
        )
        .await
        .unwrap_err();
    let ClientError::Call(err) = err else { panic!("expected a call error, got {err:?}") };
    assert_eq!(err.code(), -32602);
    stop(handle).await;
}

/// Posts `body` over a fresh TCP connection and returns the response body.
async fn raw_post(addr: std::net::SocketAddr, body: &str) -> Value {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut response)).await.unwrap().unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn raw_http_batch_and_its_bound() {
    let (handle, _) = start(RpcConfig { batch_requests_max: 3, ..RpcConfig::default() }).await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["bad"]},
    ]);
    let response = raw_post(handle.local_addr(), &batch.to_string()).await;
    let mut items = response.as_array().expect("a batch response").clone();
    items.sort_by_key(|item| item["id"].as_u64());
    assert_eq!(items[0]["result"], "0x539");
    assert_eq!(items[1]["result"], "0x2");
    assert_eq!(items[2]["error"]["code"], -32602);

    let too_big: Vec<Value> = (0..4)
        .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "eth_chainId", "params": []}))
        .collect();
    let response = raw_post(handle.local_addr(), &Value::Array(too_big).to_string()).await;
    assert!(response.get("error").is_some(), "oversized batch is refused: {response}");
    stop(handle).await;
}

#[tokio::test]
async fn bind_failure_is_reported() {
    let (handle, _) = start(RpcConfig::default()).await;
    let config = RpcConfig { addr: handle.local_addr(), ..RpcConfig::default() };
    let err = start_server(config, Arc::new(chain())).await.unwrap_err();
    assert!(matches!(err, RpcError::Bind { .. }), "{err}");
    stop(handle).await;
}

//! alloy's provider (what Foundry is built on) against the real server:
//! every answer must parse into alloy's types, over HTTP and WebSocket.

use std::sync::Arc;
use std::time::Duration;

use alloy_eips::BlockNumberOrTag;
use alloy_network::TransactionBuilder;
use alloy_primitives::{Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder, WsConnect};
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use futures::StreamExt;

use super::fixtures::{chain, signer, CONTRACT_A, CREATED, T1};
use super::mock::REVERTER;
use crate::{start_server, RpcConfig};

const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn alloy_http_provider_reads_everything() {
    let backend = chain();
    let creation_hash = *backend.blocks[1].transactions[2].tx_hash();
    let config = RpcConfig { addr: "127.0.0.1:0".parse().unwrap(), ..RpcConfig::default() };
    let handle = start_server(config, Arc::new(backend)).await.unwrap();
    let url = format!("http://{}", handle.local_addr()).parse().unwrap();
    let provider = ProviderBuilder::new().on_http(url);

    assert_eq!(provider.get_chain_id().await.unwrap(), 1337);
    assert_eq!(provider.get_block_number().await.unwrap(), 2);
    assert_eq!(provider.get_gas_price().await.unwrap(), 1_000_000_007);
    let block = provider.get_block_by_number(BlockNumberOrTag::Latest, true).await.unwrap();
    assert_eq!(block.expect("latest block").header.number, 2);
    let sender = signer().address();
    assert_eq!(provider.get_transaction_count(sender).await.unwrap(), 4);
    assert_eq!(provider.get_balance(sender).await.unwrap(), U256::from(10u64.pow(18)));
    let receipt = provider.get_transaction_receipt(creation_hash).await.unwrap().unwrap();
    assert_eq!(receipt.contract_address, Some(CREATED));
    let tx = provider.get_transaction_by_hash(creation_hash).await.unwrap().unwrap();
    assert_eq!(tx.from, sender);
    let logs = provider.get_logs(&Filter::new().from_block(0).event_signature(T1)).await.unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[1].log_index, Some(1));
    let history = provider.get_fee_history(2, BlockNumberOrTag::Latest, &[50.0]).await.unwrap();
    assert_eq!(history.oldest_block, 1);
    assert_eq!(history.base_fee_per_gas.len(), 3);

    let request =
        TransactionRequest::default().with_to(CONTRACT_A).with_input(Bytes::from_static(&[7]));
    assert_eq!(provider.call(&request).await.unwrap(), Bytes::from_static(&[7]));
    assert_eq!(provider.estimate_gas(&request).await.unwrap(), 21_016);
    let reverting = TransactionRequest::default().with_to(REVERTER);
    let err = provider.call(&reverting).await.unwrap_err();
    let payload = err.as_error_resp().expect("a JSON-RPC error");
    assert_eq!(payload.code, 3);
    assert_eq!(payload.message, "execution reverted: boom");
    handle.stop().unwrap();
}

#[tokio::test]
async fn alloy_ws_provider_receives_new_heads() {
    let backend = chain();
    let heads = backend.heads.clone();
    let mut header = backend.blocks[2].header.clone();
    header.height = 3;
    let config = RpcConfig { addr: "127.0.0.1:0".parse().unwrap(), ..RpcConfig::default() };
    let handle = start_server(config, Arc::new(backend)).await.unwrap();
    let ws = WsConnect::new(format!("ws://{}", handle.local_addr()));
    let provider = ProviderBuilder::new().on_ws(ws).await.unwrap();
    let mut blocks = provider.subscribe_blocks().await.unwrap().into_stream();
    assert_eq!(heads.send(header.clone()).unwrap(), 1);
    let block = tokio::time::timeout(DEADLINE, blocks.next()).await.unwrap().unwrap();
    assert_eq!(block.header.number, 3);
    assert_eq!(block.header.hash, header.hash());
    handle.stop().unwrap();
}

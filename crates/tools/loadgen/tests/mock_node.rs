//! End-to-end runs of the load generator against an in-process mock node: a
//! jsonrpsee server that checks signatures, chain id and nonces, and "mines"
//! its pool into a block whenever it is polled. It executes nothing: it checks
//! the generator's protocol use (signing, nonces, batching, block scanning).

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, Bytes, TxKind, B256};
use jsonrpsee::server::{Server, ServerHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use phalanx_tools_loadgen::{
    bench_ingest, dev_accounts, run, LoadConfig, LoadError, Report, Workload,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

const CHAIN_ID: u64 = 7777;

#[derive(Debug, Default)]
struct MockChain {
    nonces: HashMap<Address, u64>,
    pool: Vec<(B256, Option<Address>)>,
    /// Transaction hashes per block; block 0 is the empty genesis.
    blocks: Vec<Vec<B256>>,
    receipts: HashMap<B256, (u64, Option<Address>)>,
    /// Refuse every n-th otherwise valid transaction as if the pool were full.
    reject_every: Option<u64>,
    received: u64,
}

impl MockChain {
    fn mine(&mut self) {
        if self.pool.is_empty() {
            return;
        }
        let number = self.blocks.len() as u64;
        let txs: Vec<B256> = self.pool.iter().map(|(h, _)| *h).collect();
        for (hash, created) in self.pool.drain(..) {
            self.receipts.insert(hash, (number, created));
        }
        self.blocks.push(txs);
    }

    fn accept(&mut self, raw: &Bytes) -> Result<B256, String> {
        let tx = TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(|e| e.to_string())?;
        let sender = tx.recover_signer().map_err(|e| e.to_string())?;
        if tx.chain_id() != Some(CHAIN_ID) {
            return Err("wrong chain id".into());
        }
        let expected = self.nonces.get(&sender).copied().unwrap_or(0);
        if tx.nonce() < expected {
            return Err("nonce too low".into());
        }
        if tx.nonce() > expected {
            return Err("nonce too high".into());
        }
        self.received += 1;
        if self.reject_every.is_some_and(|n| self.received.checked_rem(n) == Some(0)) {
            return Err("txpool is full".into());
        }
        self.nonces.insert(sender, expected + 1);
        let created = matches!(tx.to(), TxKind::Create).then(|| sender.create(expected));
        let hash = *tx.tx_hash();
        self.pool.push((hash, created));
        Ok(hash)
    }

    fn block_json(&self, number: u64) -> Value {
        match self.blocks.get(number as usize) {
            None => Value::Null,
            Some(txs) => json!({
                "number": format!("{number:#x}"),
                "timestamp": format!("{number:#x}"),
                "baseFeePerGas": "0x7",
                "transactions": txs,
            }),
        }
    }
}

fn rpc_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32000, message.into(), None::<()>)
}

fn param(params: &Params, index: usize) -> Value {
    params.parse::<Vec<Value>>().ok().and_then(|v| v.get(index).cloned()).unwrap_or(Value::Null)
}

type Module = RpcModule<Mutex<MockChain>>;

fn chain(ctx: &Mutex<MockChain>) -> std::sync::MutexGuard<'_, MockChain> {
    ctx.lock().unwrap()
}

fn register(module: &mut Module) {
    module.register_method("eth_chainId", |_, _, _| format!("{CHAIN_ID:#x}")).unwrap();
    module.register_method("eth_maxPriorityFeePerGas", |_, _, _| "0x1").unwrap();
    module.register_method("eth_gasPrice", |_, _, _| "0x8").unwrap();
    module.register_method("eth_getBalance", |_, _, _| "0xffffffffffffffffffffffff").unwrap();
    // balanceOf: a large balance, ABI-encoded as one uint256 word.
    module.register_method("eth_call", |_, _, _| format!("0x{}", "ff".repeat(32))).unwrap();
    module
        .register_method("eth_blockNumber", |_, ctx, _| {
            let mut c = chain(ctx);
            c.mine();
            format!("{:#x}", c.blocks.len() - 1)
        })
        .unwrap();
    module
        .register_method("eth_getBlockByNumber", |params, ctx, _| {
            let mut c = chain(ctx);
            let number = match param(&params, 0) {
                Value::String(s) if s == "latest" => {
                    c.mine();
                    c.blocks.len() as u64 - 1
                }
                Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap(),
                other => panic!("unexpected block tag {other}"),
            };
            c.block_json(number)
        })
        .unwrap();
    module
        .register_method("eth_getTransactionCount", |params, ctx, _| {
            let address: Address = serde_json::from_value(param(&params, 0)).unwrap();
            format!("{:#x}", chain(ctx).nonces.get(&address).copied().unwrap_or(0))
        })
        .unwrap();
    module
        .register_method("eth_sendRawTransaction", |params, ctx, _| {
            let raw: Bytes = serde_json::from_value(param(&params, 0)).map_err(rpc_error_of)?;
            chain(ctx).accept(&raw).map_err(rpc_error)
        })
        .unwrap();
    module
        .register_method("eth_getTransactionReceipt", |params, ctx, _| {
            let hash: B256 = serde_json::from_value(param(&params, 0)).unwrap();
            let mut c = chain(ctx);
            c.mine();
            match c.receipts.get(&hash) {
                None => Value::Null,
                Some((block, created)) => json!({
                    "status": "0x1",
                    "blockNumber": format!("{block:#x}"),
                    "gasUsed": "0x5208",
                    "contractAddress": created,
                }),
            }
        })
        .unwrap();
}

fn rpc_error_of(e: serde_json::Error) -> ErrorObjectOwned {
    rpc_error(e.to_string())
}

async fn start_mock(reject_every: Option<u64>) -> (String, ServerHandle) {
    let state = MockChain { blocks: vec![Vec::new()], reject_every, ..Default::default() };
    let mut module = RpcModule::new(Mutex::new(state));
    register(&mut module);
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    (url, server.start(module))
}

fn config(url: &str, workload: Workload) -> LoadConfig {
    let mut c = LoadConfig::new(url, dev_accounts(1).remove(0), workload);
    c.accounts = 4;
    c.duration_ms = Some(300);
    c.report_interval_ms = 50;
    c.poll_interval_ms = 10;
    c.in_flight_max = 64;
    c.setup_timeout_ms = 5_000;
    c.drain_timeout_ms = 5_000;
    c
}

#[tokio::test]
async fn erc20_run_confirms_everything_it_sends() {
    let (url, server) = start_mock(None).await;
    let mut cfg = config(&url, Workload::Erc20);
    cfg.batch_size = 8;
    let mut reports: Vec<Report> = Vec::new();
    let summary = run(cfg, |r| reports.push(r.clone())).await.unwrap();
    assert!(summary.sent > 0, "{summary:?}");
    assert_eq!(summary.confirmed, summary.sent, "{summary:?}");
    assert_eq!((summary.failed, summary.pending), (0, 0), "{summary:?}");
    assert!(summary.contract.is_some());
    assert!(summary.latency_p50_ms <= summary.latency_p99_ms);
    assert!(summary.latency_p99_ms <= summary.latency_max_ms);
    assert!(!reports.is_empty());
    assert!(reports.windows(2).all(|w| w[0].sent <= w[1].sent && w[0].height <= w[1].height));
    server.stop().unwrap();
}

#[tokio::test]
async fn transfer_run_respects_the_rate_bound() {
    let (url, server) = start_mock(None).await;
    let mut cfg = config(&url, Workload::Transfer);
    cfg.rate_tps_max = Some(200);
    cfg.duration_ms = Some(500);
    let summary = run(cfg, |_| {}).await.unwrap();
    // 200 tx/s for 0.5 s is 100 transactions; one tick of slack.
    assert!(summary.sent > 0 && summary.sent <= 102, "{summary:?}");
    assert_eq!(summary.confirmed, summary.sent);
    assert!(summary.contract.is_none());
    server.stop().unwrap();
}

#[tokio::test]
async fn refused_transactions_resync_nonces() {
    let (url, server) = start_mock(Some(25)).await;
    let mut cfg = config(&url, Workload::Transfer);
    cfg.batch_size = 4;
    let summary = run(cfg, |_| {}).await.unwrap();
    assert!(summary.failed > 0, "{summary:?}");
    // After each refusal the sender resyncs, so the run keeps confirming and
    // nothing it had accepted is lost.
    assert!(summary.confirmed > summary.failed, "{summary:?}");
    assert_eq!(summary.confirmed, summary.sent, "{summary:?}");
    assert_eq!(summary.pending, 0);
    server.stop().unwrap();
}

#[tokio::test]
async fn submissions_spread_over_several_urls() {
    let (url, server) = start_mock(None).await;
    // A second server fronting nothing would refuse; the same node under two
    // URLs checks that each account keeps one URL (its nonces stay in order)
    // and that the streams run side by side without losing transactions.
    let mut cfg = config(&url, Workload::Transfer);
    cfg.submit_urls = vec![url.clone(), url.clone()];
    cfg.batch_size = 4;
    let summary = run(cfg, |_| {}).await.unwrap();
    assert!(summary.sent > 0, "{summary:?}");
    assert_eq!(summary.confirmed, summary.sent, "{summary:?}");
    assert_eq!((summary.failed, summary.pending), (0, 0), "{summary:?}");
    server.stop().unwrap();
}

#[tokio::test]
async fn a_submit_url_of_another_chain_is_refused() {
    let (url, server) = start_mock(None).await;
    let mut cfg = config(&url, Workload::Transfer);
    // Port 9 answers nothing: the chain id check fails before any load.
    cfg.submit_urls = vec!["http://127.0.0.1:9".to_string()];
    let err = run(cfg, |_| {}).await.unwrap_err();
    assert!(matches!(err, LoadError::Rpc { method: "eth_chainId", .. }), "{err}");
    server.stop().unwrap();
}

#[tokio::test]
async fn cancellation_ends_an_unbounded_run() {
    let (url, server) = start_mock(None).await;
    let mut cfg = config(&url, Workload::Transfer);
    cfg.duration_ms = None;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    cfg.cancel = Some(stop_rx);
    let mut seen = 0;
    let summary = run(cfg, |r| {
        // Stop once something has been confirmed.
        if r.confirmed > 0 {
            stop.send_replace(true);
        }
        seen += 1;
    })
    .await
    .unwrap();
    assert!(seen >= 1 && summary.confirmed > 0);
    server.stop().unwrap();
}

#[tokio::test]
async fn ingest_bench_single_and_batched() {
    let (url, server) = start_mock(None).await;
    let funder = dev_accounts(1).remove(0);
    let single = bench_ingest(&url, &funder, 100, 1).await.unwrap();
    assert_eq!((single.accepted, single.rejected), (100, 0), "{single:?}");
    let batched = bench_ingest(&url, &funder, 100, 10).await.unwrap();
    assert_eq!((batched.accepted, batched.rejected), (100, 0), "{batched:?}");
    assert_eq!(batched.accounts, 7);
    server.stop().unwrap();
}

#[tokio::test]
async fn unreachable_node_is_an_rpc_error() {
    // Port 9 (discard) on loopback: nothing listens there in a test sandbox.
    let cfg = config("http://127.0.0.1:9", Workload::Transfer);
    let err = run(cfg, |_| {}).await.unwrap_err();
    assert!(matches!(err, LoadError::Rpc { method: "eth_chainId", .. }), "{err}");
}

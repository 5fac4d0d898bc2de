//! A thin Ethereum JSON-RPC client over jsonrpsee's HTTP client: only the
//! methods the load generator needs, with answers parsed into small structs
//! so any standard node works.

use crate::LoadError;
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde::Deserialize;
use std::time::Duration;

/// Per-request timeout; a local node answering slower than this is stuck.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Upper bound on one JSON-RPC batch (requests per HTTP call).
pub const BATCH_SIZE_MAX: usize = 1_000;

/// Concurrent requests one client keeps open.
const CONCURRENT_REQUESTS_MAX: usize = 256;

/// A block as `eth_getBlockByNumber(n, false)` returns it, reduced to what we use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockSummary {
    /// Block number.
    pub number: U64,
    /// Timestamp in seconds.
    pub timestamp: U64,
    /// EIP-1559 base fee, absent before London.
    #[serde(default)]
    pub base_fee_per_gas: Option<U256>,
    /// Transaction hashes in block order.
    pub transactions: Vec<B256>,
}

/// A receipt, reduced to what we use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptSummary {
    /// 1 on success, 0 on revert.
    pub status: U64,
    /// The block that included the transaction.
    pub block_number: U64,
    /// Gas used by this transaction.
    pub gas_used: U64,
    /// The created contract, for a creation transaction.
    #[serde(default)]
    pub contract_address: Option<Address>,
}

impl ReceiptSummary {
    /// Whether execution succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == U64::from(1)
    }
}

/// The outcome of one `eth_sendRawTransaction` in a batch.
pub type SendOutcome = Result<B256, String>;

/// Ethereum JSON-RPC over HTTP.
#[derive(Debug, Clone)]
pub struct RpcClient {
    inner: HttpClient,
}

impl RpcClient {
    /// Builds a client for `url` (`http://host:port`); does not connect yet.
    pub fn new(url: &str) -> Result<Self, LoadError> {
        let inner = HttpClientBuilder::default()
            .request_timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .max_concurrent_requests(CONCURRENT_REQUESTS_MAX)
            .build(url)
            .map_err(|source| LoadError::Client { url: url.to_string(), source })?;
        Ok(Self { inner })
    }

    async fn call<R: serde::de::DeserializeOwned>(
        &self,
        method: &'static str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<R, LoadError> {
        self.inner.request(method, params).await.map_err(|source| LoadError::Rpc { method, source })
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, LoadError> {
        let id: U64 = self.call("eth_chainId", rpc_params![]).await?;
        Ok(id.to())
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64, LoadError> {
        let n: U64 = self.call("eth_blockNumber", rpc_params![]).await?;
        Ok(n.to())
    }

    /// `eth_getTransactionCount(address, "pending")`: the next nonce to use.
    pub async fn pending_nonce(&self, address: Address) -> Result<u64, LoadError> {
        let n: U64 = self.call("eth_getTransactionCount", rpc_params![address, "pending"]).await?;
        Ok(n.to())
    }

    /// `eth_getBalance(address, "latest")`.
    pub async fn balance(&self, address: Address) -> Result<U256, LoadError> {
        self.call("eth_getBalance", rpc_params![address, "latest"]).await
    }

    /// `eth_getBlockByNumber(n, false)`; `None` if the node has no such block yet.
    pub async fn block(&self, number: u64) -> Result<Option<BlockSummary>, LoadError> {
        self.call("eth_getBlockByNumber", rpc_params![U64::from(number), false]).await
    }

    /// `eth_getBlockByNumber("latest", false)`.
    pub async fn latest_block(&self) -> Result<BlockSummary, LoadError> {
        let block: Option<BlockSummary> =
            self.call("eth_getBlockByNumber", rpc_params!["latest", false]).await?;
        block.ok_or_else(|| LoadError::BadResponse {
            method: "eth_getBlockByNumber",
            reason: "no latest block".to_string(),
        })
    }

    /// `eth_getTransactionReceipt`; `None` while the transaction is pending.
    pub async fn receipt(&self, hash: B256) -> Result<Option<ReceiptSummary>, LoadError> {
        self.call("eth_getTransactionReceipt", rpc_params![hash]).await
    }

    /// `eth_call(tx, "latest")` of `input` against `to`.
    pub async fn call_contract(&self, to: Address, input: Bytes) -> Result<Bytes, LoadError> {
        let tx = serde_json::json!({ "to": to, "input": input, "data": input });
        self.call("eth_call", rpc_params![tx, "latest"]).await
    }

    /// `eth_maxPriorityFeePerGas`.
    pub async fn max_priority_fee(&self) -> Result<u128, LoadError> {
        let fee: U256 = self.call("eth_maxPriorityFeePerGas", rpc_params![]).await?;
        Ok(fee.saturating_to())
    }

    /// `eth_gasPrice`.
    pub async fn gas_price(&self) -> Result<u128, LoadError> {
        let fee: U256 = self.call("eth_gasPrice", rpc_params![]).await?;
        Ok(fee.saturating_to())
    }

    /// `eth_sendRawTransaction` of one EIP-2718 encoded transaction.
    pub async fn send_raw(&self, raw: &Bytes) -> Result<B256, LoadError> {
        self.call("eth_sendRawTransaction", rpc_params![raw]).await
    }

    /// Sends `raws` as one JSON-RPC batch (one HTTP request) and returns one
    /// outcome per transaction, in order: the hash, or the node's error message.
    ///
    /// Fails as a whole only on a transport error. At most [`BATCH_SIZE_MAX`].
    pub async fn send_raw_batch(&self, raws: &[Bytes]) -> Result<Vec<SendOutcome>, LoadError> {
        const METHOD: &str = "eth_sendRawTransaction";
        assert!(raws.len() <= BATCH_SIZE_MAX, "batch of {} exceeds {BATCH_SIZE_MAX}", raws.len());
        if raws.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = BatchRequestBuilder::new();
        for raw in raws {
            batch.insert(METHOD, rpc_params![raw]).map_err(|e| LoadError::BadResponse {
                method: METHOD,
                reason: format!("cannot encode params: {e}"),
            })?;
        }
        let response = self
            .inner
            .batch_request::<B256>(batch)
            .await
            .map_err(|source| LoadError::Rpc { method: METHOD, source })?;
        let outcomes: Vec<SendOutcome> =
            response.into_iter().map(|entry| entry.map_err(|e| e.message().to_string())).collect();
        if outcomes.len() != raws.len() {
            return Err(LoadError::BadResponse {
                method: METHOD,
                reason: format!("batch of {} got {} answers", raws.len(), outcomes.len()),
            });
        }
        Ok(outcomes)
    }

    /// Sends `raws` one request each (`batch_size` 1) or in batches of
    /// `batch_size`, returning one outcome per transaction, in order.
    pub async fn send_raw_many(
        &self,
        raws: &[Bytes],
        batch_size: usize,
    ) -> Result<Vec<SendOutcome>, LoadError> {
        let mut outcomes = Vec::with_capacity(raws.len());
        if batch_size <= 1 {
            for raw in raws {
                outcomes.push(match self.send_raw(raw).await {
                    Ok(hash) => Ok(hash),
                    Err(LoadError::Rpc {
                        source: jsonrpsee::core::ClientError::Call(e), ..
                    }) => Err(e.message().to_string()),
                    Err(other) => return Err(other),
                });
            }
            return Ok(outcomes);
        }
        for chunk in raws.chunks(batch_size.min(BATCH_SIZE_MAX)) {
            outcomes.extend(self.send_raw_batch(chunk).await?);
        }
        Ok(outcomes)
    }
}

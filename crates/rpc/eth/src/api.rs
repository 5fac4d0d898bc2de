//! The JSON-RPC method table. Parameter decoding is jsonrpsee's (serde), so
//! malformed parameters become -32602 errors naming what failed to parse.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_rpc_types_eth::{Filter, Index, TransactionRequest};
use alloy_serde::storage::JsonStorageKey;
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;

use crate::fees::FeeHistory;
use crate::params::FlexibleU64;
use crate::shapes::{RpcBlock, RpcLog, RpcReceipt, RpcTransaction};

/// `txpool_status` result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TxpoolStatus {
    /// Executable transactions.
    pub pending: U64,
    /// Transactions waiting on a nonce gap.
    pub queued: U64,
}

/// The Ethereum JSON-RPC methods Phalanx serves. Methods that read storage or
/// execute are `blocking` (run on tokio's blocking pool).
#[rpc(server)]
pub trait EthApi {
    /// EIP-155 chain id.
    #[method(name = "eth_chainId")]
    fn chain_id(&self) -> RpcResult<U64>;

    /// Chain id as a decimal string.
    #[method(name = "net_version")]
    fn net_version(&self) -> RpcResult<String>;

    /// Always true while the server runs.
    #[method(name = "net_listening")]
    fn net_listening(&self) -> RpcResult<bool>;

    /// "phalanx/v<version>/<os>-<arch>".
    #[method(name = "web3_clientVersion")]
    fn client_version(&self) -> RpcResult<String>;

    /// Always false: a node serves only what it has committed.
    #[method(name = "eth_syncing")]
    fn syncing(&self) -> RpcResult<bool>;

    /// Always empty: the node holds no user keys.
    #[method(name = "eth_accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;

    /// Height of the newest committed block.
    #[method(name = "eth_blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;

    /// A block by number or tag.
    #[method(name = "eth_getBlockByNumber", blocking)]
    fn block_by_number(
        &self,
        block: BlockNumberOrTag,
        full: Option<bool>,
    ) -> RpcResult<Option<RpcBlock>>;

    /// A block by hash.
    #[method(name = "eth_getBlockByHash", blocking)]
    fn block_by_hash(&self, hash: B256, full: Option<bool>) -> RpcResult<Option<RpcBlock>>;

    /// Number of transactions in a block by number or tag.
    #[method(name = "eth_getBlockTransactionCountByNumber", blocking)]
    fn block_tx_count_by_number(&self, block: BlockNumberOrTag) -> RpcResult<Option<U64>>;

    /// Number of transactions in a block by hash.
    #[method(name = "eth_getBlockTransactionCountByHash", blocking)]
    fn block_tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    /// A committed or pooled transaction.
    #[method(name = "eth_getTransactionByHash", blocking)]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>>;

    /// Transaction `index` of the block with `hash`.
    #[method(name = "eth_getTransactionByBlockHashAndIndex", blocking)]
    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<RpcTransaction>>;

    /// Transaction `index` of the block named by `block`.
    #[method(name = "eth_getTransactionByBlockNumberAndIndex", blocking)]
    fn transaction_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<RpcTransaction>>;

    /// Receipt of a committed transaction.
    #[method(name = "eth_getTransactionReceipt", blocking)]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>>;

    /// All receipts of a block.
    #[method(name = "eth_getBlockReceipts", blocking)]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>>;

    /// Account nonce at a block; `pending` includes pooled transactions.
    #[method(name = "eth_getTransactionCount", blocking)]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;

    /// Account balance at a block.
    #[method(name = "eth_getBalance", blocking)]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;

    /// Account code at a block.
    #[method(name = "eth_getCode", blocking)]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;

    /// A storage slot at a block.
    #[method(name = "eth_getStorageAt", blocking)]
    fn storage_at(
        &self,
        address: Address,
        slot: JsonStorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;

    /// Executes a call without committing; reverts are error code 3.
    #[method(name = "eth_call", blocking)]
    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<serde_json::Value>,
    ) -> RpcResult<Bytes>;

    /// Gas needed for a transaction; reverts are error code 3.
    #[method(name = "eth_estimateGas", blocking)]
    fn estimate_gas(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<U64>;

    /// Base fee of the newest block plus the suggested tip.
    #[method(name = "eth_gasPrice", blocking)]
    fn gas_price(&self) -> RpcResult<U256>;

    /// The suggested tip.
    #[method(name = "eth_maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;

    /// Base fees, gas-used ratios and tip percentiles of recent blocks.
    #[method(name = "eth_feeHistory", blocking)]
    fn fee_history(
        &self,
        block_count: FlexibleU64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;

    /// Submits a signed EIP-2718 transaction to the pool.
    ///
    /// Runs on the connection's task rather than tokio's blocking pool:
    /// admission is about 50 µs of CPU (decoding, sender recovery, one
    /// account read), less than the hand-over to a blocking thread and back
    /// costs in wake-ups on a busy node. Measured (docs/BENCHMARKS.md):
    /// ingestion +25% one transaction per request, +34% in batches of 100.
    #[method(name = "eth_sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;

    /// Logs matching a filter, bounded in range and count.
    #[method(name = "eth_getLogs", blocking)]
    fn logs(&self, filter: Filter) -> RpcResult<Vec<RpcLog>>;

    /// Pool counts.
    #[method(name = "txpool_status")]
    fn txpool_status(&self) -> RpcResult<TxpoolStatus>;

    /// `eth_subscribe("newHeads")`: pushes each committed header.
    #[subscription(name = "eth_subscribe" => "eth_subscription", unsubscribe = "eth_unsubscribe", item = crate::shapes::RpcHeader)]
    async fn subscribe(
        &self,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult;
}

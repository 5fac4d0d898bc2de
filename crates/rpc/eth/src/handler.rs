//! [`EthRpc`]: the method implementations behind [`EthApiServer`].

use std::sync::Arc;

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_rpc_types_eth::{Filter, Index, TransactionRequest};
use alloy_serde::storage::JsonStorageKey;
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use tokio::sync::broadcast::error::RecvError;

use crate::api::{EthApiServer, TxpoolStatus};
use crate::backend::{CallResult, EstimateResult, EthBackend};
use crate::error::{backend_error, invalid_params, revert_error, server_error};
use crate::fees::{fee_history, FeeHistory};
use crate::logs::{get_logs, LogLimits};
use crate::lookups::{self, block_at, block_with_hash, transaction_in_block};
use crate::params::{call_params, storage_slot, FlexibleU64};
use crate::resolve::{is_pending, state_height, tag_height};
use crate::shapes::{rpc_header, RpcBlock, RpcLog, RpcReceipt, RpcTransaction};

/// The client version string, "phalanx/v<crate version>/<os>-<arch>".
pub fn client_version() -> String {
    format!(
        "phalanx/v{}/{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Serves the Ethereum API from an [`EthBackend`].
#[derive(Clone)]
pub struct EthRpc {
    backend: Arc<dyn EthBackend>,
    log_limits: LogLimits,
}

impl std::fmt::Debug for EthRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthRpc").field("log_limits", &self.log_limits).finish_non_exhaustive()
    }
}

impl EthRpc {
    /// A handler over `backend` with the given log-query bounds.
    pub fn new(backend: Arc<dyn EthBackend>, log_limits: LogLimits) -> Self {
        Self { backend, log_limits }
    }

    fn backend(&self) -> &dyn EthBackend {
        self.backend.as_ref()
    }

    fn block_tx_count(block: Option<phalanx_core_types::Block>) -> Option<U64> {
        block.map(|b| U64::from(b.transactions.len()))
    }
}

#[async_trait]
impl EthApiServer for EthRpc {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.backend.chain_id()))
    }

    fn net_version(&self) -> RpcResult<String> {
        Ok(self.backend.chain_id().to_string())
    }

    fn net_listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn client_version(&self) -> RpcResult<String> {
        Ok(client_version())
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.backend.latest_height()))
    }

    fn block_by_number(
        &self,
        block: BlockNumberOrTag,
        full: Option<bool>,
    ) -> RpcResult<Option<RpcBlock>> {
        block_at(self.backend(), tag_height(self.backend(), block), full.unwrap_or(false))
    }

    fn block_by_hash(&self, hash: B256, full: Option<bool>) -> RpcResult<Option<RpcBlock>> {
        block_with_hash(self.backend(), &hash, full.unwrap_or(false))
    }

    fn block_tx_count_by_number(&self, block: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        let height = tag_height(self.backend(), block);
        Ok(Self::block_tx_count(self.backend.block_by_height(height).map_err(backend_error)?))
    }

    fn block_tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(Self::block_tx_count(self.backend.block_by_hash(&hash).map_err(backend_error)?))
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>> {
        lookups::transaction_by_hash(self.backend(), &hash)
    }

    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<RpcTransaction>> {
        match self.backend.block_by_hash(&hash).map_err(backend_error)? {
            Some(block) => transaction_in_block(&block, index.0 as u64),
            None => Ok(None),
        }
    }

    fn transaction_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<RpcTransaction>> {
        let height = tag_height(self.backend(), block);
        match self.backend.block_by_height(height).map_err(backend_error)? {
            Some(block) => transaction_in_block(&block, index.0 as u64),
            None => Ok(None),
        }
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>> {
        lookups::receipt_by_hash(self.backend(), &hash)
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>> {
        let height = match block {
            BlockId::Number(tag) => tag_height(self.backend(), tag),
            BlockId::Hash(hash) => {
                match self.backend.block_by_hash(&hash.block_hash).map_err(backend_error)? {
                    Some(block) => block.header.height,
                    None => return Ok(None),
                }
            }
        };
        lookups::block_receipts(self.backend(), height)
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        if is_pending(block.as_ref()) {
            return self.backend.pending_nonce(&address).map(U64::from).map_err(backend_error);
        }
        let state = self.state(block)?;
        let account = state.account(&address).map_err(|e| backend_error(e.into()))?;
        Ok(U64::from(account.map_or(0, |a| a.nonce)))
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let state = self.state(block)?;
        let account = state.account(&address).map_err(|e| backend_error(e.into()))?;
        Ok(account.map_or(U256::ZERO, |a| a.balance))
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let state = self.state(block)?;
        let account = state.account(&address).map_err(|e| backend_error(e.into()))?;
        match account {
            Some(a) if a.has_code() => {
                let code = state.code(&a.code_hash).map_err(|e| backend_error(e.into()))?;
                Ok(code.unwrap_or_default())
            }
            _ => Ok(Bytes::new()),
        }
    }

    fn storage_at(
        &self,
        address: Address,
        slot: JsonStorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        let state = self.state(block)?;
        let value =
            state.storage(&address, &storage_slot(&slot)).map_err(|e| backend_error(e.into()))?;
        Ok(B256::from(value))
    }

    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<serde_json::Value>,
    ) -> RpcResult<Bytes> {
        if state_overrides.is_some_and(|v| !v.is_null()) {
            return Err(invalid_params("state overrides are not supported"));
        }
        let params = call_params(request)?;
        let height = state_height(self.backend(), block)?;
        match self.backend.call(&params, height).map_err(backend_error)? {
            CallResult::Success { output, .. } => Ok(output),
            CallResult::Revert { output, .. } => Err(revert_error(&output)),
            CallResult::Halt { reason, .. } => Err(server_error(reason)),
        }
    }

    fn estimate_gas(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<U64> {
        let params = call_params(request)?;
        let height = state_height(self.backend(), block)?;
        match self.backend.estimate_gas(&params, height).map_err(backend_error)? {
            EstimateResult::Gas(gas) => Ok(U64::from(gas)),
            EstimateResult::Revert { output } => Err(revert_error(&output)),
            EstimateResult::Halt { reason } => Err(server_error(reason)),
        }
    }

    fn gas_price(&self) -> RpcResult<U256> {
        let latest = self.backend.latest_height();
        let base_fee = self
            .backend
            .block_by_height(latest)
            .map_err(backend_error)?
            .map_or(0, |b| b.header.base_fee_per_gas);
        let tip = self.backend.max_priority_fee_per_gas();
        Ok(U256::from(base_fee) + U256::from(tip))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(self.backend.max_priority_fee_per_gas()))
    }

    fn fee_history(
        &self,
        block_count: FlexibleU64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        fee_history(self.backend(), block_count.0, newest_block, reward_percentiles.as_deref())
    }

    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        if raw.is_empty() {
            return Err(invalid_params("empty transaction bytes"));
        }
        self.backend.send_raw_transaction(raw).map_err(backend_error)
    }

    fn logs(&self, filter: Filter) -> RpcResult<Vec<RpcLog>> {
        get_logs(self.backend(), &filter, self.log_limits)
    }

    fn txpool_status(&self) -> RpcResult<TxpoolStatus> {
        let status = self.backend.pool_status();
        Ok(TxpoolStatus { pending: U64::from(status.pending), queued: U64::from(status.queued) })
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult {
        if kind != "newHeads" {
            pending
                .reject(invalid_params(format!(
                    "unsupported subscription {kind:?}; only \"newHeads\" is served"
                )))
                .await;
            return Ok(());
        }
        if params.is_some_and(|p| !p.is_null()) {
            pending.reject(invalid_params("newHeads takes no parameters")).await;
            return Ok(());
        }
        let mut heads = self.backend.subscribe_new_heads();
        let sink = pending.accept().await?;
        loop {
            let header = tokio::select! {
                _ = sink.closed() => return Ok(()),
                received = heads.recv() => match received {
                    Ok(header) => header,
                    // A slow subscriber skips headers rather than stalling the node.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return Ok(()),
                },
            };
            let message = SubscriptionMessage::from_json(&rpc_header(&header))?;
            if sink.send(message).await.is_err() {
                return Ok(());
            }
        }
    }
}

impl EthRpc {
    /// The state view for a state query at `block` (default `latest`).
    fn state(&self, block: Option<BlockId>) -> RpcResult<Arc<dyn phalanx_core_types::StateView>> {
        let height = state_height(self.backend(), block)?;
        self.backend.state_at(height).map_err(backend_error)
    }
}

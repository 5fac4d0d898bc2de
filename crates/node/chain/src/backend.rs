//! The node's implementation of the RPC layer's [`EthBackend`].

use crate::chain::{Chain, ChainError};
use crate::producer::unix_seconds;
use alloy_primitives::{Address, Bytes, B256};
use phalanx_core_types::{Block, Header, RecoveredTx, StateView, TxReceipt};
use phalanx_execution_evm::{CallOutcome, EstimateError};
use phalanx_rpc_eth::{
    BackendError, CallRequest, CallResult, EstimateResult, EthBackend, PoolStatus,
};
use std::sync::Arc;
use tokio::sync::broadcast;

/// JSON-RPC error code geth uses for transaction-pool rejections.
const POOL_REJECTION_CODE: i32 = -32000;

/// Serves RPC requests from a [`Chain`].
#[derive(Debug, Clone)]
pub struct NodeBackend {
    chain: Arc<Chain>,
}

impl NodeBackend {
    /// A backend over `chain`.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain }
    }
}

fn internal(e: impl std::fmt::Display) -> BackendError {
    BackendError::Internal { message: e.to_string() }
}

impl NodeBackend {
    /// The state after block `height`: the store keeps every version of the
    /// state commitment, so historical heights are served too.
    fn snapshot(
        &self,
        height: u64,
    ) -> Result<phalanx_storage_rocksdb::StateSnapshot, BackendError> {
        self.chain.store().state_at(height).map_err(|e| match e {
            phalanx_storage_rocksdb::StoreError::StateUnavailable { height } => {
                BackendError::StateUnavailable { height }
            }
            other => internal(other),
        })
    }

    /// The environment for executing a call "in" block `height`: the block
    /// after it, as if the call were the next transaction.
    fn call_env(&self, height: u64) -> Result<phalanx_execution_evm::BlockEnv, BackendError> {
        let header = self
            .chain
            .store()
            .header_by_height(height)
            .map_err(internal)?
            .ok_or(BackendError::StateUnavailable { height })?;
        let mut env = self.chain.next_block_env(unix_seconds()).map_err(internal)?;
        env.height = height + 1;
        env.prev_randao = header.hash();
        env.timestamp = env.timestamp.max(header.timestamp);
        Ok(env)
    }
}

impl EthBackend for NodeBackend {
    fn chain_id(&self) -> u64 {
        self.chain.params().chain_id
    }

    fn latest_height(&self) -> u64 {
        self.chain.height()
    }

    fn block_by_height(&self, height: u64) -> Result<Option<Block>, BackendError> {
        self.chain.store().block_by_height(height).map_err(internal)
    }

    fn block_by_hash(&self, hash: &B256) -> Result<Option<Block>, BackendError> {
        self.chain.store().block_by_hash(hash).map_err(internal)
    }

    fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, BackendError> {
        self.chain.store().receipts(height).map_err(internal)
    }

    fn tx_location(&self, tx_hash: &B256) -> Result<Option<(u64, u32)>, BackendError> {
        self.chain.store().tx_location(tx_hash).map_err(internal)
    }

    fn pool_transaction(&self, tx_hash: &B256) -> Option<RecoveredTx> {
        self.chain.pool().get(tx_hash)
    }

    fn state_at(&self, height: u64) -> Result<Arc<dyn StateView>, BackendError> {
        Ok(Arc::new(self.snapshot(height)?))
    }

    fn pending_nonce(&self, address: &Address) -> Result<u64, BackendError> {
        self.chain.pending_nonce(address).map_err(internal)
    }

    fn call(&self, request: &CallRequest, height: u64) -> Result<CallResult, BackendError> {
        let env = self.call_env(height)?;
        let state = self.snapshot(height)?;
        let outcome = phalanx_execution_evm::call(state, &env, request)
            .map_err(|e| BackendError::InvalidRequest { message: e.to_string() })?;
        Ok(match outcome {
            CallOutcome::Success { output, gas_used, .. } => {
                CallResult::Success { output, gas_used }
            }
            CallOutcome::Revert { output, gas_used } => CallResult::Revert { output, gas_used },
            CallOutcome::Halt { reason, gas_used } => CallResult::Halt { reason, gas_used },
        })
    }

    fn estimate_gas(
        &self,
        request: &CallRequest,
        height: u64,
    ) -> Result<EstimateResult, BackendError> {
        let env = self.call_env(height)?;
        let state = self.snapshot(height)?;
        match phalanx_execution_evm::estimate_gas(state, &env, request) {
            Ok(gas) => Ok(EstimateResult::Gas(gas)),
            Err(EstimateError::Reverted { output }) => Ok(EstimateResult::Revert { output }),
            Err(EstimateError::Halted { reason }) => Ok(EstimateResult::Halt { reason }),
            Err(other) => Err(BackendError::InvalidRequest { message: other.to_string() }),
        }
    }

    fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, BackendError> {
        let state = self.chain.store().latest_state();
        self.chain.pool().add_raw(&raw, &state).map_err(|e| BackendError::Rejected {
            code: POOL_REJECTION_CODE,
            message: e.to_string(),
        })
    }

    fn pool_status(&self) -> PoolStatus {
        let s = self.chain.pool().status();
        PoolStatus { pending: s.pending as u64, queued: s.queued as u64 }
    }

    fn subscribe_new_heads(&self) -> broadcast::Receiver<Header> {
        self.chain.subscribe_heads()
    }

    fn max_priority_fee_per_gas(&self) -> u128 {
        0
    }
}

impl From<ChainError> for BackendError {
    fn from(e: ChainError) -> Self {
        internal(e)
    }
}

//! An in-memory [`EthBackend`]: blocks, receipts, a state view and a pool.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::{Address, Bytes, B256, U256};
use phalanx_core_types::{Account, Block, Header, RecoveredTx, StateError, StateView, TxReceipt};
use std::sync::Mutex;
use tokio::sync::broadcast;

use crate::backend::{
    BackendError, CallRequest, CallResult, EstimateResult, EthBackend, PoolStatus,
};

/// Calls to this address revert with `Error("boom")`.
pub const REVERTER: Address = Address::repeat_byte(0xee);
/// Calls to this address halt with "out of gas".
pub const HALTER: Address = Address::repeat_byte(0xdd);

/// In-memory state: accounts, storage and code.
#[derive(Debug, Default, Clone)]
pub struct MemState {
    pub accounts: HashMap<Address, Account>,
    pub storage: HashMap<(Address, U256), U256>,
    pub code: HashMap<B256, Bytes>,
}

impl StateView for MemState {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.accounts.get(address).copied())
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self.storage.get(&(*address, *slot)).copied().unwrap_or_default())
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.code.get(code_hash).cloned())
    }
    fn block_hash(&self, _height: u64) -> Result<Option<B256>, StateError> {
        Ok(None)
    }
}

/// The mock node. Blocks are indexed by height (`blocks[h]`).
#[derive(Debug)]
pub struct MockBackend {
    pub chain_id: u64,
    pub blocks: Vec<Block>,
    pub receipts: Vec<Vec<TxReceipt>>,
    pub state: Arc<MemState>,
    pub pool: HashMap<B256, RecoveredTx>,
    pub heads: broadcast::Sender<Header>,
    pub sent: Mutex<Vec<Bytes>>,
    pub tip: u128,
}

/// Revert data of `Error("boom")`.
pub fn boom_revert_data() -> Bytes {
    let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
    data.extend_from_slice(&U256::from(32).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(4).to_be_bytes::<32>());
    let mut word = [0u8; 32];
    word[..4].copy_from_slice(b"boom");
    data.extend_from_slice(&word);
    data.into()
}

impl MockBackend {
    /// A backend holding `blocks` (heights 0..n) with their `receipts`.
    pub fn new(blocks: Vec<Block>, receipts: Vec<Vec<TxReceipt>>, state: MemState) -> Self {
        assert_eq!(blocks.len(), receipts.len(), "one receipt list per block");
        assert!(!blocks.is_empty(), "a chain has at least a genesis block");
        for (h, b) in blocks.iter().enumerate() {
            assert_eq!(b.header.height, h as u64, "blocks are indexed by height");
        }
        let (heads, _) = broadcast::channel(16);
        Self {
            chain_id: 1337,
            blocks,
            receipts,
            state: Arc::new(state),
            pool: HashMap::new(),
            heads,
            sent: Mutex::new(Vec::new()),
            tip: 1_000_000_000,
        }
    }

    fn latest(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }
}

impl EthBackend for MockBackend {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }
    fn latest_height(&self) -> u64 {
        self.latest()
    }
    fn block_by_height(&self, height: u64) -> Result<Option<Block>, BackendError> {
        Ok(usize::try_from(height).ok().and_then(|h| self.blocks.get(h)).cloned())
    }
    fn block_by_hash(&self, hash: &B256) -> Result<Option<Block>, BackendError> {
        Ok(self.blocks.iter().find(|b| b.hash() == *hash).cloned())
    }
    fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, BackendError> {
        Ok(usize::try_from(height).ok().and_then(|h| self.receipts.get(h)).cloned())
    }
    fn tx_location(&self, tx_hash: &B256) -> Result<Option<(u64, u32)>, BackendError> {
        for block in &self.blocks {
            if let Some(i) = block.transactions.iter().position(|t| t.tx_hash() == tx_hash) {
                return Ok(Some((block.header.height, i as u32)));
            }
        }
        Ok(None)
    }
    fn pool_transaction(&self, tx_hash: &B256) -> Option<RecoveredTx> {
        self.pool.get(tx_hash).cloned()
    }
    fn state_at(&self, height: u64) -> Result<Arc<dyn StateView>, BackendError> {
        if height != self.latest() {
            return Err(BackendError::StateUnavailable { height });
        }
        Ok(self.state.clone())
    }
    fn pending_nonce(&self, address: &Address) -> Result<u64, BackendError> {
        let base = self.state.accounts.get(address).map_or(0, |a| a.nonce);
        let pooled = self.pool.values().filter(|t| t.sender == *address).count() as u64;
        Ok(base + pooled)
    }
    fn call(&self, request: &CallRequest, _height: u64) -> Result<CallResult, BackendError> {
        Ok(match request.to {
            Some(REVERTER) => CallResult::Revert { output: boom_revert_data(), gas_used: 100 },
            Some(HALTER) => CallResult::Halt { reason: "out of gas".into(), gas_used: 100 },
            _ => CallResult::Success { output: request.input.clone(), gas_used: 21_000 },
        })
    }
    fn estimate_gas(
        &self,
        request: &CallRequest,
        _height: u64,
    ) -> Result<EstimateResult, BackendError> {
        Ok(match request.to {
            Some(REVERTER) => EstimateResult::Revert { output: boom_revert_data() },
            Some(HALTER) => EstimateResult::Halt { reason: "out of gas".into() },
            _ => EstimateResult::Gas(21_000 + 16 * request.input.len() as u64),
        })
    }
    fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, BackendError> {
        let tx = phalanx_core_types::decode_transaction(&raw).map_err(|e| {
            BackendError::Rejected { code: -32000, message: format!("invalid transaction: {e}") }
        })?;
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).push(raw);
        Ok(*tx.tx_hash())
    }
    fn pool_status(&self) -> PoolStatus {
        PoolStatus { pending: self.pool.len() as u64, queued: 3 }
    }
    fn subscribe_new_heads(&self) -> broadcast::Receiver<Header> {
        self.heads.subscribe()
    }
    fn max_priority_fee_per_gas(&self) -> u128 {
        self.tip
    }
}

//! The chain service: one node's storage, executor and pool, and the two
//! operations a block producer (or, later, consensus) drives: build a block
//! from the pool, and commit it.

use crate::config::NodeConfig;
use crate::selection::SelectionBudget;
use crate::speculative::{BlockSpec, SpecTree};
use alloy_primitives::{Address, B256};
use parking_lot::Mutex;
use phalanx_core_types::{Genesis, Header};
use phalanx_execution_evm::{BlockEnv, ExecError};
use phalanx_node_txpool::{PoolConfig, TxPool};
use phalanx_storage_rocksdb::{Store, StoreError, StoreOptions};
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many headers a slow `newHeads` subscriber may lag before it misses some.
const HEAD_SUBSCRIBERS_BUFFER: usize = 1024;

/// Why the chain service failed. Operating errors, reported to the caller.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Storage failed (I/O, corruption, or a broken commit invariant).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading state failed.
    #[error(transparent)]
    State(#[from] phalanx_core_types::StateError),
    /// The executor failed for a reason other than an invalid transaction.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A block's parent is neither the committed head nor a known
    /// uncommitted block descending from it.
    #[error(
        "parent {hash} is not the committed head (height {head}) nor an executed block above it"
    )]
    UnknownParent {
        /// The parent asked for.
        hash: B256,
        /// The committed head's height.
        head: u64,
    },
    /// Too many executed, uncommitted blocks: commits have stalled.
    #[error("{blocks_max} executed blocks are waiting to commit; refusing to execute more")]
    SpecTreeFull {
        /// The bound that was reached.
        blocks_max: usize,
    },
    /// A block handed to commit does not extend the head, or its execution
    /// results differ from what committing them produces (a bug: assertions
    /// catch it before anything is written).
    #[error("cannot commit block {height}: {reason}")]
    Commit {
        /// The block's height.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// The block producer (for example the consensus driver) failed: it
    /// could not start, lost its execution worker, or met a broken invariant
    /// (a committed block that was never executed here). Fatal for the node.
    #[error("block producer failed: {reason}")]
    Producer {
        /// What failed.
        reason: String,
    },
    /// The genesis file could not be read or is invalid.
    #[error("genesis {path}: {reason}")]
    Genesis {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parameters fixed per chain (from genesis) plus this node's producer limits.
#[derive(Debug, Clone)]
pub struct ChainParams {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Block gas limit from genesis.
    pub gas_limit: u64,
    /// Constant base fee from genesis.
    pub base_fee_per_gas: u64,
    /// This node's coinbase.
    pub proposer: Address,
    /// Most transactions per block.
    pub block_txs_max: usize,
    /// Most gas per block (≤ `gas_limit`).
    pub block_gas_max: u64,
    /// How blocks are executed in parallel (leader and validator paths).
    pub parallel: phalanx_execution_parallel::ParallelConfig,
}

/// What one call to [`Chain::produce_block`] did.
#[derive(Debug, Clone)]
pub struct ProducedBlock {
    /// The committed block's header.
    pub header: Header,
    /// Transactions included.
    pub tx_count: usize,
    /// Pool transactions the executor rejected as invalid (dropped from the pool).
    pub rejected: usize,
}

/// One node's chain: committed storage, the pool and head notifications.
#[derive(Debug)]
pub struct Chain {
    pub(crate) store: Store,
    pub(crate) pool: Arc<TxPool>,
    pub(crate) params: ChainParams,
    pub(crate) heads: broadcast::Sender<Header>,
    /// Serialises block building and committing: one block at a time.
    produce_lock: Mutex<()>,
    /// How much [`Chain::produce_block`] takes from the pool.
    selection: SelectionBudget,
}

impl Chain {
    /// Opens (or creates) the node's database, initialises genesis on first
    /// start (and checks it matches on later starts), and builds the pool.
    pub fn open(config: &NodeConfig) -> Result<Arc<Self>, ChainError> {
        let genesis = load_genesis(&config.genesis)?;
        let store = Store::open(&config.data_dir, StoreOptions::default())?;
        store.init_genesis(&genesis)?;
        let block_gas_max =
            config.producer.block_gas_max.unwrap_or(genesis.gas_limit).min(genesis.gas_limit);
        let params = ChainParams {
            chain_id: genesis.chain_id,
            gas_limit: genesis.gas_limit,
            base_fee_per_gas: genesis.base_fee_per_gas,
            proposer: config.proposer,
            block_txs_max: config.producer.block_txs_max,
            block_gas_max,
            parallel: config.execution.parallel_config(),
        };
        let pool = Arc::new(TxPool::new(pool_config(config, &genesis)));
        let (heads, _) = broadcast::channel(HEAD_SUBSCRIBERS_BUFFER);
        let head = store.head().expect("genesis was just initialised");
        tracing::info!(height = head.height, hash = %head.hash, "chain opened");
        let (produce_lock, selection) = (Mutex::new(()), SelectionBudget::default());
        Ok(Arc::new(Self { store, pool, params, heads, produce_lock, selection }))
    }

    /// The committed store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The transaction pool.
    pub fn pool(&self) -> &Arc<TxPool> {
        &self.pool
    }

    /// Chain parameters.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// A receiver of every header committed from now on.
    pub fn subscribe_heads(&self) -> broadcast::Receiver<Header> {
        self.heads.subscribe()
    }

    /// The environment of the block that would follow the current head.
    pub fn next_block_env(&self, timestamp: u64) -> Result<BlockEnv, ChainError> {
        let head = self.store.head().expect("a chain always has genesis");
        let parent = self.store.header_by_height(head.height)?.ok_or(StoreError::Corrupt {
            cf: "blocks",
            key: head.height.to_string(),
            reason: "head block missing".into(),
        })?;
        Ok(BlockEnv {
            height: head.height + 1,
            timestamp: timestamp.max(parent.timestamp),
            proposer: self.params.proposer,
            gas_limit: self.params.gas_limit,
            base_fee_per_gas: self.params.base_fee_per_gas,
            prev_randao: head.hash,
            chain_id: self.params.chain_id,
        })
    }

    /// Builds a block from the pool on top of the head, executes it, commits
    /// it atomically with its state, then updates the pool and notifies
    /// subscribers. Commits are reported (notifications, receipts visible)
    /// only after the block is durably written.
    pub fn produce_block(&self, timestamp: u64) -> Result<ProducedBlock, ChainError> {
        let _guard = self.produce_lock.lock();
        let head = self.store.head().expect("a chain always has genesis");
        let candidates = self.pool.best(self.params.block_txs_max, self.selection_gas_limits());
        let spec = BlockSpec {
            parent_hash: head.hash,
            view: 0,
            proposer: self.params.proposer,
            timestamp,
        };
        let executed = self.build_block(&SpecTree::new(), spec, candidates)?;
        for hash in &executed.rejected {
            self.pool.remove_invalid(hash);
        }
        let limits = executed.included.iter().map(|tx| tx.gas_limit()).sum();
        self.selection.observe(executed.block.header.gas_used, limits);
        let rejected = executed.rejected.len();
        let tx_count = executed.included.len();
        let header = executed.block.header.clone();
        self.commit_executed(executed, None)?;
        Ok(ProducedBlock { header, tx_count, rejected })
    }

    /// The total gas limit of the candidates [`Chain::produce_block`] takes
    /// from the pool. With the block's gas at the genesis limit (the
    /// default), the executor bounds what the block uses, so the selection
    /// scales with how much of their limits recent transactions used (see
    /// `selection.rs`). A configured lower `block_gas_max` is not known to
    /// the executor: the selection then stays at `block_gas_max` in limits,
    /// which bounds the gas used too.
    fn selection_gas_limits(&self) -> u64 {
        let block_gas = self.params.block_gas_max;
        if block_gas < self.params.gas_limit {
            return block_gas;
        }
        self.selection.gas_limits_max(block_gas)
    }

    /// The latest committed height.
    pub fn height(&self) -> u64 {
        self.store.head().map_or(0, |h| h.height)
    }

    /// The next nonce for `address` counting pooled transactions.
    pub fn pending_nonce(&self, address: &Address) -> Result<u64, ChainError> {
        let state = self.store.latest_state();
        let nonce = state.account(address)?.map_or(0, |a| a.nonce);
        Ok(self.pool.pending_nonce(address, nonce))
    }

    /// The hash of the current head.
    pub fn head_hash(&self) -> B256 {
        self.store.head().map_or(B256::ZERO, |h| h.hash)
    }
}

fn load_genesis(path: &std::path::Path) -> Result<Genesis, ChainError> {
    let err = |reason: String| ChainError::Genesis { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    Genesis::from_json(&text).map_err(|e| err(e.to_string()))
}

fn pool_config(config: &NodeConfig, genesis: &Genesis) -> PoolConfig {
    PoolConfig {
        chain_id: genesis.chain_id,
        block_gas_limit: genesis.gas_limit,
        base_fee_per_gas: genesis.base_fee_per_gas,
        nonce_window: config.pool.nonce_window,
        pool_txs_max: config.pool.pool_txs_max,
        sender_txs_max: config.pool.sender_txs_max,
        tx_bytes_max: config.pool.tx_bytes_max,
        accept_unprotected: false,
    }
}

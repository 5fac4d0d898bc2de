//! Node configuration (TOML). Every field has a documented default so that a
//! config file only needs what differs.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How the single-node block producer paces blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerConfig {
    /// Interval between block-production attempts while transactions are pending. Default 250.
    pub block_interval_ms: u64,
    /// With an empty pool, an empty block is still produced this often so that
    /// clients see the chain advance. Default 1000.
    pub idle_block_interval_ms: u64,
    /// Most transactions in one block. Default 10_000.
    pub block_txs_max: usize,
    /// Most gas in one block; capped at the genesis gas limit. Default: the genesis gas limit.
    pub block_gas_max: Option<u64>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            block_interval_ms: 250,
            idle_block_interval_ms: 1000,
            block_txs_max: 10_000,
            block_gas_max: None,
        }
    }
}

/// Mempool limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolSettings {
    /// How far ahead of its state nonce a sender may queue transactions. Default 4096 (at least 1024).
    pub nonce_window: u64,
    /// Most transactions in the pool. Default 200_000.
    pub pool_txs_max: usize,
    /// Most transactions per sender. Default 8192.
    pub sender_txs_max: usize,
    /// Largest accepted raw transaction. Default 131_072 (128 KiB).
    pub tx_bytes_max: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            nonce_window: 4096,
            pool_txs_max: 200_000,
            sender_txs_max: 8192,
            tx_bytes_max: 131_072,
        }
    }
}

/// How this node executes blocks (`[execution]`).
///
/// Whatever these say, a block's result equals serial execution of its
/// transactions in block order: they only decide how fast that result is
/// reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutionSettings {
    /// Worker threads of the parallel executors; 0 means one per available
    /// core. Default 0.
    pub threads: usize,
    /// Blocks with fewer transactions run serially (leader and validator;
    /// a validator still judges the schedule). Default `phalanx_execution_parallel::DEFAULT_MIN_TXS_PARALLEL`.
    pub min_txs_parallel: usize,
    /// Blocks whose known dependencies (static prediction on the leader, the
    /// published graph on a validator) bound the speedup below this percent
    /// of serial speed run serially; 0 never does. Default
    /// `phalanx_execution_parallel::SEQUENTIAL_BOUND_PERCENT`.
    pub sequential_bound_percent: u32,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        Self {
            threads: 0,
            min_txs_parallel: phalanx_execution_parallel::DEFAULT_MIN_TXS_PARALLEL,
            sequential_bound_percent: phalanx_execution_parallel::SEQUENTIAL_BOUND_PERCENT,
        }
    }
}

impl ExecutionSettings {
    /// The executor configuration these settings describe.
    pub fn parallel_config(&self) -> phalanx_execution_parallel::ParallelConfig {
        let mut config = phalanx_execution_parallel::ParallelConfig::default();
        if self.threads > 0 {
            config.threads = self.threads;
        }
        config.min_txs_parallel = self.min_txs_parallel;
        config.sequential_bound_percent = self.sequential_bound_percent;
        config
    }
}

/// How a validator takes part in consensus (multi-validator chains).
///
/// Peers are listed in genesis validator order: `peers[i]` is where validator
/// `i` (the `i`-th entry of the genesis `validators`) listens, this node's own
/// entry included. Validator addresses come only from here, never from code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusSettings {
    /// File holding this validator's ed25519 consensus secret key (hex, as
    /// written by `phalanx keygen`). Its public key must be in genesis.
    /// Relative paths are relative to the config file. Required.
    pub key_file: PathBuf,
    /// Where to listen for other validators. Required.
    pub listen: std::net::SocketAddr,
    /// Every validator's address, in genesis order. Required.
    pub peers: Vec<std::net::SocketAddr>,
    /// First view timeout; doubles on consecutive timeouts. Every view's
    /// timeout also allows twice the mean of this node's latest eight
    /// block builds and executions (execute-then-vote), up to
    /// `max_timeout_ms`. Default 1000.
    #[serde(default = "default_base_timeout_ms")]
    pub base_timeout_ms: u64,
    /// Cap on the view timeout. Default 30_000.
    #[serde(default = "default_max_timeout_ms")]
    pub max_timeout_ms: u64,
    /// How often this node seals its pooled transactions into a batch and
    /// disseminates it (consensus on hashes). Default 50.
    #[serde(default = "default_batch_interval_ms")]
    pub batch_interval_ms: u64,
    /// Most transactions in one batch. Default 2000.
    #[serde(default = "default_batch_txs_max")]
    pub batch_txs_max: usize,
    /// Largest network frame accepted from a peer. Default 16 MiB.
    #[serde(default = "default_frame_bytes_max")]
    pub frame_bytes_max: u32,
}

fn default_base_timeout_ms() -> u64 {
    1000
}
fn default_max_timeout_ms() -> u64 {
    30_000
}
fn default_batch_interval_ms() -> u64 {
    50
}
fn default_batch_txs_max() -> usize {
    2000
}
fn default_frame_bytes_max() -> u32 {
    16 << 20
}

/// Most execution worker threads a config may ask for.
const EXECUTION_THREADS_MAX: usize = 256;

/// Configuration of one node (`phalanx node --config node.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Directory of the node's RocksDB database. Required.
    pub data_dir: PathBuf,
    /// Path of the genesis JSON (relative paths are relative to the config file). Required.
    pub genesis: PathBuf,
    /// This node's validator address: the `COINBASE` of the blocks it proposes. Required.
    pub proposer: Address,
    /// Block production pacing.
    #[serde(default)]
    pub producer: ProducerConfig,
    /// Mempool limits.
    #[serde(default)]
    pub pool: PoolSettings,
    /// Block execution (parallelism).
    #[serde(default)]
    pub execution: ExecutionSettings,
    /// JSON-RPC server.
    #[serde(default)]
    pub rpc: phalanx_rpc_eth::RpcConfig,
    /// Consensus participation; absent on a single-validator chain, where
    /// the node produces blocks alone (`[producer]`).
    #[serde(default)]
    pub consensus: Option<ConsensusSettings>,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown/missing fields.
    #[error("config {path} is invalid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the field).
        source: toml::de::Error,
    },
    /// A value is out of range.
    #[error("config field `{field}` is invalid: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What to fix.
        reason: String,
    },
}

impl NodeConfig {
    /// Loads a TOML config; relative `data_dir`/`genesis` paths are resolved
    /// against the config file's directory.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config: NodeConfig = toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.to_owned(), source })?;
        let base = path.parent().unwrap_or(std::path::Path::new("."));
        if config.data_dir.is_relative() {
            config.data_dir = base.join(&config.data_dir);
        }
        if config.genesis.is_relative() {
            config.genesis = base.join(&config.genesis);
        }
        if let Some(consensus) = config.consensus.as_mut() {
            if consensus.key_file.is_relative() {
                consensus.key_file = base.join(&consensus.key_file);
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges the node cannot run without.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |field, reason: &str| Err(ConfigError::Invalid { field, reason: reason.into() });
        if self.pool.nonce_window < 1024 {
            return invalid("pool.nonce_window", "must be at least 1024");
        }
        if self.producer.block_interval_ms == 0 {
            return invalid("producer.block_interval_ms", "must be positive");
        }
        if self.producer.block_txs_max == 0 {
            return invalid("producer.block_txs_max", "must be positive");
        }
        if self.execution.threads > EXECUTION_THREADS_MAX {
            return invalid("execution.threads", "must be at most 256 (0 = one per core)");
        }
        if let Some(c) = &self.consensus {
            if c.peers.is_empty() {
                return invalid("consensus.peers", "must list every validator, in genesis order");
            }
            if c.base_timeout_ms == 0 || c.max_timeout_ms < c.base_timeout_ms {
                return invalid(
                    "consensus.base_timeout_ms",
                    "must be positive and at most max_timeout_ms",
                );
            }
            if c.batch_interval_ms == 0 || c.batch_txs_max == 0 {
                return invalid(
                    "consensus.batch_interval_ms",
                    "batch interval and size must be positive",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_config_loads_with_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../docs/node.example.toml");
        let config = NodeConfig::load(&path).expect("docs/node.example.toml must stay valid");
        assert_eq!(config.producer, ProducerConfig::default());
        assert_eq!(config.pool, PoolSettings::default());
        assert_eq!(config.execution, ExecutionSettings::default());
        assert_eq!(config.rpc.addr, phalanx_rpc_eth::RpcConfig::default().addr);
    }

    #[test]
    fn documented_consensus_section_parses_with_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../docs/node.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let section: Vec<&str> = text
            .lines()
            .skip_while(|line| *line != "# [consensus]")
            .skip(1)
            .map(|line| line.strip_prefix("# ").expect("the section is commented out"))
            .collect();
        let settings: ConsensusSettings = toml::from_str(&section.join("\n")).unwrap();
        assert_eq!(settings.base_timeout_ms, default_base_timeout_ms());
        assert_eq!(settings.max_timeout_ms, default_max_timeout_ms());
        assert_eq!(settings.batch_interval_ms, default_batch_interval_ms());
        assert_eq!(settings.batch_txs_max, default_batch_txs_max());
        assert_eq!(settings.frame_bytes_max, default_frame_bytes_max());
        assert_eq!(settings.peers.len(), 4);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "data_dir = \"d\"\ngenesis = \"g\"\nproposer = \"0x00000000000000000000000000000000000000aa\"\nblock_intervl_ms = 5\n").unwrap();
        assert!(matches!(NodeConfig::load(&path), Err(ConfigError::Parse { .. })));
    }

    #[test]
    fn small_nonce_window_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "data_dir = \"d\"\ngenesis = \"g\"\nproposer = \"0x00000000000000000000000000000000000000aa\"\n[pool]\nnonce_window = 10\n").unwrap();
        assert!(matches!(
            NodeConfig::load(&path),
            Err(ConfigError::Invalid { field: "pool.nonce_window", .. })
        ));
    }
}

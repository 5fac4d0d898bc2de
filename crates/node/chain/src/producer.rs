//! Block production on a single node.
//!
//! **API boundary:** the node's run loop only knows the [`BlockProducer`]
//! trait. The single-node [`SoloProducer`] commits whatever it builds; the
//! consensus issue replaces it with replicas that propose, re-execute and vote
//! before [`Chain`] commits, without touching storage, execution or RPC.

use crate::chain::{Chain, ChainError};
use crate::config::ProducerConfig;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Decides when blocks are built and committed. Implementations run until
/// `shutdown` turns true, and return the first unrecoverable error.
pub trait BlockProducer: Send + 'static {
    /// Drives block production for `chain`.
    fn run(
        self: Box<Self>,
        chain: Arc<Chain>,
        shutdown: watch::Receiver<bool>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ChainError>> + Send>>;
}

/// A single node that is its own proposer: every `block_interval_ms` it
/// builds a block if transactions are pending, and an empty block at least
/// every `idle_block_interval_ms`.
#[derive(Debug, Clone)]
pub struct SoloProducer {
    config: ProducerConfig,
}

impl SoloProducer {
    /// A producer pacing blocks as `config` says.
    pub fn new(config: ProducerConfig) -> Self {
        Self { config }
    }
}

/// Seconds since the Unix epoch (the EVM's `TIMESTAMP` unit).
pub fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl BlockProducer for SoloProducer {
    fn run(
        self: Box<Self>,
        chain: Arc<Chain>,
        mut shutdown: watch::Receiver<bool>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ChainError>> + Send>> {
        Box::pin(async move {
            let tick = Duration::from_millis(self.config.block_interval_ms);
            let idle = Duration::from_millis(self.config.idle_block_interval_ms);
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_block = Instant::now();
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            return Ok(());
                        }
                    }
                }
                let pending = chain.pool().status().pending;
                if pending == 0 && last_block.elapsed() < idle {
                    continue;
                }
                let chain2 = Arc::clone(&chain);
                // Execution and the synced RocksDB write are blocking work.
                let produced =
                    tokio::task::spawn_blocking(move || chain2.produce_block(unix_seconds()))
                        .await
                        .expect("block production task panicked")?;
                last_block = Instant::now();
                tracing::debug!(
                    height = produced.header.height,
                    txs = produced.tx_count,
                    rejected = produced.rejected,
                    "block committed"
                );
            }
        })
    }
}

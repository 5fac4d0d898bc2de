//! The Phalanx node: wires storage, execution, the pool, block production
//! and the RPC backend together.
//!
//! - [`Chain`] owns the committed store and the pool and can build and commit
//!   a block ([`Chain::produce_block`]).
//! - [`BlockProducer`] decides when that happens; [`SoloProducer`] is the
//!   single-node implementation that consensus will replace.
//! - [`NodeBackend`] implements the RPC crate's `EthBackend` over a [`Chain`].
//! - [`run_node`] starts everything and runs until shutdown.

mod backend;
mod chain;
mod config;
mod producer;
mod run;

pub use backend::NodeBackend;
pub use chain::{Chain, ChainError, ChainParams, ProducedBlock};
pub use config::{ConfigError, NodeConfig, PoolSettings, ProducerConfig};
pub use producer::{unix_seconds, BlockProducer, SoloProducer};
pub use run::{run_node, NodeHandle, RunError};

#[cfg(test)]
mod tests;

//! The Phalanx node: wires storage, execution, the pool, block production
//! and the RPC backend together.
//!
//! - [`Chain`] owns the committed store and the pool and can build and commit
//!   a block ([`Chain::produce_block`]); consensus uses the two halves apart:
//!   [`Chain::build_block`] on any parent (the head or an executed,
//!   uncommitted block in a [`SpecTree`]) and [`Chain::commit_executed`].
//! - [`BlockProducer`] decides when that happens; [`SoloProducer`] is the
//!   single-node implementation that consensus will replace.
//! - [`NodeBackend`] implements the RPC crate's `EthBackend` over a [`Chain`].
//! - [`run_node`] starts everything and runs until shutdown.

mod backend;
mod build;
mod chain;
mod config;
mod producer;
mod run;
mod selection;
mod speculative;

pub use backend::NodeBackend;
pub use chain::{Chain, ChainError, ChainParams, ProducedBlock};
pub use config::{
    ConfigError, ConsensusSettings, ExecutionSettings, NodeConfig, PoolSettings, ProducerConfig,
};
pub use producer::{unix_seconds, BlockProducer, SoloProducer};
pub use run::{run_node, run_node_with, NodeHandle, RunError};
pub use speculative::{BlockSpec, ExecutedBlock, SpecTree, SPEC_BLOCKS_MAX};

#[cfg(test)]
mod parallel_tests;
#[cfg(test)]
mod tests;

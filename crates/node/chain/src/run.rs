//! Starting and stopping a whole node.

use crate::backend::NodeBackend;
use crate::chain::{Chain, ChainError};
use crate::config::NodeConfig;
use crate::producer::{BlockProducer, SoloProducer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The chain could not be opened or production failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The block producer (e.g. consensus) could not start.
    #[error("cannot start block production: {reason}")]
    Producer {
        /// What went wrong and what to do.
        reason: String,
    },
    /// The RPC server could not start (e.g. the port is taken).
    #[error("cannot start JSON-RPC on {addr}: {reason} (is another node running? choose another port with [rpc] addr)")]
    Rpc {
        /// The configured address.
        addr: SocketAddr,
        /// The server's message.
        reason: String,
    },
}

/// A running node.
#[derive(Debug)]
pub struct NodeHandle {
    /// The chain service.
    pub chain: Arc<Chain>,
    /// Where JSON-RPC listens (HTTP and WebSocket on one port).
    pub rpc_addr: SocketAddr,
    rpc: phalanx_rpc_eth::RpcServerHandle,
    shutdown: watch::Sender<bool>,
    /// `None` once awaited.
    producer: Option<JoinHandle<Result<(), ChainError>>>,
}

/// Opens the chain, starts JSON-RPC and the single-node block producer.
pub async fn run_node(config: NodeConfig) -> Result<NodeHandle, RunError> {
    let producer = Box::new(SoloProducer::new(config.producer.clone()));
    run_node_with(config, |_chain| Ok(producer)).await
}

/// Opens the chain, starts JSON-RPC and the block producer `make_producer`
/// builds for the opened chain (consensus replicas plug in here).
pub async fn run_node_with(
    config: NodeConfig,
    make_producer: impl FnOnce(&Arc<Chain>) -> Result<Box<dyn BlockProducer>, RunError>,
) -> Result<NodeHandle, RunError> {
    let chain = Chain::open(&config)?;
    let producer = make_producer(&chain)?;
    let backend = Arc::new(NodeBackend::new(Arc::clone(&chain)));
    let rpc = phalanx_rpc_eth::start_server(config.rpc.clone(), backend)
        .await
        .map_err(|e| RunError::Rpc { addr: config.rpc.addr, reason: e.to_string() })?;
    let rpc_addr = rpc.local_addr();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let producer = tokio::spawn(producer.run(Arc::clone(&chain), shutdown_rx));
    Ok(NodeHandle { chain, rpc_addr, rpc, shutdown, producer: Some(producer) })
}

impl NodeHandle {
    /// Waits until the producer stops: returns its error, if any.
    /// Returns at once if it already stopped.
    pub async fn wait(&mut self) -> Result<(), RunError> {
        match self.producer.as_mut() {
            Some(task) => {
                let result = task.await.expect("producer task panicked");
                self.producer = None;
                result.map_err(RunError::from)
            }
            None => Ok(()),
        }
    }

    /// Stops block production and the RPC server; committed blocks are durable already.
    pub async fn stop(self) -> Result<(), RunError> {
        let _ = self.shutdown.send(true);
        let result = match self.producer {
            Some(task) => task.await.expect("producer task panicked"),
            None => Ok(()),
        };
        // An error here only means the server had already stopped.
        let _ = self.rpc.stop();
        result.map_err(RunError::from)
    }
}

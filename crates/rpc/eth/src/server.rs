//! Starting and stopping the HTTP + WebSocket server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jsonrpsee::server::{BatchRequestConfig, Server, ServerHandle};
use jsonrpsee::RpcModule;

use crate::api::EthApiServer;
use crate::backend::EthBackend;
use crate::config::RpcConfig;
use crate::error::RpcError;
use crate::handler::EthRpc;
use crate::logs::LogLimits;

/// A running server. Dropping the handle does not stop the server; call
/// [`RpcServerHandle::stop`].
#[derive(Debug, Clone)]
pub struct RpcServerHandle {
    local_addr: SocketAddr,
    handle: ServerHandle,
    /// Set by the first [`RpcServerHandle::stop`], shared by clones, so that
    /// a second stop reports [`RpcError::AlreadyStopped`] deterministically.
    stop_requested: Arc<AtomicBool>,
}

impl RpcServerHandle {
    /// The address the server listens on (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Asks the server to stop accepting connections and finish; returns at
    /// once (await [`RpcServerHandle::stopped`] to wait). Errors if a stop was
    /// already requested through this handle or a clone.
    pub fn stop(&self) -> Result<(), RpcError> {
        if self.stop_requested.swap(true, Ordering::SeqCst) {
            return Err(RpcError::AlreadyStopped);
        }
        self.handle.stop().map_err(|_| RpcError::AlreadyStopped)
    }

    /// Waits until the server has stopped.
    pub async fn stopped(self) {
        self.handle.stopped().await
    }

    /// Whether the server has stopped.
    pub fn is_stopped(&self) -> bool {
        self.handle.is_stopped()
    }
}

/// The full method table over `backend`, for embedding in another server or
/// calling in-process (tests).
pub fn rpc_module(config: &RpcConfig, backend: Arc<dyn EthBackend>) -> RpcModule<EthRpc> {
    let limits =
        LogLimits { block_range_max: config.logs_block_range_max, logs_max: config.logs_max };
    EthRpc::new(backend, limits).into_rpc()
}

/// Subscription ids in geth's shape: `0x` and 32 hex digits. Ethereum
/// clients expect a string (web3.py rejects jsonrpsee's default integer ids).
#[derive(Debug, Clone, Copy)]
pub struct HexIdProvider;

impl jsonrpsee::core::traits::IdProvider for HexIdProvider {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        jsonrpsee::types::SubscriptionId::Str(format!("0x{:032x}", rand::random::<u128>()).into())
    }
}

/// Binds `config.addr` and serves HTTP and WebSocket JSON-RPC on it until stopped.
/// Must be called within a tokio runtime.
pub async fn start_server(
    config: RpcConfig,
    backend: Arc<dyn EthBackend>,
) -> Result<RpcServerHandle, RpcError> {
    let bind_error = |source| RpcError::Bind { addr: config.addr, source };
    let server = Server::builder()
        .max_connections(config.max_connections)
        .max_request_body_size(config.max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        .set_batch_request_config(BatchRequestConfig::Limit(config.batch_requests_max))
        .set_id_provider(HexIdProvider)
        .build(config.addr)
        .await
        .map_err(bind_error)?;
    let local_addr = server.local_addr().map_err(bind_error)?;
    let handle = server.start(rpc_module(&config, backend));
    tracing::info!(%local_addr, "JSON-RPC server listening (HTTP and WebSocket)");
    Ok(RpcServerHandle { local_addr, handle, stop_requested: Arc::new(AtomicBool::new(false)) })
}

#[cfg(test)]
mod id_tests {
    use super::HexIdProvider;
    use jsonrpsee::core::traits::IdProvider;
    use jsonrpsee::types::SubscriptionId;

    #[test]
    fn subscription_ids_are_geth_style_hex_strings() {
        let SubscriptionId::Str(id) = HexIdProvider.next_id() else {
            panic!("ids must be strings")
        };
        assert_eq!(id.len(), 34);
        assert!(id.starts_with("0x") && id[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(HexIdProvider.next_id(), HexIdProvider.next_id());
    }
}

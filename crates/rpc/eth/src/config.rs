//! Server configuration (the node's TOML section `[rpc]`).

use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

/// Configuration of the JSON-RPC server. One port serves HTTP and WebSocket.
/// Every field has a default, so a partial `[rpc]` section is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// Listening address; loopback by default so that a node is not exposed
    /// unless its operator asks for it.
    pub addr: SocketAddr,
    /// Maximum simultaneous connections (HTTP and WebSocket together).
    pub max_connections: u32,
    /// Maximum size of one request body in bytes.
    pub max_request_body_bytes: u32,
    /// Maximum size of one response body in bytes.
    pub max_response_body_bytes: u32,
    /// Maximum number of calls in one JSON-RPC batch.
    pub batch_requests_max: u32,
    /// Maximum number of blocks one `eth_getLogs` query may span.
    pub logs_block_range_max: u64,
    /// Maximum number of logs one `eth_getLogs` query may return.
    pub logs_max: usize,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 8545)),
            max_connections: 100,
            max_request_body_bytes: 10 * 1024 * 1024,
            max_response_body_bytes: 10 * 1024 * 1024,
            batch_requests_max: 100,
            logs_block_range_max: 10_000,
            logs_max: 20_000,
        }
    }
}

/// Maximum `blockCount` of `eth_feeHistory` (larger requests are capped, as geth does).
pub const FEE_HISTORY_BLOCKS_MAX: u64 = 1024;

/// Maximum number of reward percentiles in one `eth_feeHistory` request.
pub const FEE_HISTORY_PERCENTILES_MAX: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_section_fills_defaults() {
        let config: RpcConfig = serde_json::from_str(r#"{"addr":"0.0.0.0:9000"}"#).unwrap();
        assert_eq!(config.addr.port(), 9000);
        assert_eq!(config.logs_max, RpcConfig::default().logs_max);
        assert!(RpcConfig::default().addr.ip().is_loopback());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<RpcConfig>(r#"{"adr":"0.0.0.0:9000"}"#).is_err());
    }
}

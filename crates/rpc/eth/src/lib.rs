//! Phalanx's Ethereum JSON-RPC server (HTTP and WebSocket on one port, over
//! jsonrpsee), so that standard Ethereum tools work unchanged.
//!
//! **API boundary:** the node plugs in through [`EthBackend`]; this crate
//! knows nothing of the executor, the pool or storage. Start the server with
//! [`start_server`].

mod api;
mod backend;
mod config;
mod error;
mod fees;
mod handler;
mod logs;
mod lookups;
mod params;
mod resolve;
mod server;
mod shapes;

#[cfg(test)]
mod tests;

pub use api::{EthApiServer, TxpoolStatus};
pub use backend::{BackendError, CallRequest, CallResult, EstimateResult, EthBackend, PoolStatus};
pub use config::{RpcConfig, FEE_HISTORY_BLOCKS_MAX, FEE_HISTORY_PERCENTILES_MAX};
pub use error::{
    decode_revert_reason, RpcError, INTERNAL_ERROR_CODE, INVALID_PARAMS_CODE, LIMIT_EXCEEDED_CODE,
    REVERT_CODE, SERVER_ERROR_CODE,
};
pub use fees::FeeHistory;
pub use handler::{client_version, EthRpc};
pub use logs::LogLimits;
pub use server::{rpc_module, start_server, RpcServerHandle};
pub use shapes::{BlockTransactions, RpcBlock, RpcHeader, RpcLog, RpcReceipt, RpcTransaction};

//! The JSON shapes served to clients, in Ethereum's format (geth's field
//! names, hex quantities) so that standard tools parse them unchanged.
//!
//! Each shape is built from core types by a pure function; nothing here
//! touches the backend.

mod block;
mod receipt;
mod transaction;

pub use block::{rpc_block, rpc_header, BlockTransactions, RpcBlock, RpcHeader};
pub use receipt::{rpc_logs, rpc_receipt, LogContext, RpcLog, RpcReceipt};
pub use transaction::{rpc_transaction, RpcTransaction, TxContext};

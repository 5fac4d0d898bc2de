//! Phalanx's load generator and contract artifacts.
//!
//! Talks to a node only over standard Ethereum JSON-RPC (HTTP), so it drives
//! any Ethereum node. Used by `phalanx devnet --load …` and the benchmarks.
//!
//! - [`artifacts`]: the committed compiled contracts and ERC-20 bindings.
//! - [`dev_accounts`]: deterministic development accounts a devnet prefunds.
//! - [`run`]: a timed or cancellable load run with periodic [`Report`]s.
//! - [`bench_ingest`]: `eth_sendRawTransaction` acceptance throughput.

pub mod accounts;
pub mod artifacts;
mod config;
mod error;
pub mod ingest;
pub mod rpc;
mod runner;
mod setup;
pub mod signer;
pub mod stats;
mod tracker;
mod workload;

pub use accounts::{dev_accounts, load_accounts, DEV_ACCOUNT_SEED};
pub use config::{LoadConfig, DEFAULT_FUND_WEI, IN_FLIGHT_MAX, SUBMIT_URLS_MAX};
pub use error::LoadError;
pub use ingest::{bench_ingest, IngestReport, INGEST_TXS_MAX};
pub use runner::run;
pub use signer::{Fees, Sender, SignedTx};
pub use stats::{Report, Summary};
pub use workload::{Workload, TOKEN_SUPPLY};

/// Re-exported so callers name the same signer type.
pub use alloy_signer_local::PrivateKeySigner;

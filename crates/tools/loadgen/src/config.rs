//! Configuration of a load run.

use crate::accounts::ACCOUNTS_MAX;
use crate::rpc::BATCH_SIZE_MAX;
use crate::workload::Workload;
use crate::LoadError;
use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use tokio::sync::watch;

/// Upper bound on transactions in flight (sent, not yet in a block).
pub const IN_FLIGHT_MAX: usize = 1_000_000;

/// Upper bound on [`LoadConfig::submit_urls`].
pub const SUBMIT_URLS_MAX: usize = 64;

/// Default wei each load account receives from the funder: 1 ether.
pub const DEFAULT_FUND_WEI: u128 = 1_000_000_000_000_000_000;

/// What to run, against which node, how hard and for how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The node's HTTP JSON-RPC URL, e.g. `http://127.0.0.1:8545`. Setup,
    /// fees and the block scan use it.
    pub rpc_url: String,
    /// Further JSON-RPC URLs of the same chain (for example the other
    /// validators) that load transactions are submitted to as well. Load
    /// account `i` always submits to, and resyncs its nonce from, entry
    /// `i % n` of `[rpc_url, submit_urls…]` (`n` URLs in all), so its nonces
    /// arrive in order at one node; the `n` nodes are sent to concurrently.
    /// Empty by default; at most [`SUBMIT_URLS_MAX`], and `accounts >= n`.
    pub submit_urls: Vec<String>,
    /// A prefunded account that pays for setup and funds the load accounts.
    pub funder: PrivateKeySigner,
    /// Which transactions to send.
    pub workload: Workload,
    /// How many load accounts send (2 ..= `ACCOUNTS_MAX`); derived with
    /// [`crate::load_accounts`].
    pub accounts: usize,
    /// Upper bound on the send rate, transactions per second; `None` sends as
    /// fast as the in-flight window allows.
    pub rate_tps_max: Option<u64>,
    /// How long the load phase lasts; `None` runs until `cancel` turns true.
    pub duration_ms: Option<u64>,
    /// Stops the run when it holds `true`. With neither this nor
    /// `duration_ms` the run never ends.
    pub cancel: Option<watch::Receiver<bool>>,
    /// Upper bound on transactions sent and not yet seen in a block (>= 1).
    pub in_flight_max: usize,
    /// How often `on_report` is called, milliseconds (>= 10).
    pub report_interval_ms: u64,
    /// Transactions per `eth_sendRawTransaction` JSON-RPC batch (1 = no batching).
    pub batch_size: usize,
    /// Wei each load account receives from the funder during setup.
    pub fund_wei: U256,
    /// A transaction not in a block this long after sending counts as failed.
    pub tx_timeout_ms: u64,
    /// How often the block scan polls `eth_blockNumber`, milliseconds (>= 1).
    pub poll_interval_ms: u64,
    /// Upper bound on each setup transaction's wait for its receipt.
    pub setup_timeout_ms: u64,
    /// After the load phase, how long to wait for in-flight transactions.
    pub drain_timeout_ms: u64,
}

impl LoadConfig {
    /// A config with the defaults: 16 accounts, no rate bound, 10 s, 4096 in
    /// flight, reports every second, no batching, 1 ether per account.
    pub fn new(rpc_url: impl Into<String>, funder: PrivateKeySigner, workload: Workload) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            submit_urls: Vec::new(),
            funder,
            workload,
            accounts: 16,
            rate_tps_max: None,
            duration_ms: Some(10_000),
            cancel: None,
            in_flight_max: 4_096,
            report_interval_ms: 1_000,
            batch_size: 1,
            fund_wei: U256::from(DEFAULT_FUND_WEI),
            tx_timeout_ms: 60_000,
            poll_interval_ms: 100,
            setup_timeout_ms: 60_000,
            drain_timeout_ms: 10_000,
        }
    }

    /// Checks every bound; `run` calls it first.
    pub fn validate(&self) -> Result<(), LoadError> {
        if !(2..=ACCOUNTS_MAX).contains(&self.accounts) {
            return Err(LoadError::config("accounts", format!("must be 2..={ACCOUNTS_MAX}")));
        }
        if self.submit_urls.len() > SUBMIT_URLS_MAX {
            return Err(LoadError::config("submit_urls", format!("at most {SUBMIT_URLS_MAX}")));
        }
        if self.accounts < self.submit_urls.len() + 1 {
            return Err(LoadError::config(
                "submit_urls",
                "needs at least one load account per URL (accounts >= 1 + submit_urls)",
            ));
        }
        if !(1..=IN_FLIGHT_MAX).contains(&self.in_flight_max) {
            return Err(LoadError::config("in_flight_max", format!("must be 1..={IN_FLIGHT_MAX}")));
        }
        if !(1..=BATCH_SIZE_MAX).contains(&self.batch_size) {
            return Err(LoadError::config("batch_size", format!("must be 1..={BATCH_SIZE_MAX}")));
        }
        if self.report_interval_ms < 10 {
            return Err(LoadError::config("report_interval_ms", "must be at least 10"));
        }
        if self.poll_interval_ms == 0 || self.tx_timeout_ms == 0 {
            return Err(LoadError::config("poll_interval_ms", "intervals must be non-zero"));
        }
        if self.rate_tps_max == Some(0) {
            return Err(LoadError::config("rate_tps_max", "must be positive (or None)"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LoadConfig {
        LoadConfig::new("http://127.0.0.1:8545", PrivateKeySigner::random(), Workload::Transfer)
    }

    #[test]
    fn defaults_are_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn bounds_are_enforced() {
        let mut c = config();
        c.accounts = 1;
        assert!(matches!(c.validate(), Err(LoadError::InvalidConfig { field: "accounts", .. })));
        let mut c = config();
        c.batch_size = BATCH_SIZE_MAX + 1;
        assert!(matches!(c.validate(), Err(LoadError::InvalidConfig { field: "batch_size", .. })));
        let mut c = config();
        c.submit_urls = vec![c.rpc_url.clone(); c.accounts];
        assert!(matches!(c.validate(), Err(LoadError::InvalidConfig { field: "submit_urls", .. })));
        c.submit_urls.pop();
        c.validate().unwrap();
        let mut c = config();
        c.in_flight_max = 0;
        assert!(matches!(
            c.validate(),
            Err(LoadError::InvalidConfig { field: "in_flight_max", .. })
        ));
    }
}

//! The load phase: a rate- and window-bounded sending loop, a block scanner
//! task, periodic reports and a final summary.

use crate::accounts::load_accounts;
use crate::config::LoadConfig;
use crate::rpc::{RpcClient, SendOutcome};
use crate::setup::Chain;
use crate::signer::{Sender, SignedTx};
use crate::stats::{per_second, Report, Summary, SAMPLES_MAX};
use crate::tracker::{lock, millis, scan_blocks, SharedTracker, TrackerState};
use crate::workload::{prepare, Prepared};
use crate::LoadError;
use alloy_primitives::{Address, Bytes};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::{interval, interval_at, MissedTickBehavior};

/// Transactions named in the warning when some never confirmed.
const PENDING_NAMED_MAX: usize = 8;

/// How often the sending loop wakes to spend its rate budget.
const TICK_MS: u64 = 5;

/// Lower bound on transactions one loop round may send, so batching and
/// high rates are not throttled by the tick.
const ROUND_TXS_MIN: usize = 64;

/// Runs `config.workload` against `config.rpc_url` and returns the totals.
///
/// Setup first: funds `config.accounts` load accounts from `config.funder`
/// and, for [`crate::Workload::Erc20`], deploys and distributes the token.
/// Then sends until `duration_ms` elapses or `cancel` turns true, calling
/// `on_report` every `report_interval_ms`, and finally waits up to
/// `drain_timeout_ms` for in-flight transactions. Load transactions go to
/// `rpc_url` and `submit_urls` (see [`LoadConfig::submit_urls`]).
///
/// Fails on invalid config and setup errors; during the load phase, refused
/// sends and timeouts are counted as `failed`, not returned as errors.
pub async fn run(config: LoadConfig, on_report: impl FnMut(&Report)) -> Result<Summary, LoadError> {
    config.validate()?;
    let chain = Chain::connect(&config.rpc_url).await?;
    let clients = submit_clients(&chain, &config.submit_urls).await?;
    let mut funder = Sender::new(config.funder.clone());
    let signers = load_accounts(config.accounts);
    let addresses: Vec<Address> = signers.iter().map(|s| s.address()).collect();
    let prepared = prepare(
        &chain,
        &mut funder,
        config.workload,
        &addresses,
        config.fund_wei,
        config.setup_timeout_ms,
    )
    .await?;
    tracing::info!(accounts = addresses.len(), contract = ?prepared.contract(), "load setup done");
    let first_block = chain.rpc.block_number().await? + 1;
    let tracker = Arc::new(Mutex::new(TrackerState::new(first_block, SAMPLES_MAX)));
    let poll = Duration::from_millis(config.poll_interval_ms);
    let _scanner = AbortOnDrop(tokio::spawn(scan_blocks(chain.rpc.clone(), tracker.clone(), poll)));
    let senders = signers.into_iter().map(Sender::new).collect();
    let mut state = LoadState::new(chain, config, prepared, addresses, senders, tracker);
    state.clients = clients;
    state.load_phase(on_report).await
}

/// The clients load transactions are submitted through: `chain`'s own first,
/// then one per `urls` entry, each checked to serve the same chain id.
async fn submit_clients(chain: &Chain, urls: &[String]) -> Result<Vec<RpcClient>, LoadError> {
    let mut clients = Vec::with_capacity(urls.len() + 1);
    clients.push(chain.rpc.clone());
    for url in urls {
        let client = RpcClient::new(url)?;
        let chain_id = client.chain_id().await?;
        if chain_id != chain.chain_id {
            return Err(LoadError::BadResponse {
                method: "eth_chainId",
                reason: format!("{url} serves chain {chain_id}, expected {}", chain.chain_id),
            });
        }
        clients.push(client);
    }
    Ok(clients)
}

/// The submission client (index into `[rpc_url, submit_urls…]`) of load
/// account `sender` among `clients` clients: fixed per account, so one node
/// sees all of an account's nonces in order.
fn client_of(sender: usize, clients: usize) -> usize {
    assert!(clients >= 1, "a run submits through at least one client");
    sender % clients
}

/// Splits the positions of `senders` (one sender index per transaction) by
/// submission client, keeping their order within each client.
fn group_by_client(senders: &[usize], clients: usize) -> Vec<Vec<usize>> {
    let mut groups = vec![Vec::new(); clients];
    for (position, &sender) in senders.iter().enumerate() {
        groups[client_of(sender, clients)].push(position);
    }
    groups
}

/// Aborts the block scanner when the run ends or its future is dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves once `cancel` holds `true`; never, without a live sender.
async fn cancelled(cancel: &mut Option<watch::Receiver<bool>>) {
    if let Some(rx) = cancel {
        if rx.wait_for(|stop| *stop).await.is_ok() {
            return;
        }
    }
    std::future::pending::<()>().await
}

/// Counters at the previous report, to compute per-interval rates.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    sent: u64,
    confirmed: u64,
}

#[derive(Debug)]
struct LoadState {
    chain: Chain,
    /// Where load transactions go: `chain.rpc` first, then `submit_urls`.
    clients: Vec<RpcClient>,
    config: LoadConfig,
    prepared: Prepared,
    addresses: Vec<Address>,
    senders: Vec<Sender>,
    tracker: SharedTracker,
    rng: rand::rngs::StdRng,
    next_sender: usize,
    /// Transactions handed to the node (accepted or refused).
    attempted: u64,
    sent: u64,
    failed: u64,
    start: Instant,
    mark: Mark,
}

impl LoadState {
    fn new(
        chain: Chain,
        config: LoadConfig,
        prepared: Prepared,
        addresses: Vec<Address>,
        senders: Vec<Sender>,
        tracker: SharedTracker,
    ) -> Self {
        let start = Instant::now();
        Self {
            clients: vec![chain.rpc.clone()],
            chain,
            config,
            prepared,
            addresses,
            senders,
            tracker,
            rng: <rand::rngs::StdRng as rand::SeedableRng>::from_entropy(),
            next_sender: 0,
            attempted: 0,
            sent: 0,
            failed: 0,
            start,
            mark: Mark { at: start, sent: 0, confirmed: 0 },
        }
    }

    async fn load_phase(
        &mut self,
        mut on_report: impl FnMut(&Report),
    ) -> Result<Summary, LoadError> {
        self.start = Instant::now();
        self.mark = Mark { at: self.start, sent: 0, confirmed: 0 };
        let report_every = Duration::from_millis(self.config.report_interval_ms);
        let mut reports = interval_at(tokio::time::Instant::now() + report_every, report_every);
        reports.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut ticks = interval(Duration::from_millis(TICK_MS));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut cancel = self.config.cancel.clone();
        let deadline = self.config.duration_ms.map(|ms| self.start + Duration::from_millis(ms));
        loop {
            tokio::select! {
                () = cancelled(&mut cancel) => break,
                _ = reports.tick() => on_report(&self.report()),
                _ = ticks.tick() => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    self.send_round().await;
                }
            }
        }
        let load_elapsed_ms = millis(self.start.elapsed());
        self.drain(&mut reports, &mut on_report).await;
        Ok(self.summary(load_elapsed_ms, millis(self.start.elapsed())))
    }

    /// Waits for in-flight transactions up to `drain_timeout_ms`, still reporting.
    async fn drain(
        &mut self,
        reports: &mut tokio::time::Interval,
        on_report: &mut impl FnMut(&Report),
    ) {
        let deadline = Instant::now() + Duration::from_millis(self.config.drain_timeout_ms);
        let mut ticks = interval(Duration::from_millis(self.config.poll_interval_ms));
        while lock(&self.tracker).in_flight() > 0 && Instant::now() < deadline {
            tokio::select! {
                _ = reports.tick() => on_report(&self.report()),
                _ = ticks.tick() => {}
            }
        }
        let tracker = lock(&self.tracker);
        if tracker.in_flight() > 0 {
            let oldest = tracker.oldest_in_flight(PENDING_NAMED_MAX);
            tracing::warn!(
                pending = tracker.in_flight(),
                ?oldest,
                "transactions accepted by the node but not in any block when the drain ended \
                 (look them up with eth_getTransactionByHash on each node)"
            );
        }
    }

    /// How many transactions the rate bound allows now.
    fn rate_budget(&self) -> u64 {
        match self.config.rate_tps_max {
            None => u64::MAX,
            Some(rate) => {
                let due = u128::from(rate) * self.start.elapsed().as_millis() / 1_000;
                u64::try_from(due).unwrap_or(u64::MAX).saturating_sub(self.attempted)
            }
        }
    }

    /// Signs and sends as many transactions as the rate, the in-flight window
    /// and the per-round bound allow.
    async fn send_round(&mut self) {
        let window = self.config.in_flight_max.saturating_sub(lock(&self.tracker).in_flight());
        let round_max = (self.config.batch_size * 4).max(ROUND_TXS_MIN);
        let budget = usize::try_from(self.rate_budget()).unwrap_or(usize::MAX);
        let count = window.min(round_max).min(budget);
        if count == 0 {
            return;
        }
        let mut batch: Vec<(usize, SignedTx)> = Vec::with_capacity(count);
        for _ in 0..count {
            let index = self.next_sender;
            self.next_sender = (self.next_sender + 1) % self.senders.len();
            if let Some(tx) = self.sign_next(index).await {
                batch.push((index, tx));
            }
        }
        self.send_batch(batch).await;
    }

    /// Signs the next transaction of sender `index`, resyncing its nonce if
    /// stale; `None` if the resync failed (retried on its next turn).
    async fn sign_next(&mut self, index: usize) -> Option<SignedTx> {
        let sender = &mut self.senders[index];
        if sender.is_stale() {
            let client = &self.clients[client_of(index, self.clients.len())];
            if let Err(e) = sender.resync(client).await {
                tracing::warn!(error = %e, "nonce resync failed");
                return None;
            }
        }
        let request = self.prepared.request(&self.addresses, index, &mut self.rng);
        match sender.sign(self.chain.chain_id, self.chain.fees, request) {
            Ok(tx) => Some(tx),
            Err(e) => {
                tracing::warn!(error = %e, "signing failed");
                None
            }
        }
    }

    async fn send_batch(&mut self, batch: Vec<(usize, SignedTx)>) {
        // Registered before sending so a block scanned mid-send still matches.
        let sent_at = Instant::now();
        {
            let mut tracker = lock(&self.tracker);
            for (index, tx) in &batch {
                tracker.insert(tx.hash, *index, sent_at);
            }
        }
        let outcomes = self.submit(&batch).await;
        self.attempted += batch.len() as u64;
        let mut tracker = lock(&self.tracker);
        for ((index, tx), outcome) in batch.iter().zip(outcomes) {
            match outcome {
                Ok(_) => self.sent += 1,
                Err(message) => {
                    tracing::debug!(%message, nonce = tx.nonce, "node refused a transaction");
                    self.failed += 1;
                    tracker.remove(&tx.hash);
                    self.senders[*index].mark_stale();
                }
            }
        }
    }

    /// Sends each transaction through its sender's client: one request stream
    /// per client, all streams concurrently. Returns one outcome per
    /// transaction, in `batch` order; a transport error fails its whole stream.
    async fn submit(&self, batch: &[(usize, SignedTx)]) -> Vec<SendOutcome> {
        let senders: Vec<usize> = batch.iter().map(|(index, _)| *index).collect();
        let groups = group_by_client(&senders, self.clients.len());
        let batch_size = self.config.batch_size;
        let streams = groups.iter().zip(&self.clients).map(|(positions, client)| {
            let raws: Vec<Bytes> = positions.iter().map(|&p| batch[p].1.raw.clone()).collect();
            async move {
                match client.send_raw_many(&raws, batch_size).await {
                    Ok(outcomes) => outcomes,
                    Err(e) => {
                        tracing::warn!(error = %e, "sending a batch failed");
                        vec![Err(e.to_string()); raws.len()]
                    }
                }
            }
        });
        let results = futures::future::join_all(streams).await;
        let mut outcomes: Vec<Option<SendOutcome>> = vec![None; batch.len()];
        for (positions, result) in groups.iter().zip(results) {
            assert_eq!(positions.len(), result.len(), "one outcome per transaction sent");
            for (&position, outcome) in positions.iter().zip(result) {
                outcomes[position] = Some(outcome);
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every position belongs to exactly one client's group"))
            .collect()
    }

    /// Expires overdue transactions and builds the interval report.
    fn report(&mut self) -> Report {
        let now = Instant::now();
        let timeout = Duration::from_millis(self.config.tx_timeout_ms);
        let mut tracker = lock(&self.tracker);
        for index in tracker.expire(now, timeout) {
            self.failed += 1;
            self.senders[index].mark_stale();
        }
        let (p50, p99) = tracker.interval.p50_p99();
        tracker.interval.clear();
        let interval_ms = millis(now.saturating_duration_since(self.mark.at));
        let report = Report {
            elapsed_ms: millis(now.saturating_duration_since(self.start)),
            height: tracker.height,
            sent: self.sent,
            confirmed: tracker.confirmed,
            failed: self.failed,
            tps_sent: per_second(self.sent - self.mark.sent, interval_ms),
            tps_confirmed: per_second(tracker.confirmed - self.mark.confirmed, interval_ms),
            latency_p50_ms: p50,
            latency_p99_ms: p99,
        };
        self.mark = Mark { at: now, sent: self.sent, confirmed: tracker.confirmed };
        report
    }

    /// Totals; confirmations are rated over the load phase plus the drain,
    /// since transactions sent late in the load phase confirm during it.
    fn summary(&self, elapsed_ms: u64, total_elapsed_ms: u64) -> Summary {
        let tracker = lock(&self.tracker);
        let (p50, p99) = tracker.all.p50_p99();
        Summary {
            elapsed_ms,
            height: tracker.height,
            sent: self.sent,
            confirmed: tracker.confirmed,
            failed: self.failed,
            pending: tracker.in_flight() as u64,
            tps_sent: per_second(self.sent, elapsed_ms),
            tps_confirmed: per_second(tracker.confirmed, total_elapsed_ms),
            latency_p50_ms: p50,
            latency_p99_ms: p99,
            latency_max_ms: tracker.latency_max_ms,
            contract: self.prepared.contract(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_stick_to_one_client_and_keep_order() {
        assert_eq!(group_by_client(&[0, 1, 2, 3, 4], 1), vec![vec![0, 1, 2, 3, 4]]);
        let groups = group_by_client(&[3, 0, 5, 1, 4, 2, 3], 3);
        assert_eq!(groups, vec![vec![0, 1, 6], vec![3, 4], vec![2, 5]]);
        for (client, positions) in groups.iter().enumerate() {
            assert!(positions.windows(2).all(|w| w[0] < w[1]));
            assert!(positions.iter().all(|&p| client_of([3, 0, 5, 1, 4, 2, 3][p], 3) == client));
        }
    }
}

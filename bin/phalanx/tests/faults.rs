//! Consensus fault requirements on real processes: four `phalanx node`
//! validators on loopback, each with its own RocksDB and RPC port, under a
//! background load of signed EIP-1559 transfers.
//!
//! * One of four SIGKILLed: the other three keep committing; restarted, it
//!   catches up to the same block hashes and state roots.
//! * Two of four SIGKILLed: commits stop and nothing forks; one back:
//!   commits resume.
//! * All four SIGKILLed and restarted: every block a client saw is still
//!   there with the same hash on every node, and commits resume.
//!
//! The scenarios share one cluster where they can, to keep CI time down; the
//! two tests take turns (they would otherwise run eight validators at once on
//! a small CI machine).

mod common;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, TxKind, U256};
use common::cluster::{block_at, head_at, Cluster, CHAIN_ID, POLL_INTERVAL};
use common::{dev_key, rpc};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Validators in the cluster (n = 3f + 1 with f = 1).
const VALIDATORS: usize = 4;
/// Deadline of every wait for progress (debug builds on a shared 2-core CI).
const PROGRESS_DEADLINE: Duration = Duration::from_secs(120);
/// Blocks the chain must grow by to count as "commits continue".
const PROGRESS_BLOCKS: u64 = 5;
/// How long the chain is watched for (no) growth without a quorum.
const STALL_WINDOW: Duration = Duration::from_secs(8);
/// Blocks that may still commit right after quorum is lost (messages that
/// were in flight at the kill).
const STALL_SLACK_BLOCKS: u64 = 2;
/// Accounts sending the load; sender `s` prefers validator `s % VALIDATORS`.
const SENDERS: usize = 4;
/// Transactions each sender offers per round.
const BURST: u64 = 4;
/// Nonces a sender may run ahead of the chain before it resends from the
/// chain's nonce (transactions pooled at a killed validator are lost).
const NONCE_WINDOW: u64 = 32;
/// Pause between load rounds (pacing, not synchronisation).
const ROUND_PAUSE: Duration = Duration::from_millis(25);

/// The two tests take turns: each runs four validator processes.
static CLUSTER_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the load task observed.
#[derive(Debug, Default)]
struct Observed {
    /// Transactions some validator accepted into its pool.
    accepted: AtomicU64,
    /// Every head block a client saw: height → hash.
    seen: Mutex<BTreeMap<u64, String>>,
    /// Heights where two validators reported different hashes.
    forks: Mutex<Vec<String>>,
}

impl Observed {
    /// Records a head block seen at `url`; a different hash at a height
    /// already seen is a fork.
    fn record(&self, url: &str, number: u64, hash: String) {
        let mut seen = self.seen.lock().unwrap();
        match seen.get(&number) {
            Some(known) if *known != hash => self
                .forks
                .lock()
                .unwrap()
                .push(format!("height {number}: {known} elsewhere, {hash} at {url}")),
            Some(_) => {}
            None => {
                seen.insert(number, hash);
            }
        }
    }
}

/// A background task sending transfers to any live validator.
struct Load {
    stop: Arc<AtomicBool>,
    observed: Arc<Observed>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(urls: Vec<String>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let observed = Arc::new(Observed::default());
        let task = tokio::spawn(run_load(urls, Arc::clone(&stop), Arc::clone(&observed)));
        Load { stop, observed, task }
    }

    fn accepted(&self) -> u64 {
        self.observed.accepted.load(Ordering::Relaxed)
    }

    fn forks(&self) -> Vec<String> {
        self.observed.forks.lock().unwrap().clone()
    }

    async fn stop(self) -> Arc<Observed> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("load task panicked");
        self.observed
    }
}

/// The transfer sender `s` signs at `nonce`: the same bytes every time, so a
/// resend is "already known" where the first copy is pooled. Each goes to a
/// fresh address (an account creation: a state write).
fn transfer(s: usize, nonce: u64) -> String {
    let signer = dev_key(s + 2);
    let mut to = [0u8; 20];
    to[0] = 0xfa;
    to[1] = s as u8;
    to[12..].copy_from_slice(&nonce.to_be_bytes());
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::from(to)),
        value: U256::from(1 + nonce % 1_000),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    let raw = TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718();
    format!("0x{}", alloy_primitives::hex::encode(raw))
}

/// The committed nonce of sender `s` at `url`; `None` if it does not answer.
async fn chain_nonce(url: &str, s: usize) -> Option<u64> {
    let who = dev_key(s + 2).address();
    let v = rpc(url, "eth_getTransactionCount", serde_json::json!([who, "latest"])).await.ok()?;
    u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

/// Offers one burst from sender `s` to `url`; `false` if `url` does not answer.
async fn offer_burst(url: &str, s: usize, nonce: &mut u64, observed: &Observed) -> bool {
    let Some(committed) = chain_nonce(url, s).await else {
        return false;
    };
    if *nonce < committed || *nonce > committed + NONCE_WINDOW {
        *nonce = committed;
    }
    for _ in 0..BURST {
        match rpc(url, "eth_sendRawTransaction", serde_json::json!([transfer(s, *nonce)])).await {
            Ok(_) => {
                observed.accepted.fetch_add(1, Ordering::Relaxed);
                *nonce += 1;
            }
            Err(e) if e.contains("already known") => *nonce += 1,
            // Rejected (e.g. nonce too low after a commit, or the pool is
            // full): the next burst starts again from the chain's nonce.
            Err(_) => break,
        }
    }
    true
}

async fn run_load(urls: Vec<String>, stop: Arc<AtomicBool>, observed: Arc<Observed>) {
    let mut nonces = [0u64; SENDERS];
    while !stop.load(Ordering::Relaxed) {
        for (s, nonce) in nonces.iter_mut().enumerate() {
            for k in 0..urls.len() {
                if offer_burst(&urls[(s + k) % urls.len()], s, nonce, &observed).await {
                    break;
                }
            }
        }
        for url in &urls {
            if let Some((number, hash)) = head_at(url).await {
                observed.record(url, number, hash);
            }
        }
        tokio::time::sleep(ROUND_PAUSE).await;
    }
}

/// Starts all validators of a fresh cluster and waits for first commits.
async fn start_cluster(dir: &std::path::Path) -> Cluster {
    let mut cluster = Cluster::generate(dir, VALIDATORS);
    for i in 0..VALIDATORS {
        cluster.start(i);
    }
    for i in 0..VALIDATORS {
        cluster.wait_ready(i).await;
    }
    let all: Vec<usize> = (0..VALIDATORS).collect();
    cluster.wait_height(&all, 2, PROGRESS_DEADLINE, "first commits on all four").await;
    cluster
}

/// Every one of `nodes` has blocks `heights` with the same hash and state root.
async fn assert_same_blocks(
    cluster: &Cluster,
    nodes: &[usize],
    heights: impl IntoIterator<Item = u64>,
    what: &str,
) {
    for height in heights {
        let mut blocks = Vec::with_capacity(nodes.len());
        for &i in nodes {
            blocks.push(block_at(&cluster.nodes[i].url(), height).await);
        }
        if blocks.iter().any(Option::is_none) || blocks.iter().any(|b| *b != blocks[0]) {
            let shown: Vec<String> = nodes
                .iter()
                .zip(&blocks)
                .map(|(i, b)| format!("  validator {i}: (hash, stateRoot) {b:?}"))
                .collect();
            panic!(
                "{what}: validators disagree at height {height}:\n{}\n{}",
                shown.join("\n"),
                cluster.report().await
            );
        }
    }
}

/// No two of `nodes` report different hashes at any height up to `top`
/// (a node that lacks a height is skipped there).
async fn assert_no_fork(cluster: &Cluster, nodes: &[usize], top: u64, what: &str) {
    for height in 1..=top {
        let mut hashes: Vec<(usize, String)> = Vec::with_capacity(nodes.len());
        for &i in nodes {
            if let Some((hash, _)) = block_at(&cluster.nodes[i].url(), height).await {
                hashes.push((i, hash));
            }
        }
        if hashes.iter().any(|(_, h)| *h != hashes[0].1) {
            panic!("{what}: fork at height {height}: {hashes:?}\n{}", cluster.report().await);
        }
    }
}

/// Every block in `seen` is still on some validator, and on validator `i` if
/// it had committed that height (`had[i]`, its head queried before the
/// kill); no validator holds a different block at a seen height.
async fn assert_seen_blocks_kept(
    cluster: &Cluster,
    had: &[u64],
    seen: &BTreeMap<u64, String>,
    what: &str,
) {
    for (&height, hash) in seen {
        let mut holders = 0;
        for (i, &had_height) in had.iter().enumerate() {
            let found = block_at(&cluster.nodes[i].url(), height).await.map(|(h, _)| h);
            let kept = found.as_ref() == Some(hash);
            holders += usize::from(kept);
            // A validator that lagged at the kill may lack the block, never differ.
            if !kept && (height <= had_height || found.is_some()) {
                panic!(
                    "{what}: block {height} {hash}, seen committed before, is {found:?} on \
                     validator {i} (its head before the kill: {had_height})\n{}",
                    cluster.report().await
                );
            }
        }
        if holders == 0 {
            panic!(
                "{what}: block {height} {hash}, seen committed before, is on no validator\n{}",
                cluster.report().await
            );
        }
    }
}

/// Fails if the load task saw two validators report different hashes.
async fn assert_load_saw_no_fork(cluster: &Cluster, load: &Load, what: &str) {
    let forks = load.forks();
    if !forks.is_empty() {
        panic!("{what}: clients saw conflicting blocks: {forks:#?}\n{}", cluster.report().await);
    }
}

/// Waits until validators accepted `count` more transactions of the load.
async fn wait_accepted(cluster: &Cluster, load: &Load, count: u64, what: &str) {
    let target = load.accepted() + count;
    let start = Instant::now();
    while load.accepted() < target {
        if start.elapsed() >= PROGRESS_DEADLINE {
            panic!(
                "{what}: validators accepted {} of {target} transactions within \
                 {PROGRESS_DEADLINE:?}\n{}",
                load.accepted(),
                cluster.report().await
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Scenario 1: SIGKILL validator 3 under load; the others keep committing;
/// restarted, it reaches the same blocks and state roots.
async fn one_of_four_crashes(cluster: &mut Cluster, load: &Load) {
    let all: Vec<usize> = (0..VALIDATORS).collect();
    let others = [0, 1, 2];
    wait_accepted(cluster, load, 20, "scenario 1: load before the kill").await;
    cluster.kill9(3);
    let at_kill = cluster.max_height(&others).await;
    eprintln!("[faults] scenario 1: validator 3 killed at height {at_kill}");
    let committed_before = chain_nonce(&cluster.nodes[0].url(), 0).await.unwrap_or(0);
    cluster
        .wait_height(
            &others,
            at_kill + PROGRESS_BLOCKS,
            PROGRESS_DEADLINE,
            "scenario 1: commits continue with three of four",
        )
        .await;
    let start = Instant::now();
    while chain_nonce(&cluster.nodes[0].url(), 0).await.unwrap_or(0) <= committed_before {
        if start.elapsed() >= PROGRESS_DEADLINE {
            panic!(
                "scenario 1: no transaction of sender 0 committed with three of four\n{}",
                cluster.report().await
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }

    cluster.start(3);
    cluster.wait_ready(3).await;
    let target = cluster.max_height(&others).await;
    cluster
        .wait_height(
            &all,
            target,
            PROGRESS_DEADLINE,
            "scenario 1: restarted validator 3 catches up",
        )
        .await;
    let common = cluster.min_height(&all).await.expect("all four answer");
    assert_same_blocks(
        cluster,
        &all,
        [at_kill, target, common],
        "scenario 1: same hash and state root on all four after the restart",
    )
    .await;
    assert_load_saw_no_fork(cluster, load, "scenario 1").await;
}

/// Scenario 2: SIGKILL validators 2 and 3; commits stop and nothing forks;
/// validator 2 back: commits resume.
async fn two_of_four_crash(cluster: &mut Cluster, load: &Load) {
    let live = [0, 1];
    cluster.kill9(2);
    cluster.kill9(3);
    let at_kill = cluster.max_height(&live).await;
    eprintln!("[faults] scenario 2: validators 2 and 3 killed at height {at_kill}");
    // Watch the window; the growth after the first half is what counts (the
    // first half lets in-flight commits land).
    let start = Instant::now();
    let mut at_half = None;
    while start.elapsed() < STALL_WINDOW {
        if at_half.is_none() && start.elapsed() >= STALL_WINDOW / 2 {
            at_half = Some(cluster.max_height(&live).await);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let at_half = at_half.unwrap_or(at_kill);
    let at_end = cluster.max_height(&live).await;
    eprintln!("[faults] scenario 2: heights {at_kill} → {at_half} → {at_end} without quorum");
    if at_end > at_kill + STALL_SLACK_BLOCKS || at_end != at_half {
        panic!(
            "scenario 2: two of four validators committed without a quorum: height {at_kill} at \
             the kill, {at_half} after {:?}, {at_end} after {STALL_WINDOW:?}\n{}",
            STALL_WINDOW / 2,
            cluster.report().await
        );
    }
    assert_no_fork(cluster, &live, at_end, "scenario 2: two of four").await;
    assert_load_saw_no_fork(cluster, load, "scenario 2").await;

    cluster.start(2);
    cluster.wait_ready(2).await;
    let three = [0, 1, 2];
    cluster
        .wait_height(
            &three,
            at_end + PROGRESS_BLOCKS,
            PROGRESS_DEADLINE,
            "scenario 2: commits resume with validator 2 back",
        )
        .await;
    cluster.start(3);
    cluster.wait_ready(3).await;
}

/// Scenario 3, first half: SIGKILL all four under load and start them again;
/// every block a client saw is still there. Returns the highest block seen
/// before the kill and every block seen.
async fn all_restart_keeps_blocks(
    cluster: &mut Cluster,
    load: Load,
) -> (u64, BTreeMap<u64, String>) {
    let all: Vec<usize> = (0..VALIDATORS).collect();
    wait_accepted(cluster, &load, 20, "scenario 3: load before the kill").await;
    let top = cluster.max_height(&all).await;
    cluster
        .wait_height(
            &all,
            top + PROGRESS_BLOCKS,
            PROGRESS_DEADLINE,
            "scenario 3: all four commit under load before the kill",
        )
        .await;
    let mut had = Vec::with_capacity(VALIDATORS);
    for i in 0..VALIDATORS {
        had.push(cluster.height(i).await.unwrap_or(0));
    }
    cluster.kill9_all();
    let observed = load.stop().await;
    let forks = observed.forks.lock().unwrap().clone();
    if !forks.is_empty() {
        panic!(
            "scenario 3: clients saw conflicting blocks: {forks:#?}\n{}",
            cluster.report().await
        );
    }
    let seen = observed.seen.lock().unwrap().clone();
    let top = seen.keys().last().copied().unwrap_or(0);
    eprintln!("[faults] scenario 3: all killed; clients saw {} heads up to {top}", seen.len());
    for i in 0..VALIDATORS {
        cluster.start(i);
    }
    for i in 0..VALIDATORS {
        cluster.wait_ready(i).await;
    }
    eprintln!("[faults] scenario 3: heads before the kill {had:?}");
    assert_seen_blocks_kept(cluster, &had, &seen, "scenario 3: restart of all four").await;
    (top, seen)
}

/// Scenario 3, second half: commits resume after every validator restarted,
/// and then every validator holds every block a client saw.
async fn all_restart_resumes(cluster: &Cluster, top: u64, seen: &BTreeMap<u64, String>) {
    let all: Vec<usize> = (0..VALIDATORS).collect();
    cluster
        .wait_height(
            &all,
            top + PROGRESS_BLOCKS,
            PROGRESS_DEADLINE,
            "scenario 3: commits resume after all four restarted",
        )
        .await;
    assert_no_fork(cluster, &all, top + PROGRESS_BLOCKS, "scenario 3: after resuming").await;
    let every = [u64::MAX; VALIDATORS];
    assert_seen_blocks_kept(cluster, &every, seen, "scenario 3: after resuming").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_crash_then_lost_quorum_then_full_restart_keeps_blocks() {
    let _turn = CLUSTER_TURN.lock().await;
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let mut cluster = start_cluster(&tmp.path().join("cluster")).await;
    let load = Load::start(cluster.urls());
    one_of_four_crashes(&mut cluster, &load).await;
    eprintln!("[faults] scenario 1 passed at {:?}", started.elapsed());
    two_of_four_crash(&mut cluster, &load).await;
    eprintln!("[faults] scenario 2 passed at {:?}", started.elapsed());
    all_restart_keeps_blocks(&mut cluster, load).await;
    eprintln!("[faults] scenario 3 (no block lost) passed at {:?}", started.elapsed());
}

/// Restarting every validator at once resumes commits: each replica recovers
/// the certified chain (and the block it last voted for) that its lock may
/// point at, with their batches, from `consensus/certified.bin`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_restart_resumes_commits() {
    let _turn = CLUSTER_TURN.lock().await;
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let mut cluster = start_cluster(&tmp.path().join("cluster")).await;
    let load = Load::start(cluster.urls());
    let (top, seen) = all_restart_keeps_blocks(&mut cluster, load).await;
    all_restart_resumes(&cluster, top, &seen).await;
    eprintln!("[faults] scenario 3 (commits resume) passed at {:?}", started.elapsed());
}

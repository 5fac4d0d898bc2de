//! `phalanx devnet --validators N` (N ≥ 4): N validator processes on loopback.
//!
//! First use creates, under the devnet directory, one sub-directory per
//! validator (`v0/`, `v1/`, …) with its keys, a shared genesis listing all N
//! validators, and a `node.toml` whose `[consensus]` section lists every
//! validator's address in genesis order. Each validator then runs as its own
//! `phalanx node --config vI/node.toml` process with its own RocksDB and RPC
//! port (`--port` + I). This command supervises them: it prints each one's
//! height and the chain's throughput, optionally drives load at validator 0,
//! and stops them all on Ctrl-C (or after `--duration-secs`).

use anyhow::{ensure, Context};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Default first port validators listen on for each other (validator I uses
/// this + I); `phalanx devnet --consensus-port` changes it.
pub(crate) const CONSENSUS_PORT_BASE: u16 = 9_100;

/// The devnet validators' base view timeout. Four validators on one machine
/// each execute every block, so under load a view's execute-then-vote can
/// outlast a 1 s view (docs/BENCHMARKS.md); 3 s avoided that before views
/// allowed for execution time, at the price of slower failover past a dead
/// leader.
pub(crate) const BASE_TIMEOUT_MS: u64 = 3_000;

/// The layout of an N-validator devnet, used when its directory is created:
/// validator I serves JSON-RPC on `rpc + I` and listens for the other
/// validators on `consensus + I`, all with the same base view timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// First JSON-RPC port.
    pub(crate) rpc: u16,
    /// First consensus port.
    pub(crate) consensus: u16,
    /// Every validator's `consensus.base_timeout_ms`.
    pub(crate) base_timeout_ms: u64,
}

/// Creates the N-validator layout on first use; returns each validator's config path.
pub(crate) fn prepare(
    dir: &Path,
    validators: usize,
    ports: Layout,
) -> anyhow::Result<Vec<PathBuf>> {
    let last = u16::try_from(validators - 1).ok();
    ensure!(
        last.is_some_and(
            |l| ports.rpc.checked_add(l).is_some() && ports.consensus.checked_add(l).is_some()
        ),
        "ports {} and {} leave no room for {validators} validators",
        ports.rpc,
        ports.consensus
    );
    let configs: Vec<PathBuf> =
        (0..validators).map(|i| dir.join(format!("v{i}/node.toml"))).collect();
    if configs.iter().all(|c| c.exists()) {
        return Ok(configs);
    }
    ensure!(
        !dir.join("genesis.json").exists(),
        "{} holds a devnet with a different validator count; use --fresh to replace it",
        dir.display()
    );
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut keys = Vec::with_capacity(validators);
    for i in 0..validators {
        keys.push(crate::keys::generate_validator(
            &dir.join(format!("v{i}/validator")),
            &format!("devnet-{i}"),
        )?);
    }
    let dev = phalanx_tools_loadgen::dev_accounts(crate::devnet::DEV_ACCOUNTS_FUNDED);
    let genesis = crate::keys::build_genesis(
        crate::devnet::DEVNET_CHAIN_ID,
        keys.clone(),
        BTreeMap::new(),
        &dev,
        100_000_000,
        1_000_000_000,
    )?;
    std::fs::write(dir.join("genesis.json"), serde_json::to_string_pretty(&genesis)?)?;
    let peers: Vec<String> =
        (0..validators).map(|i| format!("\"127.0.0.1:{}\"", ports.consensus + i as u16)).collect();
    for (i, validator) in keys.iter().enumerate() {
        let config = format!(
            "# Phalanx devnet validator {i}; see docs/CONFIG.md for every field.\n\
             data_dir = \"data\"\ngenesis = \"../genesis.json\"\nproposer = \"{}\"\n\n\
             [rpc]\naddr = \"127.0.0.1:{}\"\n\n\
             [consensus]\nkey_file = \"validator/consensus.key\"\nlisten = \"127.0.0.1:{}\"\n\
             peers = [{}]\nbase_timeout_ms = {}\nbatch_interval_ms = 50\n",
            validator.address,
            ports.rpc + i as u16,
            ports.consensus + i as u16,
            peers.join(", "),
            ports.base_timeout_ms,
        );
        std::fs::write(&configs[i], config)?;
    }
    Ok(configs)
}

/// Starts one `phalanx node` process per config, logs in `vI/node.log`.
fn spawn_all(configs: &[PathBuf]) -> anyhow::Result<Vec<Child>> {
    let exe = std::env::current_exe().context("locating the phalanx binary")?;
    configs
        .iter()
        .map(|config| {
            let dir = config.parent().expect("config lives in a validator directory");
            let log = std::fs::File::create(dir.join("node.log"))?;
            Command::new(&exe)
                .arg("node")
                .arg("--config")
                .arg(config)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting the validator for {}", config.display()))
        })
        .collect()
}

/// Supervises N validator processes until Ctrl-C, `duration`, or one exits.
pub(crate) async fn run(
    dir: &Path,
    validators: usize,
    ports: Layout,
    duration: Option<Duration>,
    load: Option<crate::devnet::LoadKind>,
    load_accounts: usize,
    load_tps: Option<u64>,
) -> anyhow::Result<()> {
    ensure!(
        validators >= 4,
        "--validators {validators}: BFT needs n = 3f+1 ≥ 4 validators (or 1 for a solo node)"
    );
    let configs = prepare(dir, validators, ports)?;
    let rpc_port = ports.rpc;
    let mut children = spawn_all(&configs)?;
    let urls: Vec<String> =
        (0..validators).map(|i| format!("http://127.0.0.1:{}", rpc_port + i as u16)).collect();
    println!("Phalanx devnet: {validators} validators (data and logs in {}/vI/)", dir.display());
    for (i, url) in urls.iter().enumerate() {
        println!(
            "  validator {i}: JSON-RPC {url}  consensus 127.0.0.1:{}",
            ports.consensus + i as u16
        );
    }
    println!(
        "  chain id {}; development accounts as for `phalanx devnet`",
        crate::devnet::DEVNET_CHAIN_ID
    );
    if load.is_some() {
        wait_for_rpc(&urls[0], Duration::from_secs(60)).await?;
    }
    let load = load.map(|kind| {
        tokio::spawn(crate::devnet::run_load(kind, urls[0].clone(), load_accounts, load_tps))
    });
    let result = supervise(&mut children, &urls, duration).await;
    if let Some(load) = load {
        load.abort();
    }
    for child in &mut children {
        // SIGTERM lets each node finish its current commit; they are then reaped.
        let _ = Command::new("kill").arg(child.id().to_string()).status();
    }
    for child in &mut children {
        let _ = child.wait();
    }
    result
}

async fn supervise(
    children: &mut [Child],
    urls: &[String],
    duration: Option<Duration>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last: Option<(Instant, u64, u64)> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        for (i, child) in children.iter_mut().enumerate() {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("validator {i} exited ({status}); see its node.log");
            }
        }
        let mut heights = Vec::with_capacity(urls.len());
        for url in urls {
            let height = match phalanx_tools_loadgen::rpc::RpcClient::new(url) {
                Ok(client) => client.block_number().await.ok(),
                Err(_) => None,
            };
            heights.push(height);
        }
        let best = heights.iter().flatten().max().copied().unwrap_or(0);
        let txs = txs_up_to(&urls[0], best).await;
        let rate = match last {
            Some((t, h, n)) if best >= h => (
                (best - h) as f64 / t.elapsed().as_secs_f64(),
                (txs.saturating_sub(n)) as f64 / t.elapsed().as_secs_f64(),
            ),
            _ => (0.0, 0.0),
        };
        last = Some((Instant::now(), best, txs));
        let shown: Vec<String> =
            heights.iter().map(|h| h.map_or("-".into(), |h| h.to_string())).collect();
        println!(
            "[devnet] t={:>4}s heights [{}]  {:.1} blocks/s  {:.0} tx/s",
            started.elapsed().as_secs(),
            shown.join(" "),
            rate.0,
            rate.1
        );
        if duration.is_some_and(|d| started.elapsed() >= d) {
            return Ok(());
        }
    }
}

/// Transactions committed so far, counted from blocks as the chain grows (a
/// running total kept per process; each block is read once).
async fn txs_up_to(url: &str, height: u64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTED_HEIGHT: AtomicU64 = AtomicU64::new(0);
    static COUNTED_TXS: AtomicU64 = AtomicU64::new(0);
    let Ok(client) = phalanx_tools_loadgen::rpc::RpcClient::new(url) else {
        return COUNTED_TXS.load(Ordering::Relaxed);
    };
    // Bounded work per tick: at most 2,000 blocks are read.
    let from = COUNTED_HEIGHT.load(Ordering::Relaxed) + 1;
    for number in from..=height.min(from + 2_000) {
        match client.block(number).await {
            Ok(Some(block)) => {
                COUNTED_TXS.fetch_add(block.transactions.len() as u64, Ordering::Relaxed);
                COUNTED_HEIGHT.store(number, Ordering::Relaxed);
            }
            _ => break,
        }
    }
    COUNTED_TXS.load(Ordering::Relaxed)
}

/// Waits until `url` answers `eth_blockNumber`, polling with a deadline.
async fn wait_for_rpc(url: &str, deadline: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let client = phalanx_tools_loadgen::rpc::RpcClient::new(url)?;
    while client.block_number().await.is_err() {
        ensure!(
            started.elapsed() < deadline,
            "validator 0 did not answer on {url} within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

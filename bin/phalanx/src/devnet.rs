//! `phalanx devnet`: one command, no arguments, a working chain.
//!
//! First use creates `./devnet/` (validator keys, genesis with prefunded
//! development accounts, `node.toml`); later uses restart the same chain.

use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Chain id of development chains.
pub(crate) const DEVNET_CHAIN_ID: u64 = 7777;
/// Development accounts printed in the banner.
const DEV_ACCOUNTS_SHOWN: usize = 5;
/// Development accounts prefunded in the devnet genesis (tests and the load
/// generator use the ones beyond those shown).
pub(crate) const DEV_ACCOUNTS_FUNDED: usize = 20;

/// Workloads `--load` can drive.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum LoadKind {
    /// Deploy the OpenZeppelin ERC20 and transfer tokens between many accounts.
    Erc20,
    /// Plain value transfers between many accounts.
    Transfer,
}

/// Arguments of `phalanx devnet`.
#[derive(Debug, clap::Args)]
pub(crate) struct DevnetArgs {
    /// Directory holding the devnet's keys, genesis, config and data.
    #[arg(long, default_value = "./devnet")]
    dir: PathBuf,
    /// JSON-RPC port (HTTP and WebSocket) on 127.0.0.1.
    #[arg(long, default_value_t = 8545)]
    port: u16,
    /// Also drive a built-in load generator and print throughput and latency.
    #[arg(long)]
    load: Option<LoadKind>,
    /// Accounts the load generator spreads transactions over.
    #[arg(long, default_value_t = 256)]
    load_accounts: usize,
    /// Upper bound on the offered load, transactions per second.
    #[arg(long)]
    load_tps: Option<u64>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Number of validators: 1 runs a solo node in this process; 4 or more
    /// run one `phalanx node` process per validator with chained HotStuff.
    #[arg(long, default_value_t = 1)]
    validators: usize,
    /// First consensus port with `--validators` ≥ 4: validator I listens on
    /// 127.0.0.1:(this + I). Used when the devnet directory is created.
    #[arg(long, default_value_t = crate::devnet_multi::CONSENSUS_PORT_BASE)]
    consensus_port: u16,
    /// Base view timeout of every validator with `--validators` ≥ 4 (each
    /// view also allows twice the validator's recent block execution time).
    /// Used when the devnet directory is created.
    #[arg(long, default_value_t = crate::devnet_multi::BASE_TIMEOUT_MS)]
    base_timeout_ms: u64,
    /// Delete an existing devnet directory first and start a fresh chain.
    #[arg(long)]
    fresh: bool,
}

pub(crate) fn now_seconds() -> u64 {
    phalanx_node_chain::unix_seconds()
}

/// Creates the devnet directory on first use; returns the node config path.
fn prepare(dir: &Path, port: u16) -> anyhow::Result<PathBuf> {
    let config_path = dir.join("node.toml");
    if config_path.exists() {
        return Ok(config_path);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let validator = crate::keys::generate_validator(&dir.join("validator"), "devnet-0")?;
    let dev = phalanx_tools_loadgen::dev_accounts(DEV_ACCOUNTS_FUNDED);
    let genesis = crate::keys::build_genesis(
        DEVNET_CHAIN_ID,
        vec![validator.clone()],
        BTreeMap::new(),
        &dev,
        100_000_000,
        1_000_000_000,
    )?;
    std::fs::write(dir.join("genesis.json"), serde_json::to_string_pretty(&genesis)?)?;
    let config = format!(
        "# Phalanx devnet node; see docs/CONFIG.md for every field and its default.\n\
         data_dir = \"data\"\ngenesis = \"genesis.json\"\nproposer = \"{}\"\n\n\
         [producer]\nblock_interval_ms = 200\nidle_block_interval_ms = 1000\n\n\
         [rpc]\naddr = \"127.0.0.1:{port}\"\n",
        validator.address
    );
    std::fs::write(&config_path, config)?;
    Ok(config_path)
}

pub(crate) async fn run(args: DevnetArgs) -> anyhow::Result<()> {
    if args.fresh && args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("removing {}", args.dir.display()))?;
    }
    if args.validators != 1 {
        let duration = args.duration_secs.map(Duration::from_secs);
        return crate::devnet_multi::run(
            &args.dir,
            args.validators,
            crate::devnet_multi::Layout {
                rpc: args.port,
                consensus: args.consensus_port,
                base_timeout_ms: args.base_timeout_ms,
            },
            duration,
            args.load,
            args.load_accounts,
            args.load_tps,
        )
        .await;
    }
    let config_path = prepare(&args.dir, args.port)?;
    let mut config = phalanx_node_chain::NodeConfig::load(&config_path)?;
    config.rpc.addr.set_port(args.port);
    let node = phalanx_node_chain::run_node(config).await?;
    print_banner(&node, &args.dir);
    let url = format!("http://{}", node.rpc_addr);
    let chain = std::sync::Arc::clone(&node.chain);
    let status = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            let pool = chain.pool().status();
            eprintln!(
                "[devnet] height {}  pool pending {} queued {}",
                chain.height(),
                pool.pending,
                pool.queued
            );
        }
    });
    let load =
        args.load.map(|kind| tokio::spawn(run_load(kind, url, args.load_accounts, args.load_tps)));
    let result = match args.duration_secs {
        Some(secs) => {
            tokio::select! {
                r = crate::wait_for_shutdown(node) => r,
                _ = tokio::time::sleep(Duration::from_secs(secs)) => {
                    eprintln!("[devnet] --duration-secs {secs} reached, stopping");
                    Ok(())
                }
            }
        }
        None => crate::wait_for_shutdown(node).await,
    };
    status.abort();
    if let Some(load) = load {
        load.abort();
    }
    result
}

fn print_banner(node: &phalanx_node_chain::NodeHandle, dir: &Path) {
    let params = node.chain.params();
    println!("Phalanx devnet is running (data in {})", dir.display());
    println!("  JSON-RPC   http://{0}   ws://{0}", node.rpc_addr);
    println!("  chain id   {}", params.chain_id);
    println!("  height     {}", node.chain.height());
    println!(
        "  Development accounts (1,000,000 ETH each; NEVER use these keys on a real network):"
    );
    for (i, signer) in phalanx_tools_loadgen::dev_accounts(DEV_ACCOUNTS_SHOWN).iter().enumerate() {
        println!("  ({i}) {}  key 0x{}", signer.address(), hex::encode(signer.to_bytes()));
    }
    println!("Ctrl-C stops the node; running `phalanx devnet` again resumes the same chain.");
}

pub(crate) async fn run_load(kind: LoadKind, url: String, accounts: usize, tps: Option<u64>) {
    use phalanx_tools_loadgen::{LoadConfig, Workload};
    let funder = phalanx_tools_loadgen::dev_accounts(1).remove(0);
    let workload = match kind {
        LoadKind::Erc20 => Workload::Erc20,
        LoadKind::Transfer => Workload::Transfer,
    };
    let mut config = LoadConfig::new(url, funder, workload);
    config.accounts = accounts;
    config.rate_tps_max = tps;
    config.report_interval_ms = 5_000;
    // Run until the devnet stops (the task is aborted then).
    config.duration_ms = None;
    eprintln!("[load] {kind:?}: preparing {accounts} accounts…");
    let result = phalanx_tools_loadgen::run(config, |r| {
        println!(
            "[load] t={:>4}s height {:>6}  sent {:>8}  confirmed {:>8}  failed {:>4}  {:>7.0} tx/s  latency p50 {:>5} ms  p99 {:>5} ms",
            r.elapsed_ms / 1000, r.height, r.sent, r.confirmed, r.failed, r.tps_confirmed, r.latency_p50_ms, r.latency_p99_ms
        );
    })
    .await;
    match result {
        Ok(summary) => eprintln!("[load] finished: {summary:?}"),
        Err(e) => eprintln!("[load] stopped: {e}"),
    }
}

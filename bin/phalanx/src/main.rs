//! The `phalanx` command: run a node or a one-command devnet, create keys and
//! genesis files, verify a chain on disk, and run benchmarks.
//!
//! This is the binary edge: errors become `anyhow` reports with a hint of what
//! to do; libraries below return typed errors.

mod bench;
mod devnet;
mod devnet_multi;
mod keys;
mod sim;
mod verify;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// mimalloc instead of glibc's allocator: execution allocates and frees many
/// small objects per transaction on several threads, and glibc returned the
/// memory to the kernel after each block only to fault it in again (perf:
/// page faults under the multi-version memory's inserts). pevm does the same
/// with snmalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "phalanx",
    version,
    about = "Phalanx: a permissioned EVM chain with parallel execution"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a development chain under ./devnet (created on first use) and keep producing blocks.
    Devnet(devnet::DevnetArgs),
    /// Run a node from a TOML configuration.
    Node {
        /// Path of the node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Write a genesis file (Ethereum-style `alloc` plus chain id and validators).
    Genesis(keys::GenesisArgs),
    /// Generate a validator key pair (ed25519 consensus key plus Ethereum account key).
    Keygen(keys::KeygenArgs),
    /// Re-hash a node's stored chain and state; name the first block that does not verify.
    VerifyChain(verify::VerifyArgs),
    /// Run the deterministic consensus simulator over many seeds (or replay one).
    Sim(sim::SimArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Devnet(args) => runtime()?.block_on(devnet::run(args)),
        Command::Node { config } => runtime()?.block_on(run_node(config)),
        Command::Genesis(args) => keys::genesis(args),
        Command::Keygen(args) => keys::keygen(args),
        Command::VerifyChain(args) => verify::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

async fn run_node(config_path: PathBuf) -> anyhow::Result<()> {
    use anyhow::Context;
    let config = phalanx_node_chain::NodeConfig::load(&config_path)
        .with_context(|| format!("loading {}", config_path.display()))?;
    let node = match config.consensus.clone() {
        None => phalanx_node_chain::run_node(config).await?,
        Some(settings) => {
            let text = std::fs::read_to_string(&config.genesis)
                .with_context(|| format!("reading genesis {}", config.genesis.display()))?;
            let genesis = phalanx_core_types::Genesis::from_json(&text)
                .with_context(|| format!("parsing genesis {}", config.genesis.display()))?;
            let data_dir = config.data_dir.clone();
            phalanx_node_chain::run_node_with(config, |chain| {
                phalanx_node_consensus::ConsensusProducer::new(
                    &settings, &genesis, chain, &data_dir,
                )
                .map(|p| Box::new(p) as Box<dyn phalanx_node_chain::BlockProducer>)
                .map_err(|e| phalanx_node_chain::RunError::Producer { reason: e.to_string() })
            })
            .await?
        }
    };
    tracing::info!(rpc = %format!("http://{}", node.rpc_addr), "node running; Ctrl-C stops it");
    wait_for_shutdown(node).await
}

/// Runs until Ctrl-C / SIGTERM or until the node fails.
pub(crate) async fn wait_for_shutdown(
    mut node: phalanx_node_chain::NodeHandle,
) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        result = node.wait() => return result.map_err(Into::into),
    }
    tracing::info!("shutting down");
    node.stop().await?;
    Ok(())
}

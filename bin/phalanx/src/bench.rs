//! `phalanx bench …`: measured numbers for docs/BENCHMARKS.md.
//!
//! `bench exec` runs prepared workload blocks through the serial executor and
//! the parallel executors and reports speedups and dependency bounds.
//! `bench overhead` runs the same blocks of OpenZeppelin ERC20 transfers through
//! Phalanx's executor (recording reads/writes, overlay, receipts, digests) and
//! through plain revm over a `CacheDB`, alternating the two in one process so
//! machine noise hits both alike; it reports medians and the overhead ratio.
//! `bench ingest` measures `eth_sendRawTransaction` acceptance against a
//! running node. `bench load` measures committed transactions/s and client
//! latency against a running chain (a devnet, its validators, or anvil).

mod exec;
mod load;
mod overhead;
mod probe;

use clap::Subcommand;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Serial versus parallel execution (leader Block-STM, validator schedule) per workload.
    Exec(exec::ExecArgs),
    /// Serial execution throughput: Phalanx's executor next to plain revm.
    Overhead(overhead::OverheadArgs),
    /// RPC ingestion: transactions/s accepted through eth_sendRawTransaction.
    Ingest(IngestArgs),
    /// Committed transactions/s and latency p50/p99 of a running chain, per batch size.
    Load(load::LoadArgs),
}

/// Arguments of `phalanx bench ingest`.
#[derive(Debug, clap::Args)]
pub(crate) struct IngestArgs {
    /// JSON-RPC URL of a running node whose genesis prefunds the development
    /// accounts (for example `phalanx devnet`).
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// Transactions to send per measurement.
    #[arg(long, default_value_t = 20_000)]
    txs: usize,
    /// JSON-RPC batch sizes to measure (1 = one request per transaction).
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    batch: Vec<usize>,
}

pub(crate) fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Exec(args) => exec::run(args),
        BenchCommand::Overhead(args) => overhead::run(args),
        BenchCommand::Ingest(args) => crate::runtime()?.block_on(ingest(args)),
        BenchCommand::Load(args) => crate::runtime()?.block_on(load::run(args)),
    }
}

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    println!("bench ingest: {} transfers per run against {}", args.txs, args.rpc);
    println!("{:>6} {:>10} {:>12} {:>10}", "batch", "accepted", "tx/s", "seconds");
    for (i, &batch) in args.batch.iter().enumerate() {
        // Each run signs with a different slice of funded accounts so nonces never collide.
        let funder = phalanx_tools_loadgen::dev_accounts(i + 2).remove(i + 1);
        let report =
            phalanx_tools_loadgen::bench_ingest(&args.rpc, &funder, args.txs, batch).await?;
        println!(
            "{:>6} {:>10} {:>12.0} {:>10.2}",
            batch,
            report.accepted,
            report.accepted_tps,
            report.elapsed_ms as f64 / 1000.0
        );
    }
    Ok(())
}

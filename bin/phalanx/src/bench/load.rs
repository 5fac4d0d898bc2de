//! `phalanx bench load`: committed throughput and client latency of a running
//! chain under the load generator, one run per JSON-RPC batch size.
//!
//! The same command drives any Ethereum node (a Phalanx devnet, its four
//! validators, anvil), so the figures in docs/BENCHMARKS.md compare like with
//! like: same workload, same accounts, same client, same measurement.

use anyhow::{ensure, Context};
use phalanx_tools_loadgen::{LoadConfig, PrivateKeySigner, Summary, Workload};

/// The development account (see `phalanx devnet`) that funds the load
/// accounts by default: account 0 drives `phalanx devnet --load` and
/// `bench ingest` uses the first few, so this one never shares their nonces.
const DEFAULT_FUNDER_INDEX: usize = 10;

/// How often the block scan polls the head: short, because it bounds how
/// precisely inclusion latency is measured.
const POLL_INTERVAL_MS: u64 = 20;

/// Upper bound on `--seconds` (one hour).
const SECONDS_MAX: u64 = 3_600;

/// Arguments of `phalanx bench load`.
#[derive(Debug, clap::Args)]
pub(crate) struct LoadArgs {
    /// JSON-RPC URLs of the chain, comma-separated. Setup and the block scan
    /// use the first; load account `i` submits to URL `i mod n`, so give every
    /// validator's URL to spread clients over them (a URL may repeat, giving a
    /// single node the same number of concurrent client streams).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8545")]
    rpc: Vec<String>,
    /// `transfer` (1-wei value transfers) or `erc20` (OpenZeppelin ERC20
    /// token transfers; the token is deployed and distributed first).
    #[arg(long, default_value = "transfer")]
    workload: Workload,
    /// Load accounts the transactions are spread over (funded first).
    #[arg(long, default_value_t = 256)]
    accounts: usize,
    /// Length of each run's load phase, seconds (setup and the final wait for
    /// in-flight transactions come on top).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// JSON-RPC batch sizes, one run each (1 = one HTTP request per transaction).
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    batch: Vec<usize>,
    /// Hex private key of a prefunded account that pays for setup (for anvil:
    /// its account 0). Default: development account 10 of `phalanx devnet`.
    #[arg(long)]
    funder_key: Option<String>,
    /// Upper bound on the offered load, transactions/s (default: as fast as
    /// the in-flight window allows).
    #[arg(long)]
    rate: Option<u64>,
    /// Upper bound on transactions sent and not yet in a block.
    #[arg(long, default_value_t = 4_096)]
    in_flight: usize,
    /// Name printed in the table's first column (e.g. `4-validator devnet`).
    #[arg(long, default_value = "-")]
    label: String,
}

/// Runs one load run per batch size and prints a row for each.
pub(crate) async fn run(args: LoadArgs) -> anyhow::Result<()> {
    ensure!(!args.rpc.is_empty(), "--rpc needs at least one URL");
    ensure!(!args.batch.is_empty(), "--batch needs at least one size");
    ensure!((1..=SECONDS_MAX).contains(&args.seconds), "--seconds must be 1..={SECONDS_MAX}");
    let funder = funder(args.funder_key.as_deref())?;
    println!(
        "bench load: {:?} for {} s per batch size, {} accounts, rate {}, {} in flight, against {}",
        args.workload,
        args.seconds,
        args.accounts,
        args.rate.map_or("unbounded".to_string(), |r| format!("{r} tx/s")),
        args.in_flight,
        args.rpc.join(",")
    );
    let mut rows = Vec::with_capacity(args.batch.len());
    for &batch in &args.batch {
        let config = config(&args, funder.clone(), batch);
        eprintln!("[bench load] {:?} batch {batch}: setting up {} accounts…", args.workload, {
            args.accounts
        });
        let summary = phalanx_tools_loadgen::run(config, |r| {
            eprintln!(
                "[bench load] t={:>3}s height {:>6} sent {:>8} confirmed {:>8} failed {:>5} {:>7.0} tx/s p50 {:>5} ms p99 {:>5} ms",
                r.elapsed_ms / 1_000, r.height, r.sent, r.confirmed, r.failed, r.tps_confirmed,
                r.latency_p50_ms, r.latency_p99_ms
            );
        })
        .await
        .with_context(|| format!("load run with batch size {batch} against {}", args.rpc[0]))?;
        rows.push((batch, summary));
    }
    print_table(&args, &rows);
    Ok(())
}

/// The funder: `--funder-key`, else the devnet's development account.
fn funder(key: Option<&str>) -> anyhow::Result<PrivateKeySigner> {
    match key {
        Some(hex_key) => hex_key
            .trim()
            .trim_start_matches("0x")
            .parse::<PrivateKeySigner>()
            .context("--funder-key is not a hex secp256k1 private key"),
        None => Ok(phalanx_tools_loadgen::dev_accounts(DEFAULT_FUNDER_INDEX + 1)
            .remove(DEFAULT_FUNDER_INDEX)),
    }
}

/// The loadgen configuration of one run with JSON-RPC batch size `batch`.
fn config(args: &LoadArgs, funder: PrivateKeySigner, batch: usize) -> LoadConfig {
    let mut config = LoadConfig::new(args.rpc[0].clone(), funder, args.workload);
    config.submit_urls = args.rpc[1..].to_vec();
    config.accounts = args.accounts;
    config.batch_size = batch;
    config.rate_tps_max = args.rate;
    config.in_flight_max = args.in_flight;
    config.duration_ms = Some(args.seconds * 1_000);
    config.report_interval_ms = 5_000;
    config.poll_interval_ms = POLL_INTERVAL_MS;
    config
}

/// Prints the results, one row per batch size, as a Markdown table.
fn print_table(args: &LoadArgs, rows: &[(usize, Summary)]) {
    println!();
    println!(
        "| target | workload | batch | sent | confirmed | failed | pending | confirmed tx/s | p50 ms | p99 ms |"
    );
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (batch, s) in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} |",
            args.label,
            workload_name(args.workload),
            batch,
            s.sent,
            s.confirmed,
            s.failed,
            s.pending,
            s.tps_confirmed,
            s.latency_p50_ms,
            s.latency_p99_ms
        );
    }
}

fn workload_name(workload: Workload) -> &'static str {
    match workload {
        Workload::Transfer => "transfer",
        Workload::Erc20 => "erc20",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: LoadArgs,
    }

    #[test]
    fn urls_spread_and_batches_parse() {
        let cli = Cli::parse_from([
            "x",
            "--rpc",
            "http://a:1,http://b:2,http://c:3",
            "--workload",
            "erc20",
            "--batch",
            "1,100",
            "--accounts",
            "64",
        ]);
        assert_eq!(cli.args.batch, vec![1, 100]);
        let c = config(&cli.args, funder(None).unwrap(), 100);
        assert_eq!(c.rpc_url, "http://a:1");
        assert_eq!(c.submit_urls, vec!["http://b:2", "http://c:3"]);
        assert_eq!((c.accounts, c.batch_size, c.workload), (64, 100, Workload::Erc20));
        c.validate().unwrap();
    }

    #[test]
    fn funder_defaults_to_a_dev_account_and_takes_anvil_keys() {
        let dev = phalanx_tools_loadgen::dev_accounts(DEFAULT_FUNDER_INDEX + 1);
        assert_eq!(funder(None).unwrap().address(), dev[DEFAULT_FUNDER_INDEX].address());
        let anvil =
            funder(Some("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"))
                .unwrap();
        // Anvil's (and Hardhat's) well-known account 0.
        let expected: alloy_primitives::Address =
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse().unwrap();
        assert_eq!(anvil.address(), expected);
        assert!(funder(Some("0xzz")).is_err());
    }
}

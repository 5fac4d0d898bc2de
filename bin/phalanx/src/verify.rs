//! `phalanx verify-chain`: tamper detection over a node's database, and
//! optionally a full re-execution from genesis.

use anyhow::{bail, Context};
use phalanx_core_types::{Genesis, RecoveredTx};
use phalanx_execution_evm::BlockEnv;
use phalanx_storage_rocksdb::{Store, StoreOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `phalanx verify-chain`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The node's data directory (its RocksDB), e.g. ./devnet/data.
    #[arg(long)]
    data: PathBuf,
    /// Also re-execute every block from genesis into a scratch database and
    /// check each state root, receipts root and PaVM digest.
    #[arg(long)]
    reexecute: bool,
    /// Genesis file for --reexecute (default: genesis.json beside the data directory).
    #[arg(long)]
    genesis: Option<PathBuf>,
}

/// Prints progress at most every two seconds.
struct Progress {
    what: &'static str,
    total: u64,
    last: Instant,
}

impl Progress {
    fn tick(&mut self, height: u64) {
        if self.last.elapsed().as_secs() >= 2 {
            eprintln!("  {} {height}/{}", self.what, self.total);
            self.last = Instant::now();
        }
    }
}

pub(crate) fn run(args: VerifyArgs) -> anyhow::Result<()> {
    if !args.data.exists() {
        bail!(
            "{} does not exist: pass the node's data directory (e.g. ./devnet/data)",
            args.data.display()
        );
    }
    let options = StoreOptions { create_if_missing: false, ..Default::default() };
    let store = Store::open(&args.data, options)
        .with_context(|| format!("opening {}", args.data.display()))?;
    let head = store.head().map_or(0, |h| h.height);
    let started = Instant::now();
    let mut progress = Progress { what: "verified", total: head, last: Instant::now() };
    let report = store.verify_chain(&mut |h| progress.tick(h))?;
    print_report(&report);
    if !report.is_ok() {
        bail!("chain verification failed");
    }
    if args.reexecute {
        let genesis_path =
            args.genesis.clone().unwrap_or_else(|| args.data.join("../genesis.json"));
        reexecute(&store, &genesis_path, head)?;
    }
    eprintln!("verified in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn print_report(report: &phalanx_storage_rocksdb::VerifyReport) {
    use phalanx_storage_rocksdb::VerifyFailure;
    println!(
        "checked {} blocks, {} transactions, {} accounts, {} storage slots",
        report.blocks_checked,
        report.transactions_checked,
        report.accounts_checked,
        report.slots_checked
    );
    match &report.failure {
        None => println!(
            "OK: every block re-hashes and links, and the state matches the head's state root"
        ),
        Some(VerifyFailure::Block { height, reason }) => {
            println!("FAILED: block {height} does not verify: {reason}")
        }
        Some(VerifyFailure::State { height, reason }) => {
            println!("FAILED: state does not match the state root of head block {height}: {reason}")
        }
    }
}

/// Replays blocks 1..=head from genesis into a scratch store, comparing every
/// execution result with the stored header.
fn reexecute(store: &Store, genesis_path: &Path, head: u64) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(genesis_path)
        .with_context(|| format!("reading {} (pass --genesis)", genesis_path.display()))?;
    let genesis = Genesis::from_json(&text)?;
    let scratch = tempfile::tempdir()?;
    let fresh = Store::open(scratch.path(), StoreOptions::default())?;
    let genesis_block = fresh.init_genesis(&genesis)?;
    let stored_genesis = store.block_by_height(0)?.context("stored chain has no genesis")?;
    if genesis_block.hash() != stored_genesis.hash() {
        bail!("genesis {} does not produce the stored genesis block", genesis_path.display());
    }
    let mut progress = Progress { what: "re-executed", total: head, last: Instant::now() };
    for height in 1..=head {
        let block =
            store.block_by_height(height)?.with_context(|| format!("block {height} missing"))?;
        let h = &block.header;
        let txs = block
            .transactions
            .iter()
            .cloned()
            .map(RecoveredTx::recover)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("block {height}: bad signature"))?;
        let env = BlockEnv {
            height,
            timestamp: h.timestamp,
            proposer: h.proposer,
            gas_limit: h.gas_limit,
            base_fee_per_gas: h.base_fee_per_gas,
            prev_randao: h.parent_hash,
            chain_id: h.chain_id,
        };
        let outcome = phalanx_execution_evm::execute_block(fresh.latest_state(), &env, &txs)
            .with_context(|| format!("block {height}: re-execution failed"))?;
        let prepared = fresh.prepare_state(height, &outcome.changes)?;
        let checks = [
            ("state root", prepared.state_root, h.state_root),
            ("receipts root", outcome.receipts_root, h.receipts_root),
            ("read/write digest", outcome.rw_digest, h.rw_digest),
        ];
        for (what, got, want) in checks {
            if got != want {
                bail!("block {height}: re-executed {what} {got} differs from the stored {want}");
            }
        }
        if outcome.gas_used != h.gas_used {
            bail!(
                "block {height}: re-executed gas {} differs from the stored {}",
                outcome.gas_used,
                h.gas_used
            );
        }
        fresh.commit_block(&block, &outcome.receipts, prepared)?;
        progress.tick(height);
    }
    println!("re-executed {head} blocks from genesis: every state root, receipts root and digest matches");
    Ok(())
}

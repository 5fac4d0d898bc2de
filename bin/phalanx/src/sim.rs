//! `phalanx sim`: the deterministic consensus simulator over many seeds, or
//! one seed replayed verbosely.

use phalanx_consensus_sim::{run_many, SimConfig};

/// Arguments of `phalanx sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 1000)]
    seeds: u64,
    /// First seed of the range.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Replay this one seed and print its full report.
    #[arg(long)]
    seed: Option<u64>,
}

/// Runs the simulator; fails when any seed violates an invariant.
pub(crate) fn run(args: SimArgs) -> anyhow::Result<()> {
    if let Some(seed) = args.seed {
        let config = SimConfig::from_seed(seed);
        println!("seed {seed}: {config:#?}");
        return match phalanx_consensus_sim::run(seed, &config) {
            Ok(report) => {
                println!("{report:#?}");
                Ok(())
            }
            Err(failure) => anyhow::bail!("{failure}"),
        };
    }
    let end = args.start.saturating_add(args.seeds);
    let started = std::time::Instant::now();
    let summary = run_many(args.start..end, |seed, result| {
        if let Err(failure) = result {
            eprintln!("FAIL {failure}");
        }
        if (seed + 1 - args.start).is_multiple_of(100) {
            println!("{} seeds done ({:.1?})", seed + 1 - args.start, started.elapsed());
        }
    });
    println!(
        "{} seeds, {} failed, {} blocks committed, {} events, {:.1?}",
        summary.runs,
        summary.failures.len(),
        summary.blocks_committed,
        summary.steps,
        started.elapsed()
    );
    if let Some(first) = summary.failures.first() {
        anyhow::bail!("{} seed(s) failed; first: {first}", summary.failures.len());
    }
    Ok(())
}

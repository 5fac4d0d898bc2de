//! Runs a range of seeds and prints failures and timing: `cargo run --example sweep -- 0 100`.

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (start, end) = (args.first().copied().unwrap_or(0), args.get(1).copied().unwrap_or(100));
    let t = std::time::Instant::now();
    let summary = phalanx_consensus_sim::run_many(start..end, |seed, r| match r {
        Ok(rep) if end - start <= 3 => println!("{rep:#?}"),
        Ok(_) => {}
        Err(f) => println!("FAIL {seed}: {f}"),
    });
    println!(
        "{} runs, {} failures, {} blocks, {} steps, {:?}",
        summary.runs,
        summary.failures.len(),
        summary.blocks_committed,
        summary.steps,
        t.elapsed()
    );
}

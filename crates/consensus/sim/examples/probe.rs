//! Re-runs a seed with a longer liveness phase: `cargo run --example probe -- 247 20000`.

fn main() {
    let a: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let mut c = phalanx_consensus_sim::SimConfig::from_seed(a[0]);
    c.liveness_phase_ms = a[1];
    match phalanx_consensus_sim::run(a[0], &c) {
        Ok(r) => println!("{r:#?}"),
        Err(f) => println!("{f}"),
    }
}

//! Prints the scenario of a seed: `cargo run --example show -- 134`.

fn main() {
    for seed in std::env::args().skip(1).filter_map(|a| a.parse::<u64>().ok()) {
        println!("{seed}: {:?}", phalanx_consensus_sim::SimConfig::from_seed(seed));
    }
}

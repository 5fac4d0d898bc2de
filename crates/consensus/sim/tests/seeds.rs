//! The CI gate: the first thousand seeds of the default scenario mix must
//! violate no invariant. A failure names the seed and the replay command.

use phalanx_consensus_sim::run_many;

#[test]
fn seeds_0_to_1000_pass() {
    let summary = run_many(0..1000, |_, _| {});
    let listed: Vec<String> = summary.failures.iter().map(|f| f.to_string()).collect();
    assert!(
        listed.is_empty(),
        "{} of {} seeds failed:\n{}",
        listed.len(),
        summary.runs,
        listed.join("\n")
    );
    assert!(summary.blocks_committed > 1000, "runs commit blocks");
}

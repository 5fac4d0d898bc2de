//! Each Byzantine mock is active and leaves the expected trace; runs are deterministic.

use phalanx_consensus_sim::{run, ByzantineKind, ByzantineMix, Invariant, SimConfig, SimReport};

fn with(kind: ByzantineKind, index: u16) -> SimConfig {
    SimConfig {
        byzantine: ByzantineMix { nodes: vec![(index, kind)], replay: false },
        ..SimConfig::default()
    }
}

fn ok(seed: u64, config: &SimConfig) -> SimReport {
    run(seed, config).unwrap_or_else(|f| panic!("{f}"))
}

#[test]
fn same_seed_same_report() {
    for seed in [3, 151, 247] {
        let c = SimConfig::from_seed(seed);
        assert_eq!(run(seed, &c), run(seed, &c));
    }
}

#[test]
fn wrong_state_root_gets_exec_mismatch_evidence() {
    let r = ok(1, &with(ByzantineKind::WrongStateRoot, 1));
    assert!(r.evidence.exec_mismatch > 0, "{r:?}");
    assert!(r.metrics.exec_mismatches > 0);
}

#[test]
fn equivocating_leader_is_caught() {
    let r = ok(2, &with(ByzantineKind::Equivocator, 2));
    assert!(r.messages.equivocations_sent > 0);
    assert!(r.evidence.proposal_equivocation > 0, "{r:?}");
}

#[test]
fn forged_signatures_are_rejected() {
    let r = ok(3, &with(ByzantineKind::Forger, 0));
    assert!(r.messages.forged > 0);
    assert!(r.metrics.rejected_bad_signature > 0, "{r:?}");
}

#[test]
fn silent_replica_forces_timeouts() {
    let r = ok(4, &with(ByzantineKind::Silent, 3));
    assert!(r.messages.silenced > 0);
    assert!(r.metrics.tcs_formed > 0);
}

#[test]
fn twins_run_as_two_nodes_and_stay_safe() {
    let r = ok(5, &with(ByzantineKind::Twins, 1));
    assert_eq!(r.commits.len(), 5, "twins add a node");
    assert!(r.faults.partitions > 0, "twins are partitioned apart");
}

#[test]
fn replayed_messages_are_ignored_safely() {
    let mut c = SimConfig { partition: true, ..SimConfig::default() };
    c.byzantine.replay = true;
    let r = ok(6, &c);
    assert!(r.messages.replayed > 0);
}

#[test]
fn crashes_restart_from_persisted_state() {
    let c = SimConfig { crashes: true, ..SimConfig::default() };
    let r = ok(7, &c);
    assert!(r.faults.crashes > 0 && r.faults.restarts >= r.faults.crashes);
}

#[test]
fn more_than_f_byzantine_is_rejected() {
    let mut c = with(ByzantineKind::Silent, 0);
    c.byzantine.nodes.push((1, ByzantineKind::Silent));
    assert_eq!(run(0, &c).unwrap_err().invariant, Invariant::Config);
}

#[test]
fn failure_names_seed_and_replay_command() {
    let mut c = with(ByzantineKind::Silent, 0);
    c.byzantine.nodes.push((1, ByzantineKind::Silent));
    let text = run(42, &c).unwrap_err().to_string();
    assert!(text.contains("seed 42") && text.contains("phalanx sim --seed 42"), "{text}");
}

#[test]
fn restarted_leaders_never_repropose() {
    // Seed 151 once made a restarted leader sign a second proposal for its
    // last view; the core now persists the proposed view first. With the
    // tolerance off, any such proposal is FalseEvidence.
    let mut crashed_runs = 0;
    for seed in 0..300u64 {
        let c = SimConfig::from_seed(seed);
        if !c.crashes && c.crash_all_at_ms.is_none() {
            continue;
        }
        assert!(!c.tolerate_restart_reproposal, "the tolerance is off by default");
        let r = ok(seed, &c);
        assert_eq!(r.evidence.restart_reproposals, 0);
        crashed_runs += 1;
    }
    assert!(crashed_runs > 100, "{crashed_runs} runs with crashes");
}

/// A config crashing every node at once at `at_ms` for `down_ms`.
fn crash_all(mut c: SimConfig, at_ms: u64, down_ms: u64) -> SimConfig {
    c.crash_all_at_ms = Some(at_ms);
    c.crash_all_down_ms = down_ms;
    c
}

#[test]
fn restarting_every_replica_at_once_keeps_safety_and_liveness() {
    // No partition or loss after the restart: commits must resume from the
    // durable certified chains alone, well before the faulty phase ends.
    let c = SimConfig { drop_rate: 0.0, dup_rate: 0.0, ..SimConfig::default() };
    for (seed, at) in [(11, 1_000), (12, 1_500), (13, 2_200)] {
        let r = ok(seed, &crash_all(c.clone(), at, 500));
        assert_eq!(r.faults.crashes, 4, "{r:?}");
        assert!(r.liveness_growth >= c.liveness_blocks_min);
    }
}

#[test]
fn seeds_434_and_771_survive_crashing_everyone() {
    // These seeds lost liveness for good when the core kept certified blocks
    // in memory only: every correct holder of the locked block crashed.
    for seed in [434, 771] {
        let base = SimConfig::from_seed(seed);
        assert!(base.crashes && !base.byzantine.nodes.is_empty(), "{base:?}");
        ok(seed, &base);
        for at in [400, 900, 1_300, 1_700] {
            let r = ok(seed, &crash_all(base.clone(), at, 700));
            assert!(r.faults.crashes >= base.replicas as u64, "{r:?}");
        }
    }
}

#[test]
fn seed_3213_recovers_a_block_certified_by_votes_alone() {
    // The next leader formed QC(15) from three votes without ever receiving
    // the block, and the three voters crashed before learning the QC: every
    // high QC pointed at a block no one held. Voters now persist the block
    // they vote for, so a restarted voter serves it once the QC reaches it.
    let c = SimConfig::from_seed(3213);
    assert!(c.crashes && c.byzantine.nodes.is_empty(), "{c:?}");
    let r = ok(3213, &c);
    assert!(r.faults.crashes > 0 && r.liveness_growth >= c.liveness_blocks_min, "{r:?}");
}

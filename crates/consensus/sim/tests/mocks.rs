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
fn known_core_issue_restart_reproposal_is_visible() {
    // Seed 151 under the earlier default mix made a restarted leader re-propose;
    // look for any seed among a few that shows it when not tolerated.
    let caught = (0..300u64).any(|seed| {
        let mut c = SimConfig::from_seed(seed);
        if !c.crashes {
            return false;
        }
        c.tolerate_restart_reproposal = false;
        matches!(run(seed, &c), Err(f) if f.invariant == Invariant::FalseEvidence)
    });
    assert!(caught, "the restart re-proposal issue seems fixed: make the tolerance default false");
}

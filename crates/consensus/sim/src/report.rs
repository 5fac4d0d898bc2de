//! What a run returns: a report on success, a replayable failure otherwise.

use crate::check::{Invariant, Violation};
use crate::config::{ByzantineMix, SimConfig};
use crate::world::World;
use phalanx_consensus_core::Metrics;
use std::ops::Range;

/// Core metrics summed over the correct nodes (and their earlier incarnations).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricTotals {
    /// `rejected_bad_signature`.
    pub rejected_bad_signature: u64,
    /// Every other `rejected_*` counter.
    pub rejected_other: u64,
    /// `ignored_stale`.
    pub ignored_stale: u64,
    /// `equivocations` detected.
    pub equivocations: u64,
    /// `exec_mismatches`.
    pub exec_mismatches: u64,
    /// `qcs_formed`.
    pub qcs_formed: u64,
    /// `tcs_formed`.
    pub tcs_formed: u64,
    /// `sync_requests_sent`.
    pub sync_requests_sent: u64,
    /// `votes_sent`.
    pub votes_sent: u64,
}

impl MetricTotals {
    /// Adds one replica's counters.
    pub fn add(&mut self, m: &Metrics) {
        self.rejected_bad_signature += m.rejected_bad_signature;
        self.rejected_other += m.rejected_unknown_signer
            + m.rejected_duplicate_signer
            + m.rejected_no_quorum
            + m.rejected_wrong_leader
            + m.rejected_wrong_sender
            + m.rejected_future_view
            + m.rejected_malformed
            + m.rejected_capacity;
        self.ignored_stale += m.ignored_stale;
        self.equivocations += m.equivocations;
        self.exec_mismatches += m.exec_mismatches;
        self.qcs_formed += m.qcs_formed;
        self.tcs_formed += m.tcs_formed;
        self.sync_requests_sent += m.sync_requests_sent;
        self.votes_sent += m.votes_sent;
    }
}

/// Network counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages handed to the network (per recipient node).
    pub sent: u64,
    /// Messages delivered (including duplicates and replays).
    pub delivered: u64,
    /// Messages lost or cut by a partition.
    pub dropped: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Old messages re-injected.
    pub replayed: u64,
    /// Messages a silent node never sent.
    pub silenced: u64,
    /// Messages whose signature a forger altered.
    pub forged: u64,
    /// Proposals an equivocator doubled.
    pub equivocations_sent: u64,
    /// `FetchBlocks` answered from a peer's storage.
    pub storage_fetches: u64,
}

/// Fault episodes that actually happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Partitions started.
    pub partitions: u64,
    /// Replicas crashed.
    pub crashes: u64,
    /// Replicas restarted from their persisted state.
    pub restarts: u64,
}

/// Evidence emitted by correct replicas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvidenceCounts {
    /// `Evidence::ExecMismatch`.
    pub exec_mismatch: u64,
    /// `Evidence::ProposalEquivocation`.
    pub proposal_equivocation: u64,
    /// `Evidence::VoteEquivocation`.
    pub vote_equivocation: u64,
    /// Proposal equivocations by a correct validator that re-proposed after
    /// a restart, counted only when [`SimConfig::tolerate_restart_reproposal`]
    /// is set (otherwise they fail the run as `FalseEvidence`).
    pub restart_reproposals: u64,
}

/// The outcome of a run that violated nothing. Equal seeds give equal reports.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// The configuration run.
    pub config: SimConfig,
    /// Committed height per simulated node (twins are two nodes).
    pub commits: Vec<u64>,
    /// Final view per node.
    pub views: Vec<u64>,
    /// Highest height committed by a correct node.
    pub committed_height: u64,
    /// Correct committed height gained after the faults stopped.
    pub liveness_growth: u64,
    /// Events handled.
    pub steps: u64,
    /// Virtual time at the end.
    pub virtual_ms: u64,
    /// Network counters.
    pub messages: NetStats,
    /// Fault episodes.
    pub faults: FaultCounts,
    /// Evidence from correct replicas.
    pub evidence: EvidenceCounts,
    /// Core metrics of correct replicas.
    pub metrics: MetricTotals,
}

impl SimReport {
    /// The Byzantine mocks that were configured.
    pub fn byzantine(&self) -> &ByzantineMix {
        &self.config.byzantine
    }
}

/// An invariant violation, with what is needed to replay it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seed {seed}: invariant {invariant} violated at step {step}: {details}\n  replay with: phalanx sim --seed {seed}")]
pub struct SimFailure {
    /// The seed.
    pub seed: u64,
    /// The event count at which it was detected.
    pub step: u64,
    /// What was violated.
    pub invariant: Invariant,
    /// Specifics.
    pub details: String,
}

/// Runs one seed with `config` (usually [`SimConfig::from_seed`]) and
/// checks every invariant after every event and liveness at the end.
pub fn run(seed: u64, config: &SimConfig) -> Result<SimReport, SimFailure> {
    let fail = |step: u64, v: Violation| SimFailure {
        seed,
        step,
        invariant: v.invariant,
        details: v.details,
    };
    let mut world = World::new(seed, config).map_err(|v| fail(0, v))?;
    world.run().map_err(|v| fail(world.step, v))?;
    Ok(report(seed, &world))
}

fn report(seed: u64, w: &World) -> SimReport {
    let mut metrics = MetricTotals::default();
    for n in w.nodes.iter().filter(|n| n.correct()) {
        let mut total = n.past;
        if let Some(r) = &n.replica {
            total.add(r.metrics());
        }
        add_totals(&mut metrics, &total);
    }
    let height = w.checker.canonical_height();
    SimReport {
        seed,
        config: w.config.clone(),
        commits: w.nodes.iter().map(|n| n.log.len() as u64).collect(),
        views: w.nodes.iter().map(|n| n.replica.as_ref().map_or(0, |r| r.current_view())).collect(),
        committed_height: height,
        liveness_growth: height - w.height_at_heal.unwrap_or(0),
        steps: w.step,
        virtual_ms: w.now_ms,
        messages: w.stats,
        faults: w.faults,
        evidence: w.evidence,
        metrics,
    }
}

fn add_totals(a: &mut MetricTotals, b: &MetricTotals) {
    a.rejected_bad_signature += b.rejected_bad_signature;
    a.rejected_other += b.rejected_other;
    a.ignored_stale += b.ignored_stale;
    a.equivocations += b.equivocations;
    a.exec_mismatches += b.exec_mismatches;
    a.qcs_formed += b.qcs_formed;
    a.tcs_formed += b.tcs_formed;
    a.sync_requests_sent += b.sync_requests_sent;
    a.votes_sent += b.votes_sent;
}

/// The outcome of many seeds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Seeds run.
    pub runs: u64,
    /// Every failure, in seed order.
    pub failures: Vec<SimFailure>,
    /// Sum of correct committed heights over the passing runs.
    pub blocks_committed: u64,
    /// Sum of handled events over the passing runs.
    pub steps: u64,
}

/// Runs every seed in `seeds` with [`SimConfig::from_seed`], calling
/// `progress` after each; never stops early, so every failure is collected.
pub fn run_many(
    seeds: Range<u64>,
    mut progress: impl FnMut(u64, &Result<SimReport, SimFailure>),
) -> Summary {
    let mut summary = Summary::default();
    for seed in seeds {
        let result = run(seed, &SimConfig::from_seed(seed));
        progress(seed, &result);
        summary.runs += 1;
        match result {
            Ok(r) => {
                summary.blocks_committed += r.committed_height;
                summary.steps += r.steps;
            }
            Err(f) => summary.failures.push(f),
        }
    }
    summary
}

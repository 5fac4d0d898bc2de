//! A deterministic simulator for Phalanx's consensus, in the style of
//! TigerBeetle's VOPR and FoundationDB's simulation testing.
//!
//! One process runs `n` replicas of the **real** [`phalanx_consensus_core`]
//! state machine against a virtual clock (an event queue ordered by
//! `(time, sequence)`), a simulated network that loses, delays, duplicates,
//! reorders, partitions and replays messages, crash/restart episodes (a
//! restarted replica keeps only its persisted safety state, committed log
//! and certified chain; one episode may crash every node at once), a fake builder/executor/payload store, and Byzantine mocks
//! (equivocating leader, twins, silent node, forger, wrong state root).
//! Everything is drawn from one seed: `run(seed, &SimConfig::from_seed(seed))`
//! always does exactly the same thing, so any failure replays with
//! `phalanx sim --seed <seed>`.
//!
//! Invariants are checked as the run goes (agreement between correct
//! replicas, valid certificates on commits, contiguous commits, persist
//! before sign, no safety-state regression, a well-formed durable
//! certified chain, no evidence against correct validators) and at its end (liveness after the faults stop).

mod byzantine;
mod check;
mod config;
mod driver;
mod net;
mod report;
mod world;

pub use check::{CommitChecker, Invariant, Violation};
pub use config::{ByzantineKind, ByzantineMix, SimConfig};
pub use net::{random_split, NetworkModel};
pub use report::{
    run, run_many, EvidenceCounts, FaultCounts, MetricTotals, NetStats, SimFailure, SimReport,
    Summary,
};

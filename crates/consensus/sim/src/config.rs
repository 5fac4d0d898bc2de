//! What one simulation run does: size, faults and Byzantine mocks, all
//! derivable from the seed so a failing seed replays exactly.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A Byzantine behaviour mocked on one validator index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ByzantineKind {
    /// When it leads, signs two different proposals and sends one to each half.
    Equivocator,
    /// Two honest cores share the index and key; the network partitions them apart.
    Twins,
    /// Runs but none of its messages leave.
    Silent,
    /// About half of its messages carry a mutated or wrong-key signature.
    Forger,
    /// Its proposals claim a wrong execution results digest.
    WrongStateRoot,
}

impl ByzantineKind {
    /// Every kind, in a fixed order (the seed indexes into it).
    pub const ALL: [ByzantineKind; 5] = [
        ByzantineKind::Equivocator,
        ByzantineKind::Twins,
        ByzantineKind::Silent,
        ByzantineKind::Forger,
        ByzantineKind::WrongStateRoot,
    ];
}

/// Which validators misbehave and how. At most `f` indices may be listed
/// (twins count as one faulty validator); [`crate::run`] rejects more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByzantineMix {
    /// `(validator index, behaviour)`, indices distinct.
    pub nodes: Vec<(u16, ByzantineKind)>,
    /// The network captures old messages and re-injects them later (no index is faulty).
    pub replay: bool,
}

impl ByzantineMix {
    /// The behaviour of `index`, if it is faulty.
    pub fn kind_of(&self, index: u16) -> Option<ByzantineKind> {
        self.nodes.iter().find(|(i, _)| *i == index).map(|(_, k)| *k)
    }
}

/// One run's parameters. Time is virtual; nothing here depends on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Number of validators `n` (4 or 7 in the default mix).
    pub replicas: usize,
    /// Faulty validators and replay.
    pub byzantine: ByzantineMix,
    /// Virtual duration of the faulty phase.
    pub fault_phase_ms: u64,
    /// Bound on the final, fault-free phase: the run ends as soon as the
    /// committed height grew by `liveness_blocks_min`, and fails if it did not by then.
    pub liveness_phase_ms: u64,
    /// The committed height must grow at least this much during the liveness phase.
    pub liveness_blocks_min: u64,
    /// Hard bound on handled events (a guard against runaway runs).
    pub steps_max: u64,
    /// Probability a message is lost (faulty phase only).
    pub drop_rate: f64,
    /// Probability a message is delivered twice.
    pub dup_rate: f64,
    /// Smallest one-way message latency.
    pub latency_min_ms: u64,
    /// Largest one-way message latency (random latencies reorder messages).
    pub latency_max_ms: u64,
    /// Schedule partition episodes during the faulty phase.
    pub partition: bool,
    /// Schedule crash/restart episodes of correct replicas during the faulty phase.
    pub crashes: bool,
    /// Most crash episodes of single correct replicas.
    pub crash_episodes_max: u32,
    /// Crash every node (Byzantine ones too) at once at this virtual time
    /// of the faulty phase, and restart them all `crash_all_down_ms` later
    /// (a devnet restarting all its validators). Only their durable state
    /// survives: safety state, committed log and certified chain.
    pub crash_all_at_ms: Option<u64>,
    /// How long every node stays down in a crash-all episode.
    pub crash_all_down_ms: u64,
    /// Probability that a block build or execution is slow: it takes
    /// between the base timeout and `slow_work_ms_max` instead of under
    /// 10 ms (a large block on a loaded machine), exercising the
    /// pacemaker's work allowance. 0 draws nothing from the run's
    /// randomness, so runs without slow work replay as before.
    pub slow_work_rate: f64,
    /// Longest slow build or execution.
    pub slow_work_ms_max: u64,
    /// The replicas' base view timeout.
    pub base_timeout_ms: u64,
    /// The replicas' timeout cap.
    pub max_timeout_ms: u64,
    /// Count, instead of failing on, proposal-equivocation evidence against a
    /// correct validator that restarted (reported in
    /// [`crate::EvidenceCounts::restart_reproposals`]). Off by default: the
    /// core persists the last proposed view, so a restarted leader never
    /// signs a second proposal for a view (seed 151 once showed it did).
    /// Only for diagnosing a core that regressed.
    pub tolerate_restart_reproposal: bool,
}

impl Default for SimConfig {
    /// Four honest replicas over a lossy, reordering network, no partitions or crashes.
    fn default() -> Self {
        Self {
            replicas: 4,
            byzantine: ByzantineMix::default(),
            fault_phase_ms: 4_000,
            liveness_phase_ms: 10_000,
            liveness_blocks_min: 3,
            steps_max: 200_000,
            drop_rate: 0.02,
            dup_rate: 0.02,
            latency_min_ms: 10,
            latency_max_ms: 60,
            partition: false,
            crashes: false,
            slow_work_rate: 0.0,
            slow_work_ms_max: 0,
            base_timeout_ms: 250,
            max_timeout_ms: 1_600,
            tolerate_restart_reproposal: false,
            crash_episodes_max: 3,
            crash_all_at_ms: None,
            crash_all_down_ms: 1_000,
        }
    }
}

impl SimConfig {
    /// The scenario a seed stands for: the size, fault rates, partitions,
    /// crashes (one in eight seeds crashes every node at once) and Byzantine
    /// mocks are all drawn from `seed` (on a stream separate from the run's
    /// own randomness).
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_c0f1_9000_0001);
        let replicas = if rng.gen_ratio(1, 8) { 7 } else { 4 };
        let f = (replicas - 1) / 3;
        let faulty = if rng.gen_ratio(1, 4) { 0 } else { rng.gen_range(1..=f) };
        let mut nodes = Vec::with_capacity(faulty);
        while nodes.len() < faulty {
            let index = rng.gen_range(0..replicas as u16);
            let kind = ByzantineKind::ALL[rng.gen_range(0..ByzantineKind::ALL.len())];
            let twin_taken = kind == ByzantineKind::Twins
                && nodes.iter().any(|(_, k)| *k == ByzantineKind::Twins);
            if !twin_taken && nodes.iter().all(|(i, _)| *i != index) {
                nodes.push((index, kind));
            }
        }
        let mut config = Self {
            replicas,
            byzantine: ByzantineMix { nodes, replay: rng.gen_ratio(1, 3) },
            drop_rate: rng.gen_range(0.0..0.1),
            dup_rate: rng.gen_range(0.0..0.05),
            latency_max_ms: rng.gen_range(30..120),
            partition: rng.gen_bool(0.5),
            crashes: rng.gen_bool(0.5),
            ..Self::default()
        };
        // Drawn last so the fields above keep the values earlier versions drew.
        if rng.gen_ratio(1, 8) {
            let end = config.fault_phase_ms;
            config.crash_all_at_ms = Some(rng.gen_range(300..end / 2));
            config.crash_all_down_ms = rng.gen_range(100..end / 2);
        }
        if rng.gen_ratio(1, 4) {
            config.slow_work_rate = 0.05;
            config.slow_work_ms_max = 2 * config.base_timeout_ms;
        }
        config
    }

    /// `f`, the number of faulty validators tolerated.
    pub fn max_faulty(&self) -> usize {
        self.replicas.saturating_sub(1) / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_seed_is_deterministic_and_within_f() {
        for seed in 0..200 {
            let c = SimConfig::from_seed(seed);
            assert_eq!(c, SimConfig::from_seed(seed));
            assert!(c.byzantine.nodes.len() <= c.max_faulty());
            assert!(c.byzantine.nodes.iter().all(|(i, _)| usize::from(*i) < c.replicas));
        }
    }

    #[test]
    fn the_default_mix_covers_every_kind_and_both_sizes() {
        let configs: Vec<SimConfig> = (0..200).map(SimConfig::from_seed).collect();
        for kind in ByzantineKind::ALL {
            assert!(configs.iter().any(|c| c.byzantine.nodes.iter().any(|(_, k)| *k == kind)));
        }
        assert!(configs.iter().any(|c| c.replicas == 7));
        assert!(configs.iter().any(|c| c.partition && c.crashes && c.byzantine.replay));
        assert!(configs
            .iter()
            .any(|c| c.crash_all_at_ms.is_some() && !c.byzantine.nodes.is_empty()));
        assert!(configs.iter().any(|c| c.slow_work_rate > 0.0 && c.partition));
    }
}

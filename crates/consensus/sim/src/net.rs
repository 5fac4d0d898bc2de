//! The simulated network: loss, duplication, random latency (hence
//! reordering) and partitions. Pure decisions over the run's seeded RNG, so
//! the same seed always loses, duplicates and delays the same messages.

use rand::Rng;

/// The network's current behaviour between simulated nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkModel {
    /// Probability a message is lost while `lossy`.
    pub drop_rate: f64,
    /// Probability a delivered message is delivered a second time.
    pub dup_rate: f64,
    /// Smallest latency.
    pub latency_min_ms: u64,
    /// Largest latency (inclusive).
    pub latency_max_ms: u64,
    /// Whether loss is on (turned off for the liveness phase).
    pub lossy: bool,
    /// Group of each node while partitioned; nodes talk only within a group.
    pub groups: Option<Vec<u8>>,
}

impl NetworkModel {
    /// Whether node `a` can currently reach node `b`.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        match &self.groups {
            None => true,
            Some(g) => g.get(a).is_some_and(|ga| g.get(b) == Some(ga)),
        }
    }

    /// The latencies of the copies of one message from `a` to `b`: none
    /// (lost or partitioned), one, or two (duplicated).
    pub fn deliveries(&self, rng: &mut impl Rng, a: usize, b: usize) -> Vec<u64> {
        if !self.connected(a, b) || (self.lossy && rng.gen_bool(self.drop_rate)) {
            return Vec::new();
        }
        let mut out = vec![self.latency(rng)];
        if rng.gen_bool(self.dup_rate) {
            out.push(self.latency(rng));
        }
        out
    }

    /// One random latency in `[latency_min_ms, latency_max_ms]`.
    pub fn latency(&self, rng: &mut impl Rng) -> u64 {
        rng.gen_range(self.latency_min_ms..=self.latency_max_ms.max(self.latency_min_ms))
    }
}

/// A random split of `nodes` nodes into two non-empty groups; `apart` (the
/// twins) always land in different groups.
pub fn random_split(rng: &mut impl Rng, nodes: usize, apart: Option<(usize, usize)>) -> Vec<u8> {
    assert!(nodes >= 2, "a partition needs two nodes");
    loop {
        let mut groups: Vec<u8> = (0..nodes).map(|_| rng.gen_range(0..2)).collect();
        if let Some((a, b)) = apart {
            groups[b] = 1 - groups[a];
        }
        if groups.contains(&0) && groups.contains(&1) {
            return groups;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn model() -> NetworkModel {
        NetworkModel {
            drop_rate: 0.0,
            dup_rate: 0.0,
            latency_min_ms: 5,
            latency_max_ms: 50,
            lossy: true,
            groups: None,
        }
    }

    #[test]
    fn latencies_stay_in_bounds_and_vary() {
        let mut rng = StdRng::seed_from_u64(1);
        let lat: Vec<u64> = (0..500).flat_map(|_| model().deliveries(&mut rng, 0, 1)).collect();
        assert_eq!(lat.len(), 500, "no loss, no duplication");
        assert!(lat.iter().all(|l| (5..=50).contains(l)));
        assert!(lat.windows(2).any(|w| w[0] > w[1]), "random latency reorders");
    }

    #[test]
    fn loss_only_while_lossy_and_duplication_doubles() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut m = NetworkModel { drop_rate: 1.0, ..model() };
        assert!(m.deliveries(&mut rng, 0, 1).is_empty());
        m.lossy = false;
        assert_eq!(m.deliveries(&mut rng, 0, 1).len(), 1);
        let d = NetworkModel { dup_rate: 1.0, ..model() };
        assert_eq!(d.deliveries(&mut rng, 0, 1).len(), 2);
    }

    #[test]
    fn partitions_cut_across_groups_and_heal() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut m = model();
        m.groups = Some(vec![0, 0, 1, 1]);
        assert!(m.connected(0, 1) && m.connected(2, 3));
        assert!(!m.connected(1, 2));
        assert!(m.deliveries(&mut rng, 0, 3).is_empty());
        m.groups = None;
        assert_eq!(m.deliveries(&mut rng, 0, 3).len(), 1);
    }

    #[test]
    fn splits_are_proper_and_keep_twins_apart() {
        let mut rng = StdRng::seed_from_u64(4);
        for _ in 0..100 {
            let g = random_split(&mut rng, 5, Some((1, 4)));
            assert!(g.contains(&0) && g.contains(&1));
            assert_ne!(g[1], g[4]);
        }
    }
}

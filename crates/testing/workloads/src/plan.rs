//! Who sends each measured transaction, what it does and which target it touches.

use crate::rng::{SplitMix64, Zipf};
use crate::{Conflict, WorkloadKind, WorkloadSpec};

/// Target 0 is the hot one under every conflict.
pub(crate) const HOT_TARGET: usize = 0;

/// One measured transaction, before it has a nonce or calldata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Planned {
    /// What it does (never `Mixed`).
    pub kind: WorkloadKind,
    /// Index of its sender among the workload's senders.
    pub sender: usize,
    /// Its recipient / key / pool, [`HOT_TARGET`] for the hot one.
    pub target: usize,
}

/// Plans every measured transaction of `spec` (which must be valid).
pub(crate) fn plan(spec: &WorkloadSpec) -> Vec<Planned> {
    let mut rng = SplitMix64::new(spec.seed);
    let targets = targets(spec, &mut rng);
    (0..spec.txs)
        .map(|i| Planned {
            kind: match spec.kind {
                WorkloadKind::Mixed => WorkloadKind::SINGLE[i % WorkloadKind::SINGLE.len()],
                kind => kind,
            },
            sender: match spec.conflict {
                Conflict::Chain => 0,
                _ => i % spec.accounts,
            },
            target: targets[i],
        })
        .collect()
}

/// The target of every transaction; cold targets are `1 + i`, so they are
/// distinct from each other and from the hot target.
fn targets(spec: &WorkloadSpec, rng: &mut SplitMix64) -> Vec<usize> {
    let n = spec.txs;
    match spec.conflict {
        Conflict::HotKey { ratio } => {
            let hot_count = ((ratio * n as f64).round() as usize).min(n);
            // A seeded Fisher-Yates shuffle picks which transactions are hot,
            // so the hot ones are spread over the block rather than a prefix.
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let mut targets: Vec<usize> = (0..n).map(|i| 1 + i).collect();
            for &i in &order[..hot_count] {
                targets[i] = HOT_TARGET;
            }
            targets
        }
        Conflict::Zipf { s } => {
            let zipf = Zipf::new(n, s);
            (0..n).map(|_| zipf.sample(rng)).collect()
        }
        Conflict::Chain => (0..n).map(|i| 1 + i).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hot_key_uses_the_exact_hot_count() {
        let spec = WorkloadSpec::new(WorkloadKind::Erc20, 100)
            .with_conflict(Conflict::HotKey { ratio: 0.25 })
            .with_seed(3);
        let planned = plan(&spec);
        let hot = planned.iter().filter(|p| p.target == HOT_TARGET).count();
        assert_eq!(hot, 25);
        let cold: HashSet<_> =
            planned.iter().filter(|p| p.target != HOT_TARGET).map(|p| p.target).collect();
        assert_eq!(cold.len(), 75, "cold targets are distinct");
        let senders: HashSet<_> = planned.iter().map(|p| p.sender).collect();
        assert_eq!(senders.len(), 100);
        assert_eq!(planned, plan(&spec), "the seed fixes the plan");
    }

    #[test]
    fn extremes_and_chain() {
        let spec = WorkloadSpec::new(WorkloadKind::KvStore, 20);
        assert!(plan(&spec).iter().all(|p| p.target != HOT_TARGET));
        let full = plan(&spec.with_conflict(Conflict::FULL));
        assert!(full.iter().all(|p| p.target == HOT_TARGET));
        let chain = plan(&crate::fully_dependent(WorkloadKind::KvStore, 20));
        assert!(chain.iter().all(|p| p.sender == 0 && p.target != HOT_TARGET));
    }

    #[test]
    fn mixed_interleaves_kinds_and_senders_wrap() {
        let spec = WorkloadSpec::new(WorkloadKind::Mixed, 10).with_accounts(4);
        let planned = plan(&spec);
        assert_eq!(planned[0].kind, WorkloadKind::Transfer);
        assert_eq!(planned[7].kind, WorkloadKind::Uniswap);
        assert_eq!(planned[9].sender, 1);
    }

    #[test]
    fn zipf_targets_are_in_range() {
        let spec =
            WorkloadSpec::new(WorkloadKind::Erc20, 50).with_conflict(Conflict::Zipf { s: 1.2 });
        assert!(plan(&spec).iter().all(|p| p.target < 50));
    }
}

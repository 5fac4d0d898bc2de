//! Property tests of the validator contract: running a block in any order the
//! schedule allows, against a multi-version store, reads exactly what serial
//! execution reads.

use crate::observed::{read_locs, write_locs, Loc};
use crate::{analyse_graph, Groups, Schedule};
use alloy_primitives::{map::HashMap, Address, B256, U256};
use phalanx_core_types::{ReadKey, ReadValue, ReadWriteSet, WriteOp};
use proptest::prelude::*;

/// Which transaction's version a read of `key` by `tx` sees, given the
/// transactions whose writes are visible: the highest visible writer below
/// `tx` of any of the key's locations (a destroy after a slot write wins).
fn version_seen(
    writers: &HashMap<Loc, Vec<u32>>,
    visible: &dyn Fn(u32) -> bool,
    tx: u32,
    key: &ReadKey,
) -> Option<u32> {
    read_locs(key)
        .filter_map(|loc| writers.get(&loc))
        .flat_map(|ws| ws.iter().copied().filter(|&w| w < tx && visible(w)))
        .max()
}

/// For each transaction, the versions its reads saw, running in an order
/// that respects `schedule`, with ready transactions picked by `seed`.
fn run(sets: &[ReadWriteSet], schedule: &Schedule, mut seed: u64) -> Vec<Vec<Option<u32>>> {
    let mut writers: HashMap<Loc, Vec<u32>> = HashMap::default();
    for (tx, set) in sets.iter().enumerate() {
        for loc in set.writes.iter().flat_map(write_locs) {
            writers.entry(loc).or_default().push(tx as u32);
        }
    }
    let n = sets.len();
    let mut finished = vec![false; n];
    let mut seen = vec![Vec::new(); n];
    for _ in 0..n {
        let ready: Vec<usize> = (0..n)
            .filter(|&t| !finished[t] && schedule.deps(t).iter().all(|&d| finished[d as usize]))
            .collect();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let tx = ready[(seed >> 33) as usize % ready.len()];
        let visible = |w: u32| finished[w as usize];
        seen[tx] = sets[tx]
            .reads
            .iter()
            .map(|(k, _)| version_seen(&writers, &visible, tx as u32, k))
            .collect();
        finished[tx] = true;
    }
    seen
}

fn arb_set() -> impl Strategy<Value = ReadWriteSet> {
    let address = (0u8..3).prop_map(Address::repeat_byte);
    let key = prop_oneof![
        address.clone().prop_map(ReadKey::Account),
        (address.clone(), 0u64..4).prop_map(|(a, s)| ReadKey::Storage(a, U256::from(s))),
    ];
    let write = prop_oneof![
        4 => (address.clone(), 0u64..4).prop_map(|(address, s)| WriteOp::Storage {
            address,
            slot: U256::from(s),
            value: U256::from(1),
        }),
        2 => address.clone().prop_map(|address| WriteOp::Balance { address, value: U256::ZERO }),
        1 => address.prop_map(|address| WriteOp::Destroy { address }),
        1 => Just(WriteOp::Log { index: 0, hash: B256::ZERO }),
    ];
    (proptest::collection::vec(key, 0..4), proptest::collection::vec(write, 0..3)).prop_map(
        |(keys, writes)| {
            let mut reads: Vec<_> =
                keys.into_iter().map(|k| (k, ReadValue::Word(B256::ZERO))).collect();
            reads.sort_by_key(|(k, _)| *k);
            reads.dedup_by_key(|(k, _)| *k);
            ReadWriteSet { reads, writes }
        },
    )
}

proptest! {
    /// The observed graph and PaVM's groups both reproduce serial reads in
    /// any order they allow, and both pass the validator's check.
    #[test]
    fn parallel_runs_read_what_serial_reads(
        sets in proptest::collection::vec(arb_set(), 0..24), seed in any::<u64>(),
    ) {
        let serial = run(&sets, &Schedule::chain(sets.len()), seed);
        let graph = Schedule::from_rw_sets(&sets);
        prop_assert_eq!(&run(&sets, &graph, seed), &serial);
        prop_assert_eq!(graph.check_sufficient(&sets), Ok(()));
        let groups = Groups::from_rw_sets(&sets).to_schedule();
        prop_assert_eq!(&run(&sets, &groups, seed), &serial);
        prop_assert_eq!(groups.check_sufficient(&sets), Ok(()));
    }

    /// The graph never has a longer critical path than the groups, and the
    /// simulated speedup never beats the bound.
    #[test]
    fn graph_at_least_as_parallel_as_groups(sets in proptest::collection::vec(arb_set(), 1..24)) {
        let graph = analyse_graph(&Schedule::from_rw_sets(&sets), None);
        let groups = analyse_graph(&Groups::from_rw_sets(&sets).to_schedule(), None);
        prop_assert!(graph.critical_path_txs <= groups.critical_path_txs);
        for s in graph.speedups.iter().chain(&groups.speedups) {
            prop_assert!(s.simulated <= s.bound + 1e-9 && s.simulated >= 1.0 - 1e-9);
        }
    }
}

/// `sets` without the account record reads of `excluded` and its writes: the
/// copy `*_excluding` avoids making.
fn stripped(sets: &[ReadWriteSet], excluded: Address) -> Vec<ReadWriteSet> {
    let key = ReadKey::Account(excluded);
    sets.iter()
        .map(|set| ReadWriteSet {
            reads: set.reads.iter().filter(|(k, _)| *k != key).cloned().collect(),
            writes: set
                .writes
                .iter()
                .filter(|op| crate::observed::write_address(op) != Some(excluded))
                .cloned()
                .collect(),
        })
        .collect()
}

proptest! {
    /// Leaving an account out while building or checking equals doing so on
    /// copies of the sets without it, for any schedule checked.
    #[test]
    fn excluding_an_account_equals_stripping_it(
        sets in proptest::collection::vec(arb_set(), 0..16), excluded in 0u8..3, other in 0u8..3,
    ) {
        let excluded = Address::repeat_byte(excluded);
        let copies = stripped(&sets, excluded);
        let built = Schedule::from_rw_sets_excluding(&sets, Some(excluded));
        prop_assert_eq!(&built, &Schedule::from_rw_sets(&copies));
        // A schedule built without excluding another account is checked too.
        let checked = Schedule::from_rw_sets_excluding(&sets, Some(Address::repeat_byte(other)));
        for schedule in [&built, &checked, &Schedule::independent(sets.len())] {
            prop_assert_eq!(
                schedule.check_sufficient_excluding(&sets, Some(excluded)),
                schedule.check_sufficient(&copies)
            );
        }
    }
}

/// The harness itself catches a schedule that misses a dependency.
#[test]
fn harness_detects_missing_edge() {
    let slot = ReadKey::Storage(Address::repeat_byte(1), U256::ZERO);
    let write = WriteOp::Storage {
        address: Address::repeat_byte(1),
        slot: U256::ZERO,
        value: U256::from(1),
    };
    let sets = vec![
        ReadWriteSet { reads: vec![], writes: vec![write] },
        ReadWriteSet { reads: vec![(slot, ReadValue::Word(B256::ZERO))], writes: vec![] },
    ];
    let serial = run(&sets, &Schedule::chain(2), 0);
    assert!((0..16).any(|seed| run(&sets, &Schedule::independent(2), seed) != serial));
}

//! Property tests of the validator contract: running a block in any order the
//! schedule allows, against a multi-version store, reads exactly what serial
//! execution reads.

use crate::observed::{read_locs, write_address, write_locs, Loc};
use crate::{analyse_graph, Exempt, Groups, Schedule};
use alloy_primitives::{map::HashMap, Address, B256, U256};
use phalanx_core_types::{Account, ReadKey, ReadValue, ReadWriteSet, WriteOp};
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

/// Runs the `schedule.tx_count()` transactions one at a time in an order
/// that respects `schedule`, ready ones picked by `seed`: `execute(tx,
/// finished)` sees which transactions have finished before `tx`.
fn run_in_order<T: Clone + Default>(
    schedule: &Schedule,
    mut seed: u64,
    mut execute: impl FnMut(usize, &[bool]) -> T,
) -> Vec<T> {
    let n = schedule.tx_count();
    let mut finished = vec![false; n];
    let mut seen = vec![T::default(); n];
    for _ in 0..n {
        let ready: Vec<usize> = (0..n)
            .filter(|&t| !finished[t] && schedule.deps(t).iter().all(|&d| finished[d as usize]))
            .collect();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let tx = ready[(seed >> 33) as usize % ready.len()];
        seen[tx] = execute(tx, &finished);
        finished[tx] = true;
    }
    seen
}

/// For each transaction, the versions its reads saw, running in an order
/// that respects `schedule`, with ready transactions picked by `seed`.
fn run(sets: &[ReadWriteSet], schedule: &Schedule, seed: u64) -> Vec<Vec<Option<u32>>> {
    let mut writers: HashMap<Loc, Vec<u32>> = HashMap::default();
    for (tx, set) in sets.iter().enumerate() {
        for loc in set.writes.iter().flat_map(write_locs) {
            writers.entry(loc).or_default().push(tx as u32);
        }
    }
    run_in_order(schedule, seed, |tx, finished| {
        let visible = |w: u32| finished[w as usize];
        sets[tx].reads.iter().map(|(k, _)| version_seen(&writers, &visible, tx as u32, k)).collect()
    })
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
                .filter(|op| write_address(op) != Some(excluded))
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
        let exempt = Exempt { beneficiary: Some(excluded), credits: &[] };
        let built = Schedule::from_rw_sets_with(&sets, &exempt);
        prop_assert_eq!(&built, &Schedule::from_rw_sets(&copies));
        // A schedule built without excluding another account is checked too.
        let other = Exempt { beneficiary: Some(Address::repeat_byte(other)), credits: &[] };
        let checked = Schedule::from_rw_sets_with(&sets, &other);
        for schedule in [&built, &checked, &Schedule::independent(sets.len())] {
            prop_assert_eq!(
                schedule.check_sufficient_with(&sets, &exempt),
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

/// What one read saw under lazy credits: the record's writer (`None`: the
/// base) and, unless the reader is the location's own credit, the credits
/// above that record.
type SeenWithCredits = (Option<u32>, Vec<u32>);

/// [`run`] with value credits: `exempt`'s credits write an addition to
/// their recipient, kept apart from the records as multi-version memory
/// keeps it. A non-credit account read sees the latest visible record below
/// it and every visible credit between the two; a credit's read of its
/// recipient sees the record only.
fn run_with_credits(
    sets: &[ReadWriteSet],
    exempt: &Exempt<'_>,
    schedule: &Schedule,
    seed: u64,
) -> Vec<Vec<SeenWithCredits>> {
    let credit: Vec<Option<Address>> =
        sets.iter().enumerate().map(|(tx, set)| exempt.credit_of(tx, set)).collect();
    let mut writers: HashMap<Loc, Vec<u32>> = HashMap::default();
    let mut credits: HashMap<Address, Vec<u32>> = HashMap::default();
    for (tx, set) in sets.iter().enumerate() {
        for op in &set.writes {
            match credit[tx] {
                Some(r) if write_address(op) == Some(r) => {
                    credits.entry(r).or_default().push(tx as u32)
                }
                _ => write_locs(op).for_each(|loc| writers.entry(loc).or_default().push(tx as u32)),
            }
        }
    }
    run_in_order(schedule, seed, |tx, finished| {
        let visible = |w: u32| finished[w as usize];
        let seen = |key: &ReadKey| {
            let record = version_seen(&writers, &visible, tx as u32, key);
            let summed = match key {
                ReadKey::Account(a) if credit[tx] != Some(*a) => credits
                    .get(a)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&c| c < tx as u32 && visible(c) && record.is_none_or(|r| c > r))
                    .collect(),
                _ => Vec::new(),
            };
            (record, summed)
        };
        sets[tx].reads.iter().map(|(key, _)| seen(key)).collect()
    })
}

/// A plain transfer's set as the serial executor records it: the sender's
/// and the recipient's records read (the recipient without code), the
/// sender's nonce and both balances written.
fn transfer_set(sender: u8, recipient: u8) -> ReadWriteSet {
    let (s, r) = (Address::repeat_byte(sender), Address::repeat_byte(recipient));
    let account = ReadValue::Account(Some(Account::with_balance(U256::from(1))));
    let mut reads = vec![(ReadKey::Account(s), account), (ReadKey::Account(r), account)];
    reads.sort_by_key(|(k, _)| *k);
    reads.dedup_by_key(|(k, _)| *k);
    let mut writes = vec![
        WriteOp::Balance { address: s, value: U256::ZERO },
        WriteOp::Nonce { address: s, value: 1 },
        WriteOp::Balance { address: r, value: U256::from(2) },
    ];
    writes.sort();
    ReadWriteSet { reads, writes }
}

/// Blocks mixing arbitrary sets, transfers marked as credits to their
/// recipient, and arbitrary sets marked as credits that their sets refute.
fn arb_credit_block() -> impl Strategy<Value = (Vec<ReadWriteSet>, Vec<Option<Address>>)> {
    let item = prop_oneof![
        3 => arb_set().prop_map(|set| (set, None)),
        3 => (0u8..4, 0u8..3).prop_map(|(s, r)| (transfer_set(s, r), Some(Address::repeat_byte(r)))),
        1 => (arb_set(), 0u8..3).prop_map(|(set, r)| (set, Some(Address::repeat_byte(r)))),
    ];
    proptest::collection::vec(item, 0..24).prop_map(|items| items.into_iter().unzip())
}

proptest! {
    /// With lazy credits, the credit-aware graph reproduces serial reads in
    /// any order it allows (records and the credits summed above them) and
    /// passes the check; the credit-blind graph of an older leader passes
    /// the credit-aware check too.
    #[test]
    fn credit_aware_runs_read_what_serial_reads(
        (sets, credits) in arb_credit_block(), seed in any::<u64>(),
    ) {
        let exempt = Exempt { beneficiary: None, credits: &credits };
        let serial = run_with_credits(&sets, &exempt, &Schedule::chain(sets.len()), seed);
        let graph = Schedule::from_rw_sets_with(&sets, &exempt);
        prop_assert_eq!(&run_with_credits(&sets, &exempt, &graph, seed), &serial);
        prop_assert_eq!(graph.check_sufficient_with(&sets, &exempt), Ok(()));
        prop_assert_eq!(Schedule::from_rw_sets(&sets).check_sufficient_with(&sets, &exempt), Ok(()));
        prop_assert!(graph.edge_count() <= Schedule::from_rw_sets(&sets).edge_count() + sets.len() * sets.len());
    }
}

/// Transfers to one recipient are independent under credits; a reader of
/// the recipient waits for all of them, and a credit after a non-credit
/// write waits for that write.
#[test]
fn credits_to_one_recipient_do_not_chain() {
    let r = Address::repeat_byte(9);
    let reader = ReadWriteSet {
        reads: vec![(ReadKey::Account(r), ReadValue::Account(None))],
        writes: vec![WriteOp::Nonce { address: r, value: 1 }],
    };
    let sets = vec![
        transfer_set(1, 9),
        transfer_set(2, 9),
        transfer_set(3, 9),
        reader,
        transfer_set(4, 9),
    ];
    let credits = vec![Some(r), Some(r), Some(r), None, Some(r)];
    let exempt = Exempt { beneficiary: None, credits: &credits };
    let graph = Schedule::from_rw_sets_with(&sets, &exempt);
    let lists: Vec<Vec<u32>> = graph.iter().map(|(_, d)| d.to_vec()).collect();
    assert_eq!(lists, vec![vec![], vec![], vec![], vec![0, 1, 2], vec![3]]);
    assert_eq!(Schedule::from_rw_sets(&sets), Schedule::chain(5));
}

//! Hand-written blocks covering each path: no conflicts, chains, contracts,
//! invalid transactions, the beneficiary and every fallback.

use super::*;
use crate::Fallback;
use phalanx_core_types::{Account, ReadKey, WriteOp};

const ETHER: u128 = 1_000_000_000_000_000_000;

/// Keys 1..=senders hold one ether each; the counter holds 1 in slot 0; an
/// empty account 0xe0 has a stale storage slot.
pub(crate) fn base(senders: u8) -> MemoryState {
    let mut state = MemoryState::default();
    for seed in 1..=senders {
        state.insert_account(key(seed).address(), Account::with_balance(U256::from(ETHER)));
    }
    state.insert_code(counter(), Bytes::from_static(COUNTER));
    state.insert_storage(counter(), U256::ZERO, U256::from(1));
    let empty = Address::repeat_byte(0xe0);
    state.insert_account(empty, Account::default_empty());
    state.insert_storage(empty, U256::ZERO, U256::from(5));
    state
}

trait EmptyAccount {
    fn default_empty() -> Self;
}

impl EmptyAccount for Account {
    fn default_empty() -> Self {
        Account::with_balance(U256::ZERO)
    }
}

fn call_counter(signer: &PrivateKeySigner, nonce: u64) -> RecoveredTx {
    tx(signer, nonce, TxKind::Call(counter()), 0, Bytes::new(), 100_000, 2)
}

const THREADS: [usize; 4] = [1, 2, 4, 8];

#[test]
fn independent_transfers_run_without_fallback() {
    let state = base(12);
    let txs: Vec<_> =
        (1..=12u8).map(|s| transfer(&key(s), 0, Address::repeat_byte(0x80 + s), 1000)).collect();
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.stats.fallback, None);
        assert_eq!(out.stats.threads, threads);
        assert!(out.stats.executions >= 12);
        // The beneficiary's read and write are back where serial records them.
        assert!(out.outcome.rw_sets[0]
            .reads
            .iter()
            .any(|(k, _)| *k == ReadKey::Account(coinbase())));
    }
}

#[test]
fn chained_transactions_of_one_sender_and_contract_calls_match_serial() {
    let state = base(4);
    let mut txs: Vec<_> = (0..10).map(|n| transfer(&key(1), n, key(2).address(), 7)).collect();
    for s in 2..=4u8 {
        for n in 0..3 {
            txs.push(call_counter(&key(s), n));
        }
    }
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.stats.fallback, None);
        let slot = &out.outcome.changes.storage[&counter()].slots[&U256::ZERO];
        assert_eq!(*slot, U256::from(10));
    }
}

#[test]
fn invalid_transactions_are_left_out_like_serial() {
    let state = base(3);
    let poor = key(9);
    let txs = vec![
        transfer(&key(1), 0, key(2).address(), 1),
        transfer(&key(1), 5, key(2).address(), 1), // nonce too high
        transfer(&key(1), 0, key(2).address(), 1), // nonce too low
        transfer(&poor, 0, key(2).address(), 1),   // no funds
        transfer(&key(1), 1, key(3).address(), 1),
        call_counter(&key(2), 0),
    ];
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.included, vec![0, 4, 5]);
        assert_eq!(out.stats.fallback, None);
        assert!(out.rejected[0].reason.contains("nonce too high"), "{:?}", out.rejected);
    }
}

#[test]
fn beneficiary_readers_fall_back_to_serial() {
    let state = base(3);
    let txs = vec![
        transfer(&key(1), 0, key(2).address(), 1),
        transfer(&key(2), 0, coinbase(), 1),
        transfer(&key(3), 0, key(1).address(), 1),
    ];
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.stats.fallback, Some(Fallback::CoinbaseRead { index: 1 }));
    }
}

#[test]
fn block_gas_limit_falls_back_for_leader_and_rejects_for_validator() {
    let state = base(3);
    let txs: Vec<_> = (1..=3u8).map(|s| transfer(&key(s), 0, key(1).address(), 1)).collect();
    let env = env(50_000);
    for threads in THREADS {
        let out = assert_equivalent(&state, &env, &txs, threads);
        assert_eq!(out.stats.fallback, Some(Fallback::BlockGasLimit { index: 2 }));
        assert_eq!(out.included, vec![0, 1]);
    }
}

#[test]
fn zero_fees_to_an_existing_empty_beneficiary_destroy_it() {
    let mut state = base(3);
    state.insert_account(coinbase(), Account::with_balance(U256::ZERO));
    state.insert_storage(coinbase(), U256::from(1), U256::from(1));
    let to = |s: u8| TxKind::Call(key(s).address());
    let txs = vec![
        tx(&key(1), 0, to(2), 1, Bytes::new(), 21_000, 0),
        tx(&key(2), 0, to(3), 1, Bytes::new(), 21_000, 2),
        tx(&key(3), 0, to(1), 1, Bytes::new(), 21_000, 0),
    ];
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.stats.fallback, None);
        let destroy = WriteOp::Destroy { address: coinbase() };
        assert!(out.outcome.rw_sets[0].writes.contains(&destroy));
        assert!(out.outcome.changes.storage[&coinbase()].wiped);
    }
}

#[test]
fn touching_an_empty_account_wipes_it_and_deployments_match() {
    let state = base(3);
    let empty = Address::repeat_byte(0xe0);
    let deploy = tx(&key(3), 0, TxKind::Create, 0, init_code(COUNTER), 200_000, 2);
    let txs = vec![
        transfer(&key(1), 0, empty, 0),
        transfer(&key(2), 0, empty, 5),
        deploy,
        transfer(&key(1), 1, empty, 0),
    ];
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.stats.fallback, None);
        assert!(out.outcome.receipts[2].contract_address.is_some());
    }
}

#[test]
fn small_blocks_run_serially_under_the_threshold() {
    let state = base(2);
    let txs = vec![transfer(&key(1), 0, key(2).address(), 1)];
    let config = ParallelConfig { threads: 4, min_txs_parallel: 2, sequential_bound_percent: 0 };
    let out = execute_leader(&state, &env(30_000_000), &txs, &config).unwrap();
    assert_eq!(out.stats.fallback, Some(Fallback::TooFewTransactions { count: 1 }));
    assert_eq!(out.outcome, serial_leader(&state, &env(30_000_000), &txs).0);
    let empty = execute_leader(&state, &env(30_000_000), &[], &config).unwrap();
    assert!(empty.outcome.receipts.is_empty());
}

/// Long chains (one sender) and a hot storage slot: many aborts and
/// dependency waits with several workers, still the serial result.
#[test]
fn heavy_conflicts_stay_equal_to_serial() {
    let state = base(4);
    let mut txs: Vec<_> = (0..60).map(|n| transfer(&key(1), n, key(2).address(), 7)).collect();
    for s in 2..=4u8 {
        for n in 0..20 {
            txs.push(call_counter(&key(s), n));
        }
    }
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.stats.fallback, None);
        assert!(out.stats.validations >= txs.len() as u64);
    }
}

#[test]
fn a_predicted_chain_runs_serially_and_independent_blocks_do_not() {
    let state = base(4);
    let chain: Vec<_> = (0..40).map(|n| transfer(&key(1), n, key(2).address(), 7)).collect();
    let config = ParallelConfig { threads: 2, min_txs_parallel: 1, ..ParallelConfig::default() };
    // On two threads a block of plain transfers is cheap before anything
    // is predicted; on four, the prediction finds the chain.
    let out = execute_leader(&state, &env(30_000_000), &chain, &config).unwrap();
    let cheap = Fallback::CheapTransactions { plain_percent: 100 };
    assert_eq!(out.stats.fallback, Some(cheap));
    let four = ParallelConfig { threads: 4, ..config };
    let lazy = crate::lazy::lazy_recipients(&chain, env(30_000_000).proposer);
    let predicted = crate::certain_prediction(&chain, &lazy);
    let sequential = Fallback::Sequential { bound_percent: 100 };
    assert_eq!(crate::sequential_bound(&predicted, 4, 125), Some(sequential));
    let out = execute_leader(&state, &env(30_000_000), &chain, &four).unwrap();
    // The serial head start may finish so small a block before the
    // prediction's helper thread has even started.
    let fallback = out.stats.fallback;
    assert!(matches!(fallback, Some(f) if f == sequential || f == Fallback::SerialFinishedFirst));
    assert_eq!(out.outcome, execute_block(&state, &env(30_000_000), &chain).unwrap());
    // Distinct senders to distinct recipients: predicted independent.
    let spread: Vec<_> =
        (1..=4u8).map(|s| transfer(&key(s), 0, Address::repeat_byte(0x70 + s), 7)).collect();
    let spread = [spread.clone(), spread.clone(), spread.clone(), spread].concat();
    let out = execute_leader(&state, &env(30_000_000), &spread, &config).unwrap();
    // On two threads, plain transfers are too cheap to run in parallel.
    assert_eq!(out.stats.fallback, Some(cheap));
    // On more threads they run in parallel.
    let out = execute_leader(&state, &env(30_000_000), &spread, &four).unwrap();
    assert!(
        !matches!(out.stats.fallback, Some(Fallback::Sequential { .. })),
        "{:?}",
        out.stats.fallback
    );
}

#[test]
fn only_blocks_of_plain_transfers_count_as_cheap() {
    let state = base(4);
    let config = ParallelConfig { threads: 2, min_txs_parallel: 1, ..ParallelConfig::default() };
    let mut txs: Vec<_> =
        (1..=4u8).map(|s| transfer(&key(s), 0, Address::repeat_byte(0x70 + s), 7)).collect();
    // Four calls among four transfers: half the block, not cheap.
    txs.extend((1..=4u8).map(|s| call_counter(&key(s), 1)));
    let out = execute_leader(&state, &env(30_000_000), &txs, &config).unwrap();
    assert!(
        !matches!(out.stats.fallback, Some(Fallback::CheapTransactions { .. })),
        "{:?}",
        out.stats.fallback
    );
    // A bound of 0 forces the parallel path, cheap or not.
    let forced = ParallelConfig { sequential_bound_percent: 0, ..config };
    let transfers = &txs[..4];
    assert_eq!(
        execute_leader(&state, &env(30_000_000), transfers, &forced).unwrap().stats.fallback,
        None
    );
}

proptest::proptest! {
    /// The shortcuts in `sequential_bound` (Graham's upper bound on the
    /// makespan, the critical path as a lower bound) never decide
    /// differently from simulating the list schedule.
    #[test]
    fn sequential_bound_shortcut_agrees_with_the_simulation(
        lists in proptest::collection::vec(proptest::collection::vec(0u32..64, 0..4), 1..64),
        threads in 2usize..9,
        min_percent in 100u32..200,
    ) {
        // Keep only edges to earlier transactions, deduplicated and sorted.
        let lists: Vec<Vec<u32>> = lists
            .iter()
            .enumerate()
            .map(|(i, deps)| {
                let mut deps: Vec<u32> = deps.iter().copied().filter(|&d| (d as usize) < i).collect();
                deps.sort_unstable();
                deps.dedup();
                deps
            })
            .collect();
        let graph = phalanx_execution_schedule::Schedule::from_deps(&lists).unwrap();
        let n = graph.tx_count();
        let makespan =
            phalanx_execution_schedule::list_schedule_makespan(&graph, &vec![1; n], threads).max(1);
        let simulated = (n * 100 / makespan as usize) < min_percent as usize;
        proptest::prop_assert_eq!(
            crate::sequential_bound(&graph, threads, min_percent).is_some(),
            simulated
        );
    }
}

//! Lazy value credits (`lazy.rs`): transfers to one hot recipient run
//! without conflicts and still equal serial execution, including when the
//! recipient sends itself, gets code mid-block, or would overflow.

use super::blocks::base;
use super::*;
use crate::engine::{run, Contention, Slot};
use crate::Fallback;
use phalanx_core_types::{Account, ReadKey};

/// Which transactions' final runs deferred their credit, from a two-thread
/// optimistic run of the engine.
fn credited(state: &MemoryState, txs: &[RecoveredTx]) -> Vec<bool> {
    let env = env(30_000_000);
    let lazy = crate::lazy::lazy_recipients(txs, env.proposer);
    let run = run(state, &env, txs, lazy, Contention::new(2, false));
    run.slots.iter().map(|slot| matches!(slot, Slot::Credited(..))).collect()
}

const THREADS: [usize; 4] = [1, 2, 4, 8];

#[test]
fn transfers_to_one_hot_recipient_do_not_conflict() {
    let hot = Address::repeat_byte(0x77);
    for existing in [false, true] {
        let mut state = base(24);
        if existing {
            state.insert_account(hot, Account::with_balance(U256::from(3)));
        }
        let txs: Vec<_> = (1..=24u8).map(|s| transfer(&key(s), 0, hot, u64::from(s))).collect();
        assert!(credited(&state, &txs).iter().all(|c| *c), "every credit is deferred");
        for threads in THREADS {
            let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
            assert_eq!(out.stats.fallback, None);
            assert_eq!(out.stats.deferred_credits, txs.len() as u64);
            // Nothing any transaction reads is written by another: no
            // validation can fail, however the threads interleave.
            assert_eq!(out.stats.aborts, 0, "{threads} threads");
            assert_eq!(out.stats.dependency_waits, 0, "{threads} threads");
            // Each transaction's read of the recipient is the serial one.
            let seen =
                out.outcome.rw_sets[5].reads.iter().find(|(k, _)| *k == ReadKey::Account(hot));
            let before = 1 + 2 + 3 + 4 + 5 + if existing { 3 } else { 0 };
            let expected = phalanx_core_types::ReadValue::Account(Some(Account::with_balance(
                U256::from(before),
            )));
            assert_eq!(seen.map(|(_, v)| *v), Some(expected));
        }
    }
}

#[test]
fn a_hot_recipient_that_also_sends_sees_its_credits() {
    // Key 1 receives from everyone and spends in between: its own
    // transactions read its balance with the credits below them summed.
    let state = base(12);
    let hot = key(1);
    let mut txs = Vec::new();
    let mut hot_nonce = 0;
    for s in 2..=12u8 {
        txs.push(transfer(&key(s), 0, hot.address(), 1_000 * u64::from(s)));
        if s % 3 == 0 {
            txs.push(transfer(&hot, hot_nonce, Address::repeat_byte(0x90 + s), 5));
            hot_nonce += 1;
        }
    }
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.stats.fallback, None);
    }
}

#[test]
fn a_recipient_given_code_mid_block_runs_its_code() {
    // Key 2's first creation lands at `target`; key 1 pays it before the
    // deployment (a plain credit), key 3 after it (the counter's code runs,
    // so that transfer cannot be deferred: validation must catch a lazy
    // first run).
    let state = base(4);
    let target = key(2).address().create(0);
    let txs = vec![
        transfer(&key(1), 0, target, 5),
        tx(&key(2), 0, TxKind::Create, 0, init_code(COUNTER), 200_000, 2),
        transfer(&key(4), 0, Address::repeat_byte(0x55), 1),
        tx(&key(3), 0, TxKind::Call(target), 7, Bytes::new(), 100_000, 2),
        transfer(&key(1), 1, target, 9),
    ];
    // Only the payment before the deployment is deferred: the one after it
    // runs code, and 0x55 is paid once (nothing to gain from deferring).
    assert_eq!(credited(&state, &txs), [true, false, false, false, false]);
    for threads in THREADS {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert_eq!(out.stats.fallback, None);
        assert_eq!(out.included.len(), txs.len());
    }
}

#[test]
fn a_credit_overflowing_the_balance_runs_serially() {
    let mut state = base(3);
    let hot = Address::repeat_byte(0x66);
    state.insert_account(hot, Account::with_balance(U256::MAX - U256::from(1)));
    let txs = vec![transfer(&key(1), 0, hot, 1), transfer(&key(2), 0, hot, 1)];
    for threads in [2, 4] {
        let out = assert_equivalent(&state, &env(30_000_000), &txs, threads);
        assert!(
            matches!(
                out.stats.fallback,
                Some(Fallback::CreditOverflow { index: 1 } | Fallback::ExecutionError { .. })
            ),
            "{:?}",
            out.stats.fallback
        );
        assert!(!out.outcome.receipts[1].success, "serially, the overflowing transfer fails");
    }
}

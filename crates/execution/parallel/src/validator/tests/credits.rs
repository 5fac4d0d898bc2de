//! Lazy value credits on the validator: the leader's credit-aware graph is
//! followed, a credit-blind one is still sufficient, and graphs that miss
//! an edge a credit or a credited account's reader needs are caught.

use super::*;
use crate::tests::{init_code, COUNTER};
use crate::WrongSchedule;

/// Six payments to key 1, which then spends (reading its balance with every
/// credit summed), then two more payments.
fn hot_recipient_block() -> (MemoryState, BlockEnv, Vec<RecoveredTx>) {
    let state = base(10);
    let hot = key(1).address();
    let mut txs: Vec<_> =
        (2..=7u8).map(|s| transfer(&key(s), 0, hot, 100 * u64::from(s))).collect();
    txs.push(transfer(&key(1), 0, Address::repeat_byte(0x51), 5));
    txs.extend((8..=9u8).map(|s| transfer(&key(s), 0, hot, u64::from(s))));
    (state, env(30_000_000), txs)
}

#[test]
fn a_spending_recipient_waits_for_every_credit_and_nothing_else() {
    let (state, env, txs) = hot_recipient_block();
    let (block, schedule) = lead(&state, &env, &txs);
    let BlockSchedule::Graph(graph) = &schedule else { panic!("leader fell back") };
    // The credits are independent; the spender waits for all six; the later
    // credits wait for the spender (it rewrote the record).
    let expected: Vec<Vec<u32>> =
        vec![vec![], vec![], vec![], vec![], vec![], vec![], (0..6).collect(), vec![6], vec![6]];
    assert_eq!(lists(graph), expected);
    for threads in THREADS {
        let out = scheduled(&state, &env, &block, &schedule, threads);
        assert_honest(&out, block.len());
        assert_eq!(out.stats.deferred_credits, 8, "{threads} threads");
    }
}

#[test]
fn a_credit_blind_graph_is_still_followed() {
    let (state, env, txs) = hot_recipient_block();
    let (block, _) = lead(&state, &env, &txs);
    // What a leader that knows nothing of credits publishes: every payment
    // waits for the one before.
    let sets = serial(&state, &env, &block).rw_sets;
    let exempt = Exempt { beneficiary: Some(env.proposer), credits: &[] };
    let blind = Schedule::from_rw_sets_with(&sets, &exempt);
    assert_eq!(blind, Schedule::chain(block.len()));
    for threads in THREADS {
        let out = scheduled(&state, &env, &block, &BlockSchedule::Graph(blind.clone()), threads);
        assert_honest(&out, block.len());
    }
}

#[test]
fn a_reader_missing_one_credit_is_caught() {
    let (state, env, txs) = hot_recipient_block();
    let (block, schedule) = lead(&state, &env, &txs);
    let BlockSchedule::Graph(graph) = &schedule else { panic!("leader fell back") };
    for missing in 0..6u32 {
        let mut deps = lists(graph);
        deps[6].retain(|&d| d != missing);
        let mutated = Schedule::from_deps(&deps).unwrap();
        let sets = serial(&state, &env, &block).rw_sets;
        assert!(check_sufficient(&mutated, &sets, &block, &env).is_err());
        for threads in THREADS {
            let out =
                scheduled(&state, &env, &block, &BlockSchedule::Graph(mutated.clone()), threads);
            let ScheduleVerdict::Wrong { first_bad_tx, reason } = &out.verdict else {
                panic!("missing credit {missing} accepted with {threads} threads")
            };
            assert_eq!(*first_bad_tx, Some(6), "{reason:?}");
        }
    }
}

#[test]
fn a_credit_run_before_the_recipient_got_code_is_caught() {
    // Key 2's creation lands at `target`, which key 1 pays before and key 3
    // and key 1 pay after: the later payments run the counter's code.
    let state = base(4);
    let target = key(2).address().create(0);
    let txs = vec![
        transfer(&key(1), 0, target, 5),
        tx(&key(2), 0, TxKind::Create, 0, init_code(COUNTER), 200_000, 2),
        tx(&key(3), 0, TxKind::Call(target), 7, Bytes::new(), 100_000, 2),
        transfer(&key(1), 1, target, 9),
    ];
    let env = env(30_000_000);
    let (block, schedule) = lead(&state, &env, &txs);
    for threads in THREADS {
        assert_honest(&scheduled(&state, &env, &block, &schedule, threads), block.len());
    }
    // Claiming the payments independent of the creation: on one thread the
    // block order makes the run right, and the judge names the graph wrong;
    // on more, a payment may run as a credit before the code exists, which
    // the value check catches.
    let claim = BlockSchedule::Graph(Schedule::independent(block.len()));
    for threads in THREADS {
        let out = scheduled(&state, &env, &block, &claim, threads);
        let ScheduleVerdict::Wrong { reason, .. } = &out.verdict else {
            panic!("independence accepted with {threads} threads: {:?}", out.verdict)
        };
        assert!(
            matches!(reason, WrongSchedule::StaleRead { .. } | WrongSchedule::Insufficient(_)),
            "{reason:?}"
        );
    }
}

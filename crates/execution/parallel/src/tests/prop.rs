//! Property: on random blocks (transfers among a few accounts, so lazily
//! credited recipients that also send, counter calls and payments,
//! deployments, invalid nonces, EIP-161 touches, the occasional beneficiary
//! transfer and tight block gas limits), parallel execution with 1, 2, 4 and
//! 8 workers equals serial execution.

use super::blocks::base;
use super::*;
use phalanx_core_types::Account;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    /// Value transfer to account `to` (senders first, then fresh addresses).
    Transfer { from: u8, to: u8, value: u64, zero_tip: bool },
    /// A nonce that is off by `delta` (too high) or reused (too low).
    BadNonce { from: u8, too_high: bool },
    /// Call of the storage counter; with a value it is a payment (no input),
    /// a lazy-credit candidate whose recipient has code, so its run must not
    /// defer the credit.
    Counter { from: u8, value: u64 },
    /// Deploys a counter.
    Deploy { from: u8 },
    /// A zero-value transfer to the empty account (EIP-161 deletion).
    TouchEmpty { from: u8 },
    /// A transfer to the beneficiary (forces the serial fallback).
    ToCoinbase { from: u8 },
}

pub(crate) fn op(with_coinbase: bool) -> impl Strategy<Value = Op> {
    let from = 0u8..8;
    let transfer = (from.clone(), 0u8..10, 0u64..3, proptest::bool::weighted(0.2))
        .prop_map(|(from, to, value, zero_tip)| Op::Transfer { from, to, value, zero_tip });
    let coinbase_weight = if with_coinbase { 1 } else { 0 };
    prop_oneof![
        8 => transfer,
        1 => (from.clone(), any::<bool>()).prop_map(|(from, too_high)| Op::BadNonce { from, too_high }),
        3 => from.clone().prop_map(|from| Op::Counter { from, value: 0 }),
        1 => from.clone().prop_map(|from| Op::Counter { from, value: 1 }),
        1 => from.clone().prop_map(|from| Op::Deploy { from }),
        1 => from.clone().prop_map(|from| Op::TouchEmpty { from }),
        coinbase_weight => from.prop_map(|from| Op::ToCoinbase { from }),
    ]
}

/// Signs the block; `senders` keys (1..=senders) send, so fewer senders
/// means more conflicts (a single sender chains every transaction).
pub(crate) fn build(ops: &[Op], senders: u8) -> Vec<RecoveredTx> {
    let mut nonces = vec![0u64; usize::from(senders) + 1];
    let mut txs = Vec::with_capacity(ops.len());
    for op in ops {
        let (from, make): (u8, Box<dyn Fn(u64) -> RecoveredTx>) = match *op {
            Op::Transfer { from, to, value, zero_tip } => {
                let from = from % senders + 1;
                let to = if to < senders {
                    key(to + 1).address()
                } else {
                    Address::repeat_byte(0x80 + to)
                };
                let tip = if zero_tip { 0 } else { 2 };
                let signer = key(from);
                (
                    from,
                    Box::new(move |n| {
                        tx(&signer, n, TxKind::Call(to), value, Bytes::new(), 21_000, tip)
                    }),
                )
            }
            Op::BadNonce { from, too_high } => {
                let from = from % senders + 1;
                let nonce = nonces[usize::from(from)];
                let bad = if too_high || nonce == 0 { nonce + 3 } else { nonce - 1 };
                txs.push(transfer(&key(from), bad, Address::repeat_byte(0x99), 1));
                continue;
            }
            Op::Counter { from, value } => {
                let from = from % senders + 1;
                let signer = key(from);
                (
                    from,
                    Box::new(move |n| {
                        tx(&signer, n, TxKind::Call(counter()), value, Bytes::new(), 100_000, 2)
                    }),
                )
            }
            Op::Deploy { from } => {
                let from = from % senders + 1;
                let signer = key(from);
                (
                    from,
                    Box::new(move |n| {
                        tx(&signer, n, TxKind::Create, 0, init_code(COUNTER), 200_000, 2)
                    }),
                )
            }
            Op::TouchEmpty { from } => {
                let from = from % senders + 1;
                let signer = key(from);
                (from, Box::new(move |n| transfer(&signer, n, Address::repeat_byte(0xe0), 0)))
            }
            Op::ToCoinbase { from } => {
                let from = from % senders + 1;
                let signer = key(from);
                (from, Box::new(move |n| transfer(&signer, n, coinbase(), 1)))
            }
        };
        let nonce = &mut nonces[usize::from(from)];
        txs.push(make(*nonce));
        *nonce += 1;
    }
    txs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn parallel_equals_serial(
        senders in 1u8..7,
        ops in any::<bool>().prop_flat_map(|c| proptest::collection::vec(op(c), 0..32)),
        coinbase_state in 0u8..3,
        tight_gas in proptest::bool::weighted(0.15),
    ) {
        let mut state = base(senders);
        match coinbase_state {
            0 => {}
            1 => state.insert_account(coinbase(), Account::with_balance(U256::ZERO)),
            _ => state.insert_account(coinbase(), Account::with_balance(U256::from(5))),
        }
        let txs = build(&ops, senders);
        let env = env(if tight_gas { 150_000 } else { 30_000_000 });
        for threads in [1, 2, 4, 8] {
            assert_equivalent(&state, &env, &txs, threads);
        }
    }
}

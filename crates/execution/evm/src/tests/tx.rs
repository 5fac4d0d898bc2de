//! `TxRunner`: one transaction over any view equals the serial executor's
//! record of it, with the fee paid or deferred and credited afterwards.

use super::*;
use crate::{credit_beneficiary, BlockExecutor, InvalidStage, Overlay, TxOutcome, TxRunner};
use phalanx_core_types::{ReadKey, ReadValue, ReadWriteSet, StateView};

/// A block mixing transfers, a contract deployment, a storage write with a
/// log, a revert and a zero-value touch.
fn block() -> (MemoryState, Vec<RecoveredTx>) {
    let (alice, bob) = (key(1), key(2));
    let mut state = funded();
    let store = Address::repeat_byte(0xee);
    let reverter = Address::repeat_byte(0xef);
    with_contract(&mut state, store, STORE_AND_LOG);
    with_contract(&mut state, reverter, REVERTER);
    let word = Bytes::from(B256::repeat_byte(7).to_vec());
    let txs = vec![
        transfer(&alice, 0, bob.address(), 5),
        tx1559(&bob, 0, TxKind::Call(store), U256::ZERO, word, 100_000),
        tx1559(&alice, 1, TxKind::Create, U256::ZERO, init_code(STORE_AND_LOG), 200_000),
        tx1559(&bob, 1, TxKind::Call(reverter), U256::ZERO, Bytes::new(), 100_000),
        transfer(&alice, 2, Address::repeat_byte(0x77), 0),
    ];
    (state, txs)
}

#[test]
fn runner_records_what_the_serial_executor_records() {
    let (state, txs) = block();
    let mut serial = BlockExecutor::new(state.clone(), env());
    let mut running = Overlay::new(state);
    // One runner for the whole block: its EVM is reused across views.
    let mut runner = TxRunner::new(env());
    for tx in &txs {
        let TxOutcome::Executed(run) = runner.run(running.clone(), tx).unwrap() else {
            panic!("valid transaction reported invalid");
        };
        let receipt = serial.execute(tx).unwrap().clone();
        let rw_set = run.rw_set();
        assert_eq!(run.receipt(receipt.cumulative_gas_used, rw_set.op_hash()), receipt);
        running.apply_delta(&run.delta);
    }
    let outcome = serial.finish();
    assert_eq!(running.changes(), outcome.changes);
}

#[test]
fn deferred_fee_plus_credit_equals_the_serial_record() {
    let (state, txs) = block();
    let expected = crate::execute_block(state.clone(), &env(), &txs).unwrap();
    let coinbase = env().proposer;
    let mut running = Overlay::new(state);
    let mut runner = TxRunner::new(env()).with_deferred_fee(true);
    for (index, tx) in txs.iter().enumerate() {
        let TxOutcome::Executed(mut run) = runner.run(running.clone(), tx).unwrap() else {
            panic!("valid transaction reported invalid");
        };
        let key = ReadKey::Account(coinbase);
        assert!(run.reads.iter().all(|(k, _)| *k != key), "deferred runs do not read COINBASE");
        let before = running.account(&coinbase).unwrap();
        let credit = credit_beneficiary(coinbase, before, run.beneficiary_fee);
        run.reads.push((key, ReadValue::Account(before)));
        run.writes.extend(credit.write);
        let mut rw_set = ReadWriteSet { reads: run.reads.clone(), writes: run.writes.clone() };
        rw_set.sort_reads();
        rw_set.writes.sort_unstable();
        assert_eq!(rw_set, expected.rw_sets[index], "transaction {index}");
        let mut delta = run.delta;
        if credit.changed {
            delta.accounts.push((coinbase, credit.after));
            if credit.after.is_none() {
                delta.wiped.push(coinbase);
            }
        }
        running.apply_delta(&delta);
    }
    assert_eq!(running.changes(), expected.changes);
}

#[test]
fn runner_reports_invalid_transactions_with_their_stage_and_reads() {
    let state = funded();
    let mut runner = TxRunner::new(env());
    let too_high = transfer(&key(1), 3, Address::repeat_byte(0x77), 1);
    let TxOutcome::Invalid(invalid) = runner.run(&state, &too_high).unwrap() else {
        panic!("nonce 3 on a fresh account must be invalid");
    };
    assert_eq!(invalid.stage, InvalidStage::Evm);
    assert!(invalid.reason.contains("nonce too high"), "{}", invalid.reason);
    assert!(invalid.reads.iter().any(|(k, _)| *k == ReadKey::Account(key(1).address())));
    let max_nonce = transfer(&key(1), u64::MAX, Address::repeat_byte(0x77), 1);
    let TxOutcome::Invalid(invalid) = runner.run(&state, &max_nonce).unwrap() else {
        panic!("EIP-2681");
    };
    assert_eq!(invalid.stage, InvalidStage::Envelope);
    assert!(invalid.reads.is_empty());
}

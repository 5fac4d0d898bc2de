//! Block execution: transfers, invalid transactions, contracts, failures, EIP-161.

use super::*;
use crate::{execute_block, BlockExecutor, ExecError};
use alloy_primitives::{keccak256, Log};
use phalanx_core_types::{ReadKey, ReadValue, StateChanges, StateView, WriteOp, KECCAK_EMPTY};

fn balance(state: &impl StateView, address: Address) -> U256 {
    state.account(&address).unwrap().map(|a| a.balance).unwrap_or_default()
}

#[test]
fn transfer_moves_value_and_pays_priority_fee_to_proposer() {
    let (alice, bob) = (key(1), Address::repeat_byte(0xb0));
    let before = balance(&funded(), alice.address());
    let mut exec = BlockExecutor::new(funded(), env());
    let receipt = exec.execute(&transfer(&alice, 0, bob, 1000)).unwrap().clone();
    assert!(receipt.success);
    assert_eq!(receipt.gas_used, 21_000);
    assert_eq!(receipt.cumulative_gas_used, 21_000);
    // Effective price = min(3 gwei cap, 1 gwei base + 2 gwei tip) = 3 gwei.
    assert_eq!(receipt.effective_gas_price, 3 * GWEI);
    let state = exec.state();
    assert_eq!(balance(state, bob), U256::from(1000));
    let paid = U256::from(21_000u128 * 3 * GWEI + 1000);
    assert_eq!(balance(state, alice.address()), before - paid);
    assert_eq!(state.account(&alice.address()).unwrap().unwrap().nonce, 1);
    assert_eq!(balance(state, env().proposer), U256::from(21_000u128 * 2 * GWEI));

    let outcome = exec.finish();
    assert_eq!(outcome.gas_used, 21_000);
    let writes = &outcome.rw_sets[0].writes;
    assert!(writes.contains(&WriteOp::Nonce { address: alice.address(), value: 1 }));
    assert!(writes.contains(&WriteOp::Balance { address: bob, value: U256::from(1000) }));
    let reads = &outcome.rw_sets[0].reads;
    assert!(reads.iter().any(|(k, _)| *k == ReadKey::Account(alice.address())));
    assert!(reads.iter().any(|(k, _)| *k == ReadKey::Account(bob)));
    // Raw values, sorted by location: bob did not exist before the transfer.
    assert!(reads.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(reads.contains(&(ReadKey::Account(bob), ReadValue::Account(None))));
    assert_eq!(outcome.receipts[0].rw_hash, outcome.rw_sets[0].op_hash());
    assert_eq!(outcome.changes.accounts.len(), 3);
}

#[test]
fn legacy_transactions_with_and_without_chain_id_execute() {
    let alice = key(1);
    let bob = Address::repeat_byte(0xb0);
    let mut exec = BlockExecutor::new(funded(), env());
    exec.execute(&legacy(&alice, 0, bob, U256::from(1), GWEI, Some(CHAIN_ID))).unwrap();
    exec.execute(&legacy(&alice, 1, bob, U256::from(1), GWEI, None)).unwrap();
    let err = exec.execute(&legacy(&alice, 2, bob, U256::from(1), GWEI, Some(99))).unwrap_err();
    assert!(err.to_string().contains("invalid chain id"), "{err}");
    assert_eq!(exec.tx_count(), 2);
}

/// Asserts that `tx` is rejected with a reason containing `needle` and that
/// nothing about the executor changed.
fn assert_rejected(
    exec: &mut BlockExecutor<'_, crate::MemoryState>,
    tx: &RecoveredTx,
    needle: &str,
) {
    let changes: StateChanges = exec.state().changes();
    let (count, gas) = (exec.tx_count(), exec.gas_used());
    match exec.execute(tx) {
        Err(ExecError::InvalidTransaction { hash, reason }) => {
            assert_eq!(hash, tx.hash);
            assert!(reason.contains(needle), "reason {reason:?} lacks {needle:?}");
        }
        other => panic!("expected invalid transaction, got {other:?}"),
    }
    assert_eq!(exec.state().changes(), changes);
    assert_eq!((exec.tx_count(), exec.gas_used()), (count, gas));
}

#[test]
fn invalid_transactions_are_rejected_without_effect() {
    let (alice, poor) = (key(1), key(9));
    let bob = Address::repeat_byte(0xb0);
    let mut env = env();
    env.gas_limit = 50_000;
    let mut exec = BlockExecutor::new(funded(), env);
    exec.execute(&transfer(&alice, 0, bob, 1)).unwrap();

    assert_rejected(
        &mut exec,
        &transfer(&alice, 0, bob, 1),
        "nonce too low: next nonce 1, tx nonce 0",
    );
    assert_rejected(&mut exec, &transfer(&alice, 5, bob, 1), "nonce too high");
    assert_rejected(&mut exec, &transfer(&poor, 0, bob, 1), "insufficient funds");
    let low_gas = tx1559(&alice, 1, TxKind::Call(bob), U256::ZERO, Bytes::new(), 20_000);
    assert_rejected(&mut exec, &low_gas, "intrinsic gas too low: have 20000, want 21000");
    let too_big = tx1559(&alice, 1, TxKind::Call(bob), U256::ZERO, Bytes::new(), 30_000);
    assert_rejected(&mut exec, &too_big, "gas limit reached");
    let cheap = legacy(&alice, 1, bob, U256::ZERO, 1, Some(CHAIN_ID));
    assert_rejected(&mut exec, &cheap, "max fee per gas less than block base fee");
    // The rejected attempts leave the sender's next nonce usable.
    exec.execute(&transfer(&alice, 1, bob, 1)).unwrap();
    assert_eq!(exec.tx_count(), 2);
    assert_eq!(exec.finish().rw_sets.len(), 2);
}

#[test]
fn sender_with_code_is_rejected() {
    let alice = key(1);
    let mut state = funded();
    with_contract(&mut state, alice.address(), LOOP);
    let mut exec = BlockExecutor::new(state, env());
    assert_rejected(&mut exec, &transfer(&alice, 0, Address::ZERO, 1), "sender not an eoa");
}

#[test]
fn deploy_then_call_records_storage_logs_and_code() {
    let alice = key(1);
    let mut exec = BlockExecutor::new(funded(), env());
    let deploy = tx1559(&alice, 0, TxKind::Create, U256::ZERO, init_code(STORE_AND_LOG), 200_000);
    let receipt = exec.execute(&deploy).unwrap().clone();
    assert!(receipt.success);
    let contract = alice.address().create(0);
    assert_eq!(receipt.contract_address, Some(contract));
    let word = B256::with_last_byte(0x2a);
    let call = tx1559(&alice, 1, TxKind::Call(contract), U256::ZERO, word.into(), 100_000);
    let receipt = exec.execute(&call).unwrap().clone();
    assert!(receipt.success);
    assert_eq!(receipt.logs.len(), 1);
    let log: &Log = &receipt.logs[0];
    assert_eq!(log.address, contract);
    assert_eq!(log.topics(), &[B256::with_last_byte(0xaa)]);
    assert_eq!(log.data.data.as_ref(), word.as_slice());
    assert_eq!(exec.state().storage(&contract, &U256::ZERO).unwrap(), U256::from(0x2a));

    let outcome = exec.finish();
    let code_hash = keccak256(STORE_AND_LOG);
    assert_eq!(outcome.changes.code.get(&code_hash).map(|c| c.as_ref()), Some(STORE_AND_LOG));
    assert!(outcome.changes.storage[&contract].wiped, "a new contract's storage starts wiped");
    assert!(outcome.rw_sets[0].writes.contains(&WriteOp::Code { address: contract, code_hash }));
    let writes = &outcome.rw_sets[1].writes;
    let slot = WriteOp::Storage { address: contract, slot: U256::ZERO, value: U256::from(0x2a) };
    assert!(writes.contains(&slot));
    let log_hash = phalanx_core_types::pavm_hash(&alloy_rlp::encode(log_of(&outcome.receipts[1])));
    assert!(writes.contains(&WriteOp::Log { index: 0, hash: log_hash }));
    assert!(outcome.rw_sets[1]
        .reads
        .contains(&(ReadKey::Storage(contract, U256::ZERO), ReadValue::Word(B256::ZERO))));
    assert_ne!(outcome.logs_bloom, alloy_primitives::Bloom::ZERO);
    assert!(writes.windows(2).all(|w| w[0] <= w[1]), "writes are sorted");
}

fn log_of(receipt: &phalanx_core_types::TxReceipt) -> &Log {
    &receipt.logs[0]
}

#[test]
fn revert_fails_with_gas_charged_and_state_rolled_back() {
    let alice = key(1);
    let target = Address::repeat_byte(0xee);
    let mut state = funded();
    with_contract(&mut state, target, REVERTER);
    let mut exec = BlockExecutor::new(state, env());
    let tx = tx1559(&alice, 0, TxKind::Call(target), U256::from(5), Bytes::new(), 100_000);
    let receipt = exec.execute(&tx).unwrap().clone();
    assert!(!receipt.success);
    // 21000 + push4 3 + push1 3 + mstore 3 (+3 memory) + push1 3 + push1 3 + revert 0.
    assert_eq!(receipt.gas_used, 21_018);
    assert!(receipt.logs.is_empty());
    assert_eq!(balance(exec.state(), target), U256::ZERO, "value transfer reverted");
    assert_eq!(exec.state().account(&alice.address()).unwrap().unwrap().nonce, 1);
}

#[test]
fn out_of_gas_consumes_the_whole_limit() {
    let alice = key(1);
    let target = Address::repeat_byte(0xee);
    let mut state = funded();
    with_contract(&mut state, target, LOOP);
    let mut exec = BlockExecutor::new(state, env());
    let tx = tx1559(&alice, 0, TxKind::Call(target), U256::ZERO, Bytes::new(), 50_000);
    let receipt = exec.execute(&tx).unwrap().clone();
    assert!(!receipt.success);
    assert_eq!(receipt.gas_used, 50_000);
}

#[test]
fn touched_empty_accounts_are_deleted() {
    let alice = key(1);
    let empty = Address::repeat_byte(0xe0);
    let absent = Address::repeat_byte(0xe1);
    let mut state = funded();
    state.insert_account(empty, Account { nonce: 0, balance: U256::ZERO, code_hash: KECCAK_EMPTY });
    let mut exec = BlockExecutor::new(state, env());
    exec.execute(&transfer(&alice, 0, empty, 0)).unwrap();
    exec.execute(&transfer(&alice, 1, absent, 0)).unwrap();
    assert_eq!(exec.state().account(&empty).unwrap(), None);
    let outcome = exec.finish();
    assert!(outcome.rw_sets[0].writes.contains(&WriteOp::Destroy { address: empty }));
    assert_eq!(outcome.changes.accounts.get(&empty), Some(&None));
    assert!(outcome.changes.storage[&empty].wiped);
    // Touching an account that never existed writes nothing for it.
    assert!(!outcome.changes.accounts.contains_key(&absent));
    assert!(!outcome.rw_sets[1].writes.contains(&WriteOp::Destroy { address: absent }));
}

#[test]
fn execution_is_deterministic_and_matches_execute_block() {
    let (alice, bob) = (key(1), key(2));
    let txs = vec![
        tx1559(&alice, 0, TxKind::Create, U256::ZERO, init_code(STORE_AND_LOG), 200_000),
        transfer(&bob, 0, alice.address(), 7),
        tx1559(
            &alice,
            1,
            TxKind::Call(alice.address().create(0)),
            U256::ZERO,
            B256::repeat_byte(3).into(),
            90_000,
        ),
    ];
    let a = execute_block(funded(), &env(), &txs).unwrap();
    let b = execute_block(funded(), &env(), &txs).unwrap();
    assert_eq!(a, b);
    let mut exec = BlockExecutor::new(funded(), env());
    for tx in &txs {
        exec.execute(tx).unwrap();
    }
    assert_eq!(exec.finish(), a);
    assert_eq!(a.receipts_root, phalanx_core_types::receipts_root(&a.receipts));
    let hashes: Vec<B256> = a.rw_sets.iter().map(|s| s.op_hash()).collect();
    assert_eq!(a.rw_digest, phalanx_core_types::rw_digest(&hashes));
    assert_eq!(a.gas_used, a.receipts.last().unwrap().cumulative_gas_used);
}

#[test]
fn execute_block_names_the_invalid_transaction() {
    let alice = key(1);
    let txs = vec![transfer(&alice, 0, Address::ZERO, 1), transfer(&alice, 0, Address::ZERO, 1)];
    match execute_block(funded(), &env(), &txs) {
        Err(ExecError::InvalidBlockTransaction { index, reason }) => {
            assert_eq!(index, 1);
            assert!(reason.contains("nonce too low"), "{reason}");
        }
        other => panic!("expected an invalid block, got {other:?}"),
    }
}

#[test]
fn blockhash_reads_are_recorded() {
    let alice = key(1);
    let target = Address::repeat_byte(0xbb);
    let mut state = funded();
    state.insert_block_hash(9, B256::repeat_byte(9));
    // push1 9; blockhash; push1 0; sstore; stop
    with_contract(&mut state, target, &[0x60, 0x09, 0x40, 0x60, 0x00, 0x55, 0x00]);
    let tx = tx1559(&alice, 0, TxKind::Call(target), U256::ZERO, Bytes::new(), 100_000);
    let outcome = execute_block(state, &env(), &[tx]).unwrap();
    assert!(outcome.rw_sets[0]
        .reads
        .contains(&(ReadKey::BlockHash(9), ReadValue::Word(B256::repeat_byte(9)))));
    let stored = U256::from_be_bytes(B256::repeat_byte(9).0);
    assert_eq!(outcome.changes.storage[&target].slots[&U256::ZERO], stored);
}

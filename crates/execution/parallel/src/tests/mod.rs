//! Fixtures and end-to-end tests: parallel execution equals serial execution.

pub(crate) mod blocks;
mod credits;
pub(crate) mod prop;

use crate::{execute_block_parallel, execute_leader, ParallelConfig, ParallelOutcome};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use phalanx_core_types::RecoveredTx;
use phalanx_execution_evm::{execute_block, BlockEnv, BlockExecutor, ExecError, MemoryState};

pub(crate) const CHAIN_ID: u64 = 7;
pub(crate) const GWEI: u128 = 1_000_000_000;

/// The beneficiary of every test block.
pub(crate) fn coinbase() -> Address {
    Address::repeat_byte(0xc0)
}

/// The address of the counter contract in the base state.
pub(crate) fn counter() -> Address {
    Address::repeat_byte(0xcc)
}

/// Runtime: `v = sload(0) + 1; sstore(0, v); mstore(0, v); log0(0, 32); stop`.
pub(crate) const COUNTER: &[u8] = &[
    0x60, 0x00, 0x54, 0x60, 0x01, 0x01, 0x80, 0x60, 0x00, 0x55, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60,
    0x00, 0xa0, 0x00,
];

/// Init code that deploys `runtime` (shorter than 256 bytes).
pub(crate) fn init_code(runtime: &[u8]) -> Bytes {
    let len = u8::try_from(runtime.len()).unwrap();
    let mut code = vec![0x60, len, 0x60, 12, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3];
    code.extend_from_slice(runtime);
    code.into()
}

/// A deterministic key.
pub(crate) fn key(seed: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(seed)).unwrap()
}

pub(crate) fn env(gas_limit: u64) -> BlockEnv {
    BlockEnv {
        height: 10,
        timestamp: 1_700_000_000,
        proposer: coinbase(),
        gas_limit,
        base_fee_per_gas: GWEI as u64,
        prev_randao: B256::repeat_byte(0x42),
        chain_id: CHAIN_ID,
    }
}

/// Signs an EIP-1559 transaction (fee cap 3 gwei, tip `tip_gwei`).
pub(crate) fn tx(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: u64,
    input: Bytes,
    gas_limit: u64,
    tip_gwei: u128,
) -> RecoveredTx {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas_limit.into(),
        max_fee_per_gas: 3 * GWEI,
        max_priority_fee_per_gas: tip_gwei * GWEI,
        to,
        value: U256::from(value),
        access_list: Default::default(),
        input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    RecoveredTx::recover(TxEnvelope::from(tx.into_signed(signature))).unwrap()
}

/// A plain transfer with a 2 gwei tip.
pub(crate) fn transfer(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: u64,
) -> RecoveredTx {
    tx(signer, nonce, TxKind::Call(to), value, Bytes::new(), 21_000, 2)
}

/// The serial leader: a `BlockExecutor` fed every transaction in order.
pub(crate) fn serial_leader(
    state: &MemoryState,
    env: &BlockEnv,
    txs: &[RecoveredTx],
) -> (phalanx_execution_evm::BlockOutcome, Vec<usize>) {
    let mut executor = BlockExecutor::new(state, *env);
    let mut included = Vec::new();
    for (index, tx) in txs.iter().enumerate() {
        match executor.execute(tx) {
            Ok(_) => included.push(index),
            Err(ExecError::InvalidTransaction { .. }) => {}
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    (executor.finish(), included)
}

/// Asserts that the leader and validator paths with `threads` workers equal
/// the serial executor, and returns the leader's outcome.
pub(crate) fn assert_equivalent(
    state: &MemoryState,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    threads: usize,
) -> ParallelOutcome {
    let config = ParallelConfig { threads, min_txs_parallel: 1, sequential_bound_percent: 0 };
    let (expected, expected_included) = serial_leader(state, env, txs);
    let leader = execute_leader(state, env, txs, &config).unwrap();
    assert_eq!(leader.outcome, expected, "leader outcome with {threads} threads");
    assert_eq!(leader.included, expected_included);
    let rejected: Vec<usize> = leader.rejected.iter().map(|r| r.index).collect();
    let all: Vec<usize> = (0..txs.len()).filter(|i| !expected_included.contains(i)).collect();
    assert_eq!(rejected, all);

    let serial = execute_block(state, env, txs);
    let parallel = execute_block_parallel(state, env, txs, &config);
    match (serial, parallel) {
        (Ok(s), Ok(p)) => assert_eq!(p.outcome, s, "validator outcome with {threads} threads"),
        (
            Err(ExecError::InvalidBlockTransaction { index: i, reason: r }),
            Err(ExecError::InvalidBlockTransaction { index: j, reason: q }),
        ) => assert_eq!((i, r), (j, q)),
        (s, p) => panic!("serial {s:?} but parallel {p:?}"),
    }
    leader
}

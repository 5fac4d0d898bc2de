//! Shared fixtures for the executor tests: keys, signed transactions,
//! hand-assembled contracts.

mod block;
mod call;
mod tx;

use crate::{BlockEnv, MemoryState};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use phalanx_core_types::{Account, RecoveredTx};

/// Checks that two views read the same accounts and slots at the addresses
/// `0x00..` `0x03..` (repeated bytes) and slots 0 to 3: the small key space
/// the overlay and delta property tests draw from.
pub(crate) fn same_small_state(
    a: &impl phalanx_core_types::StateView,
    b: &impl phalanx_core_types::StateView,
) -> Result<(), proptest::test_runner::TestCaseError> {
    for byte in 0u8..4 {
        let address = Address::repeat_byte(byte);
        proptest::prop_assert_eq!(a.account(&address).unwrap(), b.account(&address).unwrap());
        for slot in 0u64..4 {
            let slot = U256::from(slot);
            proptest::prop_assert_eq!(
                a.storage(&address, &slot).unwrap(),
                b.storage(&address, &slot).unwrap()
            );
        }
    }
    Ok(())
}

pub(crate) const CHAIN_ID: u64 = 7;
pub(crate) const GWEI: u128 = 1_000_000_000;
pub(crate) const BASE_FEE: u64 = GWEI as u64;

/// Runtime: `sstore(0, calldata[0]); log1(calldata[0], topic 0xaa); stop`.
pub(crate) const STORE_AND_LOG: &[u8] = &[
    0x60, 0x00, 0x35, 0x60, 0x00, 0x55, 0x60, 0x00, 0x35, 0x60, 0x00, 0x52, 0x60, 0xaa, 0x60, 0x20,
    0x60, 0x00, 0xa1, 0x00,
];
/// Runtime: `revert(0xdeadbeef)`.
pub(crate) const REVERTER: &[u8] =
    &[0x63, 0xde, 0xad, 0xbe, 0xef, 0x60, 0x00, 0x52, 0x60, 0x04, 0x60, 0x1c, 0xfd];
/// Runtime: an endless loop (`jumpdest; push1 0; jump`).
pub(crate) const LOOP: &[u8] = &[0x5b, 0x60, 0x00, 0x56];

/// Init code that deploys `runtime` (shorter than 256 bytes).
pub(crate) fn init_code(runtime: &[u8]) -> Bytes {
    let len = u8::try_from(runtime.len()).unwrap();
    let mut code = vec![0x60, len, 0x60, 12, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3];
    assert_eq!(code.len(), 12);
    code.extend_from_slice(runtime);
    code.into()
}

/// A deterministic key.
pub(crate) fn key(seed: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(seed)).unwrap()
}

pub(crate) fn env() -> BlockEnv {
    BlockEnv {
        height: 10,
        timestamp: 1_700_000_000,
        proposer: Address::repeat_byte(0xc0),
        gas_limit: 30_000_000,
        base_fee_per_gas: BASE_FEE,
        prev_randao: B256::repeat_byte(0x42),
        chain_id: CHAIN_ID,
    }
}

/// Signs an EIP-1559 transaction (fee cap 3 gwei, tip 2 gwei).
pub(crate) fn tx1559(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> RecoveredTx {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas_limit.into(),
        max_fee_per_gas: 3 * GWEI,
        max_priority_fee_per_gas: 2 * GWEI,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    RecoveredTx::recover(TxEnvelope::from(tx.into_signed(signature))).unwrap()
}

/// Signs a legacy EIP-155 transaction.
pub(crate) fn legacy(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: U256,
    gas_price: u128,
    chain_id: Option<u64>,
) -> RecoveredTx {
    let tx = TxLegacy {
        chain_id,
        nonce,
        gas_price,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value,
        input: Bytes::new(),
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    RecoveredTx::recover(TxEnvelope::from(tx.into_signed(signature))).unwrap()
}

/// A plain transfer of `value` wei.
pub(crate) fn transfer(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: u64,
) -> RecoveredTx {
    tx1559(signer, nonce, TxKind::Call(to), U256::from(value), Bytes::new(), 21_000)
}

/// A state where keys 1 and 2 hold 1 ether each.
pub(crate) fn funded() -> MemoryState {
    let mut state = MemoryState::default();
    for seed in [1, 2] {
        let ether = U256::from(10u128.pow(18));
        state.insert_account(key(seed).address(), Account::with_balance(ether));
    }
    state
}

/// Puts `runtime` at `address` in `state`.
pub(crate) fn with_contract(state: &mut MemoryState, address: Address, runtime: &[u8]) {
    state.insert_code(address, Bytes::copy_from_slice(runtime));
}

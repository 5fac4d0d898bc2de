//! Tests of the store as a whole, on real RocksDB databases in temp dirs.

mod blocks;
mod roots;
mod state;
mod verify;

use crate::{PreparedState, Store, StoreOptions};
use alloy_consensus::{SignableTransaction, TxLegacy};
// alloy-consensus 0.3 signs with the (since deprecated) `Signature` type.
#[allow(deprecated)]
use alloy_primitives::Signature;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use phalanx_core_types::{
    receipts_root, rw_digest, transactions_root, Account, Block, Genesis, GenesisAccount, Header,
    StateChanges, StorageChanges, TxEnvelope, TxReceipt, Validator, HEADER_VERSION,
};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) const CHAIN_ID: u64 = 7777;
pub(crate) const TRANSFER_GAS: u64 = 21_000;

pub(crate) fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// A genesis with two funded accounts, one of them a contract with storage.
pub(crate) fn genesis() -> Genesis {
    let mut alloc = BTreeMap::new();
    alloc.insert(
        addr(1),
        GenesisAccount { balance: U256::from(1_000_000u64), ..Default::default() },
    );
    let storage = [(B256::with_last_byte(1), B256::with_last_byte(42))].into_iter().collect();
    let contract = GenesisAccount {
        balance: U256::from(5u64),
        nonce: 1,
        code: Some(Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xf3])),
        storage,
    };
    alloc.insert(addr(2), contract);
    Genesis {
        chain_id: CHAIN_ID,
        timestamp: 1_700_000_000,
        gas_limit: 30_000_000,
        base_fee_per_gas: 0,
        validators: vec![Validator {
            name: "v0".into(),
            address: addr(0xaa),
            consensus_key: format!("0x{}", "01".repeat(32)),
        }],
        alloc,
    }
}

/// Options for tests: durable writes are kept on (the default) except where
/// a test commits many blocks.
pub(crate) fn open(path: &Path) -> Store {
    Store::open(path, StoreOptions::default()).expect("open store")
}

/// A store with the test genesis committed.
pub(crate) fn open_with_genesis(path: &Path) -> Store {
    let store = open(path);
    store.init_genesis(&genesis()).expect("genesis");
    store
}

/// A signed legacy transfer (the signature is a fixed test value, which is
/// all storage needs: it hashes and encodes transactions, never recovers them).
#[allow(deprecated)]
pub(crate) fn transfer(nonce: u64) -> TxEnvelope {
    let tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: 1,
        gas_limit: TRANSFER_GAS as u128,
        to: TxKind::Call(addr(9)),
        value: U256::from(1u64),
        input: Bytes::new(),
    };
    // EIP-155 parity so that the chain id survives an encode/decode round trip.
    let signature = Signature::test_signature().with_chain_id(CHAIN_ID);
    TxEnvelope::Legacy(tx.into_signed(signature))
}

/// Receipts of successful transfers, one per transaction.
pub(crate) fn receipts_for(txs: &[TxEnvelope]) -> Vec<TxReceipt> {
    (0..txs.len() as u64)
        .map(|i| TxReceipt {
            tx_type: 0,
            success: true,
            cumulative_gas_used: TRANSFER_GAS * (i + 1),
            gas_used: TRANSFER_GAS,
            effective_gas_price: 1,
            logs: vec![],
            rw_hash: B256::with_last_byte(i as u8),
            contract_address: None,
        })
        .collect()
}

/// The next block on top of the store's head carrying `txs` and the state root of `prepared`.
pub(crate) fn next_block(store: &Store, txs: Vec<TxEnvelope>, prepared: &PreparedState) -> Block {
    let head = store.head().expect("genesis committed");
    let receipts = receipts_for(&txs);
    let header = Header {
        version: HEADER_VERSION,
        chain_id: CHAIN_ID,
        height: head.height + 1,
        view: 0,
        proposer: addr(0xaa),
        parent_hash: head.hash,
        transactions_root: transactions_root(&txs),
        state_root: prepared.state_root,
        receipts_root: receipts_root(&receipts),
        rw_digest: rw_digest(receipts.iter().map(|r| &r.rw_hash)),
        schedule_hash: keccak256([]),
        logs_bloom: Default::default(),
        gas_used: receipts.last().map_or(0, |r| r.cumulative_gas_used),
        gas_limit: 30_000_000,
        base_fee_per_gas: 0,
        timestamp: 1_700_000_000 + head.height + 1,
    };
    Block { header, transactions: txs, schedule: Bytes::new() }
}

/// Prepares, builds and commits the next block.
pub(crate) fn commit(store: &Store, changes: &StateChanges, txs: Vec<TxEnvelope>) -> Block {
    let height = store.next_height();
    let prepared = store.prepare_state(height, changes).expect("prepare");
    let block = next_block(store, txs, &prepared);
    let receipts = receipts_for(&block.transactions);
    store.commit_block(&block, &receipts, prepared).expect("commit");
    block
}

/// Changes setting `address` to `balance` (nonce 0, no code).
pub(crate) fn set_balance(address: Address, balance: u64) -> StateChanges {
    let mut changes = StateChanges::default();
    changes.accounts.insert(address, Some(Account::with_balance(U256::from(balance))));
    changes
}

/// Changes writing `slots` of `address` (creating the account if needed).
pub(crate) fn set_slots(address: Address, wiped: bool, slots: &[(u64, u64)]) -> StateChanges {
    let mut changes = StateChanges::default();
    let slots = slots.iter().map(|(k, v)| (U256::from(*k), U256::from(*v))).collect();
    changes.storage.insert(address, StorageChanges { wiped, slots });
    changes
}

//! A small deterministic chain: signed transactions of every common type,
//! receipts with logs, and state.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_network::TxSignerSync;
use alloy_primitives::{keccak256, Address, Bloom, Bytes, Log, LogData, TxKind, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use phalanx_core_types::{
    transactions_root, Account, Block, Header, RecoveredTx, TxReceipt, HEADER_VERSION,
};

use super::mock::{MemState, MockBackend};

pub const CHAIN_ID: u64 = 1337;
pub const BASE_FEE: u64 = 7;
pub const CONTRACT_A: Address = Address::repeat_byte(0xaa);
pub const CONTRACT_B: Address = Address::repeat_byte(0xbb);
pub const CREATED: Address = Address::repeat_byte(0xcc);
pub const RECIPIENT: Address = Address::repeat_byte(0x11);
pub const PROPOSER: Address = Address::repeat_byte(0x99);
pub const T1: B256 = B256::repeat_byte(0x01);
pub const T2: B256 = B256::repeat_byte(0x02);
pub const T3: B256 = B256::repeat_byte(0x03);

/// The deterministic test signer.
pub fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).expect("valid key")
}

#[allow(deprecated)]
fn sign<T: SignableTransaction<alloy_primitives::Signature>>(
    mut tx: T,
) -> alloy_consensus::Signed<T> {
    let sig = signer().sign_transaction_sync(&mut tx).expect("signing works");
    tx.into_signed(sig)
}

/// An EIP-155 legacy transfer.
pub fn legacy_tx(nonce: u64) -> TxEnvelope {
    sign(TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: 20,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(1_000),
        input: Bytes::new(),
    })
    .into()
}

/// An EIP-2930 call with an access list.
pub fn eip2930_tx(nonce: u64) -> TxEnvelope {
    let access_list = AccessList(vec![AccessListItem {
        address: CONTRACT_A,
        storage_keys: vec![B256::with_last_byte(1)],
    }]);
    sign(TxEip2930 {
        chain_id: CHAIN_ID,
        nonce,
        gas_price: 30,
        gas_limit: 100_000,
        to: TxKind::Call(CONTRACT_A),
        value: U256::ZERO,
        access_list,
        input: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
    })
    .into()
}

/// An EIP-1559 transaction (`to == None` creates a contract).
pub fn eip1559_tx(nonce: u64, to: Option<Address>) -> TxEnvelope {
    sign(TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 50,
        max_priority_fee_per_gas: 2,
        to: to.map_or(TxKind::Create, TxKind::Call),
        value: U256::ZERO,
        access_list: AccessList::default(),
        input: Bytes::from_static(&[0x60, 0x00]),
    })
    .into()
}

pub fn log(address: Address, topics: &[B256], data: &[u8]) -> Log {
    Log { address, data: LogData::new_unchecked(topics.to_vec(), Bytes::copy_from_slice(data)) }
}

/// A receipt; cumulative gas is filled in by [`block`].
pub fn receipt(tx: &TxEnvelope, gas_used: u64, price: u128, logs: Vec<Log>) -> TxReceipt {
    TxReceipt {
        tx_type: tx.tx_type() as u8,
        success: true,
        cumulative_gas_used: 0,
        gas_used,
        effective_gas_price: price,
        logs,
        rw_hash: keccak256(tx.tx_hash()),
        contract_address: None,
    }
}

/// A block at `height` after `parent` holding `txs`, with the header
/// committing to `receipts` (whose cumulative gas is filled in).
pub fn block(
    height: u64,
    parent: B256,
    txs: Vec<TxEnvelope>,
    mut receipts: Vec<TxReceipt>,
) -> (Block, Vec<TxReceipt>) {
    let mut cumulative = 0;
    let mut bloom = Bloom::default();
    for r in &mut receipts {
        cumulative += r.gas_used;
        r.cumulative_gas_used = cumulative;
        bloom.accrue_bloom(&r.bloom());
    }
    let header = Header {
        version: HEADER_VERSION,
        chain_id: CHAIN_ID,
        height,
        view: 0,
        proposer: PROPOSER,
        parent_hash: parent,
        transactions_root: transactions_root(&txs),
        state_root: B256::repeat_byte(0x5a),
        receipts_root: phalanx_core_types::receipts_root(&receipts),
        rw_digest: B256::repeat_byte(0x7d),
        schedule_hash: keccak256([]),
        logs_bloom: bloom,
        gas_used: cumulative,
        gas_limit: 30_000_000,
        base_fee_per_gas: BASE_FEE,
        timestamp: 1_700_000_000 + height,
    };
    (Block { header, transactions: txs, schedule: Bytes::new() }, receipts)
}

/// The test chain:
/// - block 0: genesis, empty;
/// - block 1: legacy transfer (no logs), 2930 call (two logs from A: [T1,T2]
///   and [T1]), 1559 creation (one log from B: [T3]);
/// - block 2: 1559 call (one log from A: [T2]).
///
/// The pool holds one 1559 transaction with nonce 4.
pub fn chain() -> MockBackend {
    let (genesis, r0) = block(0, B256::ZERO, vec![], vec![]);
    let txs1 = vec![legacy_tx(0), eip2930_tx(1), eip1559_tx(2, None)];
    let mut creation = receipt(&txs1[2], 50_000, 9, vec![log(CONTRACT_B, &[T3], &[3])]);
    creation.contract_address = Some(CREATED);
    let receipts1 = vec![
        receipt(&txs1[0], 21_000, 20, vec![]),
        receipt(
            &txs1[1],
            40_000,
            30,
            vec![log(CONTRACT_A, &[T1, T2], &[1]), log(CONTRACT_A, &[T1], &[2])],
        ),
        creation,
    ];
    let (b1, r1) = block(1, genesis.hash(), txs1, receipts1);
    let txs2 = vec![eip1559_tx(3, Some(CONTRACT_A))];
    let receipts2 = vec![receipt(&txs2[0], 30_000, 9, vec![log(CONTRACT_A, &[T2], &[4])])];
    let (b2, r2) = block(2, b1.hash(), txs2, receipts2);

    let mut state = MemState::default();
    let sender = signer().address();
    state.accounts.insert(
        sender,
        Account {
            nonce: 4,
            balance: U256::from(10u64.pow(18)),
            ..Account::with_balance(U256::ZERO)
        },
    );
    let code = Bytes::from_static(&[0x60, 0x01, 0x60, 0x00]);
    let code_hash = keccak256(&code);
    state.accounts.insert(CONTRACT_A, Account { nonce: 1, balance: U256::ZERO, code_hash });
    state.code.insert(code_hash, code);
    state.storage.insert((CONTRACT_A, U256::from(1)), U256::from(0xabcdu64));

    let mut backend = MockBackend::new(vec![genesis, b1, b2], vec![r0, r1, r2], state);
    let pooled = RecoveredTx::recover(eip1559_tx(4, Some(RECIPIENT))).expect("recovers");
    backend.pool.insert(pooled.hash, pooled);
    backend
}

/// The method table over `backend` with `config`'s limits.
pub fn module(
    backend: MockBackend,
    config: &crate::RpcConfig,
) -> jsonrpsee::RpcModule<crate::EthRpc> {
    crate::rpc_module(config, std::sync::Arc::new(backend))
}

/// Calls `method` in-process; `Err` holds the JSON-RPC error object.
pub async fn call(
    module: &jsonrpsee::RpcModule<crate::EthRpc>,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    let request =
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (response, _) =
        module.raw_json_request(&request.to_string(), 1).await.expect("valid request");
    let mut response: serde_json::Value = serde_json::from_str(&response).expect("JSON response");
    match response.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => Err(response["error"].take()),
    }
}

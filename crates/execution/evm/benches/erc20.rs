//! ERC20 transfers: Phalanx's `BlockExecutor` (recording, overlay, receipts,
//! digests) against plain revm over a `CacheDB` (no recording), same block.
//!
//! The token is OpenZeppelin's ERC20 from `contracts/artifacts/ERC20.json`.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use phalanx_core_types::{Account, RecoveredTx};
use phalanx_execution_evm::{execute_block, BlockEnv, BlockExecutor, MemoryState};
use revm::db::{CacheDB, EmptyDB};
use revm::primitives::{AccountInfo, BlobExcessGasAndPrice, SpecId, TxEnv};
use revm::{DatabaseCommit, Evm};
use std::hint::black_box;

const CHAIN_ID: u64 = 1337;
const BLOCK_TXS: usize = 200;
const ARTIFACT: &str = include_str!("../../../../contracts/artifacts/ERC20.json");

fn env() -> BlockEnv {
    BlockEnv {
        height: 1,
        timestamp: 1_700_000_000,
        proposer: Address::repeat_byte(0xc0),
        gas_limit: 1_000_000_000,
        base_fee_per_gas: 7,
        prev_randao: B256::ZERO,
        chain_id: CHAIN_ID,
    }
}

fn signer(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::from(U256::from(i + 1))).expect("valid key")
}

fn sign(key: &PrivateKeySigner, nonce: u64, to: TxKind, input: Bytes, gas: u64) -> RecoveredTx {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas.into(),
        max_fee_per_gas: 100,
        max_priority_fee_per_gas: 1,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).expect("signing works");
    RecoveredTx::recover(TxEnvelope::from(tx.into_signed(sig))).expect("valid signature")
}

fn word(value: U256) -> [u8; 32] {
    value.to_be_bytes()
}

/// `constructor(string name, string symbol, uint256 supply)` with short strings.
fn deploy_input() -> Bytes {
    let artifact: serde_json::Value = serde_json::from_str(ARTIFACT).expect("artifact is json");
    let hex = artifact["bytecode"].as_str().expect("bytecode field");
    let mut code = alloy_primitives::hex::decode(hex).expect("bytecode is hex");
    code.extend(word(U256::from(0x60)));
    code.extend(word(U256::from(0xa0)));
    code.extend(word(U256::MAX));
    for text in ["Phalanx", "PHX"] {
        code.extend(word(U256::from(text.len())));
        let mut padded = [0u8; 32];
        padded[..text.len()].copy_from_slice(text.as_bytes());
        code.extend(padded);
    }
    code.into()
}

fn transfer_input(to: Address, amount: u64) -> Bytes {
    let mut input = vec![0xa9, 0x05, 0x9c, 0xbb];
    input.extend(B256::left_padding_from(to.as_slice()));
    input.extend(word(U256::from(amount)));
    input.into()
}

struct Fixture {
    state: MemoryState,
    cache_db: CacheDB<EmptyDB>,
    block: Vec<RecoveredTx>,
}

/// Deploys the token, hands tokens to `BLOCK_TXS` senders, and prepares a
/// block in which each sender transfers to a fresh address.
fn fixture() -> Fixture {
    let deployer = signer(0);
    let ether = U256::from(10u128.pow(18));
    let mut genesis = MemoryState::default();
    let mut cache_db = CacheDB::new(EmptyDB::default());
    let senders: Vec<_> = (1..=BLOCK_TXS).map(signer).collect();
    for key in std::iter::once(&deployer).chain(&senders) {
        genesis.insert_account(key.address(), Account::with_balance(ether));
        cache_db.insert_account_info(key.address(), AccountInfo::from_balance(ether));
    }
    let token = deployer.address().create(0);
    let mut setup = vec![sign(&deployer, 0, TxKind::Create, deploy_input(), 3_000_000)];
    for (i, key) in senders.iter().enumerate() {
        let input = transfer_input(key.address(), 1_000_000);
        setup.push(sign(&deployer, i as u64 + 1, TxKind::Call(token), input, 100_000));
    }
    let outcome = execute_block(&genesis, &env(), &setup).expect("setup block is valid");
    assert!(outcome.receipts.iter().all(|r| r.success), "setup transactions succeed");
    genesis.apply(&outcome.changes);
    run_plain(&mut cache_db, &setup);

    let block = senders
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let to = Address::from_word(B256::from(U256::from(1_000_000 + i)));
            sign(key, 0, TxKind::Call(token), transfer_input(to, 1), 100_000)
        })
        .collect();
    Fixture { state: genesis, cache_db, block }
}

fn fill(tx_env: &mut TxEnv, tx: &RecoveredTx) {
    let TxEnvelope::Eip1559(signed) = &tx.tx else { unreachable!("bench uses EIP-1559") };
    let t = signed.tx();
    tx_env.caller = tx.sender;
    tx_env.gas_limit = t.gas_limit as u64;
    tx_env.gas_price = U256::from(t.max_fee_per_gas);
    tx_env.gas_priority_fee = Some(U256::from(t.max_priority_fee_per_gas));
    tx_env.transact_to = t.to;
    tx_env.value = t.value;
    tx_env.data = t.input.clone();
    tx_env.nonce = Some(t.nonce);
    tx_env.chain_id = Some(t.chain_id);
}

/// Plain revm: one Evm per block over a CacheDB, commit after each transaction.
fn run_plain(db: &mut CacheDB<EmptyDB>, txs: &[RecoveredTx]) {
    let env = env();
    let mut evm = Evm::builder()
        .with_db(db)
        .with_spec_id(SpecId::CANCUN)
        .modify_cfg_env(|cfg| cfg.chain_id = CHAIN_ID)
        .modify_block_env(|block| {
            block.number = U256::from(env.height);
            block.coinbase = env.proposer;
            block.timestamp = U256::from(env.timestamp);
            block.gas_limit = U256::from(env.gas_limit);
            block.basefee = U256::from(env.base_fee_per_gas);
            block.prevrandao = Some(env.prev_randao);
            block.blob_excess_gas_and_price = Some(BlobExcessGasAndPrice::new(0));
        })
        .build();
    for tx in txs {
        fill(evm.tx_mut(), tx);
        let outcome = evm.transact().expect("valid transaction");
        assert!(outcome.result.is_success());
        evm.db_mut().commit(outcome.state);
    }
}

fn bench(c: &mut Criterion) {
    let fixture = fixture();
    let mut group = c.benchmark_group("erc20_block");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.bench_function("phalanx_block_executor", |b| {
        b.iter(|| {
            let mut exec = BlockExecutor::new(&fixture.state, env());
            for tx in &fixture.block {
                let receipt = exec.execute(tx).expect("valid transaction");
                assert!(receipt.success);
            }
            black_box(exec.finish())
        })
    });
    group.bench_function("plain_revm_cachedb", |b| {
        b.iter_batched(
            || fixture.cache_db.clone(),
            |mut db| {
                run_plain(&mut db, &fixture.block);
                db
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

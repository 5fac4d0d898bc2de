//! Times the two phases of a block commit on blocks shaped like ERC-20
//! transfer blocks: phase one (`Store::prepare_state`: flat-state writes and
//! the JMT update) and phase two (`Store::commit_block`: the write batch,
//! unsynced). Prints the median of each over the blocks.
//!
//! `cargo run --release -p phalanx-storage-rocksdb --example commit_cost`;
//! `HOLDERS` (token holders = funded accounts, default 20,000), `TXS`
//! (transfers per block, default 500) and `BLOCKS` (default 40) resize it.
//! Each transfer changes its sender's account and two token slots, as an
//! OpenZeppelin ERC-20 `transfer` with a fee-paying sender does.
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use phalanx_core_types::{
    receipts_root, rw_digest, transactions_root, Account, Block, Genesis, GenesisAccount, Header,
    StateChanges, StorageChanges, Validator, HEADER_VERSION, KECCAK_EMPTY,
};
use phalanx_storage_rocksdb::{Store, StoreOptions};
use std::collections::BTreeMap;
use std::time::Instant;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const TOKEN: Address = Address::repeat_byte(0xee);
const PROPOSER: Address = Address::repeat_byte(0xaa);
const BALANCE: u64 = 1 << 40;

fn holder(i: u64) -> Address {
    Address::left_padding_from(&(i + 1000).to_be_bytes())
}

/// The token slot of holder `i` (any fixed spread of keys will do).
fn balance_slot(i: u64) -> U256 {
    U256::from_be_bytes(keccak256(i.to_be_bytes()).0)
}

/// `holders` funded accounts and a token contract with one slot per holder.
fn genesis(holders: u64) -> Genesis {
    let mut alloc = BTreeMap::new();
    let mut storage = BTreeMap::new();
    for i in 0..holders {
        let funded = GenesisAccount { balance: U256::from(BALANCE), ..Default::default() };
        alloc.insert(holder(i), funded);
        storage.insert(B256::from(balance_slot(i)), B256::with_last_byte(1));
    }
    let code = Some(Bytes::from_static(&[0x00]));
    alloc.insert(TOKEN, GenesisAccount { code, storage, ..Default::default() });
    let validator = Validator {
        name: "v0".into(),
        address: PROPOSER,
        consensus_key: format!("0x{}", "01".repeat(32)),
    };
    Genesis {
        chain_id: 7777,
        timestamp: 1,
        gas_limit: 30_000_000,
        base_fee_per_gas: 0,
        validators: vec![validator],
        alloc,
    }
}

/// Block `b`'s changes: `txs` transfers between pseudo-randomly chosen holders.
fn block_changes(b: u64, txs: u64, nonces: &mut [u64]) -> StateChanges {
    let holders = nonces.len() as u64;
    let mut changes = StateChanges::default();
    let mut slots = BTreeMap::new();
    for t in 0..txs {
        let from = (b * 7919 + t * 104_729) % holders;
        let to = (from * 31 + 17) % holders;
        nonces[from as usize] += 1;
        let nonce = nonces[from as usize];
        let account = Account { nonce, balance: U256::from(BALANCE), code_hash: KECCAK_EMPTY };
        changes.accounts.insert(holder(from), Some(account));
        slots.insert(balance_slot(from), U256::from(b + 2));
        slots.insert(balance_slot(to), U256::from(b + 3));
    }
    changes.storage.insert(TOKEN, StorageChanges { wiped: false, slots });
    changes
}

/// An empty block on `store`'s head with `state_root`.
fn empty_block(store: &Store, state_root: B256) -> Block {
    let head = store.head().expect("genesis is committed");
    let header = Header {
        version: HEADER_VERSION,
        chain_id: 7777,
        height: head.height + 1,
        view: 0,
        proposer: PROPOSER,
        parent_hash: head.hash,
        transactions_root: transactions_root(&[]),
        state_root,
        receipts_root: receipts_root(&[]),
        rw_digest: rw_digest(std::iter::empty()),
        schedule_hash: keccak256([]),
        logs_bloom: Default::default(),
        gas_used: 0,
        gas_limit: 30_000_000,
        base_fee_per_gas: 0,
        timestamp: 1 + head.height + 1,
    };
    Block { header, transactions: vec![], schedule: Bytes::new() }
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (holders, txs, blocks) = (knob("HOLDERS", 20_000), knob("TXS", 500), knob("BLOCKS", 40));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = StoreOptions { sync_writes: false, ..Default::default() };
    let store = Store::open(dir.path(), options).expect("open the store");
    store.init_genesis(&genesis(holders)).expect("commit genesis");
    let (mut prepare_ms, mut commit_ms) = (Vec::new(), Vec::new());
    let mut nonces = vec![0u64; holders as usize];
    for b in 0..blocks {
        let changes = block_changes(b, txs, &mut nonces);
        let started = Instant::now();
        let prepared = store.prepare_state(store.next_height(), &changes).expect("prepare");
        prepare_ms.push(started.elapsed().as_secs_f64() * 1e3);
        let block = empty_block(&store, prepared.state_root);
        let started = Instant::now();
        store.commit_block(&block, &[], prepared).expect("commit");
        commit_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "holders {holders}, {txs} transfers/block, {blocks} blocks: \
         prepare median {:.2} ms, commit median {:.2} ms",
        median_ms(prepare_ms),
        median_ms(commit_ms)
    );
}

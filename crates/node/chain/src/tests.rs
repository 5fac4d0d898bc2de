//! Chain service tests on a real RocksDB in a temporary directory.

use crate::{Chain, ExecutedBlock, ExecutionSettings, NodeConfig, PoolSettings, ProducerConfig};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use phalanx_core_types::{Genesis, GenesisAccount, Validator};
use std::sync::Arc;

pub(crate) const CHAIN_ID: u64 = 99;

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) chain: Arc<Chain>,
    pub(crate) signer: PrivateKeySigner,
    /// Further funded accounts (see [`fixture_with_senders`]).
    pub(crate) senders: Vec<PrivateKeySigner>,
}

fn fixture() -> Fixture {
    fixture_with_base_fee(7)
}

fn fixture_with_base_fee(base_fee_per_gas: u64) -> Fixture {
    fixture_with_senders(base_fee_per_gas, 0, ExecutionSettings::default())
}

/// A chain whose genesis funds `signer` and `senders` more accounts, executing
/// blocks as `execution` says.
pub(crate) fn fixture_with_senders(
    base_fee_per_gas: u64,
    senders: usize,
    execution: ExecutionSettings,
) -> Fixture {
    fixture_with_gas_limit(base_fee_per_gas, senders, execution, 30_000_000)
}

/// [`fixture_with_senders`] with a block gas limit of `gas_limit`.
fn fixture_with_gas_limit(
    base_fee_per_gas: u64,
    senders: usize,
    execution: ExecutionSettings,
    gas_limit: u64,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let signer = PrivateKeySigner::random();
    let others: Vec<PrivateKeySigner> = (0..senders).map(|_| PrivateKeySigner::random()).collect();
    let mut genesis = Genesis {
        chain_id: CHAIN_ID,
        timestamp: 1,
        gas_limit,
        base_fee_per_gas,
        validators: vec![Validator {
            name: "v".into(),
            address: Address::repeat_byte(0xaa),
            consensus_key: format!("0x{}", "11".repeat(32)),
        }],
        alloc: Default::default(),
    };
    for address in std::iter::once(&signer).chain(&others).map(|s| s.address()) {
        genesis.alloc.insert(
            address,
            GenesisAccount { balance: U256::from(10u64.pow(18)), ..Default::default() },
        );
    }
    let genesis_path = dir.path().join("genesis.json");
    std::fs::write(&genesis_path, serde_json::to_string(&genesis).unwrap()).unwrap();
    let config = NodeConfig {
        data_dir: dir.path().join("data"),
        genesis: genesis_path,
        proposer: Address::repeat_byte(0xaa),
        producer: ProducerConfig::default(),
        pool: PoolSettings::default(),
        execution,
        rpc: Default::default(),
        consensus: None,
    };
    let chain = Chain::open(&config).unwrap();
    Fixture { _dir: dir, chain, signer, senders: others }
}

pub(crate) fn transfer(
    signer: &PrivateKeySigner,
    nonce: u64,
    value: u64,
    gas_limit: u64,
) -> Vec<u8> {
    transfer_priced(signer, nonce, value, gas_limit, 100, 3)
}

pub(crate) fn transfer_priced(
    signer: &PrivateKeySigner,
    nonce: u64,
    value: u64,
    gas_limit: u64,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
) -> Vec<u8> {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas_limit.into(),
        max_fee_per_gas,
        max_priority_fee_per_gas,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(value),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718()
}

#[test]
fn produced_block_includes_pooled_transactions_and_pays_the_proposer() {
    let f = fixture();
    let state = f.chain.store().latest_state();
    for nonce in 0..3 {
        f.chain.pool().add_raw(&transfer(&f.signer, nonce, 1000, 21_000), &state).unwrap();
    }
    let mut heads = f.chain.subscribe_heads();
    let produced = f.chain.produce_block(10).unwrap();
    assert_eq!((produced.header.height, produced.tx_count, produced.rejected), (1, 3, 0));
    assert_eq!(heads.try_recv().unwrap(), produced.header);
    assert_eq!(f.chain.pool().status().pending, 0);
    let state = f.chain.store().latest_state();
    let recipient = state.account(&Address::repeat_byte(0x42)).unwrap().unwrap();
    assert_eq!(recipient.balance, U256::from(3000));
    let proposer = state.account(&Address::repeat_byte(0xaa)).unwrap().unwrap();
    assert_eq!(
        proposer.balance,
        U256::from(3 * 21_000 * 3),
        "priority fee of 3 wei/gas on three transfers"
    );
    assert_eq!(f.chain.pending_nonce(&f.signer.address()).unwrap(), 3);
    let receipts = f.chain.store().receipts(1).unwrap().unwrap();
    assert_eq!(receipts.len(), 3);
    assert_eq!(receipts[2].cumulative_gas_used, 63_000);
}

#[test]
fn blocks_fill_by_gas_used_not_by_the_gas_limits_of_their_transactions() {
    // Room for 21 transfers by their 100,000 limits, for 100 by the 21,000 they use.
    let f = fixture_with_gas_limit(7, 0, ExecutionSettings::default(), 2_100_000);
    let state = f.chain.store().latest_state();
    let add = |nonce, gas_limit| {
        let raw = transfer(&f.signer, nonce, 1, gas_limit);
        f.chain.pool().add_raw(&raw, &state).unwrap();
    };
    (0..100).for_each(|nonce| add(nonce, 100_000));
    let first = f.chain.produce_block(10).unwrap();
    assert_eq!(first.tx_count, 21, "the first block selects its gas in limits");
    let second = f.chain.produce_block(11).unwrap();
    assert_eq!(second.tx_count, 79, "then it selects by the gas the first block used");
    assert_eq!(second.header.gas_used, 79 * 21_000);
    // Transactions that use all of their limit: the selection overshoots
    // once, the executor includes what fits and the rest stays pooled.
    (100..500).for_each(|nonce| add(nonce, 21_000));
    let third = f.chain.produce_block(12).unwrap();
    assert_eq!((third.tx_count, third.rejected), (100, 0));
    assert_eq!(third.header.gas_used, 2_100_000);
    assert_eq!(f.chain.pool().status().pending, 300, "what did not fit is still pooled");
    let fourth = f.chain.produce_block(13).unwrap();
    assert_eq!((fourth.tx_count, fourth.rejected), (100, 0));
    assert!(f.chain.store().verify_chain(&mut |_| {}).unwrap().is_ok());
}

#[test]
fn timestamps_never_go_backwards_and_empty_blocks_commit() {
    let f = fixture();
    let a = f.chain.produce_block(100).unwrap();
    let b = f.chain.produce_block(50).unwrap();
    assert_eq!(
        b.header.timestamp, 100,
        "a clock step back must not make time run backwards on chain"
    );
    assert_eq!(b.header.parent_hash, a.header.hash());
    assert_eq!(f.chain.height(), 2);
    assert!(f.chain.store().verify_chain(&mut |_| {}).unwrap().is_ok());
}

#[test]
fn transactions_that_became_invalid_are_dropped_not_committed() {
    let f = fixture();
    let state = f.chain.store().latest_state();
    // Each transfer is affordable alone, but together they overdraw the account:
    // the pool admits both (it checks each against the balance), the executor
    // rejects the second, and the producer drops it from the pool.
    let balance = 10u64.pow(18);
    let spend = balance / 2;
    f.chain.pool().add_raw(&transfer(&f.signer, 0, spend, 21_000), &state).unwrap();
    f.chain.pool().add_raw(&transfer(&f.signer, 1, spend, 21_000), &state).unwrap();
    let produced = f.chain.produce_block(10).unwrap();
    assert_eq!((produced.tx_count, produced.rejected), (1, 1));
    assert!(f.chain.pool().is_empty());
    assert!(f.chain.store().verify_chain(&mut |_| {}).unwrap().is_ok());
}

#[test]
fn gas_can_be_free_on_a_permissioned_chain() {
    let f = fixture_with_base_fee(0);
    let state = f.chain.store().latest_state();
    f.chain.pool().add_raw(&transfer_priced(&f.signer, 0, 5, 21_000, 0, 0), &state).unwrap();
    let produced = f.chain.produce_block(10).unwrap();
    assert_eq!(produced.tx_count, 1);
    let state = f.chain.store().latest_state();
    let sender = state.account(&f.signer.address()).unwrap().unwrap();
    assert_eq!(sender.balance, U256::from(10u64.pow(18) - 5), "only the value is paid");
}

pub(crate) fn recovered(raw: &[u8]) -> phalanx_core_types::RecoveredTx {
    let tx = phalanx_core_types::decode_transaction(raw).unwrap();
    phalanx_core_types::RecoveredTx::recover(tx).unwrap()
}

#[test]
fn blocks_built_on_speculative_parents_commit_with_the_same_headers() {
    use crate::{BlockSpec, SpecTree};
    let f = fixture();
    let mut tree = SpecTree::new();
    let built = build_chain(&f, &mut tree, 3);
    // A competing fork at height 2: same parent, different transaction set.
    let fork_spec = BlockSpec {
        parent_hash: built[0].hash(),
        view: 9,
        proposer: Address::repeat_byte(0xaa),
        timestamp: 50,
    };
    let fork = f.chain.build_block(&tree, fork_spec, vec![]).unwrap();
    assert_ne!(fork.hash(), built[1].hash());
    // Commit the chain one block at a time; the stored headers equal the
    // speculative ones (state roots included).
    for executed in &built {
        let again = f
            .chain
            .build_block(
                &tree,
                BlockSpec {
                    parent_hash: executed.block.header.parent_hash,
                    view: executed.block.header.view,
                    proposer: executed.block.header.proposer,
                    timestamp: executed.block.header.timestamp,
                },
                executed.included.clone(),
            )
            .unwrap();
        assert_eq!(
            again.hash(),
            executed.hash(),
            "re-execution on the same parent is deterministic"
        );
        f.chain.commit_executed(again, Some(&executed.height().to_be_bytes())).unwrap();
        assert_eq!(
            f.chain.store().certificate(executed.height()).unwrap(),
            Some(executed.height().to_be_bytes().to_vec())
        );
        let stored = f.chain.store().header_by_height(executed.height()).unwrap().unwrap();
        assert_eq!(stored, executed.block.header);
        tree.prune_to(executed.height());
    }
    // The fork can no longer commit: its parent is not the head.
    assert!(matches!(f.chain.commit_executed(fork, None), Err(crate::ChainError::Commit { .. })));
    assert!(f.chain.store().verify_chain(&mut |_| {}).unwrap().is_ok());
    // Building on a pruned or unknown parent is refused.
    let unknown = BlockSpec {
        parent_hash: built[0].hash(),
        view: 20,
        proposer: Address::repeat_byte(0xaa),
        timestamp: 60,
    };
    assert!(matches!(
        f.chain.build_block(&tree, unknown, vec![]),
        Err(crate::ChainError::UnknownParent { .. })
    ));
}

/// `count` blocks of one transfer each, each built on the previous
/// uncommitted one (chained HotStuff's pipeline) and held in `tree`.
fn build_chain(f: &Fixture, tree: &mut crate::SpecTree, count: u64) -> Vec<Arc<ExecutedBlock>> {
    let mut parent = f.chain.head_hash();
    let mut built = Vec::new();
    for height in 1..=count {
        let txs = vec![recovered(&transfer(&f.signer, height - 1, 1000, 21_000))];
        let spec = crate::BlockSpec {
            parent_hash: parent,
            view: height,
            proposer: Address::repeat_byte(0xaa),
            timestamp: 10 + height,
        };
        let executed = Arc::new(f.chain.build_block(tree, spec, txs).unwrap());
        assert_eq!(executed.block.header.height, height);
        assert_eq!(executed.included.len(), 1);
        // Prepared on its parent, whether committed or not.
        let prepared = &executed.prepared;
        assert_eq!((prepared.height(), prepared.base()), (height, Some(parent)));
        parent = executed.hash();
        tree.insert(Arc::clone(&executed)).unwrap();
        built.push(executed);
    }
    built
}

#[test]
fn speculative_blocks_commit_their_chained_prepared_states() {
    let f = fixture();
    let mut tree = crate::SpecTree::new();
    let built = build_chain(&f, &mut tree, 3);
    drop(tree);
    for executed in built {
        let executed = Arc::try_unwrap(executed).expect("the tree is gone");
        let header = executed.block.header.clone();
        f.chain.commit_executed(executed, None).unwrap();
        assert_eq!(f.chain.store().header_by_height(header.height).unwrap(), Some(header));
    }
    assert!(f.chain.store().verify_chain(&mut |_| {}).unwrap().is_ok());
}

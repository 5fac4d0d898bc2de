//! Four in-process validators running consensus over loopback TCP.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use ed25519_dalek::SigningKey;
use phalanx_core_types::{Genesis, GenesisAccount, Validator};
use phalanx_execution_schedule::BlockSchedule;
use phalanx_node_chain::{run_node_with, ConsensusSettings, NodeConfig, NodeHandle};
use phalanx_node_consensus::ConsensusProducer;
use std::time::{Duration, Instant};

const CHAIN_ID: u64 = 77;
const N: usize = 4;

struct Cluster {
    _dir: tempfile::TempDir,
    nodes: Vec<Option<NodeHandle>>,
    users: Vec<PrivateKeySigner>,
    configs: Vec<NodeConfig>,
    genesis: Genesis,
}

fn seed(i: usize) -> [u8; 32] {
    [i as u8 + 1; 32]
}

fn genesis(users: &[PrivateKeySigner]) -> Genesis {
    let validators = (0..N)
        .map(|i| Validator {
            name: format!("v{i}"),
            address: Address::repeat_byte(0xa0 + i as u8),
            consensus_key: hex::encode(SigningKey::from_bytes(&seed(i)).verifying_key().as_bytes()),
        })
        .collect();
    let mut genesis = Genesis {
        chain_id: CHAIN_ID,
        timestamp: 1,
        gas_limit: 30_000_000,
        base_fee_per_gas: 7,
        validators,
        alloc: Default::default(),
    };
    for user in users {
        genesis.alloc.insert(
            user.address(),
            GenesisAccount { balance: U256::from(10u64.pow(18)), ..Default::default() },
        );
    }
    genesis
}

async fn start_cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let users: Vec<_> = (0..N).map(|_| PrivateKeySigner::random()).collect();
    let genesis = genesis(&users);
    let genesis_path = dir.path().join("genesis.json");
    std::fs::write(&genesis_path, serde_json::to_string(&genesis).unwrap()).unwrap();
    let listeners: Vec<_> =
        (0..N).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let peers: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut cluster = Cluster { _dir: dir, nodes: Vec::new(), users, configs: Vec::new(), genesis };
    for (i, listener) in listeners.into_iter().enumerate() {
        let base = cluster._dir.path().to_owned();
        let key_file = base.join(format!("key{i}"));
        std::fs::write(&key_file, hex::encode(seed(i))).unwrap();
        let settings = ConsensusSettings {
            key_file,
            listen: peers[i],
            peers: peers.clone(),
            base_timeout_ms: 300,
            max_timeout_ms: 2_000,
            batch_interval_ms: 20,
            batch_txs_max: 500,
            frame_bytes_max: 16 << 20,
        };
        let rpc = phalanx_rpc_eth::RpcConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        };
        cluster.configs.push(NodeConfig {
            data_dir: base.join(format!("node{i}")),
            genesis: genesis_path.clone(),
            proposer: cluster.genesis.validators[i].address,
            producer: Default::default(),
            pool: Default::default(),
            // Every block, however small, takes the parallel paths: the
            // leader publishes a schedule and replicas follow it.
            execution: phalanx_node_chain::ExecutionSettings {
                threads: 2,
                min_txs_parallel: 1,
                sequential_bound_percent: 0,
            },
            rpc,
            consensus: Some(settings),
        });
        let node = cluster.start_node(i, listener).await;
        cluster.nodes.push(Some(node));
    }
    cluster
}

impl Cluster {
    /// Starts validator `i` on its data directory (fresh or restarted).
    async fn start_node(&self, i: usize, listener: std::net::TcpListener) -> NodeHandle {
        let config = self.configs[i].clone();
        let settings = config.consensus.clone().unwrap();
        let data_dir = config.data_dir.clone();
        let genesis = self.genesis.clone();
        run_node_with(config, move |chain| {
            let producer =
                ConsensusProducer::with_listener(&settings, &genesis, chain, &data_dir, listener)
                    .map_err(|e| phalanx_node_chain::RunError::Producer { reason: e.to_string() })?;
            Ok(Box::new(producer))
        })
        .await
        .unwrap()
    }
}

fn transfer(signer: &PrivateKeySigner, nonce: u64, value: u64) -> Vec<u8> {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100,
        max_priority_fee_per_gas: 3,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(value),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718()
}

/// Waits until `cond` holds, polling; panics with `what` at the deadline.
async fn wait_for(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Cluster {
    fn live(&self) -> impl Iterator<Item = &NodeHandle> {
        self.nodes.iter().flatten()
    }

    /// Every live node has committed at least `height` and agrees on block
    /// hashes and state roots up to the lowest live head.
    fn agree_at_least(&self, height: u64) -> bool {
        let min = self.live().map(|n| n.chain.height()).min().unwrap();
        if min < height {
            return false;
        }
        let headers = |n: &NodeHandle| n.chain.store().header_by_height(min).unwrap().unwrap();
        let first = headers(self.live().next().unwrap());
        self.live().all(|n| headers(n) == first)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_commit_the_same_chain_and_survive_one_crash() {
    let mut cluster = start_cluster().await;
    wait_for("first commits", Duration::from_secs(10), || cluster.agree_at_least(2)).await;

    // Each user submits to a different validator.
    for (i, user) in cluster.users.iter().enumerate() {
        let chain = &cluster.nodes[i].as_ref().unwrap().chain;
        for nonce in 0..3 {
            let state = chain.store().latest_state();
            chain.pool().add_raw(&transfer(user, nonce, 1000 + i as u64), &state).unwrap();
        }
    }
    let recipient_balance = |n: &NodeHandle| {
        n.chain
            .store()
            .latest_state()
            .account(&Address::repeat_byte(0x42))
            .unwrap()
            .map(|a| a.balance)
    };
    let expected = U256::from((0..N as u64).map(|i| 3 * (1000 + i)).sum::<u64>());
    wait_for("transfers committed everywhere", Duration::from_secs(10), || {
        cluster.live().all(|n| recipient_balance(n) == Some(expected))
    })
    .await;
    let height = cluster.live().map(|n| n.chain.height()).max().unwrap();
    wait_for("agreement", Duration::from_secs(5), || cluster.agree_at_least(height)).await;
    for node in cluster.live() {
        let head = node.chain.store().head().unwrap();
        assert!(node.chain.store().certificate(head.height).unwrap().is_some());
        assert!(node.chain.store().verify_chain(&mut |_| {}).unwrap().is_ok());
    }
    // Blocks with transactions carry the leader's dependency graph, which
    // the other validators followed to reach the same header.
    let store = cluster.nodes[0].as_ref().unwrap().chain.store();
    let with_txs: Vec<_> = (1..=height)
        .map(|h| store.block_by_height(h).unwrap().unwrap())
        .filter(|b| !b.transactions.is_empty())
        .collect();
    assert!(!with_txs.is_empty());
    for block in &with_txs {
        let schedule = BlockSchedule::decode(&block.schedule, block.transactions.len());
        assert!(
            matches!(schedule, Ok(BlockSchedule::Graph(_))),
            "block {} carries {schedule:?}",
            block.header.height
        );
    }

    // One validator stops; the other three (a quorum) keep committing.
    let stopped = cluster.nodes[3].take().unwrap();
    stopped.stop().await.unwrap();
    let before = cluster.live().map(|n| n.chain.height()).min().unwrap();
    let user = &cluster.users[0];
    let chain = &cluster.nodes[1].as_ref().unwrap().chain;
    chain.pool().add_raw(&transfer(user, 3, 5), &chain.store().latest_state()).unwrap();
    wait_for("progress without v3", Duration::from_secs(15), || {
        cluster.agree_at_least(before + 3)
            && cluster.live().all(|n| recipient_balance(n) == Some(expected + U256::from(5)))
    })
    .await;

    // The stopped validator restarts from its data directory (root recovered
    // from the head's certificate) and catches up with the others.
    let listen = cluster.configs[3].consensus.as_ref().unwrap().listen;
    let restarted = cluster.start_node(3, std::net::TcpListener::bind(listen).unwrap()).await;
    cluster.nodes[3] = Some(restarted);
    let target = cluster.live().map(|n| n.chain.height()).max().unwrap();
    wait_for("restarted v3 catches up", Duration::from_secs(15), || cluster.agree_at_least(target))
        .await;
    for node in cluster.nodes.into_iter().flatten() {
        node.stop().await.unwrap();
    }
}

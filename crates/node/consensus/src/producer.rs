//! [`ConsensusProducer`]: the [`BlockProducer`] that commits only what the
//! validators agreed on.

use crate::batches::BatchStore;
use crate::certified_file::{self, CertifiedStore};
use crate::driver::{BlockInfo, Driver, DriverMetrics, DriverSettings};
use crate::safety_file::{self, SafetyFile};
use crate::senders::{Attestations, SENDERS_HELD_MAX};
use crate::wire::decode_certificate;
use crate::worker::Worker;
use alloy_primitives::B256;
use ed25519_dalek::SigningKey;
use phalanx_consensus_core::{
    Ed25519Signer, RecoveryState, Replica, ReplicaConfig, ReplicaError, SafetyState,
    ValidatorIndex, ValidatorSet, ValidatorSetError,
};
use phalanx_core_types::Genesis;
use phalanx_network_tcp::{NetConfig, Network, PeerInfo, StartError};
use phalanx_node_chain::{BlockProducer, Chain, ChainError, ConsensusSettings};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Most jobs queued for the execution worker.
const JOBS_MAX: usize = 256;
/// Most results queued back from the worker (more than `JOBS_MAX`, so the
/// worker never blocks while the driver waits to queue a job).
const DONE_MAX: usize = 2 * JOBS_MAX;
/// Longest wait before an idle leader proposes an empty block.
const IDLE_PROPOSAL_DELAY_MAX_MS: u64 = 500;
/// Bytes of batches held in memory.
const BATCH_STORE_BYTES_MAX: usize = 512 << 20;

/// Why the consensus producer could not start.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The key file could not be read or is not a hex ed25519 secret key.
    #[error("consensus key file {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key's public key is not a genesis validator's consensus key.
    #[error("this node's consensus key {public_key} is not in genesis validators")]
    NotAValidator {
        /// The hex public key.
        public_key: String,
    },
    /// Genesis validators are invalid.
    #[error(transparent)]
    Validators(#[from] ValidatorSetError),
    /// `peers` does not list every validator.
    #[error("consensus.peers lists {peers} addresses but genesis has {validators} validators")]
    PeerCount {
        /// Addresses given.
        peers: usize,
        /// Validators in genesis.
        validators: usize,
    },
    /// The replica rejected its configuration or recovered state.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// Storage could not be read, or the head's certificate is missing or invalid.
    #[error("cannot recover consensus state: {reason}")]
    Recovery {
        /// What is wrong.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The network could not start.
    #[error(transparent)]
    Network(#[from] StartError),
}

/// A validator's block producer: runs chained HotStuff with the other
/// validators over TCP and commits the blocks they certify.
#[derive(Debug)]
pub struct ConsensusProducer {
    replica: Replica,
    validators: ValidatorSet,
    me: ValidatorIndex,
    signing_key: SigningKey,
    peers: Vec<PeerInfo>,
    listener: std::net::TcpListener,
    chain_id: u64,
    frame_bytes_max: u32,
    settings: DriverSettings,
    root: (B256, BlockInfo),
    /// The durable certified chain; its batches seed the driver's batch store.
    certified: CertifiedStore,
    /// The durable safety state.
    safety: SafetyFile,
}

impl ConsensusProducer {
    /// Loads the key, finds this validator in genesis, recovers the safety
    /// state and the committed root, and binds `settings.listen`.
    pub fn new(
        settings: &ConsensusSettings,
        genesis: &Genesis,
        chain: &Arc<Chain>,
        data_dir: &Path,
    ) -> Result<Self, DriverError> {
        let listener = std::net::TcpListener::bind(settings.listen)
            .map_err(|source| DriverError::Listen { addr: settings.listen, source })?;
        Self::with_listener(settings, genesis, chain, data_dir, listener)
    }

    /// Like [`ConsensusProducer::new`] on an already bound listener (tests
    /// bind port 0 first; `settings.listen` is then ignored).
    pub fn with_listener(
        settings: &ConsensusSettings,
        genesis: &Genesis,
        chain: &Arc<Chain>,
        data_dir: &Path,
        listener: std::net::TcpListener,
    ) -> Result<Self, DriverError> {
        let signing_key = load_key(&settings.key_file)?;
        let recovery_err = |reason: String| DriverError::Recovery { reason };
        let genesis_block = chain
            .store()
            .block_by_height(0)
            .map_err(|e| recovery_err(e.to_string()))?
            .ok_or_else(|| recovery_err("genesis block missing".into()))?;
        let validators = ValidatorSet::from_genesis(&genesis.validators, genesis_block.hash())?;
        let public = signing_key.verifying_key();
        let me = validators.indices().find(|i| validators.key(*i) == Some(&public)).ok_or_else(
            || DriverError::NotAValidator { public_key: hex::encode(public.as_bytes()) },
        )?;
        if settings.peers.len() != validators.len() {
            return Err(DriverError::PeerCount {
                peers: settings.peers.len(),
                validators: validators.len(),
            });
        }
        let peers = validators
            .indices()
            .map(|i| PeerInfo {
                index: u32::from(i.0),
                public_key: *validators.key(i).expect("index from the set"),
                address: settings.peers[usize::from(i.0)],
            })
            .collect();
        let safety_path = safety_file::safety_path(data_dir);
        let (safety, safety_state) = SafetyFile::open(&safety_path)
            .map_err(|e| recovery_err(format!("{}: {e}", safety_path.display())))?;
        let certified_path = certified_file::certified_path(data_dir);
        let certified = CertifiedStore::open(certified_path.clone())
            .map_err(|e| recovery_err(format!("{}: {e}", certified_path.display())))?;
        let safety_state = safety_state.unwrap_or_default();
        let (recovery, root) = recover(chain, genesis_block.hash(), safety_state, &certified)?;
        let mut config = ReplicaConfig::new(
            validators.clone(),
            me,
            Box::new(Ed25519Signer::new(signing_key.clone())),
        );
        config.base_timeout_ms = settings.base_timeout_ms;
        config.max_timeout_ms = settings.max_timeout_ms;
        config.sync_retry_ms = settings.base_timeout_ms;
        let replica = Replica::new(config, recovery)?;
        Ok(Self {
            replica,
            validators,
            me,
            signing_key,
            peers,
            listener,
            chain_id: genesis.chain_id,
            frame_bytes_max: settings.frame_bytes_max,
            settings: DriverSettings {
                batch_interval_ms: settings.batch_interval_ms,
                batch_txs_max: settings.batch_txs_max,
                idle_proposal_delay_ms: (settings.base_timeout_ms / 3)
                    .min(IDLE_PROPOSAL_DELAY_MAX_MS),
            },
            root,
            certified,
            safety,
        })
    }

    /// This validator's index in genesis order.
    pub fn index(&self) -> ValidatorIndex {
        self.me
    }

    async fn run_inner(
        self,
        chain: Arc<Chain>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), ChainError> {
        let start_err = |reason: String| ChainError::Producer { reason };
        let listen = self.listener.local_addr().map_err(|e| start_err(e.to_string()))?;
        self.listener.set_nonblocking(true).map_err(|e| start_err(e.to_string()))?;
        let listener = tokio::net::TcpListener::from_std(self.listener)
            .map_err(|e| start_err(e.to_string()))?;
        let mut net_config = NetConfig::new(
            u32::from(self.me.0),
            self.signing_key.clone(),
            self.peers,
            listen,
            self.chain_id,
        );
        net_config.frame_bytes_max = self.frame_bytes_max;
        let (net, inbound) = Network::start_with_listener(net_config, listener)
            .map_err(|e| start_err(format!("consensus network: {e}")))?;
        let (jobs_tx, jobs_rx) = mpsc::channel(JOBS_MAX);
        let (done_tx, done_rx) = mpsc::channel(DONE_MAX);
        // Never full: at most CHECKS_IN_FLIGHT_MAX checks run at once.
        let (checked_tx, checked_rx) = mpsc::channel(crate::attest::CHECKS_IN_FLIGHT_MAX);
        let worker = Worker::new(Arc::clone(&chain));
        let worker = tokio::task::spawn_blocking(move || worker.run(jobs_rx, done_tx));
        let max_faulty = self.validators.max_faulty();
        let signing_key = self.signing_key;
        let (root_id, root_info) = self.root;
        let committed_height = root_info.height;
        // The recovered certified blocks are re-executed: their batches must be held.
        let mut batches = BatchStore::new(BATCH_STORE_BYTES_MAX);
        for batch in self.certified.batches() {
            batches.insert(batch.clone());
        }
        let driver = Driver {
            replica: self.replica,
            validators: self.validators,
            chain,
            net: net.clone(),
            jobs: jobs_tx,
            settings: self.settings,
            batches,
            certified: self.certified,
            safety: self.safety,
            blocks: HashMap::from([(root_id, root_info)]),
            executing: HashMap::new(),
            fetches: BTreeMap::new(),
            batched: HashSet::new(),
            timer: None,
            deferred: None,
            start: tokio::time::Instant::now(),
            local: VecDeque::new(),
            committed_height,
            metrics: DriverMetrics::default(),
            attested: Attestations::new(max_faulty, SENDERS_HELD_MAX),
            signer: Ed25519Signer::new(signing_key),
            checked_tx,
            checks_in_flight: 0,
        };
        let result = driver.run(inbound, done_rx, checked_rx, shutdown).await;
        net.shutdown().await;
        // The driver dropped the job sender: the worker finishes its queue and stops.
        let worker_result =
            worker.await.unwrap_or_else(|e| Err(start_err(format!("worker panicked: {e}"))));
        result.and(worker_result)
    }
}

impl BlockProducer for ConsensusProducer {
    fn run(
        self: Box<Self>,
        chain: Arc<Chain>,
        shutdown: watch::Receiver<bool>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ChainError>> + Send>> {
        Box::pin((*self).run_inner(chain, shutdown))
    }
}

fn load_key(path: &Path) -> Result<SigningKey, DriverError> {
    let err = |reason: String| DriverError::Key { path: path.to_owned(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let text = text.trim();
    let hex_key = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(hex_key).map_err(|e| err(e.to_string()))?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| err("expected 32 bytes".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The recovery state: persisted safety, the committed head as the root
/// (decoded from the certificate stored with it) and the durable certified
/// chain and voted block above it (the replica verifies them and ignores
/// blocks at or below the root).
fn recover(
    chain: &Chain,
    genesis_id: B256,
    safety: SafetyState,
    certified: &CertifiedStore,
) -> Result<(RecoveryState, (B256, BlockInfo)), DriverError> {
    let recovery_err = |reason: String| DriverError::Recovery { reason };
    let head = chain.store().head().ok_or_else(|| recovery_err("no committed head".into()))?;
    let root_info =
        |height| BlockInfo { hash: head.hash, height, parent: B256::ZERO, payload: Vec::new() };
    if head.height == 0 {
        let mut state = RecoveryState::genesis(genesis_id);
        state.safety = safety;
        state.certified = certified.blocks();
        state.voted = certified.voted();
        return Ok((state, (genesis_id, root_info(0))));
    }
    let bytes = chain
        .store()
        .certificate(head.height)
        .map_err(|e| recovery_err(e.to_string()))?
        .ok_or_else(|| recovery_err(format!("no certificate stored at head {}", head.height)))?;
    let (cb, _) = decode_certificate(&bytes).map_err(|e| recovery_err(e.to_string()))?;
    if cb.block.exec != head.hash || cb.block.height != head.height {
        return Err(recovery_err("head certificate does not certify the head block".into()));
    }
    let root = cb.block.as_ref();
    let (certified, voted) = (certified.blocks(), certified.voted());
    let state = RecoveryState { safety, root, root_qc: cb.qc, certified, voted };
    Ok((state, (root.id, root_info(root.height))))
}

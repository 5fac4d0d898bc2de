//! The simulation world: nodes running the real core, a virtual clock with
//! an event queue ordered by `(time, sequence)`, and the fault schedule.

use crate::check::{CommitChecker, Invariant, Violation};
use crate::config::{ByzantineKind, SimConfig};
use crate::net::{random_split, NetworkModel};
use crate::report::{EvidenceCounts, FaultCounts, MetricTotals, NetStats};
use alloy_primitives::{keccak256, Address, B256};
use phalanx_consensus_core::{
    Block, BlockId, BlockRef, CertifiedBlock, Ed25519Signer, Event, ExecDigest, Height, Message,
    RecoveryState, Replica, ReplicaConfig, SafetyState, Signer, ValidatorIndex, ValidatorSet, View,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

/// Most captured messages kept for replay.
const CAPTURED_MAX: usize = 64;

/// The deterministic secret seed of validator `index`'s consensus key.
pub(crate) fn key_seed(index: u16) -> [u8; 32] {
    let mut seed = [0x5au8; 32];
    seed[..2].copy_from_slice(&index.to_be_bytes());
    seed
}

/// The fake execution: results depend only on the parent's results and the payload.
pub(crate) fn exec_of(parent: ExecDigest, payload: &[B256]) -> ExecDigest {
    let mut bytes = parent.to_vec();
    payload.iter().for_each(|d| bytes.extend_from_slice(d.as_slice()));
    keccak256(bytes)
}

/// Something scheduled on the virtual clock.
#[derive(Debug)]
pub(crate) enum Item {
    Start(usize),
    Deliver { to: usize, from: ValidatorIndex, msg: Message },
    Timer { node: usize, incarnation: u64, token: u64, view: View },
    Local { node: usize, incarnation: u64, event: Event },
    Crash(usize),
    Restart(usize),
    Partition(Vec<u8>),
    Heal,
    Replay,
    EndFaults,
}

#[derive(Debug)]
struct Scheduled {
    at_ms: u64,
    seq: u64,
    item: Item,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ms, self.seq) == (other.at_ms, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed so the max-heap pops the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_ms, other.seq).cmp(&(self.at_ms, self.seq))
    }
}

/// One simulated process: a validator index, maybe a live replica, and its durable storage.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) index: ValidatorIndex,
    pub(crate) kind: Option<ByzantineKind>,
    pub(crate) replica: Option<Replica>,
    /// Bumped on crash and restart so events of a dead incarnation are dropped.
    pub(crate) incarnation: u64,
    /// Bumped on every `SetTimer`: only the latest timer fires.
    pub(crate) timer_token: u64,
    /// Durable: the last `PersistSafety` executed.
    pub(crate) persisted: SafetyState,
    /// Durable: the committed blocks, heights 1.. in order.
    pub(crate) log: Vec<CertifiedBlock>,
    /// Durable: the certified chain above the committed tip
    /// (`Action::PersistCertified`), by height.
    pub(crate) certified: BTreeMap<Height, CertifiedBlock>,
    /// Durable: the voted branch, the voted block last (`PersistCertified::voted`).
    pub(crate) voted: Vec<Block>,
    /// The driver's (volatile) execution state: results per executed block.
    pub(crate) execs: BTreeMap<BlockId, ExecDigest>,
    /// Metrics of earlier incarnations.
    pub(crate) past: MetricTotals,
}

impl Node {
    pub(crate) fn correct(&self) -> bool {
        self.kind.is_none()
    }
}

/// The whole simulated system.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) config: SimConfig,
    pub(crate) rng: StdRng,
    pub(crate) validators: ValidatorSet,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    pub(crate) now_ms: u64,
    pub(crate) step: u64,
    pub(crate) nodes: Vec<Node>,
    pub(crate) net: NetworkModel,
    pub(crate) faults_on: bool,
    pub(crate) captured: VecDeque<(ValidatorIndex, Message)>,
    pub(crate) checker: CommitChecker,
    pub(crate) stats: NetStats,
    pub(crate) faults: FaultCounts,
    pub(crate) evidence: EvidenceCounts,
    /// Highest correct committed height when the faults stopped.
    pub(crate) height_at_heal: Option<u64>,
}

impl World {
    /// Builds the nodes (twins add a second node for their index) and the fault schedule.
    pub(crate) fn new(seed: u64, config: &SimConfig) -> Result<Self, Violation> {
        validate(config)?;
        let n = config.replicas;
        let keys = (0..n as u16).map(|i| Ed25519Signer::from_seed(key_seed(i)).public_key());
        let genesis = keccak256(seed.to_be_bytes());
        let validators = ValidatorSet::new(keys.collect(), vec![Address::ZERO; n], genesis)
            .map_err(|e| Violation::new(Invariant::Config, e.to_string()))?;
        let mut nodes: Vec<Node> =
            (0..n as u16).map(|i| new_node(i, config.byzantine.kind_of(i))).collect();
        for &(i, kind) in &config.byzantine.nodes {
            if kind == ByzantineKind::Twins {
                nodes.push(new_node(i, Some(kind)));
            }
        }
        let net = NetworkModel {
            drop_rate: config.drop_rate,
            dup_rate: config.dup_rate,
            latency_min_ms: config.latency_min_ms,
            latency_max_ms: config.latency_max_ms,
            lossy: true,
            groups: None,
        };
        let mut world = Self {
            config: config.clone(),
            rng: StdRng::seed_from_u64(seed),
            checker: CommitChecker::new(validators.clone()),
            validators,
            queue: BinaryHeap::new(),
            seq: 0,
            now_ms: 0,
            step: 0,
            nodes,
            net,
            faults_on: true,
            captured: VecDeque::new(),
            stats: NetStats::default(),
            faults: FaultCounts::default(),
            evidence: EvidenceCounts::default(),
            height_at_heal: None,
        };
        for i in 0..world.nodes.len() {
            world.start_replica(i)?;
            let at = world.rng.gen_range(0..20);
            world.schedule(at, Item::Start(i));
        }
        world.schedule_faults();
        Ok(world)
    }

    pub(crate) fn schedule(&mut self, delay_ms: u64, item: Item) {
        self.seq += 1;
        self.queue.push(Scheduled { at_ms: self.now_ms + delay_ms, seq: self.seq, item });
    }

    /// The twin pair's node positions, if twins are in the mix.
    pub(crate) fn twins(&self) -> Option<(usize, usize)> {
        let mut it =
            self.nodes.iter().enumerate().filter(|(_, n)| n.kind == Some(ByzantineKind::Twins));
        Some((it.next()?.0, it.next()?.0))
    }

    fn schedule_faults(&mut self) {
        let end = self.config.fault_phase_ms;
        let twins = self.twins();
        if self.config.partition || twins.is_some() {
            for _ in 0..self.rng.gen_range(1..=3) {
                let start = self.rng.gen_range(0..end.saturating_sub(500).max(1));
                let len = self.rng.gen_range(500..3_000).min(end - start);
                let groups = random_split(&mut self.rng, self.nodes.len(), twins);
                self.schedule(start, Item::Partition(groups));
                self.schedule(start + len, Item::Heal);
            }
        }
        let correct: Vec<usize> =
            (0..self.nodes.len()).filter(|&i| self.nodes[i].correct()).collect();
        if self.config.crashes && !correct.is_empty() {
            for _ in 0..self.rng.gen_range(1..=self.config.crash_episodes_max.max(1)) {
                let node = correct[self.rng.gen_range(0..correct.len())];
                let start = self.rng.gen_range(200..end.saturating_sub(300).max(201));
                let down = self.rng.gen_range(100..3_000).min(end - start);
                self.schedule(start, Item::Crash(node));
                self.schedule(start + down, Item::Restart(node));
            }
        }
        if let Some(at) = self.config.crash_all_at_ms {
            let down = self.config.crash_all_down_ms;
            for node in 0..self.nodes.len() {
                self.schedule(at, Item::Crash(node));
                self.schedule(at + down, Item::Restart(node));
            }
        }
        if self.config.byzantine.replay {
            let first = self.rng.gen_range(100..600);
            self.schedule(first, Item::Replay);
        }
        self.schedule(end, Item::EndFaults);
    }

    /// (Re)creates a node's replica from its durable state.
    pub(crate) fn start_replica(&mut self, i: usize) -> Result<(), Violation> {
        let node = &mut self.nodes[i];
        let genesis = self.validators.genesis_id();
        let certified: Vec<CertifiedBlock> = node.certified.values().cloned().collect();
        let recovered = match node.log.last() {
            None => RecoveryState {
                safety: node.persisted,
                certified,
                voted: node.voted.clone(),
                ..RecoveryState::genesis(genesis)
            },
            Some(cb) => RecoveryState {
                safety: node.persisted,
                root: BlockRef { id: cb.qc.block_id, view: cb.block.view, height: cb.block.height },
                root_qc: cb.qc.clone(),
                certified,
                voted: node.voted.clone(),
            },
        };
        node.execs = BTreeMap::from([(genesis, B256::ZERO)]);
        if let Some(cb) = node.log.last() {
            node.execs.insert(cb.qc.block_id, cb.block.exec);
        }
        let signer = Box::new(Ed25519Signer::from_seed(key_seed(node.index.0)));
        let mut rc = ReplicaConfig::new(self.validators.clone(), node.index, signer);
        rc.base_timeout_ms = self.config.base_timeout_ms;
        rc.max_timeout_ms = self.config.max_timeout_ms;
        rc.sync_retry_ms = 500;
        let replica = Replica::new(rc, recovered)
            .map_err(|e| Violation::new(Invariant::Config, format!("node {i} restart: {e}")))?;
        node.replica = Some(replica);
        node.incarnation += 1;
        Ok(())
    }

    /// Runs until the queue drains, virtual time ends or `steps_max` is hit.
    pub(crate) fn run(&mut self) -> Result<(), Violation> {
        let end_ms = self.config.fault_phase_ms + self.config.liveness_phase_ms;
        while let Some(next) = self.queue.pop() {
            if next.at_ms > end_ms || self.step >= self.config.steps_max {
                break;
            }
            self.now_ms = next.at_ms;
            self.step += 1;
            self.dispatch(next.item)?;
            // Liveness is shown once the target is reached; the rest would only cost time.
            let target = self.height_at_heal.map(|h| h + self.config.liveness_blocks_min);
            if target.is_some_and(|t| self.checker.canonical_height() >= t) {
                break;
            }
        }
        self.check_liveness()
    }

    fn dispatch(&mut self, item: Item) -> Result<(), Violation> {
        match item {
            Item::Start(i) => self.feed(i, Event::Start),
            Item::Deliver { to, from, msg } => {
                self.stats.delivered += 1;
                self.feed(to, Event::Message { from, msg })
            }
            Item::Timer { node, incarnation, token, view } => {
                let n = &self.nodes[node];
                if n.incarnation != incarnation || n.timer_token != token {
                    return Ok(());
                }
                self.feed(node, Event::TimerFired { view })
            }
            Item::Local { node, incarnation, event } => {
                if self.nodes[node].incarnation != incarnation {
                    return Ok(());
                }
                self.feed(node, event)
            }
            Item::Crash(i) => {
                self.crash(i);
                Ok(())
            }
            Item::Restart(i) => self.restart(i),
            Item::Partition(groups) => {
                if self.faults_on {
                    self.faults.partitions += 1;
                    self.net.groups = Some(groups);
                }
                Ok(())
            }
            Item::Heal => {
                self.net.groups = None;
                Ok(())
            }
            Item::Replay => {
                self.replay();
                Ok(())
            }
            Item::EndFaults => self.end_faults(),
        }
    }

    /// Hands one event to a live node's core and performs the actions.
    fn feed(&mut self, i: usize, event: Event) -> Result<(), Violation> {
        let now = self.now_ms;
        let Some(replica) = self.nodes[i].replica.as_mut() else { return Ok(()) };
        let actions = replica.handle(now, event);
        self.perform(i, actions)
    }

    fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(r) = node.replica.take() {
            node.past.add(r.metrics());
            node.incarnation += 1;
            self.faults.crashes += 1;
        }
    }

    fn restart(&mut self, i: usize) -> Result<(), Violation> {
        if self.nodes[i].replica.is_some() {
            return Ok(());
        }
        self.start_replica(i)?;
        self.faults.restarts += 1;
        self.feed(i, Event::Start)
    }

    fn replay(&mut self) {
        if !self.faults_on {
            return;
        }
        if !self.captured.is_empty() {
            let k = self.rng.gen_range(0..self.captured.len());
            let (from, msg) = self.captured[k].clone();
            let to = self.rng.gen_range(0..self.nodes.len());
            let delay = self.net.latency(&mut self.rng);
            self.stats.replayed += 1;
            self.schedule(delay, Item::Deliver { to, from, msg });
        }
        let next = self.rng.gen_range(50..400);
        self.schedule(next, Item::Replay);
    }

    /// Keeps a random sample of traffic for later replay.
    pub(crate) fn capture(&mut self, from: ValidatorIndex, msg: &Message) {
        if self.config.byzantine.replay && self.faults_on && self.rng.gen_ratio(1, 20) {
            if self.captured.len() >= CAPTURED_MAX {
                self.captured.pop_front();
            }
            self.captured.push_back((from, msg.clone()));
        }
    }

    /// Stops every fault: heals, restarts crashed nodes, turns loss off.
    fn end_faults(&mut self) -> Result<(), Violation> {
        self.faults_on = false;
        self.net.groups = None;
        self.net.lossy = false;
        self.height_at_heal = Some(self.checker.canonical_height());
        for i in 0..self.nodes.len() {
            self.restart(i)?;
        }
        Ok(())
    }

    fn check_liveness(&self) -> Result<(), Violation> {
        let Some(before) = self.height_at_heal else {
            return Err(Violation::new(
                Invariant::Liveness,
                format!("the run stopped at step {} before the faults ended", self.step),
            ));
        };
        let after = self.checker.canonical_height();
        let need = self.config.liveness_blocks_min;
        if after < before + need {
            return Err(Violation::new(
                Invariant::Liveness,
                format!(
                    "committed height went from {before} to {after} in the {} ms after healing; \
                     need +{need} (stopped at {} ms with {} events queued; views: {:?})",
                    self.config.liveness_phase_ms,
                    self.now_ms,
                    self.queue.len(),
                    self.nodes
                        .iter()
                        .map(|n| n.replica.as_ref().map(|r| (
                            r.current_view(),
                            r.high_qc().view,
                            r.safety_state(),
                            r.metrics().clone()
                        )))
                        .collect::<Vec<_>>()
                ),
            ));
        }
        Ok(())
    }
}

fn new_node(index: u16, kind: Option<ByzantineKind>) -> Node {
    Node {
        index: ValidatorIndex(index),
        kind,
        replica: None,
        incarnation: 0,
        timer_token: 0,
        persisted: SafetyState::default(),
        log: Vec::new(),
        certified: BTreeMap::new(),
        voted: Vec::new(),
        execs: BTreeMap::new(),
        past: MetricTotals::default(),
    }
}

fn validate(config: &SimConfig) -> Result<(), Violation> {
    let bad = |why: String| Err(Violation::new(Invariant::Config, why));
    if !(1..=64).contains(&config.replicas) {
        return bad(format!("{} replicas; the simulator runs 1..=64", config.replicas));
    }
    let nodes = &config.byzantine.nodes;
    if nodes.len() > config.max_faulty() {
        return bad(format!("{} Byzantine validators, f = {}", nodes.len(), config.max_faulty()));
    }
    for (k, (i, _)) in nodes.iter().enumerate() {
        if usize::from(*i) >= config.replicas || nodes[..k].iter().any(|(j, _)| j == i) {
            return bad(format!("Byzantine index {i} is out of range or repeated"));
        }
    }
    if nodes.iter().filter(|(_, kind)| *kind == ByzantineKind::Twins).count() > 1 {
        return bad("at most one twin pair".into());
    }
    if config.latency_min_ms == 0 || config.base_timeout_ms == 0 {
        return bad("latency and timeouts must be positive".into());
    }
    Ok(())
}

//! The driver task: owns the [`Replica`], performs its actions in order and
//! feeds it network messages, timer expiries and execution results.

use crate::attest::Checked;
use crate::batches::BatchStore;
use crate::certified_file::CertifiedStore;
use crate::extra::ProposalExtra;
use crate::safety_file::SafetyFile;
use crate::senders::Attestations;
use crate::wire::{encode_certificate, Batch, WireMsg, BATCHES_PER_RESPONSE_MAX};
use crate::worker::{Done, Job};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::B256;
use phalanx_consensus_core::{
    Action, Block, BlockId, BlockProposalBody, BlockRef, CertifiedBlock, Ed25519Signer, Event,
    Evidence, Message, Replica, ValidatorIndex, ValidatorSet, View, MAX_BLOCKS_PER_RESPONSE,
    MAX_PAYLOAD_DIGESTS,
};
use phalanx_network_tcp::{Inbound, NetworkHandle};
use phalanx_node_chain::{unix_seconds, BlockSpec, Chain, ChainError};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A missing-batch request is re-sent to every peer after this long.
const FETCH_RETRY_MS: u64 = 300;
/// Most blocks waiting for batches at once.
const FETCHES_MAX: usize = 256;
/// How far ahead of this node's clock a proposal's timestamp may be, seconds.
const TIMESTAMP_AHEAD_S_MAX: u64 = 15;

/// Most transaction hashes remembered as already batched.
const BATCHED_TXS_MAX: usize = 200_000;
/// Most bytes of batches in one response.
const RESPONSE_BYTES_MAX: usize = 8 << 20;

/// What the driver knows about an executed consensus block.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    /// The Phalanx block hash (the block's `exec`).
    pub hash: B256,
    /// Its height.
    pub height: u64,
    /// The consensus parent.
    pub parent: BlockId,
    /// The batches it orders.
    pub payload: Vec<B256>,
}

/// Counters of what the driver dropped.
#[derive(Debug, Default, Clone)]
pub struct DriverMetrics {
    /// Peer messages that did not decode.
    pub decode_errors: u64,
    /// Batches refused (store full or duplicate).
    pub batches_refused: u64,
    /// Blocks committed.
    pub committed: u64,
    /// Batches whose senders f + 1 peers' acks settled.
    pub batches_attested: u64,
    /// Senders acks refused (unknown signer or bad signature).
    pub acks_refused: u64,
}

/// Static settings of the driver.
#[derive(Debug, Clone)]
pub struct DriverSettings {
    /// Batch sealing period.
    pub batch_interval_ms: u64,
    /// Most transactions per batch.
    pub batch_txs_max: usize,
    /// How long a leader with nothing to order (no new batches, and no
    /// uncommitted transactions in the parent chain) waits before proposing an
    /// empty block; must stay below the view timeout.
    pub idle_proposal_delay_ms: u64,
}

/// The driver state (see the crate docs for the design).
#[derive(Debug)]
pub struct Driver {
    pub(crate) replica: Replica,
    pub(crate) validators: ValidatorSet,
    pub(crate) chain: Arc<Chain>,
    pub(crate) net: NetworkHandle,
    pub(crate) jobs: mpsc::Sender<Job>,
    pub(crate) settings: DriverSettings,
    pub(crate) batches: BatchStore,
    /// The durable certified chain (`PersistCertified`).
    pub(crate) certified: CertifiedStore,
    /// The durable safety state (`PersistSafety`).
    pub(crate) safety: SafetyFile,
    pub(crate) blocks: HashMap<BlockId, BlockInfo>,
    pub(crate) executing: HashMap<BlockId, BlockInfo>,
    pub(crate) fetches: BTreeMap<BlockId, (Vec<B256>, u64)>,
    pub(crate) batched: HashSet<B256>,
    pub(crate) timer: Option<(View, Instant)>,
    /// An idle leader's postponed `BuildProposal` and when it must go out anyway.
    pub(crate) deferred: Option<(View, BlockRef, Instant)>,
    pub(crate) start: Instant,
    pub(crate) local: VecDeque<Event>,
    pub(crate) committed_height: u64,
    pub(crate) metrics: DriverMetrics,
    /// Settled and pending batch senders (`senders.rs`).
    pub(crate) attested: Attestations,
    /// Signs this node's senders acks.
    pub(crate) signer: Ed25519Signer,
    /// Where blocking batch checks report ([`Checked`]).
    pub(crate) checked_tx: mpsc::Sender<Checked>,
    /// Batch checks running.
    pub(crate) checks_in_flight: usize,
}

fn fatal(reason: String) -> ChainError {
    ChainError::Producer { reason }
}

impl Driver {
    /// Runs until shutdown; returns the first fatal error (safety state not
    /// persisted, commit failure).
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut done: mpsc::Receiver<Done>,
        mut checked: mpsc::Receiver<Checked>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ChainError> {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(
            self.settings.batch_interval_ms,
        ));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.dispatch(Event::Start).await?;
        loop {
            let timer = self.timer.map(|(_, at)| at);
            let sleep = async move {
                match timer {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        let m = &self.metrics;
                        tracing::info!(
                            committed = m.committed,
                            decode_errors = m.decode_errors,
                            batches_refused = m.batches_refused,
                            batches_attested = m.batches_attested,
                            acks_refused = m.acks_refused,
                            "consensus driver stopped"
                        );
                        return Ok(());
                    }
                }
                result = done.recv() => match result {
                    Some(result) => self.on_done(result).await?,
                    None => return Err(fatal("execution worker stopped".into())),
                },
                () = sleep => {
                    if let Some((view, _)) = self.timer.take() {
                        // Worth an operator's eye: a view that ends by
                        // timeout made no progress.
                        tracing::info!(view, "view timed out");
                        self.dispatch(Event::TimerFired { view }).await?;
                    }
                }
                Some(result) = checked.recv() => self.on_checked(result),
                msg = inbound.recv() => match msg {
                    Some(msg) => self.on_inbound(msg).await?,
                    None => return Ok(()),
                },
                _ = tick.tick() => {
                    self.on_tick();
                    self.resume_deferred().await?;
                }
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Feeds an event to the replica and performs every resulting action in
    /// order, including those of events the actions raise locally.
    pub(crate) async fn dispatch(&mut self, event: Event) -> Result<(), ChainError> {
        self.local.push_back(event);
        while let Some(event) = self.local.pop_front() {
            let actions = self.replica.handle(self.now_ms(), event);
            for action in actions {
                self.perform(action).await?;
            }
        }
        Ok(())
    }

    async fn perform(&mut self, action: Action) -> Result<(), ChainError> {
        match action {
            Action::Send { to, msg } => self.send(to, msg),
            Action::Broadcast { msg } => {
                if let Message::Proposal(p) = &msg {
                    self.record_own_proposal(&p.block);
                }
                let _ = self.net.broadcast(WireMsg::Consensus(msg).encode());
            }
            Action::SetTimer { view, duration_ms } => {
                let at = Instant::now() + std::time::Duration::from_millis(duration_ms);
                self.timer = Some((view, at));
            }
            Action::PersistSafety(state) => {
                // Durable before any later action (a vote or timeout) leaves.
                self.safety
                    .persist(&state)
                    .map_err(|e| fatal(format!("cannot persist consensus safety state: {e}")))?;
            }
            Action::PersistCertified { from_height, blocks, voted } => {
                // Durable, with the batches, before the PersistSafety that follows.
                let (committed, batches) = (self.committed_height, &self.batches);
                let batch_of = |d: &B256| batches.get(d).map(|b| (**b).clone());
                self.certified
                    .update(from_height, blocks, voted, committed, batch_of)
                    .map_err(|e| fatal(format!("cannot persist the certified chain: {e}")))?;
            }
            Action::BuildProposal { view, parent } => {
                tracing::debug!(view, parent = %parent.id, "building a proposal");
                self.build(view, parent, false).await?
            }
            Action::FetchPayload { block_id, digests, from } => {
                self.fetch_payload(block_id, digests, from)
            }
            Action::Execute { block } => self.execute(block).await?,
            Action::Commit { blocks } => self.commit(blocks).await?,
            Action::Evidence(evidence) => log_evidence(&evidence),
            Action::FetchBlocks { from_height, target, peer } => {
                let count = MAX_BLOCKS_PER_RESPONSE as u64;
                let req = WireMsg::StoredBlocksRequest { from_height, count, target };
                let _ = self.net.send(u32::from(peer.0), req.encode());
            }
        }
        Ok(())
    }

    fn send(&mut self, to: ValidatorIndex, msg: Message) {
        if to == self.replica.me() {
            self.local.push_back(Event::Message { from: to, msg });
        } else if let Err(err) = self.net.send(u32::from(to.0), WireMsg::Consensus(msg).encode()) {
            tracing::debug!(%to, %err, "consensus send failed");
        }
    }

    fn record_own_proposal(&mut self, block: &Block) {
        if block.proposer != self.replica.me() {
            return;
        }
        let info = BlockInfo {
            hash: block.exec,
            height: block.height,
            parent: block.parent_id,
            payload: block.payload.clone(),
        };
        self.blocks.insert(block.id(), info);
    }

    /// Batches ordered by the uncommitted ancestors of `parent`, inclusive.
    fn ordered_above_commit(&self, parent: BlockId) -> HashSet<B256> {
        let mut ordered = HashSet::new();
        let mut cursor = parent;
        while let Some(info) = self.blocks.get(&cursor) {
            if info.height <= self.committed_height {
                break;
            }
            ordered.extend(info.payload.iter().copied());
            cursor = info.parent;
        }
        ordered
    }

    async fn build(&mut self, view: View, parent: BlockRef, force: bool) -> Result<(), ChainError> {
        let Some(parent_info) = self.blocks.get(&parent.id) else {
            tracing::warn!(view, parent = %parent.id, "cannot propose: parent not executed here");
            return Ok(());
        };
        let parent_hash = parent_info.hash;
        let ordered = self.ordered_above_commit(parent.id);
        let txs_max = self.chain.params().block_txs_max;
        let (mut payload, mut batches, mut txs) = (Vec::new(), Vec::new(), 0usize);
        for digest in self.batches.pending_except(&ordered) {
            let Some(batch) = self.batches.get(&digest) else { continue };
            if txs + batch.txs.len() > txs_max || payload.len() >= MAX_PAYLOAD_DIGESTS {
                break;
            }
            txs += batch.txs.len();
            payload.push(digest);
            batches.push(Arc::clone(batch));
        }
        if payload.is_empty() && ordered.is_empty() && !force {
            // Nothing to order or to push to commit: pace the idle chain
            // instead of writing empty blocks as fast as the network allows.
            let delay = std::time::Duration::from_millis(self.settings.idle_proposal_delay_ms);
            self.deferred = Some((view, parent, Instant::now() + delay));
            return Ok(());
        }
        self.deferred = None;
        let me = self.replica.me();
        let proposer = self.validators.address(me).expect("own index is in the set");
        let spec = BlockSpec { parent_hash, view, proposer, timestamp: unix_seconds() };
        let senders = self.settled_senders(&payload);
        self.submit(Job::Build { view, spec, payload, batches, senders }).await
    }

    /// Builds a postponed proposal once batches arrived or its delay passed.
    async fn resume_deferred(&mut self) -> Result<(), ChainError> {
        let Some((view, parent, at)) = self.deferred else { return Ok(()) };
        if view != self.replica.current_view() {
            self.deferred = None;
            return Ok(());
        }
        let has_batches = self.batches.pending_except(&HashSet::new()).next().is_some();
        if has_batches || Instant::now() >= at {
            self.deferred = None;
            self.build(view, parent, Instant::now() >= at).await?;
        }
        Ok(())
    }

    async fn submit(&mut self, job: Job) -> Result<(), ChainError> {
        self.jobs.send(job).await.map_err(|_| fatal("execution worker stopped".into()))
    }

    fn fetch_payload(&mut self, block_id: BlockId, digests: Vec<B256>, from: ValidatorIndex) {
        let missing: Vec<B256> =
            digests.into_iter().filter(|d| !self.batches.contains(d)).collect();
        if missing.is_empty() {
            self.local.push_back(Event::PayloadAvailable { block_id });
            return;
        }
        if self.fetches.len() >= FETCHES_MAX {
            // Oldest-id eviction is arbitrary but bounded; the core re-asks on a new proposal.
            let first = *self.fetches.keys().next().expect("non-empty");
            self.fetches.remove(&first);
        }
        tracing::debug!(block = %block_id, missing = missing.len(), %from, "fetching batches");
        let req = WireMsg::BatchRequest(missing.clone()).encode();
        if from != self.replica.me() {
            let _ = self.net.send(u32::from(from.0), req);
        } else {
            let _ = self.net.broadcast(req);
        }
        self.fetches.insert(block_id, (missing, self.now_ms()));
    }

    async fn execute(&mut self, block: Block) -> Result<(), ChainError> {
        let id = block.id();
        let parent = self.blocks.get(&block.parent_id).map(|p| p.hash);
        let batches: Option<Vec<Arc<Batch>>> =
            block.payload.iter().map(|d| self.batches.get(d).cloned()).collect();
        let proposer = self.validators.address(block.proposer);
        let timestamp = ProposalExtra::timestamp_of(&block.extra);
        let (Some(parent_hash), Some(batches), Some(proposer), Some(timestamp)) =
            (parent, batches, proposer, timestamp)
        else {
            tracing::warn!(block = %id, "cannot execute block: parent, batches or extra missing");
            let results = B256::ZERO;
            self.local.push_back(Event::BlockExecuted { block_id: id, results, ok: false });
            return Ok(());
        };
        if timestamp > unix_seconds().saturating_add(TIMESTAMP_AHEAD_S_MAX) {
            // A proposer cannot push the chain's clock into the future: the
            // next honest leader could not propose a lower timestamp.
            tracing::warn!(
                block = %id, timestamp, proposer = %proposer,
                "evidence: proposal timestamp too far ahead; not voting"
            );
            let results = B256::ZERO;
            self.local.push_back(Event::BlockExecuted { block_id: id, results, ok: false });
            return Ok(());
        }
        let extra = block.extra.clone();
        let senders = self.settled_senders(&block.payload);
        let info = BlockInfo {
            hash: B256::ZERO,
            height: block.height,
            parent: block.parent_id,
            payload: block.payload,
        };
        self.executing.insert(id, info);
        let spec = BlockSpec { parent_hash, view: block.view, proposer, timestamp };
        self.submit(Job::Execute { block_id: id, spec, batches, senders, extra }).await
    }

    async fn commit(&mut self, blocks: Vec<CertifiedBlock>) -> Result<(), ChainError> {
        for cb in blocks {
            let id = cb.qc.block_id;
            let Some(info) = self.blocks.get(&id).cloned() else {
                return Err(fatal(format!("committed block {id} was never executed here")));
            };
            let batches: Vec<Batch> = info
                .payload
                .iter()
                .filter_map(|d| self.batches.get(d).map(|b| (**b).clone()))
                .collect();
            let certificate = encode_certificate(&cb, &batches);
            self.submit(Job::Commit { hash: info.hash, height: info.height, certificate }).await?;
            self.batches.mark_committed(&info.payload);
            self.committed_height = self.committed_height.max(info.height);
            self.metrics.committed += 1;
        }
        let height = self.committed_height;
        self.blocks.retain(|_, b| b.height >= height);
        self.executing.retain(|_, b| b.height > height);
        Ok(())
    }

    async fn on_done(&mut self, done: Done) -> Result<(), ChainError> {
        match done {
            Done::Built { view, payload, result } => match result {
                Ok((hash, extra)) => {
                    tracing::debug!(view, batches = payload.len(), %hash, "proposal built");
                    let block = BlockProposalBody { payload, exec: hash, extra };
                    self.dispatch(Event::ProposalReady { view, block }).await?;
                }
                Err(reason) => tracing::warn!(view, %reason, "building a proposal failed"),
            },
            Done::Executed { block_id, result } => {
                let info = self.executing.remove(&block_id);
                let (results, ok) = match (result, info) {
                    (Ok(hash), Some(mut info)) => {
                        tracing::debug!(block = %block_id, height = info.height, "block executed");
                        info.hash = hash;
                        self.blocks.insert(block_id, info);
                        (hash, true)
                    }
                    (Err(reason), _) => {
                        tracing::warn!(block = %block_id, %reason, "block did not execute");
                        (B256::ZERO, false)
                    }
                    // Pruned meanwhile: below the committed height, moot.
                    (Ok(_), None) => return Ok(()),
                };
                self.dispatch(Event::BlockExecuted { block_id, results, ok }).await?;
            }
            Done::Committed { height, included, left_out } => {
                tracing::debug!(height, txs = included.len(), "block committed");
                // Left-out transactions still in the pool may fit a later
                // block: let them be batched again.
                for hash in included.iter().chain(&left_out) {
                    self.batched.remove(hash);
                }
                if self.batched.len() > BATCHED_TXS_MAX / 2 {
                    let pool = Arc::clone(self.chain.pool());
                    self.batched.retain(|h| pool.get(h).is_some());
                }
            }
        }
        Ok(())
    }

    async fn on_inbound(&mut self, inbound: Inbound) -> Result<(), ChainError> {
        let Ok(index) = u16::try_from(inbound.from) else { return Ok(()) };
        let from = ValidatorIndex(index);
        if usize::from(index) >= self.validators.len() || from == self.replica.me() {
            return Ok(());
        }
        let msg = match WireMsg::decode(&inbound.bytes) {
            Ok(msg) => msg,
            Err(err) => {
                self.metrics.decode_errors += 1;
                tracing::debug!(%from, %err, "dropping undecodable message");
                return Ok(());
            }
        };
        match msg {
            WireMsg::Consensus(msg) => self.dispatch(Event::Message { from, msg }).await?,
            WireMsg::Batch(batch) => {
                for digest in self.add_batches(vec![batch]) {
                    self.check_batch(from, digest);
                }
                self.flush_local().await?;
            }
            WireMsg::SendersAck(ack) => self.on_senders_ack(from, ack),
            WireMsg::BatchResponse(batches) => {
                self.add_batches(batches);
                self.flush_local().await?;
            }
            WireMsg::BatchRequest(digests) => self.serve_batches(from, &digests),
            WireMsg::StoredBlocksRequest { from_height, count, target } => {
                self.serve_stored(from, from_height, count, target)
            }
            WireMsg::StoredBlocksResponse { blocks, batches } => {
                self.add_batches(batches);
                self.local.push_back(Event::Message { from, msg: Message::BlockResponse(blocks) });
                self.flush_local().await?;
            }
        }
        Ok(())
    }

    async fn flush_local(&mut self) -> Result<(), ChainError> {
        if let Some(event) = self.local.pop_front() {
            self.dispatch(event).await?;
        }
        Ok(())
    }

    /// Stores batches and answers every payload fetch they complete;
    /// returns the digests of the batches newly stored.
    fn add_batches(&mut self, batches: Vec<Batch>) -> Vec<B256> {
        let mut stored = Vec::with_capacity(batches.len());
        for batch in batches {
            match self.batches.insert(batch) {
                Some(digest) => stored.push(digest),
                None => self.metrics.batches_refused += 1,
            }
        }
        let store = &self.batches;
        let mut complete = Vec::new();
        for (id, (missing, _)) in self.fetches.iter_mut() {
            missing.retain(|d| !store.contains(d));
            if missing.is_empty() {
                complete.push(*id);
            }
        }
        for block_id in complete {
            self.fetches.remove(&block_id);
            self.local.push_back(Event::PayloadAvailable { block_id });
        }
        stored
    }

    fn serve_batches(&mut self, to: ValidatorIndex, digests: &[B256]) {
        let mut out = Vec::new();
        let mut bytes = 0;
        for batch in digests.iter().filter_map(|d| self.batches.get(d)) {
            bytes += batch.size_bytes();
            if bytes > RESPONSE_BYTES_MAX || out.len() >= BATCHES_PER_RESPONSE_MAX {
                break;
            }
            out.push((**batch).clone());
        }
        if !out.is_empty() {
            let _ = self.net.send(u32::from(to.0), WireMsg::BatchResponse(out).encode());
        }
    }

    /// Answers a `FetchBlocks` from storage: certified blocks decoded from
    /// the stored certificates, with their batches.
    fn serve_stored(&mut self, to: ValidatorIndex, from_height: u64, count: u64, target: B256) {
        let head = self.chain.height();
        let last = head.min(from_height.saturating_add(count.saturating_sub(1)));
        let (mut blocks, mut batches, mut bytes) = (Vec::new(), Vec::new(), 0usize);
        for height in from_height.max(1)..=last {
            let Ok(Some(bytes_stored)) = self.chain.store().certificate(height) else { break };
            let Ok((cb, block_batches)) = crate::wire::decode_certificate(&bytes_stored) else {
                break;
            };
            bytes += block_batches.iter().map(Batch::size_bytes).sum::<usize>();
            if !blocks.is_empty()
                && (bytes > RESPONSE_BYTES_MAX
                    || batches.len() + block_batches.len() > BATCHES_PER_RESPONSE_MAX)
            {
                break;
            }
            blocks.push(cb);
            batches.extend(block_batches);
        }
        let blocks = phalanx_consensus_core::BlockResponse { target, blocks };
        let msg = WireMsg::StoredBlocksResponse { blocks, batches };
        let _ = self.net.send(u32::from(to.0), msg.encode());
    }

    /// Seals pooled, not yet batched transactions into a batch and
    /// broadcasts it; re-asks everyone for batches still missing.
    fn on_tick(&mut self) {
        self.retry_fetches();
        if self.batched.len() >= BATCHED_TXS_MAX {
            return;
        }
        let want = self.settings.batch_txs_max;
        let pool = self.chain.pool();
        let txs: Vec<_> = pool
            .best(self.batched.len() + want, u64::MAX)
            .into_iter()
            .filter(|t| !self.batched.contains(&t.hash))
            .take(want)
            .collect();
        if txs.is_empty() {
            return;
        }
        let batch = Batch { txs: txs.iter().map(|t| t.tx.encoded_2718()).collect() };
        let wire = WireMsg::Batch(batch.clone()).encode();
        let Some(digest) = self.batches.insert(batch) else {
            self.metrics.batches_refused += 1;
            return;
        };
        self.batched.extend(txs.iter().map(|t| t.hash));
        let _ = self.net.broadcast(wire);
        // After the batch, so that peers usually hold it when the ack lands.
        self.settle_and_ack(digest, txs.iter().map(|t| t.sender).collect());
    }

    fn retry_fetches(&mut self) {
        let now = self.now_ms();
        let mut asks = Vec::new();
        for (missing, asked_ms) in self.fetches.values_mut() {
            if now >= *asked_ms + FETCH_RETRY_MS {
                *asked_ms = now;
                asks.push(WireMsg::BatchRequest(missing.clone()).encode());
            }
        }
        for ask in asks {
            let _ = self.net.broadcast(ask);
        }
    }
}

fn log_evidence(evidence: &Evidence) {
    match evidence {
        Evidence::ExecMismatch { block_id, view, proposer, claimed, computed } => {
            tracing::warn!(%proposer, view, block = %block_id, %claimed, ?computed,
                "evidence: proposer's execution results differ from ours");
        }
        Evidence::ProposalEquivocation { view, proposer, .. } => {
            tracing::warn!(%proposer, view, "evidence: proposer equivocated");
        }
        Evidence::VoteEquivocation { view, signer, .. } => {
            tracing::warn!(%signer, view, "evidence: validator voted twice in one view");
        }
    }
}

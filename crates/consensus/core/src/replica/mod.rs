//! The replica: a synchronous, deterministic chained-HotStuff state machine.
//!
//! [`Replica::handle`] takes one [`Event`] and the driver's virtual time and
//! returns the [`Action`]s to perform, in order. There is no I/O, clock,
//! thread or randomness inside, so the same events always produce the same
//! actions.

mod durable;
mod inbound;
mod sync;
mod work;

pub use durable::MAX_PERSISTED_CERTIFIED;

use crate::cert::{CertError, QuorumCert, Timeout, TimeoutCert, Vote};
use crate::collect::{TimeoutCollector, VoteCollector, VoteOutcome};
use crate::io::{Action, Event, Evidence, Metrics};
use crate::message::{Message, Proposal};
use crate::pacemaker::{Entry, Pacemaker, TimeoutPolicy};
use crate::safety::SafetyState;
use crate::tree::{BlockTree, ExecState, Inserted};
use crate::types::{
    Block, BlockId, BlockProposalBody, BlockRef, CertifiedBlock, ExecDigest, Height,
    ValidatorIndex, View, MAX_EXTRA_BYTES, MAX_PAYLOAD_DIGESTS,
};
use crate::validators::{Signer, ValidatorSet};
use ed25519_dalek::Signature;
use std::collections::{BTreeMap, BTreeSet};

/// Most verified certificates remembered to skip re-verification.
const VERIFIED_CACHE_MAX: usize = 512;

/// Static configuration of a replica.
#[derive(Debug)]
pub struct ReplicaConfig {
    /// The chain's validators (and genesis id).
    pub validators: ValidatorSet,
    /// This replica's index; its key must match `signer`.
    pub me: ValidatorIndex,
    /// Signs votes, timeouts and proposals.
    pub signer: Box<dyn Signer>,
    /// A view's timeout after progress.
    pub base_timeout_ms: u64,
    /// Multiplier per consecutive failed view (2 doubles).
    pub timeout_backoff: u64,
    /// Cap on a view's timeout.
    pub max_timeout_ms: u64,
    /// Messages for views more than this far ahead of the current view are rejected.
    pub view_window: u64,
    /// A block request is re-sent (possibly to another peer) after this long.
    pub sync_retry_ms: u64,
}

impl ReplicaConfig {
    /// A configuration with default timing: 1 s base timeout, doubling, 60 s cap,
    /// a 1000-view window and a 1 s sync retry.
    pub fn new(validators: ValidatorSet, me: ValidatorIndex, signer: Box<dyn Signer>) -> Self {
        Self {
            validators,
            me,
            signer,
            base_timeout_ms: 1_000,
            timeout_backoff: 2,
            max_timeout_ms: 60_000,
            view_window: 1_000,
            sync_retry_ms: 1_000,
        }
    }
}

/// What a replica restarts from: its persisted safety state, the
/// committed tip with the QC that certifies it, and the durable certified
/// chain above that tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryState {
    /// The last persisted [`Action::PersistSafety`] (default on first start).
    pub safety: SafetyState,
    /// The committed tip (the genesis block on first start).
    pub root: BlockRef,
    /// The QC certifying `root` ([`QuorumCert::genesis`] on first start).
    pub root_qc: QuorumCert,
    /// The persisted certified chain ([`Action::PersistCertified`]) in
    /// ascending height order, empty on first start. Blocks at or below
    /// `root` are ignored; the rest must extend `root` one by one, each with
    /// a verifying QC (see [`Replica::new`]). The driver must hold the
    /// payload of each: the replica re-executes them after [`Event::Start`].
    pub certified: Vec<CertifiedBlock>,
    /// The persisted voted branch (see [`Action::PersistCertified`]), empty
    /// on first start. Ignored unless its first block lies above `root` and
    /// extends `root` or a block of `certified`; then each block must extend
    /// the one before with a verifying justify QC (see [`Replica::new`]). The
    /// voted block (the last) is held uncertified, re-executed and served
    /// once its QC arrives; the others are held certified by their child's
    /// justify and re-executed.
    pub voted: Vec<Block>,
}

impl RecoveryState {
    /// The state of a fresh chain: nothing voted, genesis committed.
    pub fn genesis(genesis_id: BlockId) -> Self {
        Self {
            safety: SafetyState::default(),
            root: BlockRef { id: genesis_id, view: 0, height: 0 },
            root_qc: QuorumCert::genesis(genesis_id),
            certified: Vec::new(),
            voted: Vec::new(),
        }
    }
}

/// Why a replica cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    /// `me` is not in the validator set.
    #[error("replica index {me} is not in the validator set")]
    NotAValidator {
        /// The index.
        me: ValidatorIndex,
    },
    /// The signer's key is not `me`'s consensus key.
    #[error("signer key does not match the consensus key of {me}")]
    WrongKey {
        /// The index.
        me: ValidatorIndex,
    },
    /// The root QC does not certify the root, or does not verify.
    #[error("root QC is invalid: {reason}")]
    BadRoot {
        /// What is wrong.
        reason: String,
    },
    /// The recovered certified chain is corrupt: it does not link, or a QC
    /// does not certify its block or does not verify.
    #[error("recovered certified chain is invalid at height {height}: {reason}")]
    BadCertifiedChain {
        /// Height of the offending block.
        height: Height,
        /// What is wrong.
        reason: &'static str,
    },
    /// A timing parameter is zero or inconsistent.
    #[error("invalid timing: {reason}")]
    BadTiming {
        /// What is wrong.
        reason: &'static str,
    },
}

/// An outstanding block request.
#[derive(Debug, Clone, Copy)]
struct SyncRequest {
    target: BlockId,
    peer: ValidatorIndex,
    sent_ms: u64,
    escalated: bool,
}

/// A chained-HotStuff replica. See the crate docs for the protocol.
#[derive(Debug)]
pub struct Replica {
    validators: ValidatorSet,
    me: ValidatorIndex,
    signer: Box<dyn Signer>,
    view_window: u64,
    sync_retry_ms: u64,
    now_ms: u64,
    safety: SafetyState,
    pacemaker: Pacemaker,
    tree: BlockTree,
    high_qc: QuorumCert,
    high_tc: Option<TimeoutCert>,
    /// The TC through which the current view was entered, if any.
    last_tc: Option<TimeoutCert>,
    votes: VoteCollector,
    timeouts: TimeoutCollector,
    /// The first validly signed proposal seen per view.
    proposals: BTreeMap<View, (BlockId, Signature)>,
    my_timeout: Option<Timeout>,
    /// Our vote in the current view, re-sent inside our timeout.
    my_vote: Option<Vote>,
    building: Option<(View, QuorumCert)>,
    sync: Option<SyncRequest>,
    verified: BTreeSet<(View, BlockId, ExecDigest)>,
    /// `(height, id)` of the certified chain the driver holds durably above
    /// the root, as last sent in [`Action::PersistCertified`].
    durable: Vec<(Height, BlockId)>,
    /// The block of our latest vote, kept durable while it is uncertified.
    voted: Option<BlockId>,
    /// The voted block the driver holds durably, as last sent.
    durable_voted: Option<BlockId>,
    /// Times this replica's builds and executions for the pacemaker.
    work: work::WorkClock,
    /// When the live timer fires (event clock); `None` before the first.
    timer_deadline_ms: Option<u64>,
    metrics: Metrics,
}

impl Replica {
    /// Builds a replica from its configuration and recovered state. The first
    /// view is the one after the highest recovered QC, even when the replica
    /// had voted or timed out in later views: the certificates that took it
    /// there may be lost if everyone restarted, so it rejoins where its QC
    /// puts it and moves up through fresh timeouts. The safety state keeps
    /// it from voting or proposing twice in a view
    /// ([`SafetyState::last_voted_view`], [`SafetyState::last_proposed_view`]). The recovered certified chain is
    /// verified (see [`RecoveryState::certified`]) and re-inserted into the
    /// block tree with the voted block ([`RecoveryState::voted`]);
    /// [`Event::Start`] asks the driver to re-execute them.
    pub fn new(config: ReplicaConfig, recovered: RecoveryState) -> Result<Self, ReplicaError> {
        let ReplicaConfig { validators, me, signer, .. } = config;
        let key = validators.key(me).ok_or(ReplicaError::NotAValidator { me })?;
        if *key != signer.public_key() {
            return Err(ReplicaError::WrongKey { me });
        }
        let policy = TimeoutPolicy {
            base_timeout_ms: config.base_timeout_ms,
            timeout_backoff: config.timeout_backoff,
            max_timeout_ms: config.max_timeout_ms,
        };
        if policy.base_timeout_ms == 0 || policy.max_timeout_ms < policy.base_timeout_ms {
            return Err(ReplicaError::BadTiming {
                reason: "need 0 < base_timeout_ms <= max_timeout_ms",
            });
        }
        let (root, root_qc) = (recovered.root, recovered.root_qc.clone());
        if root_qc.block_id != root.id || root_qc.view != root.view {
            return Err(ReplicaError::BadRoot { reason: "QC does not certify the root".into() });
        }
        root_qc.verify(&validators).map_err(|e| ReplicaError::BadRoot { reason: e.to_string() })?;
        let chain = durable::verify_recovered(&validators, &recovered)?;
        let voted = durable::verify_voted(&validators, &recovered, &chain)?;
        let safety = recovered.safety;
        let high_view = chain.last().map_or(root_qc.view, |(_, cb)| cb.qc.view);
        let start_view = high_view + 1;
        let mut replica = Self {
            validators,
            me,
            signer,
            view_window: config.view_window.max(1),
            sync_retry_ms: config.sync_retry_ms,
            now_ms: 0,
            safety,
            pacemaker: Pacemaker::new(start_view, policy),
            tree: BlockTree::new(root, root_qc.clone()),
            high_qc: root_qc,
            high_tc: None,
            last_tc: None,
            votes: VoteCollector::default(),
            timeouts: TimeoutCollector::default(),
            proposals: BTreeMap::new(),
            my_timeout: None,
            my_vote: None,
            building: None,
            sync: None,
            verified: BTreeSet::new(),
            durable: Vec::new(),
            voted: None,
            durable_voted: None,
            work: work::WorkClock::default(),
            timer_deadline_ms: None,
            metrics: Metrics::default(),
        };
        replica.restore_chain(chain);
        replica.restore_voted(voted);
        Ok(replica)
    }

    /// Re-inserts a verified recovered certified chain: each block is held
    /// with its payload (the driver kept it) and waits for re-execution; the
    /// lock, the high QC and the commit rule are re-applied.
    fn restore_chain(&mut self, chain: Vec<(BlockId, CertifiedBlock)>) {
        for (id, CertifiedBlock { block, qc }) in chain {
            let (height, view, from) = (block.height, block.view, block.proposer);
            let inserted = self.tree.insert(id, block, from, ExecState::Ready);
            assert_eq!(inserted, Inserted::New, "a verified chain extends the root at {height}");
            self.verified_insert(&qc);
            self.tree.add_qc(&qc);
            if let Some(next) =
                self.tree.justify_view(&id).and_then(|v| self.safety.observe_two_chain(v))
            {
                self.safety = next;
            }
            self.tree.three_chain(&id);
            if view > self.high_qc.view {
                self.high_qc = qc;
            }
            self.durable.push((height, id));
        }
    }

    /// Handles one event at virtual time `now_ms`; returns the actions to execute in order.
    pub fn handle(&mut self, now_ms: u64, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle_into(now_ms, event, &mut out);
        out
    }

    /// Like [`Replica::handle`] but appends to `out`.
    pub fn handle_into(&mut self, now_ms: u64, event: Event, out: &mut Vec<Action>) {
        self.now_ms = self.now_ms.max(now_ms);
        match event {
            Event::Start => self.on_start(out),
            Event::Message { from, msg } => self.on_message(from, msg, out),
            Event::TimerFired { view } => self.on_timer(view, out),
            Event::ProposalReady { view, block } => self.on_proposal_ready(view, block, out),
            Event::BlockExecuted { block_id, results, ok } => {
                self.on_executed(block_id, results, ok, out)
            }
            Event::PayloadAvailable { block_id } => {
                self.tree.payload_available(&block_id);
                self.drive_execution(out);
            }
        }
    }

    /// This replica's index.
    pub fn me(&self) -> ValidatorIndex {
        self.me
    }
    /// The validator set.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }
    /// The current view.
    pub fn current_view(&self) -> View {
        self.pacemaker.view()
    }
    /// The in-memory safety state (persisted before every signature).
    pub fn safety_state(&self) -> SafetyState {
        self.safety
    }
    /// The highest QC known.
    pub fn high_qc(&self) -> &QuorumCert {
        &self.high_qc
    }
    /// The committed tip.
    pub fn committed(&self) -> BlockRef {
        self.tree.root()
    }
    /// Counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
    /// Number of uncommitted blocks held (bounded).
    pub fn pending_blocks(&self) -> usize {
        self.tree.len()
    }

    fn on_start(&mut self, out: &mut Vec<Action>) {
        self.set_timer(self.current_view(), out);
        // Re-execute the recovered certified chain (nothing on a fresh start).
        self.drive_execution(out);
        self.try_build(out);
    }

    fn on_timer(&mut self, view: View, out: &mut Vec<Action>) {
        if view != self.current_view() {
            return;
        }
        self.local_timeout(out);
        // Re-arm so the timeout is re-broadcast if messages were lost.
        self.set_timer(view, out);
    }

    /// Signs (once) and broadcasts a timeout for the current view.
    fn local_timeout(&mut self, out: &mut Vec<Action>) {
        let view = self.current_view();
        if let Some(t) = self.my_timeout.as_ref().filter(|t| t.view == view) {
            out.push(Action::Broadcast { msg: Message::Timeout(t.clone()) });
            return;
        }
        let next = self.safety.timeout(view);
        self.persist(next, out);
        let t = Timeout::new(
            self.signer.as_ref(),
            self.validators.genesis_id(),
            self.me,
            view,
            self.high_qc.clone(),
            self.last_tc.clone().filter(|tc| tc.view + 1 == view),
            self.my_vote.clone().filter(|v| v.view == view),
        );
        self.metrics.timeouts_sent += 1;
        self.my_timeout = Some(t.clone());
        out.push(Action::Broadcast { msg: Message::Timeout(t.clone()) });
        if let Some(vote) = t.vote.clone() {
            self.collect_vote(vote, out);
        }
        self.collect_timeout(&t, out);
    }

    /// Makes `next` (and the certified chain it may depend on) durable
    /// before the signature it covers leaves.
    fn persist(&mut self, next: SafetyState, out: &mut Vec<Action>) {
        self.refresh_certified(out);
        self.safety = next;
        out.push(Action::PersistSafety(next));
    }

    /// Enters `certified_view + 1` if that is ahead; arms the timer and, as leader, builds.
    fn advance(
        &mut self,
        certified_view: View,
        entry: Entry,
        tc: Option<TimeoutCert>,
        out: &mut Vec<Action>,
    ) {
        let Some(view) = self.pacemaker.advance(certified_view, entry) else { return };
        self.last_tc = tc;
        self.my_timeout = None;
        self.my_vote = None;
        self.building = None;
        let floor = view.saturating_sub(1);
        self.votes.prune_below(floor);
        self.timeouts.prune_below(view);
        self.proposals = self.proposals.split_off(&floor);
        self.set_timer(view, out);
        self.try_build(out);
        if let Some((id, _)) = self.proposals.get(&view).copied() {
            self.try_vote(id, out);
        }
    }

    /// Takes a verified QC into account: high QC, lock, commit rule, view.
    fn process_qc(&mut self, qc: &QuorumCert, from: ValidatorIndex, out: &mut Vec<Action>) {
        if qc.view > self.high_qc.view {
            self.high_qc = qc.clone();
        }
        if self.tree.add_qc(qc) && self.tree.get(&qc.block_id).is_some() {
            self.on_certified(qc.block_id, out);
        } else if !self.tree.contains(&qc.block_id) && qc.view > self.tree.root().view {
            self.request_sync(qc.block_id, from, out);
        }
        self.advance(qc.view, Entry::Progress, None, out);
    }

    /// Takes a verified TC into account.
    fn process_tc(&mut self, tc: &TimeoutCert, from: ValidatorIndex, out: &mut Vec<Action>) {
        if self.high_tc.as_ref().is_none_or(|h| h.view < tc.view) {
            self.high_tc = Some(tc.clone());
        }
        self.process_qc(&tc.high_qc, from, out);
        self.advance(tc.view, Entry::Timeout, Some(tc.clone()), out);
    }

    /// A held block became certified: raise the lock and apply the commit rule.
    fn on_certified(&mut self, id: BlockId, out: &mut Vec<Action>) {
        if let Some(next) =
            self.tree.justify_view(&id).and_then(|v| self.safety.observe_two_chain(v))
        {
            // The lock only matters for future votes, each preceded by a persist.
            self.safety = next;
        }
        if self.tree.three_chain(&id).is_some() {
            self.try_commit(out);
        }
    }

    fn try_commit(&mut self, out: &mut Vec<Action>) {
        let blocks = self.tree.commit_ready();
        if !blocks.is_empty() {
            self.metrics.blocks_committed += blocks.len() as u64;
            tracing::debug!(me = %self.me, tip = blocks[blocks.len() - 1].block.height, "commit");
            out.push(Action::Commit { blocks });
        }
    }

    /// As leader of the current view, asks the driver for a block once the
    /// parent (the high QC's block) is executed and the view is justified.
    fn try_build(&mut self, out: &mut Vec<Action>) {
        let view = self.current_view();
        if self.validators.leader(view) != self.me
            || self.building.is_some()
            || self.proposals.contains_key(&view)
            || view <= self.safety.last_proposed_view
        {
            return;
        }
        let qc = &self.high_qc;
        let justified =
            qc.view + 1 == view || self.last_tc.as_ref().is_some_and(|tc| tc.view + 1 == view);
        if !justified || !self.tree.is_executed(&qc.block_id) {
            return;
        }
        let Some(height) = self.tree.height_of(&qc.block_id) else { return };
        let parent = BlockRef { id: qc.block_id, view: qc.view, height };
        self.building = Some((view, qc.clone()));
        self.work.build_started(view, self.now_ms);
        out.push(Action::BuildProposal { view, parent });
    }

    fn on_proposal_ready(&mut self, view: View, body: BlockProposalBody, out: &mut Vec<Action>) {
        if let Some(duration_ms) = self.work.build_finished(view, self.now_ms) {
            self.pacemaker.record_work_ms(duration_ms);
        }
        let Some((build_view, justify)) = self.building.clone() else { return };
        if build_view != view || view != self.current_view() {
            return;
        }
        if body.payload.len() > MAX_PAYLOAD_DIGESTS || body.extra.len() > MAX_EXTRA_BYTES {
            tracing::warn!(len = body.payload.len(), "driver built an oversize payload; dropped");
            self.metrics.rejected_malformed += 1;
            self.building = None;
            return;
        }
        let Some(parent_height) = self.tree.height_of(&justify.block_id) else { return };
        let tc = if justify.view + 1 == view { None } else { self.last_tc.clone() };
        let block = Block {
            view,
            height: parent_height + 1,
            parent_id: justify.block_id,
            payload: body.payload,
            exec: body.exec,
            extra: body.extra,
            proposer: self.me,
            justify,
        };
        let Ok(next) = self.safety.propose(view) else { return };
        let proposal =
            Proposal::new(self.signer.as_ref(), self.validators.genesis_id(), block.clone(), tc);
        let id = block.id();
        if self.tree.insert(id, block, self.me, ExecState::Executed) != Inserted::New {
            self.metrics.rejected_capacity += 1;
            return;
        }
        // Durable before the proposal leaves: never a second block for `view`.
        self.persist(next, out);
        self.proposals.insert(view, (id, proposal.signature));
        self.metrics.proposals_sent += 1;
        out.push(Action::Broadcast { msg: Message::Proposal(proposal) });
        self.rearm_for_ready_proposal(view, out);
        self.after_insert(id, out);
        self.try_vote(id, out);
    }

    fn on_executed(&mut self, id: BlockId, results: ExecDigest, ok: bool, out: &mut Vec<Action>) {
        if let Some(duration_ms) = self.work.exec_finished(id, self.now_ms) {
            self.pacemaker.record_work_ms(duration_ms);
        }
        let Some(node) = self.tree.get(&id) else { return };
        let block = &node.block;
        let matches = ok && results == block.exec;
        if !matches {
            let evidence = Evidence::ExecMismatch {
                block_id: id,
                view: block.view,
                proposer: block.proposer,
                claimed: block.exec,
                computed: ok.then_some(results),
            };
            if self.tree.set_executed(&id, false) {
                self.metrics.exec_mismatches += 1;
                out.push(Action::Evidence(evidence));
            }
            return;
        }
        let view = block.view;
        if !self.tree.set_executed(&id, true) {
            return;
        }
        if self.proposals.get(&view).map(|(p, _)| *p) == Some(id) {
            self.rearm_for_ready_proposal(view, out);
        }
        self.drive_execution(out);
        self.try_commit(out);
        self.try_build(out);
        self.try_vote(id, out);
    }

    /// Issues `Execute` for every block whose payload and parent state are ready.
    fn drive_execution(&mut self, out: &mut Vec<Action>) {
        for block in self.tree.take_executable() {
            self.work.exec_started(block.id(), self.now_ms);
            out.push(Action::Execute { block });
        }
    }

    /// Arms the timer of `view` for the pacemaker's current timeout.
    fn set_timer(&mut self, view: View, out: &mut Vec<Action>) {
        let duration_ms = self.pacemaker.timeout_ms();
        self.timer_deadline_ms = Some(self.now_ms.saturating_add(duration_ms));
        out.push(Action::SetTimer { view, duration_ms });
    }

    /// Restarts the current view's timer, once per view, when the view's
    /// proposal has just been built or executed here and less than half a
    /// timeout is left: the time the work took is no reason to give up on
    /// the view, which still needs its votes and the next leader's build
    /// (the work allowance in the timeout covers those). Liveness only; a
    /// replica that already timed out in the view keeps its timer.
    fn rearm_for_ready_proposal(&mut self, view: View, out: &mut Vec<Action>) {
        let timed_out = self.my_timeout.as_ref().is_some_and(|t| t.view == view);
        // Before `Event::Start` there is no timer to restart.
        let Some(deadline_ms) = self.timer_deadline_ms else { return };
        let short = deadline_ms.saturating_sub(self.now_ms) < self.pacemaker.timeout_ms() / 2;
        if view == self.current_view() && !timed_out && short && self.work.rearm(view) {
            self.set_timer(view, out);
        }
    }

    /// Votes for `id` if it is the current view's (first) proposal, executed,
    /// and the safety rules allow it. The vote goes to the next view's leader.
    fn try_vote(&mut self, id: BlockId, out: &mut Vec<Action>) {
        let Some(node) = self.tree.get(&id) else { return };
        let (view, justify_view, exec) =
            (node.block.view, node.block.justify.view, node.block.exec);
        if node.exec != ExecState::Executed
            || view != self.current_view()
            || self.proposals.get(&view).map(|(p, _)| *p) != Some(id)
        {
            return;
        }
        let Ok(next) = self.safety.vote(view, justify_view) else { return };
        // The voted block is durable before the vote leaves (see `PersistCertified`).
        self.voted = Some(id);
        self.persist(next, out);
        let vote =
            Vote::new(self.signer.as_ref(), self.validators.genesis_id(), self.me, view, id, exec);
        self.metrics.votes_sent += 1;
        self.my_vote = Some(vote.clone());
        let to = self.validators.leader(view + 1);
        if to == self.me {
            self.collect_vote(vote, out);
        } else {
            out.push(Action::Send { to, msg: Message::Vote(vote) });
        }
    }

    /// Adds a verified vote (ours or a peer's) as the next leader.
    fn collect_vote(&mut self, vote: Vote, out: &mut Vec<Action>) {
        let signer = vote.signer;
        match self.votes.add(vote.clone(), self.validators.quorum()) {
            VoteOutcome::Pending => {}
            VoteOutcome::Formed(qc) => {
                self.metrics.qcs_formed += 1;
                self.verified_insert(&qc);
                self.process_qc(&qc, signer, out);
            }
            VoteOutcome::Equivocation(first) => {
                self.metrics.equivocations += 1;
                out.push(Action::Evidence(Evidence::VoteEquivocation {
                    view: vote.view,
                    signer,
                    first: (first.block_id, first.exec, first.signature),
                    second: (vote.block_id, vote.exec, vote.signature),
                }));
            }
        }
    }

    /// Adds a verified timeout for the current view; joins after `f + 1`
    /// timeouts and advances on a TC.
    fn collect_timeout(&mut self, t: &Timeout, out: &mut Vec<Action>) {
        let (count, tc) = self.timeouts.add(t, self.validators.quorum());
        if count > self.validators.max_faulty()
            && self.my_timeout.is_none()
            && t.view == self.current_view()
        {
            self.local_timeout(out);
        }
        if let Some(tc) = tc {
            self.metrics.tcs_formed += 1;
            self.process_tc(&tc, t.signer, out);
        }
    }

    /// After a block joined the tree: fetch its payload, raise the lock from
    /// its justify, adopt orphans, and start executions.
    fn after_insert(&mut self, id: BlockId, out: &mut Vec<Action>) {
        let mut queue = vec![id];
        let mut steps = 0;
        while let Some(id) = queue.pop() {
            steps += 1;
            if steps > crate::tree::MAX_ORPHANS + 1 {
                break;
            }
            if let Some(node) = self.tree.get(&id) {
                if node.exec == ExecState::AwaitingPayload {
                    out.push(Action::FetchPayload {
                        block_id: id,
                        digests: node.block.payload.clone(),
                        from: node.from,
                    });
                }
                let parent = node.block.parent_id;
                if self.tree.get(&parent).is_some() {
                    self.on_certified(parent, out);
                }
            }
            if self.tree.qc_of(&id).is_some() {
                self.on_certified(id, out);
            }
            for (oid, block, from) in self.tree.take_orphans_of(&id) {
                if self.insert_block(oid, block, from) == Inserted::New {
                    queue.push(oid);
                }
            }
        }
        self.drive_execution(out);
    }

    fn insert_block(&mut self, id: BlockId, block: Block, from: ValidatorIndex) -> Inserted {
        let state =
            if block.payload.is_empty() { ExecState::Ready } else { ExecState::AwaitingPayload };
        let result = self.tree.insert(id, block, from, state);
        if result == Inserted::Full {
            self.metrics.rejected_capacity += 1;
        }
        result
    }

    /// Verifies a QC once; later copies of the same statement are accepted from the cache.
    fn check_qc(&mut self, qc: &QuorumCert) -> bool {
        if self.verified.contains(&(qc.view, qc.block_id, qc.exec)) {
            return true;
        }
        match qc.verify(&self.validators) {
            Ok(()) => {
                self.verified_insert(qc);
                true
            }
            Err(e) => {
                self.count_rejection(&e);
                false
            }
        }
    }

    fn check_tc(&mut self, tc: &TimeoutCert) -> bool {
        match tc.verify(&self.validators) {
            Ok(()) => {
                self.verified_insert(&tc.high_qc);
                true
            }
            Err(e) => {
                self.count_rejection(&e);
                false
            }
        }
    }

    fn verified_insert(&mut self, qc: &QuorumCert) {
        if self.verified.len() >= VERIFIED_CACHE_MAX {
            self.verified.pop_first();
        }
        self.verified.insert((qc.view, qc.block_id, qc.exec));
    }

    fn count_rejection(&mut self, e: &CertError) {
        let m = &mut self.metrics;
        match e {
            CertError::UnknownSigner { .. } => m.rejected_unknown_signer += 1,
            CertError::DuplicateSigner { .. } => m.rejected_duplicate_signer += 1,
            CertError::NoQuorum { .. } | CertError::BadGenesis => m.rejected_no_quorum += 1,
            CertError::BadSignature | CertError::HighQcMismatch { .. } => {
                m.rejected_bad_signature += 1
            }
        }
    }
}

#[cfg(test)]
mod tests;

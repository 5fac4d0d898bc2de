//! A small deterministic harness: replicas wired through an in-memory FIFO
//! queue with virtual time, a fake builder/executor (exec digest = keccak of
//! the payload) and payloads that are always available.

use super::*;
use crate::cert::tests::{set_of, signers};
use crate::types::Height;
use crate::validators::Ed25519Signer;
use alloy_primitives::{keccak256, B256};
use std::collections::VecDeque;

fn exec_of(payload: &[B256]) -> B256 {
    keccak256(payload.iter().flat_map(|d| d.0).collect::<Vec<u8>>())
}

fn config(s: &[Ed25519Signer], me: u16) -> ReplicaConfig {
    // Same seeds as `cert::tests::signers`.
    let signer = Box::new(Ed25519Signer::from_seed([me as u8 + 1; 32]));
    let mut c = ReplicaConfig::new(set_of(s), ValidatorIndex(me), signer);
    c.base_timeout_ms = 100;
    c.max_timeout_ms = 1_600;
    c
}

struct Net {
    replicas: Vec<Option<Replica>>,
    /// Replicas whose traffic is dropped (both directions) while true.
    cut: Vec<bool>,
    queue: VecDeque<(usize, Event)>,
    timers: BTreeMap<usize, (View, u64)>,
    now_ms: u64,
    committed: Vec<Vec<(Height, BlockId)>>,
    persisted: Vec<SafetyState>,
    /// Durable certified chains (`PersistCertified`), by height.
    durable: Vec<BTreeMap<Height, CertifiedBlock>>,
    /// Durable voted branches (`PersistCertified::voted`), the voted block last.
    voted: Vec<Vec<Block>>,
    /// Durable committed tips.
    roots: Vec<Option<CertifiedBlock>>,
    evidence: Vec<Evidence>,
    byzantine_exec: Option<usize>,
}

impl Net {
    fn new(n: usize, silent: &[usize]) -> Self {
        let s = signers(n);
        let genesis = set_of(&s).genesis_id();
        let replicas = (0..n)
            .map(|i| {
                (!silent.contains(&i)).then(|| {
                    Replica::new(config(&s, i as u16), RecoveryState::genesis(genesis)).unwrap()
                })
            })
            .collect();
        let mut net = Self {
            replicas,
            cut: vec![false; n],
            queue: VecDeque::new(),
            timers: BTreeMap::new(),
            now_ms: 0,
            committed: vec![Vec::new(); n],
            persisted: vec![SafetyState::default(); n],
            durable: vec![BTreeMap::new(); n],
            voted: vec![Vec::new(); n],
            roots: vec![None; n],
            evidence: Vec::new(),
            byzantine_exec: None,
        };
        for i in 0..n {
            net.queue.push_back((i, Event::Start));
        }
        net
    }

    fn deliver(&mut self, from: usize, to: usize, msg: Message) {
        if !self.cut[from] && !self.cut[to] {
            let from = ValidatorIndex(from as u16);
            self.queue.push_back((to, Event::Message { from, msg }));
        }
    }

    /// Executes one replica's actions in order, checking persist-before-sign
    /// and that every certified-chain update comes right before a safety persist.
    fn perform(&mut self, i: usize, actions: Vec<Action>) {
        let mut certified_pending = false;
        for action in actions {
            assert!(
                !certified_pending || matches!(action, Action::PersistSafety(_)),
                "PersistCertified must be followed by PersistSafety, got {action:?}"
            );
            certified_pending = false;
            match action {
                Action::Send { to, msg } => {
                    self.check_signed_after_persist(i, &msg);
                    self.deliver(i, usize::from(to.0), msg);
                }
                Action::Broadcast { msg } => {
                    self.check_signed_after_persist(i, &msg);
                    for to in (0..self.replicas.len()).filter(|&to| to != i) {
                        self.deliver(i, to, msg.clone());
                    }
                }
                Action::SetTimer { view, duration_ms } => {
                    self.timers.insert(i, (view, self.now_ms + duration_ms));
                }
                Action::BuildProposal { view, .. } => {
                    let payload = vec![keccak256(view.to_be_bytes())];
                    let mut exec = exec_of(&payload);
                    if self.byzantine_exec == Some(i) {
                        exec = B256::repeat_byte(0xee);
                    }
                    let block = BlockProposalBody { payload, exec, extra: Vec::new() };
                    self.queue.push_back((i, Event::ProposalReady { view, block }));
                }
                Action::FetchPayload { block_id, .. } => {
                    self.queue.push_back((i, Event::PayloadAvailable { block_id }));
                }
                Action::Execute { block } => {
                    let ev = Event::BlockExecuted {
                        block_id: block.id(),
                        results: exec_of(&block.payload),
                        ok: true,
                    };
                    self.queue.push_back((i, ev));
                }
                Action::PersistSafety(s) => {
                    assert!(
                        s.last_voted_view >= self.persisted[i].last_voted_view,
                        "safety regressed"
                    );
                    self.persisted[i] = s;
                }
                Action::PersistCertified { from_height, blocks, voted } => {
                    certified_pending = true;
                    self.voted[i] = voted;
                    let chain = &mut self.durable[i];
                    chain.split_off(&from_height);
                    chain.extend(blocks.into_iter().map(|cb| (cb.block.height, cb)));
                    assert!(chain.len() <= MAX_PERSISTED_CERTIFIED);
                }
                Action::Commit { blocks } => {
                    for cb in blocks {
                        let last = self.committed[i].last().map_or(0, |(h, _)| *h);
                        assert_eq!(cb.block.height, last + 1, "commits are contiguous");
                        assert_eq!(cb.qc.block_id, cb.block.id());
                        self.committed[i].push((cb.block.height, cb.qc.block_id));
                        self.durable[i] = self.durable[i].split_off(&(cb.block.height + 1));
                        self.roots[i] = Some(cb);
                    }
                }
                Action::Evidence(e) => self.evidence.push(e),
                Action::FetchBlocks { .. } => {}
            }
        }
    }

    fn check_signed_after_persist(&self, i: usize, msg: &Message) {
        let p = self.persisted[i];
        match msg {
            Message::Vote(v) if v.signer.0 as usize == i => assert!(p.last_voted_view >= v.view),
            Message::Timeout(t) if t.signer.0 as usize == i => {
                assert!(p.highest_timeout_view >= t.view)
            }
            _ => {}
        }
    }

    /// Runs until `done` holds or `max_steps` events were handled.
    fn run_until(&mut self, max_steps: usize, done: impl Fn(&Net) -> bool) -> bool {
        for _ in 0..max_steps {
            if done(self) {
                return true;
            }
            let (i, event) = match self.queue.pop_front() {
                Some(next) => next,
                None => {
                    let Some((&i, &(view, at))) =
                        self.timers.iter().min_by_key(|(i, (_, at))| (*at, **i))
                    else {
                        return false;
                    };
                    self.timers.remove(&i);
                    self.now_ms = self.now_ms.max(at);
                    (i, Event::TimerFired { view })
                }
            };
            let now = self.now_ms;
            let Some(replica) = self.replicas[i].as_mut() else { continue };
            let actions = replica.handle(now, event);
            self.perform(i, actions);
        }
        done(self)
    }

    fn honest(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.replicas.len()).filter(|&i| self.replicas[i].is_some())
    }

    fn min_committed(&self) -> usize {
        self.honest().map(|i| self.committed[i].len()).min().unwrap_or(0)
    }

    /// Every pair of replicas agrees on their common committed prefix.
    fn assert_consistent(&self) {
        let longest = self.honest().max_by_key(|&i| self.committed[i].len()).unwrap();
        for i in self.honest() {
            let n = self.committed[i].len();
            assert_eq!(self.committed[i][..], self.committed[longest][..n], "replica {i} diverged");
        }
    }

    fn replica(&self, i: usize) -> &Replica {
        self.replicas[i].as_ref().unwrap()
    }

    /// What replica `i` restarts from: only its durable state.
    fn recovery(&self, i: usize) -> RecoveryState {
        let genesis = set_of(&signers(self.replicas.len())).genesis_id();
        let mut state = match &self.roots[i] {
            None => RecoveryState::genesis(genesis),
            Some(cb) => RecoveryState {
                root: cb.block.as_ref(),
                root_qc: cb.qc.clone(),
                ..RecoveryState::genesis(genesis)
            },
        };
        state.safety = self.persisted[i];
        state.certified = self.durable[i].values().cloned().collect();
        state.voted = self.voted[i].clone();
        state
    }

    /// Crashes every replica at once (in-flight messages and timers are
    /// lost) and restarts each from its durable state.
    fn restart_all(&mut self) {
        self.queue.clear();
        self.timers.clear();
        let s = signers(self.replicas.len());
        for i in 0..self.replicas.len() {
            if self.replicas[i].is_some() {
                let recovered = self.recovery(i);
                self.replicas[i] = Some(Replica::new(config(&s, i as u16), recovered).unwrap());
                self.queue.push_back((i, Event::Start));
            }
        }
    }
}

#[test]
fn four_replicas_commit_the_same_blocks() {
    let mut net = Net::new(4, &[]);
    assert!(net.run_until(20_000, |n| n.min_committed() >= 20));
    net.assert_consistent();
    for i in 0..4 {
        let m = net.replica(i).metrics();
        assert_eq!(m.tcs_formed, 0, "no view should time out in a synchronous run");
        assert_eq!(m.rejected_bad_signature + m.rejected_malformed + m.rejected_wrong_leader, 0);
        assert!(net.replica(i).pending_blocks() < 10, "the tree is pruned");
    }
    assert!(net.evidence.is_empty());
}

#[test]
fn commits_continue_with_one_silent_replica() {
    let mut net = Net::new(4, &[3]);
    assert!(net.run_until(50_000, |n| n.min_committed() >= 10));
    net.assert_consistent();
    let tcs: u64 = net.honest().map(|i| net.replica(i).metrics().tcs_formed).sum();
    assert!(tcs > 0, "the silent leader's views must time out");
}

#[test]
fn lagging_replica_catches_up_through_block_sync() {
    let mut net = Net::new(4, &[]);
    net.cut[3] = true;
    assert!(net.run_until(50_000, |n| (0..3).all(|i| n.committed[i].len() >= 15)));
    assert!(net.committed[3].is_empty());
    net.cut[3] = false;
    let target = net.committed[0].len() + 5;
    assert!(net.run_until(100_000, |n| n.committed[3].len() >= target));
    net.assert_consistent();
    assert!(net.replica(3).metrics().sync_requests_sent > 0);
}

#[test]
fn wrong_execution_results_get_no_votes_and_evidence() {
    let mut net = Net::new(4, &[]);
    net.byzantine_exec = Some(1);
    assert!(net.run_until(50_000, |n| n.min_committed() >= 10));
    net.assert_consistent();
    assert!(net
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::ExecMismatch { proposer, .. } if proposer.0 == 1)));
    assert!(net.replica(0).metrics().exec_mismatches > 0);
}

/// A fresh replica `me` of four, plus everyone's signers.
fn fresh(me: u16) -> (Replica, Vec<Ed25519Signer>) {
    let s = signers(4);
    let genesis = set_of(&s).genesis_id();
    (Replica::new(config(&s, me), RecoveryState::genesis(genesis)).unwrap(), s)
}

/// A view-1 proposal on genesis by validator `by` (the rightful leader is 1).
fn proposal(s: &[Ed25519Signer], by: u16, payload: Vec<B256>) -> Proposal {
    let genesis = set_of(s).genesis_id();
    let block = Block {
        view: 1,
        height: 1,
        parent_id: genesis,
        exec: exec_of(&payload),
        payload,
        extra: Vec::new(),
        proposer: ValidatorIndex(by),
        justify: QuorumCert::genesis(genesis),
    };
    Proposal::new(&s[usize::from(by)], genesis, block, None)
}

fn deliver(r: &mut Replica, from: u16, msg: Message) -> Vec<Action> {
    r.handle(0, Event::Message { from: ValidatorIndex(from), msg })
}

/// Feeds the proposal, answers its `Execute` with `results`, returns the actions.
fn propose_and_execute(r: &mut Replica, p: &Proposal, results: B256) -> Vec<Action> {
    let actions = deliver(r, p.block.proposer.0, Message::Proposal(p.clone()));
    assert!(actions.iter().any(|a| matches!(a, Action::Execute { .. })), "{actions:?}");
    r.handle(0, Event::BlockExecuted { block_id: p.block.id(), results, ok: true })
}

#[test]
fn votes_after_persisting_and_never_again_after_restart() {
    let (mut r, s) = fresh(2);
    r.handle(0, Event::Start);
    let p = proposal(&s, 1, Vec::new());
    let actions = propose_and_execute(&mut r, &p, exec_of(&[]));
    // Replica 2 leads view 2, so its own vote is collected locally, after
    // the persist of the voted block and the safety state.
    let [Action::PersistCertified { ref voted, .. }, Action::PersistSafety(persisted)] =
        actions[..]
    else {
        panic!("{actions:?}")
    };
    assert_eq!(voted, &vec![p.block.clone()], "the voted block is durable");
    assert_eq!(persisted.last_voted_view, 1);
    // Restart from the persisted state: the same proposal gets no second vote.
    let genesis = set_of(&s).genesis_id();
    let recovered = RecoveryState { safety: persisted, ..RecoveryState::genesis(genesis) };
    let mut r = Replica::new(config(&s, 2), recovered).unwrap();
    r.handle(0, Event::Start);
    let actions = propose_and_execute(&mut r, &p, exec_of(&[]));
    assert!(!actions.iter().any(|a| matches!(a, Action::PersistSafety(_))), "{actions:?}");
}

#[test]
fn a_slow_execution_restarts_the_view_timer_with_the_work_allowance() {
    let (mut r, s) = fresh(3);
    let start = r.handle(0, Event::Start);
    assert!(start.contains(&Action::SetTimer { view: 1, duration_ms: 100 }), "{start:?}");
    let p = proposal(&s, 1, Vec::new());
    let from = ValidatorIndex(1);
    let actions = r.handle(10, Event::Message { from, msg: Message::Proposal(p.clone()) });
    assert!(actions.iter().any(|a| matches!(a, Action::Execute { .. })), "{actions:?}");
    // Executing takes 250 ms, past the 100 ms timeout: the view gets a fresh
    // timer, now allowing for that work (twice the window's mean), and the
    // vote still leaves.
    let results = exec_of(&[]);
    let done = Event::BlockExecuted { block_id: p.block.id(), results, ok: true };
    let actions = r.handle(260, done.clone());
    let allowance = 2 * 250 / crate::pacemaker::WORK_WINDOW as u64;
    assert!(actions.contains(&Action::SetTimer { view: 1, duration_ms: 100 + allowance }));
    assert!(actions.iter().any(|a| matches!(a, Action::Send { msg: Message::Vote(_), .. })));
    // Once per view: a repeated answer changes nothing.
    assert!(r.handle(900, done).is_empty());
}

#[test]
fn vote_goes_to_next_leader_after_persist() {
    let (mut r, s) = fresh(3);
    let p = proposal(&s, 1, vec![B256::repeat_byte(5)]);
    let actions = deliver(&mut r, 1, Message::Proposal(p.clone()));
    assert!(actions.iter().any(|a| matches!(a, Action::FetchPayload { .. })), "{actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Execute { .. })), "payload first");
    let actions = r.handle(0, Event::PayloadAvailable { block_id: p.block.id() });
    assert!(matches!(&actions[..], [Action::Execute { .. }]));
    let results = exec_of(&p.block.payload);
    let actions = r.handle(0, Event::BlockExecuted { block_id: p.block.id(), results, ok: true });
    assert!(matches!(
        &actions[..],
        [
            Action::PersistCertified { voted, .. },
            Action::PersistSafety(_),
            Action::Send { to: ValidatorIndex(2), msg: Message::Vote(_) }
        ] if voted.len() == 1
    ));
}

#[test]
fn execution_mismatch_is_evidence_and_no_vote() {
    let (mut r, s) = fresh(3);
    let p = proposal(&s, 1, Vec::new());
    let actions = propose_and_execute(&mut r, &p, B256::repeat_byte(0xab));
    assert!(matches!(
        &actions[..],
        [Action::Evidence(Evidence::ExecMismatch { proposer: ValidatorIndex(1), .. })]
    ));
    assert_eq!(r.metrics().exec_mismatches, 1);
}

#[test]
fn two_signed_proposals_for_one_view_are_equivocation() {
    let (mut r, s) = fresh(3);
    deliver(&mut r, 1, Message::Proposal(proposal(&s, 1, Vec::new())));
    let second = proposal(&s, 1, vec![B256::repeat_byte(1)]);
    let actions = deliver(&mut r, 1, Message::Proposal(second));
    assert!(matches!(
        &actions[..],
        [Action::Evidence(Evidence::ProposalEquivocation {
            view: 1,
            proposer: ValidatorIndex(1),
            ..
        })]
    ));
}

#[test]
fn rejects_forged_misdirected_and_far_future_input() {
    let (mut r, s) = fresh(3);
    let genesis = set_of(&s).genesis_id();
    // Signed by validator 2 but claiming to come from leader 1.
    let mut forged = proposal(&s, 1, Vec::new());
    forged.signature = proposal(&s, 2, Vec::new()).signature;
    assert!(deliver(&mut r, 1, Message::Proposal(forged)).is_empty());
    assert_eq!(r.metrics().rejected_bad_signature, 1);
    // Validly signed by 2, who does not lead view 1.
    assert!(deliver(&mut r, 2, Message::Proposal(proposal(&s, 2, Vec::new()))).is_empty());
    assert_eq!(r.metrics().rejected_wrong_leader, 1);
    // Relayed by someone other than the proposer.
    assert!(deliver(&mut r, 0, Message::Proposal(proposal(&s, 1, Vec::new()))).is_empty());
    assert_eq!(r.metrics().rejected_wrong_sender, 1);
    // A vote for a view far beyond the window (this replica leads view 3 + 4k).
    let far = Vote::new(&s[0], genesis, ValidatorIndex(0), 4_002, B256::ZERO, B256::ZERO);
    assert!(deliver(&mut r, 0, Message::Vote(far)).is_empty());
    assert_eq!(r.metrics().rejected_future_view, 1);
    // A justify QC with a duplicated signer.
    let mut dup = proposal(&s, 1, Vec::new()).block;
    dup.view = 2;
    dup.proposer = ValidatorIndex(2);
    let qc = crate::cert::tests::qc_from(&s, &[0, 0, 1], 1, B256::repeat_byte(3));
    dup.parent_id = qc.block_id;
    dup.justify = qc;
    let p = Proposal::new(&s[2], genesis, dup, None);
    assert!(deliver(&mut r, 2, Message::Proposal(p)).is_empty());
    assert_eq!(r.metrics().rejected_duplicate_signer, 1);
    // Nothing was accepted.
    assert_eq!(r.pending_blocks(), 0);
    assert_eq!(r.safety_state(), SafetyState::default());
}

#[test]
fn messages_from_outside_the_set_are_dropped() {
    let (mut r, s) = fresh(3);
    let p = proposal(&s, 1, Vec::new());
    assert!(r
        .handle(0, Event::Message { from: ValidatorIndex(9), msg: Message::Proposal(p) })
        .is_empty());
    assert_eq!(r.metrics().rejected_unknown_signer, 1);
}

#[test]
fn same_events_give_same_actions() {
    let run = || {
        let mut net = Net::new(4, &[2]);
        net.run_until(20_000, |n| n.min_committed() >= 5);
        net.committed.clone()
    };
    assert_eq!(run(), run());
}

mod durable;

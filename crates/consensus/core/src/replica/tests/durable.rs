//! Durability across restarts: the proposed view, the certified chain and the voted block.

use super::*;
use crate::message::{BlockRequest, SyncInfo};
use crate::tree::ExecState;

/// The index of the first `PersistSafety` satisfying `pred`, and its state.
fn persisted_where(
    actions: &[Action],
    pred: impl Fn(&SafetyState) -> bool,
) -> (usize, SafetyState) {
    actions
        .iter()
        .enumerate()
        .find_map(|(k, a)| match a {
            Action::PersistSafety(s) if pred(s) => Some((k, *s)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no matching PersistSafety in {actions:?}"))
}

#[test]
fn restarted_leader_never_signs_a_second_proposal() {
    let (mut r, s) = fresh(1);
    let actions = r.handle(0, Event::Start);
    assert!(actions.iter().any(|a| matches!(a, Action::BuildProposal { view: 1, .. })));
    let body = BlockProposalBody { payload: Vec::new(), exec: exec_of(&[]), extra: Vec::new() };
    let actions = r.handle(0, Event::ProposalReady { view: 1, block: body });
    let (at, state) = persisted_where(&actions, |s| s.last_proposed_view == 1);
    let sent = actions
        .iter()
        .position(|a| matches!(a, Action::Broadcast { msg: Message::Proposal(_) }))
        .expect("the proposal is broadcast");
    assert!(at < sent, "the proposed view is durable before the proposal leaves: {actions:?}");
    // Crash right after the proposal left (before anything else was persisted).
    let genesis = set_of(&s).genesis_id();
    let recovered = RecoveryState { safety: state, ..RecoveryState::genesis(genesis) };
    let mut r = Replica::new(config(&s, 1), recovered).unwrap();
    assert_eq!(r.current_view(), 1, "restarts in the view it proposed in");
    let actions = r.handle(0, Event::Start);
    assert!(!actions.iter().any(|a| matches!(a, Action::BuildProposal { .. })), "{actions:?}");
    // Its timer still fires and it times out of the view as usual.
    let actions = r.handle(100, Event::TimerFired { view: 1 });
    assert!(actions.iter().any(|a| matches!(a, Action::Broadcast { msg: Message::Timeout(_) })));
}

/// A four-replica net that committed a few blocks and holds certified,
/// uncommitted blocks in some durable chain.
fn net_with_certified_chain() -> Net {
    let mut net = Net::new(4, &[]);
    assert!(net.run_until(20_000, |n| n.min_committed() >= 6));
    assert!((0..4).any(|i| !net.durable[i].is_empty()), "nothing certified above the root");
    net
}

#[test]
fn restarting_every_replica_at_once_resumes_from_the_certified_chain() {
    let mut net = net_with_certified_chain();
    let locks: Vec<View> = net.persisted.iter().map(|s| s.preferred_view).collect();
    net.restart_all();
    for (i, lock) in locks.into_iter().enumerate() {
        let held = net.durable[i].len() + net.voted[i].len();
        assert_eq!(net.replica(i).pending_blocks(), held, "replica {i}");
        assert!(net.replica(i).safety_state().preferred_view >= lock, "the lock is kept");
        let high = net.durable[i].values().last().map(|cb| cb.qc.view);
        assert!(high.is_none_or(|v| v >= lock), "the chain reaches the lock");
    }
    let target = net.min_committed() + 10;
    assert!(net.run_until(100_000, |n| n.min_committed() >= target), "commits resume");
    net.assert_consistent();
    assert!(net.evidence.is_empty(), "{:?}", net.evidence);
}

#[test]
fn restarting_every_replica_twice_in_a_row_is_fine() {
    let mut net = net_with_certified_chain();
    net.restart_all();
    // Crash again mid-recovery, a few hundred events after the first restart.
    let partial = net.min_committed() + 1;
    net.run_until(300, |n| n.min_committed() >= partial);
    net.restart_all();
    let target = net.min_committed() + 5;
    assert!(net.run_until(100_000, |n| n.min_committed() >= target));
    net.assert_consistent();
}

#[test]
fn recovery_verifies_the_certified_chain() {
    let net = net_with_certified_chain();
    let i = (0..4).max_by_key(|&i| net.durable[i].len()).unwrap();
    let s = signers(4);
    let base = RecoveryState { voted: Vec::new(), ..net.recovery(i) };
    let chain = base.certified.clone();
    let build = |certified: Vec<CertifiedBlock>| {
        Replica::new(config(&s, i as u16), RecoveryState { certified, ..base.clone() })
    };
    assert_eq!(build(chain.clone()).unwrap().pending_blocks(), chain.len());
    // A QC that does not verify is corruption.
    let mut forged = chain.clone();
    forged[0].qc.signatures[0].1 = forged[0].qc.signatures[1].1;
    assert!(matches!(build(forged), Err(ReplicaError::BadCertifiedChain { .. })));
    // A QC for another block is corruption.
    let mut moved = chain.clone();
    moved[0].qc.block_id = B256::repeat_byte(9);
    assert!(matches!(build(moved), Err(ReplicaError::BadCertifiedChain { .. })));
    // Blocks at or below the root are ignored (the driver may not have pruned them).
    let mut with_root = vec![net.roots[i].clone().unwrap()];
    with_root.extend(chain.iter().cloned());
    assert_eq!(build(with_root).unwrap().pending_blocks(), chain.len());
    // A chain that does not start on the root is a pruned fork: dropped whole.
    assert_eq!(build(chain[1..].to_vec()).unwrap().pending_blocks(), 0);
    if chain.len() >= 3 {
        let mut gap = chain.clone();
        gap.remove(1);
        assert!(matches!(build(gap), Err(ReplicaError::BadCertifiedChain { .. })));
    }
}

/// A net stopped when some replica `i` durably holds a voted block that
/// another replica already has a QC for; returns `i` and the QC.
fn net_with_certified_voted_block() -> (Net, usize, QuorumCert) {
    let mut net = Net::new(4, &[]);
    let found = |n: &Net| {
        (0..4).find_map(|i| {
            let id = n.voted[i].last()?.id();
            let qc = (0..4).map(|j| n.replica(j).high_qc()).find(|qc| qc.block_id == id)?;
            (n.min_committed() >= 3).then(|| (i, qc.clone()))
        })
    };
    assert!(net.run_until(20_000, |n| found(n).is_some()), "no certified voted block");
    let (i, qc) = found(&net).unwrap();
    (net, i, qc)
}

#[test]
fn a_restarted_voter_restores_and_serves_its_voted_block() {
    // Seed 3213: a leader formed a QC from votes without the block and every
    // voter crashed before learning the QC. The voters' durable voted blocks
    // let the QC's holder fetch the block once a voter learns the QC.
    let (net, i, qc) = net_with_certified_voted_block();
    let s = signers(4);
    let mut r = Replica::new(config(&s, i as u16), net.recovery(i)).unwrap();
    let held = net.durable[i].len() + net.voted[i].len();
    assert_eq!(r.pending_blocks(), held, "chain and voted branch held");
    let actions = r.handle(0, Event::Start);
    let executes = actions.iter().filter(|a| matches!(a, Action::Execute { .. })).count();
    assert!(executes >= 1, "the recovered blocks are re-executed: {actions:?}");
    let from = ValidatorIndex(((i + 1) % 4) as u16);
    let info = SyncInfo { high_qc: qc.clone(), high_tc: None };
    r.handle(0, Event::Message { from, msg: Message::SyncInfo(info) });
    let req = BlockRequest { from_height: r.committed().height + 1, target: qc.block_id };
    let actions = r.handle(0, Event::Message { from, msg: Message::BlockRequest(req) });
    let served = actions.iter().any(|a| match a {
        Action::Send { msg: Message::BlockResponse(resp), .. } => {
            resp.blocks.last().is_some_and(|cb| cb.qc.block_id == qc.block_id)
        }
        _ => false,
    });
    assert!(served, "the voted block is served with its QC: {actions:?}");
}

#[test]
fn recovery_verifies_the_voted_block() {
    let (net, i, _) = net_with_certified_voted_block();
    let s = signers(4);
    let base = net.recovery(i);
    let voted = base.voted.last().cloned().expect("a voted block");
    let build = |voted: Vec<Block>| {
        Replica::new(config(&s, i as u16), RecoveryState { voted, ..base.clone() })
    };
    let held = base.certified.len();
    assert_eq!(build(vec![voted.clone()]).unwrap().pending_blocks(), held + 1);
    // A parent that is neither the root nor in the chain: a pruned fork, dropped.
    let mut orphan = voted.clone();
    orphan.parent_id = B256::repeat_byte(7);
    orphan.justify.block_id = orphan.parent_id;
    assert_eq!(build(vec![orphan]).unwrap().pending_blocks(), held);
    // A justify that does not verify, or a wrong height, is corruption.
    let mut forged = voted.clone();
    forged.justify.signatures[0].1 = forged.justify.signatures[1].1;
    assert!(matches!(build(vec![forged]), Err(ReplicaError::BadCertifiedChain { .. })));
    let mut tall = voted.clone();
    tall.height += 1;
    assert!(matches!(build(vec![tall]), Err(ReplicaError::BadCertifiedChain { .. })));
    // A branch whose next block does not extend the one before is corruption.
    let broken = vec![voted.clone(), voted.clone()];
    assert!(matches!(build(broken), Err(ReplicaError::BadCertifiedChain { .. })));
    // At or below the root: already committed, ignored.
    let mut low = voted;
    low.height = base.root.height;
    assert_eq!(build(vec![low]).unwrap().pending_blocks(), held);
}

/// A QC for `block` (signed by validators 0, 1 and 2).
fn qc_on(s: &[Ed25519Signer], block: &Block) -> QuorumCert {
    crate::cert::tests::qc_with_exec(s, &[0, 1, 2], block.view, block.id(), block.exec)
}

/// The block of `view` by its rightful leader on `parent`, justified by `justify`.
fn block_at(s: &[Ed25519Signer], view: View, parent: &Block, justify: QuorumCert) -> Block {
    Block {
        view,
        height: parent.height + 1,
        parent_id: parent.id(),
        exec: exec_of(&[B256::with_last_byte(view as u8)]),
        payload: vec![B256::with_last_byte(view as u8)],
        extra: Vec::new(),
        proposer: set_of(s).leader(view),
        justify,
    }
}

#[test]
fn a_vote_on_another_fork_is_persisted_with_its_branch_and_restored() {
    // Seen by replica 3: the chain A1 (view 1) <- A2 (view 3, certified) is
    // its highest certified chain, and it voted for F2 (view 4), whose parent
    // F1 (view 2) is certified (F2's justify) but off that chain: a vote the
    // safety rules allow (justify above the lock) on another fork.
    let (mut r, s) = fresh(3);
    let genesis_id = set_of(&s).genesis_id();
    let root = Block {
        view: 0,
        height: 0,
        parent_id: B256::ZERO,
        exec: B256::ZERO,
        payload: Vec::new(),
        extra: Vec::new(),
        proposer: ValidatorIndex(0),
        justify: QuorumCert::genesis(genesis_id),
    };
    let on_root = |view| {
        let mut b = block_at(&s, view, &root, QuorumCert::genesis(genesis_id));
        b.parent_id = genesis_id;
        b
    };
    let a1 = on_root(1);
    let a2 = block_at(&s, 3, &a1, qc_on(&s, &a1));
    let f1 = on_root(2);
    let f2 = block_at(&s, 4, &f1, qc_on(&s, &f1));
    for b in [&a1, &a2, &f1, &f2] {
        r.tree.insert(b.id(), b.clone(), b.proposer, ExecState::Executed);
    }
    for qc in [qc_on(&s, &a1), qc_on(&s, &a2), qc_on(&s, &f1)] {
        r.tree.add_qc(&qc);
    }
    r.voted = Some(f2.id());
    let mut out = Vec::new();
    r.refresh_certified(&mut out);
    let [Action::PersistCertified { from_height: 1, blocks, voted }] = &out[..] else {
        panic!("one PersistCertified expected: {out:?}");
    };
    let chain: Vec<BlockId> = blocks.iter().map(|cb| cb.qc.block_id).collect();
    assert_eq!(chain, vec![a1.id(), a2.id()], "the highest certified chain");
    assert_eq!(voted, &vec![f1.clone(), f2.clone()], "the vote with its branch");
    // After a restart, the branch is back: F1 certified, F2 uncertified.
    let recovered = RecoveryState {
        certified: blocks.clone(),
        voted: voted.clone(),
        ..RecoveryState::genesis(genesis_id)
    };
    let restarted = Replica::new(config(&s, 3), recovered.clone()).unwrap();
    assert_eq!(restarted.pending_blocks(), 4);
    assert!(restarted.tree.qc_of(&f1.id()).is_some(), "F1 is certified by F2's justify");
    assert!(restarted.tree.qc_of(&f2.id()).is_none());
    assert_eq!(restarted.voted, Some(f2.id()));
    // Without its branch (what was persisted before), the vote was lost.
    let old = RecoveryState { voted: vec![f2.clone()], ..recovered };
    assert_eq!(Replica::new(config(&s, 3), old).unwrap().pending_blocks(), 2);
}

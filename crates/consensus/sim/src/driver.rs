//! The fake driver: performs a core's actions in order against the simulated
//! network, clock, builder, executor, payload store and durable storage.

use crate::check::{Invariant, Violation};
use crate::config::ByzantineKind;
use crate::world::{exec_of, Item, World};
use alloy_primitives::B256;
use phalanx_consensus_core::{
    Action, Block, BlockProposalBody, BlockRef, BlockResponse, CertifiedBlock, Event, Evidence,
    Height, Message, ValidatorIndex, MAX_BLOCKS_PER_RESPONSE, MAX_PERSISTED_CERTIFIED,
};
use rand::Rng;

impl World {
    /// Executes `actions` of node `i` in order.
    pub(crate) fn perform(&mut self, i: usize, actions: Vec<Action>) -> Result<(), Violation> {
        for action in actions {
            self.perform_one(i, action)?;
        }
        Ok(())
    }

    fn perform_one(&mut self, i: usize, action: Action) -> Result<(), Violation> {
        match action {
            Action::Send { to, msg } => {
                self.check_persisted(i, &msg)?;
                self.send(i, to, msg);
            }
            Action::Broadcast { msg } => {
                self.check_persisted(i, &msg)?;
                self.note_own_proposal(i, &msg);
                self.broadcast(i, msg);
            }
            Action::SetTimer { view, duration_ms } => {
                let node = &mut self.nodes[i];
                node.timer_token += 1;
                let (incarnation, token) = (node.incarnation, node.timer_token);
                self.schedule(duration_ms, Item::Timer { node: i, incarnation, token, view });
            }
            Action::BuildProposal { view, parent } => self.build(i, view, parent)?,
            Action::FetchPayload { block_id, .. } => {
                let delay = self.rng.gen_range(0..20);
                self.local(i, delay, Event::PayloadAvailable { block_id });
            }
            Action::Execute { block } => self.execute(i, &block)?,
            Action::PersistSafety(s) => {
                let p = self.nodes[i].persisted;
                if s.last_voted_view < p.last_voted_view
                    || s.highest_timeout_view < p.highest_timeout_view
                    || s.preferred_view < p.preferred_view
                    || s.last_proposed_view < p.last_proposed_view
                {
                    return Err(Violation::new(
                        Invariant::SafetyRegression,
                        format!("node {i} persisted {s:?} after {p:?}"),
                    ));
                }
                self.nodes[i].persisted = s;
            }
            Action::PersistCertified { from_height, blocks, voted } => {
                self.persist_certified(i, from_height, blocks)?;
                self.persist_voted(i, voted)?
            }
            Action::Commit { blocks } => self.commit(i, blocks)?,
            Action::Evidence(e) => self.evidence(i, &e)?,
            Action::FetchBlocks { from_height, target, peer } => {
                self.serve_from_storage(i, from_height, target, peer)
            }
        }
        Ok(())
    }

    /// Schedules a local answer for the current incarnation of node `i`.
    fn local(&mut self, i: usize, delay_ms: u64, event: Event) {
        let incarnation = self.nodes[i].incarnation;
        self.schedule(delay_ms, Item::Local { node: i, incarnation, event });
    }

    /// A signed vote, timeout or proposal must be covered by the persisted safety state.
    fn check_persisted(&self, i: usize, msg: &Message) -> Result<(), Violation> {
        let node = &self.nodes[i];
        let p = node.persisted;
        let uncovered = match msg {
            Message::Vote(v) => v.signer == node.index && p.last_voted_view < v.view,
            Message::Timeout(t) => t.signer == node.index && p.highest_timeout_view < t.view,
            Message::Proposal(b) => {
                b.block.proposer == node.index && p.last_proposed_view < b.block.view
            }
            _ => false,
        };
        if uncovered {
            return Err(Violation::new(
                Invariant::PersistBeforeSign,
                format!("node {i} sent a {} before persisting it (persisted {p:?})", msg.kind()),
            ));
        }
        Ok(())
    }

    /// The leader knows its own block's results without an `Execute`.
    fn note_own_proposal(&mut self, i: usize, msg: &Message) {
        if let Message::Proposal(p) = msg {
            if p.block.proposer == self.nodes[i].index {
                let id = p.block.id();
                self.nodes[i].execs.insert(id, p.block.exec);
            }
        }
    }

    /// How long a block build or execution takes: under 10 ms, or, at the
    /// configured rate, longer than a base timeout.
    fn work_delay_ms(&mut self) -> u64 {
        let slow = self.config.slow_work_rate;
        if slow > 0.0 && self.rng.gen_bool(slow) {
            let max = self.config.slow_work_ms_max.max(self.config.base_timeout_ms + 1);
            return self.rng.gen_range(self.config.base_timeout_ms..max);
        }
        self.rng.gen_range(1..10)
    }

    fn build(&mut self, i: usize, view: u64, parent: BlockRef) -> Result<(), Violation> {
        let parent_exec = self.parent_exec(i, parent.id, "build on")?;
        let count = self.rng.gen_range(0..=3);
        let payload: Vec<B256> =
            (0..count).map(|_| B256::from(self.rng.gen::<[u8; 32]>())).collect();
        let mut exec = exec_of(parent_exec, &payload);
        if self.nodes[i].kind == Some(ByzantineKind::WrongStateRoot) {
            exec = B256::from(self.rng.gen::<[u8; 32]>());
        }
        let extra = view.to_be_bytes().to_vec();
        let delay = self.work_delay_ms();
        self.local(
            i,
            delay,
            Event::ProposalReady { view, block: BlockProposalBody { payload, exec, extra } },
        );
        Ok(())
    }

    pub(crate) fn parent_exec(
        &self,
        i: usize,
        parent: B256,
        what: &str,
    ) -> Result<B256, Violation> {
        self.nodes[i].execs.get(&parent).copied().ok_or_else(|| {
            Violation::new(
                Invariant::ExecuteOrder,
                format!("node {i} was asked to {what} parent {parent}, which it never executed"),
            )
        })
    }

    fn execute(&mut self, i: usize, block: &Block) -> Result<(), Violation> {
        let parent = self.parent_exec(i, block.parent_id, "execute a child of")?;
        let results = exec_of(parent, &block.payload);
        let block_id = block.id();
        self.nodes[i].execs.insert(block_id, results);
        let delay = self.work_delay_ms();
        self.local(i, delay, Event::BlockExecuted { block_id, results, ok: true });
        Ok(())
    }

    fn commit(&mut self, i: usize, blocks: Vec<CertifiedBlock>) -> Result<(), Violation> {
        let correct = self.nodes[i].correct();
        for cb in blocks {
            self.checker.commit(i, correct, &cb)?;
            let node = &mut self.nodes[i];
            node.execs.insert(cb.qc.block_id, cb.block.exec);
            node.log.push(cb);
        }
        // Committed blocks leave the durable certified chain (the log has them).
        let node = &mut self.nodes[i];
        node.certified = node.certified.split_off(&(node.log.len() as Height + 1));
        Ok(())
    }

    /// Applies a certified-chain update to node `i`'s durable storage and
    /// checks the result is a chain from the committed tip, each block's QC
    /// certifying it, with every payload held (the driver executed or built
    /// each block, or it is the next to execute after a restart).
    fn persist_certified(
        &mut self,
        i: usize,
        from_height: Height,
        blocks: Vec<CertifiedBlock>,
    ) -> Result<(), Violation> {
        let node = &mut self.nodes[i];
        let tip = node.log.len() as Height;
        let bad = |why: String| {
            Violation::new(Invariant::PersistedChain, format!("node {i} (committed {tip}): {why}"))
        };
        if from_height <= tip || blocks.len() > MAX_PERSISTED_CERTIFIED {
            return Err(bad(format!("update from {from_height} with {} blocks", blocks.len())));
        }
        node.certified.split_off(&from_height);
        for cb in blocks {
            node.certified.insert(cb.block.height, cb);
        }
        let genesis = self.validators.genesis_id();
        let mut parent = node.log.last().map_or(genesis, |cb| cb.qc.block_id);
        for (k, (height, cb)) in node.certified.iter().enumerate() {
            let id = cb.block.id();
            if *height != tip + 1 + k as Height || cb.block.parent_id != parent {
                return Err(bad(format!("block at height {height} does not extend {parent}")));
            }
            if cb.qc.block_id != id || cb.qc.view != cb.block.view || cb.qc.exec != cb.block.exec {
                return Err(bad(format!("QC at height {height} does not certify its block")));
            }
            parent = id;
        }
        if node.certified.len() > MAX_PERSISTED_CERTIFIED {
            return Err(bad(format!("{} certified blocks persisted", node.certified.len())));
        }
        Ok(())
    }

    /// Replaces node `i`'s durable voted branch and checks that its first
    /// block extends the committed tip or a block of the just-updated
    /// certified chain and that each next block extends the one before.
    fn persist_voted(&mut self, i: usize, voted: Vec<Block>) -> Result<(), Violation> {
        let node = &mut self.nodes[i];
        if let Some(first) = voted.first() {
            let tip = node
                .log
                .last()
                .map_or((self.validators.genesis_id(), 0), |cb| (cb.qc.block_id, cb.block.height));
            let mut parent = std::iter::once(tip)
                .chain(node.certified.values().map(|cb| (cb.qc.block_id, cb.block.height)))
                .find(|(id, _)| *id == first.parent_id);
            for block in &voted {
                if parent
                    .is_none_or(|(id, height)| id != block.parent_id || height + 1 != block.height)
                {
                    return Err(Violation::new(
                        Invariant::PersistedChain,
                        format!(
                            "node {i}: voted block at {} extends no durable block",
                            block.height
                        ),
                    ));
                }
                parent = Some((block.id(), block.height));
            }
        }
        node.voted = voted;
        Ok(())
    }

    fn evidence(&mut self, i: usize, e: &Evidence) -> Result<(), Violation> {
        if !self.nodes[i].correct() {
            return Ok(());
        }
        let accused = match e {
            Evidence::ExecMismatch { proposer, .. } => {
                self.evidence.exec_mismatch += 1;
                *proposer
            }
            Evidence::ProposalEquivocation { proposer, .. } => {
                self.evidence.proposal_equivocation += 1;
                *proposer
            }
            Evidence::VoteEquivocation { signer, .. } => {
                self.evidence.vote_equivocation += 1;
                *signer
            }
        };
        let restarts: u64 = self
            .nodes
            .iter()
            .filter(|n| n.index == accused)
            .map(|n| n.incarnation.saturating_sub(1) / 2)
            .sum();
        let reproposal = matches!(e, Evidence::ProposalEquivocation { .. }) && restarts > 0;
        if reproposal && self.config.tolerate_restart_reproposal {
            // Tolerated only when asked (a diagnostic knob): counted, not hidden.
            self.evidence.restart_reproposals += 1;
            return Ok(());
        }
        if self.config.byzantine.kind_of(accused.0).is_none() {
            return Err(Violation::new(
                Invariant::FalseEvidence,
                format!(
                    "node {i} accused correct validator {accused} (restarts of its node: {restarts}): {e:?}"
                ),
            ));
        }
        Ok(())
    }

    /// Answers `FetchBlocks` from the peer's durable committed log, over the network.
    fn serve_from_storage(
        &mut self,
        i: usize,
        from_height: Height,
        target: B256,
        peer: ValidatorIndex,
    ) {
        let Some(p) = self.nodes.iter().position(|n| n.index == peer) else { return };
        let start = usize::try_from(from_height.saturating_sub(1)).unwrap_or(usize::MAX);
        let blocks: Vec<CertifiedBlock> =
            self.nodes[p].log.iter().skip(start).take(MAX_BLOCKS_PER_RESPONSE).cloned().collect();
        self.stats.storage_fetches += 1;
        let msg = Message::BlockResponse(BlockResponse { target, blocks });
        self.transmit(p, i, msg);
    }

    fn broadcast(&mut self, i: usize, msg: Message) {
        let me = self.nodes[i].index;
        if self.nodes[i].kind == Some(ByzantineKind::Equivocator) {
            if let Message::Proposal(p) = &msg {
                if p.block.proposer == me {
                    return self.equivocate(i, p.clone());
                }
            }
        }
        for to in self.validators.indices().filter(|&to| to != me) {
            self.send(i, to, msg.clone());
        }
    }

    /// Sends to every node holding validator index `to` (two for twins).
    pub(crate) fn send(&mut self, i: usize, to: ValidatorIndex, msg: Message) {
        let targets: Vec<usize> =
            (0..self.nodes.len()).filter(|&t| t != i && self.nodes[t].index == to).collect();
        for t in targets {
            self.transmit(i, t, msg.clone());
        }
    }

    /// One message from node `i` to node `t` through the faulty network.
    pub(crate) fn transmit(&mut self, i: usize, t: usize, msg: Message) {
        self.stats.sent += 1;
        let msg = match self.nodes[i].kind {
            Some(ByzantineKind::Silent) => {
                self.stats.silenced += 1;
                return;
            }
            Some(ByzantineKind::Forger) => self.maybe_forge(msg),
            _ => msg,
        };
        let from = self.nodes[i].index;
        self.capture(from, &msg);
        let latencies = self.net.deliveries(&mut self.rng, i, t);
        if latencies.is_empty() {
            self.stats.dropped += 1;
        }
        self.stats.duplicated += latencies.len().saturating_sub(1) as u64;
        for delay in latencies {
            self.schedule(delay, Item::Deliver { to: t, from, msg: msg.clone() });
        }
    }
}

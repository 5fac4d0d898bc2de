//! Validation and handling of peer messages. Every check that fails counts in
//! [`crate::Metrics`] and drops the message; nothing a peer sends can panic
//! the replica or grow its memory without bound.

use super::Replica;
use crate::cert::{Timeout, Vote};
use crate::io::{Action, Evidence};
use crate::message::{Message, Proposal, SyncInfo};
use crate::tree::Inserted;
use crate::types::{Block, BlockId, ValidatorIndex, View, MAX_PAYLOAD_DIGESTS};

impl Replica {
    pub(super) fn on_message(&mut self, from: ValidatorIndex, msg: Message, out: &mut Vec<Action>) {
        if self.validators.key(from).is_none() {
            self.metrics.rejected_unknown_signer += 1;
            return;
        }
        match msg {
            Message::Proposal(p) => self.on_proposal(from, p, out),
            Message::Vote(v) => self.on_vote(from, v, out),
            Message::Timeout(t) => self.on_timeout(from, t, out),
            Message::SyncInfo(s) => self.on_sync_info(from, s, out),
            Message::BlockRequest(r) => self.on_block_request(from, r, out),
            Message::BlockResponse(r) => self.on_block_response(from, r, out),
        }
    }

    /// Whether `view` is inside the accepted window; counts a rejection if not.
    fn within_window(&mut self, view: View) -> bool {
        if view > self.current_view().saturating_add(self.view_window) {
            self.metrics.rejected_future_view += 1;
            return false;
        }
        true
    }

    /// Structural checks of a block that do not need signatures: bounded
    /// payload, parent linked to the justify QC, views increasing, rightful leader.
    pub(super) fn well_formed(&mut self, block: &Block) -> bool {
        if block.payload.len() > MAX_PAYLOAD_DIGESTS
            || block.parent_id != block.justify.block_id
            || block.justify.view >= block.view
            || block.height == 0
        {
            self.metrics.rejected_malformed += 1;
            return false;
        }
        if self.validators.leader(block.view) != block.proposer {
            self.metrics.rejected_wrong_leader += 1;
            return false;
        }
        true
    }

    fn on_proposal(&mut self, from: ValidatorIndex, p: Proposal, out: &mut Vec<Action>) {
        let view = p.block.view;
        if from != p.block.proposer {
            self.metrics.rejected_wrong_sender += 1;
            return;
        }
        if !self.well_formed(&p.block) || !self.within_window(view) {
            return;
        }
        if view <= self.tree.root().view {
            self.metrics.ignored_stale += 1;
            return;
        }
        let justified = match &p.tc {
            None => p.block.justify.view + 1 == view,
            Some(tc) => tc.view + 1 == view && p.block.justify.view >= tc.high_qc.view,
        };
        if !justified {
            self.metrics.rejected_malformed += 1;
            return;
        }
        let id = p.block.id();
        if let Err(e) = p.verify_signature(&self.validators, id) {
            self.count_rejection(&e);
            return;
        }
        if self.is_equivocation(view, id, &p, out) {
            return;
        }
        if !self.check_qc(&p.block.justify) || !p.tc.as_ref().is_none_or(|tc| self.check_tc(tc)) {
            return;
        }
        self.proposals.insert(view, (id, p.signature));
        let justify = p.block.justify.clone();
        self.process_qc(&justify, from, out);
        if let Some(tc) = &p.tc {
            self.process_tc(tc, from, out);
        }
        self.accept_block(id, p.block, from, out);
        self.try_vote(id, out);
    }

    /// Records the first proposal per view; a second, different one is evidence.
    /// Returns true when the proposal must not be processed further.
    fn is_equivocation(
        &mut self,
        view: View,
        id: BlockId,
        p: &Proposal,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some((first, sig)) = self.proposals.get(&view).copied() else { return false };
        if first == id {
            return true;
        }
        self.metrics.equivocations += 1;
        out.push(Action::Evidence(Evidence::ProposalEquivocation {
            view,
            proposer: p.block.proposer,
            first: (first, sig),
            second: (id, p.signature),
        }));
        true
    }

    /// Inserts a verified block, or parks it and asks `from` for its ancestors.
    pub(super) fn accept_block(
        &mut self,
        id: BlockId,
        block: Block,
        from: ValidatorIndex,
        out: &mut Vec<Action>,
    ) -> Inserted {
        let parent = block.parent_id;
        let result = self.insert_block(id, block, from);
        match result {
            Inserted::New => self.after_insert(id, out),
            Inserted::Orphan => self.request_sync(parent, from, out),
            Inserted::Duplicate | Inserted::Full => {}
            Inserted::Stale => self.metrics.ignored_stale += 1,
        }
        result
    }

    fn on_vote(&mut self, from: ValidatorIndex, vote: Vote, out: &mut Vec<Action>) {
        if from != vote.signer {
            self.metrics.rejected_wrong_sender += 1;
            return;
        }
        if self.validators.leader(vote.view.saturating_add(1)) != self.me {
            self.metrics.rejected_wrong_leader += 1;
            return;
        }
        if !self.within_window(vote.view) {
            return;
        }
        if vote.view + 1 < self.current_view() {
            self.metrics.ignored_stale += 1;
            return;
        }
        if let Err(e) = vote.verify(&self.validators) {
            self.count_rejection(&e);
            return;
        }
        self.collect_vote(vote, out);
    }

    fn on_timeout(&mut self, from: ValidatorIndex, t: Timeout, out: &mut Vec<Action>) {
        if from != t.signer {
            self.metrics.rejected_wrong_sender += 1;
            return;
        }
        if !self.within_window(t.view) {
            return;
        }
        let bad_vote = t.vote.as_ref().is_some_and(|v| v.view != t.view || v.signer != t.signer);
        if t.high_qc.view >= t.view
            || t.last_tc.as_ref().is_some_and(|tc| tc.view + 1 != t.view)
            || bad_vote
        {
            self.metrics.rejected_malformed += 1;
            return;
        }
        if let Err(e) = t.verify_signature(&self.validators) {
            self.count_rejection(&e);
            return;
        }
        if !self.check_qc(&t.high_qc) || !t.last_tc.as_ref().is_none_or(|tc| self.check_tc(tc)) {
            return;
        }
        if let Some(e) = t.vote.as_ref().and_then(|v| v.verify(&self.validators).err()) {
            self.count_rejection(&e);
            return;
        }
        self.process_qc(&t.high_qc, from, out);
        if let Some(tc) = &t.last_tc {
            self.process_tc(tc, from, out);
        }
        let view = self.current_view();
        if t.view < view {
            // The sender is behind: hand it the certificates that moved us on.
            self.metrics.ignored_stale += 1;
            let info = SyncInfo { high_qc: self.high_qc.clone(), high_tc: self.high_tc.clone() };
            out.push(Action::Send { to: from, msg: Message::SyncInfo(info) });
        } else if t.view == view {
            // The vote inside may complete a QC for a block whose leader is silent.
            if let Some(vote) = t.vote.clone() {
                self.collect_vote(vote, out);
            }
            if t.view == self.current_view() {
                self.collect_timeout(&t, out);
            }
        }
    }

    fn on_sync_info(&mut self, from: ValidatorIndex, s: SyncInfo, out: &mut Vec<Action>) {
        let tc_view = s.high_tc.as_ref().map_or(0, |tc| tc.view);
        if !self.within_window(s.high_qc.view) || !self.within_window(tc_view) {
            return;
        }
        if !self.check_qc(&s.high_qc) || !s.high_tc.as_ref().is_none_or(|tc| self.check_tc(tc)) {
            return;
        }
        self.process_qc(&s.high_qc, from, out);
        if let Some(tc) = &s.high_tc {
            self.process_tc(tc, from, out);
        }
    }
}

//! Block sync: fetching certified ancestors a replica is missing.
//!
//! A replica that sees a QC (or a block) referring to an unknown block asks
//! the sender for the chain from its committed height up to that block. One
//! request is outstanding at a time and re-sent after `sync_retry_ms`.
//! Responses are fully verified (every QC and every block's justify) and then
//! go through the normal fetch–execute–commit pipeline. When the peer no longer
//! holds the blocks in memory the driver is asked to fetch them from storage
//! ([`Action::FetchBlocks`]).

use super::{Replica, SyncRequest};
use crate::io::Action;
use crate::message::{BlockRequest, BlockResponse, Message};
use crate::tree::Inserted;
use crate::types::{BlockId, CertifiedBlock, Height, ValidatorIndex};

impl Replica {
    /// Asks `peer` for the chain up to `target` unless a request is in flight.
    pub(super) fn request_sync(
        &mut self,
        target: BlockId,
        peer: ValidatorIndex,
        out: &mut Vec<Action>,
    ) {
        if peer == self.me || self.tree.contains(&target) {
            return;
        }
        if let Some(s) = self.sync {
            let fresh = self.now_ms < s.sent_ms.saturating_add(self.sync_retry_ms);
            if fresh && (s.target == target || !s.escalated) {
                return;
            }
        }
        let from_height = self.tree.root().height + 1;
        self.send_request(target, peer, from_height, out);
    }

    fn send_request(
        &mut self,
        target: BlockId,
        peer: ValidatorIndex,
        from_height: Height,
        out: &mut Vec<Action>,
    ) {
        self.sync = Some(SyncRequest { target, peer, sent_ms: self.now_ms, escalated: false });
        self.metrics.sync_requests_sent += 1;
        out.push(Action::Send {
            to: peer,
            msg: Message::BlockRequest(BlockRequest { from_height, target }),
        });
    }

    pub(super) fn on_block_request(
        &mut self,
        from: ValidatorIndex,
        req: BlockRequest,
        out: &mut Vec<Action>,
    ) {
        let blocks = self.tree.chain_for(req.target, req.from_height);
        self.metrics.sync_requests_served += 1;
        out.push(Action::Send {
            to: from,
            msg: Message::BlockResponse(BlockResponse { target: req.target, blocks }),
        });
    }

    pub(super) fn on_block_response(
        &mut self,
        from: ValidatorIndex,
        resp: BlockResponse,
        out: &mut Vec<Action>,
    ) {
        let mut last_known: Option<Height> = None;
        for cb in resp.blocks {
            match self.accept_certified(cb, from, out) {
                Some(height) => last_known = Some(height),
                None => break,
            }
        }
        let Some(req) = self.sync else { return };
        if req.peer != from || req.target != resp.target {
            return;
        }
        if self.tree.contains(&req.target) {
            self.sync = None;
            return;
        }
        match last_known {
            // Progress: continue above what just arrived.
            Some(height) => self.send_request(req.target, from, height + 1, out),
            // The peer does not hold the chain in memory: ask the driver once.
            None if !req.escalated => {
                self.sync = Some(SyncRequest { escalated: true, ..req });
                out.push(Action::FetchBlocks {
                    from_height: self.tree.root().height + 1,
                    target: req.target,
                    peer: from,
                });
            }
            None => {}
        }
    }

    /// Verifies and adopts one certified block; returns its height when it is
    /// now part of the tree (new or already held), `None` to stop the response.
    fn accept_certified(
        &mut self,
        cb: CertifiedBlock,
        from: ValidatorIndex,
        out: &mut Vec<Action>,
    ) -> Option<Height> {
        let CertifiedBlock { block, qc } = cb;
        if block.height <= self.tree.root().height {
            return Some(block.height);
        }
        let id = block.id();
        if qc.block_id != id || qc.view != block.view || qc.exec != block.exec {
            self.metrics.rejected_malformed += 1;
            return None;
        }
        if !self.well_formed(&block) || !self.check_qc(&block.justify) || !self.check_qc(&qc) {
            return None;
        }
        let height = block.height;
        let justify = block.justify.clone();
        self.process_qc(&justify, from, out);
        match self.accept_block(id, block, from, out) {
            Inserted::New | Inserted::Duplicate => {}
            Inserted::Orphan | Inserted::Stale | Inserted::Full => return None,
        }
        self.process_qc(&qc, from, out);
        Some(height)
    }
}

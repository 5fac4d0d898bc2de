//! The driver's side of attested batch senders (`senders.rs`): acking its
//! own batches, checking the batches of the validators before it, and
//! collecting peers' acks.

use crate::driver::Driver;
use crate::senders::{is_checker, recover_senders, AckOutcome, SendersAck};
use crate::wire::WireMsg;
use alloy_primitives::{Address, B256};
use phalanx_consensus_core::ValidatorIndex;
use std::sync::Arc;

/// Most batch checks (sender recoveries) running at once on blocking
/// threads; a batch arriving beyond it is not checked here (its ack is then
/// missing, and every validator recovers its senders itself).
pub const CHECKS_IN_FLIGHT_MAX: usize = 8;

/// A finished check: the batch digest and its senders, `None` if some
/// transaction did not decode or recover.
pub type Checked = (B256, Option<Vec<Address>>);

impl Driver {
    /// Settles senders this node recovered itself (its pool did, for a
    /// batch it sealed, or a check did) and broadcasts its ack.
    pub(crate) fn settle_and_ack(&mut self, digest: B256, senders: Vec<Address>) {
        self.attested.settle_own(digest, senders.clone().into());
        let genesis = self.validators.genesis_id();
        let ack = SendersAck::new(&self.signer, genesis, self.replica.me(), digest, senders);
        let _ = self.net.broadcast(WireMsg::SendersAck(ack).encode());
    }

    /// Starts checking the newly stored batch `digest` that `from`
    /// broadcast, when this node is one of the f validators after it
    /// ([`is_checker`]) and its senders are not settled yet.
    pub(crate) fn check_batch(&mut self, from: ValidatorIndex, digest: B256) {
        let (n, f) = (self.validators.len(), self.validators.max_faulty());
        if !is_checker(self.replica.me(), from, n, f)
            || self.checks_in_flight >= CHECKS_IN_FLIGHT_MAX
            || self.attested.senders(&digest).is_some()
        {
            return;
        }
        let Some(batch) = self.batches.get(&digest).cloned() else { return };
        self.checks_in_flight += 1;
        let checked = self.checked_tx.clone();
        tokio::task::spawn_blocking(move || {
            // The receiver lives as long as the driver; after it, moot.
            let _ = checked.blocking_send((digest, recover_senders(&batch)));
        });
    }

    /// A check finished: settles and acks the senders it recovered.
    pub(crate) fn on_checked(&mut self, (digest, senders): Checked) {
        self.checks_in_flight = self.checks_in_flight.saturating_sub(1);
        match senders {
            Some(senders) => self.settle_and_ack(digest, senders),
            None => {
                tracing::debug!(batch = %digest, "batch has a transaction that does not recover; no ack")
            }
        }
    }

    /// Records a peer's ack (its signature checked unless the digest is settled).
    pub(crate) fn on_senders_ack(&mut self, from: ValidatorIndex, ack: SendersAck) {
        let digest = ack.digest;
        match self.attested.add_ack(ack, &self.validators) {
            Ok(AckOutcome::Settled) => self.metrics.batches_attested += 1,
            Ok(AckOutcome::Recorded | AckOutcome::Ignored) => {}
            Err(err) => {
                self.metrics.acks_refused += 1;
                tracing::debug!(%from, batch = %digest, %err, "refusing a senders ack");
            }
        }
    }

    /// The settled senders of each batch in `payload`, where known.
    pub(crate) fn settled_senders(&self, payload: &[B256]) -> Vec<Option<Arc<[Address]>>> {
        payload.iter().map(|d| self.attested.senders(d)).collect()
    }
}

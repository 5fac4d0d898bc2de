//! Attested batch senders: a batch's transaction senders, recovered by
//! f + 1 validators, so the others need not recover them again.
//!
//! Recovering a transaction's sender (secp256k1 public-key recovery) was the
//! largest share of a validator's CPU on the four-validator devnet (perf:
//! about a third of the validators' samples), because every validator
//! recovered every transaction of every block. Here only f + 1 validators
//! do: the batch's author (whose pool already recovered them) and the f
//! validators after it in index order ([`is_checker`]). Each signs a
//! [`SendersAck`] binding the batch digest to the list of senders it
//! recovered and broadcasts it. A validator holding f + 1 acks from distinct
//! validators that agree on the same list takes the senders from it.
//!
//! **Invariant:** an attested list is the list recovery would give. At most f
//! validators are faulty, so among f + 1 distinct signers at least one is
//! correct, and a correct validator signs only senders it recovered itself
//! (or took from its own pool, which recovered them) from the exact bytes
//! the digest commits to. Without enough acks (a faulty author or checker,
//! a lost message, a batch proposed before its acks arrived) a validator
//! recovers the senders itself, as before: the acks save work, never decide
//! a result.
//!
//! **Bounded:** the store holds at most [`SENDERS_HELD_MAX`] addresses across
//! all digests, evicting the oldest digests first; acks for settled digests
//! are ignored before their signatures are checked.

use crate::wire::Batch;
use alloy_primitives::{keccak256, Address, B256};
use ed25519_dalek::Signature;
use phalanx_consensus_core::cert::verify_one;
use phalanx_consensus_core::{CertError, Signer, ValidatorIndex, ValidatorSet};
use phalanx_core_types::{decode_transaction, RecoveredTx};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Domain tag of the bytes a [`SendersAck`] signs.
const SENDERS_DOMAIN: &[u8] = b"phalanx/consensus/batch-senders/v1";

/// Most sender addresses the store holds, over all digests (20 MB).
pub const SENDERS_HELD_MAX: usize = 1 << 20;

/// A validator's signed statement: the transactions of the batch with
/// `digest` were sent by `senders`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendersAck {
    /// The batch digest ([`Batch::digest`]).
    pub digest: B256,
    /// Who signs.
    pub signer: ValidatorIndex,
    /// One sender per transaction of the batch, in order.
    pub senders: Vec<Address>,
    /// Signature over [`senders_signing_bytes`].
    pub signature: Signature,
}

/// The bytes a [`SendersAck`] signs: domain tag, genesis id, batch digest,
/// and the keccak256 of the concatenated senders.
pub fn senders_signing_bytes(genesis: B256, digest: B256, senders: &[Address]) -> Vec<u8> {
    let list_hash = senders_hash(senders);
    let mut out = Vec::with_capacity(SENDERS_DOMAIN.len() + 96);
    out.extend_from_slice(SENDERS_DOMAIN);
    out.extend_from_slice(genesis.as_slice());
    out.extend_from_slice(digest.as_slice());
    out.extend_from_slice(list_hash.as_slice());
    out
}

fn senders_hash(senders: &[Address]) -> B256 {
    let mut bytes = Vec::with_capacity(senders.len() * 20);
    senders.iter().for_each(|s| bytes.extend_from_slice(s.as_slice()));
    keccak256(bytes)
}

impl SendersAck {
    /// Signs `senders` for the batch `digest` as validator `signer`.
    pub fn new(
        key: &dyn Signer,
        genesis: B256,
        signer: ValidatorIndex,
        digest: B256,
        senders: Vec<Address>,
    ) -> Self {
        let signature = key.sign(&senders_signing_bytes(genesis, digest, &senders));
        Self { digest, signer, senders, signature }
    }

    /// Checks the signature strictly against the signer's key.
    pub fn verify(&self, validators: &ValidatorSet) -> Result<(), CertError> {
        let bytes = senders_signing_bytes(validators.genesis_id(), self.digest, &self.senders);
        verify_one(validators, self.signer, &bytes, &self.signature)
    }
}

/// Whether validator `me` checks the batches `author` broadcasts: the f
/// validators after the author, in index order, wrapping around (the author
/// itself acks from its pool). `n` validators, `f` faulty at most.
pub fn is_checker(me: ValidatorIndex, author: ValidatorIndex, n: usize, f: usize) -> bool {
    let (me, author) = (usize::from(me.0), usize::from(author.0));
    if me >= n || author >= n {
        return false;
    }
    let distance = (me + n - author) % n;
    (1..=f).contains(&distance)
}

/// The senders of every transaction of `batch`, recovered here; `None` if
/// any transaction does not decode or recover (a correct author never
/// batches one, so such a batch gets no ack and everyone recovers it).
pub fn recover_senders(batch: &Batch) -> Option<Vec<Address>> {
    batch
        .txs
        .iter()
        .map(|raw| {
            let tx = decode_transaction(raw).ok()?;
            RecoveredTx::recover(tx).ok().map(|tx| tx.sender)
        })
        .collect()
}

/// What [`Attestations::add_ack`] did with an ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// The digest's senders were already settled: ignored unchecked.
    Ignored,
    /// Recorded; not yet f + 1 agreeing acks.
    Recorded,
    /// This ack completed f + 1 agreeing acks: the senders are settled.
    Settled,
}

#[derive(Debug, Default)]
struct Entry {
    /// Settled senders: recovered here or attested by f + 1 validators.
    settled: Option<Arc<[Address]>>,
    /// Verified acks not yet settling: signer and the hash of its list,
    /// with one copy of each distinct list.
    acks: Vec<(ValidatorIndex, B256)>,
    lists: Vec<(B256, Arc<[Address]>)>,
}

impl Entry {
    fn held(&self) -> usize {
        self.settled.as_ref().map_or(0, |s| s.len())
            + self.lists.iter().map(|(_, l)| l.len()).sum::<usize>()
    }
}

/// Settled and pending batch senders, by batch digest (see the module docs).
#[derive(Debug)]
pub struct Attestations {
    entries: HashMap<B256, Entry>,
    /// Digests in first-seen order, for eviction.
    order: VecDeque<B256>,
    /// Addresses held over all entries.
    held: usize,
    held_max: usize,
    /// Agreeing acks that settle a digest: f + 1.
    threshold: usize,
}

impl Attestations {
    /// An empty store for a set tolerating `max_faulty` faulty validators,
    /// holding at most `held_max` addresses.
    pub fn new(max_faulty: usize, held_max: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            held: 0,
            held_max,
            threshold: max_faulty + 1,
        }
    }

    /// The settled senders of the batch `digest`, if any.
    pub fn senders(&self, digest: &B256) -> Option<Arc<[Address]>> {
        self.entries.get(digest)?.settled.clone()
    }

    /// Settles `senders` for `digest`: recovered by this validator itself.
    pub fn settle_own(&mut self, digest: B256, senders: Arc<[Address]>) {
        let entry = self.entry(digest);
        let before = entry.held();
        entry.settled = Some(senders);
        entry.acks.clear();
        entry.lists.clear();
        let after = entry.held();
        self.account(before, after);
    }

    /// Records a peer's ack after checking its signature; settles the
    /// digest once f + 1 distinct signers agree on one list. A second ack
    /// from the same signer for the same digest is ignored (recorded once).
    pub fn add_ack(
        &mut self,
        ack: SendersAck,
        validators: &ValidatorSet,
    ) -> Result<AckOutcome, CertError> {
        if self.entries.get(&ack.digest).is_some_and(|e| e.settled.is_some()) {
            return Ok(AckOutcome::Ignored);
        }
        ack.verify(validators)?;
        let list_hash = senders_hash(&ack.senders);
        let threshold = self.threshold;
        let entry = self.entry(ack.digest);
        if entry.acks.iter().any(|(signer, _)| *signer == ack.signer) {
            return Ok(AckOutcome::Recorded);
        }
        let before = entry.held();
        entry.acks.push((ack.signer, list_hash));
        if !entry.lists.iter().any(|(h, _)| *h == list_hash) {
            entry.lists.push((list_hash, ack.senders.into()));
        }
        let agreeing = entry.acks.iter().filter(|(_, h)| *h == list_hash).count();
        let outcome = if agreeing >= threshold {
            let list = entry.lists.iter().find(|(h, _)| *h == list_hash).map(|(_, l)| l.clone());
            entry.settled = list;
            entry.acks.clear();
            entry.lists.clear();
            AckOutcome::Settled
        } else {
            AckOutcome::Recorded
        };
        let after = entry.held();
        self.account(before, after);
        Ok(outcome)
    }

    fn entry(&mut self, digest: B256) -> &mut Entry {
        if !self.entries.contains_key(&digest) {
            self.order.push_back(digest);
        }
        self.entries.entry(digest).or_default()
    }

    /// Updates the held count after an entry changed size, evicting the
    /// oldest digests while over the bound (the newest entry stays, even
    /// if it alone exceeds it: one batch's list is itself bounded).
    fn account(&mut self, before: usize, after: usize) {
        self.held = self.held + after - before;
        while self.held > self.held_max && self.order.len() > 1 {
            let oldest = self.order.pop_front().expect("more than one digest");
            if let Some(entry) = self.entries.remove(&oldest) {
                self.held -= entry.held();
            }
        }
    }
}

#[cfg(test)]
mod tests;

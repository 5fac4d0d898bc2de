//! Byzantine mocks that rewrite a faulty node's outgoing traffic. The
//! faulty node itself runs the real core; only what leaves it is altered.

use crate::world::{exec_of, key_seed, World};
use alloy_primitives::B256;
use ed25519_dalek::Signature;
use phalanx_consensus_core::cert::{
    proposal_signing_bytes, timeout_signing_bytes, vote_signing_bytes,
};
use phalanx_consensus_core::{Ed25519Signer, Message, Proposal, Signer};
use rand::Rng;

/// The seed of a key that belongs to no validator.
const OUTSIDER_KEY_SEED: [u8; 32] = [0xee; 32];

impl World {
    /// Signs a second, different block for the same view and sends one
    /// proposal to each half of the other validators; one member of the
    /// second half receives both, so the equivocation is provable.
    pub(crate) fn equivocate(&mut self, i: usize, first: Proposal) {
        let me = self.nodes[i].index;
        let mut block = first.block.clone();
        block.payload.push(B256::from(self.rng.gen::<[u8; 32]>()));
        // The twin block executes correctly, so only the double signature is wrong.
        let parent = self.nodes[i].execs.get(&block.parent_id).copied().unwrap_or_default();
        block.exec = exec_of(parent, &block.payload);
        let signer = Ed25519Signer::from_seed(key_seed(me.0));
        let second = Proposal::new(&signer, self.validators.genesis_id(), block, first.tc.clone());
        self.stats.equivocations_sent += 1;
        let others: Vec<_> = self.validators.indices().filter(|&v| v != me).collect();
        let half = others.len() / 2;
        for (k, &to) in others.iter().enumerate() {
            if k < half {
                self.send(i, to, Message::Proposal(first.clone()));
            } else {
                self.send(i, to, Message::Proposal(second.clone()));
                if k == half {
                    self.send(i, to, Message::Proposal(first.clone()));
                }
            }
        }
    }

    /// Half the time, replaces the signature of a proposal, vote or timeout
    /// with a mutated one or one made with a key outside the set.
    pub(crate) fn maybe_forge(&mut self, msg: Message) -> Message {
        if !self.rng.gen_bool(0.5) {
            return msg;
        }
        let genesis = self.validators.genesis_id();
        let wrong_key = self.rng.gen_bool(0.5);
        let flip = self.rng.gen_range(0..32usize);
        let forge = |sig: &Signature, bytes: Vec<u8>| -> Signature {
            if wrong_key {
                Ed25519Signer::from_seed(OUTSIDER_KEY_SEED).sign(&bytes)
            } else {
                let mut raw = sig.to_bytes();
                raw[flip] ^= 0x01;
                Signature::from_bytes(&raw)
            }
        };
        let forged = match msg {
            Message::Proposal(mut p) => {
                let bytes = proposal_signing_bytes(genesis, p.block.view, p.block.id());
                p.signature = forge(&p.signature, bytes);
                Message::Proposal(p)
            }
            Message::Vote(mut v) => {
                let bytes = vote_signing_bytes(genesis, v.view, v.block_id, v.exec);
                v.signature = forge(&v.signature, bytes);
                Message::Vote(v)
            }
            Message::Timeout(mut t) => {
                let bytes = timeout_signing_bytes(genesis, t.view, t.high_qc.view);
                t.signature = forge(&t.signature, bytes);
                Message::Timeout(t)
            }
            other => return other,
        };
        self.stats.forged += 1;
        forged
    }
}

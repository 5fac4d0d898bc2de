//! The execution worker: the only place the driver builds, executes and
//! commits Phalanx blocks.
//!
//! It runs on one blocking thread and handles jobs strictly in order, so a
//! commit never lands in the middle of a build (which `Chain::build_block`
//! relies on) and a block is always executed before it commits. It owns the
//! [`SpecTree`] of executed, uncommitted blocks.

use crate::extra::ProposalExtra;
use crate::wire::Batch;
use alloy_primitives::{keccak256, Address, B256};
use phalanx_consensus_core::{BlockId, View};
use phalanx_core_types::{decode_transaction, RecoveredTx};
use phalanx_node_chain::{BlockSpec, Chain, ChainError, ExecutedBlock, SpecTree};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Work the driver hands to the worker.
#[derive(Debug)]
pub enum Job {
    /// Build the leader's block for `view` from `batches`.
    Build {
        /// The view.
        view: View,
        /// The header fields.
        spec: BlockSpec,
        /// The chosen batch digests, in order.
        payload: Vec<B256>,
        /// The batches, in the same order.
        batches: Vec<Arc<Batch>>,
        /// Each batch's settled senders, if known (`senders.rs`).
        senders: Vec<Option<Arc<[Address]>>>,
    },
    /// Re-execute a peer's block.
    Execute {
        /// The consensus block id.
        block_id: BlockId,
        /// The header fields taken from the consensus block.
        spec: BlockSpec,
        /// Its batches, in order.
        batches: Vec<Arc<Batch>>,
        /// Each batch's settled senders, if known (`senders.rs`).
        senders: Vec<Option<Arc<[Address]>>>,
        /// The block's extra bytes ([`ProposalExtra`]).
        extra: Vec<u8>,
    },
    /// Commit the executed block with this Phalanx hash.
    Commit {
        /// The Phalanx block hash.
        hash: B256,
        /// Its height.
        height: u64,
        /// The certificate bytes stored with it.
        certificate: Vec<u8>,
    },
}

/// What a job produced.
#[derive(Debug)]
pub enum Done {
    /// A leader's block was built; `hash` is its Phalanx hash.
    Built {
        /// The view.
        view: View,
        /// The payload it was built from.
        payload: Vec<B256>,
        /// The Phalanx hash and the consensus block's extra bytes, or why
        /// building failed.
        result: Result<(B256, Vec<u8>), String>,
    },
    /// A peer's block was executed.
    Executed {
        /// The consensus block id.
        block_id: BlockId,
        /// The Phalanx hash, or why execution failed.
        result: Result<B256, String>,
    },
    /// A block was committed (or was already).
    Committed {
        /// Its height.
        height: u64,
        /// Hashes of the transactions it included.
        included: Vec<B256>,
        /// Hashes of the payload's transactions it left out (they may be
        /// valid later and can be batched again if still pooled).
        left_out: Vec<B256>,
    },
}

/// Turns batches into executor candidates, in order. Transactions that do
/// not decode or recover are left out (deterministically: every replica sees
/// the same bytes).
///
/// Where a sender comes from, cheapest first (each gives the same sender,
/// so the candidates are the same whichever is used):
/// - `pooled` returns the transaction with a given hash if this node already
///   checked it (its pool holds it); the hash is the keccak of the exact
///   bytes, so a hit is the same signed transaction;
/// - `senders[i]`, batch `i`'s settled senders (recovered by this node, or
///   attested by f + 1 validators, see `senders.rs`), used when it has one
///   sender per transaction;
/// - otherwise the sender is recovered here. Recovery was the largest share
///   of a validator's CPU (perf), which the first two spare.
pub fn candidates(
    batches: &[Arc<Batch>],
    senders: &[Option<Arc<[Address]>>],
    pooled: impl Fn(&B256) -> Option<RecoveredTx>,
) -> Vec<RecoveredTx> {
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.txs.len()).sum());
    for (i, batch) in batches.iter().enumerate() {
        let known = senders.get(i).and_then(Option::as_ref).filter(|s| s.len() == batch.txs.len());
        for (k, raw) in batch.txs.iter().enumerate() {
            if let Some(tx) = pooled(&keccak256(raw)) {
                out.push(tx);
                continue;
            }
            let Ok(tx) = decode_transaction(raw) else { continue };
            match known {
                Some(known) => out.push(RecoveredTx { hash: *tx.tx_hash(), tx, sender: known[k] }),
                None => out.extend(RecoveredTx::recover(tx).ok()),
            }
        }
    }
    out
}

/// The worker's state.
#[derive(Debug)]
pub struct Worker {
    chain: Arc<Chain>,
    executed: HashMap<B256, Arc<ExecutedBlock>>,
    /// Hashes of each executed block's left-out candidates.
    left_out: HashMap<B256, Vec<B256>>,
    tree: SpecTree,
}

impl Worker {
    /// A worker for `chain` with no executed blocks.
    pub fn new(chain: Arc<Chain>) -> Self {
        Self { chain, executed: HashMap::new(), left_out: HashMap::new(), tree: SpecTree::new() }
    }

    /// Handles jobs until the driver closes the channel (or stops reading
    /// results). Returns the first commit error: it is fatal.
    pub fn run(
        mut self,
        mut jobs: mpsc::Receiver<Job>,
        done: mpsc::Sender<Done>,
    ) -> Result<(), ChainError> {
        while let Some(job) = jobs.blocking_recv() {
            let result = self.handle(job)?;
            if done.blocking_send(result).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn handle(&mut self, job: Job) -> Result<Done, ChainError> {
        Ok(match job {
            Job::Build { view, spec, payload, batches, senders } => {
                Done::Built { view, payload, result: self.build(spec, &batches, &senders) }
            }
            Job::Execute { block_id, spec, batches, senders, extra } => {
                let result = self.execute(spec, &batches, &senders, &extra);
                Done::Executed { block_id, result }
            }
            Job::Commit { hash, height, certificate } => {
                let (included, left_out) = self.commit(hash, height, &certificate)?;
                Done::Committed { height, included, left_out }
            }
        })
    }

    /// Leader: executes the candidates in parallel and returns the block's
    /// hash and the extra bytes replicas need (timestamp, left-out
    /// positions, schedule).
    fn build(
        &mut self,
        spec: BlockSpec,
        batches: &[Arc<Batch>],
        senders: &[Option<Arc<[Address]>>],
    ) -> Result<(B256, Vec<u8>), String> {
        let candidates = candidates(batches, senders, |hash| self.chain.pool().get(hash));
        let hashes: Vec<B256> = candidates.iter().map(|t| t.hash).collect();
        let built =
            self.chain.build_block(&self.tree, spec, candidates).map_err(|e| e.to_string())?;
        for hash in &built.rejected {
            // Invalid on its own merits: no later block can take it either.
            self.chain.pool().remove_invalid(hash);
        }
        let left_out = built.left_out.iter().map(|&i| u32::try_from(i).expect("bounded")).collect();
        let extra = ProposalExtra {
            timestamp: built.block.header.timestamp,
            left_out,
            schedule: built.block.schedule.to_vec(),
        };
        let left_out_hashes = built.left_out.iter().map(|&i| hashes[i]).collect();
        let hash = self.insert(built, left_out_hashes)?;
        Ok((hash, extra.encode()))
    }

    /// Replica: executes the leader's block — the payload's candidates
    /// minus the left-out positions — following the leader's schedule.
    fn execute(
        &mut self,
        spec: BlockSpec,
        batches: &[Arc<Batch>],
        senders: &[Option<Arc<[Address]>>],
        extra: &[u8],
    ) -> Result<B256, String> {
        let candidates = candidates(batches, senders, |hash| self.chain.pool().get(hash));
        let extra = ProposalExtra::decode(extra, candidates.len()).map_err(|e| e.to_string())?;
        let left_out_hashes = extra.left_out.iter().map(|&i| candidates[i as usize].hash).collect();
        let txs = extra.block_transactions(candidates);
        let (executed, _verdict) = self
            .chain
            .execute_block(&self.tree, spec, txs, extra.schedule.into())
            .map_err(|e| e.to_string())?;
        self.insert(executed, left_out_hashes)
    }

    fn insert(&mut self, built: ExecutedBlock, left_out: Vec<B256>) -> Result<B256, String> {
        let built = Arc::new(built);
        let hash = built.hash();
        self.tree.insert(Arc::clone(&built)).map_err(|e| e.to_string())?;
        self.executed.insert(hash, built);
        self.left_out.insert(hash, left_out);
        Ok(hash)
    }

    fn commit(
        &mut self,
        hash: B256,
        height: u64,
        certificate: &[u8],
    ) -> Result<(Vec<B256>, Vec<B256>), ChainError> {
        if self.chain.height() >= height {
            // Already committed (e.g. replayed after a restart).
            return Ok((Vec::new(), Vec::new()));
        }
        let Some(block) = self.executed.remove(&hash) else {
            return Err(ChainError::Commit {
                height,
                reason: format!("consensus committed {hash}, which was never executed here"),
            });
        };
        let left_out = self.left_out.remove(&hash).unwrap_or_default();
        // Drop every other reference (the tree) so the block can be taken by value.
        self.executed.retain(|_, b| b.height() > height);
        let executed = &self.executed;
        self.left_out.retain(|h, _| executed.contains_key(h));
        self.rebuild_tree()?;
        let executed = match Arc::try_unwrap(block) {
            Ok(executed) => executed,
            Err(shared) => self.rebuild(&shared)?,
        };
        let included = executed.included.iter().map(|t| t.hash).collect();
        self.chain.commit_executed(executed, Some(certificate))?;
        Ok((included, left_out))
    }

    fn rebuild_tree(&mut self) -> Result<(), ChainError> {
        self.tree = SpecTree::new();
        for block in self.executed.values() {
            self.tree.insert(Arc::clone(block))?;
        }
        Ok(())
    }

    /// Re-executes a block whose `Arc` is still shared (deterministic, so
    /// the result is the same block).
    fn rebuild(&self, shared: &ExecutedBlock) -> Result<ExecutedBlock, ChainError> {
        let header = &shared.block.header;
        let spec = BlockSpec {
            parent_hash: header.parent_hash,
            view: header.view,
            proposer: header.proposer,
            timestamp: header.timestamp,
        };
        let txs = shared.included.clone();
        let schedule = shared.block.schedule.clone();
        let (again, _) = self.chain.execute_block(&self.tree, spec, txs, schedule)?;
        assert_eq!(again.hash(), shared.hash(), "re-execution must be deterministic");
        Ok(again)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_network::TxSignerSync;
    use alloy_primitives::{TxKind, U256};
    use alloy_signer_local::PrivateKeySigner;
    use std::cell::Cell;

    /// A signed EIP-1559 transfer, EIP-2718 encoded.
    pub(crate) fn transfer(signer: &PrivateKeySigner, nonce: u64) -> Vec<u8> {
        let mut tx = TxEip1559 {
            chain_id: 7,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 100,
            max_priority_fee_per_gas: 3,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718()
    }

    #[test]
    fn pooled_transactions_are_reused_and_the_candidates_stay_the_same() {
        let signer = PrivateKeySigner::random();
        let raws = vec![transfer(&signer, 0), vec![0xde, 0xad], transfer(&signer, 1)];
        let batches = vec![Arc::new(Batch { txs: raws.clone() })];
        let recovered = candidates(&batches, &[], |_| None);
        assert_eq!(recovered.len(), 2, "undecodable bytes are left out");
        assert!(recovered.iter().all(|tx| tx.sender == signer.address()));
        // The pool holds the second transfer: it is taken from there.
        let pooled = recovered[1].clone();
        let hits = Cell::new(0);
        let again = candidates(&batches, &[], |hash| {
            (*hash == pooled.hash).then(|| {
                hits.set(hits.get() + 1);
                pooled.clone()
            })
        });
        assert_eq!(again, recovered);
        assert_eq!(hits.get(), 1);
        assert_eq!(keccak256(&raws[2]), pooled.hash, "pool lookups key on the bytes' hash");
    }

    #[test]
    fn settled_senders_give_the_candidates_recovery_gives() {
        let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let batches = vec![
            Arc::new(Batch { txs: vec![transfer(&a, 0), transfer(&b, 0)] }),
            Arc::new(Batch { txs: vec![transfer(&a, 1)] }),
        ];
        let recovered = candidates(&batches, &[], |_| None);
        let settled: Vec<Option<Arc<[Address]>>> =
            vec![Some(vec![a.address(), b.address()].into()), Some(vec![a.address()].into())];
        assert_eq!(candidates(&batches, &settled, |_| None), recovered);
        // The list is what the candidates carry: a list of the wrong length
        // is not used, and a settled list is trusted as it is.
        let short: Vec<Option<Arc<[Address]>>> = vec![Some(vec![b.address()].into()), None];
        assert_eq!(candidates(&batches, &short, |_| None), recovered);
        let swapped: Vec<Option<Arc<[Address]>>> =
            vec![Some(vec![b.address(), a.address()].into())];
        let trusted = candidates(&batches, &swapped, |_| None);
        assert_eq!(trusted[0].sender, b.address());
        assert_eq!(trusted[2], recovered[2], "batch without a list: recovered");
    }
}

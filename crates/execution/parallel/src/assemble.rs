//! The post-pass: assembling the block's outcome from the transactions' final
//! results in block order, crediting the deferred beneficiary fees and
//! applying the block-level rules that depend on cumulative gas.

use crate::engine::Slot;
use crate::lazy::Recipients;
use crate::mv::{FinalWrites, MvMemory};
use crate::pool::run_workers;
use crate::{Fallback, RejectedTx, ScheduleVerdict};
use alloy_primitives::{Bloom, Bytes, B256};
use phalanx_core_types::{
    receipts_root_and_bloom, rw_digest, Account, Address, PartDigest, ReadKey, ReadValue,
    ReadWriteSet, ReceiptsRootPlan, RecoveredTx, StateChanges, StateView, TxReceipt,
};
#[cfg(debug_assertions)]
use phalanx_execution_evm::MergedDeltas;
use phalanx_execution_evm::{
    block_gas_reason, credit_beneficiary, BlockEnv, BlockOutcome, ExecError, InvalidStage,
    TxExecuted, TxOutcome,
};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How invalid transactions are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// The leader leaves them out of the block.
    Skip,
    /// A validator rejects the block at the first one.
    RejectBlock,
}

/// The result of the post-pass.
#[derive(Debug)]
pub(crate) enum Assembled {
    /// The block's outcome, equal to serial execution's, and the side job's
    /// verdict if one was given.
    Outcome {
        outcome: BlockOutcome,
        included: Vec<usize>,
        rejected: Vec<RejectedTx>,
        verdict: Option<ScheduleVerdict>,
    },
    /// The parallel results cannot reproduce serial execution: run serially.
    Fallback(Fallback),
}

/// The beneficiary's running record, fees credited in block order.
struct Beneficiary {
    address: Address,
    account: Option<Account>,
    changed: bool,
    destroyed: bool,
}

impl Beneficiary {
    /// Adds the serial executor's beneficiary read and write to `executed`.
    fn credit(&mut self, executed: &mut TxExecuted) {
        let key = ReadKey::Account(self.address);
        let position = executed
            .reads
            .binary_search_by(|(k, _)| k.cmp(&key))
            .expect_err("transactions reading the beneficiary fall back to serial execution");
        executed.reads.insert(position, (key, ReadValue::Account(self.account)));
        let credit = credit_beneficiary(self.address, self.account, executed.beneficiary_fee);
        if let Some(write) = credit.write {
            let position = executed.writes.binary_search(&write).unwrap_or_else(|p| p);
            executed.writes.insert(position, write);
        }
        self.account = credit.after;
        self.changed |= credit.changed;
        self.destroyed |= credit.destroyed;
    }

    /// Puts the beneficiary's net change into the block's changes (no
    /// transaction's own delta touches it: those fall back to serial).
    fn finish(self, changes: &mut StateChanges) {
        if self.changed {
            changes.accounts.insert(self.address, self.account);
        }
        if self.destroyed {
            let storage = changes.storage.entry(self.address).or_default();
            storage.wiped = true;
            storage.slots.clear();
        }
    }
}

fn reads_account(reads: &[(ReadKey, ReadValue)], address: Address) -> bool {
    reads.binary_search_by(|(k, _)| k.cmp(&ReadKey::Account(address))).is_ok()
}

/// Blocks with fewer transactions compute their digests on one thread.
const PARALLEL_DIGESTS_MIN_TXS: usize = 64;

/// Transactions per operation-hash job: small enough that the last jobs
/// balance the threads, large enough that taking a job costs nothing.
const OP_HASH_JOB_TXS: usize = 128;

/// A judgement of the final read/write sets (the validator's schedule
/// check) that the post-pass runs beside its hashing.
pub(crate) type SideJob<'a> = &'a (dyn Fn(&[ReadWriteSet]) -> ScheduleVerdict + Sync);

/// What the post-pass computes after the in-order loop.
struct Digests {
    op_hashes: Vec<B256>,
    receipts_root: B256,
    logs_bloom: Bloom,
    changes: StateChanges,
    verdict: Option<ScheduleVerdict>,
}

/// Multi-version shards per state-changes job.
const MERGE_JOB_SHARDS: usize = 16;

/// One unit of the parallel post-pass.
#[derive(Debug, Clone)]
enum Job {
    /// The side job.
    Side,
    /// Collect the final writes of these multi-version shards.
    Merge(Range<usize>),
    /// Hash one part of the receipts trie.
    Receipts(usize),
    /// The operation hashes of these transactions.
    OpHashes(Range<usize>),
}

/// A finished [`Job`].
enum Done {
    Side(ScheduleVerdict),
    Merge(FinalWrites),
    Receipts(usize, PartDigest),
    OpHashes(usize, Vec<B256>),
}

/// What the post-pass hashes and merges, besides the side job.
struct Inputs<'a> {
    receipts: &'a [TxReceipt],
    rw_sets: &'a [ReadWriteSet],
    /// Holds every included transaction's final write and no other.
    mv: &'a MvMemory,
    /// Code the included transactions deployed.
    code: Vec<(B256, Bytes)>,
}

/// The operation hash of each read/write set (PaVM receipts), the receipts
/// root and block bloom, and the block's state changes (the latest write of
/// every location in multi-version memory: the transactions' deltas merged
/// in block order). None depends on another, and the hashing is most of the
/// post-pass's work: with more than one thread, they are cut into jobs (one
/// per [`MERGE_JOB_SHARDS`] multi-version shards, one per receipts-subtrie
/// of up to 256 receipts, one per [`OP_HASH_JOB_TXS`] operation hashes, and
/// the `side` job) that `threads` threads take in turn, the longest first.
fn digests(inputs: Inputs<'_>, threads: usize, side: Option<SideJob<'_>>) -> Digests {
    let Inputs { receipts, rw_sets, mv, code } = inputs;
    if threads <= 1 || rw_sets.len() < PARALLEL_DIGESTS_MIN_TXS {
        let (receipts_root, logs_bloom) = receipts_root_and_bloom(receipts);
        let writes = mv.take_final_writes(0..mv.shard_count());
        return Digests {
            op_hashes: rw_sets.iter().map(ReadWriteSet::op_hash).collect(),
            receipts_root,
            logs_bloom,
            changes: FinalWrites::into_changes(vec![writes], code),
            verdict: side.map(|judge| judge(rw_sets)),
        };
    }
    let plan = ReceiptsRootPlan::new(receipts.len());
    let mut jobs = if side.is_some() { vec![Job::Side] } else { Vec::new() };
    let shards = (0..mv.shard_count()).step_by(MERGE_JOB_SHARDS);
    jobs.extend(
        shards.map(|start| Job::Merge(start..(start + MERGE_JOB_SHARDS).min(mv.shard_count()))),
    );
    jobs.extend((0..plan.parts()).map(Job::Receipts));
    let chunks = (0..rw_sets.len()).step_by(OP_HASH_JOB_TXS);
    jobs.extend(
        chunks.map(|start| Job::OpHashes(start..(start + OP_HASH_JOB_TXS).min(rw_sets.len()))),
    );
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push(match job {
                Job::Side => Done::Side(side.expect("a side job was given")(rw_sets)),
                Job::Merge(shards) => Done::Merge(mv.take_final_writes(shards.clone())),
                Job::Receipts(part) => Done::Receipts(*part, plan.digest_part(receipts, *part)),
                Job::OpHashes(range) => Done::OpHashes(
                    range.start,
                    rw_sets[range.clone()].iter().map(ReadWriteSet::op_hash).collect(),
                ),
            });
        }
        done
    };
    let finished: Vec<Done> = run_workers(threads, |_| work()).into_iter().flatten().collect();
    let mut op_hashes = vec![B256::ZERO; rw_sets.len()];
    let mut parts = vec![None; plan.parts()];
    let (mut writes, mut verdict) = (Vec::new(), None);
    for done in finished {
        match done {
            Done::Side(judged) => verdict = Some(judged),
            Done::Merge(part) => writes.push(part),
            Done::Receipts(part, digest) => parts[part] = Some(digest),
            Done::OpHashes(start, hashes) => {
                op_hashes[start..start + hashes.len()].copy_from_slice(&hashes)
            }
        }
    }
    let parts: Vec<PartDigest> =
        parts.into_iter().map(|p| p.expect("every receipts part is hashed")).collect();
    let (receipts_root, logs_bloom) = plan.combine(receipts, &parts);
    let changes = FinalWrites::into_changes(writes, code);
    Digests { op_hashes, receipts_root, logs_bloom, changes, verdict }
}

/// The parallel run a post-pass assembles.
pub(crate) struct Run<'a> {
    /// Each transaction's final result, fee deferred.
    pub slots: Vec<Slot>,
    /// The multi-version memory the run left: each transaction's final
    /// incarnation's writes (an invalid transaction's are empty).
    pub mv: &'a MvMemory,
}

/// Builds the block's outcome from the final results of `txs`, in order,
/// hashing on up to `threads` threads, and runs `side` on the final
/// read/write sets beside the hashing.
pub(crate) fn assemble<S: StateView>(
    base: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    run: Run<'_>,
    policy: Policy,
    threads: usize,
    side: Option<SideJob<'_>>,
) -> Result<Assembled, ExecError> {
    let Run { slots, mv } = run;
    let coinbase = env.proposer;
    let mut beneficiary = Beneficiary {
        address: coinbase,
        account: base.account(&coinbase)?,
        changed: false,
        destroyed: false,
    };
    let mut gas_used = 0u64;
    let mut receipts: Vec<TxReceipt> = Vec::with_capacity(txs.len());
    let mut rw_sets = Vec::with_capacity(txs.len());
    let mut code = Vec::new();
    // Debug builds check the multi-version merge against the deltas.
    #[cfg(debug_assertions)]
    let mut deltas = MergedDeltas::default();
    let (mut included, mut rejected) = (Vec::new(), Vec::new());
    let mut recipients = Recipients::default();
    for (index, slot) in slots.into_iter().enumerate() {
        let (outcome, credit) = match slot {
            Slot::Done(outcome) => (outcome, None),
            Slot::Credited(outcome, credit) => (outcome, Some(credit)),
            Slot::Failed => return Ok(Assembled::Fallback(Fallback::ExecutionError { index })),
            Slot::Empty => unreachable!("transaction {index} never executed"),
        };
        if reads_account(outcome.reads(), coinbase) {
            return Ok(Assembled::Fallback(Fallback::CoinbaseRead { index }));
        }
        let remaining = env.gas_limit.saturating_sub(gas_used);
        let mut executed = match outcome {
            TxOutcome::Invalid(invalid) => {
                // The serial executor checks the block's gas before revm's checks.
                let gas_limit = txs[index].gas_limit();
                let reason = if invalid.stage == InvalidStage::Evm && gas_limit > remaining {
                    block_gas_reason(gas_limit, remaining)
                } else {
                    invalid.reason
                };
                if policy == Policy::RejectBlock {
                    return Err(ExecError::InvalidBlockTransaction { index, reason });
                }
                rejected.push(RejectedTx { index, hash: txs[index].hash, reason });
                continue;
            }
            TxOutcome::Executed(executed) => executed,
        };
        if executed.gas_limit > remaining {
            if policy == Policy::RejectBlock {
                let reason = block_gas_reason(executed.gas_limit, remaining);
                return Err(ExecError::InvalidBlockTransaction { index, reason });
            }
            // Later transactions saw this one's writes; serially they would not.
            return Ok(Assembled::Fallback(Fallback::BlockGasLimit { index }));
        }
        beneficiary.credit(&mut executed);
        recipients.observe(&executed.delta);
        if let Some(credit) = credit {
            if let Err(fallback) = recipients.credit(index, &mut executed, credit, mv, base)? {
                return Ok(Assembled::Fallback(fallback));
            }
        }
        gas_used += executed.gas_used;
        let rw_set = ReadWriteSet {
            reads: std::mem::take(&mut executed.reads),
            writes: std::mem::take(&mut executed.writes),
        };
        // Moved, not cloned, into the receipt.
        let logs = std::mem::take(&mut executed.logs);
        // The operation hash comes after the loop, off this thread.
        let mut receipt = executed.receipt(gas_used, B256::ZERO);
        receipt.logs = logs;
        receipts.push(receipt);
        rw_sets.push(rw_set);
        code.extend(executed.delta.code.iter().cloned());
        #[cfg(debug_assertions)]
        deltas.push(std::mem::take(&mut executed.delta));
        included.push(index);
    }
    let inputs = Inputs { receipts: &receipts, rw_sets: &rw_sets, mv, code };
    let Digests { op_hashes, receipts_root, logs_bloom, mut changes, verdict } =
        digests(inputs, threads, side);
    recipients.finish(&mut changes);
    #[cfg(debug_assertions)]
    assert_eq!(changes, deltas.finish(), "multi-version merge differs from the deltas'");
    beneficiary.finish(&mut changes);
    for (receipt, op_hash) in receipts.iter_mut().zip(op_hashes) {
        receipt.rw_hash = op_hash;
    }
    let outcome = BlockOutcome {
        receipts_root,
        rw_digest: rw_digest(receipts.iter().map(|r| &r.rw_hash)),
        receipts,
        rw_sets,
        changes,
        gas_used,
        logs_bloom,
    };
    Ok(Assembled::Outcome { outcome, included, rejected, verdict })
}

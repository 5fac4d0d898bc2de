//! The post-pass: assembling the block's outcome from the transactions' final
//! results in block order, crediting the deferred beneficiary fees and
//! applying the block-level rules that depend on cumulative gas.

use crate::engine::Slot;
use crate::{Fallback, RejectedTx};
use phalanx_core_types::{
    receipts_root_and_bloom, rw_digest, Account, Address, ReadKey, ReadValue, ReadWriteSet,
    RecoveredTx, StateChanges, StateView, TxReceipt,
};
use phalanx_execution_evm::{
    block_gas_reason, credit_beneficiary, BlockEnv, BlockOutcome, ExecError, InvalidStage,
    TxExecuted, TxOutcome,
};

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
    /// The block's outcome, equal to serial execution's.
    Outcome { outcome: BlockOutcome, included: Vec<usize>, rejected: Vec<RejectedTx> },
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

/// Builds the block's outcome from the final `slots` of `txs`, in order.
pub(crate) fn assemble<S: StateView>(
    base: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    slots: Vec<Slot>,
    policy: Policy,
) -> Result<Assembled, ExecError> {
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
    let mut changes = StateChanges::default();
    let (mut included, mut rejected) = (Vec::new(), Vec::new());
    for (index, slot) in slots.into_iter().enumerate() {
        let outcome = match slot {
            Slot::Done(outcome) => outcome,
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
        gas_used += executed.gas_used;
        let rw_set = ReadWriteSet {
            reads: std::mem::take(&mut executed.reads),
            writes: std::mem::take(&mut executed.writes),
        };
        // Moved, not cloned, into the receipt.
        let logs = std::mem::take(&mut executed.logs);
        let mut receipt = executed.receipt(gas_used, rw_set.op_hash());
        receipt.logs = logs;
        receipts.push(receipt);
        rw_sets.push(rw_set);
        changes.extend(executed.changes);
        included.push(index);
    }
    beneficiary.finish(&mut changes);
    let (receipts_root, logs_bloom) = receipts_root_and_bloom(&receipts);
    let outcome = BlockOutcome {
        receipts_root,
        rw_digest: rw_digest(receipts.iter().map(|r| &r.rw_hash)),
        receipts,
        rw_sets,
        changes,
        gas_used,
        logs_bloom,
    };
    Ok(Assembled::Outcome { outcome, included, rejected })
}

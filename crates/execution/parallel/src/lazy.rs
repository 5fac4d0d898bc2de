//! Lazy value credits: plain transfers to one hot recipient without making
//! them depend on each other (the issue's "plain value credits are applied
//! so they do not serialise the block"; pevm does the same for raw
//! transfers).
//!
//! Serially, a transfer of `v` to `R` reads `R`'s record and writes its
//! balance plus `v`, so every transfer to `R` depends on the one before. But
//! when `R` has no code, nothing in the transfer's execution depends on that
//! balance: no code runs, the gas is the intrinsic gas, and `v > 0` keeps
//! `R` non-empty (no EIP-161 deletion). So the leader's engine runs such a
//! transfer with `R`'s balance hidden ([`MvView`](crate::MvView) serves the
//! record with a zero balance and notes it), strips `R`'s read and write
//! from the result ([`defer_credit`]), and records `+v` at `R` in
//! multi-version memory ([`MvValue::Credit`](crate::MvValue)). Other
//! transactions that read `R` sum the credits below them, so they see what
//! serial execution shows them. The post-pass ([`Recipients`]) then walks
//! the block in order and puts back, for each deferred credit, the exact
//! read and write the serial executor records.
//!
//! What the deferred run stands on is only that `R` has no code at its
//! position (a transaction before it could deploy code there, e.g. with
//! CREATE2): validation re-checks that ([`MvView::still_creditable`]).
//! A credit that would overflow `R`'s balance, which serial execution
//! reports as a failed transfer, sends the block to serial execution.

use crate::mv::{credited, MvMemory, MvRead};
use crate::Fallback;
use alloy_consensus::Transaction as _;
use alloy_primitives::map::AddressMap;
use alloy_primitives::{Address, TxKind, U256};
use phalanx_core_types::{
    Account, ReadKey, ReadValue, RecoveredTx, StateChanges, StateError, StateView, WriteOp,
};
use phalanx_execution_evm::{TxDelta, TxExecuted, TxOutcome};
use rustc_hash::FxHashMap;

/// Addresses up to this are left to normal execution: the precompiles live
/// there (ten under Cancun, more in later forks), and a transfer to one runs
/// its code.
const PRECOMPILE_RANGE_END: u64 = 0xffff;

/// A transaction's deferred value credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Credit {
    /// The account credited.
    pub recipient: Address,
    /// The value credited; zero for an invalid transaction (it credits
    /// nothing, but its verdict was reached with the recipient's balance
    /// hidden, so it is validated like a credit).
    pub amount: U256,
}

/// The recipient of `tx` if it is a plain value transfer, as far as a look
/// at the transaction shows: a call with value and no input. (A payment to a
/// contract runs its code, which only state shows.)
pub(crate) fn plain_transfer_recipient(tx: &RecoveredTx) -> Option<Address> {
    let TxKind::Call(recipient) = tx.tx.to() else { return None };
    (tx.tx.input().is_empty() && !tx.tx.value().is_zero()).then_some(recipient)
}

/// The recipient whose credit `tx` may defer: a plain value transfer to an
/// account other than its sender, the block's beneficiary (whose fee is
/// deferred apart) and the precompiles. Whether the recipient has code is
/// only known at run time.
fn lazy_recipient(tx: &RecoveredTx, beneficiary: Address) -> Option<Address> {
    let recipient = plain_transfer_recipient(tx)?;
    let precompile = recipient.0[..12].iter().all(|b| *b == 0)
        && u64::from_be_bytes(recipient.0[12..].try_into().expect("8 bytes"))
            <= PRECOMPILE_RANGE_END;
    (!precompile && recipient != tx.sender && recipient != beneficiary).then_some(recipient)
}

/// Each transaction's deferrable credit recipient ([`lazy_recipient`]),
/// kept only for recipients that at least two plain transfers of the block
/// pay: deferring removes a conflict only between transfers to the same
/// recipient, and costs the post-pass a little work per credit (perf: with
/// every transfer of a conflict-free block deferred, the leader spent
/// noticeably more CPU than without).
pub(crate) fn lazy_recipients<'t>(
    txs: impl IntoIterator<Item = &'t RecoveredTx>,
    beneficiary: Address,
) -> Vec<Option<Address>> {
    let candidates: Vec<Option<Address>> =
        txs.into_iter().map(|tx| lazy_recipient(tx, beneficiary)).collect();
    let mut paid: AddressMap<u32> = AddressMap::default();
    for recipient in candidates.iter().flatten() {
        *paid.entry(*recipient).or_default() += 1;
    }
    candidates.into_iter().map(|r| r.filter(|r| paid[r] >= 2)).collect()
}

/// Takes `recipient`'s read, write and record out of an outcome run with its
/// balance hidden and returns the credit to record instead. `None` if the
/// outcome is not the plain credit the run was meant to be (it then cannot
/// be deferred, and the block runs serially).
pub(crate) fn defer_credit(
    outcome: TxOutcome,
    recipient: Address,
    value: U256,
) -> Option<(TxOutcome, Credit)> {
    let key = ReadKey::Account(recipient);
    let strip_read = |reads: &mut Vec<(ReadKey, ReadValue)>| {
        if let Ok(i) = reads.binary_search_by(|(k, _)| k.cmp(&key)) {
            reads.remove(i);
        }
    };
    match outcome {
        TxOutcome::Invalid(mut invalid) => {
            strip_read(&mut invalid.reads);
            Some((TxOutcome::Invalid(invalid), Credit { recipient, amount: U256::ZERO }))
        }
        TxOutcome::Executed(mut executed) => {
            if !is_plain_credit(&executed, recipient, value) {
                return None;
            }
            strip_read(&mut executed.reads);
            executed.writes.retain(|w| write_address(w) != Some(recipient));
            executed.delta.accounts.retain(|(address, _)| *address != recipient);
            Some((TxOutcome::Executed(executed), Credit { recipient, amount: value }))
        }
    }
}

/// Whether the run credited `value` to `recipient`, seen with a zero
/// balance, and did nothing else to it.
fn is_plain_credit(executed: &TxExecuted, recipient: Address, value: U256) -> bool {
    let mut writes = executed.writes.iter().filter(|w| write_address(w) == Some(recipient));
    let balance_only = matches!(writes.next(), Some(WriteOp::Balance { value: v, .. }) if *v == value)
        && writes.next().is_none();
    let delta = &executed.delta;
    let record = delta.accounts.iter().find(|(address, _)| *address == recipient);
    executed.success
        && balance_only
        && matches!(record, Some((_, Some(account))) if account.balance == value)
        && !delta.wiped.contains(&recipient)
        && !delta.slots.iter().any(|(address, _, _)| *address == recipient)
}

fn write_address(write: &WriteOp) -> Option<Address> {
    match write {
        WriteOp::Balance { address, .. }
        | WriteOp::Nonce { address, .. }
        | WriteOp::Code { address, .. }
        | WriteOp::Storage { address, .. }
        | WriteOp::Destroy { address } => Some(*address),
        WriteOp::Log { .. } => None,
    }
}

/// The post-pass's running records of the accounts credited lazily so far,
/// in block order.
#[derive(Debug, Default)]
pub(crate) struct Recipients {
    running: FxHashMap<Address, Option<Account>>,
}

impl Recipients {
    /// Follows an included transaction's own writes to accounts credited
    /// earlier in the block (it read them with the credits summed, so its
    /// record is the new running one).
    pub(crate) fn observe(&mut self, delta: &TxDelta) {
        if self.running.is_empty() {
            return;
        }
        for (address, account) in &delta.accounts {
            if let Some(running) = self.running.get_mut(address) {
                *running = *account;
            }
        }
    }

    /// Puts back into `executed` (transaction `index`, its credit deferred)
    /// the read and the balance write the serial executor records, and
    /// into `delta` (its state delta, for debug checks) the record.
    /// [`Fallback::CreditOverflow`] if the balance would overflow.
    pub(crate) fn credit<S: StateView>(
        &mut self,
        index: usize,
        executed: &mut TxExecuted,
        credit: Credit,
        mv: &MvMemory,
        base: &S,
    ) -> Result<Result<(), Fallback>, StateError> {
        let Credit { recipient, amount } = credit;
        let before = match self.running.get(&recipient) {
            Some(running) => *running,
            // The first credit to `recipient` in the block: what the memory
            // shows below it, final by now. Every credit in the memory is an
            // included transaction's and every earlier one was credited
            // here first, so the sum is zero; it is applied all the same.
            None => {
                let (read, credits) = mv.read_account(&recipient, index);
                debug_assert_eq!(credits, Some(U256::ZERO), "a credit before the first");
                let record = match read {
                    MvRead::Base => base.account(&recipient)?,
                    MvRead::Value { value, .. } => value,
                    MvRead::Blocked { tx } => unreachable!("estimate by {tx} after the run"),
                };
                match credits.and_then(|sum| credited(record, sum)) {
                    Some(record) => record,
                    None => return Ok(Err(Fallback::CreditOverflow { index })),
                }
            }
        };
        let Some(Some(after)) = credited(before, amount) else {
            return Ok(Err(Fallback::CreditOverflow { index }));
        };
        let key = ReadKey::Account(recipient);
        let at = executed
            .reads
            .binary_search_by(|(k, _)| k.cmp(&key))
            .expect_err("a deferred credit's recipient read was taken out");
        executed.reads.insert(at, (key, ReadValue::Account(before)));
        let write = WriteOp::Balance { address: recipient, value: after.balance };
        let at = executed.writes.binary_search(&write).unwrap_or_else(|p| p);
        executed.writes.insert(at, write);
        let accounts = &mut executed.delta.accounts;
        let at = accounts.partition_point(|(address, _)| *address < recipient);
        accounts.insert(at, (recipient, Some(after)));
        self.running.insert(recipient, Some(after));
        Ok(Ok(()))
    }

    /// Puts the credited accounts' final records into the block's changes
    /// (multi-version memory leaves out locations whose latest version is a
    /// credit).
    pub(crate) fn finish(self, changes: &mut StateChanges) {
        changes.accounts.extend(self.running);
    }
}

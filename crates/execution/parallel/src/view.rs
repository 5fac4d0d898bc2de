//! The state as one transaction of the block sees it: multi-version memory
//! over the base view.

use crate::mv::{credited, MvMemory, MvRead};
use alloy_primitives::{Address, Bytes, B256, U256};
use phalanx_core_types::{Account, ReadKey, ReadValue, StateError, StateView};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// No dependency was hit.
const NOT_BLOCKED: usize = usize::MAX;

/// The state just before transaction `tx` of the block: writes of lower
/// transactions from [`MvMemory`], the base view for everything else.
///
/// A read that hits an ESTIMATE fails with [`StateError::Backend`] and
/// remembers the transaction to wait for ([`blocked_on`](Self::blocked_on)):
/// a transaction that read it would read a value about to change, so its
/// execution is abandoned and resumed once that transaction re-executed.
///
/// Account reads sum the lazy value credits in memory (see `lazy.rs`). A
/// view made [`with_lazy_recipient`](Self::with_lazy_recipient) serves that
/// one account, if it has no code, with its balance hidden (zero) and notes
/// it ([`lazy_used`](Self::lazy_used)).
#[derive(Debug)]
pub struct MvView<'a, S: StateView> {
    mv: &'a MvMemory,
    base: &'a S,
    tx: usize,
    blocked: AtomicUsize,
    lazy: Option<Address>,
    lazy_used: AtomicBool,
}

impl<'a, S: StateView> MvView<'a, S> {
    /// The view of transaction `tx` (it sees writes of transactions `< tx`).
    pub fn new(mv: &'a MvMemory, base: &'a S, tx: usize) -> Self {
        Self {
            mv,
            base,
            tx,
            blocked: AtomicUsize::new(NOT_BLOCKED),
            lazy: None,
            lazy_used: AtomicBool::new(false),
        }
    }

    /// The same view, serving `recipient` (the plain transfer's recipient
    /// whose credit the transaction may defer) with its balance hidden if
    /// it has no code.
    pub(crate) fn with_lazy_recipient(mut self, recipient: Option<Address>) -> Self {
        self.lazy = recipient;
        self
    }

    /// Whether the lazy recipient was served with its balance hidden: the
    /// run's result then credits it from zero and must be deferred.
    pub(crate) fn lazy_used(&self) -> bool {
        self.lazy_used.load(Ordering::Relaxed)
    }

    /// Whether `recipient`, credits aside, still has no code for this
    /// transaction: the condition a deferred credit stands on. `false` on
    /// an estimate (the writer may deploy code there).
    pub(crate) fn still_creditable(&self, recipient: &Address) -> Result<bool, StateError> {
        match self.uncredited_account(recipient) {
            Ok(account) => Ok(!account.is_some_and(|a| a.has_code())),
            Err(_) if self.blocked_on().is_some() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// What a multi-version read resolves to: the base view's value, the
    /// write found, or a wait on the writer.
    fn settle<T>(
        &self,
        read: MvRead<T>,
        base: impl FnOnce() -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        match read {
            MvRead::Base => base(),
            MvRead::Value { value, .. } => Ok(value),
            MvRead::Blocked { tx } => self.block(tx),
        }
    }

    /// The latest record of `address` below this transaction, credits aside.
    fn uncredited_account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        let read = self.mv.read_account_record(address, self.tx);
        self.settle(read, || self.base.account(address))
    }

    /// The transaction a read had to wait for, if any (the first one hit).
    pub fn blocked_on(&self) -> Option<usize> {
        let blocked = self.blocked.load(Ordering::Relaxed);
        (blocked != NOT_BLOCKED).then_some(blocked)
    }

    fn block<T>(&self, writer: usize) -> Result<T, StateError> {
        let _ = self.blocked.compare_exchange(
            NOT_BLOCKED,
            writer,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        Err(StateError::Backend {
            message: format!("transaction {} must wait for transaction {writer}", self.tx),
        })
    }

    /// Whether every read still observes the recorded value (Block-STM's
    /// validation, by value). Reads hitting an ESTIMATE fail validation;
    /// block hashes come from the immutable base and need no check.
    pub fn reads_still_valid(&self, reads: &[(ReadKey, ReadValue)]) -> Result<bool, StateError> {
        for (key, value) in reads {
            let current = match key {
                ReadKey::Account(address) => match self.account(address) {
                    Ok(account) => ReadValue::Account(account),
                    Err(_) if self.blocked_on().is_some() => return Ok(false),
                    Err(e) => return Err(e),
                },
                ReadKey::Storage(address, slot) => match self.storage(address, slot) {
                    Ok(word) => ReadValue::storage(word),
                    Err(_) if self.blocked_on().is_some() => return Ok(false),
                    Err(e) => return Err(e),
                },
                ReadKey::BlockHash(_) => continue,
            };
            if current != *value {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The error for value credits that overflow a balance: the transaction's
/// run fails, and the block runs serially (serial execution reports the
/// overflowing transfer as failed).
fn overflow(address: &Address) -> StateError {
    StateError::Backend { message: format!("value credits to {address} overflow its balance") }
}

impl<S: StateView> StateView for MvView<'_, S> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        if self.lazy == Some(*address) {
            let record = self.uncredited_account(address)?;
            if !record.is_some_and(|a| a.has_code()) {
                self.lazy_used.store(true, Ordering::Relaxed);
                return Ok(record.map(|a| Account { balance: U256::ZERO, ..a }));
            }
        }
        let (read, credits) = self.mv.read_account(address, self.tx);
        let record = self.settle(read, || self.base.account(address))?;
        let credits = credits.ok_or_else(|| overflow(address))?;
        credited(record, credits).ok_or_else(|| overflow(address))
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        let read = self.mv.read_storage(address, slot, self.tx);
        self.settle(read, || self.base.storage(address, slot))
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        match self.mv.code(code_hash) {
            Some(code) => Ok(Some(code)),
            None => self.base.code(code_hash),
        }
    }

    fn block_hash(&self, height: u64) -> Result<Option<B256>, StateError> {
        self.base.block_hash(height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_execution_evm::{MemoryState, TxDelta};

    #[test]
    fn view_reads_memory_over_base_and_validates_by_value() {
        let a = Address::repeat_byte(1);
        let mut base = MemoryState::default();
        base.insert_account(a, Account::with_balance(U256::from(1)));
        let mv = MvMemory::new(3);
        let mut delta = TxDelta::default();
        delta.accounts.push((a, Some(Account::with_balance(U256::from(2)))));
        mv.record(0, 0, &delta, None);

        let first = MvView::new(&mv, &base, 0);
        assert_eq!(first.account(&a).unwrap().unwrap().balance, U256::from(1));
        let second = MvView::new(&mv, &base, 2);
        let seen = second.account(&a).unwrap();
        assert_eq!(seen.unwrap().balance, U256::from(2));
        let reads = [(ReadKey::Account(a), ReadValue::Account(seen))];
        assert!(second.reads_still_valid(&reads).unwrap());

        mv.mark_estimates(0);
        let blocked = MvView::new(&mv, &base, 2);
        assert!(blocked.account(&a).is_err());
        assert_eq!(blocked.blocked_on(), Some(0));
        assert!(!MvView::new(&mv, &base, 2).reads_still_valid(&reads).unwrap());

        // Re-executed with a different value: validation fails by value.
        delta.accounts[0].1 = Some(Account::with_balance(U256::from(3)));
        mv.record(0, 1, &delta, None);
        assert!(!MvView::new(&mv, &base, 2).reads_still_valid(&reads).unwrap());
    }
}

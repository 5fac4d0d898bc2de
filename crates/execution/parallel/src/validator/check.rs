//! The value check behind a verdict: whether a transaction's reads still
//! hold in the final multi-version state.

use crate::mv::{MvMemory, MvRead};
use alloy_primitives::U256;
use phalanx_core_types::{ReadKey, ReadValue};

/// A read that no longer holds after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StaleRead {
    /// The reading transaction.
    pub tx: usize,
    /// The transaction whose write it should have waited for (base values
    /// never go stale, so there always is one).
    pub writer: usize,
}

/// The value `tx` sees at `key` now, with the transaction that wrote it;
/// `None` where the read cannot have gone stale:
/// - block hashes come from the immutable base;
/// - a location no transaction below `tx` has written is still the base
///   value, which is what `tx` read: the scheduled run never removes a
///   version (each transaction runs once), so had `tx` read a version, it
///   would still be there. Base reads, most of a low-conflict block's, are
///   thus never re-read from the base state.
fn current(mv: &MvMemory, key: &ReadKey, tx: usize) -> Option<(ReadValue, usize)> {
    let found = match key {
        ReadKey::Account(address) => match mv.read_account(address, tx) {
            (read, credits) if credits != Some(U256::ZERO) => {
                unreachable!("{read:?}: value credits in a scheduled run")
            }
            (MvRead::Base, _) => return None,
            (MvRead::Value { tx: writer, value, .. }, _) => (ReadValue::Account(value), writer),
            (MvRead::Blocked { tx: writer }, _) => {
                unreachable!("estimate by {writer} without speculation")
            }
        },
        ReadKey::Storage(address, slot) => match mv.read_storage(address, slot, tx) {
            MvRead::Base => return None,
            MvRead::Value { tx: writer, value, .. } => (ReadValue::storage(value), writer),
            MvRead::Blocked { tx: writer } => {
                unreachable!("estimate by {writer} without speculation")
            }
        },
        ReadKey::BlockHash(_) => return None,
    };
    Some(found)
}

/// The first of `reads` (transaction `tx`'s) whose value differs from what
/// `tx` sees in `mv` now, once every transaction has recorded its writes.
/// If no transaction has one, each read what serial execution reads (by
/// induction over the block order), so the run equals serial execution.
pub(crate) fn stale_read(
    mv: &MvMemory,
    tx: usize,
    reads: &[(ReadKey, ReadValue)],
) -> Option<StaleRead> {
    for (key, value) in reads {
        if let Some((now, writer)) = current(mv, key, tx) {
            if now != *value {
                return Some(StaleRead { tx, writer });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256, U256};
    use phalanx_core_types::Account;
    use phalanx_execution_evm::TxDelta;

    #[test]
    fn stale_reads_name_the_writer_and_block_hashes_never_go_stale() {
        let a = Address::repeat_byte(1);
        let mv = MvMemory::new(3);
        let seen = vec![
            (ReadKey::BlockHash(3), ReadValue::Word(B256::repeat_byte(9))),
            (ReadKey::Account(a), ReadValue::Account(Some(Account::with_balance(U256::from(1))))),
        ];
        assert_eq!(stale_read(&mv, 2, &seen), None);
        let mut delta = TxDelta::default();
        delta.accounts.push((a, Some(Account::with_balance(U256::from(2)))));
        mv.record(1, 0, &delta, None);
        assert_eq!(stale_read(&mv, 1, &seen), None);
        let stale = StaleRead { tx: 2, writer: 1 };
        assert_eq!(stale_read(&mv, 2, &seen), Some(stale));
    }
}

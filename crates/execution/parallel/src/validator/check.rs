//! The value check behind a verdict: whether a transaction's reads still
//! hold in the final multi-version state.

use crate::mv::{credited, MvMemory, MvRead};
use alloy_primitives::{Address, U256};
use phalanx_core_types::{ReadKey, ReadValue, StateError, StateView};

/// A read that no longer holds after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StaleRead {
    /// The reading transaction.
    pub tx: usize,
    /// The latest writer below it of the location it read stale (base
    /// values never go stale, so there always is one). Without value
    /// credits it is the writer it should have waited for; with credits it
    /// may be a credit it did wait for, a lower credit being the one it
    /// missed.
    pub writer: usize,
}

/// The value `tx` sees at `key` now (`None`: credits that overflow), with
/// the location's latest writer below `tx`; `None` where the read cannot have gone stale:
/// - block hashes come from the immutable base;
/// - a location no transaction below `tx` has written is still the base
///   value, which is what `tx` read: the scheduled run never removes a
///   version (each transaction runs once), so had `tx` read a version, it
///   would still be there. Base reads, most of a low-conflict block's, are
///   thus never re-read from the base state. An account credited lazily
///   below `tx` over its base record is the exception: the base record is
///   read to add the credits to.
fn current<S: StateView>(
    mv: &MvMemory,
    base: &S,
    key: &ReadKey,
    tx: usize,
) -> Result<Option<(Option<ReadValue>, usize)>, StateError> {
    let found = match key {
        ReadKey::Account(address) => {
            let (read, credits) = mv.read_account(address, tx);
            let record_writer = read.writer();
            let record = match read {
                MvRead::Base if credits == Some(U256::ZERO) => return Ok(None),
                MvRead::Base => base.account(address)?,
                MvRead::Value { value, .. } => value,
                MvRead::Blocked { tx: writer } => {
                    unreachable!("estimate by {writer} without speculation")
                }
            };
            // An overflowing sum (`None`) matches no value the run read: the
            // run would have failed.
            let value = credits.and_then(|sum| credited(record, sum)).map(ReadValue::Account);
            let writer = mv.latest_account_writer(address, tx).or(record_writer);
            (value, writer.expect("a credited or written location"))
        }
        ReadKey::Storage(address, slot) => match mv.read_storage(address, slot, tx) {
            MvRead::Base => return Ok(None),
            MvRead::Value { tx: writer, value, .. } => (Some(ReadValue::storage(value)), writer),
            MvRead::Blocked { tx: writer } => {
                unreachable!("estimate by {writer} without speculation")
            }
        },
        ReadKey::BlockHash(_) => return Ok(None),
    };
    Ok(Some(found))
}

/// The first of `reads` (transaction `tx`'s) whose value differs from what
/// `tx` sees in `mv` now, once every transaction has recorded its writes;
/// for a transaction that credited `credited` lazily, also whether that
/// account has got code below it (what the deferred credit stands on). If
/// no transaction has one, each read what serial execution reads (by
/// induction over the block order), so the run equals serial execution.
/// `Err` when the base state fails a read.
pub(crate) fn stale_read<S: StateView>(
    mv: &MvMemory,
    base: &S,
    tx: usize,
    reads: &[(ReadKey, ReadValue)],
    credited: Option<Address>,
) -> Result<Option<StaleRead>, StateError> {
    for (key, value) in reads {
        if let Some((now, writer)) = current(mv, base, key, tx)? {
            if now.as_ref() != Some(value) {
                return Ok(Some(StaleRead { tx, writer }));
            }
        }
    }
    if let Some(recipient) = credited {
        // A base record cannot have changed: the run saw it without code.
        if let MvRead::Value { tx: writer, value, .. } = mv.read_account_record(&recipient, tx) {
            if value.is_some_and(|account| account.has_code()) {
                return Ok(Some(StaleRead { tx, writer }));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;
    use phalanx_core_types::Account;
    use phalanx_execution_evm::TxDelta;

    #[test]
    fn stale_reads_name_the_writer_and_block_hashes_never_go_stale() {
        let a = Address::repeat_byte(1);
        let mv = MvMemory::new(3);
        let base = phalanx_execution_evm::MemoryState::default();
        let seen = vec![
            (ReadKey::BlockHash(3), ReadValue::Word(B256::repeat_byte(9))),
            (ReadKey::Account(a), ReadValue::Account(Some(Account::with_balance(U256::from(1))))),
        ];
        assert_eq!(stale_read(&mv, &base, 2, &seen, None).unwrap(), None);
        let mut delta = TxDelta::default();
        delta.accounts.push((a, Some(Account::with_balance(U256::from(2)))));
        mv.record(1, 0, &delta, None);
        assert_eq!(stale_read(&mv, &base, 1, &seen, None).unwrap(), None);
        let stale = StaleRead { tx: 2, writer: 1 };
        assert_eq!(stale_read(&mv, &base, 2, &seen, None).unwrap(), Some(stale));
    }
}

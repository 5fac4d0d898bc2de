//! The state difference a block (or transaction) produces.

use crate::Account;
use alloy_primitives::{Address, Bytes, B256, U256};
use std::collections::BTreeMap;

/// Storage changes of one account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageChanges {
    /// All previously stored slots of the account are cleared before `slots`
    /// apply (the account was destroyed or re-created).
    pub wiped: bool,
    /// New slot values; a zero value deletes the slot.
    pub slots: BTreeMap<U256, U256>,
}

/// The net effect of executing a block on world state, in deterministic
/// (sorted) order. Storage applies it atomically together with the block.
///
/// **Invariant:** an address with `accounts[a] == None` (deleted) has
/// `storage[a].wiped == true` if it has a storage entry at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateChanges {
    /// New account records; `None` deletes the account.
    pub accounts: BTreeMap<Address, Option<Account>>,
    /// Storage changes per account.
    pub storage: BTreeMap<Address, StorageChanges>,
    /// Code introduced by this block, keyed by its keccak256.
    pub code: BTreeMap<B256, Bytes>,
}

impl StateChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storage.is_empty() && self.code.is_empty()
    }

    /// Number of individual writes (accounts, slots, code blobs): the unit in
    /// which commitment cost is measured.
    pub fn write_count(&self) -> usize {
        self.accounts.len()
            + self.storage.values().map(|s| s.slots.len()).sum::<usize>()
            + self.code.len()
    }

    /// Applies `later` on top of `self`, as if both were executed in order.
    pub fn extend(&mut self, later: StateChanges) {
        for (address, account) in later.accounts {
            // A deletion takes the account's storage with it: keep the
            // invariant for storage merged from earlier changes.
            // The wipe is recorded even without earlier storage changes, so
            // that storage written after a re-creation does not resurrect
            // slots committed before the deletion.
            if account.is_none() {
                let storage = self.storage.entry(address).or_default();
                storage.wiped = true;
                storage.slots.clear();
            }
            self.accounts.insert(address, account);
        }
        for (address, changes) in later.storage {
            let entry = self.storage.entry(address).or_default();
            if changes.wiped {
                entry.wiped = true;
                entry.slots.clear();
            }
            entry.slots.extend(changes.slots);
            // Storage merged onto a deleted account stays wiped (the invariant above).
            if self.accounts.get(&address) == Some(&None) {
                entry.wiped = true;
            }
        }
        self.code.extend(later.code);
    }
}

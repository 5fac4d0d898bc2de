//! One transaction's state delta as flat lists, and the block's delta merged
//! from them in block order: what the parallel executors record in
//! multi-version memory and assemble the block's changes from.

use crate::diff::DeltaSink;
use alloy_primitives::{Address, Bytes, B256, U256};
use phalanx_core_types::{Account, StateChanges, StorageChanges};
use rustc_hash::FxHashMap;

/// One transaction's state delta. Every location appears at most once; the
/// lists are sorted (so equal deltas compare equal whatever order revm
/// touched the accounts in).
///
/// Applying it means, in this order: set the account records, wipe the
/// storage of the `wiped` addresses (every deleted account is among them),
/// then set the slots (a slot written by the transaction after
/// its account was wiped or re-created survives the wipe).
///
/// Lists rather than sorted maps: a transaction writes a handful of
/// locations, and perf on the parallel engines showed the per-transaction
/// maps (built, then walked by multi-version memory and merged into the
/// block's) costing a tenth of a cheap transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxDelta {
    /// New account records; `None` deletes the account (and its storage).
    pub accounts: Vec<(Address, Option<Account>)>,
    /// Accounts whose stored slots are cleared: every deleted account, and
    /// re-created ones.
    pub wiped: Vec<Address>,
    /// New slot values `(address, slot, value)`; zero deletes the slot.
    pub slots: Vec<(Address, U256, U256)>,
    /// Code introduced by the transaction, by keccak256.
    pub code: Vec<(B256, Bytes)>,
}

impl TxDelta {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.wiped.is_empty()
            && self.slots.is_empty()
            && self.code.is_empty()
    }

    /// Sorts every list (see the type's docs); [`diff_state`](crate::diff::diff_state)
    /// fills them in revm's hash order.
    pub(crate) fn sort(&mut self) {
        self.accounts.sort_unstable_by_key(|(address, _)| *address);
        self.wiped.sort_unstable();
        self.slots.sort_unstable_by_key(|(address, slot, _)| (*address, *slot));
        self.code.sort_unstable_by_key(|(hash, _)| *hash);
    }

    /// Applies the delta to `sink` (see the type's docs for the order).
    pub(crate) fn apply_to<D: DeltaSink>(&self, sink: &mut D) {
        for &(address, account) in &self.accounts {
            sink.set_account(address, account);
            if account.is_none() {
                sink.wipe_storage(address);
            }
        }
        for &address in &self.wiped {
            sink.wipe_storage(address);
        }
        for &(address, slot, value) in &self.slots {
            sink.set_storage(address, slot, value);
        }
        for (hash, code) in &self.code {
            sink.insert_code(*hash, code.clone());
        }
    }

    /// The same delta as a sorted [`StateChanges`].
    pub fn to_state_changes(&self) -> StateChanges {
        let mut merged = MergedDeltas::default();
        merged.push(self.clone());
        merged.finish()
    }
}

impl DeltaSink for TxDelta {
    fn set_account(&mut self, address: Address, account: Option<Account>) {
        self.accounts.push((address, account));
    }

    fn wipe_storage(&mut self, address: Address) {
        self.wiped.push(address);
    }

    fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.slots.push((address, slot, value));
    }

    fn insert_code(&mut self, hash: B256, code: Bytes) {
        self.code.push((hash, code));
    }
}

/// Storage of one account while merging.
#[derive(Debug, Default)]
struct MergedStorage {
    wiped: bool,
    slots: FxHashMap<U256, U256>,
}

/// Transactions' deltas merged in block order, later writes winning: the
/// same [`StateChanges`] as extending an empty one with each delta's
/// [`to_state_changes`](TxDelta::to_state_changes) in turn, but merged in
/// hash maps and sorted once at the end (a block's thousands of slot writes
/// cost a tree insertion each otherwise).
#[derive(Debug, Default)]
pub struct MergedDeltas {
    accounts: FxHashMap<Address, Option<Account>>,
    storage: FxHashMap<Address, MergedStorage>,
    code: FxHashMap<B256, Bytes>,
}

impl MergedDeltas {
    /// Applies `delta` after every delta pushed before.
    pub fn push(&mut self, delta: TxDelta) {
        for (address, account) in delta.accounts {
            if account.is_none() {
                self.wipe(address);
            }
            self.accounts.insert(address, account);
        }
        for address in delta.wiped {
            self.wipe(address);
        }
        for (address, slot, value) in delta.slots {
            // Slots written after a deletion stay under its wipe, which is
            // never undone: `StateChanges`' invariant holds.
            self.storage.entry(address).or_default().slots.insert(slot, value);
        }
        self.code.extend(delta.code);
    }

    fn wipe(&mut self, address: Address) {
        let storage = self.storage.entry(address).or_default();
        storage.wiped = true;
        storage.slots.clear();
    }

    /// The merged changes, sorted (`BTreeMap`'s `FromIterator` sorts once
    /// and builds the tree in bulk).
    pub fn finish(self) -> StateChanges {
        let storage = self.storage.into_iter().map(|(address, merged)| {
            let slots = merged.slots.into_iter().collect();
            (address, StorageChanges { wiped: merged.wiped, slots })
        });
        StateChanges {
            accounts: self.accounts.into_iter().collect(),
            storage: storage.collect(),
            code: self.code.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryState, Overlay};
    use proptest::prelude::*;

    /// Few addresses and slots so that deltas collide often.
    fn address() -> impl Strategy<Value = Address> {
        (0u8..4).prop_map(Address::repeat_byte)
    }

    /// Deltas as `diff_state` makes them: each location at most once, every
    /// deleted account wiped.
    fn delta() -> impl Strategy<Value = TxDelta> {
        let account = proptest::option::weighted(0.7, 0u64..3)
            .prop_map(|a| a.map(|b| Account::with_balance(U256::from(b))));
        (
            proptest::collection::btree_map(address(), account, 0..3),
            proptest::collection::btree_set(address(), 0..2),
            proptest::collection::btree_map((address(), 0u64..4), 0u64..3, 0..5),
        )
            .prop_map(|(accounts, wiped, slots)| {
                let mut delta = TxDelta {
                    accounts: accounts.into_iter().collect(),
                    wiped: wiped.into_iter().collect(),
                    slots: slots
                        .into_iter()
                        .map(|((a, s), v)| (a, U256::from(s), U256::from(v)))
                        .collect(),
                    code: Vec::new(),
                };
                for (address, account) in delta.accounts.clone() {
                    if account.is_none() && !delta.wiped.contains(&address) {
                        delta.wiped.push(address);
                    }
                }
                delta.sort();
                delta
            })
    }

    proptest! {
        /// Merging in hash maps equals extending `StateChanges` in block
        /// order, and applying deltas to an overlay reads the same.
        #[test]
        fn merged_deltas_equal_extending_state_changes(deltas in proptest::collection::vec(delta(), 1..6)) {
            let mut merged = MergedDeltas::default();
            let mut extended = StateChanges::default();
            let mut overlay = Overlay::new(MemoryState::default());
            for delta in &deltas {
                merged.push(delta.clone());
                extended.extend(delta.to_state_changes());
                overlay.apply_delta(delta);
            }
            prop_assert_eq!(merged.finish(), extended.clone());
            prop_assert_eq!(overlay.changes(), extended.clone());
            let mut flat = MemoryState::default();
            flat.apply(&extended);
            crate::tests::same_small_state(&overlay, &flat)?;
        }
    }

    #[test]
    fn a_slot_written_after_a_wipe_survives_it() {
        let a = Address::repeat_byte(1);
        let mut before = TxDelta::default();
        before.slots.push((a, U256::from(1), U256::from(5)));
        let mut recreated = TxDelta::default();
        recreated.accounts.push((a, Some(Account::with_balance(U256::ZERO))));
        recreated.wiped.push(a);
        recreated.slots.push((a, U256::from(2), U256::from(7)));
        let mut merged = MergedDeltas::default();
        merged.push(before);
        merged.push(recreated);
        let changes = merged.finish();
        let storage = &changes.storage[&a];
        assert!(storage.wiped);
        assert_eq!(
            storage.slots.iter().collect::<Vec<_>>(),
            vec![(&U256::from(2), &U256::from(7))]
        );
    }
}

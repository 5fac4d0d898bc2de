//! An in-memory layer of not-yet-committed changes over a base state view.

use crate::diff::DeltaSink;
use crate::TxDelta;
use alloy_primitives::{Address, Bytes, B256, U256};
use phalanx_core_types::{Account, StateChanges, StateError, StateView, StorageChanges};
use rustc_hash::FxHashMap;

/// Storage changes of one account, hashed for single-lookup reads.
#[derive(Debug, Clone, Default)]
struct SlotChanges {
    /// Every slot stored before this overlay reads as zero unless in `slots`.
    wiped: bool,
    slots: FxHashMap<U256, U256>,
}

/// An in-memory layer of not-yet-committed changes over a base view: the
/// running state of a block under execution, or a speculative block on top of
/// the committed chain. Overlays stack (`Overlay<Overlay<S>>`).
///
/// Reads see the changes first: a deleted account reads as absent and its
/// storage as zero, and slots of an account whose storage was wiped read as
/// zero unless rewritten; everything else falls through to the base. Changes
/// are kept in hash maps (the executor reads and writes them for every
/// transaction); the sorted [`StateChanges`] is built only on demand.
#[derive(Debug, Clone)]
pub struct Overlay<S: StateView> {
    base: S,
    accounts: FxHashMap<Address, Option<Account>>,
    storage: FxHashMap<Address, SlotChanges>,
    code: FxHashMap<B256, Bytes>,
    block_hashes: FxHashMap<u64, B256>,
}

impl<S: StateView> Overlay<S> {
    /// An overlay with no changes: reads equal `base`'s.
    pub fn new(base: S) -> Self {
        Self {
            base,
            accounts: FxHashMap::default(),
            storage: FxHashMap::default(),
            code: FxHashMap::default(),
            block_hashes: FxHashMap::default(),
        }
    }

    /// Applies `changes` on top of the current ones, as if executed after them.
    pub fn apply(&mut self, changes: &StateChanges) {
        self.apply_owned(changes.clone());
    }

    /// Like [`apply`](Self::apply) but takes ownership, avoiding a copy.
    pub fn apply_owned(&mut self, changes: StateChanges) {
        for (address, account) in changes.accounts {
            self.set_account(address, account);
            // Keep the invariant that a deleted account has no storage even
            // when `changes` lacks the wipe marker.
            if account.is_none() {
                self.wipe_storage(address);
            }
        }
        for (address, storage) in changes.storage {
            if storage.wiped {
                self.wipe_storage(address);
            }
            let entry = self.storage.entry(address).or_default();
            entry.slots.extend(storage.slots);
        }
        self.code.extend(changes.code);
    }

    /// Makes room for `accounts` more changed account records without
    /// rehashing (a block of N transactions changes about N accounts).
    pub fn reserve_accounts(&mut self, accounts: usize) {
        self.accounts.reserve(accounts);
    }

    /// Applies one transaction's delta on top of the current changes, as if
    /// executed after them.
    pub fn apply_delta(&mut self, delta: &TxDelta) {
        delta.apply_to(self);
    }

    /// All changes applied so far, merged, as a sorted [`StateChanges`]
    /// (built on each call: it copies every change).
    pub fn changes(&self) -> StateChanges {
        StateChanges {
            accounts: self.accounts.iter().map(|(a, v)| (*a, *v)).collect(),
            storage: self.storage.iter().map(|(a, s)| (*a, storage_changes(s.clone()))).collect(),
            code: self.code.iter().map(|(h, c)| (*h, c.clone())).collect(),
        }
    }

    /// The view this overlay sits on.
    pub fn base(&self) -> &S {
        &self.base
    }

    /// Makes `hash` the answer for block `height` (for blocks that exist only
    /// in this overlay, e.g. speculative parents).
    pub fn set_block_hash(&mut self, height: u64, hash: B256) {
        self.block_hashes.insert(height, hash);
    }

    /// Splits the overlay into its base and the merged changes (sorted).
    pub fn into_parts(self) -> (S, StateChanges) {
        let changes = StateChanges {
            accounts: self.accounts.into_iter().collect(),
            storage: self.storage.into_iter().map(|(a, s)| (a, storage_changes(s))).collect(),
            code: self.code.into_iter().collect(),
        };
        (self.base, changes)
    }
}

fn storage_changes(slots: SlotChanges) -> StorageChanges {
    StorageChanges { wiped: slots.wiped, slots: slots.slots.into_iter().collect() }
}

impl<S: StateView> DeltaSink for Overlay<S> {
    fn set_account(&mut self, address: Address, account: Option<Account>) {
        self.accounts.insert(address, account);
    }

    fn wipe_storage(&mut self, address: Address) {
        let entry = self.storage.entry(address).or_default();
        entry.wiped = true;
        entry.slots.clear();
    }

    fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.storage.entry(address).or_default().slots.insert(slot, value);
    }

    fn insert_code(&mut self, hash: B256, code: Bytes) {
        self.code.insert(hash, code);
    }
}

impl<S: StateView> StateView for Overlay<S> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        match self.accounts.get(address) {
            Some(account) => Ok(*account),
            None => self.base.account(address),
        }
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        // Deleting an account always wipes its storage here, so one lookup
        // per level decides.
        if let Some(changes) = self.storage.get(address) {
            if let Some(value) = changes.slots.get(slot) {
                return Ok(*value);
            }
            if changes.wiped {
                return Ok(U256::ZERO);
            }
        }
        self.base.storage(address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        match self.code.get(code_hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.base.code(code_hash),
        }
    }

    fn block_hash(&self, height: u64) -> Result<Option<B256>, StateError> {
        match self.block_hashes.get(&height) {
            Some(hash) => Ok(Some(*hash)),
            None => self.base.block_hash(height),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryState;

    fn base() -> MemoryState {
        let mut state = MemoryState::default();
        let a = Address::repeat_byte(1);
        state.insert_account(a, Account::with_balance(U256::from(10)));
        state.insert_storage(a, U256::from(1), U256::from(11));
        state.insert_storage(a, U256::from(2), U256::from(22));
        state.insert_block_hash(5, B256::repeat_byte(5));
        state
    }

    #[test]
    fn empty_overlay_reads_through() {
        let overlay = Overlay::new(base());
        let a = Address::repeat_byte(1);
        assert_eq!(overlay.account(&a).unwrap().unwrap().balance, U256::from(10));
        assert_eq!(overlay.storage(&a, &U256::from(2)).unwrap(), U256::from(22));
        assert_eq!(overlay.block_hash(5).unwrap(), Some(B256::repeat_byte(5)));
    }

    #[test]
    fn deletion_hides_account_and_storage() {
        let mut overlay = Overlay::new(base());
        let a = Address::repeat_byte(1);
        let mut changes = StateChanges::default();
        changes.accounts.insert(a, None);
        overlay.apply(&changes);
        assert_eq!(overlay.account(&a).unwrap(), None);
        assert_eq!(overlay.storage(&a, &U256::from(1)).unwrap(), U256::ZERO);
    }

    #[test]
    fn wipe_clears_old_slots_but_keeps_new_ones() {
        let mut overlay = Overlay::new(base());
        let a = Address::repeat_byte(1);
        let mut changes = StateChanges::default();
        let mut storage = StorageChanges { wiped: true, ..Default::default() };
        storage.slots.insert(U256::from(2), U256::from(99));
        changes.storage.insert(a, storage);
        overlay.apply(&changes);
        assert_eq!(overlay.storage(&a, &U256::from(1)).unwrap(), U256::ZERO);
        assert_eq!(overlay.storage(&a, &U256::from(2)).unwrap(), U256::from(99));
        // A later layer writing one slot keeps the wipe.
        let mut later = StateChanges::default();
        later.storage.entry(a).or_default().slots.insert(U256::from(3), U256::from(3));
        overlay.apply(&later);
        assert_eq!(overlay.storage(&a, &U256::from(1)).unwrap(), U256::ZERO);
        assert_eq!(overlay.storage(&a, &U256::from(3)).unwrap(), U256::from(3));
    }

    #[test]
    fn overlays_stack() {
        let a = Address::repeat_byte(1);
        let mut lower = Overlay::new(base());
        let mut changes = StateChanges::default();
        changes.accounts.insert(a, Some(Account::with_balance(U256::from(7))));
        lower.apply(&changes);
        let mut upper = Overlay::new(lower);
        upper.set_block_hash(9, B256::repeat_byte(9));
        assert_eq!(upper.account(&a).unwrap().unwrap().balance, U256::from(7));
        assert_eq!(upper.storage(&a, &U256::from(1)).unwrap(), U256::from(11));
        assert_eq!(upper.block_hash(9).unwrap(), Some(B256::repeat_byte(9)));
        assert_eq!(upper.block_hash(5).unwrap(), Some(B256::repeat_byte(5)));
    }
}

#[cfg(test)]
mod equivalence {
    use super::*;
    use crate::MemoryState;
    use proptest::prelude::*;

    /// Few addresses and slots so that layers collide often.
    fn address() -> impl Strategy<Value = Address> {
        (0u8..4).prop_map(Address::repeat_byte)
    }

    fn changes() -> impl Strategy<Value = StateChanges> {
        let account = proptest::option::weighted(0.7, (0u64..3, 0u64..3)).prop_map(|a| {
            a.map(|(nonce, b)| Account { nonce, ..Account::with_balance(U256::from(b)) })
        });
        let storage = (any::<bool>(), proptest::collection::btree_map(0u64..4, 0u64..3, 0..4));
        (
            proptest::collection::btree_map(address(), account, 0..3),
            proptest::collection::btree_map(address(), storage, 0..3),
        )
            .prop_map(|(accounts, storage)| {
                let mut changes = StateChanges { accounts, ..Default::default() };
                for (address, (wiped, slots)) in storage {
                    let slots = slots.into_iter().map(|(s, v)| (U256::from(s), U256::from(v)));
                    changes
                        .storage
                        .insert(address, StorageChanges { wiped, slots: slots.collect() });
                }
                // Keep StateChanges' invariant: deleted accounts have wiped storage.
                for (address, account) in &changes.accounts {
                    if account.is_none() {
                        changes.storage.entry(*address).or_default().wiped = true;
                    }
                }
                changes
            })
    }

    proptest! {
        /// Reading through stacked overlays equals applying every layer to a
        /// flat state.
        #[test]
        fn overlay_reads_equal_flat_application(layers in proptest::collection::vec(changes(), 1..5)) {
            let mut flat = MemoryState::default();
            let mut lower = Overlay::new(MemoryState::default());
            let split = layers.len() / 2;
            for layer in &layers[..split] {
                lower.apply(layer);
                flat.apply(layer);
            }
            let mut upper = Overlay::new(lower);
            let mut merged = StateChanges::default();
            for layer in &layers[split..] {
                upper.apply(layer);
                flat.apply(layer);
                merged.extend(layer.clone());
            }
            // The hashed representation merges exactly as `StateChanges::extend`.
            prop_assert_eq!(upper.changes(), merged.clone());
            crate::tests::same_small_state(&upper, &flat)?;
            prop_assert_eq!(upper.into_parts().1, merged);
        }
    }
}

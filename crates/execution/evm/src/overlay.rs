//! An in-memory layer of not-yet-committed changes over a base state view.

use alloy_primitives::{Address, Bytes, B256, U256};
use phalanx_core_types::{Account, StateChanges, StateError, StateView};
use rustc_hash::FxHashMap;

/// An in-memory layer of not-yet-committed changes over a base view: the
/// running state of a block under execution, or a speculative block on top of
/// the committed chain. Overlays stack (`Overlay<Overlay<S>>`).
///
/// Reads see `changes` first: a deleted account reads as absent and its
/// storage as zero, and slots of an account whose storage was `wiped` read as
/// zero unless rewritten; everything else falls through to the base.
#[derive(Debug, Clone)]
pub struct Overlay<S: StateView> {
    base: S,
    changes: StateChanges,
    block_hashes: FxHashMap<u64, B256>,
}

impl<S: StateView> Overlay<S> {
    /// An overlay with no changes: reads equal `base`'s.
    pub fn new(base: S) -> Self {
        Self { base, changes: StateChanges::default(), block_hashes: FxHashMap::default() }
    }

    /// Applies `changes` on top of the current ones, as if executed after them.
    pub fn apply(&mut self, changes: &StateChanges) {
        self.changes.extend(changes.clone());
    }

    /// Like [`apply`](Self::apply) but takes ownership, avoiding a copy.
    pub fn apply_owned(&mut self, changes: StateChanges) {
        self.changes.extend(changes);
    }

    /// All changes applied so far, merged.
    pub fn changes(&self) -> &StateChanges {
        &self.changes
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

    /// Splits the overlay into its base and the merged changes.
    pub fn into_parts(self) -> (S, StateChanges) {
        (self.base, self.changes)
    }
}

impl<S: StateView> StateView for Overlay<S> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        match self.changes.accounts.get(address) {
            Some(account) => Ok(*account),
            None => self.base.account(address),
        }
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        if let Some(changes) = self.changes.storage.get(address) {
            if let Some(value) = changes.slots.get(slot) {
                return Ok(*value);
            }
            if changes.wiped {
                return Ok(U256::ZERO);
            }
        }
        // A deleted account has no storage even if the wipe marker is missing.
        if let Some(None) = self.changes.accounts.get(address) {
            return Ok(U256::ZERO);
        }
        self.base.storage(address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        match self.changes.code.get(code_hash) {
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
    use phalanx_core_types::StorageChanges;

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
    use phalanx_core_types::StorageChanges;
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
            for layer in &layers[split..] {
                upper.apply(layer);
                flat.apply(layer);
            }
            for a in 0u8..4 {
                let address = Address::repeat_byte(a);
                prop_assert_eq!(upper.account(&address).unwrap(), flat.account(&address).unwrap());
                for slot in 0u64..4 {
                    let slot = U256::from(slot);
                    prop_assert_eq!(
                        upper.storage(&address, &slot).unwrap(),
                        flat.storage(&address, &slot).unwrap()
                    );
                }
            }
        }
    }
}

//! An in-memory world state that the executor reads through [`StateView`],
//! built from a fixture's `pre` and updated with the executor's [`StateChanges`].

use crate::model::FixtureState;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use phalanx_core_types::{Account, StateChanges, StateError, StateView, KECCAK_EMPTY};
use std::collections::{BTreeMap, HashMap};

/// Where `BLOCKHASH` answers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockHashes {
    /// The state-test convention (shared by revm's and geth's runners): the
    /// hash of block `n` is keccak256 of the decimal string of `n`.
    StateTestConvention,
    /// Exactly these heights are known (a blockchain test's ancestry).
    Known(BTreeMap<u64, B256>),
}

/// A complete world state held in memory.
#[derive(Debug, Clone)]
pub struct MemoryState {
    accounts: BTreeMap<Address, Account>,
    storage: BTreeMap<Address, BTreeMap<U256, U256>>,
    code: HashMap<B256, Bytes>,
    block_hashes: BlockHashes,
}

/// A fixture account whose fields do not fit Phalanx's account model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account {address}: nonce {nonce} does not fit in u64")]
pub struct NonceOverflow {
    /// The offending account.
    pub address: Address,
    /// Its nonce.
    pub nonce: U256,
}

impl MemoryState {
    /// Builds the state described by a fixture (`pre` or `postState`). Zero
    /// storage values are dropped: they mean "unset".
    pub fn from_fixture(
        fixture: &FixtureState,
        block_hashes: BlockHashes,
    ) -> Result<Self, NonceOverflow> {
        let mut state = Self {
            accounts: BTreeMap::new(),
            storage: BTreeMap::new(),
            code: HashMap::new(),
            block_hashes,
        };
        for (address, account) in fixture {
            let nonce = u64::try_from(account.nonce)
                .map_err(|_| NonceOverflow { address: *address, nonce: account.nonce })?;
            let code_hash = keccak256(&account.code);
            if !account.code.is_empty() {
                state.code.insert(code_hash, account.code.clone());
            }
            let code_hash = if account.code.is_empty() { KECCAK_EMPTY } else { code_hash };
            state.accounts.insert(*address, Account { nonce, balance: account.balance, code_hash });
            let slots: BTreeMap<U256, U256> = account
                .storage
                .iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(k, v)| (*k, *v))
                .collect();
            if !slots.is_empty() {
                state.storage.insert(*address, slots);
            }
        }
        Ok(state)
    }

    /// Replaces the source of `BLOCKHASH` answers.
    pub fn set_block_hashes(&mut self, block_hashes: BlockHashes) {
        self.block_hashes = block_hashes;
    }

    /// All accounts, sorted by address.
    pub fn accounts(&self) -> &BTreeMap<Address, Account> {
        &self.accounts
    }

    /// The non-zero storage slots of `address`.
    pub fn slots(&self, address: &Address) -> Option<&BTreeMap<U256, U256>> {
        self.storage.get(address)
    }

    /// The code of `address` (empty when it has none).
    pub fn code_of(&self, address: &Address) -> Bytes {
        self.accounts
            .get(address)
            .filter(|a| a.code_hash != KECCAK_EMPTY)
            .and_then(|a| self.code.get(&a.code_hash).cloned())
            .unwrap_or_default()
    }

    /// Applies an executor's state difference: deleted accounts disappear with
    /// their storage, wiped storage is cleared before new slots apply, zero
    /// slot values delete the slot.
    pub fn apply(&mut self, changes: &StateChanges) {
        for (address, account) in &changes.accounts {
            match account {
                Some(account) => {
                    self.accounts.insert(*address, *account);
                }
                None => {
                    self.accounts.remove(address);
                    self.storage.remove(address);
                }
            }
        }
        for (address, storage) in &changes.storage {
            let slots = self.storage.entry(*address).or_default();
            if storage.wiped {
                slots.clear();
            }
            for (slot, value) in &storage.slots {
                if value.is_zero() {
                    slots.remove(slot);
                } else {
                    slots.insert(*slot, *value);
                }
            }
            if slots.is_empty() {
                self.storage.remove(address);
            }
        }
        for (hash, code) in &changes.code {
            self.code.insert(*hash, code.clone());
        }
    }

    /// Sets one storage slot directly (harness-level system writes such as
    /// EIP-4788's beacon roots, which Phalanx's executor does not perform).
    pub fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        let slots = self.storage.entry(address).or_default();
        if value.is_zero() {
            slots.remove(&slot);
        } else {
            slots.insert(slot, value);
        }
        if slots.is_empty() {
            self.storage.remove(&address);
        }
    }

    /// Adds `amount` wei to `address` (a harness-level withdrawal credit),
    /// creating the account if needed. As in Ethereum (EIP-161), an account
    /// left empty by the credit (zero amount) does not exist afterwards.
    pub fn credit(&mut self, address: Address, amount: U256) {
        let account = self.accounts.entry(address).or_insert(Account::with_balance(U256::ZERO));
        account.balance = account.balance.saturating_add(amount);
        let empty = account.nonce == 0 && account.balance.is_zero() && !account.has_code();
        if empty {
            self.accounts.remove(&address);
        }
    }

    /// The Ethereum state root of this state (see [`crate::trie::state_root`]).
    pub fn state_root(&self) -> B256 {
        crate::trie::state_root(self.accounts.iter().map(|(address, account)| {
            let empty = BTreeMap::new();
            let slots = self.storage.get(address).unwrap_or(&empty);
            (*address, *account, crate::trie::storage_root(slots))
        }))
    }
}

impl StateView for MemoryState {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.accounts.get(address).copied())
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self.storage.get(address).and_then(|s| s.get(slot)).copied().unwrap_or_default())
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        if *code_hash == KECCAK_EMPTY {
            return Ok(Some(Bytes::new()));
        }
        Ok(self.code.get(code_hash).cloned())
    }

    fn block_hash(&self, height: u64) -> Result<Option<B256>, StateError> {
        Ok(match &self.block_hashes {
            BlockHashes::StateTestConvention => Some(keccak256(height.to_string().as_bytes())),
            BlockHashes::Known(map) => map.get(&height).copied(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FixtureAccount;
    use phalanx_core_types::StorageChanges;

    fn fixture() -> FixtureState {
        let mut pre = FixtureState::new();
        pre.insert(
            Address::repeat_byte(1),
            FixtureAccount {
                balance: U256::from(5),
                code: Bytes::from_static(&[0x60, 0x00]),
                nonce: U256::from(1),
                storage: [(U256::from(1), U256::from(2)), (U256::from(3), U256::ZERO)].into(),
            },
        );
        pre
    }

    #[test]
    fn fixture_state_reads_back() {
        let state =
            MemoryState::from_fixture(&fixture(), BlockHashes::StateTestConvention).unwrap();
        let a = Address::repeat_byte(1);
        let account = state.account(&a).unwrap().unwrap();
        assert_eq!(account.nonce, 1);
        assert_eq!(state.code(&account.code_hash).unwrap().unwrap().len(), 2);
        assert_eq!(state.storage(&a, &U256::from(1)).unwrap(), U256::from(2));
        assert_eq!(state.slots(&a).unwrap().len(), 1, "zero slots are dropped");
        assert_eq!(state.block_hash(1).unwrap(), Some(keccak256(b"1")));
    }

    #[test]
    fn apply_wipes_and_deletes() {
        let mut state =
            MemoryState::from_fixture(&fixture(), BlockHashes::StateTestConvention).unwrap();
        let a = Address::repeat_byte(1);
        let mut changes = StateChanges::default();
        changes.storage.insert(
            a,
            StorageChanges { wiped: true, slots: [(U256::from(9), U256::from(9))].into() },
        );
        state.apply(&changes);
        assert_eq!(state.storage(&a, &U256::from(1)).unwrap(), U256::ZERO);
        assert_eq!(state.storage(&a, &U256::from(9)).unwrap(), U256::from(9));
        let mut delete = StateChanges::default();
        delete.accounts.insert(a, None);
        delete.storage.insert(a, StorageChanges { wiped: true, slots: BTreeMap::new() });
        state.apply(&delete);
        assert_eq!(state.account(&a).unwrap(), None);
        assert!(state.slots(&a).is_none());
    }

    #[test]
    fn zero_credit_to_absent_account_creates_nothing() {
        let mut state =
            MemoryState::from_fixture(&fixture(), BlockHashes::StateTestConvention).unwrap();
        let b = Address::repeat_byte(2);
        state.credit(b, U256::ZERO);
        assert_eq!(state.account(&b).unwrap(), None);
        state.credit(b, U256::from(7));
        assert_eq!(state.account(&b).unwrap().unwrap().balance, U256::from(7));
    }
}

//! A plain in-memory state, for tests, tools and benchmarks.

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use phalanx_core_types::{Account, StateError, StateView, KECCAK_EMPTY};
use rustc_hash::FxHashMap;

/// A [`StateView`] held entirely in hash maps. Absent keys read as absent /
/// zero, as the trait requires; reads never fail.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    accounts: FxHashMap<Address, Account>,
    storage: FxHashMap<(Address, U256), U256>,
    code: FxHashMap<B256, Bytes>,
    block_hashes: FxHashMap<u64, B256>,
}

impl MemoryState {
    /// Sets the account record at `address`.
    pub fn insert_account(&mut self, address: Address, account: Account) {
        self.accounts.insert(address, account);
    }

    /// Deploys `code` at `address` (keeping its balance and nonce if it
    /// exists) and returns the code hash.
    pub fn insert_code(&mut self, address: Address, code: Bytes) -> B256 {
        let hash = if code.is_empty() { KECCAK_EMPTY } else { keccak256(&code) };
        self.code.insert(hash, code);
        self.accounts.entry(address).or_default().code_hash = hash;
        hash
    }

    /// Sets storage `slot` of `address`; zero removes it.
    pub fn insert_storage(&mut self, address: Address, slot: U256, value: U256) {
        if value.is_zero() {
            self.storage.remove(&(address, slot));
        } else {
            self.storage.insert((address, slot), value);
        }
    }

    /// Sets the hash of block `height`.
    pub fn insert_block_hash(&mut self, height: u64, hash: B256) {
        self.block_hashes.insert(height, hash);
    }

    /// Applies `changes` in place (deletions and wipes included).
    pub fn apply(&mut self, changes: &phalanx_core_types::StateChanges) {
        for (address, account) in &changes.accounts {
            match account {
                Some(account) => {
                    self.accounts.insert(*address, *account);
                }
                None => {
                    self.accounts.remove(address);
                }
            }
        }
        for (address, slots) in &changes.storage {
            if slots.wiped {
                self.storage.retain(|(a, _), _| a != address);
            }
            for (slot, value) in &slots.slots {
                self.insert_storage(*address, *slot, *value);
            }
        }
        for (hash, code) in &changes.code {
            self.code.insert(*hash, code.clone());
        }
    }
}

impl StateView for MemoryState {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.accounts.get(address).copied())
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self.storage.get(&(*address, *slot)).copied().unwrap_or_default())
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.code.get(code_hash).cloned())
    }

    fn block_hash(&self, height: u64) -> Result<Option<B256>, StateError> {
        Ok(self.block_hashes.get(&height).copied())
    }
}

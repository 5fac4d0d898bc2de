//! Merkle proofs of accounts and storage slots against a block's state root.

use crate::codec::{decode_account, decode_slot_value, storage_key, CF_JMT_VALUES};
use crate::commitment::{account_key_hash, storage_key_hash, RocksTreeReader, Tree};
use crate::{Store, StoreError};
use alloy_primitives::{Address, U256};
use jmt::proof::SparseMerkleProof;
use phalanx_core_types::Account;
use sha2::Sha256;

/// A JMT inclusion or exclusion proof (sha256). Verify it with
/// `proof.verify(jmt::RootHash(state_root.0), key_hash, value)` where the key
/// hash is [`crate::account_key_hash`] / [`crate::storage_key_hash`] and the
/// value is [`crate::encode_account`] / [`crate::encode_slot_value`] (`None`
/// for absent).
pub type StateProof = SparseMerkleProof<Sha256>;

impl Store {
    /// Checks that `height` is committed.
    fn check_proof_height(&self, height: u64) -> Result<(), StoreError> {
        match self.head() {
            Some(head) if height <= head.height => Ok(()),
            _ => Err(StoreError::StateUnavailable { height }),
        }
    }

    /// The account at `address` after block `height`, with a proof of
    /// inclusion (or, for `None`, exclusion) against that block's state root.
    pub fn account_proof(
        &self,
        address: &Address,
        height: u64,
    ) -> Result<(Option<Account>, StateProof), StoreError> {
        self.check_proof_height(height)?;
        let reader = RocksTreeReader { db: &self.inner.db };
        let (value, proof) = Tree::new(&reader)
            .get_with_proof(account_key_hash(address), height)
            .map_err(StoreError::commitment)?;
        let account = match value {
            None => None,
            Some(bytes) => Some(decode_account(CF_JMT_VALUES, address.as_slice(), &bytes)?),
        };
        Ok((account, proof))
    }

    /// Storage slot `slot` of `address` after block `height` (zero if unset),
    /// with a proof against that block's state root (an exclusion proof for zero).
    pub fn storage_proof(
        &self,
        address: &Address,
        slot: &U256,
        height: u64,
    ) -> Result<(U256, StateProof), StoreError> {
        self.check_proof_height(height)?;
        let reader = RocksTreeReader { db: &self.inner.db };
        let (value, proof) = Tree::new(&reader)
            .get_with_proof(storage_key_hash(address, slot), height)
            .map_err(StoreError::commitment)?;
        let value = match value {
            None => U256::ZERO,
            Some(bytes) => decode_slot_value(CF_JMT_VALUES, &storage_key(address, slot), &bytes)?,
        };
        Ok((value, proof))
    }
}

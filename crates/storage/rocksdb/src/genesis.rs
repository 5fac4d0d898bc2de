//! Block 0: built deterministically from the genesis description.

use crate::commitment::{account_leaf, fresh_root, storage_leaf};
use crate::{Store, StoreError};
use alloy_primitives::{keccak256, Address, Bytes, B256};
use phalanx_core_types::{
    ordered_root, rw_digest, Block, Genesis, Header, StateChanges, HEADER_VERSION,
};

/// The state root of a state consisting of exactly the accounts and non-zero
/// slots `changes` creates (deletions and wipes ignored: nothing exists yet).
pub(crate) fn state_root_of(changes: &StateChanges) -> Result<B256, StoreError> {
    let accounts = changes
        .accounts
        .iter()
        .filter_map(|(address, account)| account.as_ref().map(|a| account_leaf(address, a)));
    let slots = changes.storage.iter().flat_map(|(address, storage)| {
        storage
            .slots
            .iter()
            .filter(|(_, value)| !value.is_zero())
            .map(move |(slot, value)| storage_leaf(address, slot, value))
    });
    fresh_root(accounts.chain(slots))
}

/// The genesis block for `genesis` whose state root is `state_root`.
pub fn genesis_block(genesis: &Genesis, state_root: B256) -> Block {
    let empty_root = ordered_root(std::iter::empty::<Vec<u8>>());
    let header = Header {
        version: HEADER_VERSION,
        chain_id: genesis.chain_id,
        height: 0,
        view: 0,
        proposer: Address::ZERO,
        parent_hash: B256::ZERO,
        transactions_root: empty_root,
        state_root,
        receipts_root: empty_root,
        rw_digest: rw_digest(std::iter::empty()),
        schedule_hash: keccak256([]),
        logs_bloom: Default::default(),
        gas_used: 0,
        gas_limit: genesis.gas_limit,
        base_fee_per_gas: genesis.base_fee_per_gas,
        timestamp: genesis.timestamp,
    };
    Block { header, transactions: vec![], schedule: Bytes::new() }
}

impl Store {
    /// Builds block 0 from `genesis` and commits it with the genesis state.
    /// Idempotent: if the store already has a genesis block, returns it when
    /// its hash equals the freshly built one and fails with
    /// [`StoreError::GenesisMismatch`] otherwise (a node pointed at another
    /// chain's data).
    pub fn init_genesis(&self, genesis: &Genesis) -> Result<Block, StoreError> {
        genesis.validate()?;
        let changes = genesis.state_changes();
        let block = genesis_block(genesis, state_root_of(&changes)?);
        if let Some(stored) = self.block_by_height(0)? {
            if stored.hash() != block.hash() {
                return Err(StoreError::GenesisMismatch {
                    stored: stored.hash(),
                    configured: block.hash(),
                });
            }
            return Ok(stored);
        }
        let prepared = self.prepare_state(0, &changes)?;
        // The incremental path and the from-scratch build must agree; a
        // difference is a bug in the commitment code, never a user error.
        if prepared.state_root != block.header.state_root {
            return Err(StoreError::Commitment {
                reason: format!(
                    "genesis root {} incrementally, {} from scratch",
                    prepared.state_root, block.header.state_root
                ),
            });
        }
        self.commit_block(&block, &[], prepared)?;
        tracing::info!(hash = %block.hash(), state_root = %block.header.state_root, "committed genesis");
        Ok(block)
    }
}

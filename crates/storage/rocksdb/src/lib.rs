//! Phalanx's storage: an append-only block store, the flat world state and a
//! Jellyfish Merkle tree (JMT) state commitment, all in one RocksDB database.
//!
//! # Column families
//!
//! | column family      | key                              | value                                        |
//! |--------------------|----------------------------------|----------------------------------------------|
//! | `meta`             | `"head"`                         | height (8) ‖ block hash (32) ‖ state root (32) |
//! | `blocks`           | height (8, big-endian)           | canonical block bytes (`Block::encode_canonical`) |
//! | `canonical_hashes` | height                           | block hash                                   |
//! | `block_hashes`     | block hash                       | height                                       |
//! | `tx_index`         | transaction hash                 | height (8) ‖ index in block (4)              |
//! | `receipts`         | height                           | RLP list of `TxReceipt`                      |
//! | `accounts`         | address (20)                     | nonce (8) ‖ balance (32) ‖ code hash (32)    |
//! | `storage`          | address (20) ‖ slot (32)         | value (32); zero slots are deleted, never stored |
//! | `code`             | code hash                        | code bytes                                   |
//! | `jmt_nodes`        | borsh(JMT node key)              | borsh(JMT node)                              |
//! | `jmt_values`       | JMT key hash (32) ‖ version (8)  | 0 (deleted) or 1 ‖ leaf value                |
//! | `certificates`     | height                           | consensus certificate of the block (opaque)  |
//!
//! All integers in keys are big-endian, so heights iterate in chain order and
//! an account's slots are one contiguous key range (which makes a storage
//! wipe a prefix scan).
//!
//! # State commitment
//!
//! The state root is the root of a sha256 JMT whose leaves are every account
//! (key `sha256(0x01 ‖ address)`, value the 72-byte account encoding) and every
//! non-zero storage slot (key `sha256(0x02 ‖ address ‖ slot)`, value the
//! 32-byte big-endian value). Code is covered through the account's code
//! hash. The JMT version is the block height; each block adds only the nodes
//! on the paths of the keys it changed, so commitment cost grows with the
//! block's writes, not with the state. Old versions are kept (no pruning), so
//! proofs ([`Store::account_proof`], [`Store::storage_proof`]) and historical
//! reads ([`Store::state_at`]) work at every height.
//!
//! # Commit protocol
//!
//! 1. [`Store::prepare_state`] applies a block's `StateChanges` on top of the
//!    head in memory (scanning the committed slots of wiped or deleted
//!    accounts) and returns a [`PreparedState`] holding the new state root,
//!    the flat-state writes and the JMT update. Nothing is written, so the
//!    producer can put the root into the header first.
//! 2. [`Store::commit_block`] checks the block against the head (height is
//!    `head + 1`, parent is the head's hash), against the prepared state
//!    (same base, same state root) and against itself (body commitments,
//!    receipts count/root/gas, no already-committed transaction), then writes
//!    block, indexes, receipts, flat state, JMT nodes and the new head record
//!    in **one** RocksDB `WriteBatch` with a synced write. Either all of it is
//!    on disk or none of it: after a crash the node reopens at exactly its
//!    last committed block, with state, commitment and indexes agreeing.
//!
//! Committed blocks are immutable: `commit_block` is the only write path and
//! it only ever appends height `head + 1`; no API deletes or overwrites.
//! [`Store::verify_chain`] re-checks all of this offline.

mod codec;
mod commit;
mod commitment;
mod error;
mod genesis;
mod options;
mod prepare;
mod proof;
mod snapshot;
mod store;
mod verify;

#[cfg(test)]
mod tests;

pub use codec::{encode_account, encode_slot_value, COLUMN_FAMILIES};
pub use commitment::{account_key_hash, storage_key_hash};
pub use error::StoreError;
pub use genesis::genesis_block;
pub use options::StoreOptions;
pub use prepare::PreparedState;
pub use proof::StateProof;
pub use snapshot::StateSnapshot;
pub use store::{Head, Store};
pub use verify::{VerifyFailure, VerifyReport};

/// Re-exported so callers can verify proofs against the same JMT version.
pub use jmt;

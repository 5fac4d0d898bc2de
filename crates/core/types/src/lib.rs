//! Phalanx's shared vocabulary.
//!
//! Every other crate speaks in these types: the block format ([`Block`],
//! [`Header`]), execution results ([`TxReceipt`], [`ReadWriteSet`],
//! [`StateChanges`]), the genesis description ([`Genesis`]) and the one
//! read-only boundary onto state, [`StateView`].
//!
//! Transactions are Ethereum transactions ([`alloy_consensus::TxEnvelope`]);
//! nothing here re-implements RLP or signatures.

mod account;
mod block;
mod call;
mod changes;
mod genesis;
mod hash;
mod receipt;
mod receipts_trie;
mod recovered;
mod rwset;
mod signing;

pub use account::{Account, StateError, StateView, KECCAK_EMPTY};
pub use block::{decode_transaction, Block, BlockDecodeError, Header, HEADER_VERSION};
pub use call::CallRequest;
pub use changes::{StateChanges, StorageChanges};
pub use genesis::{Genesis, GenesisAccount, GenesisError, Validator};
pub use hash::{ordered_root, transactions_root};
pub use receipt::{receipts_root, receipts_root_and_bloom, TxReceipt};
pub use receipts_trie::{PartDigest, ReceiptsRootBuilder, ReceiptsRootPlan};
pub use recovered::RecoveredTx;
pub use rwset::{pavm_hash, rw_digest, ReadKey, ReadValue, ReadWriteSet, WriteOp};
pub use signing::SecpSigner;

/// Re-exported so downstream crates agree on one version of the primitives.
pub use alloy_consensus::TxEnvelope;
pub use alloy_primitives::{Address, Bloom, Bytes, Log, B256, U256};

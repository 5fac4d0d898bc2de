//! Phalanx's block executor on revm (Cancun rules).
//!
//! State is read only through [`StateView`](phalanx_core_types::StateView).
//! A block executes transaction by transaction over an [`Overlay`] of its own
//! already-executed transactions; revm sees that overlay through a recording
//! `Database` adapter that logs every read with the value observed (PaVM's
//! runtime read recording). After each transaction, revm's touched accounts
//! become the transaction's net writes and a state delta applied to the
//! overlay. The result is a [`BlockOutcome`]: receipts, read/write sets, the
//! block's [`StateChanges`](phalanx_core_types::StateChanges) and digests.
//! Blocks of [`BACKGROUND_RECEIPTS_MIN`] receipts or more hash their
//! receipts root on a second thread while execution goes on.
//!
//! [`TxRunner`] runs one transaction over any view without committing it,
//! optionally deferring the beneficiary's fee ([`credit_beneficiary`] credits
//! it afterwards): the primitive under the parallel executors.
//!
//! [`call`] and [`estimate_gas`] serve `eth_call` / `eth_estimateGas`.

mod beneficiary;
mod call;
mod db;
mod delta;
mod diff;
mod env;
mod error;
mod executor;
mod memory;
mod overlay;
mod receipts_hasher;
mod run;
mod tx;

pub use beneficiary::{credit_beneficiary, BeneficiaryCredit};
pub use call::{call, estimate_gas, CallOutcome, CallRequest};
pub use delta::{MergedDeltas, TxDelta};
pub use env::BlockEnv;
pub use error::{EstimateError, ExecError};
pub use executor::{execute_block, BlockExecutor, BlockOutcome};
pub use memory::MemoryState;
pub use overlay::Overlay;
pub use receipts_hasher::BACKGROUND_RECEIPTS_MIN;
pub use tx::{block_gas_reason, InvalidStage, TxExecuted, TxInvalid, TxOutcome, TxRunner};

#[cfg(test)]
mod tests;

//! A transaction together with its recovered sender.

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_primitives::{Address, B256};

/// A signed transaction whose sender has been recovered (signature checked).
///
/// **Invariant:** `sender` is the address recovered from `tx`'s signature and
/// `hash` is `tx`'s EIP-2718 hash; only code that has checked the signature
/// constructs one (see [`RecoveredTx::recover`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredTx {
    /// The transaction.
    pub tx: TxEnvelope,
    /// Its sender.
    pub sender: Address,
    /// Its hash.
    pub hash: B256,
}

impl RecoveredTx {
    /// Recovers the sender from the signature.
    pub fn recover(tx: TxEnvelope) -> Result<Self, alloy_primitives::SignatureError> {
        let sender = tx.recover_signer()?;
        let hash = *tx.tx_hash();
        Ok(Self { tx, sender, hash })
    }

    /// The sender's nonce carried by the transaction.
    pub fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// The transaction's gas limit.
    pub fn gas_limit(&self) -> u64 {
        u64::try_from(self.tx.gas_limit()).unwrap_or(u64::MAX)
    }
}

//! A transaction together with its recovered sender.

use alloy_consensus::{Transaction, TxEnvelope};
use alloy_primitives::{Address, SignatureError, B256};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, SECP256K1};

/// The signature type of alloy-consensus 0.3's `Signed` (alloy-primitives
/// 0.8 deprecates it for `PrimitiveSignature`, which that alloy-consensus
/// does not use yet).
#[allow(deprecated)]
type Signature = alloy_primitives::Signature;

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
    /// Recovers the sender from the signature: the address alloy's
    /// `TxEnvelope::recover_signer` gives (property-tested), computed with
    /// libsecp256k1 instead of the pure-Rust k256 (see [`recover_sender`]).
    pub fn recover(tx: TxEnvelope) -> Result<Self, SignatureError> {
        let sender = recover_sender(&tx)?;
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

/// The sender of `tx`, recovered with libsecp256k1 (the `secp256k1` crate,
/// which revm's ECRECOVER precompile already builds). Every validator
/// recovers every transaction of every block, and perf of a four-validator
/// devnet under ERC-20 load put k256's recovery at more than half of each
/// node's CPU.
///
/// Same results as alloy: a high-s signature is first normalised (s to
/// n - s, parity flipped) exactly as `Signature::recover_from_prehash` does,
/// so it recovers the same address; rejecting high s (EIP-2) is the
/// transaction pool's rule, not recovery's. Out-of-range r or s and
/// signatures without a valid point are errors.
pub fn recover_sender(tx: &TxEnvelope) -> Result<Address, SignatureError> {
    let signature = match tx {
        TxEnvelope::Legacy(signed) => signed.signature(),
        TxEnvelope::Eip2930(signed) => signed.signature(),
        TxEnvelope::Eip1559(signed) => signed.signature(),
        TxEnvelope::Eip4844(signed) => signed.signature(),
        TxEnvelope::Eip7702(signed) => signed.signature(),
        // Types added later: alloy's own recovery.
        #[allow(unreachable_patterns)]
        _ => return tx.recover_signer(),
    };
    recover_prehash(signature, &tx.signature_hash())
}

/// The address whose key signed `prehash` with `signature` (see
/// [`recover_sender`] for the rules).
fn recover_prehash(signature: &Signature, prehash: &B256) -> Result<Address, SignatureError> {
    let invalid = |_| SignatureError::FromBytes("invalid secp256k1 signature");
    let signature = signature.normalize_s().unwrap_or(*signature);
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&signature.s().to_be_bytes::<32>());
    let recovery_id = RecoveryId::from_i32(i32::from(signature.v().y_parity())).map_err(invalid)?;
    let recoverable = RecoverableSignature::from_compact(&compact, recovery_id).map_err(invalid)?;
    let public =
        SECP256K1.recover_ecdsa(&Message::from_digest(prehash.0), &recoverable).map_err(invalid)?;
    Ok(Address::from_raw_public_key(&public.serialize_uncompressed()[1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;
    use proptest::prelude::*;

    /// The curve order n.
    const N: U256 = U256::from_be_bytes([
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ]);

    fn alloy_recover(signature: &Signature, prehash: &B256) -> Option<Address> {
        signature.recover_address_from_prehash(prehash).ok()
    }

    proptest! {
        /// Arbitrary (mostly invalid) r, s and parity: libsecp256k1 and
        /// alloy's k256 agree on the address or both refuse.
        #[test]
        fn arbitrary_signatures_recover_as_alloy_does(
            r in any::<[u8; 32]>(), s in any::<[u8; 32]>(), parity in any::<bool>(),
            prehash in any::<[u8; 32]>(), small in 0u64..4,
        ) {
            let prehash = B256::from(prehash);
            let mut r = U256::from_be_bytes(r);
            let s = U256::from_be_bytes(s);
            if small > 0 {
                // Edge values: zero, one, n - 1.
                r = [U256::ZERO, U256::from(1), N - U256::from(1)][small as usize - 1];
            }
            let signature = Signature::from_rs_and_parity(r, s, parity).unwrap();
            prop_assert_eq!(recover_prehash(&signature, &prehash).ok(), alloy_recover(&signature, &prehash));
        }

        /// Real signatures, in both the low-s form and the high-s form a
        /// malleated copy has: the same address as alloy's recovery.
        #[test]
        fn real_and_malleated_signatures_recover_as_alloy_does(
            key in 1u64..u64::MAX, prehash in any::<[u8; 32]>(),
        ) {
            use secp256k1::SecretKey;
            let prehash = B256::from(prehash);
            let secret = SecretKey::from_slice(&U256::from(key).to_be_bytes::<32>()).unwrap();
            let (id, bytes) = SECP256K1
                .sign_ecdsa_recoverable(&Message::from_digest(prehash.0), &secret)
                .serialize_compact();
            let r = U256::from_be_slice(&bytes[..32]);
            let s = U256::from_be_slice(&bytes[32..]);
            let low = Signature::from_rs_and_parity(r, s, id.to_i32() == 1).unwrap();
            let high = Signature::from_rs_and_parity(r, N - s, id.to_i32() == 0).unwrap();
            let expected = alloy_recover(&low, &prehash);
            prop_assert!(expected.is_some());
            prop_assert_eq!(recover_prehash(&low, &prehash).ok(), expected);
            prop_assert_eq!(recover_prehash(&high, &prehash).ok(), alloy_recover(&high, &prehash));
            prop_assert_eq!(recover_prehash(&high, &prehash).ok(), expected);
        }
    }
}

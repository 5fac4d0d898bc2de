//! Signing transaction hashes with libsecp256k1.
//!
//! alloy's local signer uses the pure-Rust k256, which perf of the load
//! generator during a four-validator benchmark put at half of its CPU, on
//! the same two cores as the chain it measures. libsecp256k1 (the
//! `secp256k1` crate that revm's ECRECOVER and [`crate::RecoveredTx`]
//! already use) signs the same way: RFC 6979 deterministic nonces with
//! HMAC-SHA256 and a low `s`, so it gives byte-identical signatures
//! (property-tested against alloy's signer below).

use alloy_primitives::{Address, SignatureError, B256, U256};
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};

/// The signature type of alloy-consensus 0.3's `Signed` (see `recovered.rs`).
#[allow(deprecated)]
type Signature = alloy_primitives::Signature;

/// A secp256k1 secret key that signs 32-byte hashes with libsecp256k1.
#[derive(Clone)]
pub struct SecpSigner {
    key: SecretKey,
    address: Address,
}

impl std::fmt::Debug for SecpSigner {
    // Never print the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecpSigner").field("address", &self.address).finish()
    }
}

impl SecpSigner {
    /// The signer for a 32-byte secret key; an error if it is zero or not
    /// below the curve order.
    pub fn from_bytes(secret: &B256) -> Result<Self, SignatureError> {
        let key = SecretKey::from_slice(secret.as_slice())
            .map_err(|_| SignatureError::FromBytes("invalid secp256k1 secret key"))?;
        let public = PublicKey::from_secret_key(SECP256K1, &key);
        let address = Address::from_raw_public_key(&public.serialize_uncompressed()[1..]);
        Ok(Self { key, address })
    }

    /// The Ethereum address of the key.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs `prehash` (a transaction's signature hash): the signature
    /// alloy's `PrivateKeySigner::sign_hash_sync` gives for the same key.
    pub fn sign_prehash(&self, prehash: &B256) -> Signature {
        let message = Message::from_digest(prehash.0);
        let (recovery_id, compact) =
            SECP256K1.sign_ecdsa_recoverable(&message, &self.key).serialize_compact();
        let r = U256::from_be_slice(&compact[..32]);
        let s = U256::from_be_slice(&compact[32..]);
        let odd_y = recovery_id.to_i32() & 1 == 1;
        Signature::from_rs_and_parity(r, s, odd_y).expect("a bool is a valid parity")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;
    use proptest::prelude::*;

    proptest! {
        /// Same address, same signature, bit for bit, as alloy's k256 signer.
        #[test]
        fn signs_exactly_as_alloys_signer(secret in any::<[u8; 32]>(), prehash in any::<[u8; 32]>()) {
            let secret = B256::from(secret);
            let Ok(alloy) = PrivateKeySigner::from_bytes(&secret) else {
                prop_assert!(SecpSigner::from_bytes(&secret).is_err());
                return Ok(());
            };
            let ours = SecpSigner::from_bytes(&secret).unwrap();
            prop_assert_eq!(ours.address(), alloy.address());
            let prehash = B256::from(prehash);
            prop_assert_eq!(ours.sign_prehash(&prehash), alloy.sign_hash_sync(&prehash).unwrap());
        }
    }

    #[test]
    fn invalid_secrets_are_refused() {
        assert!(SecpSigner::from_bytes(&B256::ZERO).is_err());
        assert!(SecpSigner::from_bytes(&B256::repeat_byte(0xff)).is_err(), "above the order");
        let signer = SecpSigner::from_bytes(&B256::repeat_byte(1)).unwrap();
        assert!(!format!("{signer:?}").contains("0101"), "the secret stays out of Debug");
    }
}

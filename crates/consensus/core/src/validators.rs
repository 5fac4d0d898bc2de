//! The permissioned validator set and the signing boundary.

use crate::types::{BlockId, ValidatorIndex, View};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use phalanx_core_types::{Address, Validator};

/// Most validators a set may hold; bounds certificate sizes on the wire.
pub const MAX_VALIDATORS: usize = 1024;

/// Why a validator set cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidatorSetError {
    /// No validators, or more than [`MAX_VALIDATORS`].
    #[error("validator count {count} is outside 1..={MAX_VALIDATORS}")]
    BadSize {
        /// How many were given.
        count: usize,
    },
    /// A consensus key is not a valid ed25519 public key.
    #[error("consensus key of validator {index} is invalid: {reason}")]
    BadKey {
        /// Position in the input.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The same consensus key appears twice.
    #[error("validator {index} repeats an earlier consensus key")]
    DuplicateKey {
        /// Position of the repeat.
        index: usize,
    },
}

/// The fixed validator set of one chain, identified by its genesis block id.
///
/// Every signed consensus message is bound to `genesis_id`, so signatures
/// cannot be replayed across chains. All members have equal voting power;
/// with `n = 3f + 1` a quorum is `2f + 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    keys: Vec<VerifyingKey>,
    addresses: Vec<Address>,
    genesis_id: BlockId,
}

impl ValidatorSet {
    /// Builds a set from consensus keys and addresses (same length, same order).
    pub fn new(
        keys: Vec<VerifyingKey>,
        addresses: Vec<Address>,
        genesis_id: BlockId,
    ) -> Result<Self, ValidatorSetError> {
        if keys.is_empty() || keys.len() > MAX_VALIDATORS || addresses.len() != keys.len() {
            return Err(ValidatorSetError::BadSize { count: keys.len() });
        }
        for (index, key) in keys.iter().enumerate() {
            if keys[..index].contains(key) {
                return Err(ValidatorSetError::DuplicateKey { index });
            }
        }
        Ok(Self { keys, addresses, genesis_id })
    }

    /// Builds a set from genesis validators (hex-encoded ed25519 keys).
    pub fn from_genesis(
        validators: &[Validator],
        genesis_id: BlockId,
    ) -> Result<Self, ValidatorSetError> {
        let mut keys = Vec::with_capacity(validators.len());
        for (index, v) in validators.iter().enumerate() {
            let bad = |reason: &str| ValidatorSetError::BadKey { index, reason: reason.into() };
            let hex = v.consensus_key.strip_prefix("0x").unwrap_or(&v.consensus_key);
            let bytes: B256Hex = hex.parse().map_err(|_| bad("not 32 hex-encoded bytes"))?;
            let key = VerifyingKey::from_bytes(&bytes.0).map_err(|e| bad(&e.to_string()))?;
            keys.push(key);
        }
        Self::new(keys, validators.iter().map(|v| v.address).collect(), genesis_id)
    }

    /// Number of validators `n`.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a set has at least one member.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of Byzantine validators tolerated: `f = (n - 1) / 3`.
    pub fn max_faulty(&self) -> usize {
        (self.len() - 1) / 3
    }

    /// Signatures needed for a certificate: `n - f` (= `2f + 1` when `n = 3f + 1`).
    pub fn quorum(&self) -> usize {
        self.len() - self.max_faulty()
    }

    /// The leader of `view`: round-robin by view.
    pub fn leader(&self, view: View) -> ValidatorIndex {
        // The modulus is below MAX_VALIDATORS, so the result fits in u16.
        ValidatorIndex((view % self.len() as u64) as u16)
    }

    /// The consensus key of a member, or `None` for an unknown index.
    pub fn key(&self, index: ValidatorIndex) -> Option<&VerifyingKey> {
        self.keys.get(usize::from(index.0))
    }

    /// The Ethereum address of a member, or `None` for an unknown index.
    pub fn address(&self, index: ValidatorIndex) -> Option<Address> {
        self.addresses.get(usize::from(index.0)).copied()
    }

    /// All member indices in order.
    pub fn indices(&self) -> impl Iterator<Item = ValidatorIndex> {
        // len() <= MAX_VALIDATORS, so every index fits in u16.
        (0..self.len()).map(|i| ValidatorIndex(i as u16))
    }

    /// The chain's genesis block id, bound into every signature.
    pub fn genesis_id(&self) -> BlockId {
        self.genesis_id
    }
}

/// A 32-byte value parsed from hex; local helper for genesis keys.
struct B256Hex([u8; 32]);

impl std::str::FromStr for B256Hex {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if s.len() != 64 {
            return Err(());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or(())?, 16).map_err(|_| ())?;
        }
        Ok(Self(out))
    }
}

/// Signs consensus messages. The key lives outside the core so tests can
/// plug in forgers and equivocators, and a node can keep it in an HSM.
pub trait Signer: std::fmt::Debug + Send {
    /// The public key matching [`Signer::sign`].
    fn public_key(&self) -> VerifyingKey;
    /// Signs `message` (already domain-separated by the caller).
    fn sign(&self, message: &[u8]) -> Signature;
}

/// A [`Signer`] holding an ed25519 secret key in memory.
pub struct Ed25519Signer {
    key: SigningKey,
}

impl Ed25519Signer {
    /// Wraps a signing key.
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }

    /// A signer from a 32-byte secret seed (handy for tests and simulators).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(&seed) }
    }
}

impl std::fmt::Debug for Ed25519Signer {
    // Never print the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Signer").field("public", &self.key.verifying_key()).finish()
    }
}

impl Signer for Ed25519Signer {
    fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer as _;
        self.key.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    fn set(n: usize) -> ValidatorSet {
        let keys = (0..n).map(|i| Ed25519Signer::from_seed([i as u8; 32]).public_key()).collect();
        ValidatorSet::new(keys, vec![Address::ZERO; n], B256::ZERO).unwrap()
    }

    #[test]
    fn quorum_is_two_f_plus_one() {
        assert_eq!((set(1).max_faulty(), set(1).quorum()), (0, 1));
        assert_eq!((set(4).max_faulty(), set(4).quorum()), (1, 3));
        assert_eq!((set(7).max_faulty(), set(7).quorum()), (2, 5));
        assert_eq!(set(5).quorum(), 4);
    }

    #[test]
    fn leader_rotates_round_robin() {
        let s = set(4);
        let leaders: Vec<u16> = (0..6).map(|v| s.leader(v).0).collect();
        assert_eq!(leaders, vec![0, 1, 2, 3, 0, 1]);
    }

    #[test]
    fn from_genesis_parses_hex_keys_and_rejects_duplicates() {
        let pk = Ed25519Signer::from_seed([7; 32]).public_key();
        let hex: String = pk.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let v = Validator { name: "a".into(), address: Address::ZERO, consensus_key: hex };
        let s = ValidatorSet::from_genesis(std::slice::from_ref(&v), B256::ZERO).unwrap();
        assert_eq!(s.key(ValidatorIndex(0)), Some(&pk));
        assert_eq!(
            ValidatorSet::from_genesis(&[v.clone(), v], B256::ZERO),
            Err(ValidatorSetError::DuplicateKey { index: 1 })
        );
    }
}

//! Deterministic accounts: the development accounts a devnet prefunds and the
//! load accounts a run funds itself.
//!
//! Keys are public by construction; they must never hold real value.

use alloy_primitives::{keccak256, B256};
use alloy_signer_local::PrivateKeySigner;

/// Seed prefix of [`dev_accounts`]: account `i`'s private key is
/// `keccak256("phalanx-dev-" + decimal(i))`, e.g. `keccak256("phalanx-dev-0")`.
pub const DEV_ACCOUNT_SEED: &str = "phalanx-dev-";

/// Seed prefix of [`load_accounts`]: account `i`'s private key is
/// `keccak256("phalanx-load-" + decimal(i))`.
///
/// Load accounts are distinct from the development accounts so that a run
/// funded by a development account never shares its nonces.
pub const LOAD_ACCOUNT_SEED: &str = "phalanx-load-";

/// Seed prefix of the accounts [`crate::bench_ingest`] funds and sends from:
/// account `i`'s private key is `keccak256("phalanx-ingest-" + decimal(i))`.
pub const INGEST_ACCOUNT_SEED: &str = "phalanx-ingest-";

/// Upper bound on the accounts one call derives (deriving is CPU work and each
/// account is funded on-chain).
pub const ACCOUNTS_MAX: usize = 100_000;

/// The first `n` development accounts (see [`DEV_ACCOUNT_SEED`]).
///
/// Deterministic across runs and machines: the devnet genesis prefunds them
/// and prints their keys.
///
/// # Panics
/// If `n > ACCOUNTS_MAX`.
pub fn dev_accounts(n: usize) -> Vec<PrivateKeySigner> {
    derive_accounts(DEV_ACCOUNT_SEED, n)
}

/// The first `n` load accounts (see [`LOAD_ACCOUNT_SEED`]).
///
/// # Panics
/// If `n > ACCOUNTS_MAX`.
pub fn load_accounts(n: usize) -> Vec<PrivateKeySigner> {
    derive_accounts(LOAD_ACCOUNT_SEED, n)
}

/// The private key of account `index` under `seed`.
pub fn derived_key(seed: &str, index: usize) -> B256 {
    keccak256(format!("{seed}{index}"))
}

/// The first `n` accounts under `seed`: key `i` is [`derived_key`]`(seed, i)`.
///
/// # Panics
/// If `n > ACCOUNTS_MAX`.
pub fn derive_accounts(seed: &str, n: usize) -> Vec<PrivateKeySigner> {
    assert!(n <= ACCOUNTS_MAX, "at most {ACCOUNTS_MAX} accounts can be derived, asked for {n}");
    (0..n)
        .map(|i| {
            // A keccak output is zero or above the curve order with probability
            // about 2^-128, so an invalid key here means a broken hash function.
            PrivateKeySigner::from_bytes(&derived_key(seed, i))
                .expect("keccak256 output is a valid secp256k1 scalar")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;
    use std::collections::HashSet;

    #[test]
    fn dev_accounts_are_deterministic_and_distinct() {
        let a = dev_accounts(16);
        let b = dev_accounts(16);
        let addrs: Vec<Address> = a.iter().map(|s| s.address()).collect();
        assert_eq!(addrs, b.iter().map(|s| s.address()).collect::<Vec<_>>());
        assert_eq!(addrs.iter().collect::<HashSet<_>>().len(), 16);
        assert_eq!(a[0].to_bytes(), keccak256("phalanx-dev-0"));
    }

    #[test]
    fn load_accounts_differ_from_dev_accounts() {
        let dev: HashSet<Address> = dev_accounts(8).iter().map(|s| s.address()).collect();
        assert!(load_accounts(8).iter().all(|s| !dev.contains(&s.address())));
    }
}

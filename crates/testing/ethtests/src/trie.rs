//! Ethereum Merkle-Patricia roots: the state root and storage roots exactly as
//! Ethereum clients compute them, and the state tests' logs hash.

use alloy_primitives::{keccak256, Address, Log, B256, U256};
use alloy_trie::{HashBuilder, Nibbles, EMPTY_ROOT_HASH};
use phalanx_core_types::Account;
use std::collections::BTreeMap;

/// Root of a trie over (hashed key, value) leaves; sorts the keys because the
/// builder requires them in order.
fn root_of(mut leaves: Vec<(B256, Vec<u8>)>) -> B256 {
    if leaves.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    leaves.sort_unstable_by_key(|leaf| leaf.0);
    let mut builder = HashBuilder::default();
    for (key, value) in &leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}

/// Storage root of one account: keys keccak256(slot as 32 big-endian bytes),
/// values RLP(value); zero values are absent from the trie.
pub fn storage_root(slots: &BTreeMap<U256, U256>) -> B256 {
    root_of(
        slots
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (keccak256(k.to_be_bytes::<32>()), alloy_rlp::encode(v)))
            .collect(),
    )
}

/// State root over (address, account, storage root): keys keccak256(address),
/// values RLP([nonce, balance, storage_root, code_hash]).
pub fn state_root(accounts: impl IntoIterator<Item = (Address, Account, B256)>) -> B256 {
    root_of(
        accounts
            .into_iter()
            .map(|(address, account, storage_root)| {
                let trie_account = alloy_consensus::Account {
                    nonce: account.nonce,
                    balance: account.balance,
                    storage_root,
                    code_hash: account.code_hash,
                };
                (keccak256(address), alloy_rlp::encode(trie_account))
            })
            .collect(),
    )
}

/// The state tests' `logs` field: keccak256 of the RLP list of logs, each
/// `[address, [topics...], data]`.
pub fn logs_hash(logs: &[Log]) -> B256 {
    let mut out = Vec::new();
    alloy_rlp::encode_list(logs, &mut out);
    keccak256(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_inputs_give_known_constants() {
        assert_eq!(storage_root(&BTreeMap::new()), EMPTY_ROOT_HASH);
        assert_eq!(state_root(std::iter::empty()), EMPTY_ROOT_HASH);
        // keccak256(rlp([])) = keccak256(0xc0), the state tests' "no logs" hash.
        assert_eq!(
            logs_hash(&[]),
            "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
                .parse::<B256>()
                .unwrap()
        );
    }

    #[test]
    fn zero_slots_do_not_change_the_storage_root() {
        let a: BTreeMap<U256, U256> = [(U256::from(1), U256::from(2))].into();
        let mut b = a.clone();
        b.insert(U256::from(3), U256::ZERO);
        assert_eq!(storage_root(&a), storage_root(&b));
        assert_ne!(storage_root(&a), EMPTY_ROOT_HASH);
    }
}

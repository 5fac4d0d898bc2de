//! Merkle roots over ordered lists.
//!
//! Transactions and receipts roots use Ethereum's ordered Patricia trie (key =
//! RLP of the index) so that they match what Ethereum tools compute.

use alloy_primitives::B256;
use alloy_rlp::Encodable;
use alloy_trie::{HashBuilder, Nibbles, EMPTY_ROOT_HASH};

/// Ethereum's ordered-trie root over already-encoded items: item `i` is stored
/// under key `rlp(i)`. Empty input gives the empty-trie root.
pub fn ordered_root<I, T>(items: I) -> B256
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let items: Vec<T> = items.into_iter().collect();
    if items.is_empty() {
        return EMPTY_ROOT_HASH;
    }
    // Keys must be fed to the builder in nibble order, which is not index order
    // (rlp(0) = 0x80 sorts after rlp(1..=127)).
    let mut keyed: Vec<(Nibbles, usize)> = (0..items.len())
        .map(|i| {
            let mut key = Vec::with_capacity(9);
            i.encode(&mut key);
            (Nibbles::unpack(&key), i)
        })
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut builder = HashBuilder::default();
    for (key, i) in keyed {
        builder.add_leaf(key, items[i].as_ref());
    }
    builder.root()
}

/// The transactions root of a block: the ordered trie over EIP-2718 encodings,
/// exactly as Ethereum computes it.
pub fn transactions_root(txs: &[alloy_consensus::TxEnvelope]) -> B256 {
    use alloy_eips::eip2718::Encodable2718;
    ordered_root(txs.iter().map(|tx| tx.encoded_2718()))
}

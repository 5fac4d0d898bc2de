//! Column family names and the fixed-width byte layouts of keys and values.
//!
//! Every integer in a key is big-endian so that RocksDB's byte order is
//! numeric order (heights iterate in chain order, an account's slots are one
//! contiguous key range).

use crate::StoreError;
use alloy_primitives::{Address, B256, U256};
use alloy_rlp::{Decodable, Encodable};
use phalanx_core_types::{Account, TxReceipt};

/// `"head"` -> [`encode_head`]: the last committed block.
pub const CF_META: &str = "meta";
/// height -> canonical block bytes ([`phalanx_core_types::Block::encode_canonical`]).
pub const CF_BLOCKS: &str = "blocks";
/// height -> block hash (32 bytes): the canonical chain, also `BLOCKHASH`.
pub const CF_CANONICAL: &str = "canonical_hashes";
/// block hash -> height.
pub const CF_BLOCK_HASHES: &str = "block_hashes";
/// transaction hash -> height (8) ‖ index in block (4).
pub const CF_TX_INDEX: &str = "tx_index";
/// height -> RLP list of [`TxReceipt`].
pub const CF_RECEIPTS: &str = "receipts";
/// address (20) -> [`encode_account`] (72 bytes).
pub const CF_ACCOUNTS: &str = "accounts";
/// address (20) ‖ slot (32) -> value (32); zero values are never stored.
pub const CF_STORAGE: &str = "storage";
/// code hash -> code bytes (content-addressed, never deleted).
pub const CF_CODE: &str = "code";
/// borsh(jmt `NodeKey`) -> borsh(jmt `Node`): every version of the tree.
pub const CF_JMT_NODES: &str = "jmt_nodes";
/// key hash (32) ‖ version (8) -> [`encode_jmt_value`]: value history per key.
pub const CF_JMT_VALUES: &str = "jmt_values";

/// height -> the consensus certificate of the committed block at that height:
/// opaque bytes from the consensus layer (it encodes and verifies them); the
/// store only keeps them with the block so that lagging replicas can fetch
/// blocks together with the proof that they were committed.
pub const CF_CERTIFICATES: &str = "certificates";

/// Every column family the store uses, in a fixed order.
pub const COLUMN_FAMILIES: &[&str] = &[
    CF_META,
    CF_BLOCKS,
    CF_CANONICAL,
    CF_BLOCK_HASHES,
    CF_TX_INDEX,
    CF_RECEIPTS,
    CF_ACCOUNTS,
    CF_STORAGE,
    CF_CODE,
    CF_JMT_NODES,
    CF_JMT_VALUES,
    CF_CERTIFICATES,
];

/// Key of the head record in [`CF_META`].
pub const HEAD_KEY: &[u8] = b"head";

/// Length of an encoded account: nonce (8) ‖ balance (32) ‖ code hash (32).
pub const ACCOUNT_BYTES: usize = 72;

/// Height as a big-endian key.
pub fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

/// Reads an 8-byte big-endian height.
pub fn decode_height(cf: &'static str, key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        StoreError::corrupt(cf, key, format!("height has {} bytes, not 8", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// Reads a 32-byte hash.
pub fn decode_b256(cf: &'static str, key: &[u8], bytes: &[u8]) -> Result<B256, StoreError> {
    B256::try_from(bytes).map_err(|_| {
        StoreError::corrupt(cf, key, format!("hash has {} bytes, not 32", bytes.len()))
    })
}

/// The head record: height (8) ‖ block hash (32) ‖ state root (32).
pub fn encode_head(height: u64, hash: &B256, state_root: &B256) -> [u8; 72] {
    let mut out = [0u8; 72];
    out[..8].copy_from_slice(&height.to_be_bytes());
    out[8..40].copy_from_slice(hash.as_slice());
    out[40..].copy_from_slice(state_root.as_slice());
    out
}

/// Inverse of [`encode_head`].
pub fn decode_head(bytes: &[u8]) -> Result<(u64, B256, B256), StoreError> {
    if bytes.len() != 72 {
        let reason = format!("head record has {} bytes, not 72", bytes.len());
        return Err(StoreError::corrupt(CF_META, HEAD_KEY, reason));
    }
    let height = u64::from_be_bytes(bytes[..8].try_into().expect("length checked above"));
    Ok((height, B256::from_slice(&bytes[8..40]), B256::from_slice(&bytes[40..])))
}

/// Fixed-width, deterministic account encoding; also the JMT leaf value.
pub fn encode_account(account: &Account) -> [u8; ACCOUNT_BYTES] {
    let mut out = [0u8; ACCOUNT_BYTES];
    out[..8].copy_from_slice(&account.nonce.to_be_bytes());
    out[8..40].copy_from_slice(&account.balance.to_be_bytes::<32>());
    out[40..].copy_from_slice(account.code_hash.as_slice());
    out
}

/// Inverse of [`encode_account`]; `key` names the record in errors.
pub fn decode_account(cf: &'static str, key: &[u8], bytes: &[u8]) -> Result<Account, StoreError> {
    if bytes.len() != ACCOUNT_BYTES {
        let reason = format!("account has {} bytes, not {ACCOUNT_BYTES}", bytes.len());
        return Err(StoreError::corrupt(cf, key, reason));
    }
    Ok(Account {
        nonce: u64::from_be_bytes(bytes[..8].try_into().expect("length checked above")),
        balance: U256::from_be_slice(&bytes[8..40]),
        code_hash: B256::from_slice(&bytes[40..]),
    })
}

/// Storage key: address ‖ big-endian slot.
pub fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut out = [0u8; 52];
    out[..20].copy_from_slice(address.as_slice());
    out[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    out
}

/// Splits a [`storage_key`] back into (address, slot).
pub fn decode_storage_key(key: &[u8]) -> Result<(Address, U256), StoreError> {
    if key.len() != 52 {
        let reason = format!("storage key has {} bytes, not 52", key.len());
        return Err(StoreError::corrupt(CF_STORAGE, key, reason));
    }
    Ok((Address::from_slice(&key[..20]), U256::from_be_slice(&key[20..])))
}

/// A slot value (big-endian, 32 bytes); also the JMT leaf value.
pub fn encode_slot_value(value: &U256) -> [u8; 32] {
    value.to_be_bytes::<32>()
}

/// Inverse of [`encode_slot_value`]; a stored zero is corruption (zeros are deleted).
pub fn decode_slot_value(cf: &'static str, key: &[u8], bytes: &[u8]) -> Result<U256, StoreError> {
    if bytes.len() != 32 {
        let reason = format!("slot value has {} bytes, not 32", bytes.len());
        return Err(StoreError::corrupt(cf, key, reason));
    }
    let value = U256::from_be_slice(bytes);
    if value.is_zero() {
        return Err(StoreError::corrupt(cf, key, "zero slot value stored"));
    }
    Ok(value)
}

/// Transaction location: height (8) ‖ index (4).
pub fn encode_tx_location(height: u64, index: u32) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&height.to_be_bytes());
    out[8..].copy_from_slice(&index.to_be_bytes());
    out
}

/// Inverse of [`encode_tx_location`].
pub fn decode_tx_location(key: &[u8], bytes: &[u8]) -> Result<(u64, u32), StoreError> {
    if bytes.len() != 12 {
        let reason = format!("tx location has {} bytes, not 12", bytes.len());
        return Err(StoreError::corrupt(CF_TX_INDEX, key, reason));
    }
    let height = u64::from_be_bytes(bytes[..8].try_into().expect("length checked above"));
    let index = u32::from_be_bytes(bytes[8..].try_into().expect("length checked above"));
    Ok((height, index))
}

/// RLP list of receipts.
pub fn encode_receipts(receipts: &[TxReceipt]) -> Vec<u8> {
    let mut out = Vec::new();
    receipts.to_vec().encode(&mut out);
    out
}

/// Inverse of [`encode_receipts`]; rejects trailing bytes.
pub fn decode_receipts(key: &[u8], mut bytes: &[u8]) -> Result<Vec<TxReceipt>, StoreError> {
    let receipts = Vec::<TxReceipt>::decode(&mut bytes)
        .map_err(|e| StoreError::corrupt(CF_RECEIPTS, key, format!("receipts RLP: {e}")))?;
    if !bytes.is_empty() {
        let reason = format!("{} trailing bytes after receipts", bytes.len());
        return Err(StoreError::corrupt(CF_RECEIPTS, key, reason));
    }
    Ok(receipts)
}

/// JMT value history key: key hash ‖ version.
pub fn jmt_value_key(key_hash: &[u8; 32], version: u64) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(key_hash);
    out[32..].copy_from_slice(&version.to_be_bytes());
    out
}

/// A JMT value record: tag 0 = deleted, tag 1 followed by the value bytes.
pub fn encode_jmt_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![0],
        Some(v) => {
            let mut out = Vec::with_capacity(1 + v.len());
            out.push(1);
            out.extend_from_slice(v);
            out
        }
    }
}

/// Inverse of [`encode_jmt_value`].
pub fn decode_jmt_value(key: &[u8], bytes: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    match bytes.split_first() {
        Some((0, [])) => Ok(None),
        Some((1, rest)) => Ok(Some(rest.to_vec())),
        _ => Err(StoreError::corrupt(CF_JMT_VALUES, key, "bad value tag")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn account_roundtrips(nonce in any::<u64>(), bal in any::<[u8; 32]>(), ch in any::<[u8; 32]>()) {
            let a = Account { nonce, balance: U256::from_be_bytes(bal), code_hash: B256::from(ch) };
            prop_assert_eq!(decode_account(CF_ACCOUNTS, b"k", &encode_account(&a)).unwrap(), a);
        }

        #[test]
        fn head_and_location_roundtrip(h in any::<u64>(), i in any::<u32>(), x in any::<[u8; 32]>()) {
            let hash = B256::from(x);
            prop_assert_eq!(decode_head(&encode_head(h, &hash, &B256::ZERO)).unwrap(), (h, hash, B256::ZERO));
            prop_assert_eq!(decode_tx_location(b"k", &encode_tx_location(h, i)).unwrap(), (h, i));
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode_account(CF_ACCOUNTS, b"k", &bytes);
            let _ = decode_head(&bytes);
            let _ = decode_receipts(b"k", &bytes);
            let _ = decode_jmt_value(b"k", &bytes);
            let _ = decode_storage_key(&bytes);
        }
    }

    #[test]
    fn receipts_roundtrip() {
        let r = TxReceipt {
            tx_type: 2,
            success: true,
            cumulative_gas_used: 21_000,
            gas_used: 21_000,
            effective_gas_price: 7,
            logs: vec![],
            rw_hash: B256::repeat_byte(3),
            contract_address: Some(Address::repeat_byte(9)),
        };
        let list = vec![r.clone(), TxReceipt { contract_address: None, ..r }];
        assert_eq!(decode_receipts(b"k", &encode_receipts(&list)).unwrap(), list);
        assert_eq!(decode_receipts(b"k", &encode_receipts(&[])).unwrap(), vec![]);
    }

    #[test]
    fn zero_slot_value_is_corrupt() {
        assert!(matches!(
            decode_slot_value(CF_STORAGE, b"k", &[0u8; 32]),
            Err(StoreError::Corrupt { cf: CF_STORAGE, .. })
        ));
    }
}

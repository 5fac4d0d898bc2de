//! The block format: a header plus the ordered transactions (the whitepaper's
//! "invocations") plus the execution-schedule slot.
//!
//! **Invariant:** there is exactly one encoding of a block (canonical RLP, see
//! [`Block::encode_canonical`]); the block hash is keccak256 of the RLP of the
//! header alone, and the header commits to the body through
//! `transactions_root` and `schedule_hash`.

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

/// Version of the header format. Bumped on any change to [`Header`]'s fields.
pub const HEADER_VERSION: u64 = 1;

/// A block header. Field order is the encoding order; never reorder fields
/// without bumping [`HEADER_VERSION`].
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Default,
    RlpEncodable,
    RlpDecodable,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// Header format version, [`HEADER_VERSION`].
    pub version: u64,
    /// EIP-155 chain id this block belongs to.
    pub chain_id: u64,
    /// Height; genesis is 0.
    pub height: u64,
    /// Consensus view (round) in which the block was proposed; 0 on a single node.
    pub view: u64,
    /// The proposer; also the EVM's `COINBASE` (the whitepaper's `ProposerAddr()`).
    pub proposer: Address,
    /// Hash of the parent block; zero for genesis.
    pub parent_hash: B256,
    /// Ordered-trie root over the transactions' EIP-2718 encodings.
    pub transactions_root: B256,
    /// Root of the state commitment after executing this block.
    pub state_root: B256,
    /// Ordered-trie root over Ethereum-encoded receipts.
    pub receipts_root: B256,
    /// PaVM digest: hash over every transaction's read/write-operation hash, in block order.
    pub rw_digest: B256,
    /// keccak256 of the block's execution schedule bytes.
    pub schedule_hash: B256,
    /// OR of every receipt's logs bloom.
    pub logs_bloom: Bloom,
    /// Gas used by all transactions.
    pub gas_used: u64,
    /// Gas limit of the block.
    pub gas_limit: u64,
    /// EIP-1559 base fee per gas (constant, configured per chain; may be zero).
    pub base_fee_per_gas: u64,
    /// Seconds since the Unix epoch, as the EVM's `TIMESTAMP` sees it.
    pub timestamp: u64,
}

impl Header {
    /// The block hash: keccak256 of the header's RLP encoding.
    pub fn hash(&self) -> B256 {
        let mut buf = Vec::with_capacity(512);
        self.encode(&mut buf);
        keccak256(&buf)
    }
}

/// A block: header, ordered transactions and the execution schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header; its hash is the block hash.
    pub header: Header,
    /// Transactions in execution order.
    pub transactions: Vec<TxEnvelope>,
    /// The execution schedule (filled by the parallel-execution engine; empty
    /// means "execute serially"). Opaque at this layer; committed to by
    /// `header.schedule_hash`.
    pub schedule: Bytes,
}

/// Why block bytes did not decode.
#[derive(Debug, thiserror::Error)]
pub enum BlockDecodeError {
    /// The outer structure was not valid RLP for a block.
    #[error("invalid block RLP: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    /// Transaction `index` was not a valid EIP-2718 transaction.
    #[error("transaction {index} does not decode: {reason}")]
    Transaction {
        /// Position in the block.
        index: usize,
        /// Decoder message.
        reason: String,
    },
    /// Bytes were left after the block.
    #[error("{extra} trailing bytes after block")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
}

#[derive(RlpEncodable, RlpDecodable)]
struct BlockRlp {
    header: Header,
    transactions: Vec<Bytes>,
    schedule: Bytes,
}

impl Block {
    /// The block hash (the header's hash).
    pub fn hash(&self) -> B256 {
        self.header.hash()
    }

    /// The canonical encoding: RLP list of (header, list of EIP-2718
    /// transaction bytes, schedule bytes).
    pub fn encode_canonical(&self) -> Vec<u8> {
        let rlp = BlockRlp {
            header: self.header.clone(),
            transactions: self.transactions.iter().map(|t| Bytes::from(t.encoded_2718())).collect(),
            schedule: self.schedule.clone(),
        };
        let mut out = Vec::with_capacity(rlp.length());
        rlp.encode(&mut out);
        out
    }

    /// Decodes [`Block::encode_canonical`] output; rejects trailing bytes.
    pub fn decode_canonical(mut bytes: &[u8]) -> Result<Self, BlockDecodeError> {
        let rlp = BlockRlp::decode(&mut bytes)?;
        if !bytes.is_empty() {
            return Err(BlockDecodeError::TrailingBytes { extra: bytes.len() });
        }
        let transactions = rlp
            .transactions
            .iter()
            .enumerate()
            .map(|(index, raw)| {
                decode_transaction(raw)
                    .map_err(|e| BlockDecodeError::Transaction { index, reason: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { header: rlp.header, transactions, schedule: rlp.schedule })
    }

    /// Whether the header's body commitments (transactions root, schedule
    /// hash) match the body.
    pub fn body_matches_header(&self) -> bool {
        self.header.transactions_root == crate::transactions_root(&self.transactions)
            && self.header.schedule_hash == keccak256(&self.schedule)
    }
}

/// Decodes one EIP-2718 transaction (legacy RLP list or typed envelope),
/// rejecting trailing bytes.
pub fn decode_transaction(raw: &[u8]) -> Result<TxEnvelope, alloy_eips::eip2718::Eip2718Error> {
    let mut buf = raw;
    let tx = TxEnvelope::decode_2718(&mut buf)?;
    // alloy 0.3's `decode_2718` does not advance `buf` past typed
    // transactions (and its `encode_2718_len` omits the list header of legacy
    // ones), so canonicity is checked directly: the transaction must
    // re-encode to exactly the input, which also rejects trailing bytes.
    if tx.encoded_2718() != raw {
        return Err(alloy_rlp::Error::UnexpectedLength.into());
    }
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_header() -> impl Strategy<Value = Header> {
        (any::<[u64; 8]>(), any::<[u8; 20]>(), any::<[[u8; 32]; 6]>()).prop_map(|(n, a, h)| {
            Header {
                version: n[0],
                chain_id: n[1],
                height: n[2],
                view: n[3],
                proposer: Address::from(a),
                parent_hash: B256::from(h[0]),
                transactions_root: B256::from(h[1]),
                state_root: B256::from(h[2]),
                receipts_root: B256::from(h[3]),
                rw_digest: B256::from(h[4]),
                schedule_hash: B256::from(h[5]),
                logs_bloom: Bloom::default(),
                gas_used: n[4],
                gas_limit: n[5],
                base_fee_per_gas: n[6],
                timestamp: n[7],
            }
        })
    }

    proptest! {
        #[test]
        fn header_roundtrips(h in arb_header()) {
            let mut buf = Vec::new();
            h.encode(&mut buf);
            let back = Header::decode(&mut buf.as_slice()).unwrap();
            prop_assert_eq!(&back, &h);
            prop_assert_eq!(back.hash(), h.hash());
        }

        #[test]
        fn block_roundtrips(h in arb_header(), schedule in proptest::collection::vec(any::<u8>(), 0..64)) {
            let block = Block { header: h, transactions: vec![], schedule: schedule.into() };
            let bytes = block.encode_canonical();
            prop_assert_eq!(Block::decode_canonical(&bytes).unwrap(), block);
        }

        #[test]
        fn block_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Block::decode_canonical(&bytes);
        }
    }

    // alloy 0.3's `into_signed` takes the (newly deprecated) `Signature` type.
    #[allow(deprecated)]
    fn signed_1559() -> TxEnvelope {
        use alloy_consensus::{SignableTransaction, TxEip1559};
        let tx = TxEip1559 { chain_id: 1, nonce: 3, gas_limit: 21_000, ..Default::default() };
        TxEnvelope::Eip1559(tx.into_signed(alloy_primitives::Signature::test_signature()))
    }

    #[test]
    fn typed_transaction_roundtrips_and_rejects_trailing_bytes() {
        let tx = signed_1559();
        let mut raw = tx.encoded_2718();
        assert_eq!(decode_transaction(&raw).unwrap(), tx);
        let block =
            Block { header: Header::default(), transactions: vec![tx], schedule: Bytes::new() };
        assert_eq!(Block::decode_canonical(&block.encode_canonical()).unwrap(), block);
        raw.push(0);
        assert!(decode_transaction(&raw).is_err());
    }

    #[test]
    #[allow(deprecated)]
    fn legacy_transaction_roundtrips() {
        use alloy_consensus::{SignableTransaction, TxLegacy};
        let tx = TxLegacy { chain_id: Some(1), nonce: 1, gas_limit: 21_000, ..Default::default() };
        let tx = TxEnvelope::Legacy(tx.into_signed(alloy_primitives::Signature::test_signature()));
        let raw = tx.encoded_2718();
        // The test signature's parity is pre-EIP-155, so compare encodings.
        assert_eq!(decode_transaction(&raw).unwrap().encoded_2718(), raw);
    }

    #[test]
    fn trailing_bytes_rejected() {
        let block =
            Block { header: Header::default(), transactions: vec![], schedule: Bytes::new() };
        let mut bytes = block.encode_canonical();
        bytes.push(0);
        assert!(matches!(
            Block::decode_canonical(&bytes),
            Err(BlockDecodeError::TrailingBytes { extra: 1 })
        ));
    }
}

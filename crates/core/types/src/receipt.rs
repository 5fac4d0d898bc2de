//! Transaction receipts: Ethereum-compatible fields plus Phalanx's PaVM
//! read/write-operation hash.

use alloy_consensus::{Eip658Value, TxType};
use alloy_primitives::map::{AddressHashMap, B256HashMap};
use alloy_primitives::{keccak256, Address, Bloom, BloomInput, Log, B256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};

/// The outcome of one transaction, as stored and served over RPC.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
pub struct TxReceipt {
    /// EIP-2718 type of the transaction (0 legacy, 1 EIP-2930, 2 EIP-1559, 3 EIP-4844).
    pub tx_type: u8,
    /// Whether execution succeeded (false on revert, out of gas, invalid opcode...).
    pub success: bool,
    /// Gas used by this and all earlier transactions of the block.
    pub cumulative_gas_used: u64,
    /// Gas used by this transaction alone.
    pub gas_used: u64,
    /// Price per gas actually paid (EIP-1559 effective gas price).
    pub effective_gas_price: u128,
    /// Logs emitted, in order.
    pub logs: Vec<Log>,
    /// PaVM operation hash: BLAKE3 over the transaction's recorded reads and writes.
    pub rw_hash: B256,
    /// Address of the contract created by this transaction, if any.
    pub contract_address: Option<Address>,
}

impl TxReceipt {
    /// The bloom filter over this receipt's logs.
    pub fn bloom(&self) -> Bloom {
        let mut bloom = Bloom::default();
        for log in &self.logs {
            bloom.accrue_log(log);
        }
        bloom
    }

    /// Ethereum's EIP-2718 receipt encoding (the receipts-trie leaf).
    pub fn ethereum_encoding(&self) -> Vec<u8> {
        self.ethereum_encoding_with_bloom(self.bloom())
    }

    /// [`ethereum_encoding`](Self::ethereum_encoding) with the bloom already
    /// computed (it costs a keccak per log address and topic).
    pub fn ethereum_encoding_with_bloom(&self, bloom: Bloom) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_ethereum_into(&bloom, &mut out);
        out
    }

    /// Appends [`ethereum_encoding_with_bloom`](Self::ethereum_encoding_with_bloom)
    /// to `out`, without copying the logs: byte for byte what alloy's
    /// `ReceiptEnvelope::encoded_2718` produces (a type byte for typed
    /// transactions, then the RLP list status, cumulative gas, bloom, logs).
    pub fn encode_ethereum_into(&self, bloom: &Bloom, out: &mut Vec<u8>) {
        let status = Eip658Value::Eip658(self.success);
        let cumulative_gas_used = self.cumulative_gas_used as u128;
        let payload_length =
            status.length() + cumulative_gas_used.length() + bloom.length() + self.logs.length();
        if let Some(type_byte) = envelope_type(self.tx_type) {
            out.push(type_byte);
        }
        alloy_rlp::Header { list: true, payload_length }.encode(out);
        status.encode(out);
        cumulative_gas_used.encode(out);
        bloom.encode(out);
        self.logs.encode(out);
    }
}

/// The envelope type byte under which a receipt of `tx_type` is encoded
/// (`None`: legacy, no prefix). Unknown types encode as legacy and EIP-7702
/// (not part of Cancun) as EIP-1559, as this crate always has.
fn envelope_type(tx_type: u8) -> Option<u8> {
    match TxType::try_from(tx_type).unwrap_or(TxType::Legacy) {
        TxType::Legacy => None,
        TxType::Eip2930 => Some(1),
        TxType::Eip1559 => Some(2),
        TxType::Eip4844 => Some(3),
        #[allow(unreachable_patterns)]
        _ => Some(2),
    }
}

/// Ethereum-compatible receipts root of a block.
pub fn receipts_root(receipts: &[TxReceipt]) -> B256 {
    receipts_root_and_bloom(receipts).0
}

/// The receipts root and the block's logs bloom (the OR of the receipts'
/// blooms), computing each receipt's bloom once and encoding all receipts
/// into one buffer. Equal to [`ordered_root`](crate::ordered_root) over the
/// receipts' [`ethereum_encoding`](TxReceipt::ethereum_encoding)s.
pub fn receipts_root_and_bloom(receipts: &[TxReceipt]) -> (B256, Bloom) {
    let mut builder = crate::ReceiptsRootBuilder::default();
    receipts.iter().for_each(|receipt| builder.push(receipt));
    builder.finish()
}

/// Memoised keccak256 of bloom inputs. Within a block the same contract
/// address, event signature and account topics recur across receipts, and a
/// map lookup is far cheaper than a keccak. Holds at most one entry per
/// distinct log address and topic of the block being summarised.
#[derive(Debug, Default)]
pub(crate) struct BloomHashes {
    addresses: AddressHashMap<B256>,
    topics: B256HashMap<B256>,
}

impl BloomHashes {
    /// Equal to [`TxReceipt::bloom`] over `logs`.
    pub(crate) fn bloom(&mut self, logs: &[Log]) -> Bloom {
        let mut bloom = Bloom::default();
        for log in logs {
            let hash = *self.addresses.entry(log.address).or_insert_with(|| keccak256(log.address));
            bloom.accrue(BloomInput::Hash(hash));
            for topic in log.topics() {
                let hash = *self.topics.entry(*topic).or_insert_with(|| keccak256(topic));
                bloom.accrue(BloomInput::Hash(hash));
            }
        }
        bloom
    }
}

/// The index whose RLP is the `j`-th smallest among rlp(0..len).
pub(crate) fn adjust_index_for_rlp(j: usize, len: usize) -> usize {
    if j > 0x7f {
        j
    } else if j == 0x7f || j + 1 == len {
        0
    } else {
        j + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{Receipt, ReceiptEnvelope, ReceiptWithBloom};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Bytes, LogData};
    use proptest::prelude::*;

    /// The reference encoding: alloy's own envelope.
    fn alloy_encoding(r: &TxReceipt) -> Vec<u8> {
        let receipt = Receipt {
            status: Eip658Value::Eip658(r.success),
            cumulative_gas_used: r.cumulative_gas_used as u128,
            logs: r.logs.clone(),
        };
        let with_bloom = ReceiptWithBloom { receipt, logs_bloom: r.bloom() };
        let envelope = match TxType::try_from(r.tx_type).unwrap_or(TxType::Legacy) {
            TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
            TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
            TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
            TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
            #[allow(unreachable_patterns)]
            _ => ReceiptEnvelope::Eip1559(with_bloom),
        };
        envelope.encoded_2718()
    }

    fn receipt() -> impl Strategy<Value = TxReceipt> {
        let log = (0u8..4, proptest::collection::vec(0u8..4, 0..4), any::<Vec<u8>>()).prop_map(
            |(a, topics, data)| Log {
                address: Address::repeat_byte(a),
                data: LogData::new_unchecked(
                    topics.into_iter().map(B256::repeat_byte).collect(),
                    Bytes::from(data),
                ),
            },
        );
        (0u8..6, any::<bool>(), any::<u64>(), proptest::collection::vec(log, 0..3)).prop_map(
            |(tx_type, success, cumulative_gas_used, logs)| TxReceipt {
                tx_type,
                success,
                cumulative_gas_used,
                gas_used: 21_000,
                effective_gas_price: 7,
                logs,
                rw_hash: B256::ZERO,
                contract_address: None,
            },
        )
    }

    proptest! {
        #[test]
        fn encoding_matches_alloy(r in receipt()) {
            prop_assert_eq!(r.ethereum_encoding(), alloy_encoding(&r));
        }

        #[test]
        fn root_and_bloom_match_reference(receipts in proptest::collection::vec(receipt(), 0..3)) {
            let (root, bloom) = receipts_root_and_bloom(&receipts);
            prop_assert_eq!(root, crate::ordered_root(receipts.iter().map(alloy_encoding)));
            let mut expected = Bloom::default();
            receipts.iter().for_each(|r| expected |= r.bloom());
            prop_assert_eq!(bloom, expected);
        }
    }

    /// Every trie shape boundary of rlp-index ordering (0, 1, 127, 128, 129 leaves).
    #[test]
    fn root_matches_reference_across_index_boundaries() {
        for len in [0usize, 1, 2, 127, 128, 129, 300] {
            let receipts: Vec<TxReceipt> = (0..len)
                .map(|i| TxReceipt {
                    tx_type: 2,
                    success: i % 3 != 0,
                    cumulative_gas_used: 21_000 * (i as u64 + 1),
                    gas_used: 21_000,
                    effective_gas_price: 7,
                    logs: vec![],
                    rw_hash: B256::ZERO,
                    contract_address: None,
                })
                .collect();
            let reference = crate::ordered_root(receipts.iter().map(alloy_encoding));
            assert_eq!(receipts_root(&receipts), reference, "len {len}");
        }
    }
}

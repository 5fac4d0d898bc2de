//! Transaction receipts: Ethereum-compatible fields plus Phalanx's PaVM
//! read/write-operation hash.

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bloom, Log, B256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

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
    /// PaVM operation hash: keccak over the transaction's recorded reads and writes.
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
        let receipt = Receipt {
            status: Eip658Value::Eip658(self.success),
            cumulative_gas_used: self.cumulative_gas_used as u128,
            logs: self.logs.clone(),
        };
        let with_bloom = ReceiptWithBloom { receipt, logs_bloom: bloom };
        let envelope = match TxType::try_from(self.tx_type).unwrap_or(TxType::Legacy) {
            TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
            TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
            TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
            TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
            #[allow(unreachable_patterns)]
            _ => ReceiptEnvelope::Eip1559(with_bloom),
        };
        envelope.encoded_2718()
    }
}

/// Ethereum-compatible receipts root of a block.
pub fn receipts_root(receipts: &[TxReceipt]) -> B256 {
    receipts_root_and_bloom(receipts).0
}

/// The receipts root and the block's logs bloom (the OR of the receipts'
/// blooms), computing each receipt's bloom once.
pub fn receipts_root_and_bloom(receipts: &[TxReceipt]) -> (B256, Bloom) {
    let mut block_bloom = Bloom::default();
    let encoded: Vec<Vec<u8>> = receipts
        .iter()
        .map(|r| {
            let bloom = r.bloom();
            block_bloom |= bloom;
            r.ethereum_encoding_with_bloom(bloom)
        })
        .collect();
    (crate::ordered_root(encoded), block_bloom)
}

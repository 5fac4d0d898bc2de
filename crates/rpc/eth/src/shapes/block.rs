//! Block and header shapes.

use alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH;
use alloy_primitives::{Address, Bloom, Bytes, B256, B64, U256};
use phalanx_core_types::{Block, Header, RecoveredTx};
use serde::Serialize;

use super::transaction::{rpc_transaction, RpcTransaction, TxContext};

/// A header in Ethereum's JSON shape. Proof-of-work fields carry their
/// post-merge constants (difficulty 0, zero nonce and mixHash, empty uncles)
/// so that tools need no "legacy chain" flag. `rwDigest` is Phalanx's
/// non-standard PaVM digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcHeader {
    /// Block hash (keccak of the header's RLP).
    pub hash: B256,
    /// Parent block hash.
    pub parent_hash: B256,
    /// Always the empty-ommers hash.
    pub sha3_uncles: B256,
    /// The proposer.
    pub miner: Address,
    /// State commitment root.
    pub state_root: B256,
    /// Transactions trie root.
    pub transactions_root: B256,
    /// Receipts trie root.
    pub receipts_root: B256,
    /// OR of the receipts' blooms.
    pub logs_bloom: Bloom,
    /// Always zero.
    pub difficulty: U256,
    /// Height.
    #[serde(with = "alloy_serde::quantity")]
    pub number: u64,
    /// Block gas limit.
    #[serde(with = "alloy_serde::quantity")]
    pub gas_limit: u64,
    /// Gas used by the block.
    #[serde(with = "alloy_serde::quantity")]
    pub gas_used: u64,
    /// Unix seconds.
    #[serde(with = "alloy_serde::quantity")]
    pub timestamp: u64,
    /// Always empty.
    pub extra_data: Bytes,
    /// Always zero.
    pub mix_hash: B256,
    /// Always zero (eight bytes).
    pub nonce: B64,
    /// EIP-1559 base fee.
    #[serde(with = "alloy_serde::quantity")]
    pub base_fee_per_gas: u64,
    /// Non-standard: PaVM read/write digest of the block.
    pub rw_digest: B256,
}

/// The transactions of a block: hashes only, or full objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BlockTransactions {
    /// `eth_getBlockBy*(.., false)`.
    Hashes(Vec<B256>),
    /// `eth_getBlockBy*(.., true)`.
    Full(Vec<RpcTransaction>),
}

/// A block in Ethereum's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcBlock {
    /// Header fields, inline.
    #[serde(flatten)]
    pub header: RpcHeader,
    /// Always zero.
    pub total_difficulty: U256,
    /// Length in bytes of the block's canonical encoding.
    #[serde(with = "alloy_serde::quantity")]
    pub size: u64,
    /// Always empty.
    pub uncles: Vec<B256>,
    /// Transactions.
    pub transactions: BlockTransactions,
}

/// The Ethereum-shaped header of `header`.
pub fn rpc_header(header: &Header) -> RpcHeader {
    RpcHeader {
        hash: header.hash(),
        parent_hash: header.parent_hash,
        sha3_uncles: EMPTY_OMMER_ROOT_HASH,
        miner: header.proposer,
        state_root: header.state_root,
        transactions_root: header.transactions_root,
        receipts_root: header.receipts_root,
        logs_bloom: header.logs_bloom,
        difficulty: U256::ZERO,
        number: header.height,
        gas_limit: header.gas_limit,
        gas_used: header.gas_used,
        timestamp: header.timestamp,
        extra_data: Bytes::new(),
        mix_hash: B256::ZERO,
        nonce: B64::ZERO,
        base_fee_per_gas: header.base_fee_per_gas,
        rw_digest: header.rw_digest,
    }
}

/// The Ethereum-shaped block. With `full`, transactions are objects whose
/// senders are recovered here; a transaction whose signature does not recover
/// (impossible for committed blocks) is an error naming its index.
pub fn rpc_block(block: &Block, full: bool) -> Result<RpcBlock, String> {
    let header = rpc_header(&block.header);
    let transactions = if full {
        let txs = block
            .transactions
            .iter()
            .enumerate()
            .map(|(index, tx)| {
                let recovered = RecoveredTx::recover(tx.clone())
                    .map_err(|e| format!("transaction {index} does not recover: {e}"))?;
                let context = TxContext {
                    block_hash: header.hash,
                    block_number: block.header.height,
                    index: index as u64,
                    base_fee: block.header.base_fee_per_gas,
                };
                Ok(rpc_transaction(&recovered, Some(context)))
            })
            .collect::<Result<Vec<_>, String>>()?;
        BlockTransactions::Full(txs)
    } else {
        BlockTransactions::Hashes(block.transactions.iter().map(|tx| *tx.tx_hash()).collect())
    };
    Ok(RpcBlock {
        header,
        total_difficulty: U256::ZERO,
        size: block.encode_canonical().len() as u64,
        uncles: Vec::new(),
        transactions,
    })
}

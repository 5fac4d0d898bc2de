//! Decoding Ethereum blocks as the blockchain fixtures carry them.

use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip4895::Withdrawal;
use alloy_rlp::Decodable;

/// An Ethereum block: header, transactions, uncles and (Shanghai+) withdrawals.
#[derive(Debug, Clone)]
pub struct EthBlock {
    /// The header.
    pub header: Header,
    /// Transactions in block order.
    pub transactions: Vec<TxEnvelope>,
    /// Uncle headers (always empty after the Merge).
    pub uncles: Vec<Header>,
    /// Withdrawals (empty before Shanghai).
    pub withdrawals: Vec<Withdrawal>,
}

impl EthBlock {
    /// Decodes the RLP list `[header, [txs], [uncles], [withdrawals]?]`,
    /// rejecting trailing bytes.
    pub fn decode(raw: &[u8]) -> Result<Self, alloy_rlp::Error> {
        let mut buf = raw;
        let outer = alloy_rlp::Header::decode(&mut buf)?;
        if !outer.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        if buf.len() != outer.payload_length {
            return Err(alloy_rlp::Error::UnexpectedLength);
        }
        let header = Header::decode(&mut buf)?;
        let transactions = Vec::<TxEnvelope>::decode(&mut buf)?;
        let uncles = Vec::<Header>::decode(&mut buf)?;
        let withdrawals =
            if buf.is_empty() { Vec::new() } else { Vec::<Withdrawal>::decode(&mut buf)? };
        if !buf.is_empty() {
            return Err(alloy_rlp::Error::UnexpectedLength);
        }
        Ok(Self { header, transactions, uncles, withdrawals })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_rlp::Encodable;

    #[test]
    fn roundtrips_an_empty_block_and_rejects_trailing_bytes() {
        let header = Header { number: 7, ..Default::default() };
        let mut payload = Vec::new();
        header.encode(&mut payload);
        Vec::<TxEnvelope>::new().encode(&mut payload);
        Vec::<Header>::new().encode(&mut payload);
        Vec::<Withdrawal>::new().encode(&mut payload);
        let mut raw = Vec::new();
        alloy_rlp::Header { list: true, payload_length: payload.len() }.encode(&mut raw);
        raw.extend_from_slice(&payload);
        let block = EthBlock::decode(&raw).unwrap();
        assert_eq!(block.header.number, 7);
        assert!(block.transactions.is_empty() && block.withdrawals.is_empty());
        raw.push(0);
        assert!(EthBlock::decode(&raw).is_err());
    }
}

//! The driver's wire format: one tag byte, then the body.
//!
//! Consensus messages use the core's canonical codec; batches carry raw
//! EIP-2718 transactions. Every list and length is capped before anything is
//! allocated, and every decoding error is a value, never a panic.

use crate::senders::SendersAck;
use alloy_primitives::{keccak256, Address, B256};
use ed25519_dalek::Signature;
use phalanx_consensus_core::codec::{Decode, Reader};
use phalanx_consensus_core::{
    decode_message, encode_message, BlockResponse, CertifiedBlock, DecodeError, Message,
    ValidatorIndex, MAX_BLOCKS_PER_RESPONSE,
};

/// Most transactions one batch may carry.
pub const BATCH_TXS_MAX: usize = 10_000;
/// Largest transaction a batch may carry (the pool's default cap).
pub const TX_BYTES_MAX: usize = 128 * 1024;
/// Largest encoded batch.
pub const BATCH_BYTES_MAX: usize = 8 << 20;
/// Most digests one [`WireMsg::BatchRequest`] may name.
pub const BATCH_REQUEST_DIGESTS_MAX: usize = 4096;
/// Most batches one [`WireMsg::BatchResponse`] or stored-blocks response may carry.
pub const BATCHES_PER_RESPONSE_MAX: usize = 4096;
/// Largest encoded wire message.
pub const WIRE_BYTES_MAX: usize = 32 << 20;

const TAG_CONSENSUS: u8 = 0;
const TAG_BATCH: u8 = 1;
const TAG_BATCH_REQUEST: u8 = 2;
const TAG_BATCH_RESPONSE: u8 = 3;
const TAG_STORED_REQUEST: u8 = 4;
const TAG_STORED_RESPONSE: u8 = 5;
const TAG_SENDERS_ACK: u8 = 6;
const CERT_VERSION: u8 = 1;

/// Why bytes from a peer (or storage) do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes are malformed: truncated, a length over its cap, an unknown
    /// tag or version, trailing bytes, or a nested consensus message that
    /// does not decode (the core's codec reads every field).
    #[error(transparent)]
    Codec(#[from] DecodeError),
    /// A nested consensus message has the wrong kind.
    #[error("expected a block response, got {kind}")]
    WrongKind {
        /// What was found.
        kind: &'static str,
    },
}

/// A batch of raw EIP-2718 transactions (consensus orders batches by digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The transactions, in the order they are executed.
    pub txs: Vec<Vec<u8>>,
}

impl Batch {
    /// The canonical encoding: a `u32` count, then each transaction as `u32` length + bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.txs.iter().map(|t| t.len() + 4).sum::<usize>());
        put_len(&mut out, self.txs.len());
        for tx in &self.txs {
            put_bytes(&mut out, tx);
        }
        out
    }

    /// Decodes a batch, enforcing [`BATCH_TXS_MAX`], [`TX_BYTES_MAX`] and [`BATCH_BYTES_MAX`].
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let batch = Self::read(&mut r)?;
        r.finish()?;
        Ok(batch)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let count = r.len("batch txs", BATCH_TXS_MAX)?;
        let mut txs = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            txs.push(r.bytes("tx", TX_BYTES_MAX)?.to_vec());
        }
        Ok(Self { txs })
    }

    /// The batch digest: keccak256 of the canonical encoding.
    pub fn digest(&self) -> B256 {
        keccak256(self.encode())
    }

    /// Encoded size in bytes (what the batch store accounts).
    pub fn size_bytes(&self) -> usize {
        4 + self.txs.iter().map(|t| t.len() + 4).sum::<usize>()
    }
}

/// Everything validators send each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireMsg {
    /// A consensus message for the core.
    Consensus(Message),
    /// A newly sealed batch (broadcast by its author).
    Batch(Batch),
    /// Asks for the batches with these digests.
    BatchRequest(Vec<B256>),
    /// Batches answering a request (those the peer holds).
    BatchResponse(Vec<Batch>),
    /// Asks for committed blocks from storage (answers the core's `FetchBlocks`).
    StoredBlocksRequest {
        /// Lowest height wanted.
        from_height: u64,
        /// How many, at most [`MAX_BLOCKS_PER_RESPONSE`].
        count: u64,
        /// The block the requester's chain must reach (echoed back).
        target: B256,
    },
    /// Committed, certified blocks from storage plus the batches they order.
    StoredBlocksResponse {
        /// Blocks in ascending height order, with the echoed target.
        blocks: BlockResponse,
        /// The batches the blocks order.
        batches: Vec<Batch>,
    },
    /// A validator's signed list of a batch's senders (`senders.rs`).
    SendersAck(SendersAck),
}

impl WireMsg {
    /// Encodes the message: tag byte + body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            WireMsg::Consensus(msg) => {
                out.push(TAG_CONSENSUS);
                out.extend_from_slice(&encode_message(msg));
            }
            WireMsg::Batch(batch) => {
                out.push(TAG_BATCH);
                out.extend_from_slice(&batch.encode());
            }
            WireMsg::BatchRequest(digests) => {
                out.push(TAG_BATCH_REQUEST);
                put_len(&mut out, digests.len());
                digests.iter().for_each(|d| out.extend_from_slice(d.as_slice()));
            }
            WireMsg::BatchResponse(batches) => {
                out.push(TAG_BATCH_RESPONSE);
                put_batches(&mut out, batches);
            }
            WireMsg::StoredBlocksRequest { from_height, count, target } => {
                out.push(TAG_STORED_REQUEST);
                out.extend_from_slice(&from_height.to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
                out.extend_from_slice(target.as_slice());
            }
            WireMsg::StoredBlocksResponse { blocks, batches } => {
                out.push(TAG_STORED_RESPONSE);
                put_bytes(&mut out, &encode_message(&Message::BlockResponse(blocks.clone())));
                put_batches(&mut out, batches);
            }
            WireMsg::SendersAck(ack) => {
                out.push(TAG_SENDERS_ACK);
                out.extend_from_slice(ack.digest.as_slice());
                out.extend_from_slice(&ack.signer.0.to_be_bytes());
                put_len(&mut out, ack.senders.len());
                ack.senders.iter().for_each(|s| out.extend_from_slice(s.as_slice()));
                out.extend_from_slice(&ack.signature.to_bytes());
            }
        }
        out
    }

    /// Decodes a message from a peer, enforcing every cap.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > WIRE_BYTES_MAX {
            let (len, max) = (bytes.len(), WIRE_BYTES_MAX);
            return Err(DecodeError::TooLong { what: "wire message", len, max }.into());
        }
        let mut r = Reader::new(bytes);
        let msg = match r.u8()? {
            TAG_CONSENSUS => return Ok(WireMsg::Consensus(decode_message(r.rest())?)),
            TAG_BATCH => WireMsg::Batch(Batch::read(&mut r)?),
            TAG_BATCH_REQUEST => {
                let count = r.len("batch request", BATCH_REQUEST_DIGESTS_MAX)?;
                let mut digests = Vec::with_capacity(count);
                for _ in 0..count {
                    digests.push(B256::decode(&mut r)?);
                }
                WireMsg::BatchRequest(digests)
            }
            TAG_BATCH_RESPONSE => WireMsg::BatchResponse(read_batches(&mut r)?),
            TAG_STORED_REQUEST => WireMsg::StoredBlocksRequest {
                from_height: r.u64()?,
                count: r.u64()?.min(MAX_BLOCKS_PER_RESPONSE as u64),
                target: B256::decode(&mut r)?,
            },
            TAG_STORED_RESPONSE => {
                let blocks = block_response(r.bytes("blocks", WIRE_BYTES_MAX)?)?;
                WireMsg::StoredBlocksResponse { blocks, batches: read_batches(&mut r)? }
            }
            TAG_SENDERS_ACK => WireMsg::SendersAck(read_senders_ack(&mut r)?),
            tag => return Err(DecodeError::UnknownTag { what: "wire message", tag }.into()),
        };
        r.finish()?;
        Ok(msg)
    }
}

/// The certificate stored with every committed block: the certified
/// consensus block (so a restarted node knows its root and peers can sync
/// from storage) and the batches it orders.
pub fn encode_certificate(cb: &CertifiedBlock, batches: &[Batch]) -> Vec<u8> {
    let response = BlockResponse { target: cb.qc.block_id, blocks: vec![cb.clone()] };
    let mut out = vec![CERT_VERSION];
    put_bytes(&mut out, &encode_message(&Message::BlockResponse(response)));
    put_batches(&mut out, batches);
    out
}

/// Decodes [`encode_certificate`]'s output.
pub fn decode_certificate(bytes: &[u8]) -> Result<(CertifiedBlock, Vec<Batch>), WireError> {
    let mut r = Reader::new(bytes);
    let version = r.u8()?;
    if version != CERT_VERSION {
        return Err(DecodeError::UnknownTag { what: "certificate version", tag: version }.into());
    }
    let mut response = block_response(r.bytes("certified block", WIRE_BYTES_MAX)?)?;
    let batches = read_batches(&mut r)?;
    r.finish()?;
    match (response.blocks.pop(), response.blocks.is_empty()) {
        (Some(cb), true) => Ok((cb, batches)),
        _ => Err(DecodeError::TooLong { what: "certificate blocks", len: 2, max: 1 }.into()),
    }
}

fn read_senders_ack(r: &mut Reader<'_>) -> Result<SendersAck, WireError> {
    let digest = B256::decode(r)?;
    let signer = ValidatorIndex(r.u16()?);
    let count = r.len("batch senders", BATCH_TXS_MAX)?;
    let mut senders = Vec::with_capacity(count);
    for _ in 0..count {
        senders.push(Address::from_slice(r.take(20)?));
    }
    let signature = Signature::decode(r)?;
    Ok(SendersAck { digest, signer, senders, signature })
}

fn block_response(bytes: &[u8]) -> Result<BlockResponse, WireError> {
    match decode_message(bytes)? {
        Message::BlockResponse(response) => Ok(response),
        other => Err(WireError::WrongKind { kind: other.kind() }),
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Every list is capped far below u32::MAX before it is encoded.
    out.extend_from_slice(&(len as u32).to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_batches(out: &mut Vec<u8>, batches: &[Batch]) {
    put_len(out, batches.len());
    for batch in batches {
        put_bytes(out, &batch.encode());
    }
}

fn read_batches(r: &mut Reader<'_>) -> Result<Vec<Batch>, WireError> {
    let count = r.len("batches", BATCHES_PER_RESPONSE_MAX)?;
    let mut batches = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        batches.push(Batch::decode(r.bytes("batch", BATCH_BYTES_MAX)?)?);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_batch() -> impl Strategy<Value = Batch> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)
            .prop_map(|txs| Batch { txs })
    }

    proptest! {
        #[test]
        fn batch_messages_round_trip(batch in arb_batch(), digests in proptest::collection::vec(any::<[u8; 32]>(), 0..8)) {
            let digests: Vec<B256> = digests.into_iter().map(B256::from).collect();
            for msg in [
                WireMsg::Batch(batch.clone()),
                WireMsg::BatchRequest(digests.clone()),
                WireMsg::BatchResponse(vec![batch.clone(), batch.clone()]),
                WireMsg::StoredBlocksRequest { from_height: 3, count: 5, target: B256::repeat_byte(7) },
                WireMsg::StoredBlocksResponse {
                    blocks: BlockResponse { target: B256::repeat_byte(1), blocks: vec![] },
                    batches: vec![batch.clone()],
                },
                WireMsg::SendersAck(SendersAck {
                    digest: digests.first().copied().unwrap_or_default(),
                    signer: ValidatorIndex(3),
                    senders: digests.iter().map(|d| Address::from_slice(&d[..20])).collect(),
                    signature: Signature::from_bytes(&[5; 64]),
                }),
            ] {
                prop_assert_eq!(WireMsg::decode(&msg.encode()).unwrap(), msg);
            }
            prop_assert_eq!(batch.size_bytes(), batch.encode().len());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = WireMsg::decode(&bytes);
            let _ = decode_certificate(&bytes);
        }
    }

    #[test]
    fn certificates_round_trip_with_their_batches() {
        use phalanx_consensus_core::{Block, QuorumCert, ValidatorIndex};
        let genesis = B256::repeat_byte(9);
        let block = Block {
            view: 1,
            height: 1,
            parent_id: genesis,
            payload: vec![B256::repeat_byte(1)],
            exec: B256::repeat_byte(2),
            extra: 5u64.to_be_bytes().to_vec(),
            proposer: ValidatorIndex(1),
            justify: QuorumCert::genesis(genesis),
        };
        let mut qc = QuorumCert::genesis(block.id());
        qc.view = 1;
        let cb = CertifiedBlock { block, qc };
        let batches = vec![Batch { txs: vec![vec![1, 2, 3]] }];
        let bytes = encode_certificate(&cb, &batches);
        assert_eq!(decode_certificate(&bytes).unwrap(), (cb, batches));
        assert!(decode_certificate(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn oversize_counts_are_rejected_before_allocating() {
        let mut bytes = vec![TAG_BATCH_REQUEST];
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            WireMsg::decode(&bytes),
            Err(WireError::Codec(DecodeError::TooLong { .. }))
        ));
        let mut trailing = WireMsg::Batch(Batch { txs: vec![vec![1]] }).encode();
        trailing.push(0);
        assert_eq!(
            WireMsg::decode(&trailing),
            Err(WireError::Codec(DecodeError::TrailingBytes { count: 1 }))
        );
    }
}

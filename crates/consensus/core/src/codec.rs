//! Canonical, bounded binary encoding of consensus messages.
//!
//! Fixed-width big-endian integers, 32-byte digests, 64-byte signatures,
//! `u32` length prefixes with per-field caps, and a one-byte tag for enums and
//! options. There is exactly one encoding per value: decoding rejects unknown
//! tags, oversize lists and trailing bytes. Block ids hash this encoding.

use crate::cert::{QuorumCert, Timeout, TimeoutCert, Vote};
use crate::message::{
    BlockRequest, BlockResponse, Message, Proposal, SyncInfo, MAX_BLOCKS_PER_RESPONSE,
};
use crate::types::{Block, CertifiedBlock, ValidatorIndex, MAX_EXTRA_BYTES, MAX_PAYLOAD_DIGESTS};
use crate::validators::MAX_VALIDATORS;
use alloy_primitives::B256;
use ed25519_dalek::Signature;

/// Largest encoded [`Message`] accepted by [`decode_message`].
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Why bytes do not decode to a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("input ended early")]
    UnexpectedEnd,
    /// A list or the whole input is longer than allowed.
    #[error("{what} has length {len}, at most {max} allowed")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// Its cap.
        max: usize,
    },
    /// An enum or option tag is not defined.
    #[error("unknown tag {tag} for {what}")]
    UnknownTag {
        /// Which type.
        what: &'static str,
        /// The tag byte.
        tag: u8,
    },
    /// Bytes remain after the message.
    #[error("{count} trailing bytes")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// An append-only output buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    fn len(&mut self, n: usize) {
        // Every list is capped far below u32::MAX before it is encoded.
        self.buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A cursor over input bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::UnexpectedEnd);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    /// A big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// A big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A big-endian `u32` length or count, refused (before anything is
    /// allocated) when over `max`; `what` names it in the error.
    pub fn len(&mut self, what: &'static str, max: usize) -> Result<usize, DecodeError> {
        let len = u32::from_be_bytes(self.array()?) as usize;
        if len > max {
            return Err(DecodeError::TooLong { what, len, max });
        }
        Ok(len)
    }
    /// A [`len`](Self::len)-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.len(what, max)?;
        self.take(len)
    }
    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
    /// `Ok` when every byte was read, else [`DecodeError::TrailingBytes`].
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }
}

/// Types with a canonical encoding.
pub trait Encode {
    /// Appends the encoding to `w`.
    fn encode(&self, w: &mut Writer);
}

/// Types decodable from their canonical encoding.
pub trait Decode: Sized {
    /// Reads one value from `r`.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl Encode for B256 {
    fn encode(&self, w: &mut Writer) {
        w.bytes(self.as_slice());
    }
}
impl Decode for B256 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(B256::from(r.array::<32>()?))
    }
}
impl Encode for Signature {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.to_bytes());
    }
}
impl Decode for Signature {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Signature::from_bytes(&r.array::<64>()?))
    }
}
impl Encode for ValidatorIndex {
    fn encode(&self, w: &mut Writer) {
        w.u16(self.0);
    }
}
impl Decode for ValidatorIndex {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ValidatorIndex(r.u16()?))
    }
}
impl<T: Encode> Encode for Option<T> {
    fn encode(&self, w: &mut Writer) {
        match self {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                v.encode(w);
            }
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(r)?)),
            tag => Err(DecodeError::UnknownTag { what: "option", tag }),
        }
    }
}

impl Encode for QuorumCert {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.view);
        self.block_id.encode(w);
        self.exec.encode(w);
        w.len(self.signatures.len());
        for (signer, sig) in &self.signatures {
            signer.encode(w);
            sig.encode(w);
        }
    }
}
impl Decode for QuorumCert {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (view, block_id, exec) = (r.u64()?, B256::decode(r)?, B256::decode(r)?);
        let n = r.len("qc signatures", MAX_VALIDATORS)?;
        let mut signatures = Vec::with_capacity(n);
        for _ in 0..n {
            signatures.push((ValidatorIndex::decode(r)?, Signature::decode(r)?));
        }
        Ok(Self { view, block_id, exec, signatures })
    }
}

impl Encode for TimeoutCert {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.view);
        self.high_qc.encode(w);
        w.len(self.signatures.len());
        for (signer, hqc, sig) in &self.signatures {
            signer.encode(w);
            w.u64(*hqc);
            sig.encode(w);
        }
    }
}
impl Decode for TimeoutCert {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (view, high_qc) = (r.u64()?, QuorumCert::decode(r)?);
        let n = r.len("tc signatures", MAX_VALIDATORS)?;
        let mut signatures = Vec::with_capacity(n);
        for _ in 0..n {
            signatures.push((ValidatorIndex::decode(r)?, r.u64()?, Signature::decode(r)?));
        }
        Ok(Self { view, high_qc, signatures })
    }
}

impl Encode for Block {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.view);
        w.u64(self.height);
        self.parent_id.encode(w);
        w.len(self.payload.len());
        for d in &self.payload {
            d.encode(w);
        }
        self.exec.encode(w);
        w.len(self.extra.len());
        w.bytes(&self.extra);
        self.proposer.encode(w);
        self.justify.encode(w);
    }
}
impl Decode for Block {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (view, height, parent_id) = (r.u64()?, r.u64()?, B256::decode(r)?);
        let n = r.len("payload", MAX_PAYLOAD_DIGESTS)?;
        let mut payload = Vec::with_capacity(n);
        for _ in 0..n {
            payload.push(B256::decode(r)?);
        }
        let exec = B256::decode(r)?;
        let n = r.len("extra", MAX_EXTRA_BYTES)?;
        let extra = r.take(n)?.to_vec();
        let (proposer, justify) = (ValidatorIndex::decode(r)?, QuorumCert::decode(r)?);
        Ok(Self { view, height, parent_id, payload, exec, extra, proposer, justify })
    }
}

impl Encode for Vote {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.view);
        self.block_id.encode(w);
        self.exec.encode(w);
        self.signer.encode(w);
        self.signature.encode(w);
    }
}
impl Decode for Vote {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            view: r.u64()?,
            block_id: B256::decode(r)?,
            exec: B256::decode(r)?,
            signer: ValidatorIndex::decode(r)?,
            signature: Signature::decode(r)?,
        })
    }
}

impl Encode for Timeout {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.view);
        self.high_qc.encode(w);
        self.last_tc.encode(w);
        self.vote.encode(w);
        self.signer.encode(w);
        self.signature.encode(w);
    }
}
impl Decode for Timeout {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            view: r.u64()?,
            high_qc: QuorumCert::decode(r)?,
            last_tc: Option::decode(r)?,
            vote: Option::decode(r)?,
            signer: ValidatorIndex::decode(r)?,
            signature: Signature::decode(r)?,
        })
    }
}

impl Encode for Message {
    fn encode(&self, w: &mut Writer) {
        match self {
            Message::Proposal(p) => {
                w.u8(1);
                p.block.encode(w);
                p.tc.encode(w);
                p.signature.encode(w);
            }
            Message::Vote(v) => {
                w.u8(2);
                v.encode(w);
            }
            Message::Timeout(t) => {
                w.u8(3);
                t.encode(w);
            }
            Message::SyncInfo(s) => {
                w.u8(4);
                s.high_qc.encode(w);
                s.high_tc.encode(w);
            }
            Message::BlockRequest(q) => {
                w.u8(5);
                w.u64(q.from_height);
                q.target.encode(w);
            }
            Message::BlockResponse(resp) => {
                w.u8(6);
                resp.target.encode(w);
                w.len(resp.blocks.len());
                for cb in &resp.blocks {
                    cb.block.encode(w);
                    cb.qc.encode(w);
                }
            }
        }
    }
}
impl Decode for Message {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => Message::Proposal(Proposal {
                block: Block::decode(r)?,
                tc: Option::decode(r)?,
                signature: Signature::decode(r)?,
            }),
            2 => Message::Vote(Vote::decode(r)?),
            3 => Message::Timeout(Timeout::decode(r)?),
            4 => Message::SyncInfo(SyncInfo {
                high_qc: QuorumCert::decode(r)?,
                high_tc: Option::decode(r)?,
            }),
            5 => Message::BlockRequest(BlockRequest {
                from_height: r.u64()?,
                target: B256::decode(r)?,
            }),
            6 => {
                let target = B256::decode(r)?;
                let n = r.len("response blocks", MAX_BLOCKS_PER_RESPONSE)?;
                let mut blocks = Vec::with_capacity(n);
                for _ in 0..n {
                    blocks.push(CertifiedBlock {
                        block: Block::decode(r)?,
                        qc: QuorumCert::decode(r)?,
                    });
                }
                Message::BlockResponse(BlockResponse { target, blocks })
            }
            tag => return Err(DecodeError::UnknownTag { what: "message", tag }),
        })
    }
}

/// Encodes a message canonically.
pub fn encode_message(msg: &Message) -> Vec<u8> {
    let mut w = Writer::default();
    msg.encode(&mut w);
    w.finish()
}

/// Decodes a message, rejecting inputs over [`MAX_MESSAGE_BYTES`] and trailing bytes.
pub fn decode_message(bytes: &[u8]) -> Result<Message, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLong {
            what: "message",
            len: bytes.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    let mut r = Reader::new(bytes);
    let msg = Message::decode(&mut r)?;
    r.finish()?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sig(seed: u8) -> Signature {
        Signature::from_bytes(&[seed; 64])
    }

    fn arb_b256() -> impl Strategy<Value = B256> {
        any::<[u8; 32]>().prop_map(B256::from)
    }

    fn arb_qc() -> impl Strategy<Value = QuorumCert> {
        (
            any::<u64>(),
            arb_b256(),
            arb_b256(),
            prop::collection::vec((any::<u16>(), any::<u8>()), 0..5),
        )
            .prop_map(|(view, block_id, exec, s)| QuorumCert {
                view,
                block_id,
                exec,
                signatures: s.into_iter().map(|(i, b)| (ValidatorIndex(i), sig(b))).collect(),
            })
    }

    fn arb_tc() -> impl Strategy<Value = TimeoutCert> {
        (
            any::<u64>(),
            arb_qc(),
            prop::collection::vec((any::<u16>(), any::<u64>(), any::<u8>()), 0..5),
        )
            .prop_map(|(view, high_qc, s)| TimeoutCert {
                view,
                high_qc,
                signatures: s.into_iter().map(|(i, h, b)| (ValidatorIndex(i), h, sig(b))).collect(),
            })
    }

    fn arb_block() -> impl Strategy<Value = Block> {
        (
            any::<(u64, u64, u16)>(),
            arb_b256(),
            prop::collection::vec(arb_b256(), 0..4),
            arb_b256(),
            arb_qc(),
            prop::collection::vec(any::<u8>(), 0..16),
        )
            .prop_map(|((view, height, p), parent_id, payload, exec, justify, extra)| {
                Block {
                    view,
                    height,
                    parent_id,
                    payload,
                    exec,
                    extra,
                    proposer: ValidatorIndex(p),
                    justify,
                }
            })
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (arb_block(), prop::option::of(arb_tc()), any::<u8>()).prop_map(|(block, tc, s)| {
                Message::Proposal(Proposal { block, tc, signature: sig(s) })
            }),
            (any::<u64>(), arb_b256(), arb_b256(), any::<u16>(), any::<u8>()).prop_map(
                |(view, block_id, exec, i, s)| Message::Vote(Vote {
                    view,
                    block_id,
                    exec,
                    signer: ValidatorIndex(i),
                    signature: sig(s)
                })
            ),
            (
                any::<u64>(),
                arb_qc(),
                prop::option::of(arb_tc()),
                any::<u16>(),
                any::<u8>(),
                any::<bool>()
            )
                .prop_map(|(view, high_qc, last_tc, i, s, voted)| Message::Timeout(
                    Timeout {
                        view,
                        high_qc,
                        last_tc,
                        vote: voted.then(|| Vote {
                            view,
                            block_id: B256::repeat_byte(s),
                            exec: B256::ZERO,
                            signer: ValidatorIndex(i),
                            signature: sig(s),
                        }),
                        signer: ValidatorIndex(i),
                        signature: sig(s)
                    }
                )),
            (arb_qc(), prop::option::of(arb_tc()))
                .prop_map(|(high_qc, high_tc)| Message::SyncInfo(SyncInfo { high_qc, high_tc })),
            (any::<u64>(), arb_b256()).prop_map(|(from_height, target)| Message::BlockRequest(
                BlockRequest { from_height, target }
            )),
            (arb_b256(), prop::collection::vec((arb_block(), arb_qc()), 0..3)).prop_map(
                |(target, b)| {
                    Message::BlockResponse(BlockResponse {
                        target,
                        blocks: b
                            .into_iter()
                            .map(|(block, qc)| CertifiedBlock { block, qc })
                            .collect(),
                    })
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn round_trips(msg in arb_message()) {
            let bytes = encode_message(&msg);
            prop_assert_eq!(decode_message(&bytes), Ok(msg));
        }

        #[test]
        fn rejects_truncation_and_trailing_bytes(msg in arb_message(), cut in any::<prop::sample::Index>()) {
            let bytes = encode_message(&msg);
            let at = cut.index(bytes.len());
            prop_assert!(decode_message(&bytes[..at]).is_err());
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert_eq!(decode_message(&longer), Err(DecodeError::TrailingBytes { count: 1 }));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_message(&bytes);
        }
    }

    #[test]
    fn rejects_oversize_lists_and_unknown_tags() {
        assert_eq!(decode_message(&[9]), Err(DecodeError::UnknownTag { what: "message", tag: 9 }));
        let mut bytes = vec![6];
        bytes.extend_from_slice(&[0; 32]);
        bytes.extend_from_slice(&1000u32.to_be_bytes());
        assert!(matches!(
            decode_message(&bytes),
            Err(DecodeError::TooLong { what: "response blocks", .. })
        ));
    }
}

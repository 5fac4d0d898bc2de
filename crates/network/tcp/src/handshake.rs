//! The mutual authentication handshake.
//!
//! Both sides send a `Hello` (protocol version, chain id, ed25519 public key,
//! fresh 32-byte nonce), then each signs the transcript hash — a domain tag,
//! the chain id, and both keys and nonces in dialer-then-acceptor order — and
//! sends the signature. A side accepts the other only when the key is in the
//! configured validator set and the signature verifies against it. The fresh
//! nonces make every signature specific to this connection, so a recorded
//! handshake cannot be replayed; the role byte in the signed message keeps a
//! dialer's signature from being usable as an acceptor's.

use crate::frame::{read_frame, write_frame, FrameIoError};
use crate::ValidatorIndex;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// The wire protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// Bytes of an encoded `Hello`.
pub const HELLO_BYTES: usize = 4 + 2 + 8 + 32 + 32;
/// Bytes of an encoded authentication message (one ed25519 signature).
pub const AUTH_BYTES: usize = 64;
/// Largest frame accepted before the peer is authenticated.
pub const HANDSHAKE_FRAME_BYTES_MAX: u32 = 128;

const HELLO_MAGIC: [u8; 4] = *b"PHXN";
const TRANSCRIPT_DOMAIN: &[u8] = b"phalanx/net/handshake-transcript/v1";
const AUTH_DOMAIN: &[u8] = b"phalanx/net/handshake-auth/v1";

/// Which end of the TCP connection a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that called `connect`.
    Dialer,
    /// The side that called `accept`.
    Acceptor,
}

impl Role {
    /// A distinct byte per role, mixed into everything a side signs.
    pub fn tag(self) -> u8 {
        match self {
            Role::Dialer => 0xd1,
            Role::Acceptor => 0xac,
        }
    }

    /// The other end's role.
    pub fn opposite(self) -> Role {
        match self {
            Role::Dialer => Role::Acceptor,
            Role::Acceptor => Role::Dialer,
        }
    }
}

/// The first message of each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The sender's protocol version.
    pub version: u16,
    /// The chain the sender belongs to.
    pub chain_id: u64,
    /// The sender's ed25519 public key (not yet proven to be its own).
    pub public_key: [u8; 32],
    /// Fresh randomness binding the signatures to this connection.
    pub nonce: [u8; 32],
}

impl Hello {
    /// Encodes to exactly `HELLO_BYTES` bytes.
    pub fn encode(&self) -> [u8; HELLO_BYTES] {
        let mut out = [0u8; HELLO_BYTES];
        out[..4].copy_from_slice(&HELLO_MAGIC);
        out[4..6].copy_from_slice(&self.version.to_be_bytes());
        out[6..14].copy_from_slice(&self.chain_id.to_be_bytes());
        out[14..46].copy_from_slice(&self.public_key);
        out[46..78].copy_from_slice(&self.nonce);
        out
    }

    /// Decodes exactly `HELLO_BYTES` bytes starting with the magic; anything
    /// else is `Malformed`. The version and chain are checked by the caller.
    pub fn decode(bytes: &[u8]) -> Result<Hello, HandshakeError> {
        let bytes: &[u8; HELLO_BYTES] =
            bytes.try_into().map_err(|_| HandshakeError::Malformed { what: "hello length" })?;
        if bytes[..4] != HELLO_MAGIC {
            return Err(HandshakeError::Malformed { what: "hello magic" });
        }
        let take32 = |at: usize| -> [u8; 32] { bytes[at..at + 32].try_into().expect("32 bytes") };
        Ok(Hello {
            version: u16::from_be_bytes([bytes[4], bytes[5]]),
            chain_id: u64::from_be_bytes(bytes[6..14].try_into().expect("8 bytes")),
            public_key: take32(14),
            nonce: take32(46),
        })
    }
}

/// Decodes an authentication message: exactly one 64-byte signature.
pub fn decode_auth(bytes: &[u8]) -> Result<Signature, HandshakeError> {
    let bytes: &[u8; AUTH_BYTES] =
        bytes.try_into().map_err(|_| HandshakeError::Malformed { what: "auth length" })?;
    Ok(Signature::from_bytes(bytes))
}

/// The hash both sides sign: it binds the chain, both identities and both
/// nonces, in a fixed (dialer, acceptor) order both sides agree on.
pub fn transcript_hash(chain_id: u64, dialer: &Hello, acceptor: &Hello) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(TRANSCRIPT_DOMAIN);
    h.update(chain_id.to_be_bytes());
    for hello in [dialer, acceptor] {
        h.update(hello.encode());
    }
    h.finalize().into()
}

/// The exact bytes a side with `role` signs to prove its key.
pub fn auth_message(role: Role, transcript: &[u8; 32]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(AUTH_DOMAIN.len() + 1 + 32);
    msg.extend_from_slice(AUTH_DOMAIN);
    msg.push(role.tag());
    msg.extend_from_slice(transcript);
    msg
}

/// Why a handshake failed; each variant maps to one rejection counter.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// A handshake message did not have the expected shape.
    #[error("malformed handshake: bad {what}")]
    Malformed {
        /// Which part was wrong.
        what: &'static str,
    },
    /// The peer speaks another protocol version.
    #[error("peer speaks protocol version {got}, we speak {PROTOCOL_VERSION}")]
    WrongVersion {
        /// The peer's version.
        got: u16,
    },
    /// The peer belongs to another chain.
    #[error("peer is on chain {got}, we are on chain {expected}")]
    WrongChain {
        /// The peer's chain id.
        got: u64,
        /// Ours.
        expected: u64,
    },
    /// The peer's key is not in the validator set.
    #[error("peer key is not in the validator set")]
    UnknownPeer,
    /// The peer is a validator, but not the one this connection may carry:
    /// the one we dialled, or (when accepting) one with a lower index than
    /// ours, since only the lower index dials.
    #[error("peer {got} is not expected on this connection")]
    UnexpectedPeer {
        /// The index the peer's key belongs to.
        got: ValidatorIndex,
    },
    /// The peer's signature does not verify against its key.
    #[error("peer's handshake signature is invalid")]
    BadSignature,
    /// The peer did not finish the handshake in time.
    #[error("handshake timed out")]
    Timeout,
    /// The stream failed or a frame was refused.
    #[error("handshake transport failed: {0}")]
    Transport(#[from] FrameIoError),
}

/// This node's identity and the validator set, as the handshake needs them.
#[derive(Debug, Clone)]
pub struct HandshakeContext {
    chain_id: u64,
    me: ValidatorIndex,
    signing_key: SigningKey,
    keys: HashMap<[u8; 32], (ValidatorIndex, VerifyingKey)>,
}

impl HandshakeContext {
    /// Builds a context; `validators` is the whole set, this node included.
    pub fn new(
        chain_id: u64,
        me: ValidatorIndex,
        signing_key: SigningKey,
        validators: impl IntoIterator<Item = (ValidatorIndex, VerifyingKey)>,
    ) -> HandshakeContext {
        let keys = validators.into_iter().map(|(i, k)| (k.to_bytes(), (i, k))).collect();
        HandshakeContext { chain_id, me, signing_key, keys }
    }
}

/// The outcome of a successful handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The authenticated peer's validator index.
    pub peer: ValidatorIndex,
    /// The authenticated peer's key.
    pub peer_key: VerifyingKey,
    /// This side's role.
    pub role: Role,
    /// The transcript hash: unique per connection, it scopes per-frame
    /// signatures to this connection.
    pub session_id: [u8; 32],
}

/// Runs the handshake on `stream` as `role`. A dialer passes the index it
/// meant to reach in `expected`; an acceptor passes `None` and accepts only
/// validators with a lower index than its own. The caller bounds the time.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    ctx: &HandshakeContext,
    role: Role,
    expected: Option<ValidatorIndex>,
) -> Result<Session, HandshakeError> {
    let mut nonce = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ours = Hello {
        version: PROTOCOL_VERSION,
        chain_id: ctx.chain_id,
        public_key: ctx.signing_key.verifying_key().to_bytes(),
        nonce,
    };
    send(stream, &ours.encode()).await?;
    let theirs = Hello::decode(&receive(stream).await?)?;
    let (peer, peer_key) = check_hello(ctx, &theirs, role, expected)?;
    let transcript = match role {
        Role::Dialer => transcript_hash(ctx.chain_id, &ours, &theirs),
        Role::Acceptor => transcript_hash(ctx.chain_id, &theirs, &ours),
    };
    let signature = ctx.signing_key.sign(&auth_message(role, &transcript));
    send(stream, &signature.to_bytes()).await?;
    let their_signature = decode_auth(&receive(stream).await?)?;
    peer_key
        .verify_strict(&auth_message(role.opposite(), &transcript), &their_signature)
        .map_err(|_| HandshakeError::BadSignature)?;
    Ok(Session { peer, peer_key, role, session_id: transcript })
}

/// Checks the peer's claims that need no signature: version, chain, set
/// membership, and that the peer belongs on this connection.
fn check_hello(
    ctx: &HandshakeContext,
    theirs: &Hello,
    role: Role,
    expected: Option<ValidatorIndex>,
) -> Result<(ValidatorIndex, VerifyingKey), HandshakeError> {
    if theirs.version != PROTOCOL_VERSION {
        return Err(HandshakeError::WrongVersion { got: theirs.version });
    }
    if theirs.chain_id != ctx.chain_id {
        return Err(HandshakeError::WrongChain { got: theirs.chain_id, expected: ctx.chain_id });
    }
    let &(peer, key) = ctx.keys.get(&theirs.public_key).ok_or(HandshakeError::UnknownPeer)?;
    let allowed = match role {
        Role::Dialer => expected == Some(peer),
        Role::Acceptor => peer < ctx.me,
    };
    if !allowed || peer == ctx.me {
        return Err(HandshakeError::UnexpectedPeer { got: peer });
    }
    Ok((peer, key))
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, payload: &[u8]) -> Result<(), HandshakeError> {
    write_frame(stream, &[payload], HANDSHAKE_FRAME_BYTES_MAX).await?;
    stream.flush().await.map_err(FrameIoError::from)?;
    Ok(())
}

async fn receive<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, HandshakeError> {
    match read_frame(stream, HANDSHAKE_FRAME_BYTES_MAX).await? {
        Some(payload) => Ok(payload),
        None => Err(FrameIoError::Io(std::io::ErrorKind::UnexpectedEof.into()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u8) -> Vec<SigningKey> {
        (0..n).map(|i| SigningKey::from_bytes(&[i + 1; 32])).collect()
    }

    fn ctx(all: &[SigningKey], me: usize, chain_id: u64) -> HandshakeContext {
        let set = all.iter().enumerate().map(|(i, k)| (i as ValidatorIndex, k.verifying_key()));
        HandshakeContext::new(chain_id, me as ValidatorIndex, all[me].clone(), set)
    }

    async fn pair(
        dialer: HandshakeContext,
        acceptor: HandshakeContext,
        expected: ValidatorIndex,
    ) -> (Result<Session, HandshakeError>, Result<Session, HandshakeError>) {
        let (mut a, mut b) = tokio::io::duplex(1024);
        tokio::join!(
            async move { handshake(&mut a, &dialer, Role::Dialer, Some(expected)).await },
            async move { handshake(&mut b, &acceptor, Role::Acceptor, None).await },
        )
    }

    #[tokio::test]
    async fn honest_pair_agrees_on_session() {
        let all = keys(3);
        let (d, a) = pair(ctx(&all, 0, 7), ctx(&all, 2, 7), 2).await;
        let (d, a) = (d.unwrap(), a.unwrap());
        assert_eq!((d.peer, a.peer), (2, 0));
        assert_eq!(d.session_id, a.session_id);
    }

    #[tokio::test]
    async fn wrong_chain_and_unknown_key_are_rejected() {
        let all = keys(3);
        let (_, a) = pair(ctx(&all, 0, 7), ctx(&all, 1, 8), 1).await;
        assert!(matches!(a, Err(HandshakeError::WrongChain { got: 7, expected: 8 })));
        // The dialer's key is missing from the acceptor's set.
        let acceptor = HandshakeContext::new(
            7,
            1,
            all[1].clone(),
            [(1, all[1].verifying_key()), (2, all[2].verifying_key())],
        );
        let (_, a) = pair(ctx(&all, 0, 7), acceptor, 1).await;
        assert!(matches!(a, Err(HandshakeError::UnknownPeer)));
    }

    #[tokio::test]
    async fn higher_index_may_not_dial() {
        let all = keys(3);
        let (_, a) = pair(ctx(&all, 2, 7), ctx(&all, 1, 7), 1).await;
        assert!(matches!(a, Err(HandshakeError::UnexpectedPeer { got: 2 })));
    }

    #[test]
    fn hello_codec_round_trips_and_rejects_garbage() {
        let hello = Hello { version: 1, chain_id: 9, public_key: [3; 32], nonce: [4; 32] };
        assert_eq!(Hello::decode(&hello.encode()).unwrap(), hello);
        assert!(Hello::decode(&hello.encode()[1..]).is_err());
        assert!(Hello::decode(&[0; HELLO_BYTES]).is_err());
        assert!(decode_auth(&[0; 63]).is_err());
    }
}

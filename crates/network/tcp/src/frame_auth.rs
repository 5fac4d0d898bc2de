//! Optional per-frame signatures (`NetConfig::sign_frames`).
//!
//! A plain TCP stream gives no integrity against an on-path attacker who can
//! inject or rewrite segments after the handshake. When enabled, every frame
//! ends with an ed25519 signature over a hash of (domain tag, session id,
//! sender role, sequence number, message). The session id is the handshake
//! transcript, so frames cannot be moved between connections; the implicit
//! per-direction sequence number rejects replayed, dropped or reordered
//! frames within one. The cost is one signature per message sent (tens of
//! microseconds) and one verification per message received (roughly twice
//! that), plus 64 bytes per frame.

use crate::handshake::Role;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Bytes of the signature trailer on each signed frame.
pub const FRAME_SIGNATURE_BYTES: usize = 64;

const FRAME_DOMAIN: &[u8] = b"phalanx/net/frame/v1";

/// A signed frame failed verification (or was too short to carry a
/// signature); the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frame {seq} has an invalid signature")]
pub struct BadFrameSignature {
    /// The sequence number the frame was expected to have.
    pub seq: u64,
}

/// The hash a frame's signature covers.
pub fn frame_digest(session_id: &[u8; 32], sender: Role, seq: u64, message: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(FRAME_DOMAIN);
    h.update(session_id);
    h.update([sender.tag()]);
    h.update(seq.to_be_bytes());
    h.update(message);
    h.finalize().into()
}

/// Signs outgoing frames of one connection, numbering them from zero.
#[derive(Debug)]
pub struct FrameSigner {
    key: SigningKey,
    session_id: [u8; 32],
    role: Role,
    seq: u64,
}

impl FrameSigner {
    /// A signer for the side with `role` on the connection `session_id`.
    pub fn new(key: SigningKey, session_id: [u8; 32], role: Role) -> FrameSigner {
        FrameSigner { key, session_id, role, seq: 0 }
    }

    /// The trailer for the next frame carrying `message`.
    pub fn sign(&mut self, message: &[u8]) -> [u8; FRAME_SIGNATURE_BYTES] {
        let digest = frame_digest(&self.session_id, self.role, self.seq, message);
        self.seq += 1;
        self.key.sign(&digest).to_bytes()
    }
}

/// Verifies incoming frames of one connection, in order.
#[derive(Debug)]
pub struct FrameVerifier {
    key: VerifyingKey,
    session_id: [u8; 32],
    sender: Role,
    seq: u64,
}

impl FrameVerifier {
    /// A verifier for frames sent by `key`, playing `sender`, on `session_id`.
    pub fn new(key: VerifyingKey, session_id: [u8; 32], sender: Role) -> FrameVerifier {
        FrameVerifier { key, session_id, sender, seq: 0 }
    }

    /// Checks the next frame and returns its message (the frame minus the
    /// trailer).
    pub fn open<'a>(&mut self, frame: &'a [u8]) -> Result<&'a [u8], BadFrameSignature> {
        let bad = BadFrameSignature { seq: self.seq };
        let split = frame.len().checked_sub(FRAME_SIGNATURE_BYTES).ok_or(bad.clone())?;
        let (message, trailer) = frame.split_at(split);
        let signature = Signature::from_slice(trailer).map_err(|_| bad.clone())?;
        let digest = frame_digest(&self.session_id, self.sender, self.seq, message);
        self.key.verify_strict(&digest, &signature).map_err(|_| bad)?;
        self.seq += 1;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (FrameSigner, FrameVerifier) {
        let key = SigningKey::from_bytes(&[5; 32]);
        let verifier = FrameVerifier::new(key.verifying_key(), [9; 32], Role::Dialer);
        (FrameSigner::new(key, [9; 32], Role::Dialer), verifier)
    }

    fn signed(signer: &mut FrameSigner, message: &[u8]) -> Vec<u8> {
        let mut frame = message.to_vec();
        frame.extend_from_slice(&signer.sign(message));
        frame
    }

    #[test]
    fn in_order_frames_verify() {
        let (mut s, mut v) = pair();
        for msg in [&b"a"[..], b"", b"ccc"] {
            assert_eq!(v.open(&signed(&mut s, msg)).unwrap(), msg);
        }
    }

    #[test]
    fn tampered_replayed_and_short_frames_fail() {
        let (mut s, mut v) = pair();
        let first = signed(&mut s, b"vote");
        let mut tampered = first.clone();
        tampered[0] ^= 1;
        assert!(v.open(&tampered).is_err());
        assert!(v.open(&first).is_ok());
        assert!(v.open(&first).is_err(), "a replay carries a stale sequence number");
        assert!(v.open(&[0; 10]).is_err());
    }
}

//! Network configuration and its validation.

use crate::frame::FRAME_BYTES_MAX_DEFAULT;
use crate::frame_auth::FRAME_SIGNATURE_BYTES;
use crate::ValidatorIndex;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::collections::HashSet;
use std::net::SocketAddr;

/// One member of the validator set, as the network sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The validator's index in the set.
    pub index: ValidatorIndex,
    /// Its ed25519 consensus key, which it proves possession of on connect.
    pub public_key: VerifyingKey,
    /// Where it listens. Addresses come from configuration only; nothing
    /// learnt from a peer ever changes them.
    pub address: SocketAddr,
}

/// Everything `Network::start` needs.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// This node's index; it must appear in `validators`.
    pub me: ValidatorIndex,
    /// This node's consensus key; its public half must match `validators[me]`.
    pub signing_key: SigningKey,
    /// The whole validator set, this node included.
    pub validators: Vec<PeerInfo>,
    /// The address to listen on (ignored by `Network::start_with_listener`).
    pub listen: SocketAddr,
    /// The chain id both sides of a handshake must agree on.
    pub chain_id: u64,
    /// Largest message payload, in bytes; a larger incoming frame closes the
    /// connection, a larger outgoing message is refused by `send`.
    pub frame_bytes_max: u32,
    /// Messages queued per peer before the oldest is dropped.
    pub outbound_queue_max: usize,
    /// Capacity of the inbound channel, in messages; when full, readers stop
    /// reading and TCP pushes back on the senders.
    pub inbound_queue_max: usize,
    /// First reconnection delay, in milliseconds.
    pub connect_backoff_min_ms: u64,
    /// Cap of the exponentially growing reconnection delay, in milliseconds.
    pub connect_backoff_max_ms: u64,
    /// Bound on connecting plus the whole handshake, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// Whether every frame carries an ed25519 signature (see the crate docs).
    /// Both ends must agree; off by default because consensus messages are
    /// signed by the consensus layer.
    pub sign_frames: bool,
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid network configuration: {reason}")]
pub struct ConfigError {
    /// What to fix.
    pub reason: String,
}

impl NetConfig {
    /// A configuration with the default limits and timings.
    pub fn new(
        me: ValidatorIndex,
        signing_key: SigningKey,
        validators: Vec<PeerInfo>,
        listen: SocketAddr,
        chain_id: u64,
    ) -> NetConfig {
        NetConfig {
            me,
            signing_key,
            validators,
            listen,
            chain_id,
            frame_bytes_max: FRAME_BYTES_MAX_DEFAULT,
            outbound_queue_max: 1024,
            inbound_queue_max: 4096,
            connect_backoff_min_ms: 100,
            connect_backoff_max_ms: 10_000,
            handshake_timeout_ms: 5_000,
            sign_frames: false,
        }
    }

    /// Checks every invariant the network relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |reason: &str| Err(ConfigError { reason: reason.to_string() });
        let mut indexes = HashSet::new();
        let mut keys = HashSet::new();
        for peer in &self.validators {
            if !indexes.insert(peer.index) {
                return fail("validator indexes must be unique");
            }
            if !keys.insert(peer.public_key.to_bytes()) {
                return fail("validator keys must be unique");
            }
        }
        let Some(me) = self.validators.iter().find(|p| p.index == self.me) else {
            return fail("`me` is not in the validator set");
        };
        if me.public_key != self.signing_key.verifying_key() {
            return fail("the signing key does not match this validator's public key");
        }
        if self.frame_bytes_max == 0 || self.wire_frame_bytes_max().is_none() {
            return fail("frame_bytes_max must be in 1..=u32::MAX - 64");
        }
        if self.outbound_queue_max == 0 || self.inbound_queue_max == 0 {
            return fail("queue sizes must be positive");
        }
        if self.connect_backoff_min_ms == 0
            || self.connect_backoff_min_ms > self.connect_backoff_max_ms
        {
            return fail("need 0 < connect_backoff_min_ms <= connect_backoff_max_ms");
        }
        if self.handshake_timeout_ms == 0 {
            return fail("handshake_timeout_ms must be positive");
        }
        Ok(())
    }

    /// The largest frame payload on the wire: the message plus the signature
    /// trailer when frames are signed; `None` if that overflows a `u32`.
    pub fn wire_frame_bytes_max(&self) -> Option<u32> {
        let trailer = if self.sign_frames { FRAME_SIGNATURE_BYTES as u32 } else { 0 };
        self.frame_bytes_max.checked_add(trailer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NetConfig {
        let key = SigningKey::from_bytes(&[1; 32]);
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let me = PeerInfo { index: 0, public_key: key.verifying_key(), address: addr };
        NetConfig::new(0, key, vec![me], addr, 1)
    }

    #[test]
    fn default_config_is_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn inconsistent_configs_are_rejected() {
        let mut c = config();
        c.me = 3;
        assert!(c.validate().is_err());
        let mut c = config();
        c.signing_key = SigningKey::from_bytes(&[2; 32]);
        assert!(c.validate().is_err());
        let mut c = config();
        c.validators.push(c.validators[0].clone());
        assert!(c.validate().is_err());
        let mut c = config();
        c.sign_frames = true;
        c.frame_bytes_max = u32::MAX;
        assert!(c.validate().is_err());
        let mut c = config();
        c.connect_backoff_min_ms = 10;
        c.connect_backoff_max_ms = 5;
        assert!(c.validate().is_err());
    }
}

//! Phalanx's validator-to-validator network: authenticated, bounded TCP.
//!
//! Carries opaque byte messages (the consensus crate encodes and decodes
//! them) between the members of a fixed validator set, each identified by
//! its index and its ed25519 consensus key. Start it with
//! [`Network::start`]; drive it with the returned [`NetworkHandle`]; read
//! what peers sent from the returned channel of [`Inbound`] messages.
//!
//! # Wire protocol
//! Everything travels in [`frame`]s: a `u32` big-endian length, then the
//! payload. A connection begins with the [`handshake`]: each side sends its
//! protocol version, chain id, public key and a fresh nonce, then signs the
//! transcript of both; keys outside the configured set, bad signatures, and
//! wrong chains or versions close the connection and are counted in
//! [`NetMetrics`]. Afterwards every frame is one message from the
//! authenticated peer.
//!
//! # Security model
//! The stream is **not encrypted**: the network is meant for a permissioned
//! LAN, and consensus messages are not secret. Confidentiality would need
//! Noise or TLS on top. The handshake proves who opened the connection, but
//! a plain TCP stream does not protect what follows against an on-path
//! attacker who can inject or rewrite segments. Phalanx relies on the
//! consensus layer for message integrity by default — it signs every vote,
//! proposal and timeout, and must verify them whatever the transport — so
//! that [`Inbound::from`] is a routing hint, trustworthy only against
//! off-path senders. Deployments that want transport-level integrity set
//! [`NetConfig::sign_frames`]: every frame then carries an ed25519 signature
//! bound to the connection and a sequence number (see [`frame_auth`] for the
//! cost), and `from` is authenticated per message.
//!
//! # Connections and bounds
//! The lower index of each pair dials, the higher accepts, so each pair has
//! one logical connection; a newer accepted connection from a peer replaces
//! the older (the peer has restarted). Lost connections are redialled with
//! exponential backoff and jitter. Each peer has a bounded outbound queue
//! that drops its *oldest* message when full (consensus tolerates loss and
//! prefers fresh messages); the inbound channel is bounded and a slow
//! consumer stalls the readers, which lets TCP flow control push back on
//! the senders. Frames above `frame_bytes_max` close the connection before
//! anything is allocated; pending handshakes are bounded too. Idle dead
//! connections are noticed on the next write (or replaced when the peer
//! reconnects); there is no application-level keepalive.

pub mod frame;
pub mod frame_auth;
pub mod handshake;

mod backoff;
mod config;
mod conn;
mod metrics;
mod network;
mod peer;

pub use config::{ConfigError, NetConfig, PeerInfo};
pub use metrics::{NetMetrics, PeerMetrics};
pub use network::{Network, NetworkHandle, SendError, StartError};
pub use peer::Enqueued;

/// A validator's position in the validator set.
pub type ValidatorIndex = u32;

/// A message received from an authenticated peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The validator whose connection carried the message.
    pub from: ValidatorIndex,
    /// The message, exactly as the sender passed it to `send`.
    pub bytes: bytes::Bytes,
}

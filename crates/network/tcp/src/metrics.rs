//! Atomic counters and their snapshots.
//!
//! Counters are monotonic and updated with relaxed ordering: a snapshot is a
//! set of individually exact values, not a consistent cut across them.

use crate::frame::FrameIoError;
use crate::handshake::HandshakeError;
use crate::ValidatorIndex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-peer counters, live.
#[derive(Debug, Default)]
pub(crate) struct PeerCounters {
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub dropped_outbound: AtomicU64,
    pub connections: AtomicU64,
    pub dial_failures: AtomicU64,
}

/// A snapshot of one peer's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerMetrics {
    /// Messages received from the peer and handed to the inbound channel.
    pub frames_in: u64,
    /// Messages written to the peer's connection.
    pub frames_out: u64,
    /// Message payload bytes received (framing and trailers excluded).
    pub bytes_in: u64,
    /// Message payload bytes sent (framing and trailers excluded).
    pub bytes_out: u64,
    /// Messages dropped from the peer's full outbound queue (oldest first).
    pub dropped_outbound: u64,
    /// Authenticated connections established with the peer, ever.
    pub connections: u64,
    /// Connections established after the first one: `connections - 1`, or 0.
    pub reconnects: u64,
    /// Dial attempts to the peer that failed to connect or to authenticate
    /// (only the lower index of a pair dials, so 0 on the other side).
    pub dial_failures: u64,
}

impl PeerCounters {
    pub(crate) fn snapshot(&self) -> PeerMetrics {
        let connections = load(&self.connections);
        PeerMetrics {
            frames_in: load(&self.frames_in),
            frames_out: load(&self.frames_out),
            bytes_in: load(&self.bytes_in),
            bytes_out: load(&self.bytes_out),
            dropped_outbound: load(&self.dropped_outbound),
            connections,
            reconnects: connections.saturating_sub(1),
            dial_failures: load(&self.dial_failures),
        }
    }
}

/// Node-wide counters, live.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub rejected_unknown_peer: AtomicU64,
    pub rejected_bad_signature: AtomicU64,
    pub rejected_wrong_chain: AtomicU64,
    pub rejected_wrong_version: AtomicU64,
    pub rejected_unexpected_peer: AtomicU64,
    pub rejected_malformed: AtomicU64,
    pub handshake_timeouts: AtomicU64,
    pub handshake_transport_errors: AtomicU64,
    pub oversized_frames: AtomicU64,
    pub bad_frame_signatures: AtomicU64,
    pub accepts_refused: AtomicU64,
}

/// A snapshot of every counter of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetMetrics {
    /// Per-peer counters, by validator index (this node excluded).
    pub peers: BTreeMap<ValidatorIndex, PeerMetrics>,
    /// Handshakes rejected: the key is not in the validator set.
    pub rejected_unknown_peer: u64,
    /// Handshakes rejected: the signature did not verify.
    pub rejected_bad_signature: u64,
    /// Handshakes rejected: the peer is on another chain.
    pub rejected_wrong_chain: u64,
    /// Handshakes rejected: the peer speaks another protocol version.
    pub rejected_wrong_version: u64,
    /// Handshakes rejected: a validator on a connection it may not use (a
    /// higher index dialling a lower one, ourselves, or not whom we dialled).
    pub rejected_unexpected_peer: u64,
    /// Handshakes rejected: malformed handshake messages.
    pub rejected_malformed: u64,
    /// Handshakes (or connects) that did not finish in time.
    pub handshake_timeouts: u64,
    /// Handshakes aborted by I/O errors, early close or oversized frames.
    pub handshake_transport_errors: u64,
    /// Frames whose announced length exceeded the limit, before or after the
    /// handshake; each closed its connection.
    pub oversized_frames: u64,
    /// Signed frames that failed verification; each closed its connection.
    pub bad_frame_signatures: u64,
    /// Incoming connections closed at once because too many handshakes were
    /// already pending.
    pub accepts_refused: u64,
}

impl NetMetrics {
    /// Sum of all handshake rejections and failures.
    pub fn handshakes_failed(&self) -> u64 {
        self.rejected_unknown_peer
            + self.rejected_bad_signature
            + self.rejected_wrong_chain
            + self.rejected_wrong_version
            + self.rejected_unexpected_peer
            + self.rejected_malformed
            + self.handshake_timeouts
            + self.handshake_transport_errors
    }
}

impl Counters {
    /// Counts a failed handshake under its reason (an oversized handshake
    /// frame also counts as an oversized frame).
    pub(crate) fn record_handshake_error(&self, error: &HandshakeError) {
        if matches!(error, HandshakeError::Transport(FrameIoError::Frame(_))) {
            bump(&self.oversized_frames);
        }
        let counter = match error {
            HandshakeError::Malformed { .. } => &self.rejected_malformed,
            HandshakeError::WrongVersion { .. } => &self.rejected_wrong_version,
            HandshakeError::WrongChain { .. } => &self.rejected_wrong_chain,
            HandshakeError::UnknownPeer => &self.rejected_unknown_peer,
            HandshakeError::UnexpectedPeer { .. } => &self.rejected_unexpected_peer,
            HandshakeError::BadSignature => &self.rejected_bad_signature,
            HandshakeError::Timeout => &self.handshake_timeouts,
            HandshakeError::Transport(_) => &self.handshake_transport_errors,
        };
        bump(counter);
    }

    pub(crate) fn snapshot(&self, peers: BTreeMap<ValidatorIndex, PeerMetrics>) -> NetMetrics {
        NetMetrics {
            peers,
            rejected_unknown_peer: load(&self.rejected_unknown_peer),
            rejected_bad_signature: load(&self.rejected_bad_signature),
            rejected_wrong_chain: load(&self.rejected_wrong_chain),
            rejected_wrong_version: load(&self.rejected_wrong_version),
            rejected_unexpected_peer: load(&self.rejected_unexpected_peer),
            rejected_malformed: load(&self.rejected_malformed),
            handshake_timeouts: load(&self.handshake_timeouts),
            handshake_transport_errors: load(&self.handshake_transport_errors),
            oversized_frames: load(&self.oversized_frames),
            bad_frame_signatures: load(&self.bad_frame_signatures),
            accepts_refused: load(&self.accepts_refused),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

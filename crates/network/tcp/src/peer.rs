//! Per-peer state: the bounded outbound queue and the current connection.

use crate::config::PeerInfo;
use crate::metrics::{bump, PeerCounters};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;
use tokio::sync::{oneshot, Notify};

/// What `send` did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued; nothing was lost.
    Queued,
    /// Queued, and the peer's oldest queued message was dropped (and
    /// counted in `PeerMetrics::dropped_outbound`) to make room.
    DroppedOldest,
}

/// The live connection to a peer: its generation, and how to close it.
#[derive(Debug)]
struct Current {
    generation: u64,
    close: oneshot::Sender<()>,
}

/// Everything the network keeps about one peer.
#[derive(Debug)]
pub(crate) struct PeerSlot {
    pub info: PeerInfo,
    pub counters: PeerCounters,
    queue_max: usize,
    queue: Mutex<VecDeque<Bytes>>,
    queue_ready: Notify,
    current: Mutex<Option<Current>>,
}

impl PeerSlot {
    pub(crate) fn new(info: PeerInfo, queue_max: usize) -> PeerSlot {
        assert!(queue_max > 0, "an outbound queue must hold at least one message");
        PeerSlot {
            info,
            counters: PeerCounters::default(),
            queue_max,
            queue: Mutex::new(VecDeque::with_capacity(queue_max.min(1024))),
            queue_ready: Notify::new(),
            current: Mutex::new(None),
        }
    }

    /// Appends a message, dropping the oldest when the queue is full: for
    /// consensus a fresh message is worth more than a stale one, and a peer
    /// that cannot keep up will catch up through the consensus layer's own
    /// synchronisation anyway.
    pub(crate) fn enqueue(&self, message: Bytes) -> Enqueued {
        let outcome = {
            let mut queue = self.queue.lock();
            let outcome = if queue.len() >= self.queue_max {
                queue.pop_front();
                Enqueued::DroppedOldest
            } else {
                Enqueued::Queued
            };
            queue.push_back(message);
            debug_assert!(queue.len() <= self.queue_max);
            outcome
        };
        if outcome == Enqueued::DroppedOldest {
            bump(&self.counters.dropped_outbound);
        }
        // One stored permit suffices: the writer drains the whole queue per wake-up.
        self.queue_ready.notify_one();
        outcome
    }

    /// The next message to write, if any.
    pub(crate) fn dequeue(&self) -> Option<Bytes> {
        self.queue.lock().pop_front()
    }

    /// Resolves after the next `enqueue` (or at once if one happened since
    /// the last wake-up).
    pub(crate) async fn queue_ready(&self) {
        self.queue_ready.notified().await;
    }

    /// Makes a new connection the current one, closing the previous (a peer
    /// that reconnects has lost the old one, even if we have not noticed).
    /// Returns the receiver that fires when this connection is superseded.
    pub(crate) fn install(&self, generation: u64) -> oneshot::Receiver<()> {
        let (close, closed) = oneshot::channel();
        let previous = self.current.lock().replace(Current { generation, close });
        if let Some(previous) = previous {
            // The old connection may already be gone; then nobody listens.
            let _ = previous.close.send(());
        }
        bump(&self.counters.connections);
        closed
    }

    /// Forgets the connection `generation` if it is still the current one.
    pub(crate) fn uninstall(&self, generation: u64) {
        let mut current = self.current.lock();
        if current.as_ref().is_some_and(|c| c.generation == generation) {
            *current = None;
        }
    }

    /// Whether an authenticated connection to the peer is up.
    pub(crate) fn is_connected(&self) -> bool {
        self.current.lock().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(queue_max: usize) -> PeerSlot {
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
        let info = PeerInfo { index: 1, public_key: key, address: "127.0.0.1:1".parse().unwrap() };
        PeerSlot::new(info, queue_max)
    }

    #[test]
    fn full_queue_drops_oldest_and_counts() {
        let s = slot(2);
        assert_eq!(s.enqueue(Bytes::from_static(b"1")), Enqueued::Queued);
        assert_eq!(s.enqueue(Bytes::from_static(b"2")), Enqueued::Queued);
        assert_eq!(s.enqueue(Bytes::from_static(b"3")), Enqueued::DroppedOldest);
        assert_eq!(s.counters.snapshot().dropped_outbound, 1);
        assert_eq!(s.dequeue().as_deref(), Some(&b"2"[..]));
        assert_eq!(s.dequeue().as_deref(), Some(&b"3"[..]));
        assert_eq!(s.dequeue(), None);
    }

    #[test]
    fn newer_connection_supersedes_older() {
        let s = slot(1);
        let mut first = s.install(1);
        assert!(s.is_connected());
        let _second = s.install(2);
        assert!(first.try_recv().is_ok(), "the first connection is told to close");
        s.uninstall(1);
        assert!(s.is_connected(), "a stale uninstall leaves the newer connection");
        s.uninstall(2);
        assert!(!s.is_connected());
        assert_eq!(s.counters.snapshot().reconnects, 1);
    }
}

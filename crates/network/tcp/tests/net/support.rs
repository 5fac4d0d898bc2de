//! Helpers shared by the socket tests: keys, pre-bound listeners, fast
//! configurations, and waiting on conditions with a deadline.

use ed25519_dalek::SigningKey;
use phalanx_network_tcp::{Inbound, NetConfig, Network, NetworkHandle, PeerInfo, ValidatorIndex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The chain every test node is on.
pub const CHAIN_ID: u64 = 4242;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE_MS: u64 = 10_000;

/// The deterministic key of validator `index`.
pub fn key(index: ValidatorIndex) -> SigningKey {
    SigningKey::from_bytes(&[index as u8 + 1; 32])
}

/// Binds `n` listeners on 127.0.0.1 port 0 and describes them as a set.
pub async fn bind(n: u32) -> (Vec<TcpListener>, Vec<PeerInfo>) {
    let mut listeners = Vec::new();
    let mut validators = Vec::new();
    for index in 0..n {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let address = listener.local_addr().expect("bound address");
        validators.push(PeerInfo { index, public_key: key(index).verifying_key(), address });
        listeners.push(listener);
    }
    (listeners, validators)
}

/// A configuration with small limits and fast reconnection.
pub fn config(me: ValidatorIndex, validators: &[PeerInfo]) -> NetConfig {
    let listen = validators[me as usize].address;
    let mut config = NetConfig::new(me, key(me), validators.to_vec(), listen, CHAIN_ID);
    config.frame_bytes_max = 1024;
    config.outbound_queue_max = 64;
    config.inbound_queue_max = 64;
    config.connect_backoff_min_ms = 10;
    config.connect_backoff_max_ms = 100;
    config.handshake_timeout_ms = 2_000;
    config
}

/// A running node of a test.
pub struct Node {
    pub handle: NetworkHandle,
    pub inbound: mpsc::Receiver<Inbound>,
}

/// Starts a node on its pre-bound listener.
pub fn start(config: NetConfig, listener: TcpListener) -> Node {
    let (handle, inbound) = Network::start_with_listener(config, listener).expect("start");
    Node { handle, inbound }
}

/// Polls `condition` until it holds; fails the test after `DEADLINE_MS`.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_millis(DEADLINE_MS);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Receives `n` messages; fails the test after `DEADLINE_MS`.
pub async fn receive(inbound: &mut mpsc::Receiver<Inbound>, n: usize) -> Vec<Inbound> {
    let deadline = Instant::now() + Duration::from_millis(DEADLINE_MS);
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let next = tokio::time::timeout_at(deadline, inbound.recv()).await;
        match next {
            Ok(Some(message)) => got.push(message),
            Ok(None) => panic!("inbound channel closed after {} of {n} messages", got.len()),
            Err(_) => panic!("timed out after {} of {n} messages", got.len()),
        }
    }
    got
}

/// Waits until every node is connected to every other one.
pub async fn wait_full_mesh(nodes: &[&Node]) {
    let n = nodes.len();
    wait_until("every pair is connected", || {
        nodes.iter().all(|node| node.handle.connected_peers().len() == n - 1)
    })
    .await;
}

//! Honest nodes: all-to-all exchange, restart, full queues, signed frames.

use crate::support::{bind, config, receive, start, wait_full_mesh, wait_until, Node};
use phalanx_network_tcp::{Enqueued, Network, SendError};
use std::collections::BTreeSet;

#[tokio::test]
async fn four_nodes_exchange_all_to_all_then_shut_down() {
    let (listeners, validators) = bind(4).await;
    let mut nodes: Vec<Node> =
        listeners.into_iter().zip(0..).map(|(l, i)| start(config(i, &validators), l)).collect();
    wait_full_mesh(&nodes.iter().collect::<Vec<_>>()).await;

    for from in 0..4u32 {
        for to in (0..4u32).filter(|&to| to != from) {
            let sent = nodes[from as usize].handle.send(to, format!("{from}->{to}").into_bytes());
            assert_eq!(sent, Ok(Enqueued::Queued));
        }
    }
    for (me, node) in nodes.iter_mut().enumerate() {
        let got = receive(&mut node.inbound, 3).await;
        let got: BTreeSet<_> = got.iter().map(|m| (m.from, m.bytes.to_vec())).collect();
        let want: BTreeSet<_> = (0..4u32)
            .filter(|&from| from as usize != me)
            .map(|from| (from, format!("{from}->{me}").into_bytes()))
            .collect();
        assert_eq!(got, want, "node {me}");
    }

    assert_eq!(nodes[2].handle.broadcast(&b"hello all"[..]), Ok(0));
    for me in [0, 1, 3] {
        let got = receive(&mut nodes[me].inbound, 1).await;
        assert_eq!((got[0].from, &got[0].bytes[..]), (2, &b"hello all"[..]));
    }
    let metrics = nodes[2].handle.metrics();
    assert_eq!(metrics.peers.len(), 3);
    assert!(metrics.peers.values().all(|p| p.frames_out == 2 && p.frames_in == 1));
    assert_eq!(metrics.handshakes_failed(), 0);

    for (me, node) in nodes.iter_mut().enumerate() {
        node.handle.shutdown().await;
        let other = (me as u32 + 1) % 4;
        assert_eq!(node.handle.send(other, &b"late"[..]), Err(SendError::ShutDown));
        assert!(node.inbound.recv().await.is_none(), "inbound channel ends after shutdown");
        assert!(node.handle.connected_peers().is_empty());
    }
}

#[tokio::test]
async fn restarted_node_is_reconnected_and_messages_flow() {
    let (listeners, validators) = bind(3).await;
    let mut nodes: Vec<Node> =
        listeners.into_iter().zip(0..).map(|(l, i)| start(config(i, &validators), l)).collect();
    wait_full_mesh(&nodes.iter().collect::<Vec<_>>()).await;

    // Node 1 both accepts (from 0) and dials (to 2): a restart exercises both.
    nodes[1].handle.shutdown().await;
    wait_until("peers notice node 1 is gone", || {
        [0, 2].iter().all(|&i| !nodes[i].handle.connected_peers().contains(&1))
    })
    .await;
    let (handle, inbound) = Network::start(config(1, &validators)).await.expect("rebind");
    nodes[1] = Node { handle, inbound };
    wait_full_mesh(&nodes.iter().collect::<Vec<_>>()).await;

    for (from, to) in [(0u32, 1u32), (2, 1), (1, 0), (1, 2)] {
        nodes[from as usize].handle.send(to, vec![from as u8, to as u8]).unwrap();
        let got = receive(&mut nodes[to as usize].inbound, 1).await;
        assert_eq!((got[0].from, &got[0].bytes[..]), (from, &[from as u8, to as u8][..]));
    }
    for i in [0, 2] {
        assert!(nodes[i].handle.metrics().peers[&1].reconnects >= 1, "node {i} reconnected");
    }
    for node in &nodes {
        node.handle.shutdown().await;
    }
}

#[tokio::test]
async fn full_outbound_queue_drops_oldest_and_delivers_newest() {
    let (mut listeners, validators) = bind(2).await;
    let listener0 = listeners.remove(0);
    let mut cfg = config(1, &validators);
    cfg.outbound_queue_max = 4;
    // Node 1 only accepts (the lower index dials), so with node 0 down its
    // queue for node 0 can only fill.
    let node1 = start(cfg, listeners.remove(0));
    let outcomes: Vec<_> = (0..7u8).map(|i| node1.handle.send(0, vec![i]).unwrap()).collect();
    assert_eq!(outcomes[..4], [Enqueued::Queued; 4]);
    assert_eq!(outcomes[4..], [Enqueued::DroppedOldest; 3]);
    assert_eq!(node1.handle.metrics().peers[&0].dropped_outbound, 3);

    let mut node0 = start(config(0, &validators), listener0);
    let got = receive(&mut node0.inbound, 4).await;
    let got: Vec<u8> = got.iter().map(|m| m.bytes[0]).collect();
    assert_eq!(got, vec![3, 4, 5, 6], "the newest messages survive, in order");
    node0.handle.shutdown().await;
    node1.handle.shutdown().await;
}

#[tokio::test]
async fn signed_frames_are_exchanged() {
    let (listeners, validators) = bind(2).await;
    let mut nodes: Vec<Node> = listeners
        .into_iter()
        .zip(0..)
        .map(|(l, i)| {
            let mut cfg = config(i, &validators);
            cfg.sign_frames = true;
            start(cfg, l)
        })
        .collect();
    nodes[0].handle.send(1, &b"signed"[..]).unwrap();
    nodes[1].handle.send(0, vec![7; 1024]).unwrap();
    assert_eq!(&receive(&mut nodes[1].inbound, 1).await[0].bytes[..], b"signed");
    assert_eq!(receive(&mut nodes[0].inbound, 1).await[0].bytes.len(), 1024);
    for node in &nodes {
        assert_eq!(node.handle.metrics().bad_frame_signatures, 0);
        node.handle.shutdown().await;
    }
}

#[tokio::test]
async fn send_refuses_bad_destinations_and_sizes() {
    let (mut listeners, validators) = bind(2).await;
    let node = start(config(0, &validators), listeners.remove(0));
    assert_eq!(node.handle.send(0, &b"x"[..]), Err(SendError::ToSelf));
    assert_eq!(node.handle.send(9, &b"x"[..]), Err(SendError::UnknownPeer { to: 9 }));
    let too_large = node.handle.send(1, vec![0; 1025]);
    assert_eq!(too_large, Err(SendError::TooLarge { len_bytes: 1025, max_bytes: 1024 }));
    node.handle.shutdown().await;
}

#[tokio::test]
async fn unreachable_peer_is_redialled_with_backoff() {
    let (mut listeners, validators) = bind(2).await;
    // Nobody listens on validator 1's address once its listener is dropped.
    drop(listeners.remove(1));
    let node = start(config(0, &validators), listeners.remove(0));
    wait_until("several dial attempts failed", || {
        node.handle.metrics().peers[&1].dial_failures >= 3
    })
    .await;
    assert!(node.handle.connected_peers().is_empty());
    node.handle.shutdown().await;
}

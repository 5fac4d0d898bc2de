//! Hostile or broken peers: unknown keys, forged signatures, wrong chains,
//! oversized frames. Each must be refused, counted, and leave the node
//! serving honest peers.

use crate::support::{bind, config, key, receive, start, wait_until, CHAIN_ID, DEADLINE_MS};
use ed25519_dalek::{Signer, SigningKey};
use phalanx_network_tcp::frame::{read_frame, write_frame};
use phalanx_network_tcp::handshake::{
    auth_message, handshake, transcript_hash, HandshakeContext, Hello, Role,
    HANDSHAKE_FRAME_BYTES_MAX, PROTOCOL_VERSION,
};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the node closes the connection; fails the test on a deadline.
async fn expect_closed(stream: &mut TcpStream) {
    let mut sink = [0u8; 256];
    let read = async {
        // Whatever the node still had in flight is discarded; a reset counts as closed.
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(DEADLINE_MS), read)
        .await
        .expect("the node closes the connection");
}

#[tokio::test]
async fn impostor_with_unknown_key_is_rejected_and_counted() {
    let (mut listeners, validators) = bind(2).await;
    let node = start(config(1, &validators), listeners.remove(1));
    let impostor = SigningKey::from_bytes(&[99; 32]);
    // The impostor lists itself as validator 0 so that its own checks pass.
    let ctx = HandshakeContext::new(
        CHAIN_ID,
        0,
        impostor.clone(),
        [(0, impostor.verifying_key()), (1, key(1).verifying_key())],
    );
    let mut stream = TcpStream::connect(validators[1].address).await.unwrap();
    assert!(handshake(&mut stream, &ctx, Role::Dialer, Some(1)).await.is_err());
    wait_until("the rejection is counted", || node.handle.metrics().rejected_unknown_peer == 1)
        .await;
    assert!(node.handle.connected_peers().is_empty());
    node.handle.shutdown().await;
}

#[tokio::test]
async fn valid_key_with_bad_signature_is_rejected_and_counted() {
    let (mut listeners, validators) = bind(2).await;
    let node = start(config(1, &validators), listeners.remove(1));
    let mut stream = TcpStream::connect(validators[1].address).await.unwrap();
    // Claims validator 0's key without holding its secret.
    let ours = Hello {
        version: PROTOCOL_VERSION,
        chain_id: CHAIN_ID,
        public_key: key(0).verifying_key().to_bytes(),
        nonce: [7; 32],
    };
    write_frame(&mut stream, &[&ours.encode()], HANDSHAKE_FRAME_BYTES_MAX).await.unwrap();
    let theirs = read_frame(&mut stream, HANDSHAKE_FRAME_BYTES_MAX).await.unwrap().unwrap();
    let theirs = Hello::decode(&theirs).unwrap();
    let transcript = transcript_hash(CHAIN_ID, &ours, &theirs);
    let forged = SigningKey::from_bytes(&[98; 32]).sign(&auth_message(Role::Dialer, &transcript));
    write_frame(&mut stream, &[&forged.to_bytes()], HANDSHAKE_FRAME_BYTES_MAX).await.unwrap();
    expect_closed(&mut stream).await;
    wait_until("the rejection is counted", || node.handle.metrics().rejected_bad_signature == 1)
        .await;
    assert!(node.handle.connected_peers().is_empty());
    node.handle.shutdown().await;
}

#[tokio::test]
async fn wrong_chain_is_rejected_and_counted() {
    let (listeners, validators) = bind(2).await;
    let mut listeners = listeners.into_iter();
    let mut wrong = config(0, &validators);
    wrong.chain_id = CHAIN_ID + 1;
    let dialer = start(wrong, listeners.next().unwrap());
    let acceptor = start(config(1, &validators), listeners.next().unwrap());
    wait_until("the acceptor counts the wrong chain", || {
        acceptor.handle.metrics().rejected_wrong_chain >= 1
    })
    .await;
    assert!(dialer.handle.connected_peers().is_empty());
    assert!(acceptor.handle.connected_peers().is_empty());
    dialer.handle.shutdown().await;
    acceptor.handle.shutdown().await;
}

#[tokio::test]
async fn oversized_frame_closes_the_connection_and_is_counted() {
    let (mut listeners, validators) = bind(2).await;
    let mut node = start(config(1, &validators), listeners.remove(1));
    // The test plays honest validator 0, holding its key.
    let ctx = HandshakeContext::new(
        CHAIN_ID,
        0,
        key(0),
        validators.iter().map(|p| (p.index, p.public_key)),
    );
    let mut stream = TcpStream::connect(validators[1].address).await.unwrap();
    let session = handshake(&mut stream, &ctx, Role::Dialer, Some(1)).await.unwrap();
    assert_eq!(session.peer, 1);
    write_frame(&mut stream, &[b"fine"], 1024).await.unwrap();
    stream.flush().await.unwrap();
    let got = receive(&mut node.inbound, 1).await;
    assert_eq!((got[0].from, &got[0].bytes[..]), (0, &b"fine"[..]));
    wait_until("the node lists validator 0", || node.handle.connected_peers() == [0]).await;

    // Announce one byte over the limit, and never send the payload.
    stream.write_all(&1025u32.to_be_bytes()).await.unwrap();
    expect_closed(&mut stream).await;
    wait_until("the oversized frame is counted", || node.handle.metrics().oversized_frames == 1)
        .await;
    wait_until("validator 0 is disconnected", || node.handle.connected_peers().is_empty()).await;
    node.handle.shutdown().await;
}

#[tokio::test]
async fn oversized_handshake_frame_is_refused_before_authentication() {
    let (mut listeners, validators) = bind(2).await;
    let node = start(config(1, &validators), listeners.remove(1));
    let mut stream = TcpStream::connect(validators[1].address).await.unwrap();
    stream.write_all(&(HANDSHAKE_FRAME_BYTES_MAX + 1).to_be_bytes()).await.unwrap();
    expect_closed(&mut stream).await;
    wait_until("the oversized frame is counted", || {
        let m = node.handle.metrics();
        m.oversized_frames == 1 && m.handshake_transport_errors == 1
    })
    .await;
    node.handle.shutdown().await;
}

//! One authenticated connection: a reader feeding the inbound channel and a
//! writer draining the peer's outbound queue, until either side fails, a
//! newer connection to the same peer supersedes it, or the node shuts down.

use crate::frame::{read_frame, write_frame, FrameIoError};
use crate::frame_auth::{FrameSigner, FrameVerifier, FRAME_SIGNATURE_BYTES};
use crate::handshake::Session;
use crate::metrics::{add, bump};
use crate::network::{stopped, Shared};
use crate::peer::PeerSlot;
use crate::Inbound;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::debug;

/// Buffer size of each connection's reader and writer, in bytes.
const IO_BUFFER_BYTES: usize = 64 * 1024;

/// Runs an authenticated connection to completion.
pub(crate) async fn run_connection(shared: &Arc<Shared>, stream: TcpStream, session: Session) {
    let Some(slot) = shared.peers.get(&session.peer).cloned() else {
        // The handshake only authenticates members of the set, all of which have slots.
        debug_assert!(false, "authenticated peer {} has no slot", session.peer);
        return;
    };
    let mut stop = shared.shutdown.subscribe();
    let Some(inbound) = shared.inbound.lock().clone() else {
        return; // Shutting down: the inbound channel is already closed.
    };
    let generation = shared.next_generation.fetch_add(1, Ordering::Relaxed);
    let superseded = slot.install(generation);
    debug!(peer = session.peer, generation, "connection up");
    let (read_half, write_half) = stream.into_split();
    let end = tokio::select! {
        r = read_loop(shared, &slot, read_half, &session, inbound) => r,
        w = write_loop(shared, &slot, write_half, &session) => w,
        _ = superseded => Ok(ConnEnd::Superseded),
        _ = stopped(&mut stop) => Ok(ConnEnd::Shutdown),
    };
    slot.uninstall(generation);
    debug!(peer = session.peer, generation, ?end, "connection down");
}

/// Why a connection ended without an error.
#[derive(Debug)]
enum ConnEnd {
    PeerClosed,
    Superseded,
    Shutdown,
    InboundClosed,
}

/// Why a connection ended with an error.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error(transparent)]
    Frame(#[from] FrameIoError),
    #[error("I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Signature(#[from] crate::frame_auth::BadFrameSignature),
}

async fn read_loop(
    shared: &Shared,
    slot: &PeerSlot,
    half: OwnedReadHalf,
    session: &Session,
    inbound: mpsc::Sender<Inbound>,
) -> Result<ConnEnd, ConnError> {
    let wire_max = shared.wire_frame_bytes_max;
    let mut reader = BufReader::with_capacity(IO_BUFFER_BYTES, half);
    let mut verifier = shared
        .config
        .sign_frames
        .then(|| FrameVerifier::new(session.peer_key, session.session_id, session.role.opposite()));
    loop {
        let mut frame = match read_frame(&mut reader, wire_max).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(ConnEnd::PeerClosed),
            Err(e) => {
                if matches!(e, FrameIoError::Frame(_)) {
                    bump(&shared.counters.oversized_frames);
                }
                return Err(e.into());
            }
        };
        if let Some(verifier) = &mut verifier {
            if let Err(e) = verifier.open(&frame) {
                bump(&shared.counters.bad_frame_signatures);
                return Err(e.into());
            }
            frame.truncate(frame.len() - FRAME_SIGNATURE_BYTES);
        }
        bump(&slot.counters.frames_in);
        add(&slot.counters.bytes_in, frame.len() as u64);
        let message = Inbound { from: session.peer, bytes: Bytes::from(frame) };
        // Waiting here is the backpressure: while the consumer lags, this
        // connection is not read, and TCP flow control slows the sender.
        if inbound.send(message).await.is_err() {
            return Ok(ConnEnd::InboundClosed);
        }
    }
}

async fn write_loop(
    shared: &Shared,
    slot: &PeerSlot,
    half: OwnedWriteHalf,
    session: &Session,
) -> Result<ConnEnd, ConnError> {
    let wire_max = shared.wire_frame_bytes_max;
    let mut writer = BufWriter::with_capacity(IO_BUFFER_BYTES, half);
    let mut signer = shared.config.sign_frames.then(|| {
        FrameSigner::new(shared.config.signing_key.clone(), session.session_id, session.role)
    });
    loop {
        // Drain everything queued, then flush once: messages that piled up
        // while the socket was busy share system calls and segments.
        while let Some(message) = slot.dequeue() {
            match &mut signer {
                Some(signer) => {
                    let trailer = signer.sign(&message);
                    write_frame(&mut writer, &[&message, &trailer], wire_max).await?;
                }
                None => write_frame(&mut writer, &[&message], wire_max).await?,
            }
            bump(&slot.counters.frames_out);
            add(&slot.counters.bytes_out, message.len() as u64);
        }
        writer.flush().await?;
        slot.queue_ready().await;
    }
}

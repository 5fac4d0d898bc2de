//! Starting the network, its background tasks, and the handle to drive it.

use crate::backoff::Backoff;
use crate::config::{ConfigError, NetConfig};
use crate::conn::run_connection;
use crate::handshake::{handshake, HandshakeContext, HandshakeError, Role, Session};
use crate::metrics::{bump, Counters, NetMetrics};
use crate::peer::{Enqueued, PeerSlot};
use crate::{Inbound, ValidatorIndex};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

/// Pause after a failed `accept` (e.g. out of file descriptors), so the
/// accept loop does not spin.
const ACCEPT_ERROR_PAUSE_MS: u64 = 50;

/// State shared by the handle and every task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: NetConfig,
    pub wire_frame_bytes_max: u32,
    pub ctx: HandshakeContext,
    pub peers: BTreeMap<ValidatorIndex, Arc<PeerSlot>>,
    pub counters: Counters,
    /// Taken at shutdown, so the receiver sees the end once readers are gone.
    pub inbound: Mutex<Option<mpsc::Sender<Inbound>>>,
    pub shutdown: watch::Sender<bool>,
    pub next_generation: AtomicU64,
    handshake_permits: Arc<Semaphore>,
}

/// Resolves once shutdown has been requested.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens after shutdown.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Held by every task; `shutdown` waits until all are dropped.
#[derive(Debug, Clone)]
struct TaskGuard {
    _alive: mpsc::Sender<()>,
}

fn spawn(guard: &TaskGuard, task: impl Future<Output = ()> + Send + 'static) {
    let guard = guard.clone();
    tokio::spawn(async move {
        task.await;
        drop(guard);
    });
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Why `send` or `broadcast` refused a message. Messages dropped from a full
/// queue are not errors: see `Enqueued::DroppedOldest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No validator has this index.
    #[error("no validator has index {to}")]
    UnknownPeer {
        /// The index asked for.
        to: ValidatorIndex,
    },
    /// The destination is this node; the caller handles its own messages.
    #[error("cannot send to ourselves")]
    ToSelf,
    /// The message exceeds `NetConfig::frame_bytes_max`.
    #[error("message of {len_bytes} bytes exceeds the limit of {max_bytes} bytes")]
    TooLarge {
        /// The message's size.
        len_bytes: usize,
        /// The limit.
        max_bytes: u32,
    },
    /// `shutdown` was called.
    #[error("the network is shut down")]
    ShutDown,
}

/// Entry point of the network.
#[derive(Debug)]
pub struct Network;

impl Network {
    /// Binds `config.listen` and starts the network (see `start_with_listener`).
    pub async fn start(
        config: NetConfig,
    ) -> Result<(NetworkHandle, mpsc::Receiver<Inbound>), StartError> {
        config.validate()?;
        let addr = config.listen;
        let listener =
            TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        Network::start_with_listener(config, listener)
    }

    /// Starts the network on an already bound listener: accepts connections
    /// from lower-indexed validators and dials every higher-indexed one
    /// (exactly one side dials, so each pair has one logical connection),
    /// redialling with backoff whenever a connection is lost. Must be called
    /// inside a Tokio runtime. Returns the handle and the channel of
    /// authenticated inbound messages, which ends after `shutdown`.
    pub fn start_with_listener(
        config: NetConfig,
        listener: TcpListener,
    ) -> Result<(NetworkHandle, mpsc::Receiver<Inbound>), StartError> {
        config.validate()?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let (inbound_tx, inbound_rx) = mpsc::channel(config.inbound_queue_max);
        let shared = Arc::new(shared_state(config, inbound_tx));
        let (guard_tx, tasks_done) = mpsc::channel(1);
        let guard = TaskGuard { _alive: guard_tx };
        spawn(&guard, accept_loop(shared.clone(), listener, guard.clone()));
        let me = shared.config.me;
        for slot in shared.peers.values().filter(|slot| slot.info.index > me) {
            spawn(&guard, dial_loop(shared.clone(), slot.clone()));
        }
        let inner =
            HandleInner { shared, local_addr, tasks_done: tokio::sync::Mutex::new(tasks_done) };
        Ok((NetworkHandle { inner: Arc::new(inner) }, inbound_rx))
    }
}

fn shared_state(config: NetConfig, inbound: mpsc::Sender<Inbound>) -> Shared {
    let ctx = HandshakeContext::new(
        config.chain_id,
        config.me,
        config.signing_key.clone(),
        config.validators.iter().map(|p| (p.index, p.public_key)),
    );
    let peers = config
        .validators
        .iter()
        .filter(|p| p.index != config.me)
        .map(|p| (p.index, Arc::new(PeerSlot::new(p.clone(), config.outbound_queue_max))))
        .collect();
    // Honest validators need one pending handshake each (twice, across a
    // reconnect); the rest is headroom. Beyond it, connections are refused.
    let handshakes_pending_max = 2 * config.validators.len() + 16;
    Shared {
        wire_frame_bytes_max: config.wire_frame_bytes_max().expect("validated configuration"),
        ctx,
        peers,
        counters: Counters::default(),
        inbound: Mutex::new(Some(inbound)),
        shutdown: watch::Sender::new(false),
        next_generation: AtomicU64::new(0),
        handshake_permits: Arc::new(Semaphore::new(handshakes_pending_max)),
        config,
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, guard: TaskGuard) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!(error = %e, "accept failed");
                let pause = tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS));
                tokio::select! { _ = pause => continue, _ = stopped(&mut stop) => return }
            }
        };
        match shared.handshake_permits.clone().try_acquire_owned() {
            Ok(permit) => spawn(&guard, accept_one(shared.clone(), stream, permit)),
            Err(_) => bump(&shared.counters.accepts_refused),
        }
    }
}

async fn accept_one(shared: Arc<Shared>, mut stream: TcpStream, permit: OwnedSemaphorePermit) {
    let mut stop = shared.shutdown.subscribe();
    // Frames are batched and flushed explicitly, so Nagle only adds latency.
    let _ = stream.set_nodelay(true);
    let timeout = Duration::from_millis(shared.config.handshake_timeout_ms);
    let attempt =
        tokio::time::timeout(timeout, handshake(&mut stream, &shared.ctx, Role::Acceptor, None));
    let result = tokio::select! {
        result = attempt => result.unwrap_or(Err(HandshakeError::Timeout)),
        _ = stopped(&mut stop) => return,
    };
    drop(permit);
    match result {
        Ok(session) => run_connection(&shared, stream, session).await,
        Err(e) => {
            debug!(error = %e, "inbound handshake rejected");
            shared.counters.record_handshake_error(&e);
        }
    }
}

async fn dial_loop(shared: Arc<Shared>, slot: Arc<PeerSlot>) {
    let mut stop = shared.shutdown.subscribe();
    let config = &shared.config;
    let mut backoff = Backoff::new(config.connect_backoff_min_ms, config.connect_backoff_max_ms);
    loop {
        let attempt = tokio::select! {
            attempt = dial_once(&shared, &slot) => attempt,
            _ = stopped(&mut stop) => return,
        };
        match attempt {
            Ok((stream, session)) => {
                backoff.reset();
                run_connection(&shared, stream, session).await;
            }
            Err(DialError::Handshake(e)) => {
                debug!(peer = slot.info.index, error = %e, "outbound handshake failed");
                shared.counters.record_handshake_error(&e);
                bump(&slot.counters.dial_failures);
            }
            Err(DialError::Connect(e)) => {
                debug!(peer = slot.info.index, error = %e, "connect failed");
                bump(&slot.counters.dial_failures);
            }
        }
        let delay = backoff.next_delay(&mut rand::thread_rng());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Why one dial attempt failed.
#[derive(Debug)]
enum DialError {
    Connect(std::io::Error),
    Handshake(HandshakeError),
}

async fn dial_once(shared: &Shared, slot: &PeerSlot) -> Result<(TcpStream, Session), DialError> {
    let timeout = Duration::from_millis(shared.config.handshake_timeout_ms);
    let attempt = async {
        let mut stream = TcpStream::connect(slot.info.address).await.map_err(DialError::Connect)?;
        let _ = stream.set_nodelay(true);
        let session = handshake(&mut stream, &shared.ctx, Role::Dialer, Some(slot.info.index))
            .await
            .map_err(DialError::Handshake)?;
        Ok((stream, session))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(DialError::Handshake(HandshakeError::Timeout)))
}

#[derive(Debug)]
struct HandleInner {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    tasks_done: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

impl Drop for HandleInner {
    /// Dropping the last handle without `shutdown` still stops every task
    /// (asynchronously), so a forgotten handle does not leak connections.
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

/// Drives a running network; cheap to clone.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    inner: Arc<HandleInner>,
}

impl NetworkHandle {
    /// Queues `bytes` for validator `to`. Never blocks: when the peer's queue
    /// is full the oldest queued message is dropped (and counted). Messages
    /// queued while the peer is disconnected are sent once it reconnects.
    pub fn send(&self, to: ValidatorIndex, bytes: impl Into<Bytes>) -> Result<Enqueued, SendError> {
        let shared = &self.inner.shared;
        let slot = match shared.peers.get(&to) {
            Some(slot) => slot,
            None if to == shared.config.me => return Err(SendError::ToSelf),
            None => return Err(SendError::UnknownPeer { to }),
        };
        let bytes = self.admit(bytes.into())?;
        Ok(slot.enqueue(bytes))
    }

    /// Queues `bytes` for every other validator, sharing one buffer. Returns
    /// how many peer queues dropped their oldest message to make room.
    pub fn broadcast(&self, bytes: impl Into<Bytes>) -> Result<usize, SendError> {
        let bytes = self.admit(bytes.into())?;
        let slots = self.inner.shared.peers.values();
        Ok(slots.filter(|s| s.enqueue(bytes.clone()) == Enqueued::DroppedOldest).count())
    }

    /// Checks what every outgoing message must satisfy.
    fn admit(&self, bytes: Bytes) -> Result<Bytes, SendError> {
        let shared = &self.inner.shared;
        if *shared.shutdown.borrow() {
            return Err(SendError::ShutDown);
        }
        let max_bytes = shared.config.frame_bytes_max;
        if bytes.len() > max_bytes as usize {
            return Err(SendError::TooLarge { len_bytes: bytes.len(), max_bytes });
        }
        Ok(bytes)
    }

    /// The validators with an authenticated connection up, ascending.
    pub fn connected_peers(&self) -> Vec<ValidatorIndex> {
        let peers = self.inner.shared.peers.values();
        peers.filter(|s| s.is_connected()).map(|s| s.info.index).collect()
    }

    /// A snapshot of every counter.
    pub fn metrics(&self) -> NetMetrics {
        let shared = &self.inner.shared;
        let peers = shared.peers.iter().map(|(i, s)| (*i, s.counters.snapshot())).collect();
        shared.counters.snapshot(peers)
    }

    /// The address actually listened on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// This node's validator index.
    pub fn me(&self) -> ValidatorIndex {
        self.inner.shared.config.me
    }

    /// Closes the listener and every connection and waits until every
    /// background task has ended; the inbound channel then reports its end.
    /// Idempotent; `send` fails with `ShutDown` afterwards.
    pub async fn shutdown(&self) {
        let shared = &self.inner.shared;
        shared.shutdown.send_replace(true);
        shared.inbound.lock().take();
        let mut tasks_done = self.inner.tasks_done.lock().await;
        // Guards never send: `recv` returns `None` once the last one is dropped.
        while tasks_done.recv().await.is_some() {}
    }
}

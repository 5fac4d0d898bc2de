//! Phalanx's consensus core: chained HotStuff as a sans-IO state machine.
//!
//! A [`Replica`] is fed [`Event`]s (messages, timer expiries, answers from the
//! driver's builder and executor) together with the driver's virtual time, and
//! returns [`Action`]s (sends, timers, build/fetch/execute requests, safety
//! persistence, commits, evidence) that the driver executes **in order**.
//! There is no I/O, clock, thread or randomness inside: the same event
//! sequence always yields the same actions.
//!
//! # Protocol
//! * A known validator set of `n = 3f + 1` ([`ValidatorSet`]); the leader of
//!   view `v` is validator `v mod n`.
//! * Consensus on hashes: a [`Block`] carries batch digests and the leader's
//!   execution results digest; its id is keccak256 of its canonical encoding.
//! * The leader of `v` proposes a block extending the highest QC; replicas
//!   fetch the payload, re-execute (execute-then-vote), and vote only when
//!   their results equal the block's, sending the vote to the leader of `v+1`.
//!   A quorum of votes forms a [`QuorumCert`], batch-verified with ed25519.
//! * Commit rule (three-chain): a block `b0` is committed once `b0 <- b1 <- b2`
//!   have consecutive views and `b2` is certified.
//! * Safety rules ([`safety`]) are separate from liveness ([`pacemaker`]):
//!   every vote, timeout or proposal is preceded by [`Action::PersistSafety`]
//!   (a proposal's view is part of the safety state, so a restarted leader
//!   never proposes twice in a view).
//! * Durability for liveness: right before each `PersistSafety` the replica
//!   has the driver persist the certified, uncommitted chain its lock may
//!   refer to ([`Action::PersistCertified`]); it comes back in
//!   [`RecoveryState::certified`] and is re-executed after a restart, so even
//!   restarting every replica at once loses no block a lock needs. The
//!   block of its latest vote is persisted with it (the *voted block*,
//!   [`RecoveryState::voted`]), so a QC formed from votes alone never
//!   certifies a block that every voter lost in a crash.
//! * Pacemaker: per-view timeouts with exponential backoff; on expiry a signed
//!   [`Timeout`] carrying the high QC is broadcast; `2f + 1` of them form a
//!   [`TimeoutCert`] that moves everyone to the next view; `f + 1` make a
//!   replica join the timeout.
//! * Block sync ([`BlockRequest`]/[`BlockResponse`]) fetches certified
//!   ancestors of unknown blocks; every buffer is bounded and pruned below the
//!   committed height.

pub mod cert;
pub mod codec;
mod collect;
mod io;
pub mod message;
pub mod pacemaker;
mod replica;
pub mod safety;
pub mod tree;
mod types;
mod validators;

pub use cert::{CertError, QuorumCert, Timeout, TimeoutCert, Vote};
pub use codec::{decode_message, encode_message, DecodeError, MAX_MESSAGE_BYTES};
pub use io::{Action, Event, Evidence, Metrics};
pub use message::{
    BlockRequest, BlockResponse, Message, Proposal, SyncInfo, MAX_BLOCKS_PER_RESPONSE,
};
pub use replica::{RecoveryState, Replica, ReplicaConfig, ReplicaError, MAX_PERSISTED_CERTIFIED};
pub use safety::{SafetyError, SafetyState};
pub use types::{
    Block, BlockId, BlockProposalBody, BlockRef, CertifiedBlock, ExecDigest, Height,
    ValidatorIndex, View, MAX_EXTRA_BYTES, MAX_PAYLOAD_DIGESTS,
};
pub use validators::{Ed25519Signer, Signer, ValidatorSet, ValidatorSetError, MAX_VALIDATORS};

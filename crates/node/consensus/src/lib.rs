//! Phalanx's node-side consensus driver: validators run chained HotStuff
//! ([`phalanx_consensus_core`]) over authenticated TCP
//! ([`phalanx_network_tcp`]), execute every block before voting, and commit
//! what a quorum certified to the node's [`phalanx_node_chain::Chain`].
//!
//! # Design
//! * **One driver task** owns the sans-IO [`phalanx_consensus_core::Replica`]
//!   and waits (`tokio::select!`) on: network messages, one virtual timer
//!   (the live `SetTimer`), results of blocking work, a batch tick and
//!   shutdown. The replica's actions are performed strictly in order;
//!   `PersistSafety` writes `<data_dir>/consensus/safety.bin` (temp file,
//!   fsync, rename, fsync directory) before any later action runs.
//! * **One execution worker** (a blocking thread) builds, re-executes and
//!   commits Phalanx blocks in job order and owns the speculative tree, so
//!   commits never race builds. Jobs and results travel over bounded channels.
//! * **Consensus on hashes** (batching as in the paper's §6.3): every
//!   `batch_interval_ms` a node seals up to `batch_txs_max` pooled
//!   transactions it has not batched yet into a [`wire::Batch`] (digest =
//!   keccak256 of its encoding), stores it and broadcasts it. A leader
//!   proposes the held batches its parent chain has not ordered yet (up to
//!   the block's transaction limit); the block's `exec` is the Phalanx block
//!   hash (which commits to state, receipts and schedule) and `extra` is the
//!   8-byte big-endian timestamp followed by the schedule bytes (empty for
//!   now). Replicas fetch missing batches (from the proposer, then everyone),
//!   rebuild the candidates (undecodable transactions are dropped, the same
//!   way everywhere) and re-execute with the same spec; they vote only when
//!   the hashes match.
//! * **Commit**: each committed block is stored with a certificate holding
//!   the certified consensus block and its batches ([`wire::encode_certificate`]).
//!   A restarted node recovers its root from the head's certificate, and
//!   peers that fell behind fetch committed blocks from storage
//!   (`StoredBlocksRequest`) when the core asks (`FetchBlocks`).
//! * Everything is bounded: channels, batch store bytes, pending fetches,
//!   remembered transaction hashes, decoded list lengths; maps are pruned
//!   below the committed height; undecodable peer messages are counted and dropped.

mod batches;
mod driver;
mod producer;
mod safety_file;
pub mod wire;
mod worker;

pub use producer::{ConsensusProducer, DriverError};

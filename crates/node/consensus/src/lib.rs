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
//!   `PersistSafety` writes the safety state under `<data_dir>/consensus/`
//!   (in place to one of two slot files, then fdatasync; `slot_file.rs`)
//!   before any later action runs.
//! * **One execution worker** (a blocking thread) builds, re-executes and
//!   commits Phalanx blocks in job order and owns the speculative tree, so
//!   commits never race builds. Jobs and results travel over bounded channels.
//! * **Consensus on hashes** (batching as in the paper's §6.3): every
//!   `batch_interval_ms` a node seals up to `batch_txs_max` pooled
//!   transactions it has not batched yet into a [`wire::Batch`] (digest =
//!   keccak256 of its encoding), stores it and broadcasts it. A leader
//!   proposes the held batches its parent chain has not ordered yet (up to
//!   the block's transaction limit); the block's `exec` is the Phalanx block
//!   hash (which commits to state, receipts and schedule) and `extra`
//!   ([`extra::ProposalExtra`]) holds the timestamp, the positions of the
//!   candidates the leader left out, and the block's schedule.
//! * **Attested senders** ([`senders`]): a batch's author and the f
//!   validators after it sign the list of the batch's transaction senders
//!   they recovered; a node holding f + 1 agreeing signatures takes the
//!   senders from the list instead of recovering them (the largest share of
//!   a validator's CPU), and recovers them itself otherwise.
//! * **Parallel execution**: the leader executes the candidates with the
//!   optimistic parallel executor and publishes the dependency graph it
//!   observed; replicas fetch missing batches (from the proposer, then
//!   everyone), rebuild the candidates (undecodable transactions are
//!   dropped, the same way everywhere), drop the left-out positions and
//!   execute exactly those transactions by the leader's graph, without
//!   speculation. They vote only when the hashes match. A wrong schedule is
//!   logged as evidence and costs a re-execution, never a wrong result; a
//!   timestamp more than 15 s ahead of the replica's clock gets no vote.
//! * **Commit**: each committed block is stored with a certificate holding
//!   the certified consensus block and its batches ([`wire::encode_certificate`]).
//!   A restarted node recovers its root from the head's certificate, and
//!   peers that fell behind fetch committed blocks from storage
//!   (`StoredBlocksRequest`) when the core asks (`FetchBlocks`).
//! * Everything is bounded: channels, batch store bytes, pending fetches,
//!   remembered transaction hashes, decoded list lengths; maps are pruned
//!   below the committed height; undecodable peer messages are counted and dropped.

mod attest;
mod batches;
mod certified_file;
mod driver;
pub mod extra;
mod producer;
mod safety_file;
pub mod senders;
mod slot_file;
pub mod wire;
mod worker;

pub use producer::{ConsensusProducer, DriverError};

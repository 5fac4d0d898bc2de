//! Conformance runners for the ethereum/tests fixtures, executing through
//! Phalanx's own executor (`phalanx-execution-evm`).
//!
//! - [`state_test`]: GeneralStateTests, one case per Cancun post entry; the
//!   post-state root and logs hash must match.
//! - [`blockchain_test`]: BlockchainTests/ValidBlocks (Cancun network); every
//!   block's gas used, receipts root and state root, and the final state, must
//!   match.
//! - [`parallel`]: the same cases also through the parallel engine
//!   (`phalanx-execution-parallel`: the leader's optimistic path and the
//!   validator's schedule-following path), whose outcomes must equal the
//!   serial executor's. Every case is cross-checked except the few
//!   compute-bound ones listed under `[[parallel_skip]]` in `skip.toml`;
//!   `PHALANX_ETHTESTS_PARALLEL_ALL=1` includes them and
//!   `PHALANX_ETHTESTS_PARALLEL_STRIDE=n` checks about one case in `n`.
//! - [`suite`]: locating fixtures, parallel runs and summaries; [`skip`]: the
//!   skip list (`skip.toml`, every entry with its reason).
//!
//! Fixtures are found at `$PHALANX_ETHTESTS_DIR`, else at
//! `/work/shared/ethereum-tests` relative to the workspace; the suites fail
//! loudly when they are missing.

pub mod block;
pub mod blockchain_test;
pub mod model;
pub mod parallel;
pub mod sign;
pub mod skip;
pub mod state;
pub mod state_test;
pub mod suite;
pub mod trie;

pub use parallel::ParallelCheck;
pub use skip::SkipList;
pub use state::{BlockHashes, MemoryState};
pub use suite::{
    data_dir, json_files, run_parallel, run_suite, CaseResult, FileRun, Outcome, Summary,
};

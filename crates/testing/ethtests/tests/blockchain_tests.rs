//! BlockchainTests/ValidBlocks through Phalanx's executor, plus a self-check
//! of the harness's Merkle-Patricia roots against the fixtures' headers.

use phalanx_testing_ethtests::block::EthBlock;
use phalanx_testing_ethtests::blockchain_test;
use phalanx_testing_ethtests::model::BlockchainTestFile;
use phalanx_testing_ethtests::state::{BlockHashes, MemoryState};
use phalanx_testing_ethtests::suite::run_suite;
use phalanx_testing_ethtests::ParallelCheck;
use phalanx_testing_ethtests::{data_dir, json_files};
use std::collections::BTreeMap;
use std::time::Instant;

/// Worker threads of the parallel engine for blockchain tests: blocks carry
/// several transactions, so more workers than cores still interleave.
const PARALLEL_THREADS: &[usize] = &[2, 4];

/// Every block through the serial executor and, every one of them, through
/// the parallel engine's leader and validator paths at 2 and 4 workers.
#[test]
fn valid_blocks() {
    let start = Instant::now();
    let parallel = ParallelCheck::from_env(PARALLEL_THREADS, 1);
    let summary = run_suite("BlockchainTests/ValidBlocks", |root, path, skip| {
        blockchain_test::run_file_with(root, path, skip, Some(&parallel))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    println!("BlockchainTests/ValidBlocks ({:.1?}): {summary}", start.elapsed());
    println!("parallel engine, blocks:\n{}", parallel.tally());
    assert!(summary.passed > 0, "no blockchain test ran");
    assert_eq!(summary.failed, 0, "BlockchainTests failures:\n{summary}");
    for threads in PARALLEL_THREADS {
        let ran = parallel.tally().count(&format!("leader {threads}t: parallel"));
        assert!(ran > 0, "the parallel engine never ran at {threads} threads");
    }
}

/// Every fixture's `pre` must hash to its genesis state root and its
/// `postState` to the state root of its last block: this checks the harness's
/// state-root computation without involving the executor.
#[test]
fn harness_state_roots_match_fixture_headers() {
    let root = data_dir().unwrap_or_else(|e| panic!("{e}"));
    let files =
        json_files(&root.join("BlockchainTests/ValidBlocks")).unwrap_or_else(|e| panic!("{e}"));
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let tests: BlockchainTestFile = serde_json::from_str(&text).unwrap();
        for (name, test) in &tests {
            let genesis = EthBlock::decode(&test.genesis_rlp).unwrap().header;
            let pre =
                MemoryState::from_fixture(&test.pre, BlockHashes::Known(BTreeMap::new())).unwrap();
            if pre.state_root() != genesis.state_root {
                failures.push(format!("{} {name}: pre root", path.display()));
            }
            let Some(post) = &test.post_state else { continue };
            let post =
                MemoryState::from_fixture(post, BlockHashes::Known(BTreeMap::new())).unwrap();
            let last = test
                .blocks
                .iter()
                .map(|b| EthBlock::decode(&b.rlp).unwrap().header)
                .find(|h| h.hash_slow() == test.lastblockhash);
            if let Some(last) = last {
                if post.state_root() != last.state_root {
                    failures.push(format!("{} {name}: post root", path.display()));
                }
            }
            checked += 1;
        }
    }
    println!("checked {checked} fixtures");
    assert!(
        failures.is_empty(),
        "{} root mismatches, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
}

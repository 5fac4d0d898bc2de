//! BlockchainTests/ValidBlocks through Phalanx's executor, plus a self-check
//! of the harness's Merkle-Patricia roots against the fixtures' headers.

use phalanx_testing_ethtests::block::EthBlock;
use phalanx_testing_ethtests::blockchain_test;
use phalanx_testing_ethtests::model::BlockchainTestFile;
use phalanx_testing_ethtests::state::{BlockHashes, MemoryState};
use phalanx_testing_ethtests::suite::run_suite;
use phalanx_testing_ethtests::{data_dir, json_files};
use std::collections::BTreeMap;
use std::time::Instant;

#[test]
fn valid_blocks() {
    let start = Instant::now();
    let summary = run_suite("BlockchainTests/ValidBlocks", blockchain_test::run_file)
        .unwrap_or_else(|e| panic!("{e}"));
    println!("BlockchainTests/ValidBlocks ({:.1?}): {summary}", start.elapsed());
    assert!(summary.passed > 0, "no blockchain test ran");
    assert_eq!(summary.failed, 0, "BlockchainTests failures:\n{summary}");
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

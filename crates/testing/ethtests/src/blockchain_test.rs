//! BlockchainTests: import every block of a fixture through Phalanx's
//! [`execute_block`] and compare the final state with the fixture's.
//!
//! Two Ethereum consensus steps are harness steps here, because Phalanx chains
//! have neither a beacon chain nor withdrawals: the EIP-4788 beacon-roots
//! write (before the transactions) and withdrawal credits (after them).

use crate::block::EthBlock;
use crate::model::{BlockchainTest, BlockchainTestFile, FixtureBlock};
use crate::parallel::ParallelCheck;
use crate::skip::SkipList;
use crate::state::{BlockHashes, MemoryState};
use crate::suite::{load_fixture, CaseResult, Outcome};
use alloy_consensus::Header;
use alloy_primitives::{address, Address, B256, U256};
use phalanx_core_types::{RecoveredTx, StateView};
use phalanx_execution_evm::{execute_block, BlockEnv};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The network (fork) whose fixtures are run.
pub const NETWORK: &str = "Cancun";

/// Chain id of every blockchain test.
pub const CHAIN_ID: u64 = 1;

/// EIP-4788 beacon roots contract.
pub const BEACON_ROOTS_ADDRESS: Address = address!("000F3df6D732807Ef1319fB7B8bB8522d0Beac02");

/// EIP-4788 ring buffer length.
const HISTORY_BUFFER_LENGTH: u64 = 8191;

/// How far back `BLOCKHASH` can see.
const BLOCKHASH_WINDOW: u64 = 256;

/// Wei per gwei (withdrawal amounts are in gwei).
const WEI_PER_GWEI: u64 = 1_000_000_000;

/// Most state differences listed in one failure message.
const DIFFS_SHOWN_MAX: usize = 5;

/// Runs every test of one fixture file; one case per test.
pub fn run_file(root: &Path, path: &Path, skip: &SkipList) -> Vec<CaseResult> {
    run_file_with(root, path, skip, None)
}

/// [`run_file`], and every block of the tests `parallel` selects also
/// through the parallel engine (see [`ParallelCheck`]); a divergence fails
/// the test.
pub fn run_file_with(
    root: &Path,
    path: &Path,
    skip: &SkipList,
    parallel: Option<&ParallelCheck>,
) -> Vec<CaseResult> {
    let (file, tests) = match load_fixture::<BlockchainTestFile>(root, path, skip) {
        Ok(loaded) => loaded,
        Err(whole_file) => return whole_file,
    };
    let case = |test: &str, outcome| CaseResult::whole(&file, test, outcome);
    tests
        .iter()
        .map(|(name, test)| {
            if let Some(reason) = skip.test_reason(&file, name) {
                return case(name, Outcome::Skip(reason.to_string()));
            }
            if test.network != NETWORK {
                let why =
                    format!("network {} (only {NETWORK} rules are implemented)", test.network);
                return case(name, Outcome::Skip(why));
            }
            let label = format!("{file}::{name}");
            let check =
                parallel.and_then(|p| p.for_case(&label, skip.parallel_reason(&file, name)));
            match run_test_with(test, check) {
                Ok(()) => case(name, Outcome::Pass),
                Err(why) => case(name, Outcome::Fail(why)),
            }
        })
        .collect()
}

/// One imported block: its place in the tree and the state after it.
struct Node {
    number: u64,
    parent: B256,
    state: MemoryState,
}

/// Runs one blockchain test: `Err` says what differed.
pub fn run_test(test: &BlockchainTest) -> Result<(), String> {
    run_test_with(test, None)
}

/// [`run_test`], and every block also through the parallel engine when
/// `parallel` is given.
pub fn run_test_with(
    test: &BlockchainTest,
    parallel: Option<&ParallelCheck>,
) -> Result<(), String> {
    let genesis = EthBlock::decode(&test.genesis_rlp)
        .map_err(|e| format!("genesis block does not decode: {e}"))?
        .header;
    let pre = MemoryState::from_fixture(&test.pre, BlockHashes::Known(BTreeMap::new()))
        .map_err(|e| e.to_string())?;
    if pre.state_root() != genesis.state_root {
        return Err(format!(
            "harness: pre-state root {} != genesis state root {}",
            pre.state_root(),
            genesis.state_root
        ));
    }
    let mut nodes: HashMap<B256, Node> = HashMap::new();
    nodes.insert(genesis.hash_slow(), Node { number: 0, parent: B256::ZERO, state: pre });
    for (i, fixture_block) in test.blocks.iter().enumerate() {
        let (hash, node) = import(&nodes, fixture_block, parallel)
            .map_err(|why| format!("block {}: {why}", i + 1))?;
        nodes.insert(hash, node);
    }
    let head = nodes
        .get(&test.lastblockhash)
        .ok_or_else(|| format!("last block {} was never imported", test.lastblockhash))?;
    match (&test.post_state, test.post_state_hash) {
        (Some(post), _) => {
            let expected = MemoryState::from_fixture(post, BlockHashes::Known(BTreeMap::new()))
                .map_err(|e| e.to_string())?;
            let diffs = diff_states(&head.state, &expected);
            if diffs.is_empty() {
                Ok(())
            } else {
                Err(format!("post state differs: {}", diffs.join("; ")))
            }
        }
        (None, Some(root)) if head.state.state_root() == root => Ok(()),
        (None, Some(root)) => {
            Err(format!("post state root {} != expected {root}", head.state.state_root()))
        }
        (None, None) => Err("fixture has neither postState nor postStateHash".into()),
    }
}

fn import(
    nodes: &HashMap<B256, Node>,
    fixture: &FixtureBlock,
    parallel: Option<&ParallelCheck>,
) -> Result<(B256, Node), String> {
    if let Some(e) = &fixture.expect_exception {
        return Err(format!("invalid blocks are not supported (expects {e})"));
    }
    let block = EthBlock::decode(&fixture.rlp).map_err(|e| format!("rlp: {e}"))?;
    let header = &block.header;
    let parent = nodes
        .get(&header.parent_hash)
        .ok_or_else(|| format!("unknown parent {}", header.parent_hash))?;
    let mut state = parent.state.clone();
    state.set_block_hashes(BlockHashes::Known(ancestors(nodes, header.parent_hash)));
    beacon_root_write(&mut state, header)?;
    let txs = block
        .transactions
        .into_iter()
        .enumerate()
        .map(|(i, tx)| RecoveredTx::recover(tx).map_err(|e| format!("tx {i}: recover: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let env = block_env(header)?;
    let outcome = execute_block(&state, &env, &txs).map_err(|e| format!("execution: {e}"))?;
    // The parallel run needs the pre-state, so it runs before the outcome is
    // applied; its verdict is reported after the serial checks (a serial
    // failure says more). Every transaction of a valid block is included.
    let all: Vec<usize> = (0..txs.len()).collect();
    let cross_check = parallel.map_or(Ok(()), |p| p.check(&state, &env, &txs, &outcome, &all));
    if u128::from(outcome.gas_used) != header.gas_used {
        return Err(format!("gas used {} != header {}", outcome.gas_used, header.gas_used));
    }
    if outcome.receipts_root != header.receipts_root {
        return Err(format!(
            "receipts root {} != header {}",
            outcome.receipts_root, header.receipts_root
        ));
    }
    state.apply(&outcome.changes);
    for w in &block.withdrawals {
        state.credit(w.address, U256::from(w.amount) * U256::from(WEI_PER_GWEI));
    }
    let root = state.state_root();
    if root != header.state_root {
        return Err(format!("state root {root} != header {}", header.state_root));
    }
    cross_check.map_err(|e| format!("parallel ({} txs): {e}", txs.len()))?;
    Ok((header.hash_slow(), Node { number: header.number, parent: header.parent_hash, state }))
}

/// Phalanx's block environment for an Ethereum header (coinbase = beneficiary,
/// prevrandao = mixHash).
pub fn block_env(header: &Header) -> Result<BlockEnv, String> {
    Ok(BlockEnv {
        height: header.number,
        timestamp: header.timestamp,
        proposer: header.beneficiary,
        gas_limit: u64::try_from(header.gas_limit).map_err(|_| "gas limit overflows u64")?,
        base_fee_per_gas: u64::try_from(header.base_fee_per_gas.unwrap_or_default())
            .map_err(|_| "base fee overflows u64")?,
        prev_randao: header.mix_hash,
        chain_id: CHAIN_ID,
    })
}

/// Hashes of the up to 256 ancestors ending at `parent`, by height.
fn ancestors(nodes: &HashMap<B256, Node>, parent: B256) -> BTreeMap<u64, B256> {
    let mut out = BTreeMap::new();
    let mut cursor = parent;
    while let Some(node) = nodes.get(&cursor) {
        out.insert(node.number, cursor);
        if node.number == 0 || out.len() as u64 >= BLOCKHASH_WINDOW {
            break;
        }
        cursor = node.parent;
    }
    out
}

/// EIP-4788's system call, reduced to its effect: when the beacon roots
/// contract exists, record the timestamp and parent beacon block root in its
/// ring buffers.
fn beacon_root_write(state: &mut MemoryState, header: &Header) -> Result<(), String> {
    let has_code = state
        .account(&BEACON_ROOTS_ADDRESS)
        .map_err(|e| e.to_string())?
        .is_some_and(|a| a.has_code());
    if !has_code {
        return Ok(());
    }
    let root =
        header.parent_beacon_block_root.ok_or("Cancun header without parentBeaconBlockRoot")?;
    let slot = header.timestamp % HISTORY_BUFFER_LENGTH;
    state.set_storage(BEACON_ROOTS_ADDRESS, U256::from(slot), U256::from(header.timestamp));
    let root_slot = U256::from(slot + HISTORY_BUFFER_LENGTH);
    state.set_storage(BEACON_ROOTS_ADDRESS, root_slot, U256::from_be_bytes(root.0));
    Ok(())
}

/// Human-readable differences between two states (at most a few).
pub fn diff_states(got: &MemoryState, expected: &MemoryState) -> Vec<String> {
    let mut diffs = Vec::new();
    let addresses: std::collections::BTreeSet<&Address> =
        got.accounts().keys().chain(expected.accounts().keys()).collect();
    for address in addresses {
        if diffs.len() >= DIFFS_SHOWN_MAX {
            diffs.push("...".into());
            break;
        }
        match (got.accounts().get(address), expected.accounts().get(address)) {
            (Some(_), None) => diffs.push(format!("{address}: unexpected account")),
            (None, Some(_)) => diffs.push(format!("{address}: missing account")),
            (Some(g), Some(e)) => {
                if g.nonce != e.nonce {
                    diffs.push(format!("{address}: nonce {} != {}", g.nonce, e.nonce));
                }
                if g.balance != e.balance {
                    diffs.push(format!("{address}: balance {} != {}", g.balance, e.balance));
                }
                if got.code_of(address) != expected.code_of(address) {
                    diffs.push(format!("{address}: code differs"));
                }
                let empty = BTreeMap::new();
                let gs = got.slots(address).unwrap_or(&empty);
                let es = expected.slots(address).unwrap_or(&empty);
                if gs != es {
                    let slot = gs
                        .iter()
                        .chain(es.iter())
                        .map(|(k, _)| k)
                        .find(|k| gs.get(k) != es.get(k))
                        .copied()
                        .unwrap_or_default();
                    diffs.push(format!(
                        "{address}: storage[{slot}] {:?} != {:?}",
                        gs.get(&slot),
                        es.get(&slot)
                    ));
                }
            }
            (None, None) => {}
        }
    }
    diffs
}

//! GeneralStateTests: each Cancun post entry is one case. The transaction runs
//! through Phalanx's [`BlockExecutor`] over the fixture's `pre`; the resulting
//! state root and logs hash must equal the fixture's.

use crate::model::{PostEntry, StateEnv, StateTest, StateTestFile};
use crate::parallel::ParallelCheck;
use crate::sign::{sign_from_template, STATE_TEST_CHAIN_ID};
use crate::skip::SkipList;
use crate::state::{BlockHashes, MemoryState};
use crate::suite::{load_fixture, CaseResult, Outcome};
use crate::trie::logs_hash;
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Log, B256, U256};
use phalanx_core_types::{decode_transaction, RecoveredTx, TxEnvelope};
use phalanx_execution_evm::{BlockEnv, BlockExecutor, BlockOutcome, ExecError};
use std::path::Path;

/// The fork whose expectations are checked.
pub const FORK: &str = "Cancun";

/// The blob base fee Phalanx's executor implies (it fixes excess blob gas at 0).
const EXECUTOR_BLOB_GAS_PRICE: u128 = 1;

/// Maps a state test's env onto Phalanx's block environment (chain id 1).
pub fn block_env(env: &StateEnv) -> Result<BlockEnv, String> {
    let u64_of = |v: U256, field: &str| {
        u64::try_from(v).map_err(|_| format!("env {field} = {v} does not fit in u64"))
    };
    Ok(BlockEnv {
        height: u64_of(env.current_number, "currentNumber")?,
        timestamp: u64_of(env.current_timestamp, "currentTimestamp")?,
        proposer: env.current_coinbase,
        // A gas limit beyond u64 is unreachable in practice: saturate.
        gas_limit: u64::try_from(env.current_gas_limit).unwrap_or(u64::MAX),
        base_fee_per_gas: u64_of(env.current_base_fee.unwrap_or_default(), "currentBaseFee")?,
        prev_randao: env.current_random.unwrap_or_default(),
        chain_id: STATE_TEST_CHAIN_ID,
    })
}

/// Runs every case of one fixture file (path relative names come from `root`).
pub fn run_file(root: &Path, path: &Path, skip: &SkipList) -> Vec<CaseResult> {
    run_file_with(root, path, skip, None)
}

/// [`run_file`], and every case `parallel` selects also through the parallel
/// engine (see [`ParallelCheck`]); a divergence fails the case.
pub fn run_file_with(
    root: &Path,
    path: &Path,
    skip: &SkipList,
    parallel: Option<&ParallelCheck>,
) -> Vec<CaseResult> {
    let (file, tests) = match load_fixture::<StateTestFile>(root, path, skip) {
        Ok(loaded) => loaded,
        Err(whole_file) => return whole_file,
    };
    let whole = |test: &str, outcome| CaseResult::whole(&file, test, outcome);
    let mut results = Vec::new();
    for (name, test) in &tests {
        if let Some(reason) = skip.test_reason(&file, name) {
            results.push(whole(name, Outcome::Skip(reason.to_string())));
            continue;
        }
        let Some(posts) = test.post.get(FORK) else {
            results.push(whole(
                name,
                Outcome::Skip(format!("no {FORK} expectations (older forks only)")),
            ));
            continue;
        };
        for post in posts {
            let i = post.indexes;
            let case = format!("d{} g{} v{}", i.data, i.gas, i.value);
            let label = format!("{file}::{name}::{case}");
            let check =
                parallel.and_then(|p| p.for_case(&label, skip.parallel_reason(&file, name)));
            results.push(CaseResult {
                file: file.clone(),
                test: name.clone(),
                case,
                outcome: run_case_with(test, post, check),
            });
        }
    }
    results
}

/// Decodes transaction bytes: Phalanx's `decode_transaction` first, then a
/// strict local decoder (EIP-2718 decode whose canonical re-encoding must equal
/// the input). The second step works around `decode_transaction` rejecting
/// every legacy transaction (alloy 0.3.6's `encode_2718_len` under-counts
/// legacy encodings by their list header); the integration test
/// `core_decoder_accepts_every_valid_fixture_transaction` tracks that bug.
pub fn decode_tx_bytes(raw: &[u8]) -> Result<TxEnvelope, String> {
    decode_transaction(raw).or_else(|core| {
        let tx = TxEnvelope::decode_2718(&mut &raw[..])
            .map_err(|e| format!("decode: {e} (core decoder: {core})"))?;
        if tx.encoded_2718() != raw {
            return Err(format!("non-canonical encoding or trailing bytes (core decoder: {core})"));
        }
        Ok(tx)
    })
}

/// The transaction of a post entry: the fixture's `txbytes` when they decode
/// and recover, else the template signed with the secret key. `Ok(None)` means
/// the encoding is rejected and an exception is expected (a pass).
fn transaction(test: &StateTest, post: &PostEntry) -> Result<Option<RecoveredTx>, String> {
    let decoded = post
        .txbytes
        .as_ref()
        .ok_or_else(|| "no txbytes".to_string())
        .and_then(|raw| decode_tx_bytes(raw))
        .and_then(|tx| RecoveredTx::recover(tx).map_err(|e| format!("recover: {e}")));
    match decoded {
        Ok(tx) => Ok(Some(tx)),
        Err(_) if post.expect_exception.is_some() => Ok(None),
        Err(why) => {
            let tx = sign_from_template(test, post.indexes, false)
                .map_err(|e| format!("txbytes unusable ({why}) and template unusable ({e})"))?;
            RecoveredTx::recover(tx).map(Some).map_err(|e| format!("recover signed template: {e}"))
        }
    }
}

/// Runs one post entry.
pub fn run_case(test: &StateTest, post: &PostEntry) -> Outcome {
    run_case_with(test, post, None)
}

/// Runs one post entry, and also through the parallel engine when `parallel`
/// is given: the parallel outcomes must equal the serial one, which must
/// match the fixture.
pub fn run_case_with(
    test: &StateTest,
    post: &PostEntry,
    parallel: Option<&ParallelCheck>,
) -> Outcome {
    match try_case(test, post, parallel) {
        Ok(()) => Outcome::Pass,
        Err(why) => Outcome::Fail(why),
    }
}

fn try_case(
    test: &StateTest,
    post: &PostEntry,
    parallel: Option<&ParallelCheck>,
) -> Result<(), String> {
    let mut state = MemoryState::from_fixture(&test.pre, BlockHashes::StateTestConvention)
        .map_err(|e| e.to_string())?;
    let Some(tx) = transaction(test, post)? else {
        return expect_root(&state, post.hash, "rejected encoding");
    };
    let env = block_env(&test.env)?;
    let mut executor = BlockExecutor::new(&state, env);
    let result = executor.execute(&tx).map(|r| (r.logs.clone(), r.success, r.gas_used));
    let outcome = executor.finish();
    // The parallel run needs the pre-state, so it runs before the serial
    // outcome is applied; its verdict is reported only once the serial
    // outcome has matched the fixture (a serial failure says more). Cases
    // where the serial executor fails outright have nothing to compare.
    let cross_check = match (parallel, &result) {
        (Some(check), Ok(_)) => check.check(&state, &env, &[tx], &outcome, &[0]),
        (Some(check), Err(ExecError::InvalidTransaction { .. })) => {
            check.check(&state, &env, &[tx], &outcome, &[])
        }
        _ => Ok(()),
    };
    let note = blob_note(&test.env);
    serial_verdict(&mut state, post, result, &outcome, &note)?;
    cross_check.map_err(|e| format!("parallel: {e}{note}"))
}

/// Checks the serial result of a case against the fixture.
fn serial_verdict(
    state: &mut MemoryState,
    post: &PostEntry,
    result: Result<(Vec<Log>, bool, u64), ExecError>,
    outcome: &BlockOutcome,
    note: &str,
) -> Result<(), String> {
    match (&post.expect_exception, result) {
        (Some(_), Err(ExecError::InvalidTransaction { .. })) => {
            if !outcome.changes.is_empty() {
                return Err("rejected transaction left state changes".into());
            }
            expect_root(state, post.hash, "rejected")
        }
        (Some(expected), Err(e)) => Err(format!("expected {expected}, got other error: {e}")),
        (Some(expected), Ok((_, success, gas))) => Err(format!(
            "expected {expected}, but the transaction executed (success {success}, gas {gas}){note}"
        )),
        (None, Err(e)) => Err(format!("unexpected error: {e}{note}")),
        (None, Ok((logs, success, gas))) => {
            let got_logs = logs_hash(&logs);
            if got_logs != post.logs {
                return Err(format!(
                    "logs hash {got_logs} != expected {} (success {success}, gas {gas}){note}",
                    post.logs
                ));
            }
            state.apply(&outcome.changes);
            let context = format!("success {success}, gas {gas}{note}");
            expect_root(state, post.hash, &context)
        }
    }
}

fn expect_root(state: &MemoryState, expected: B256, context: &str) -> Result<(), String> {
    let got = state.state_root();
    if got != expected {
        return Err(format!("state root {got} != expected {expected} ({context})"));
    }
    Ok(())
}

/// A note for failure messages when the fixture's blob base fee differs from
/// the one Phalanx's executor assumes (it has no excess-blob-gas input).
fn blob_note(env: &StateEnv) -> String {
    let excess = env.current_excess_blob_gas.unwrap_or_default();
    let excess = u64::try_from(excess).unwrap_or(u64::MAX);
    let price = revm::primitives::calc_blob_gasprice(excess);
    if price == EXECUTOR_BLOB_GAS_PRICE {
        return String::new();
    }
    format!("; note: fixture blob base fee {price}, executor assumes {EXECUTOR_BLOB_GAS_PRICE}")
}

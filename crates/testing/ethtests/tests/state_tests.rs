//! GeneralStateTests (Cancun) through Phalanx's executor.

use phalanx_core_types::{decode_transaction, RecoveredTx, TxEnvelope};
use phalanx_testing_ethtests::model::{PostEntry, StateTest, StateTestFile};
use phalanx_testing_ethtests::sign::sign_from_template;
use phalanx_testing_ethtests::state_test;
use phalanx_testing_ethtests::suite::{relative, run_suite, FAILURES_SHOWN_MAX};
use phalanx_testing_ethtests::ParallelCheck;
use phalanx_testing_ethtests::{data_dir, json_files};
use std::time::Instant;

/// Worker threads of the parallel engine for state tests (one transaction
/// per case, so more workers would only idle).
const PARALLEL_THREADS: &[usize] = &[2];

/// Every case through the serial executor and, except the few compute-bound
/// ones `skip.toml` lists under `[[parallel_skip]]` (too slow to run three
/// times), also through the parallel engine's leader and validator paths.
/// Stride 1: every other case is cross-checked (the whole cross-check adds
/// seconds of CPU, not minutes, once those few are left out).
#[test]
fn general_state_tests() {
    let start = Instant::now();
    let parallel = ParallelCheck::from_env(PARALLEL_THREADS, 1);
    let summary = run_suite("GeneralStateTests", |root, path, skip| {
        state_test::run_file_with(root, path, skip, Some(&parallel))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    println!("GeneralStateTests ({:.1?}): {summary}", start.elapsed());
    println!("parallel engine, state test cases:\n{}", parallel.tally());
    assert!(summary.passed > 0, "no state test ran");
    assert_eq!(summary.failed, 0, "GeneralStateTests failures:\n{summary}");
    assert!(parallel.tally().count("leader 2t: parallel") > 0, "the parallel engine never ran");
    assert!(parallel.tally().count("validator 2t: Followed") > 0, "no schedule was followed");
}

/// Every valid (no exception expected) Cancun case with its fixture transaction.
fn valid_cases() -> Vec<(String, StateTest, PostEntry)> {
    let root = data_dir().unwrap_or_else(|e| panic!("{e}"));
    let files = json_files(&root.join("GeneralStateTests")).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(tests) = serde_json::from_str::<StateTestFile>(&text) else { continue };
        for (name, test) in tests {
            let posts = test.post.get(state_test::FORK).cloned().unwrap_or_default();
            for post in posts.into_iter().filter(|p| p.expect_exception.is_none()) {
                let label = format!("{} {name} {:?}", relative(&root, path), post.indexes);
                out.push((label, test.clone(), post));
            }
        }
    }
    out
}

/// The fallback transaction builder (template fields + secret key) must agree
/// with the fixtures' own `txbytes` on every valid case: same signing payload
/// and same sender.
#[test]
fn template_signing_matches_txbytes() {
    let (mut checked, mut identical) = (0usize, 0usize);
    let mut failures = Vec::new();
    for (label, test, post) in valid_cases() {
        let raw = post.txbytes.as_ref().expect("Cancun fixtures carry txbytes");
        let fixture = state_test::decode_tx_bytes(raw)
            .and_then(|tx| RecoveredTx::recover(tx).map_err(|e| e.to_string()));
        let fixture = match fixture {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{label}: txbytes: {e}"));
                continue;
            }
        };
        let eip155 = matches!(&fixture.tx, TxEnvelope::Legacy(t) if t.tx().chain_id.is_some());
        let built = sign_from_template(&test, post.indexes, eip155)
            .map_err(|e| e.to_string())
            .and_then(|tx| RecoveredTx::recover(tx).map_err(|e| e.to_string()));
        match built {
            Ok(b)
                if b.sender == fixture.sender
                    && b.tx.signature_hash() == fixture.tx.signature_hash() =>
            {
                identical += usize::from(b.hash == fixture.hash);
            }
            other => failures.push(format!("{label}: {:?}", other.err())),
        }
        checked += 1;
    }
    println!("template signing: {checked} checked, {identical} byte-identical to txbytes");
    assert!(checked > 0);
    assert!(failures.is_empty(), "{} mismatches: {:#?}", failures.len(), first(&failures));
}

/// Phalanx's own decoder must accept every valid fixture transaction.
#[test]
fn core_decoder_accepts_every_valid_fixture_transaction() {
    let mut failures = Vec::new();
    let cases = valid_cases();
    for (label, _, post) in &cases {
        let raw = post.txbytes.as_ref().expect("Cancun fixtures carry txbytes");
        if let Err(e) = decode_transaction(raw) {
            failures.push(format!("{label}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "phalanx_core_types::decode_transaction rejects {} of {} valid fixture transactions: {:#?}",
        failures.len(),
        cases.len(),
        first(&failures)
    );
}

fn first(failures: &[String]) -> &[String] {
    &failures[..failures.len().min(FAILURES_SHOWN_MAX)]
}

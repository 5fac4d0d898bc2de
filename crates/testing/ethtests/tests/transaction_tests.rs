//! ethereum/tests TransactionTests through the mempool's stateless validation.
//!
//! Every `TransactionTests/**/*.json` case holds `txbytes` and, per fork, either
//! `{hash, sender, intrinsicGas}` (valid) or `{exception}` (invalid). The
//! expectation used is Cancun's; the few cases whose fixtures stop before
//! Cancun (all malformed-RLP or wrong-size cases, invalid in every fork) use
//! the newest fork they list. Valid cases must pass
//! `TxPool::validate_stateless` (chain id 1, unbounded block gas limit, zero
//! base fee, unprotected legacy transactions accepted, as mainnet) with the
//! same hash, sender and intrinsic gas; invalid cases must be rejected.
//!
//! Fixtures are at `$PHALANX_ETHTESTS_DIR`, else at `shared/ethereum-tests`
//! beside the workspace; the test fails when they are missing.

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256};
use phalanx_node_txpool::{intrinsic_gas, PoolConfig, TxPool};
use serde_json::Value;

/// Environment variable overriding the fixtures' location.
const DATA_DIR_ENV: &str = "PHALANX_ETHTESTS_DIR";

/// Forks whose expectation is used, newest first: Cancun when present.
const FORKS_NEWEST_FIRST: &[&str] = &["Cancun", "Shanghai", "Paris", "London", "Berlin"];

/// Why the fee-field cases below are skipped.
const FEE_ABOVE_U128: &str = "gas price / max fee above 2^128-1: alloy-consensus 0.3.6 (pinned) \
     holds fee fields as u128 and cannot decode them; such a transaction could never pay for \
     gas (gas * price > 2^142 wei) so Phalanx rejecting it at decoding loses nothing";

/// Cases not run, each with the reason.
const SKIP: &[(&str, &str)] = &[
    ("TransactionWithHighGasPrice", FEE_ABOVE_U128),
    ("GasLimitPriceProductOverflowtMinusOne", FEE_ABOVE_U128),
    ("V_equals38", FEE_ABOVE_U128),
];

/// What a fixture expects for one case.
#[derive(Debug)]
enum Expected {
    Valid { hash: B256, sender: Address, intrinsic_gas: u64 },
    Invalid { exception: String },
}

/// The `TransactionTests` directory; panics with a clear message when missing.
fn fixtures_dir() -> PathBuf {
    let root = std::env::var_os(DATA_DIR_ENV).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/ethereum-tests")
    });
    let dir = root.join("TransactionTests");
    assert!(
        dir.is_dir(),
        "ethereum/tests TransactionTests not found at {} (set {DATA_DIR_ENV} to the \
         ethereum-tests checkout)",
        dir.display()
    );
    dir
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.into_path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn hex_bytes(value: &Value) -> Result<Vec<u8>, String> {
    let text = value.as_str().ok_or("not a string")?;
    hex::decode(text.trim_start_matches("0x")).map_err(|e| e.to_string())
}

fn hex_u64(value: &Value) -> Result<u64, String> {
    let text = value.as_str().ok_or("not a string")?;
    u64::from_str_radix(text.trim_start_matches("0x"), 16).map_err(|e| e.to_string())
}

/// The expectation of the newest listed fork, and whether it is Cancun's.
fn expected(case: &Value) -> Result<(Expected, bool), String> {
    let results = &case["result"];
    let (fork, result) = FORKS_NEWEST_FIRST
        .iter()
        .find_map(|fork| results.get(*fork).map(|r| (*fork, r)))
        .ok_or("no result for Cancun or an earlier post-Berlin fork")?;
    let expected = if let Some(exception) = result.get("exception") {
        Expected::Invalid { exception: exception.as_str().unwrap_or_default().to_owned() }
    } else {
        let field = |name: &str| result.get(name).ok_or(format!("missing {name}"));
        Expected::Valid {
            hash: field("hash")?
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e| format!("{e}"))?,
            sender: field("sender")?
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e| format!("{e}"))?,
            intrinsic_gas: hex_u64(field("intrinsicGas")?)?,
        }
    };
    Ok((expected, fork == "Cancun"))
}

/// Mainnet-like configuration that bounds nothing the fixtures do not test.
fn config_for(raw: &[u8]) -> PoolConfig {
    PoolConfig {
        tx_bytes_max: raw.len().max(PoolConfig::default().tx_bytes_max),
        accept_unprotected: true,
        ..PoolConfig::new(1, u64::MAX, 0)
    }
}

/// Runs one case; `Err` describes the mismatch.
fn run_case(case: &Value) -> Result<(), String> {
    let raw = hex_bytes(&case["txbytes"]).map_err(|e| format!("bad txbytes: {e}"))?;
    let (expected, _) = expected(case)?;
    let outcome = TxPool::validate_stateless(&config_for(&raw), &raw);
    match (expected, outcome) {
        (Expected::Valid { hash, sender, intrinsic_gas: gas }, Ok(tx)) => {
            let got_gas = intrinsic_gas(&tx.tx);
            if tx.hash != hash || tx.sender != sender || got_gas != gas {
                return Err(format!(
                    "valid tx differs: hash {} (want {hash}), sender {} (want {sender}), \
                     intrinsic gas {got_gas} (want {gas})",
                    tx.hash, tx.sender
                ));
            }
            Ok(())
        }
        (Expected::Valid { .. }, Err(err)) => Err(format!("valid tx rejected: {err}")),
        (Expected::Invalid { exception }, Ok(tx)) => {
            Err(format!("accepted (hash {}) but fixture expects {exception}", tx.hash))
        }
        (Expected::Invalid { .. }, Err(_)) => Ok(()),
    }
}

#[test]
fn transaction_tests() {
    let dir = fixtures_dir();
    let files = json_files(&dir);
    assert!(!files.is_empty(), "no JSON fixtures under {}", dir.display());
    let (mut passed, mut skipped, mut not_cancun) = (0usize, 0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let cases: serde_json::Map<String, Value> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not a fixture: {e}", file.display()));
        for (name, case) in &cases {
            if SKIP.iter().any(|(skipped_name, _)| skipped_name == name) {
                skipped += 1;
                continue;
            }
            if matches!(expected(case), Ok((_, false))) {
                not_cancun += 1;
            }
            match run_case(case) {
                Ok(()) => passed += 1,
                Err(why) => failures.push(format!("{name} ({}): {why}", file.display())),
            }
        }
    }
    println!(
        "TransactionTests summary: files {}, cases passed {passed}, failed {}, skipped {skipped} \
         ({not_cancun} without a Cancun expectation checked against their newest fork)",
        files.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} TransactionTests mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed > 0, "no TransactionTests case ran");
}

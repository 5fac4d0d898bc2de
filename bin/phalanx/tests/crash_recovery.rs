//! Crash safety: SIGKILL the node repeatedly under a write-heavy load.
//!
//! After every restart, every block a client saw committed is still there
//! with the same hash; at the end `verify-chain --reexecute` passes (the chain
//! re-hashes, and re-executing it from genesis reproduces every state root).

mod common;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, TxKind, U256};
use common::{dev_key, free_port, rpc, Devnet};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const ROUNDS: usize = 6;
const SENDERS: usize = 4;

/// Sends transfers to fresh addresses (each creates an account: a write) from
/// `SENDERS` accounts for `for_ms`, recording every block the client sees.
async fn load_and_observe(
    url: &str,
    nonces: &mut [u64],
    seen: &mut BTreeMap<u64, String>,
    rng: &mut rand::rngs::StdRng,
    for_ms: u64,
) {
    let until = Instant::now() + Duration::from_millis(for_ms);
    while Instant::now() < until {
        for (i, nonce) in nonces.iter_mut().enumerate() {
            let signer = dev_key(i + 2);
            let mut tx = TxEip1559 {
                chain_id: 7777,
                nonce: *nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::random_with(rng)),
                value: U256::from(rng.gen_range(1..1000u64)),
                ..Default::default()
            };
            let sig = signer.sign_transaction_sync(&mut tx).unwrap();
            let raw = TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718();
            let raw_hex = format!("0x{}", alloy_primitives::hex::encode(raw));
            match rpc(url, "eth_sendRawTransaction", serde_json::json!([raw_hex])).await {
                Ok(_) => *nonce += 1,
                // After a restart the pool is empty and our nonce may be ahead of the
                // chain (the tx was accepted but never committed): resync.
                Err(_) => *nonce = pending_nonce(url, signer.address()).await,
            }
        }
        if let Ok(block) =
            rpc(url, "eth_getBlockByNumber", serde_json::json!(["latest", false])).await
        {
            let n =
                u64::from_str_radix(block["number"].as_str().unwrap().trim_start_matches("0x"), 16)
                    .unwrap();
            seen.insert(n, block["hash"].as_str().unwrap().to_string());
        }
    }
}

async fn pending_nonce(url: &str, who: Address) -> u64 {
    let v = rpc(url, "eth_getTransactionCount", serde_json::json!([who, "pending"])).await.unwrap();
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

async fn check_seen_blocks_survive(url: &str, seen: &BTreeMap<u64, String>, round: usize) {
    for (n, hash) in seen {
        let block =
            rpc(url, "eth_getBlockByNumber", serde_json::json!([format!("0x{n:x}"), false]))
                .await
                .unwrap();
        assert!(
            !block.is_null(),
            "round {round}: block {n}, reported committed before the crash, is missing"
        );
        assert_eq!(block["hash"].as_str().unwrap(), hash, "round {round}: block {n} changed hash");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_committed_block() {
    let seed: u64 = std::env::var("PHALANX_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (replay with PHALANX_CRASH_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let port = free_port();
    let mut seen = BTreeMap::new();
    let mut nonces = vec![0u64; SENDERS];
    for round in 0..ROUNDS {
        let mut devnet = Devnet::start(&dir, port);
        devnet.wait_ready().await;
        check_seen_blocks_survive(&devnet.url(), &seen, round).await;
        let for_ms = rng.gen_range(800..2500);
        load_and_observe(&devnet.url(), &mut nonces, &mut seen, &mut rng, for_ms).await;
        devnet.kill9();
    }
    let mut devnet = Devnet::start(&dir, port);
    devnet.wait_ready().await;
    check_seen_blocks_survive(&devnet.url(), &seen, ROUNDS).await;
    devnet.terminate();
    assert!(seen.keys().last().copied().unwrap_or(0) > 3, "the load should have produced blocks");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .args(["verify-chain", "--reexecute", "--data"])
        .arg(dir.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify-chain failed after crashes (seed {seed}):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

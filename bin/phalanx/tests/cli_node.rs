//! The operator path without the devnet shortcut: `keygen`, `genesis`, a
//! hand-written `node.toml`, `phalanx node`, then `verify-chain`.

mod common;

use common::{block_number, free_port, rpc};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn phalanx(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_phalanx")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "phalanx {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_genesis_node_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |p: &str| tmp.path().join(p).to_str().unwrap().to_string();
    phalanx(&["keygen", "--out", &d("v0"), "--name", "v0"]);
    // Keys are never overwritten.
    let again = Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .args(["keygen", "--out", &d("v0")])
        .output()
        .unwrap();
    assert!(!again.status.success(), "keygen must refuse to overwrite existing keys");

    let rich = "0x00000000000000000000000000000000000000f1";
    std::fs::write(d("alloc.json"), format!(r#"{{"{rich}": {{"balance": "0x1000"}}}}"#)).unwrap();
    phalanx(&[
        "genesis",
        "--chain-id",
        "4242",
        "--validator",
        &d("v0/validator.json"),
        "--alloc",
        &d("alloc.json"),
        "--dev-accounts",
        "2",
        "--out",
        &d("genesis.json"),
    ]);
    let validator: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d("v0/validator.json")).unwrap()).unwrap();
    let port = free_port();
    std::fs::write(
        d("node.toml"),
        format!(
            "data_dir = \"data\"\ngenesis = \"genesis.json\"\nproposer = \"{}\"\n[producer]\nidle_block_interval_ms = 100\n[rpc]\naddr = \"127.0.0.1:{port}\"\n",
            validator["address"].as_str().unwrap()
        ),
    )
    .unwrap();
    let mut node = Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .args(["node", "--config", &d("node.toml")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + common::STARTUP_DEADLINE;
    // Wait until the node is up and has produced a few (empty) blocks.
    while block_number(&url).await.unwrap_or(0) < 3 {
        assert!(Instant::now() < deadline, "node did not produce blocks in time");
        assert!(node.try_wait().unwrap().is_none(), "node exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rpc(&url, "eth_chainId", serde_json::json!([])).await.unwrap(), "0x1092");
    assert_eq!(
        rpc(&url, "eth_getBalance", serde_json::json!([rich, "latest"])).await.unwrap(),
        "0x1000"
    );
    let block = rpc(&url, "eth_getBlockByNumber", serde_json::json!(["0x1", false])).await.unwrap();
    assert_eq!(
        block["miner"].as_str().unwrap().to_lowercase(),
        validator["address"].as_str().unwrap().to_lowercase()
    );
    common::signal_child(&node, nix::sys::signal::Signal::SIGTERM);
    assert!(node.wait().unwrap().success(), "SIGTERM is a clean shutdown");

    let out = phalanx(&["verify-chain", "--reexecute", "--data", &d("data")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK"), "{stdout}");
    // A missing directory is a clear error, not a new empty database.
    let missing = Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .args(["verify-chain", "--data", &d("nope")])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

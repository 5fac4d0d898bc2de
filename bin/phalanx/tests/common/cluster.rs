//! A cluster of real `phalanx node` validator processes on loopback.
//!
//! Keys and genesis come from the binary itself (`phalanx keygen`, `phalanx
//! genesis --dev-accounts 20`, exactly what `phalanx devnet --validators N`
//! produces); each validator's `node.toml` is written the same way
//! `devnet_multi.rs` writes it, except that every consensus and RPC port is a
//! free port, so several test binaries can run at once. Each validator has its
//! own directory `vI/` with its keys, RocksDB (`vI/data`) and log (`vI/node.log`,
//! appended across restarts).

use super::{block_number, free_port, rpc, signal_child, STARTUP_DEADLINE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Chain id `phalanx genesis` and `phalanx devnet` use by default.
pub const CHAIN_ID: u64 = 7777;
/// Development accounts prefunded in genesis, as `phalanx devnet` does.
const DEV_ACCOUNTS_FUNDED: usize = 20;
/// Log lines of each validator printed by [`Cluster::report`].
const LOG_TAIL_LINES: usize = 25;
/// Poll interval of every deadline loop.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// One validator process and where its files are.
#[derive(Debug)]
pub struct Node {
    pub dir: PathBuf,
    pub rpc_port: u16,
    pub child: Option<Child>,
}

impl Node {
    /// The validator's JSON-RPC endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("node.log")
    }
}

/// N validator processes sharing one genesis; killed on drop.
#[derive(Debug)]
pub struct Cluster {
    pub dir: PathBuf,
    pub nodes: Vec<Node>,
}

/// Runs `phalanx ARGS…` to completion and panics with its output on failure.
fn run_phalanx(args: &[&std::ffi::OsStr]) {
    let out = Command::new(env!("CARGO_BIN_EXE_phalanx")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "phalanx {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `address` field of a `validator.json` written by `phalanx keygen`.
fn validator_address(validator_json: &Path) -> String {
    let text = std::fs::read_to_string(validator_json).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["address"].as_str().expect("validator.json names an address").to_string()
}

impl Cluster {
    /// Creates keys, genesis and configs for `validators` validators under
    /// `dir` (nothing is started).
    pub fn generate(dir: &Path, validators: usize) -> Cluster {
        std::fs::create_dir_all(dir).unwrap();
        let genesis = dir.join("genesis.json");
        let mut genesis_args: Vec<std::ffi::OsString> = vec!["genesis".into()];
        for i in 0..validators {
            let keys = dir.join(format!("v{i}/validator"));
            let name = format!("devnet-{i}");
            run_phalanx(&[
                "keygen".as_ref(),
                "--out".as_ref(),
                keys.as_os_str(),
                "--name".as_ref(),
                name.as_ref(),
            ]);
            genesis_args.push("--validator".into());
            genesis_args.push(keys.join("validator.json").into());
        }
        genesis_args.extend(["--chain-id".into(), CHAIN_ID.to_string().into()]);
        genesis_args.extend(["--dev-accounts".into(), DEV_ACCOUNTS_FUNDED.to_string().into()]);
        genesis_args.extend(["--out".into(), genesis.clone().into()]);
        let refs: Vec<&std::ffi::OsStr> = genesis_args.iter().map(|a| a.as_os_str()).collect();
        run_phalanx(&refs);

        let consensus_ports: Vec<u16> = (0..validators).map(|_| free_port()).collect();
        let peers: Vec<String> =
            consensus_ports.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
        let mut nodes = Vec::with_capacity(validators);
        for (i, consensus_port) in consensus_ports.iter().enumerate() {
            let node_dir = dir.join(format!("v{i}"));
            let rpc_port = free_port();
            let address = validator_address(&node_dir.join("validator/validator.json"));
            // The same text `devnet_multi::prepare` writes, with free ports.
            let config = format!(
                "# Phalanx fault-test validator {i}; see docs/CONFIG.md for every field.\n\
                 data_dir = \"data\"\ngenesis = \"../genesis.json\"\nproposer = \"{address}\"\n\n\
                 [rpc]\naddr = \"127.0.0.1:{rpc_port}\"\n\n\
                 [consensus]\nkey_file = \"validator/consensus.key\"\n\
                 listen = \"127.0.0.1:{consensus_port}\"\n\
                 peers = [{}]\nbase_timeout_ms = 1000\nbatch_interval_ms = 50\n",
                peers.join(", "),
            );
            std::fs::write(node_dir.join("node.toml"), config).unwrap();
            nodes.push(Node { dir: node_dir, rpc_port, child: None });
        }
        Cluster { dir: dir.to_owned(), nodes }
    }

    /// Every validator's RPC endpoint, in genesis order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// Starts validator `i` (`phalanx node --config vI/node.toml`), appending
    /// its stderr and stdout to `vI/node.log`.
    pub fn start(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "validator {i} is already running");
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(node.log_path()).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_phalanx"))
            .arg("node")
            .arg("--config")
            .arg(node.dir.join("node.toml"))
            // Commits are logged at debug: the log tail then shows when the
            // chain last moved.
            .env("RUST_LOG", "info,phalanx_node_consensus=debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn phalanx node");
        node.child = Some(child);
    }

    /// SIGKILL validator `i` (no chance to flush) and reap it.
    pub fn kill9(&mut self, i: usize) {
        let mut child = self.nodes[i].child.take().expect("validator to kill is running");
        signal_child(&child, nix::sys::signal::Signal::SIGKILL);
        child.wait().unwrap();
    }

    /// SIGKILL every running validator at once (all signals first, so the
    /// others commit as little as possible after the first dies), then reap.
    pub fn kill9_all(&mut self) {
        for node in &self.nodes {
            if let Some(child) = &node.child {
                signal_child(child, nix::sys::signal::Signal::SIGKILL);
            }
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                child.wait().unwrap();
            }
        }
    }

    /// Indices of the validators this cluster has started and not killed.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].child.is_some()).collect()
    }

    /// Waits until validator `i` answers `eth_blockNumber`; panics (with the
    /// cluster report) if it exits or the deadline passes.
    pub async fn wait_ready(&mut self, i: usize) {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            let child = self.nodes[i].child.as_mut().expect("validator is started");
            if let Some(status) = child.try_wait().unwrap() {
                self.nodes[i].child = None;
                panic!("validator {i} exited early with {status}\n{}", self.report().await);
            }
            if block_number(&self.nodes[i].url()).await.is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "validator {i} did not answer RPC within {STARTUP_DEADLINE:?}\n{}",
                    self.report().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Head height of validator `i`, or `None` if it does not answer.
    pub async fn height(&self, i: usize) -> Option<u64> {
        block_number(&self.nodes[i].url()).await.ok()
    }

    /// Head heights of the given validators (`None`: no answer).
    pub async fn heights_of(&self, nodes: &[usize]) -> Vec<Option<u64>> {
        let mut heights = Vec::with_capacity(nodes.len());
        for &i in nodes {
            heights.push(self.height(i).await);
        }
        heights
    }

    /// Lowest head among `nodes`; `None` if any of them does not answer.
    pub async fn min_height(&self, nodes: &[usize]) -> Option<u64> {
        self.heights_of(nodes).await.into_iter().collect::<Option<Vec<u64>>>()?.into_iter().min()
    }

    /// Highest head among `nodes` that answer (0 if none does).
    pub async fn max_height(&self, nodes: &[usize]) -> u64 {
        self.heights_of(nodes).await.into_iter().flatten().max().unwrap_or(0)
    }

    /// Waits until every one of `nodes` has committed at least `height`;
    /// panics with `what` and the cluster report at the deadline.
    pub async fn wait_height(&self, nodes: &[usize], height: u64, deadline: Duration, what: &str) {
        let started = Instant::now();
        loop {
            if self.min_height(nodes).await.is_some_and(|h| h >= height) {
                eprintln!("[faults] {what}: reached {height} in {:?}", started.elapsed());
                return;
            }
            if started.elapsed() >= deadline {
                panic!(
                    "{what}: validators {nodes:?} did not all reach height {height} within \
                     {deadline:?}\n{}",
                    self.report().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Heights of every validator and the tail of each one's log, for
    /// failure messages.
    pub async fn report(&self) -> String {
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        let heights = self.heights_of(&all).await;
        let mut out = String::from("---- cluster state ----\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let state = if node.child.is_some() { "running" } else { "stopped" };
            let height = heights[i].map_or("-".to_string(), |h| h.to_string());
            out.push_str(&format!("validator {i} ({state}) height {height} rpc {}\n", node.url()));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let text = std::fs::read_to_string(node.log_path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            out.push_str(&format!(
                "---- validator {i}: last {} lines of {} ----\n",
                tail.len(),
                node.log_path().display()
            ));
            for line in tail {
                out.push_str(&strip_ansi(line));
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `(hash, stateRoot)` of block `number` at `url`; `None` if the node does
/// not have it or does not answer.
pub async fn block_at(url: &str, number: u64) -> Option<(String, String)> {
    let block =
        rpc(url, "eth_getBlockByNumber", serde_json::json!([format!("0x{number:x}"), false]))
            .await
            .ok()?;
    if block.is_null() {
        return None;
    }
    Some((block["hash"].as_str()?.to_string(), block["stateRoot"].as_str()?.to_string()))
}

/// `(number, hash)` of the head block at `url`, if it answers.
pub async fn head_at(url: &str) -> Option<(u64, String)> {
    let block =
        rpc(url, "eth_getBlockByNumber", serde_json::json!(["latest", false])).await.ok()?;
    let number =
        u64::from_str_radix(block["number"].as_str()?.trim_start_matches("0x"), 16).ok()?;
    Some((number, block["hash"].as_str()?.to_string()))
}

/// `line` without ANSI colour sequences (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip up to and including the sequence's final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

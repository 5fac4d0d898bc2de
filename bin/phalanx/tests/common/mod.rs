//! Shared helpers for integration tests that run real `phalanx` processes.

#![allow(dead_code)]

pub mod cluster;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a node may take to open its database and start RPC.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// Key of development account `i` as `phalanx devnet` prefunds it.
pub fn dev_key(i: usize) -> alloy_signer_local::PrivateKeySigner {
    phalanx_tools_loadgen::dev_accounts(i + 1).remove(i)
}

/// A free TCP port on loopback (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `phalanx devnet` child process.
#[derive(Debug)]
pub struct Devnet {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub port: u16,
}

impl Devnet {
    /// Starts `phalanx devnet --dir DIR --port PORT` (creating the devnet on first use).
    pub fn start(dir: &Path, port: u16) -> Devnet {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_phalanx"))
            .args(["devnet", "--dir"])
            .arg(dir)
            .args(["--port", &port.to_string()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn phalanx devnet");
        Devnet { child: Some(child), dir: dir.to_owned(), port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until the node answers `eth_blockNumber`, or panics at the deadline.
    pub async fn wait_ready(&mut self) -> u64 {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "devnet exited early with {status}; see {}",
                    self.dir.with_extension("log").display()
                );
            }
            if let Ok(n) = block_number(&self.url()).await {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "devnet did not answer RPC within {STARTUP_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        self.signal_and_wait(nix::sys::signal::Signal::SIGKILL);
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) {
        if let Some(status) = self.signal_and_wait(nix::sys::signal::Signal::SIGTERM) {
            assert!(status.success(), "devnet exited with {status} on SIGTERM");
        }
    }

    /// Sends `signal` to the running child and reaps it; `None` if none runs.
    fn signal_and_wait(
        &mut self,
        signal: nix::sys::signal::Signal,
    ) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        signal_child(&child, signal);
        Some(child.wait().unwrap())
    }
}

/// Sends `signal` to `child`.
pub fn signal_child(child: &Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `eth_blockNumber` over plain JSON-RPC.
pub async fn block_number(url: &str) -> Result<u64, String> {
    let v = rpc(url, "eth_blockNumber", serde_json::json!([])).await?;
    let s = v.as_str().ok_or("not a string")?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| e.to_string())
}

/// One JSON-RPC call; returns `result` or the error object as a string.
pub async fn rpc(
    url: &str,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, String> {
    use alloy_provider::Provider;
    let provider = alloy_provider::ProviderBuilder::new().on_http(url.parse().unwrap());
    provider
        .raw_request::<_, serde_json::Value>(method.to_string().into(), params)
        .await
        .map_err(|e| e.to_string())
}

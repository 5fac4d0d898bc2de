#!/usr/bin/env bash
# The test command (README): installs prerequisites, then runs every test in
# the workspace: unit and property tests, the ethereum/tests conformance
# suites, the devnet integration tests (alloy and web3.py clients) and the
# crash-recovery test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phalanx-target}"
cargo build --locked --bin phalanx
cargo test --workspace --locked --no-fail-fast "$@"

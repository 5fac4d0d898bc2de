#!/usr/bin/env bash
# Fresh-machine entry point: install prerequisites, build, run `phalanx devnet`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phalanx-target}"
echo "building phalanx (release; the first build takes several minutes)…" >&2
cargo build --release --locked --bin phalanx
exec "$CARGO_TARGET_DIR/release/phalanx" devnet "$@"

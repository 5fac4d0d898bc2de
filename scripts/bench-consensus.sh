#!/usr/bin/env bash
# Consensus throughput: the same `phalanx bench load` runs (no-op transfers and
# OpenZeppelin ERC20 transfers, per JSON-RPC batch size) against
#   multi          `phalanx devnet --validators 4` (four validator processes,
#                  chained HotStuff; clients spread over the four RPC ports),
#   single         `phalanx devnet` (one node, its own proposer),
#   anvil          Foundry's anvil in its default mode (automine: one block
#                  per transaction),
#   anvil-interval anvil mining every 0.2 s (the single devnet's block
#                  interval) with Phalanx's 100M block gas limit,
# each started fresh in a temporary directory on free ports and stopped after.
# Every target gets the same number of client streams (CLIENTS URLs; a single
# node's URL is repeated), the same accounts, batch sizes and durations.
#
# Every (target, workload, batch size) run gets a fresh chain.
#
# Usage: scripts/bench-consensus.sh            (about 8 minutes)
# Environment knobs (defaults in brackets):
#   SECONDS_PER_RUN [15]  ACCOUNTS [256]  BATCHES [1,100]  CLIENTS [4]
#   TARGETS ["multi single anvil anvil-interval"]  WORKLOADS ["transfer erc20"]
#   RATE         offered load bound, tx/s, for every run [unbounded]
#   PHALANX_BIN  use this phalanx binary instead of building the release one
#   MULTI_ARGS   extra `phalanx devnet` arguments for multi, e.g.
#                "--base-timeout-ms 1000" [none]
#   RESULTS      file the combined Markdown table is written to
#                [$WORK/results.md, printed at the end]
# Needs: cargo, npm (anvil is installed into .tools/anvil on first use),
# curl, python3 (free-port search; the multi-validator devnet's RPC and
# consensus ports are both picked free).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_RUN=${SECONDS_PER_RUN:-15}
ACCOUNTS=${ACCOUNTS:-256}
BATCHES=${BATCHES:-1,100}
CLIENTS=${CLIENTS:-4}
TARGETS=${TARGETS:-"multi single anvil anvil-interval"}
read -r -a MULTI_EXTRA <<<"${MULTI_ARGS:-}"
WORKLOADS=${WORKLOADS:-"transfer erc20"}
# Anvil's well-known prefunded account 0 (public test key; never real value).
ANVIL_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
START_DEADLINE_S=90
STOP_DEADLINE_S=30

WORK=$(mktemp -d /tmp/bench-consensus.XXXXXX)
RESULTS=${RESULTS:-$WORK/results.md}
RUNNING_PGID=""
BENCH_PID=""

log() { echo "[bench-consensus] $*" >&2; }

# Stops the process group $1 (TERM, then KILL after STOP_DEADLINE_S) and
# waits until none of its processes is left.
stop_group() {
  local pgid=$1 deadline=$((SECONDS + STOP_DEADLINE_S))
  kill -TERM -- "-$pgid" 2>/dev/null || true
  while pgrep -g "$pgid" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "process group $pgid still alive after ${STOP_DEADLINE_S}s; killing it"
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
    sleep 0.2
  done
}

cleanup() {
  if [[ -n $BENCH_PID ]]; then kill -TERM "$BENCH_PID" 2>/dev/null || true; fi
  if [[ -n $RUNNING_PGID ]]; then stop_group "$RUNNING_PGID"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints the first of $1 consecutive free loopback ports.
free_ports() {
  python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(500):
    base = random.randint(20000, 60000 - n)
    socks = []
    try:
        for port in range(base, base + n):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no free port block found")
EOF
}


# Prints the block height $1 answers with, or nothing if it does not answer.
height() {
  local answer
  answer=$(curl -s --max-time 2 -H 'content-type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$1" || true)
  if [[ $answer =~ \"result\":\"(0x[0-9a-fA-F]+)\" ]]; then
    printf '%d\n' "${BASH_REMATCH[1]}"
  fi
}

# Waits until every URL in $1 (comma-separated) answers and the first one's
# height is at least $2, polling until START_DEADLINE_S.
wait_ready() {
  local urls=$1 min_height=$2 deadline=$((SECONDS + START_DEADLINE_S)) url h ok
  while true; do
    ok=1
    for url in ${urls//,/ }; do
      [[ -n $(height "$url") ]] || ok=0
    done
    h=$(height "${urls%%,*}")
    if ((ok)) && [[ -n $h ]] && ((h >= min_height)); then return 0; fi
    if ((SECONDS >= deadline)); then
      log "not ready within ${START_DEADLINE_S}s: $urls (height '${h}')"
      return 1
    fi
    sleep 0.2
  done
}

# Starts "$@" in its own session (so its whole process tree is one group),
# logging to $LOG; sets RUNNING_PGID.
start_group() {
  setsid "$@" >"$LOG" 2>&1 </dev/null &
  RUNNING_PGID=$!
}

repeat_url() { # $1 url, $2 count: "url,url,…"
  local out=$1 i
  for ((i = 1; i < $2; i++)); do out+=",$1"; done
  echo "$out"
}

install_anvil() {
  ANVIL=$(find "$ROOT/.tools/anvil" -path '*/bin/anvil' -type f 2>/dev/null | head -n1 || true)
  if [[ -z $ANVIL ]]; then
    log "installing anvil into .tools/anvil (npm @foundry-rs/anvil)"
    npm install --prefix "$ROOT/.tools/anvil" @foundry-rs/anvil >&2
    ANVIL=$(find "$ROOT/.tools/anvil" -path '*/bin/anvil' -type f | head -n1)
  fi
  [[ -x $ANVIL ]] || { log "anvil not found under .tools/anvil"; exit 1; }
  log "anvil: $("$ANVIL" --version | head -n1)"
}

build_phalanx() {
  if [[ -n ${PHALANX_BIN:-} ]]; then
    BIN=$PHALANX_BIN
  else
    log "building: cargo build --release -p phalanx"
    (cd "$ROOT" && cargo build --release -p phalanx >&2)
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/phalanx
  fi
  [[ -x $BIN ]] || { log "no phalanx binary at $BIN"; exit 1; }
}

# Starts target $1 in $WORK/$2; sets URLS (CLIENTS comma-separated RPC URLs), FUNDER_ARGS.
start_target() {
  local target=$1 dir=$WORK/$2 port
  mkdir -p "$dir"
  LOG=$WORK/$2.log
  FUNDER_ARGS=()
  case $target in
    multi)
      port=$(free_ports 4)
      local cport
      cport=$(free_ports 4)
      start_group "$BIN" devnet --validators 4 --dir "$dir/devnet" --port "$port" \
        --consensus-port "$cport" "${MULTI_EXTRA[@]}"
      URLS=""
      for i in 0 1 2 3; do URLS+="${URLS:+,}http://127.0.0.1:$((port + i))"; done
      if ((CLIENTS != 4)); then log "multi always uses its 4 validator URLs"; fi
      ;;
    single)
      port=$(free_ports 1)
      start_group "$BIN" devnet --dir "$dir/devnet" --port "$port"
      URLS=$(repeat_url "http://127.0.0.1:$port" "$CLIENTS")
      ;;
    anvil)
      port=$(free_ports 1)
      start_group "$ANVIL" --port "$port" --silent
      URLS=$(repeat_url "http://127.0.0.1:$port" "$CLIENTS")
      FUNDER_ARGS=(--funder-key "$ANVIL_KEY")
      ;;
    anvil-interval)
      port=$(free_ports 1)
      start_group "$ANVIL" --port "$port" --silent --block-time 0.2 --gas-limit 100000000
      URLS=$(repeat_url "http://127.0.0.1:$port" "$CLIENTS")
      FUNDER_ARGS=(--funder-key "$ANVIL_KEY")
      ;;
    *) log "unknown target $target"; exit 1 ;;
  esac
  # Phalanx chains must have produced a block (consensus is live); anvil in
  # automine mode stays at 0 until the first transaction.
  local min_height=1
  [[ $target == anvil ]] && min_height=0
  wait_ready "$URLS" "$min_height"
}

# Runs workload $2 with batch size $3 against a fresh chain of target $1, so
# a stalled or slowed chain never carries over into the next measurement.
run_one() {
  local target=$1 workload=$2 batch=$3 name=$1-$2-b$3
  log "== $name: starting $target"
  start_target "$target" "$name"
  log "$target ready at $URLS"
  local cmd=("$BIN" bench load --label "$target" --rpc "$URLS" --workload "$workload"
    --accounts "$ACCOUNTS" --seconds "$SECONDS_PER_RUN" --batch "$batch" "${FUNDER_ARGS[@]}")
  if [[ -n ${RATE:-} ]]; then cmd+=(--rate "$RATE"); fi
  log "${cmd[*]}"
  # In the background so that Ctrl-C / TERM interrupt the wait at once.
  "${cmd[@]}" >"$WORK/$name.txt" 2>"$WORK/$name.err" &
  BENCH_PID=$!
  if wait "$BENCH_PID"; then
    grep '^| ' "$WORK/$name.txt" | grep -v -e '^| target ' -e '^|---' | tee -a "$RESULTS"
  else
    log "$name failed; see $WORK/$name.err"
    echo "| $target | $workload | $batch | failed: see $WORK/$name.err |" | tee -a "$RESULTS"
  fi
  BENCH_PID=""
  stop_group "$RUNNING_PGID"
  RUNNING_PGID=""
  # Keep the nodes' logs (they explain stalls); drop their chain data.
  for f in "$WORK/$name"/devnet/v*/node.log; do
    [[ -f $f ]] && cp "$f" "$WORK/$name-$(basename "$(dirname "$f")").log"
  done
  rm -rf "${WORK:?}/$name"
}

# The best confirmed tx/s of target $1 with workload $2 in RESULTS.
best_tps() {
  awk -F'|' -v t="$1" -v w="$2" '
    { gsub(/ /, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $9) }
    $2 == t && $3 == w && $9 + 0 > best { best = $9 + 0 }
    END { print best + 0 }' "$RESULTS"
}

main() {
  install_anvil
  build_phalanx
  log "work dir $WORK; ${SECONDS_PER_RUN}s per run, $ACCOUNTS accounts, batches $BATCHES, $CLIENTS clients"
  : >"$RESULTS"
  local target workload batch
  for target in $TARGETS; do
    for workload in $WORKLOADS; do
      for batch in ${BATCHES//,/ }; do run_one "$target" "$workload" "$batch"; done
    done
  done
  {
    echo
    echo "| target | workload | batch | sent | confirmed | failed | pending | confirmed tx/s | p50 ms | p99 ms |"
    echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    cat "$RESULTS"
  }
  local multi anvil
  multi=$(best_tps multi erc20)
  anvil=$(best_tps anvil erc20)
  anvil=$(awk -v a="$anvil" -v b="$(best_tps anvil-interval erc20)" 'BEGIN { print (b > a ? b : a) }')
  awk -v m="$multi" -v a="$anvil" 'BEGIN {
    if (a > 0) printf "\nERC20: 4 validators %.0f tx/s / best anvil %.0f tx/s = %.2fx (goal >= 3x)\n", m, a, m / a
  }'
  log "results in $RESULTS; logs in $WORK"
}

main "$@"

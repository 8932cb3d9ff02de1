#!/usr/bin/env bash
# Signalling load benchmark: confab serve vs a minimal Node socket.io server with the
# reference's relay semantics, side by side in the same run, for 1k, 5k and 10k clients in
# rooms of 4 exchanging ~5 KB offers. Prints a Markdown table (also saved under target/bench/).
#
#   ./bench/signal-load.sh [CLIENT_COUNTS...]     default: 1000 5000 10000
#
# With CLUSTER=1 it compares instead one node (rooms in memory, the anchor) with three
# `confab serve --redis` nodes sharing a real Redis, clients spread over the three so that
# every room of 4 spans nodes: join and relay latency (cross-node apart), CPU per relayed
# offer (the nodes' and Redis's), RSS per node.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p confab-cli -p confab-bench 2>&1 | tail -1
TARGET="${CARGO_TARGET_DIR:-target}"
COUNTS=("${@:-1000 5000 10000}")
# shellcheck disable=SC2206
COUNTS=(${COUNTS[*]})
ROUNDS="${ROUNDS:-5}"
# Each side holds one descriptor per client: raise the soft limit as far as the hard one allows.
ulimit -n "$(ulimit -Hn)"
mkdir -p target/bench
OUT="target/bench/signal-load-$(date -u +%Y%m%dT%H%M%SZ).jsonl"

start() { # start NAME CMD...: runs CMD, waits for its "listening on URL" line; sets PID and URL
  local log="target/bench/$1.log"; shift
  "$@" >"$log" 2>&1 &
  PID=$!
  for _ in $(seq 1 200); do
    URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1 || true)
    [ -n "$URL" ] && return 0
    sleep 0.05
  done
  echo "server did not start: $(cat "$log")" >&2; exit 1
}
stop() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

if [ "${CLUSTER:-0}" = 1 ]; then
  OUT="target/bench/signal-cluster-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
  LIMITS=(--rate-limit 1000 --rate-burst 1000)
  for n in "${COUNTS[@]}"; do
    start one env CONFAB_LOG=warn "$TARGET/release/confab" serve --bind 127.0.0.1:0 "${LIMITS[@]}"
    "$TARGET/release/confab-bench" --server "$URL" --server-pid "$PID" --clients "$n" --rounds "$ROUNDS" --label "1 node" | tee -a "$OUT"
    stop
    # A fresh Redis per size, on a free loopback port, without persistence (nothing to keep).
    port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no >target/bench/redis.log 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    urls=(); pids=()
    for i in 1 2 3; do
      start "node$i" env CONFAB_LOG=warn "$TARGET/release/confab" serve --bind 127.0.0.1:0 "${LIMITS[@]}" --redis "redis://127.0.0.1:$port"
      urls+=(--server "$URL"); pids+=(--server-pid "$PID")
      eval "NODE_PID_$i=$PID"
    done
    "$TARGET/release/confab-bench" "${urls[@]}" "${pids[@]}" --redis-pid "$REDIS_PID" --clients "$n" --rounds "$ROUNDS" --label "3 nodes + Redis" | tee -a "$OUT"
    for i in 1 2 3; do PID=$(eval "echo \$NODE_PID_$i"); stop; done
    kill -TERM "$REDIS_PID"; wait "$REDIS_PID" || true
  done
  node bench/report.mjs "$OUT" | tee "${OUT%.jsonl}.md"
  exit 0
fi

for n in "${COUNTS[@]}"; do
  # The benchmark itself stays under the server's rate limit; raise it anyway so a slow
  # client machine cannot turn a burst into rejections.
  start confab env CONFAB_LOG=warn "$TARGET/release/confab" serve --bind 127.0.0.1:0 --rate-limit 1000 --rate-burst 1000
  "$TARGET/release/confab-bench" --server "$URL" --server-pid "$PID" --clients "$n" --rounds "$ROUNDS" --label confab | tee -a "$OUT"
  stop
  start node node bench/node-reference-server.mjs
  "$TARGET/release/confab-bench" --server "$URL" --server-pid "$PID" --clients "$n" --rounds "$ROUNDS" --deliveries-per-offer 3 --label node | tee -a "$OUT"
  stop
done

node bench/report.mjs "$OUT" | tee "${OUT%.jsonl}.md"

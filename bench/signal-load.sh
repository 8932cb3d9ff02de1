#!/usr/bin/env bash
# Signalling load benchmark: confab serve vs a minimal Node socket.io server with the
# reference's relay semantics, side by side in the same run, for 1k, 5k and 10k clients in
# rooms of 4 exchanging ~5 KB offers. Prints a Markdown table (also saved under target/bench/).
#
#   ./bench/signal-load.sh [CLIENT_COUNTS...]     default: 1000 5000 10000
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

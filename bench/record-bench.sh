#!/usr/bin/env bash
# What recording costs: a 4-person call with and without one participant recording it, at
# 640x480 and 720p (bench/record-bench.mjs says what is measured). Runs in a loopback-only
# network namespace. Results go to stdout and target/bench/.
#
#   ./bench/record-bench.sh          RUNS=3 MEASURE_S=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p confab-cli 2>&1 | tail -1
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
export CONFAB_BIN="$TARGET/release/confab"
mkdir -p target/bench
OUT="target/bench/record-$(date -u +%Y%m%dT%H%M%SZ).txt"
if [ "$(id -u)" -eq 0 ]; then NS=(unshare -n); else NS=(unshare -rn); fi
"${NS[@]}" sh -c 'ip link set lo up && node bench/record-bench.mjs' | tee "$OUT"
echo "saved in $OUT"

#!/usr/bin/env bash
# Call benchmarks, Rust engine against Chromium in the same run (bench/call-bench.mjs says
# what is measured). Runs in a loopback-only network namespace so every candidate is
# 127.0.0.1. Results go to stdout and target/bench/.
#
#   ./bench/call-bench.sh            RUNS=5 FILE_MB=200 MEASURE_S=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p confab-cli 2>&1 | tail -1
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
export CONFAB_BIN="$TARGET/release/confab"
mkdir -p target/bench
OUT="target/bench/call-$(date -u +%Y%m%dT%H%M%SZ).txt"
if [ "$(id -u)" -eq 0 ]; then NS=(unshare -n); else NS=(unshare -rn); fi
"${NS[@]}" sh -c 'ip link set lo up && node bench/call-bench.mjs' | tee "$OUT"
echo "saved in $OUT"

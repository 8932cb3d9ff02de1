#!/usr/bin/env bash
# Runs one Node benchmark against a release build of `confab`, inside a loopback-only network
# namespace (every ICE candidate is 127.0.0.1), keeping its output under target/bench/.
# Shared by call-bench.sh and record-bench.sh.
#
#   bench/loopback-bench.sh NAME SCRIPT.mjs      output: target/bench/NAME-<UTC time>.txt
set -euo pipefail
NAME="$1"
SCRIPT="$2"
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p confab-cli 2>&1 | tail -1
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
export CONFAB_BIN="$TARGET/release/confab"
mkdir -p target/bench
OUT="target/bench/$NAME-$(date -u +%Y%m%dT%H%M%SZ).txt"
if [ "$(id -u)" -eq 0 ]; then NS=(unshare -n); else NS=(unshare -rn); fi
"${NS[@]}" sh -c "ip link set lo up && node $SCRIPT" | tee "$OUT"
echo "saved in $OUT"

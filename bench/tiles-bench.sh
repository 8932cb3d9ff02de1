#!/usr/bin/env bash
# Frames-to-tiles benchmark of the desktop app (bench/tiles-bench.mjs says what is measured),
# release build, under Xvfb. Results go to stdout and target/bench/.
#
#   ./bench/tiles-bench.sh        TILES=4 SIZES=640x480,1280x720 MEASURE_S=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p confab-app 2>&1 | tail -1
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
export CONFAB_APP_BIN="$TARGET/release/confab-app"
mkdir -p target/bench
OUT="target/bench/tiles-$(date -u +%Y%m%dT%H%M%SZ).txt"
xvfb-run -a -s "-screen 0 1280x800x24" node bench/tiles-bench.mjs | tee "$OUT"
echo "saved in $OUT"

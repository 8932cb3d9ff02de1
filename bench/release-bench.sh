#!/usr/bin/env bash
# Runs one benchmark command against a release build, keeping its output under target/bench/.
# Shared by the call, recording and tiles benchmarks.
#
#   bench/release-bench.sh PACKAGE NAME [--loopback] COMMAND...
#
# Builds PACKAGE (confab-cli or confab-app) in release and points CONFAB_BIN (or
# CONFAB_APP_BIN) at its binary; with --loopback, COMMAND runs in a loopback-only
# network namespace (every ICE candidate is 127.0.0.1). Output: target/bench/NAME-<UTC>.txt.
set -euo pipefail
PACKAGE="$1"
NAME="$2"
shift 2
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p "$PACKAGE" 2>&1 | tail -1
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
case "$PACKAGE" in
  confab-cli) export CONFAB_BIN="$TARGET/release/confab" ;;
  confab-app) export CONFAB_APP_BIN="$TARGET/release/confab-app" ;;
  *) echo "release-bench.sh: PACKAGE is confab-cli or confab-app, not $PACKAGE" >&2; exit 2 ;;
esac
mkdir -p target/bench
OUT="target/bench/$NAME-$(date -u +%Y%m%dT%H%M%SZ).txt"
if [ "${1:-}" = "--loopback" ]; then
  shift
  if [ "$(id -u)" -eq 0 ]; then NS=(unshare -n); else NS=(unshare -rn); fi
  # The command's words are passed to the inner shell as its arguments, not re-parsed.
  "${NS[@]}" sh -c 'ip link set lo up && exec "$@"' sh "$@" | tee "$OUT"
else
  "$@" | tee "$OUT"
fi
echo "saved in $OUT"

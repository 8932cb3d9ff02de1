#!/usr/bin/env bash
# Call benchmarks, Rust engine against Chromium in the same run (bench/call-bench.mjs says
# what is measured). Runs in a loopback-only network namespace so every candidate is
# 127.0.0.1. Results go to stdout and target/bench/.
#
#   ./bench/call-bench.sh            RUNS=5 FILE_MB=200 MEASURE_S=10 by default
set -euo pipefail
exec "$(dirname "$0")/release-bench.sh" confab-cli call --loopback node bench/call-bench.mjs

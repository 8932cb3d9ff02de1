#!/usr/bin/env bash
# What recording costs: a 4-person call with and without one participant recording it, at
# 640x480 and 720p (bench/record-bench.mjs says what is measured). Runs in a loopback-only
# network namespace. Results go to stdout and target/bench/.
#
#   ./bench/record-bench.sh          RUNS=3 MEASURE_S=10 by default
set -euo pipefail
exec "$(dirname "$0")/release-bench.sh" confab-cli record --loopback node bench/record-bench.mjs

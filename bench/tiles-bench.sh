#!/usr/bin/env bash
# Frames-to-tiles benchmark of the desktop app (bench/tiles-bench.mjs says what is measured),
# release build, under Xvfb. Results go to stdout and target/bench/.
#
#   ./bench/tiles-bench.sh        TILES=4 SIZES=640x480,1280x720 MEASURE_S=10 by default
set -euo pipefail
exec "$(dirname "$0")/release-bench.sh" confab-app tiles xvfb-run -a -s "-screen 0 1280x800x24" node bench/tiles-bench.mjs

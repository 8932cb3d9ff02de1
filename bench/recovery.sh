#!/usr/bin/env bash
# Recovery times of a call, median of RUNS runs (default 5): runs the resilience tests
# (crates/cli/tests/call_survives_signalling_loss.rs and call_survives_network_trouble.rs,
# the second needs root and nftables) and collects the figures they print:
#   server restart -> room rejoined (each participant), SIGKILL -> gone, 10 s blackout ->
#   reconnecting shown and media back, address change -> media back, cut -> gone.
# Timers dominate these figures, not CPU: the debug build the tests use is fine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
out=target/bench/recovery
mkdir -p "$out"
: > "$out/lines.txt"
for i in $(seq 1 "$RUNS"); do
  echo "run $i of $RUNS" >&2
  cargo test --locked -p confab-cli --test call_survives_signalling_loss -- --nocapture 2>&1 \
    | grep -E "^(rejoined after|SIGKILL)" >> "$out/lines.txt"
  cargo test --locked -p confab-cli --test call_survives_network_trouble -- --ignored --nocapture 2>&1 \
    | grep -E "^(blackout 10 s|address change|cut for good)" >> "$out/lines.txt"
done
python3 - "$out/lines.txt" <<'PY'
import re, statistics, sys
def secs(d):
    m = re.fullmatch(r"([0-9.]+)(ms|µs|s)", d)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "ms" else v / 1e6 if m.group(2) == "µs" else v
figures = {}
def add(name, d):
    figures.setdefault(name, []).append(secs(d))
for line in open(sys.argv[1]):
    if m := re.match(r"rejoined after the restart: alice (\S+), bob (\S+)", line):
        add("server restart -> room rejoined (each participant)", m.group(1))
        add("server restart -> room rejoined (each participant)", m.group(2))
    elif m := re.match(r"SIGKILL → gone: (\S+)", line):
        add("participant SIGKILLed -> gone from the others", m.group(1))
    elif m := re.match(r"blackout 10 s: reconnecting shown after (\S+); media both ways (\S+) after", line):
        add("10 s blackout -> shown reconnecting (from its start)", m.group(1))
        add("10 s blackout -> media both ways (from its end)", m.group(2))
    elif m := re.match(r"address change: media both ways (\S+) after", line):
        add("address change -> media both ways", m.group(1))
    elif m := re.match(r"cut for good: gone after (\S+)", line):
        add("network cut for good -> gone from the others", m.group(1))
print("| what | median | min | max | samples |")
print("|---|---|---|---|---|")
for name, v in figures.items():
    print(f"| {name} | {statistics.median(v):.2f} s | {min(v):.2f} s | {max(v):.2f} s | {len(v)} |")
PY

#!/usr/bin/env bash
# Recovery times of a call, median of RUNS runs (default 5): runs the resilience tests
# (crates/cli/tests/call_survives_signalling_loss.rs and call_survives_network_trouble.rs;
# the second needs root, nftables and Chromium) and collects the figures they print, for the
# desktop engine (`confab join`) and, in the same runs, a Chromium guest (the browser UI); and
# tests/js/e2e-app-through-trouble.test.mjs (the desktop app and a guest side by side; needs
# Xvfb): server restart -> room rejoined, SIGKILL -> gone, a frozen peer -> reconnecting
# shown, 10 s blackout -> reconnecting shown and media back, address change -> media back,
# cut -> gone.
# Timers dominate these figures, not CPU: the debug build the tests use is fine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
out=target/bench/recovery
mkdir -p "$out"
: > "$out/lines.txt"
figures='(rejoined after|SIGKILL|blackout 10 s|address change|cut for good|server restart:|frozen peer:|SIGKILLed peer: gone from the app|app blackout|app address change).*'
for i in $(seq 1 "$RUNS"); do
  echo "run $i of $RUNS" >&2
  cargo test --locked -p confab-cli --test call_survives_signalling_loss -- --nocapture 2>&1 \
    | grep -oE "$figures" >> "$out/lines.txt"
  cargo test --locked -p confab-cli --test call_survives_network_trouble -- --ignored --nocapture --test-threads=1 2>&1 \
    | grep -oE "$figures" >> "$out/lines.txt"
  unshare -n sh -c 'ip link set lo up && xvfb-run -a -s "-screen 0 1280x800x24" node --test --test-concurrency=1 tests/js/e2e-app-through-trouble.test.mjs tests/js/e2e-app-in-network-namespaces.test.mjs' 2>&1 \
    | grep -oE "$figures" >> "$out/lines.txt"
done
python3 - "$out/lines.txt" <<'PY'
import re, statistics, sys
def secs(d):
    m = re.fullmatch(r"([0-9.]+)(ms|µs|s)", d)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "ms" else v / 1e6 if m.group(2) == "µs" else v
# (what, who) -> seconds; who is "engine" (confab join) or "guest" (Chromium, browser UI).
figures = {}
def add(what, who, d):
    figures.setdefault(what, {}).setdefault(who, []).append(secs(d))
BLACKOUT = r"reconnecting shown after (\S+); media both ways (\S+) after the end"
OWN_SHOWN = "its own 10 s blackout → the others show it *reconnecting* (from the start)"
OWN_BACK = "its own 10 s blackout → media both ways (from the end)"
PEER_SHOWN = "a peer's 10 s blackout → shown *reconnecting* here (from the start)"
for line in open(sys.argv[1]):
    if m := re.match(r"rejoined after the restart: alice (\S+), bob (\S+)", line):
        add("server restart → room rejoined (each participant)", "engine", m.group(1))
        add("server restart → room rejoined (each participant)", "engine", m.group(2))
    elif m := re.match(r"SIGKILL → gone: (\S+)", line):
        add("participant SIGKILLed → gone from the others", "engine", m.group(1))
    elif m := re.match(r"blackout 10 s: " + BLACKOUT, line):
        add(OWN_SHOWN, "engine", m.group(1))
        add(OWN_BACK, "engine", m.group(2))
        add(PEER_SHOWN, "engine", m.group(1))
    elif m := re.match(r"blackout 10 s, seen by a browser guest: " + BLACKOUT, line):
        add(PEER_SHOWN, "guest", m.group(1))
    elif m := re.match(r"blackout 10 s of a browser guest: " + BLACKOUT, line):
        add(OWN_SHOWN, "guest", m.group(1))
        add(OWN_BACK, "guest", m.group(2))
    elif m := re.match(r"app blackout 10 s: reconnecting shown by the app after (\d+) ms, by bob after (\d+) ms; media both ways (\d+) ms", line):
        add(PEER_SHOWN, "app", m.group(1) + "ms")
        add(OWN_SHOWN, "app", m.group(2) + "ms")
        add(OWN_BACK, "app", m.group(3) + "ms")
    elif m := re.match(r"app address change: media both ways (\d+) ms", line):
        add("own address change → media both ways", "app", m.group(1) + "ms")
    elif m := re.match(r"address change: media both ways (\S+) after", line):
        add("own address change → media both ways", "engine", m.group(1))
    elif m := re.match(r"address change of a browser guest: media both ways (\S+) after", line):
        add("own address change → media both ways", "guest", m.group(1))
    elif m := re.match(r"server restart: the app rejoined (\d+) ms after the restart, the guest (\d+) ms", line):
        add("server restart → room rejoined (each participant)", "app", m.group(1) + "ms")
        add("server restart → room rejoined (each participant)", "guest", m.group(2) + "ms")
    elif m := re.match(r"frozen peer: reconnecting shown by the app after (\d+) ms, by the guest after (\d+) ms", line):
        add("a peer frozen (SIGSTOP) → shown *reconnecting*", "app", m.group(1) + "ms")
        add("a peer frozen (SIGSTOP) → shown *reconnecting*", "guest", m.group(2) + "ms")
    elif m := re.match(r"SIGKILLed peer: gone from the app after (\d+) ms, from the guest after (\d+) ms", line):
        add("participant SIGKILLed → gone from the others", "app", m.group(1) + "ms")
        add("participant SIGKILLed → gone from the others", "guest", m.group(2) + "ms")
    elif m := re.match(r"cut for good: gone after (\S+)", line):
        add("a peer's network cut for good → gone", "engine", m.group(1))
    elif m := re.match(r"cut for good, seen by a browser guest: gone after (\S+)", line):
        add("a peer's network cut for good → gone", "guest", m.group(1))
def cell(v):
    return f"{statistics.median(v):.2f} s ({min(v):.2f}–{max(v):.2f}, n={len(v)})" if v else "—"
print("| what | `confab join` (the engine) | desktop app | Chromium guest |")
print("|---|---|---|---|")
for what, by in figures.items():
    print(f"| {what} | {cell(by.get('engine', []))} | {cell(by.get('app', []))} | {cell(by.get('guest', []))} |")
PY

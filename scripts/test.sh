#!/usr/bin/env bash
# Sets everything up and runs every test: formatting and lints, the Rust unit and integration
# tests, the socket.io-client v4 compatibility tests, the end-to-end calls (browsers and the
# desktop app), and the .deb installed and launched.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

TARGET="${CARGO_TARGET_DIR:-target}"
export CONFAB_BIN="$PWD/$TARGET/debug/confab"
case "$TARGET" in /*) export CONFAB_BIN="$TARGET/debug/confab" ;; esac

# Incremental compilation only pays on a machine that edits and rebuilds; for the test command it
# doubles the disk a clean build needs (see the note on debug info in Cargo.toml).
export CARGO_INCREMENTAL=0

# A build directory kept between runs (CI's) holds every artifact it ever built: after a change
# of profile (session 15 optimised the dependencies) a second full set is built beside the
# first. A clean debug build of the test command takes ~6 GB here; with less than 10 GB
# free, the old debug artifacts go first (rebuilt anyway), rather than the linker failing
# mid-build as it once did.
NEEDED_KB=$((10 * 1024 * 1024))
if [ -d "$TARGET/debug" ]; then
  free_kb=$(df --output=avail -k "$TARGET" | tail -1)
  if [ "$free_kb" -lt "$NEEDED_KB" ]; then
    echo "test: only $((free_kb / 1024 / 1024)) GB free beside $TARGET: removing its debug build to make room"
    rm -rf "$TARGET/debug"
  fi
fi

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "UI scripts parse (a syntax error would only show as a dead page), and the UI's unit tests"
for f in ui/*.js; do node --check "$f"; done
node --test tests/js/unit-*.test.mjs
step "cargo build"
cargo build --workspace --locked
step "cargo test"
cargo test --workspace --locked
echo "build output now takes $(du -sh "$TARGET" | cut -f1) (disk: $(df -h --output=avail "$TARGET" | tail -1) free)"

step "audio devices through PulseAudio null sinks (capture, playback, echo cancellation, a call's audio end to end)"
./scripts/pulse-setup.sh
PULSE_SINK=confab_out PULSE_SOURCE=confab_mic.monitor \
  cargo test --workspace --locked --test pulse_audio_round_trip --test call_audio_through_pulseaudio --test speakers_survive_a_device_switch_quietly -- --ignored --test-threads=1
# The app's "Play a test sound" (the settings' speakers), heard on the null sink.
PULSE_SINK=confab_out cargo test -p confab-app --locked --bin confab-app test_sound -- --ignored
# Echo cancellation: the microphone is the speakers' own monitor, so all that plays is echo.
PULSE_SINK=confab_out PULSE_SOURCE=confab_out.monitor \
  cargo test --workspace --locked --test echo_cancellation -- --ignored

step "relay-only calls through a real TURN server (coturn's turnserver on loopback)"
cargo test --workspace --locked --test call_relay_only_through_turn -- --ignored

step "calls across network namespaces while a participant's network misbehaves (10 s blackout, address change, cut for good; the link emulator's delay, loss and rate; DTLS lost during setup; a call without multicast logs no error; a recording whose disk fills up; needs root, nftables, ethtool, a mount namespace)"
cargo test --workspace --locked --test call_survives_network_trouble --test link_emulator --test call_fits_a_narrow_link --test call_starts_over_a_failed_setup --test call_logs_quietly --test recording_stops_cleanly_on_a_full_disk -- --ignored --test-threads=1

step "screen capture and screen sharing in a call, from a real X server (Xvfb)"
xvfb-run -a -s "-screen 0 1280x720x24" cargo test --workspace --locked --test screen_capture --test call_screen_share -- --ignored

# Tests that make calls run in a network namespace with only loopback, so every ICE
# candidate is 127.0.0.1 and no packet leaves the machine.
if [ "$(id -u)" -eq 0 ]; then NS=(unshare -n); else NS=(unshare -rn); fi

step "socket.io-client v4 compatibility, and the engine through the reference design's Node server (loopback-only network namespace)"
"${NS[@]}" sh -c 'ip link set lo up && node --test --test-concurrency=1 tests/js/compat-*.test.mjs'

step "end to end: headless Chromium, and the desktop app under Xvfb through WebKitWebDriver (loopback-only network namespace)"
# The three-browser file runs in a runner of its own: after every other file in one runner
# its 20 MB transfer lost a link (the sender dropped a receiver as gone mid-transfer) in 4 of 4
# runs here, while it passes alone and after any subset tried (docs/STATUS.md: not understood).
"${NS[@]}" sh -c 'ip link set lo up && xvfb-run -a -s "-screen 0 1280x800x24" node --test --test-concurrency=1 $(ls tests/js/e2e-*.test.mjs | grep -v e2e-three-browsers)'
"${NS[@]}" sh -c 'ip link set lo up && node --test tests/js/e2e-three-browsers.test.mjs'

step "the .deb: built, installed, launched from its desktop entry, removed (needs root or sudo)"
./scripts/package-deb.sh --quiet
xvfb-run -a -s "-screen 0 1280x800x24" node --test tests/js/installed-deb.test.mjs

step "all tests passed"

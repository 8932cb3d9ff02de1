#!/usr/bin/env bash
# Starts a PulseAudio server with two null sinks for the audio tests (machines without a sound
# card): `confab_mic` is what a test plays into and a call captures from (its monitor), and
# `confab_out` is where a call plays and a test records from (its monitor). Idempotent.
set -euo pipefail
if ! pactl info >/dev/null 2>&1; then
  # As root PulseAudio warns that it should run per user; for a test server that is fine.
  pulseaudio --start --exit-idle-time=-1 --log-target=stderr >/dev/null 2>&1 || pulseaudio --daemonize=yes --exit-idle-time=-1 --system=false
  for _ in $(seq 1 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
fi
# Without this the first capture callback comes 1.2-1.7 s late (FINDINGS.md).
pactl unload-module module-suspend-on-idle >/dev/null 2>&1 || true
for sink in confab_mic confab_out; do
  pactl list short sinks | grep -q "$sink" || pactl load-module module-null-sink "sink_name=$sink" "sink_properties=device.description=$sink" >/dev/null
done
pactl info | grep -E "Server Name|Default Sink" || true

#!/usr/bin/env bash
# Sets everything up and runs Confab.
#
#   ./scripts/run.sh                 the desktop app; the first join hosts the signalling
#                                    server on 127.0.0.1:3000 (browser guests: the invite link)
#   ./scripts/run.sh --demo          the same, joined to room "demo" as "you", plus a headless
#                                    demo peer (`confab join`, test pattern and tone) in it
#   ./scripts/run.sh serve [ARGS]    only the signalling server with the browser UI
#
# Without a display (no $DISPLAY or $WAYLAND_DISPLAY) it runs the server only.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
BIN="${CARGO_TARGET_DIR:-target}/release"
export CONFAB_UI_DIR="$PWD/ui"
export CONFAB_SOCKETIO_CLIENT_DIR="$PWD/node_modules/socket.io-client/dist"
BIND="${CONFAB_BIND:-127.0.0.1:3000}"

if [ "${1:-}" = "serve" ] || { [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; }; then
  [ "${1:-}" = "serve" ] && shift
  cargo build --release --locked -p confab-cli
  echo "Open http://$BIND/?room=demo&name=YOUR_NAME in Chromium or Firefox."
  exec "$BIN/confab" serve --bind "$BIND" "$@"
fi

cargo build --release --locked -p confab-cli -p confab-app
if [ "${1:-}" = "--demo" ]; then
  "$BIN/confab-app" --embedded-bind "$BIND" --room demo --name you --join &
  APP=$!
  # The app hosts the server on its first join; the demo peer joins once it answers.
  for _ in $(seq 1 100); do curl -fsS "http://$BIND/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  "$BIN/confab" join --server "http://$BIND" --room demo --name demo-peer \
    --synthetic-video --synthetic-audio --chat "Hello from the demo peer" &
  PEER=$!
  wait "$APP" || true
  kill -INT "$PEER" 2>/dev/null || true
  wait "$PEER" 2>/dev/null || true
else
  exec "$BIN/confab-app" --embedded-bind "$BIND"
fi

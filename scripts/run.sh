#!/usr/bin/env bash
# Sets everything up and runs Confab: for now the signalling server with the browser UI.
# Open the printed address in two browser windows (or send it to guests) to start a call.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p confab-cli
echo "Open http://${CONFAB_BIND:-127.0.0.1:3000}/?room=demo&name=YOUR_NAME in Chromium or Firefox."
exec "${CARGO_TARGET_DIR:-target}/release/confab" serve "$@"

#!/usr/bin/env bash
# Builds the Debian package of the desktop app: target/debian/confab_<version>_<arch>.deb
# (release build; the binary, the desktop entry, the icons from icons/, and the browser UI the
# app serves to guests when it hosts a call). Install it with
#   sudo apt install ./target/debian/confab_*.deb
# Uses cargo-deb (installed here on first use); metadata in src-tauri/Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi
# cargo-deb writes to <target>/debian; the test and the README expect it here.
cargo deb -p confab-app --strip --output target/debian "$@" -- --locked

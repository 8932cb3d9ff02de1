#!/usr/bin/env bash
# Installs everything Confab needs on Debian 12 (run as root, or with sudo available):
# system packages, a Rust toolchain if none is present, and the npm packages (into the repo).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Build: Tauri v2 (webkit2gtk 4.1 and friends) and the Rust crates' C dependencies: nasm for
# openh264's assembly (without it openh264 builds silently and encodes 2.6-4.4x slower), cmake
# for the bundled libopus, libclang for the V4L2 bindings of nokhwa (cameras), PipeWire/GBM/
# EGL/Wayland/XCB headers for xcap (screen capture).
# Tests: Chromium for the browser end-to-end tests, iproute2/util-linux for loopback-only
# network namespaces, PulseAudio (null sinks, pactl/parec/pacat) behind ALSA for the audio
# device tests; libasound2-dev for cpal; libwebrtc-audio-processing-dev for echo cancellation;
# Xvfb and x11-utils (xmessage) for screen capture; coturn (turnserver) for relay-only calls;
# nftables (nft) for the blackouts of the network-namespace tests, ethtool to turn off the
# offloads of the veths `confab netem` forwards between; redis-server (7.0: RESP3, sharded
# pub/sub) for the multi-node tests, each of which starts its own on loopback, and nginx for
# the one that runs docs/cluster.md's proxy in front of them (its own, from a scratch directory).
# The desktop app's tests: webkit2gtk-driver (WebDriver), gstreamer1.0-libav (H.264 for
# WebCodecs), xclip (reads the X clipboard the invite link is copied to), dunst and
# dbus-daemon (a real notification server on the test's own session bus), xdotool (moves the
# X focus to another window, so the app notifies). Recordings: ffmpeg (ffprobe reads them,
# ffmpeg decodes every frame). The .deb: dpkg-dev
# (dpkg-shlibdeps finds its library dependencies), desktop-file-utils (its test validates the desktop entry).
APT_PACKAGES=(
  build-essential pkg-config curl ca-certificates git
  libssl-dev libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev
  nasm cmake
  libclang-dev libpipewire-0.3-dev libgbm-dev libegl-dev libwayland-dev libxcb1-dev
  chromium iproute2 util-linux
  libasound2-dev pulseaudio pulseaudio-utils libasound2-plugins libwebrtc-audio-processing-dev
  xvfb x11-utils xauth webkit2gtk-driver imagemagick gstreamer1.0-libav xclip
  dunst dbus-daemon xdotool ffmpeg
  dpkg-dev desktop-file-utils coturn nftables ethtool redis-server nginx
)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Installing must not start the packages' own services (nginx on port 80, Redis, coturn):
  # the tests start their own on loopback. A machine without a policy-rc.d gets one that
  # forbids it while apt runs.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# Third-party JavaScript (socket.io client for browser guests, test and benchmark tools).
if [ ! -d node_modules/socket.io-client ] || [ ! -d node_modules/lucide-static ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# The UI's icons (ui/icons.js, generated from lucide-static; the app embeds ui/ when built).
node scripts/build-icons.mjs >/dev/null

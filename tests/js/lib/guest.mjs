// A browser guest as a process, for tests written in Rust (the network-namespace tests): opens
// the browser UI served by `confab serve` at --server in headless Chromium, joins --room as
// --name, and prints what happens as JSON lines in `confab join --progress`'s shapes:
//   {"event":"joined"}, {"event":"participant-state","id","state"}, {"event":"participant-left","id"},
//   {"event":"signalling","state"}, {"event":"error","message"},
//   {"event":"video","from","frames"} whenever getStats shows more frames decoded from a peer
//   (polled every POLL_MS: times are within that of the decode), with "gap_ms" when the
//   previous increase was GAP_MS or more before (as `confab join` marks a resumption);
//   {"event":"stats","id","fps","bitrate_in_bps","bitrate_out_bps","audio_concealed"} once a
//   second per peer (audio_concealed: the share of received audio samples concealed).
// Runs until stdin closes or SIGTERM; `--shot PATH` saves a screenshot first when it ends.
//
// Usage: node tests/js/lib/guest.mjs --server http://10.77.0.1:3000 --room net --name carol

import { parseArgs } from "node:util";
import { launchChromium, newPage } from "./harness.mjs";

const POLL_MS = 100;
const GAP_MS = 500;
const { values: args } = parseArgs({
  options: {
    server: { type: "string" },
    room: { type: "string" },
    name: { type: "string" },
    shot: { type: "string" },
  },
});
if (!args.server || !args.room || !args.name) {
  console.error("usage: guest.mjs --server URL --room ROOM --name NAME [--shot PATH]");
  process.exit(2);
}

const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
// Camera and microphone need a secure context: the server's plain-http origin on the test
// network is declared one (as https would be in a real deployment).
const origin = new URL(args.server).origin;
const browser = await launchChromium([`--unsafely-treat-insecure-origin-as-secure=${origin}`]);
const page = await newPage(browser, args.server, args.name);
await page.exposeFunction("__confabProgress", (e) => {
  switch (e.type) {
    case "joined":
      return print({ event: "joined", room: e.room });
    case "participant-state":
      return print({ event: "participant-state", id: e.id, state: e.state });
    case "participant-left":
      return print({ event: "participant-left", id: e.id });
    case "signalling":
      return print({ event: "signalling", state: e.state });
    case "error":
      return print({ event: "error", message: e.message });
  }
});
// Every backend event is copied to the test before the UI gets it: the backend is created
// at join, so the hook wraps the UI's handler as soon as the backend exists.
await page.addInitScript(() => {
  const hook = () => {
    const backend = window.confab && window.confab.backend;
    if (!backend || backend.__hooked) return false;
    const ui = backend.emit;
    backend.emit = (e) => {
      window.__confabProgress({ type: e.type, id: e.id, state: e.state, room: e.room, message: e.message });
      ui(e);
    };
    backend.__hooked = true;
    return true;
  };
  const timer = setInterval(() => hook() && clearInterval(timer), 5);
});
await page.goto(`${args.server}/?room=${encodeURIComponent(args.room)}&name=${encodeURIComponent(args.name)}&autojoin=1`);

const frames = new Map();
const lastIncrease = new Map();
let stopping = false;
/** Each peer's cumulative getStats counters: frames decoded, bytes in and out, audio samples received and concealed. */
function counters() {
  return page
    .evaluate(async () => {
      const backend = window.confab && window.confab.backend;
      const out = {};
      if (!backend) return out;
      for (const [id, peer] of backend.peers) {
        const s = { frames: 0, bytesIn: 0, bytesOut: 0, samples: 0, concealed: 0 };
        (await peer.pc.getStats()).forEach((r) => {
          if (r.type === "inbound-rtp") s.bytesIn += r.bytesReceived || 0;
          if (r.type === "outbound-rtp") s.bytesOut += r.bytesSent || 0;
          if (r.type === "inbound-rtp" && r.kind === "video") s.frames += r.framesDecoded || 0;
          if (r.type === "inbound-rtp" && r.kind === "audio") {
            s.samples += r.totalSamplesReceived || 0;
            s.concealed += r.concealedSamples || 0;
          }
        });
        out[id] = s;
      }
      return out;
    })
    .catch(() => ({}));
}

async function poll() {
  while (!stopping) {
    for (const [id, { frames: n }] of Object.entries(await counters())) {
      if (n > (frames.get(id) || 0)) {
        const now = Date.now();
        const line = { event: "video", from: id, frames: n };
        if (lastIncrease.has(id) && now - lastIncrease.get(id) >= GAP_MS) line.gap_ms = now - lastIncrease.get(id);
        lastIncrease.set(id, now);
        print(line);
      }
      frames.set(id, n);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
const polling = poll();

/** Per-second statistics from getStats, in confab join's `stats` shape where they overlap. */
async function statsLoop() {
  const last = new Map();
  while (!stopping) {
    const now = await counters();
    const t = Date.now();
    for (const [id, s] of Object.entries(now)) {
      const p = last.get(id);
      if (p && t > p.t) {
        const dt = (t - p.t) / 1000;
        const samples = s.samples - p.samples;
        print({
          event: "stats",
          id,
          fps: (s.frames - p.frames) / dt,
          bitrate_in_bps: ((s.bytesIn - p.bytesIn) * 8) / dt,
          bitrate_out_bps: ((s.bytesOut - p.bytesOut) * 8) / dt,
          audio_concealed: samples > 0 ? (s.concealed - p.concealed) / samples : null,
        });
      }
      last.set(id, { ...s, t });
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
const statsPolling = statsLoop();

async function stop() {
  if (stopping) return;
  stopping = true;
  await polling;
  await statsPolling;
  if (args.shot) await page.screenshot({ path: args.shot }).catch(() => {});
  await browser.close();
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.resume();
process.on("SIGTERM", stop);

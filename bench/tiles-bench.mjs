// Frames to tiles: what drawing remote video costs the desktop app (confab-app and its WebKit
// processes) and how much latency it adds, for each way the video can reach the page. The app
// runs with --bench-tiles: N synthetic participants send 30 fps video as the same messages a
// call's video becomes, into the same tiles (src-tauri/src/bench.rs), so neither the network
// nor the senders' encoders share the measurement. Driven through WebKitWebDriver.
//
// Per candidate and size: frames drawn per second per tile, send → drawn latency (p50/p95:
// from the moment the app has the frame to drawImage returning in the page), and CPU as % of
// one core over MEASURE_S seconds, split into the app process and WebKit's processes. The
// anchor, in the same run, is the app with the same tiles and no video.
//
//   xvfb-run node bench/tiles-bench.mjs     (bench/tiles-bench.sh sets it all up)
//   TILES=4 SIZES=640x480,1280x720 CANDIDATES=none,encoded,twice,pictures MEASURE_S=10

import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { launchApp, shotsDir } from "../tests/js/lib/harness.mjs";

const TILES = Number(process.env.TILES || 4);
const SIZES = (process.env.SIZES || "640x480,1280x720").split(",");
const CANDIDATES = (process.env.CANDIDATES || "none,encoded,twice,pictures").split(",");
const MEASURE_S = Number(process.env.MEASURE_S || 10);
const CLK_TCK = 100; // Linux's USER_HZ: /proc/*/stat counts CPU time in 1/100 s
const FPS = 30;

const LABELS = {
  none: "no video (anchor)",
  encoded: "access units → WebCodecs",
  twice: "access units → WebCodecs, decoded in Rust too",
  pictures: "decoded in Rust → I420 → new VideoFrame",
};

/** pid → {ppid, comm, ticks} for every process we can read. */
function processes() {
  const all = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ')'.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" ");
    all.set(Number(name), { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) });
  }
  return all;
}

/** CPU ticks of `root`'s descendants (not `root`), by group: the app, or WebKit's processes. */
function treeTicks(root) {
  const all = processes();
  const out = new Map();
  for (const [pid, p] of all) {
    let up = p.ppid;
    let inside = false;
    for (let hops = 0; up > 1 && hops < 64; hops++) {
      if (up === root) {
        inside = true;
        break;
      }
      up = all.get(up)?.ppid ?? 0;
    }
    if (!inside) continue;
    // WebKitWebDriver starts the app; the app starts WebKit's processes.
    const group = p.ppid === root ? "app" : "webkit";
    out.set(`${pid}`, { group, ticks: p.ticks });
  }
  return out;
}

function cpuPercent(before, after, seconds) {
  const sum = { app: 0, webkit: 0 };
  for (const [pid, a] of after) {
    sum[a.group] += a.ticks - (before.get(pid)?.ticks ?? 0);
  }
  const pct = (t) => (100 * t) / CLK_TCK / seconds;
  return { app: pct(sum.app), webkit: pct(sum.webkit), total: pct(sum.app + sum.webkit) };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const stats = (driver) => driver.executeScript("return window.confabTileStats ? window.confabTileStats() : {}");

async function measure(candidate, size) {
  const app = await launchApp(["--room", "bench", "--name", "me", "--join",
    "--bench-tiles", String(TILES), "--bench-size", size, "--bench-video", candidate === "none" ? "none" : candidate]);
  const { driver, webdriver } = app;
  try {
    // Ready: every tile on screen and, with video, every one drawing (1 s of frames).
    const deadline = Date.now() + 30000;
    for (;;) {
      const tiles = await driver.executeScript("return document.querySelectorAll('.tile.remote').length");
      const s = await stats(driver);
      const drawing = Object.keys(s).filter((id) => id !== "me" && s[id].framesDrawn >= FPS).length;
      if (tiles === TILES && (candidate === "none" || drawing === TILES)) break;
      if (Date.now() > deadline) throw new Error(`${candidate} ${size}: ${tiles} tiles, ${drawing} drawing after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const s0 = await stats(driver);
    const cpu0 = treeTicks(webdriver.pid);
    const t0 = performance.now();
    // The measurement window itself, not a wait for an event.
    await new Promise((r) => setTimeout(r, MEASURE_S * 1000));
    const cpu1 = treeTicks(webdriver.pid);
    const s1 = await stats(driver);
    const seconds = (performance.now() - t0) / 1000;
    const latencies = [];
    const fps = [];
    for (const [id, after] of Object.entries(s1)) {
      if (id === "me") continue;
      const first = s0[id]?.framesDrawn ?? 0;
      fps.push((after.framesDrawn - first) / seconds);
      // The ring holds the last 512 frames by framesDrawn % 512.
      for (let k = Math.max(first, after.framesDrawn - after.latencies.length); k < after.framesDrawn; k++) {
        latencies.push(after.latencies[k % after.latencies.length]);
      }
    }
    latencies.sort((a, b) => a - b);
    if (candidate === "encoded" || candidate === "pictures") {
      writeFileSync(path.join(shotsDir(), `tiles-${candidate}-${size}.png`), await driver.takeScreenshot(), "base64");
    }
    return {
      candidate,
      size,
      fpsMin: fps.length ? Math.min(...fps) : 0,
      fpsMean: fps.length ? fps.reduce((a, b) => a + b, 0) / fps.length : 0,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      cpu: cpuPercent(cpu0, cpu1, seconds),
    };
  } finally {
    await app.quit();
  }
}

const f1 = (v) => (v === null ? "–" : v.toFixed(1));
const rows = [];
for (const size of SIZES) {
  for (const candidate of CANDIDATES) {
    const r = await measure(candidate, size);
    rows.push(r);
    console.error(`${size} ${candidate}: ${JSON.stringify(r)}`);
  }
}

console.log(`Frames to tiles: ${TILES} tiles at ${FPS} fps, ${MEASURE_S} s each, CPU in % of one core`);
console.log("| size | path | fps per tile (min / mean) | added latency p50 / p95 | CPU app + WebKit = total | × anchor | − anchor |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  const anchor = rows.find((a) => a.size === r.size && a.candidate === "none");
  const ratio = anchor && anchor.cpu.total > 0 ? (r.cpu.total / anchor.cpu.total).toFixed(2) : "–";
  const over = anchor ? f1(r.cpu.total - anchor.cpu.total) : "–";
  const fps = r.candidate === "none" ? "–" : `${f1(r.fpsMin)} / ${f1(r.fpsMean)}`;
  const lat = r.candidate === "none" ? "–" : `${f1(r.p50)} / ${f1(r.p95)} ms`;
  console.log(`| ${r.size} | ${LABELS[r.candidate] || r.candidate} | ${fps} | ${lat} | ${f1(r.cpu.app)} + ${f1(r.cpu.webkit)} = ${f1(r.cpu.total)} | ${ratio} | ${over} |`);
}

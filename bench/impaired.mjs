// Impaired-network benchmark — issue 9's yardstick, run before congestion control exists so
// that what changes is measured against it. A 1:1 call between hosts in network namespaces,
// bob's link going through `confab netem` with each profile (both directions), for Confab
// (two `confab join`, the engine) and Chromium (two guests running the browser UI) in the
// same run. Per profile and stack, over MEASURE_S seconds from the profile's start:
//   received frames per second (each direction), freezes (gaps ≥ 500 ms between decoded
//   frames: count and total), the sent video bitrate against the link, join → first frame,
//   audio concealed (Chromium's getStats; the engine has no concealment counter yet), and
//   glass-to-glass p50/p95 (Confab, from the test pattern's stamps). The step profile
//   (2 Mb/s → 500 kb/s → 2 Mb/s every STEP_S) also reports how long the sender takes to fit
//   under the narrower link.
//
// Needs root, ethtool and Chromium; uses the debug `confab` (CONFAB_BIN to change).
//   node bench/impaired.mjs            (MEASURE_S=30, STEP_S=20, PROFILES=name,name,
//                                       STACKS=confab,confab-gcc,chromium,mixed)

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, rustPeer, startServer } from "../tests/js/lib/harness.mjs";
import { Lan } from "../tests/js/lib/netns.mjs";

const MEASURE_S = Number(process.env.MEASURE_S || 30);
const STEP_S = Number(process.env.STEP_S || 20);
/** The anchors of libwebrtc's full-stack tests (FINDINGS), as `confab netem` profiles. */
const PROFILES = [
  { name: "HD moderate: 2000 kb/s, 100 ms, 50-packet queue, 3 % loss", rate: 2000e3, profile: "hd-moderate" },
  { name: "1000 kb/s, 100 ms RTT, 3 % loss", rate: 1000e3, profile: "rate=1000kbit,delay=50ms,loss=3%,queue=50" },
  { name: "500 kb/s, 3 % loss", rate: 500e3, profile: "lossy-500k" },
  { name: "150 kb/s", rate: 150e3, profile: "narrow-150k" },
  { name: "step 2 Mb/s → 500 kb/s → 2 Mb/s", rate: 500e3, step: ["rate=2000kbit,queue=50", "rate=500kbit,queue=50", "rate=2000kbit,queue=50"] },
].filter((p) => !process.env.PROFILES || process.env.PROFILES.split(",").some((n) => p.name.startsWith(n)));
const GAP_MS = 500;
const SETUP_MS = 45000;

const log = (...a) => console.error(`[impaired ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** A Chromium guest (tests/js/lib/guest.mjs) in `ns`: its lines with arrival times. */
function guest(ns, server, name) {
  const child = spawn("ip", ["netns", "exec", ns, "node", path.join(ROOT, "tests/js/lib/guest.mjs"),
    "--server", server.url, "--room", "impaired", "--name", name], { stdio: ["pipe", "pipe", "inherit"] });
  const seen = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    try {
      const e = JSON.parse(line);
      Object.defineProperty(e, "at", { value: Date.now(), enumerable: false });
      seen.push(e);
    } catch {}
  });
  const exited = new Promise((r) => child.once("exit", r));
  return { seen, async stop() { child.stdin.end(); await Promise.race([exited, sleep(15000)]); if (child.exitCode === null) child.kill("SIGKILL"); return null; } };
}

async function until(what, pred, ms = SETUP_MS) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pred()) return;
    await sleep(100);
  }
  throw new Error(`no ${what} within ${ms} ms`);
}

/** One call of `stack` ("confab", "confab-gcc", "chromium" or "mixed") through `p`; returns its figures. */
async function run(stack, p) {
  const lan = new Lan("imp");
  const dir = mkdtempSync(path.join(tmpdir(), "confab-impaired-"));
  try {
    const srvHost = lan.host("srv");
    const aliceHost = lan.host("a");
    const { host: bobHost, link } = await lan.hostBehindLink("b", "none", "none");
    const server = await startServer([], `${srvHost.addr}:3000`, srvHost.ns);
    const start = Date.now();
    // "confab-gcc": the engine with webrtc-rs's estimator as shipped (`--estimator gcc`).
    const estimator = stack === "confab-gcc" ? ["--estimator", "gcc"] : [];
    // "mixed": alice is `confab join`, bob (behind the link) a Chromium guest — the interop
    // case: does a guest's video fit a shaped link when it talks to the engine, and ours to it?
    const engine = (name) => stack.startsWith("confab") || (stack === "mixed" && name === "alice");
    const join = (host, name) =>
      engine(name)
        ? rustPeer({ server, room: "impaired", name, dir, bind: null, netns: host.ns, args: ["--synthetic-video", "--synthetic-audio", ...estimator] })
        : guest(host.ns, server, name);
    const alice = join(aliceHost, "alice");
    const bob = join(bobHost, "bob");
    const video = (who, from) => who.seen.filter((e) => e.event === "video" && e.from === from);
    await until("video both ways", () => video(alice, "bob").length > 0 && video(bob, "alice").length > 0);
    // From both having joined the room (not from process start: Chromium's launch and page
    // load would count) to both decoding the other.
    const joinedAt = Math.max(...[alice, bob].map((w) => w.seen.find((e) => e.event === "joined").at));
    const firstFrame = Math.max(video(alice, "bob")[0].at, video(bob, "alice")[0].at) - joinedAt;

    const t0 = Date.now();
    const settle = [];
    if (p.step) {
      for (const [i, profile] of p.step.entries()) {
        await link.set("both", profile);
        const at = Date.now();
        await sleep(STEP_S * 1000);
        if (i === 1) {
          // How long alice's sending took to fit under the narrower link (3 s in a row).
          const out = alice.seen.filter((e) => e.event === "stats" && e.id === "bob" && e.at >= at && e.at <= at + STEP_S * 1000);
          let fit = null;
          for (let k = 0; k + 2 < out.length; k++) {
            if ([0, 1, 2].every((d) => out[k + d].bitrate_out_bps <= p.rate)) {
              fit = out[k].at - at;
              break;
            }
          }
          settle.push(fit);
        }
      }
    } else {
      await link.set("both", p.profile);
      await sleep(MEASURE_S * 1000);
    }
    const t1 = Date.now();
    const inWindow = (e) => e.at >= t0 && e.at <= t1;
    const stats = (who, of) => who.seen.filter((e) => e.event === "stats" && e.id === of && inWindow(e));
    /**
     * Gaps ≥ GAP_MS that ended in the window (marked on the first frame after them), plus the
     * one still going on at its end, measured from the last decoded frame: a frame shows as a
     * video line (Chromium: every 100 ms poll; confab join samples them) or as a rise of
     * `frames_decoded` in a stats line.
     */
    const freezes = (who, from) => {
      const ended = video(who, from)
        .filter((e) => inWindow(e) && e.gap_ms >= GAP_MS)
        .map((e) => e.gap_ms);
      let lastFrame = t0;
      for (const e of video(who, from)) if (e.at <= t1) lastFrame = Math.max(lastFrame, e.at);
      let prev = null;
      for (const e of who.seen.filter((e) => e.event === "stats" && e.id === from && e.at <= t1)) {
        if (prev !== null && e.frames_decoded > prev) lastFrame = Math.max(lastFrame, e.at);
        prev = e.frames_decoded;
      }
      if (t1 - lastFrame >= GAP_MS) ended.push(t1 - lastFrame);
      return ended;
    };
    const direction = (rx, from, tx, to) => ({
      fps: mean(stats(rx, from).map((e) => e.fps)),
      freezes: freezes(rx, from).length,
      frozenMs: freezes(rx, from).reduce((a, ms) => a + ms, 0),
      sentBps: mean(stats(tx, to).map((e) => e.bitrate_out_bps)),
      // Confab only: the sender's estimate and the height it sends at (last third of the window).
      availableBps: mean(stats(tx, to).slice(-Math.ceil(stats(tx, to).length / 3)).map((e) => e.available_bps).filter((x) => typeof x === "number")),
      sentHeight: stats(tx, to).map((e) => e.sent_height).filter((x) => typeof x === "number").at(-1),
      concealed: mean(stats(rx, from).map((e) => e.audio_concealed).filter((x) => typeof x === "number")),
    });
    const down = direction(bob, "alice", alice, "bob");
    const up = direction(alice, "bob", bob, "alice");
    const netem = await link.stats();
    link.stop();
    const reports = await Promise.all([alice.stop(), bob.stop()]);
    await server.stop();
    const latency = reports[1] && reports[1].stats && reports[1].stats.alice
      ? `${reports[1].stats.alice.latency_ms_p50} / ${reports[1].stats.alice.latency_ms_p95} ms`
      : "—";
    return { firstFrame, down, up, latency, settle, netem };
  } finally {
    lan.destroy();
  }
}

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "—");
const rows = [];
for (const p of PROFILES) {
  for (const stack of (process.env.STACKS || "confab,chromium").split(",")) {
    log(`${p.name}: ${stack}`);
    try {
      const r = await run(stack, p);
      rows.push({ profile: p.name, stack, rate: p.rate, ...r });
      log(JSON.stringify(r));
    } catch (err) {
      log(`${p.name} ${stack} failed: ${err.message}`);
      rows.push({ profile: p.name, stack, error: err.message });
    }
  }
}
const out = path.join(ROOT, "target/bench");
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, `impaired-${new Date().toISOString().replace(/[:.]/g, "")}.json`), JSON.stringify(rows, null, 2));
console.log("| profile | stack | join → first frame | fps alice→bob / bob→alice | freezes ≥ 500 ms (n, total s) alice→bob / bob→alice | sent kb/s alice→bob / bob→alice (link) | estimate kb/s, sent height | audio concealed (bob) | glass-to-glass p50 / p95 | fits the narrower link after |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  if (r.error) {
    console.log(`| ${r.profile} | ${r.stack} | failed: ${r.error} | | | | | | | |`);
    continue;
  }
  const fz = (d) => `${d.freezes}, ${fmt(d.frozenMs / 1000, 1)} s`;
  const settle = r.settle.length ? r.settle.map((s) => (s === null ? `never in ${STEP_S} s` : `${fmt(s / 1000, 1)} s`)).join(", ") : "";
  const concealed = Number.isFinite(r.down.concealed) ? `${fmt(r.down.concealed * 100, 1)} %` : "—";
  console.log(`| ${r.profile} | ${r.stack} | ${fmt(r.firstFrame / 1000, 2)} s | ${fmt(r.down.fps, 1)} / ${fmt(r.up.fps, 1)} | ${fz(r.down)} / ${fz(r.up)} | ${fmt(r.down.sentBps / 1000)} / ${fmt(r.up.sentBps / 1000)} (${fmt(r.rate / 1000)}) | ${fmt(r.down.availableBps / 1000)}, ${r.down.sentHeight ? `${r.down.sentHeight}p` : "—"} | ${concealed} | ${r.latency} | ${settle} |`);
}

// What recording costs: a 4-participant call (four `confab join`, release build, each sending
// the moving test pattern and a tone) at 640x480 and at 1280x720, measured with and without
// alice recording it — the anchor is the same call unrecorded, in the same run.
//
// For each: CPU (% of one core) and memory (MiB RSS) of alice, and of the whole call (all
// four), over MEASURE_S seconds once everyone receives everyone; what the call itself got at
// alice (frames a second she sent and received), so a recorder that took the call's CPU would
// show; and the recording's own frame rate (its frames over its duration, through ffprobe).
//
// Run by bench/record-bench.sh inside a loopback-only network namespace.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer, rustPeer } from "../tests/js/lib/harness.mjs";
import { measure } from "./proc.mjs";

const RUNS = Number(process.env.RUNS || 3);
const MEASURE_S = Number(process.env.MEASURE_S || 10);
const NAMES = ["alice", "bob", "carol", "dave"];
const SIZES = [
  { size: "640x480", kbps: 1000 },
  { size: "1280x720", kbps: 2500 },
];

const log = (...a) => console.error(`[record-bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / Math.max(xs.length, 1);

/** The recording's video frames a second: frames counted by ffprobe over its duration. */
function recordedFps(file) {
  const out = execFileSync("ffprobe", ["-v", "error", "-select_streams", "v", "-count_frames",
    "-show_entries", "stream=nb_read_frames:format=duration", "-of", "json", file], { encoding: "utf8" });
  const j = JSON.parse(out);
  return Number(j.streams[0].nb_read_frames) / Number(j.format.duration);
}

async function call(server, dir, { size, kbps }, record, run) {
  const room = `rec-${size}-${record ? "on" : "off"}-${run}`;
  const media = ["--synthetic-video", "--synthetic-audio", "--video-size", size, "--max-bitrate", String(kbps)];
  const file = path.join(dir, `${room}.mp4`);
  const peers = NAMES.map((name) =>
    rustPeer({ server, dir, room, name, args: [...media, ...(record && name === "alice" ? ["--record", file] : [])] }));
  const [alice] = peers;
  // Everyone receives everyone (60 frames from each of the three others).
  await Promise.all(peers.flatMap((p, i) => NAMES.filter((_, j) => j !== i).map((from) =>
    p.waitFor((v) => v.event === "video" && v.from === from && v.frames >= 60, `60 frames from ${from}`, 90000))));
  const from = Date.now();
  const [aliceUse, ...others] = await measure(peers.map((p) => p.child.pid), MEASURE_S);
  const to = Date.now();
  // Alice's statistics over the same window: what she received from each, what she sent.
  const stats = alice.seen.filter((v) => v.event === "stats" && v.at >= from && v.at <= to);
  const received = mean(NAMES.slice(1).map((id) => mean(stats.filter((v) => v.id === id).map((v) => v.fps))));
  const sent = mean(stats.map((v) => v.sent_fps).filter((x) => typeof x === "number"));
  await Promise.all(peers.map((p) => p.stop()));
  const stopped = alice.seen.find((v) => v.event === "recording" && v.state === "stopped");
  if (record && (!stopped || stopped.error)) throw new Error(`the recording failed: ${JSON.stringify(stopped)}`);
  return {
    alice: aliceUse,
    callCpu: [aliceUse, ...others].reduce((s, u) => s + u.cpu, 0),
    callRssMiB: [aliceUse, ...others].reduce((s, u) => s + u.rssMiB, 0),
    receivedFps: received,
    sentFps: sent,
    recordedFps: record ? recordedFps(file) : null,
    droppedInputs: record ? stopped.dropped : null,
  };
}

const server = await startServer();
const dir = mkdtempSync(path.join(tmpdir(), "confab-record-bench-"));
const results = [];
try {
  for (const s of SIZES) {
    for (let run = 0; run < RUNS; run++) {
      // Alternating, so a machine that warms up or slows down over the run affects both alike.
      for (const record of run % 2 === 0 ? [false, true] : [true, false]) {
        const r = await call(server, dir, s, record, run);
        log(s.size, record ? "recorded" : "plain", JSON.stringify(r));
        results.push({ size: s.size, record, ...r });
      }
    }
  }
  console.log(JSON.stringify({ runs: RUNS, seconds: MEASURE_S, results }, null, 2));
  const f = (x) => (typeof x === "number" ? x.toFixed(1) : "—");
  console.log("\n| call (4 people) | alice CPU % | alice MiB | call CPU % (4 processes) | call MiB | alice receives fps | alice sends fps | recording fps | inputs dropped |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const s of SIZES) {
    for (const record of [false, true]) {
      const rs = results.filter((r) => r.size === s.size && r.record === record);
      const m = (get) => median(rs.map(get));
      console.log(`| ${s.size}, ${record ? "alice records" : "no recording"} | ${f(m((r) => r.alice.cpu))} | ${f(m((r) => r.alice.rssMiB))} | ${f(m((r) => r.callCpu))} | ${f(m((r) => r.callRssMiB))} | ${f(m((r) => r.receivedFps))} | ${f(m((r) => r.sentFps))} | ${record ? f(m((r) => r.recordedFps)) : "—"} | ${record ? m((r) => r.droppedInputs) : "—"} |`);
    }
  }
} finally {
  await Promise.race([server.stop(), new Promise((r) => setTimeout(r, 5000))]);
  if (server.child.exitCode === null) server.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}

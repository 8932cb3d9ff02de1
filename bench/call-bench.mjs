// Call benchmarks: the Rust engine (`confab join`, release build) against Chromium (the
// anchor, two browser processes, measured in the same run on the same machine).
//
//   join → first remote frame   median of RUNS joins, with trickle ICE, over loopback
//   file throughput             one FILE_MB file, from the first byte moving to verified
//   CPU and memory              a 1:1 call at 1280x720 30 fps, over MEASURE_S seconds
//   glass-to-glass              Rust only: capture stamp → decoded, from the report
//
// Run by bench/call-bench.sh inside a loopback-only network namespace. Prints a JSON summary
// and a table with ratios (Rust / Chromium).

import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer, launchChromium, newPage, openPanel, pollPage, rustPeer } from "../tests/js/lib/harness.mjs";
import { measure, tree } from "./proc.mjs";

const RUNS = Number(process.env.RUNS || 5);
const FILE_MB = Number(process.env.FILE_MB || 200);
const MEASURE_S = Number(process.env.MEASURE_S || 10);
/** Which parts to run (comma-separated: join,file,call); all by default. */
const ONLY = new Set((process.env.ONLY || "join,file,call").split(","));

const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- the Rust peer ---------------------------------------------------------------------

/** `confab join` in `room` (the harness's helper: progress lines, a report in `dir`). */
const join = (server, dir, room, name, args = []) => rustPeer({ server, room, name, dir, args });

async function rustJoinToFirstFrame(server, dir, run) {
  const room = `rj${run}`;
  const media = ["--synthetic-video", "--synthetic-audio"];
  const alice = join(server, dir, room, "alice", media);
  await alice.waitFor((v) => v.event === "joined", "alice joined", 60000);
  const bob = join(server, dir, room, "bob", media);
  const first = await bob.waitFor((v) => v.event === "video" && v.from === "alice", "a frame from alice", 60000);
  await Promise.all([alice.stop(), bob.stop()]);
  return first.ms;
}

async function rustFile(server, file, dir) {
  const bob = join(server, dir, "rf", "bob", ["--accept-files", "--download-dir", dir]);
  await bob.waitFor((v) => v.event === "joined", "bob joined", 60000);
  const alice = join(server, dir, "rf", "alice", ["--send-file", file]);
  await bob.waitFor((v) => v.event === "transfer", "the transfer's end", 300000);
  const [, report] = await Promise.all([alice.stop(), bob.stop()]);
  const t = report.transfers[0];
  if (t.status !== "done") throw new Error(`Rust transfer ${t.status}: ${t.reason}`);
  return { mbPerS: t.size / 1e6 / (t.elapsed_ms / 1000), ms: t.elapsed_ms };
}

async function rustCall720(server, dir) {
  const media = ["--synthetic-video", "--synthetic-audio", "--video-size", "1280x720", "--max-bitrate", "2500"];
  const alice = join(server, dir, "rc", "alice", media);
  await alice.waitFor((v) => v.event === "joined", "alice joined", 60000);
  const bob = join(server, dir, "rc", "bob", media);
  await Promise.all([
    alice.waitFor((v) => v.event === "video" && v.frames >= 60, "60 frames at alice", 60000),
    bob.waitFor((v) => v.event === "video" && v.frames >= 60, "60 frames at bob", 60000),
  ]);
  const [a, b] = await measure([alice.child.pid, bob.child.pid], MEASURE_S);
  const [, rb] = await Promise.all([alice.stop(), bob.stop()]);
  const latency = rb.stats.alice || {};
  return { sides: [a, b], latencyP50: latency.latency_ms_p50, latencyP95: latency.latency_ms_p95 };
}

// ---- the Chromium anchor ---------------------------------------------------------------

/** This process's direct children (Playwright's Browser does not expose its process). */
function children() {
  return tree(process.pid).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === process.pid;
    } catch {
      return false;
    }
  });
}

/** One browser process per participant, like two people on two machines. */
async function chromiumPair(server, room, { size = null } = {}) {
  const sides = [];
  for (const name of ["alice", "bob"]) {
    const before = new Set(children());
    const browser = await launchChromium();
    browser.pid = children().find((pid) => !before.has(pid));
    const page = await newPage(browser, server.url, name);
    if (size) {
      await page.addInitScript(([W, H]) => {
        const md = navigator.mediaDevices;
        const original = md.getUserMedia.bind(md);
        // A W x H canvas at 30 fps with moving content and the Rust pattern's stamp
        // (frame number, capture time in ms; 80 16x16 blocks, CRC-8, sync byte 0xA5), so
        // the receiver can measure glass-to-glass as `confab join` does.
        md.getUserMedia = async (c) => {
          const stream = await original({ ...c, video: false });
          if (!c.video) return stream;
          const canvas = Object.assign(document.createElement("canvas"), { width: W, height: H });
          const ctx = canvas.getContext("2d");
          let n = 0;
          const crc8 = (bytes) => {
            let crc = 0;
            for (const b of bytes) {
              crc ^= b;
              for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
            }
            return crc;
          };
          const draw = () => {
            n++;
            ctx.fillStyle = `hsl(${(n * 4) % 360}, 55%, 45%)`;
            ctx.fillRect(0, 0, W, H);
            ctx.fillStyle = "#fff";
            ctx.fillRect((n * 9) % (W - 100), 100 + ((n * 5) % (H - 200)), 100, 100);
            const ms = Date.now() % 2 ** 32;
            const bytes = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255, ms >>> 24, (ms >>> 16) & 255, (ms >>> 8) & 255, ms & 255];
            bytes.push(crc8(bytes), 0xa5);
            for (let bit = 0; bit < 80; bit++) {
              ctx.fillStyle = bytes[bit >> 3] & (0x80 >> (bit & 7)) ? "#ebebeb" : "#101010";
              ctx.fillRect((bit % 16) * 16, Math.floor(bit / 16) * 16, 16, 16);
            }
          };
          draw();
          setInterval(draw, 1000 / 30);
          stream.addTrack(canvas.captureStream(30).getVideoTracks()[0]);
          return stream;
        };
        // Chromium scales a 720p send down on this 2-core machine (CPU and bandwidth
        // adaptation: 480x270 at 19 fps was received); for the same work as the Rust side it
        // must keep the resolution, as the Rust sender does.
        setInterval(() => {
          const peers = window.confab && window.confab.backend && window.confab.backend.peers;
          if (!peers) return;
          for (const peer of peers.values())
            for (const sender of peer.pc.getSenders()) {
              if (!sender.track || sender.track.kind !== "video") continue;
              const p = sender.getParameters();
              if (!p.encodings || !p.encodings.length || p.degradationPreference === "maintain-resolution") continue;
              p.degradationPreference = "maintain-resolution";
              p.encodings[0].maxBitrate = 2500000;
              sender.setParameters(p).catch(() => {});
            }
        }, 200);
      }, size);
    }
    await page.goto(`${server.url}/?room=${room}&name=${name}`);
    sides.push({ browser, page });
  }
  return sides;
}

/** Clicks join and resolves with ms until a frame from `from` is decoded (polled 5 ms). */
function clickJoinAndTimeFirstFrame(page, from) {
  return page.evaluate(async (from) => {
    const t0 = performance.now();
    document.querySelector('[data-testid="join"]').click();
    for (;;) {
      const peer = window.confab.backend && window.confab.backend.peers.get(from);
      if (peer) {
        let frames = 0;
        (await peer.pc.getStats()).forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
        });
        if (frames > 0) return performance.now() - t0;
      }
      if (performance.now() - t0 > 60000) throw new Error("no frame within 60 s");
      await new Promise((r) => setTimeout(r, 5));
    }
  }, from);
}

async function joined(page) {
  await page.waitForFunction(() => window.confab.backend && window.confab.backend.socket && window.confab.backend.socket.connected, null, { timeout: 30000 });
}

async function chromiumJoinToFirstFrame(server, run) {
  const [a, b] = await chromiumPair(server, `cj${run}`);
  await a.page.click('[data-testid="join"]');
  await joined(a.page);
  const ms = await clickJoinAndTimeFirstFrame(b.page, "alice");
  for (const s of [a, b]) await s.browser.close();
  return ms;
}

async function chromiumFile(server, file) {
  const [a, b] = await chromiumPair(server, "cf");
  for (const s of [a, b]) {
    await s.page.click('[data-testid="join"]');
    await joined(s.page);
  }
  await a.page.waitForFunction(() => {
    const peer = window.confab.backend.peers.get("bob");
    return peer && peer.dc && peer.dc.readyState === "open";
  }, null, { timeout: 30000 });
  await openPanel(a.page, "files");
  await openPanel(b.page, "files");
  await a.page.setInputFiles('[data-testid="file-input"]', file);
  await a.page.click('[data-testid="file-send"]');
  const row = b.page.locator('[data-testid="transfer"][data-direction="received"]');
  await row.locator('[data-testid="transfer-accept"]').click({ timeout: 60000 });
  const sel = '[data-testid="transfer"][data-direction="received"]';
  // Timed inside the page from the row's first "receiving" to its verdict (polled every 2 ms:
  // a Playwright round trip per poll would add its own latency).
  const ms = await b.page.evaluate(async (sel) => {
    const status = () => document.querySelector(sel)?.dataset.status;
    const deadline = performance.now() + 600000;
    while (status() !== "receiving" && !["done", "failed"].includes(status())) {
      if (performance.now() > deadline) throw new Error("never started receiving");
      await new Promise((r) => setTimeout(r, 2));
    }
    const t0 = performance.now();
    while (!["done", "failed"].includes(status())) {
      if (performance.now() > deadline) throw new Error("no verdict within 600 s");
      await new Promise((r) => setTimeout(r, 2));
    }
    return performance.now() - t0;
  }, sel);
  const status = await b.page.evaluate((sel) => document.querySelector(sel).dataset.status, sel);
  for (const s of [a, b]) await s.browser.close();
  if (status !== "done") throw new Error(`Chromium transfer ${status}`);
  return { mbPerS: (FILE_MB * 1024 * 1024) / 1e6 / (ms / 1000), ms };
}

/**
 * Chromium's data channel alone, between two browser processes, without the browser UI's
 * file logic: the strongest anchor for throughput. 16 KiB messages (the UI's chunk size),
 * the UI's backpressure thresholds; the offer/answer are exchanged once ICE gathering is
 * complete (no signalling server involved).
 */
async function chromiumRawChannel(server) {
  const [a, b] = await chromiumPair(server, "craw");
  const gathered = async (pc) => {
    if (pc.iceGatheringState !== "complete")
      await new Promise((r) => pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r()));
    return pc.localDescription.toJSON();
  };
  const offer = await a.page.evaluate(async (gatheredSrc) => {
    const gathered = eval(gatheredSrc);
    const pc = new RTCPeerConnection();
    window.rawPc = pc;
    window.rawDc = pc.createDataChannel("raw");
    await pc.setLocalDescription();
    return gathered(pc);
  }, gathered.toString());
  const answer = await b.page.evaluate(async ([offer, gatheredSrc]) => {
    const gathered = eval(gatheredSrc);
    const pc = new RTCPeerConnection();
    window.rawPc = pc;
    window.rawReceived = new Promise((resolve) => {
      pc.ondatachannel = (e) => {
        const dc = e.channel;
        dc.binaryType = "arraybuffer";
        let bytes = 0;
        let t0 = 0;
        dc.onmessage = (m) => {
          if (!t0) t0 = performance.now();
          bytes += m.data.byteLength;
          if (bytes >= window.rawExpected) resolve(performance.now() - t0);
        };
      };
    });
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription();
    return gathered(pc);
  }, [offer, gathered.toString()]);
  const total = FILE_MB * 1024 * 1024;
  await b.page.evaluate((total) => { window.rawExpected = total; }, total);
  await a.page.evaluate(async ([answer, total]) => {
    await window.rawPc.setRemoteDescription(answer);
    const dc = window.rawDc;
    if (dc.readyState !== "open") await new Promise((r) => (dc.onopen = r));
    dc.bufferedAmountLowThreshold = 1024 * 1024;
    const chunk = new Uint8Array(16 * 1024).map((_, i) => (i * 31) & 0xff);
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (dc.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => (dc.onbufferedamountlow = r));
      dc.send(chunk);
    }
  }, [answer, total]);
  const ms = await b.page.evaluate(() => window.rawReceived);
  for (const s of [a, b]) await s.browser.close();
  return { mbPerS: total / 1e6 / (ms / 1000), ms };
}

/**
 * In the page: reads the stamp of every frame presented in `from`'s tile for `ms` and returns
 * glass-to-glass p50/p95 (capture → the frame handed to the page, requestVideoFrameCallback)
 * and how many frames had a readable stamp.
 */
async function readStampLatencies({ from, ms, width }) {
  const video = document.querySelector(`[data-testid="tile"][data-participant="${from}"] video`);
  const canvas = Object.assign(document.createElement("canvas"), { width: 256, height: 80 });
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const crc8 = (bytes) => {
    let crc = 0;
    for (const b of bytes) {
      crc ^= b;
      for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
    }
    return crc;
  };
  const samples = [];
  let frames = 0;
  await new Promise((resolve) => {
    const end = performance.now() + ms;
    const onFrame = () => {
      const now = Date.now() % 2 ** 32;
      frames++;
      const scale = video.videoWidth / width;
      ctx.drawImage(video, 0, 0, 256 * scale, 80 * scale, 0, 0, 256, 80);
      const px = ctx.getImageData(0, 0, 256, 80).data;
      const bytes = new Array(10).fill(0);
      for (let bit = 0; bit < 80; bit++) {
        const bx = (bit % 16) * 16, by = Math.floor(bit / 16) * 16;
        let sum = 0;
        for (let y = by + 4; y < by + 12; y++) for (let x = bx + 4; x < bx + 12; x++) sum += px[(y * 256 + x) * 4 + 1];
        if (sum / 64 > 125) bytes[bit >> 3] |= 0x80 >> (bit & 7);
      }
      if (bytes[9] === 0xa5 && bytes[8] === crc8(bytes.slice(0, 8))) {
        const captured = ((bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7]) >>> 0;
        samples.push((now - captured + 2 ** 32) % 2 ** 32);
      }
      if (performance.now() < end) video.requestVideoFrameCallback(onFrame);
      else resolve();
    };
    video.requestVideoFrameCallback(onFrame);
  });
  samples.sort((x, y) => x - y);
  const at = (q) => (samples.length ? samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] : null);
  return { p50: at(0.5), p95: at(0.95), stamped: samples.length, frames };
}

/** Glass-to-glass in a 640x480 call, where two browsers do not saturate the machine. */
async function chromiumLatency480(server) {
  const [a, b] = await chromiumPair(server, "cl", { size: [640, 480] });
  for (const s of [a, b]) {
    await s.page.click('[data-testid="join"]');
    await joined(s.page);
  }
  await b.page.waitForFunction(() => {
    const v = document.querySelector('[data-testid="tile"][data-participant="alice"] video');
    return v && v.videoWidth > 0;
  }, null, { timeout: 60000 });
  // Let bandwidth estimation settle, as the Rust run does (60 frames).
  await new Promise((r) => setTimeout(r, 2000));
  const latency = await b.page.evaluate(readStampLatencies, { from: "alice", ms: 5000, width: 640 });
  for (const s of [a, b]) await s.browser.close();
  return latency;
}

async function rustLatency480(server, dir) {
  const media = ["--synthetic-video", "--synthetic-audio"];
  const alice = join(server, dir, "rl", "alice", media);
  await alice.waitFor((v) => v.event === "joined", "alice joined", 60000);
  const bob = join(server, dir, "rl", "bob", media);
  await bob.waitFor((v) => v.event === "video" && v.frames >= 60 + 150, "210 frames at bob", 60000);
  const [, report] = await Promise.all([alice.stop(), bob.stop()]);
  const s = report.stats.alice || {};
  return { p50: s.latency_ms_p50, p95: s.latency_ms_p95 };
}

async function chromiumCall720(server) {
  const [a, b] = await chromiumPair(server, "cc", { size: [1280, 720] });
  for (const s of [a, b]) {
    await s.page.click('[data-testid="join"]');
    await joined(s.page);
  }
  for (const [s, from] of [[a, "bob"], [b, "alice"]]) {
    // pollPage, not waitForFunction: the predicate is async (getStats).
    await pollPage(
      s.page,
      async (from) => {
        const peer = window.confab.backend.peers.get(from);
        if (!peer) return false;
        let frames = 0;
        (await peer.pc.getStats()).forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
        });
        return frames >= 60;
      },
      from,
      { timeout: 60000, what: `60 frames from ${from}` },
    );
  }
  const sides = await measure([a.browser.pid, b.browser.pid], MEASURE_S);
  // What Chromium actually sent (its fake camera and its bandwidth estimate decide).
  const received = await b.page.evaluate(async () => {
    const out = {};
    (await window.confab.backend.peers.get("alice").pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") Object.assign(out, { width: r.frameWidth, height: r.frameHeight, fps: r.framesPerSecond });
    });
    return out;
  });
  const latency = await b.page.evaluate(readStampLatencies, { from: "alice", ms: 3000, width: 1280 });
  for (const s of [a, b]) await s.browser.close();
  return { sides, received, latency };
}

// ---- run -------------------------------------------------------------------------------

const server = await startServer();
const dir = mkdtempSync(path.join(tmpdir(), "confab-bench-"));
const file = path.join(dir, "payload.bin");
{
  // Incompressible content, written once for both sides.
  const block = Buffer.alloc(1 << 20);
  let x = 0x9e3779b9;
  for (let i = 0; i < block.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; block[i] = x & 0xff; }
  writeFileSync(file, Buffer.concat(Array.from({ length: FILE_MB }, () => block)));
}
try {
  const rustJoin = [];
  const chromeJoin = [];
  for (let i = 0; ONLY.has("join") && i < RUNS; i++) {
    log(`join run ${i + 1}/${RUNS}: Rust`);
    rustJoin.push(await rustJoinToFirstFrame(server, dir, i));
    log(`join run ${i + 1}/${RUNS}: Chromium`);
    chromeJoin.push(await chromiumJoinToFirstFrame(server, i));
  }
  const skipped = { mbPerS: NaN, ms: NaN, sides: [{ cpu: NaN, rssMiB: NaN }, { cpu: NaN, rssMiB: NaN }] };
  log("file: Rust");
  const rustFileRes = ONLY.has("file") ? await rustFile(server, file, mkdtempSync(path.join(dir, "rust-"))) : skipped;
  log("file: Chromium");
  const chromeFileRes = ONLY.has("file") ? await chromiumFile(server, file) : skipped;
  log("file: Chromium data channel alone");
  const chromeRawRes = ONLY.has("file") ? await chromiumRawChannel(server) : skipped;
  log("720p call: Rust");
  const rustCall = ONLY.has("call") ? await rustCall720(server, dir) : skipped;
  log("720p call: Chromium");
  const chromeCall = ONLY.has("call") ? await chromiumCall720(server) : skipped;
  log("640x480 latency: Rust, Chromium");
  const rustLat = ONLY.has("call") ? await rustLatency480(server, dir) : {};
  const chromeLat = ONLY.has("call") ? await chromiumLatency480(server) : {};

  const summary = {
    joinToFirstFrameMs: { rust: median(rustJoin), chromium: median(chromeJoin), rustRuns: rustJoin, chromiumRuns: chromeJoin.map(Math.round) },
    fileThroughputMBps: { rust: rustFileRes.mbPerS, chromium: chromeFileRes.mbPerS, chromiumChannelOnly: chromeRawRes.mbPerS, sizeMiB: FILE_MB },
    call720p30: {
      rust: rustCall.sides,
      chromium: chromeCall.sides,
      chromiumReceived: chromeCall.received,
      seconds: MEASURE_S,
    },
    glassToGlassMs: {
      call720: { rustP50: rustCall.latencyP50, rustP95: rustCall.latencyP95, chromium: chromeCall.latency },
      call480: { rust: rustLat, chromium: chromeLat },
    },
  };
  console.log(JSON.stringify(summary, null, 2));
  const f = (x) => (typeof x === "number" ? x.toFixed(1) : String(x));
  const rows = [
    ["join → first remote frame (ms, median)", summary.joinToFirstFrameMs.rust, summary.joinToFirstFrameMs.chromium],
    [`file throughput (MB/s, ${FILE_MB} MiB), Chromium = browser UI transfer`, summary.fileThroughputMBps.rust, summary.fileThroughputMBps.chromium],
    [`file throughput (MB/s, ${FILE_MB} MiB), Chromium = bare data channel`, summary.fileThroughputMBps.rust, summary.fileThroughputMBps.chromiumChannelOnly],
    ["CPU per side, 720p30 call (% of a core)", (rustCall.sides[0].cpu + rustCall.sides[1].cpu) / 2, (chromeCall.sides[0].cpu + chromeCall.sides[1].cpu) / 2],
    ["memory per side (MiB RSS)", (rustCall.sides[0].rssMiB + rustCall.sides[1].rssMiB) / 2, (chromeCall.sides[0].rssMiB + chromeCall.sides[1].rssMiB) / 2],
  ];
  console.log("\n| measure | Rust | Chromium | Rust / Chromium |\n|---|---|---|---|");
  for (const [name, r, c] of rows) console.log(`| ${name} | ${f(r)} | ${f(c)} | ${(r / c).toFixed(2)} |`);
  const cl = chromeCall.latency || {};
  console.log(`| glass-to-glass p50 / p95 (ms), 640x480 call | ${f(rustLat.p50)} / ${f(rustLat.p95)} | ${f(chromeLat.p50)} / ${f(chromeLat.p95)} (${chromeLat.stamped} of ${chromeLat.frames} frames stamped) | ${(rustLat.p50 / chromeLat.p50).toFixed(2)} |`);
  console.log(`| glass-to-glass p50 / p95 (ms), 720p call | ${f(rustCall.latencyP50)} / ${f(rustCall.latencyP95)} | ${f(cl.p50)} / ${f(cl.p95)} (${cl.stamped} of ${cl.frames} frames stamped) | ${(rustCall.latencyP50 / cl.p50).toFixed(2)} |`);
} finally {
  // Bounded: a shutdown that hangs must not hang the benchmark (seen once, not understood).
  await Promise.race([server.stop(), new Promise((r) => setTimeout(r, 5000))]);
  if (server.child.exitCode === null) server.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}

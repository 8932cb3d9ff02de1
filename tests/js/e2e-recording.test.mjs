// Recording seen from outside: a `confab join` peer records the call (`--record`, then
// `--record-for` ends it while it stays) and a browser guest in the call is told — a REC pill on
// the peer's tile, "bob started recording the call" in the chat, "recording" in the people
// panel — and told again when it stops. Then Chromium plays the file: its <video> element's
// currentTime advances and a frame drawn from it is not blank. Screenshot kept:
// target/e2e/recording-announced-guest.png (looked at).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createReadStream, statSync } from "node:fs";
import path from "node:path";
import { launchChromium, newPage, rustPeer, shotsDir, startServer, tempDir } from "./lib/harness.mjs";

const ROOM = "taped";
/** Bob records this long, then stops and stays in the call. */
const RECORD_SECONDS = 8;
const dir = tempDir("confab-recording-");
const file = path.join(dir, "bob.mp4");
let server;
let browser;
let page;
let bob;
let files;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  page = await newPage(browser, server.url, "guest");
  await page.goto(`${server.url}/?room=${ROOM}&name=guest&autojoin=1`);
  await page.waitForSelector('[data-testid="leave"]', { timeout: 30000 });
  bob = rustPeer({
    server, room: ROOM, name: "bob", dir,
    args: ["--synthetic-video", "--synthetic-audio", "--record", file, "--record-for", String(RECORD_SECONDS)],
  });
});

after(async () => {
  if (bob) await bob.stop();
  if (browser) await browser.close();
  if (server) await server.stop();
  if (files) files.close();
});

test("a guest sees who records the call, on the tile, in the chat and the people panel", async () => {
  await bob.waitFor((e) => e.event === "recording" && e.state === "started", "bob recording");
  const tile = '.tile.remote[data-participant="bob"]';
  await page.waitForSelector(`${tile}[data-recording="true"]`, { timeout: 30000 });
  await page.waitForFunction(
    () => [...document.querySelectorAll("#messages .message.system")].some((m) => m.textContent === "bob started recording the call"),
    null, { timeout: 10000 });
  // The pill is drawn (a pseudo-element: its content and colour, as the page computes them).
  const pill = await page.evaluate((sel) => {
    const s = getComputedStyle(document.querySelector(sel), "::before");
    return [s.content, s.backgroundColor];
  }, tile);
  assert.deepEqual(pill, ['"● REC"', "rgb(179, 38, 30)"]);
  assert.equal(await page.getAttribute(tile, "aria-label"), "bob, recording the call");
  await page.click('[data-testid="panel-people"]');
  const bobRow = page.locator('[data-testid="person"][data-participant="bob"] .person-flags');
  assert.match(await bobRow.textContent(), /recording/);
  await page.screenshot({ path: path.join(shotsDir(), "recording-announced-guest.png") });
  await page.click('[data-testid="panel-people"]');
});

test("the guest is told when the recording stops, and the peer stays in the call", async () => {
  const stopped = await bob.waitFor((e) => e.event === "recording" && e.state === "stopped", "the recording's end", 30000);
  assert.equal(stopped.error, null, JSON.stringify(stopped));
  assert.ok(stopped.seconds >= RECORD_SECONDS - 1, JSON.stringify(stopped));
  await page.waitForSelector('.tile.remote[data-participant="bob"][data-recording="false"]', { timeout: 10000 });
  await page.waitForFunction(
    () => [...document.querySelectorAll("#messages .message.system")].some((m) => m.textContent === "bob stopped recording the call"),
    null, { timeout: 10000 });
  assert.equal(await page.locator('.tile.remote[data-participant="bob"]').count(), 1, "bob is still in the call");
});

test("Chromium plays the recording: time advances and the picture is not blank", async () => {
  // Served as a file would be from any web server (with ranges, which <video> asks for).
  files = createServer((req, res) => {
    if (req.url === "/") {
      // The page, from the same origin as the file: a frame can be read back from a canvas.
      res.writeHead(200, { "content-type": "text/html" });
      return res.end('<video id="v" src="/bob.mp4" muted playsinline></video>');
    }
    const size = statSync(file).size;
    const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range || "");
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Number(m[2]) : size - 1;
    res.writeHead(m ? 206 : 200, {
      "content-type": "video/mp4", "accept-ranges": "bytes", "content-length": end - start + 1,
      ...(m ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
    });
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise((resolve) => files.listen(0, "127.0.0.1", resolve));
  const player = await browser.newPage();
  await player.goto(`http://127.0.0.1:${files.address().port}/`, { waitUntil: "domcontentloaded" });
  const played = await player.evaluate(async () => {
    const v = document.getElementById("v");
    await new Promise((resolve, reject) => {
      if (v.readyState >= 2) return resolve();
      v.onloadeddata = resolve;
      v.onerror = () => reject(new Error(`video error ${v.error && v.error.code}: ${v.error && v.error.message}`));
    });
    await v.play();
    const t0 = v.currentTime;
    await new Promise((r) => setTimeout(r, 1500));
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext("2d");
    g.drawImage(v, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let bright = 0;
    for (let i = 0; i < d.length; i += 4 * 97) if (d[i] + d[i + 1] + d[i + 2] > 150) bright++;
    return { advanced: v.currentTime - t0, width: v.videoWidth, height: v.videoHeight, duration: v.duration, bright };
  });
  assert.ok(played.advanced >= 1, JSON.stringify(played));
  assert.deepEqual([played.width, played.height], [1280, 720]);
  assert.ok(Math.abs(played.duration - RECORD_SECONDS) <= 1, JSON.stringify(played));
  assert.ok(played.bright > 100, `a blank frame: ${JSON.stringify(played)}`);
  await player.close();
});

// Interop: a headless Rust peer (`confab join`, webrtc-rs + openh264 + Opus) and a Chromium
// guest (the UI served by `confab serve`, browser backend, fake devices, an invite link) in one
// room. Both directions of negotiation are exercised: the browser offers to a Rust peer that
// was there first, and a Rust peer that arrives later offers to the browser. Each side decodes
// the other's video and audio, chat crosses both ways exactly once, and files cross both ways
// hash-exact.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { guestDecodes, pollPage, rustPeer as startRustPeer, startServer, launchChromium, newPage, openPanel, shotsDir, tempDir } from "./lib/harness.mjs";

const ROOM = "interop";
let server;
let browser;
let page;
const dir = tempDir("confab-interop-");

/** Every peer this file started: one a failed test did not stop is stopped at the end. */
const started = [];

/** A `confab join` peer in this test's room, sending the pattern and a tone, chatting `chat`. */
function rustPeer(name, chat, extra = []) {
  const peer = startRustPeer({
    server, room: ROOM, name, dir,
    args: ["--synthetic-video", "--synthetic-audio", "--chat", chat, ...extra],
  });
  started.push(peer);
  return peer;
}

/** Waits until the page decodes video and audio from `id`. */
function decodesFrom(id) {
  return guestDecodes(page, [id]);
}

async function chatTexts() {
  return page.locator('[data-testid="chat-entry"] .text').allTextContents();
}

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  page = await newPage(browser, server.url, "guest");
});

after(async () => {
  // A test that failed halfway left its peer running (and this file's process waiting on it).
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  if (browser) await browser.close();
  if (server) await server.stop();
});

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

test("the browser offers to a Rust peer that was there first; media, chat and files flow both ways", async () => {
  const fromRust = randomBytes(5 * 1024 * 1024);
  const fromBrowser = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(path.join(dir, "from-rust.bin"), fromRust);
  writeFileSync(path.join(dir, "from-browser.bin"), fromBrowser);
  const downloads = path.join(dir, "rusty-downloads");
  const rust = rustPeer("rusty", "hello from rust", [
    "--send-file", path.join(dir, "from-rust.bin"), "--accept-files", "--download-dir", downloads,
  ]);
  // Wait until the Rust peer is in the room before the browser arrives.
  await rust.waitFor((e) => e.event === "joined", "the Rust peer in the room");
  await page.goto(`${server.url}/?room=${ROOM}&name=guest&autojoin=1`);
  await decodesFrom("rusty");
  // Transport-wide feedback both ways: Chromium's estimate of its link to the Rust peer
  // ramps up to the 1 Mb/s cap within 10 s (it stayed near 150 kb/s without the Rust peer's
  // feedback), and the Rust peer's own estimate of its link to the guest leaves the start rate.
  const ramp = await pollPage(
    page,
    async () => {
      const peer = window.confab.backend.peers.get("rusty");
      let available = 0;
      let target = 0;
      (await peer.pc.getStats()).forEach((r) => {
        if (r.type === "candidate-pair" && r.nominated && typeof r.availableOutgoingBitrate === "number") available = r.availableOutgoingBitrate;
        if (r.type === "outbound-rtp" && r.kind === "video") target = r.targetBitrate || 0;
      });
      return available >= 1e6 && { available, target };
    },
    null,
    { timeout: 10000, interval: 500, what: "Chromium's estimate toward the Rust peer at 1 Mb/s" },
  );
  const ours = await rust.waitFor((e) => e.event === "stats" && e.id === "guest" && e.available_bps > 450e3, "the Rust peer's estimate toward the guest above 450 kb/s", 20000);
  console.log(`estimates: Chromium → Rust ${Math.round(ramp.available / 1e3)} kb/s (video target ${Math.round(ramp.target / 1e3)}), Rust → Chromium ${Math.round(ours.available_bps / 1e3)} kb/s`);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="chat-entry"] .text')].some((e) => e.textContent === "hello from rust"), null, { timeout: 15000 });
  await openPanel(page, "chat");
  await page.fill('[data-testid="chat-input"]', "hello from the browser");
  await page.click('[data-testid="chat-send"]');
  await page.screenshot({ path: path.join(shotsDir(), "interop-browser-with-rust-peer.png") });

  // Rust → browser: the guest accepts, verifies and saves the file.
  const incoming = page.locator('[data-testid="transfer"][data-direction="received"]');
  await openPanel(page, "files");
  await incoming.locator('[data-testid="transfer-accept"]').click({ timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="transfer"][data-direction="received"]')?.dataset.status === "done", null, { timeout: 60000 });
  const [download] = await Promise.all([page.waitForEvent("download"), incoming.locator('[data-testid="transfer-download"]').click()]);
  assert.equal(download.suggestedFilename(), "from-rust.bin");
  assert.equal(sha256(readFileSync(await download.path())), sha256(fromRust), "the browser got Rust's exact bytes");
  await rust.waitFor((e) => e.event === "transfer" && e.direction === "sent" && e.status === "done", "the guest's verdict on the sent file", 60000);

  // Browser → Rust: the Rust peer accepts, verifies and writes it into its download folder.
  await page.setInputFiles('[data-testid="file-input"]', path.join(dir, "from-browser.bin"));
  await page.click('[data-testid="file-send"]');
  await rust.waitFor((e) => e.event === "transfer" && e.direction === "received" && e.status === "done", "the guest's file", 60000);
  await page.waitForFunction(() => document.querySelector('[data-testid="transfer"][data-direction="sent"]')?.dataset.status === "done", null, { timeout: 30000 });

  await rust.waitFor((e) => e.event === "video" && e.from === "guest" && e.frames >= 30, "30 decoded frames from the guest");
  await rust.waitFor((e) => e.event === "chat" && e.from === "guest", "chat from the guest");
  await page.screenshot({ path: path.join(shotsDir(), "interop-files-both-ways.png") });
  const report = await rust.stop();
  const guest = report.participants.guest;
  assert.ok(guest, `report has the guest: ${JSON.stringify(report)}`);
  const received = report.transfers.find((t) => t.direction === "received");
  assert.equal(received.status, "done");
  assert.equal(received.sha256, sha256(fromBrowser));
  assert.equal(received.name, "from-browser.bin");
  assert.equal(sha256(readFileSync(received.path)), sha256(fromBrowser), "Rust wrote the browser's exact bytes");
  assert.equal(path.dirname(received.path), downloads);
  const sent = report.transfers.find((t) => t.direction === "sent");
  assert.deepEqual([sent.status, sent.sha256, sent.peer], ["done", sha256(fromRust), "guest"]);
  assert.ok(guest.video_frames_decoded >= 30, `Rust decoded ${guest.video_frames_decoded} browser frames`);
  assert.ok(guest.audio_frames_decoded >= 50, `Rust decoded ${guest.audio_frames_decoded} browser audio frames`);
  // Chromium's fake microphone beeps: some frames must carry sound, not only silence.
  assert.ok(guest.audio_frames_audible >= 3, `Rust heard ${guest.audio_frames_audible} audible frames from the browser`);
  assert.deepEqual(guest.chat_received, ["hello from the browser"]);
  assert.equal((await chatTexts()).filter((t) => t === "hello from rust").length, 1);
  await page.waitForFunction(() => !document.querySelector('[data-testid="tile"][data-participant="rusty"]'), null, { timeout: 15000 });
});

test("a Rust peer that arrives later offers to the browser; media and chat flow both ways", async () => {
  const rust = rustPeer("latecomer", "late hello");
  await decodesFrom("latecomer");
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="chat-entry"] .text')].some((e) => e.textContent === "late hello"), null, { timeout: 15000 });
  await openPanel(page, "chat");
  await page.fill('[data-testid="chat-input"]', "welcome late one");
  await page.click('[data-testid="chat-send"]');
  await page.screenshot({ path: path.join(shotsDir(), "interop-rust-latecomer.png") });
  await rust.waitFor((e) => e.event === "video" && e.from === "guest" && e.frames >= 30, "30 decoded frames from the guest");
  await rust.waitFor((e) => e.event === "chat" && e.from === "guest", "chat from the guest");
  const report = await rust.stop();
  const guest = report.participants.guest;
  assert.ok(guest.video_frames_decoded >= 30, `Rust decoded ${guest.video_frames_decoded} browser frames`);
  assert.ok(guest.audio_frames_decoded >= 50);
  assert.ok(guest.audio_frames_audible >= 3, `Rust heard ${guest.audio_frames_audible} audible frames from the browser`);
  assert.deepEqual(guest.chat_received, ["welcome late one"]);
});

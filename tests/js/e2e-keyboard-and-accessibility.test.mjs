// The browser UI from the keyboard only, and an accessibility scan (axe-core, npm) of its
// lobby and its call. Keyboard: Tab to the name and room, type them, join with Enter, mute
// with M, share the screen with S, open the chat with C and close it with Esc, Tab to Leave
// and press Enter — every focused control showing a visible focus ring. axe-core: no
// violation of serious or critical impact (WCAG 2 A/AA rules: labels, contrast, roles) in the
// lobby, the call with its chat open, in the dark and the light theme. Also: the preview
// moves and the microphone meter moves with Chromium's fake microphone (a beep); another
// microphone picked in the lobby replaces the track and the meter follows it; the speakers
// play a test sound.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { ROOT, startServer, launchChromium, newPage, rustPeer, shotsDir, tempDir } from "./lib/harness.mjs";

const ROOM = "keys";
/** Upper bound on Tab presses to reach a control: the page has far fewer stops. */
const MAX_TABS = 30;
let server;
let browser;
let page;
let peer;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  page = await newPage(browser, server.url, "keys");
  await page.goto(`${server.url}/?room=${ROOM}`);
});

after(async () => {
  if (peer) await peer.stop();
  if (browser) await browser.close();
  if (server) await server.stop();
});

/** What has the focus: its test id or id, and whether its focus ring is drawn. */
function focused() {
  return page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return {
      id: el.dataset.testid || el.id || el.tagName,
      ring: el.matches(":focus-visible") && style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
    };
  });
}

/** Presses Tab until `testid` has the focus (bounded), asserting a visible ring on it. */
async function tabTo(testid) {
  const seen = [];
  for (let i = 0; i < MAX_TABS; i++) {
    await page.keyboard.press("Tab");
    const f = await focused();
    seen.push(f.id);
    if (f.id === testid) {
      assert.ok(f.ring, `${testid} has the focus but no visible focus ring`);
      return;
    }
  }
  throw new Error(`${testid} not reached with ${MAX_TABS} Tabs: ${seen.join(", ")}`);
}

/** axe-core's violations of serious or critical impact on the page as it is now. */
async function seriousViolations() {
  await page.addScriptTag({ path: path.join(ROOT, "node_modules/axe-core/axe.min.js") });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5), help: v.help }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

test("the lobby's preview moves and its meter moves with the fake microphone's beep", async () => {
  await page.waitForFunction(() => document.getElementById("local-video").videoWidth > 0, null, { timeout: 15000 });
  const frames = () => page.evaluate(() => document.getElementById("local-video").getVideoPlaybackQuality().totalVideoFrames);
  const before = await frames();
  await page.waitForFunction((n) => document.getElementById("local-video").getVideoPlaybackQuality().totalVideoFrames > n + 10, before, { timeout: 10000 });
  // The meter follows the beep: it reads both high and low within a few seconds.
  const levels = new Set();
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline && !([...levels].some((l) => l >= 40) && [...levels].some((l) => l < 40))) {
    levels.add(Number(await page.getAttribute('[data-testid="mic-meter"]', "aria-valuenow")));
    await page.waitForTimeout(50);
  }
  assert.ok([...levels].some((l) => l >= 40), `the meter rose with the beep: ${[...levels]}`);
  assert.ok([...levels].some((l) => l < 40), `and fell between beeps: ${[...levels]}`);
  await page.screenshot({ path: path.join(shotsDir(), "lobby-guest.png") });
});

test("the lobby has no serious accessibility violation, dark or light", async () => {
  for (const colorScheme of ["dark", "light"]) {
    await page.emulateMedia({ colorScheme });
    assert.deepEqual(await seriousViolations(), [], `lobby, ${colorScheme}`);
  }
});

test("a guest picks another microphone in the lobby: the preview's meter follows it, and the speakers play a test sound", async () => {
  await page.click('[data-testid="panel-settings"]');
  await page.waitForFunction(() => document.getElementById("set-mic").options.length >= 2, null, { timeout: 10000 });
  const [mics, cameras] = await page.evaluate(() => [
    [...document.getElementById("set-mic").options].map((o) => [o.value, o.text]),
    document.getElementById("set-camera").options.length,
  ]);
  assert.ok(cameras >= 1, "a camera listed");
  const before = await page.evaluate(() => window.confab.backend.localStream.getAudioTracks()[0].getSettings().deviceId);
  const other = mics.find(([id]) => id !== before);
  await page.selectOption('[data-testid="mic-select"]', other[0]);
  await page.waitForFunction((id) => window.confab.backend.localStream.getAudioTracks()[0]?.getSettings().deviceId === id, other[0], { timeout: 10000 });
  assert.equal(await page.evaluate(() => window.confab.backend.localStream.getAudioTracks().length), 1, "one microphone track, the new one");
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="mic-meter"]').getAttribute("aria-valuenow")) >= 40, null, { timeout: 10000 });
  await page.click('[data-testid="test-speakers"]');
  await page.waitForFunction(() => /test sound/.test(document.getElementById("devices-status").textContent), null, { timeout: 5000 });
  assert.doesNotMatch(await page.textContent('[data-testid="devices-status"]'), /No test sound|Could not/);
  await page.screenshot({ path: path.join(shotsDir(), "lobby-guest-devices.png") });
  await page.click('[data-testid="panel-settings"]');
});

test("join, mute, share and leave from the keyboard alone", async () => {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await tabTo("name");
  await page.keyboard.type("keys");
  await page.keyboard.press("Tab");
  assert.equal((await focused()).id, "room");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  assert.equal((await focused()).id, "join");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.body.dataset.view === "call", null, { timeout: 15000 });
  peer = rustPeer({ server, room: ROOM, name: "peer", dir: tempDir("confab-keys-"), args: ["--synthetic-video", "--synthetic-audio"] });
  await page.waitForFunction(() => document.querySelector(".tile.remote video")?.videoWidth > 0, null, { timeout: 30000 });

  await page.keyboard.press("m");
  assert.equal(await page.getAttribute('[data-testid="toggle-audio"]', "aria-pressed"), "false", "M muted");
  await peer.waitFor((e) => e.event === "media-state" && e.id === "keys" && e.audio === false, "the peer sees the mute");
  await page.keyboard.press("s");
  await page.waitForFunction(() => document.querySelector('[data-testid="share-screen"]').getAttribute("aria-pressed") === "true", null, { timeout: 15000 });
  await peer.waitFor((e) => e.event === "media-state" && e.id === "keys" && e.screen === true, "the peer sees the share");

  await page.keyboard.press("c");
  assert.equal((await focused()).id, "chat-input", "C opens the chat at its message box");
  await page.keyboard.type("typed, not a shortcut: m s");
  assert.equal(await page.getAttribute('[data-testid="toggle-audio"]', "aria-pressed"), "false", "typing m did not unmute");
  await page.keyboard.press("Enter");
  await peer.waitFor((e) => e.event === "chat" && e.text === "typed, not a shortcut: m s", "the chat at the peer");
  for (const colorScheme of ["dark", "light"]) {
    await page.emulateMedia({ colorScheme });
    assert.deepEqual(await seriousViolations(), [], `call with the chat open, ${colorScheme}`);
  }
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: path.join(shotsDir(), "keyboard-call-chat.png") });
  await page.keyboard.press("Escape");
  assert.equal(await page.isVisible('[data-testid="side-panel"]'), false, "Esc closed the panel");

  await tabTo("leave");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.body.dataset.view === "lobby", null, { timeout: 15000 });
  await peer.waitFor((e) => e.event === "participant-left" && e.id === "keys", "the peer sees the leave");
});

// The desktop app's lobby and its stage at every size. Before joining: the engine's preview
// of the (synthetic) camera moves in the lobby's tile and the microphone meter follows the
// (synthetic) tone, and follows another microphone chosen in the settings; "join with a link" fills server, room and secret from an invite. Then
// the app hosts a call and 1, 3 and 5 `confab join` peers join through its invite link: at
// 800×600, 1280×720 and 1920×1080 every tile is inside the stage, none overlaps another,
// nothing scrolls and every tile's video draws (tests/js/lib/stage-check.mjs, as for guests).
// Last, the window's size and place are remembered: started again, it opens as it was left.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { By, until } from "selenium-webdriver";
import { launchApp, rustPeer, shotsDir, tempDir } from "./lib/harness.mjs";
import { STAGE_GEOMETRY, stageProblems, SIZES, COUNTS } from "./lib/stage-check.mjs";

const ROOM = "lobby";
/** How long a layout may take to settle with every picture drawn (peers connect, decode). */
const SETTLE_MS = 45000;
let app;
let driver;
const peers = [];
const dir = tempDir("confab-app-lobby-");

before(async () => {
  app = await launchApp(["--name", "host", "--camera", "synthetic", "--mic", "synthetic", "--speakers", "none", "--ice-bind", "127.0.0.1:0"],
    { CONFAB_CONFIG_DIR: path.join(dir, "config") });
  driver = app.driver;
});

after(async () => {
  for (const p of peers) await p.stop();
  if (app) await app.quit();
});

async function shot(name) {
  writeFileSync(path.join(shotsDir(), `app-${name}.png`), await driver.takeScreenshot(), "base64");
}

test("the lobby's preview moves and its meter follows the synthetic tone", async () => {
  const canvas = await driver.wait(until.elementLocated(By.css('#local-tile canvas[data-testid="tile-canvas"]')), 20000, "the preview's picture");
  await driver.wait(async () => Number(await canvas.getAttribute("data-frames-drawn")) >= 5, 20000, "5 preview pictures");
  const drawn = Number(await canvas.getAttribute("data-frames-drawn"));
  await driver.wait(async () => Number(await canvas.getAttribute("data-frames-drawn")) >= drawn + 10, 10000, "the preview moves");
  const meter = await driver.findElement(By.css('[data-testid="mic-meter"]'));
  await driver.wait(async () => Number(await meter.getAttribute("aria-valuenow")) >= 50, 10000, "the meter shows the tone");
  const source = await driver.findElement(By.css('[data-testid="local-source"]'));
  assert.match(await source.getText(), /Synthetic camera · Synthetic tone/);
  await shot("lobby");
});

test("another microphone chosen in the lobby's settings restarts the preview with it, and the speakers play a test sound", async () => {
  const source = await driver.findElement(By.css('[data-testid="local-source"]'));
  const toggle = await driver.findElement(By.css('[data-testid="panel-settings"]'));
  await toggle.click();
  await driver.wait(until.elementIsVisible(await driver.findElement(By.css('[data-panel="settings"]'))), 5000, "the settings panel");
  const status = await driver.findElement(By.css('[data-testid="settings-status"]'));
  // A device of the system's list by name (ALSA's here: "null", "pulse", …): another choice
  // than this run's --mic synthetic, and than what is saved (nothing).
  const device = await driver.executeScript(
    "return [...document.getElementById('set-mic').options].map((o) => o.value).find((v) => v && v !== 'synthetic')");
  assert.ok(device, "a microphone in the list");
  for (const [mic, shows] of [[device, new RegExp(`Microphone: ${device}`)], ["synthetic", /Synthetic camera · Synthetic tone/]]) {
    await driver.executeScript(
      "const s = document.getElementById('set-mic'); s.value = arguments[0]; s.dispatchEvent(new Event('change'))", mic);
    await driver.findElement(By.css('[data-testid="settings-save"]')).click();
    await driver.wait(async () => (await status.getText()) === "Saved", 10000, "saved");
    await driver.wait(async () => shows.test(await source.getAttribute("textContent")), 10000, `the preview showing ${shows}`);
  }
  // The tone is measured again: the restarted preview runs.
  const meter = await driver.findElement(By.css('[data-testid="mic-meter"]'));
  await driver.wait(async () => Number(await meter.getAttribute("aria-valuenow")) >= 50, 10000, "the meter shows the tone again");
  // The speakers chosen (the system's default here, PulseAudio) play the test sound (that it
  // is heard: src-tauri/src/test_sound.rs's test, recorded from a null sink).
  await driver.executeScript(
    "const s = document.getElementById('set-speakers'); s.value = ''; s.dispatchEvent(new Event('change'))");
  await driver.findElement(By.css('[data-testid="test-speakers"]')).click();
  await driver.wait(async () => /^(Test sound played|No test sound)/.test(await status.getText()), 10000, "the test sound's end");
  assert.equal(await status.getText(), "Test sound played");
  await shot("lobby-settings");
  await toggle.click();
});

test("join with a link fills server, room and secret from an invite", async () => {
  const paste = await driver.findElement(By.css('[data-testid="invite-paste"]'));
  await paste.sendKeys("http://127.0.0.1:9/?room=from-link&secret=s3cret");
  const values = await driver.executeScript("return ['server', 'room', 'secret'].map((id) => document.getElementById(id).value)");
  assert.deepEqual(values, ["http://127.0.0.1:9", "from-link", "s3cret"]);
  assert.match(await driver.findElement(By.css('[data-testid="join-hint"]')).getText(), /Joins the call on http:\/\/127\.0\.0\.1:9/);
  // Back to hosting: an empty server hosts the call here.
  await driver.executeScript(
    "for (const [id, v] of [['server', ''], ['room', arguments[0]], ['secret', '']]) { const el = document.getElementById(id); el.value = v; el.dispatchEvent(new Event('input')); }",
    ROOM);
  assert.equal(await driver.findElement(By.css('[data-testid="join"]')).getText(), "Host and join");
});

let invite;
for (const count of COUNTS) {
  test(`${count} participant(s) in the app: every tile fits, nothing scrolls, every video draws, at each size`, async () => {
    if (!invite) {
      await driver.findElement(By.css('[data-testid="join"]')).click();
      const link = await driver.wait(until.elementLocated(By.css('[data-testid="invite-link"]')), 30000);
      await driver.wait(async () => /^http:\/\//.test(await link.getAttribute("href")), 30000, "the invite link");
      invite = new URL(await link.getAttribute("href"));
      assert.equal(await driver.executeScript("return document.querySelectorAll('#local-tile canvas.tile-canvas').length"), 1, "one picture on the local tile: the preview's went");
    }
    while (peers.length < count - 1) {
      // As in e2e-stage-fits-every-size: the six-person call's last two send a smaller
      // picture (load on a two-core machine), same aspect.
      const size = peers.length >= 3 ? ["--video-size", "320x240", "--max-bitrate", "300"] : [];
      peers.push(rustPeer({ server: { url: invite.origin }, room: ROOM, name: `peer${peers.length + 1}`, dir, args: ["--synthetic-video", "--synthetic-audio", ...size] }));
    }
    for (const [width, height] of SIZES) {
      await driver.manage().window().setRect({ width, height });
      const deadline = Date.now() + SETTLE_MS;
      let g;
      do {
        g = await driver.executeScript(STAGE_GEOMETRY);
        if (stageProblems(g, count).length === 0) break;
        await new Promise((r) => setTimeout(r, 250));
      } while (Date.now() < deadline);
      await shot(`stage-${count}-${width}x${height}`);
      assert.deepEqual(stageProblems(g, count), [], `${count} at ${width}×${height}: ${JSON.stringify(g)}`);
    }
  });
}

test("the window opens again with the size and place it was left at", async () => {
  const rect = { x: 40, y: 30, width: 1000, height: 700 };
  await driver.manage().window().setRect(rect);
  const settingsFile = path.join(dir, "config", "settings.json");
  const deadline = Date.now() + 10000;
  let saved;
  while (Date.now() < deadline) {
    try {
      saved = JSON.parse(readFileSync(settingsFile, "utf8")).window;
    } catch {}
    if (saved && saved.width === rect.width && saved.height === rect.height) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(saved?.width, rect.width, `saved: ${JSON.stringify(saved)}`);
  assert.equal(saved?.height, rect.height);
  for (const p of peers.splice(0)) await p.stop();
  await app.quit();
  app = await launchApp(["--name", "host", "--camera", "synthetic", "--mic", "synthetic", "--speakers", "none"],
    { CONFAB_CONFIG_DIR: path.join(dir, "config") });
  driver = app.driver;
  await driver.wait(async () => (await driver.executeScript("return window.innerWidth")) === rect.width, 10000, "the remembered width");
  assert.equal(await driver.executeScript("return window.innerHeight"), rect.height, "the remembered height");
});

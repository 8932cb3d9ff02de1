// The product's headline case: the desktop app hosts the call itself (no server configured),
// and a browser guest joins through the invite link the app shows. The room has a secret,
// given to the app in CONFAB_SECRET (not on its command line); the link carries it. Real
// parts: the app under Xvfb through WebKitWebDriver (webrtc-rs, openh264, WebCodecs tiles),
// headless Chromium with its own WebRTC and fake camera and microphone.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { By, until } from "selenium-webdriver";
import { ROOT, guestDecodes, launchApp, launchChromium, newPage, openPanel, shotsDir, tempDir } from "./lib/harness.mjs";

const SECRET = "tea & biscuits";
/** Nothing listens here (port 9, discard): a server saved by an earlier call that is gone. */
const STALE_SERVER = "http://127.0.0.1:9";
let app;
let driver;
let browser;
let page;
let invite;

before(async () => {
  if (!process.env.DISPLAY) throw new Error("needs an X server (scripts/test.sh runs this under xvfb-run)");
  // An earlier call's server, long gone, is in the settings: joining without --server must
  // still host (issue 10: `run.sh --demo` joined the saved server and got "Connection refused").
  const configDir = tempDir("confab-host-config-");
  writeFileSync(path.join(configDir, "settings.json"), JSON.stringify({ server: STALE_SERVER, room: "old", name: "old" }));
  app = await launchApp(
    ["--room", "hosted", "--name", "host", "--join", "--ice-bind", "127.0.0.1:0",
      "--camera", "synthetic", "--mic", "synthetic", "--speakers", "none"],
    {
      CONFAB_CONFIG_DIR: configDir,
      CONFAB_SECRET: SECRET,
      // What scripts/run.sh sets: the guests' page and client, from the checkout.
      CONFAB_UI_DIR: path.join(ROOT, "ui"),
      CONFAB_SOCKETIO_CLIENT_DIR: path.join(ROOT, "node_modules/socket.io-client/dist"),
    },
  );
  driver = app.driver;
  const link = await driver.wait(until.elementLocated(By.css('[data-testid="invite-link"]')), 30000);
  await driver.wait(async () => /^http:\/\//.test(await link.getAttribute("href")), 30000, "the invite link");
  invite = await link.getAttribute("href");
  browser = await launchChromium();
  page = await newPage(browser, invite, "guest");
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.quit();
});

test("the invite link names the app's own server, the room and its secret", async () => {
  const url = new URL(invite);
  assert.equal(url.hostname, "127.0.0.1");
  assert.notEqual(url.port, "9", "the stale saved server");
  // The saved server stays a suggestion in the form, not its value.
  const suggestions = await driver.executeScript(
    "return [...document.querySelectorAll('#server-suggestions option')].map((o) => o.value)");
  assert.deepEqual(suggestions, [STALE_SERVER]);
  assert.equal(url.searchParams.get("room"), "hosted");
  assert.equal(url.searchParams.get("secret"), SECRET);
});

test("a browser guest joins through the link, and each side decodes the other's video", async () => {
  await page.goto(`${invite}&name=guest&autojoin=1`);
  await guestDecodes(page, ["host"], { what: "the guest decoding the app's video and audio" });
  const canvas = await driver.wait(
    until.elementLocated(By.css('.tile.remote[data-participant="guest"] canvas[data-testid="tile-canvas"]')), 30000);
  await driver.wait(async () => Number(await canvas.getAttribute("data-frames-drawn")) >= 30, 30000,
    "30 of the guest's frames drawn in the app");
  writeFileSync(path.join(shotsDir(), "hosted-app.png"), await driver.takeScreenshot(), "base64");
  await page.screenshot({ path: path.join(shotsDir(), "hosted-guest.png") });
});

test("chat crosses between the guest and the app", async () => {
  await openPanel(page, "chat");
  await page.fill('[data-testid="chat-input"]', "hello from the browser");
  await page.press('[data-testid="chat-input"]', "Enter");
  await driver.wait(
    until.elementLocated(By.css('[data-testid="chat-entry"][data-from="guest"]')), 10000, "the guest's chat in the app");
  // textContent: the app's chat panel is closed (the message is counted on its badge).
  const text = await driver.findElement(By.css('[data-testid="chat-entry"][data-from="guest"] .text')).getAttribute("textContent");
  assert.equal(text, "hello from the browser");
});

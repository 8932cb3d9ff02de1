// The desktop app and a browser guest on different nodes of a cluster (a real Redis, two
// `confab serve --redis` nodes on loopback): the app signals through node A, the guest loads
// its page from node B and signals through it; each decodes the other's video and chat
// crosses. Real parts: the app under Xvfb through WebKitWebDriver, headless Chromium.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { By, until } from "selenium-webdriver";
import { startCluster } from "./lib/cluster.mjs";
import { guestDecodes, launchApp, launchChromium, newPage, openPanel, shotsDir, tempDir } from "./lib/harness.mjs";

const ROOM = "two-nodes";
let cluster;
let app;
let driver;
let browser;
let page;

before(async () => {
  if (!process.env.DISPLAY) throw new Error("needs an X server (scripts/test.sh runs this under xvfb-run)");
  cluster = await startCluster(2);
  app = await launchApp(["--server", cluster.nodes[0].url, "--room", ROOM, "--name", "host", "--join",
    "--ice-bind", "127.0.0.1:0", "--camera", "synthetic", "--mic", "synthetic", "--speakers", "none"],
  { CONFAB_CONFIG_DIR: tempDir("confab-cluster-app-") });
  driver = app.driver;
  await driver.wait(until.elementLocated(By.css('[data-testid="leave"]')), 30000, "the app in the call");
  browser = await launchChromium();
  const guestUrl = `${cluster.nodes[1].url}/?room=${ROOM}&name=guest&autojoin=1`;
  page = await newPage(browser, guestUrl, "guest");
  await page.goto(guestUrl);
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.quit();
  await cluster?.stop();
});

test("the app on node A and a browser guest on node B decode each other's video", async () => {
  await guestDecodes(page, ["host"], { what: "the guest (node B) decoding the app's (node A) video and audio" });
  const canvas = await driver.wait(
    until.elementLocated(By.css('.tile.remote[data-participant="guest"] canvas[data-testid="tile-canvas"]')), 30000);
  await driver.wait(async () => Number(await canvas.getAttribute("data-frames-drawn")) >= 30, 30000,
    "30 of the guest's frames drawn in the app");
  writeFileSync(path.join(shotsDir(), "cluster-app.png"), await driver.takeScreenshot(), "base64");
  await page.screenshot({ path: path.join(shotsDir(), "cluster-guest.png") });
  // Both nodes list the room with both participants.
  for (const n of cluster.nodes) {
    const rooms = await (await fetch(`${n.url}/api/rooms`)).json();
    assert.deepEqual(rooms.rooms.find((r) => r.roomId === ROOM)?.users, ["host", "guest"], n.url);
  }
});

test("chat crosses from the guest to the app", async () => {
  await openPanel(page, "chat");
  await page.fill('[data-testid="chat-input"]', "hello across nodes");
  await page.press('[data-testid="chat-input"]', "Enter");
  await driver.wait(
    until.elementLocated(By.css('[data-testid="chat-entry"][data-from="guest"]')), 10000, "the guest's chat in the app");
  const text = await driver.findElement(By.css('[data-testid="chat-entry"][data-from="guest"] .text')).getAttribute("textContent");
  assert.equal(text, "hello across nodes");
});

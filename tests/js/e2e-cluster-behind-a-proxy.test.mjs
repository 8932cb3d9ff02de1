// The deployment docs/cluster.md describes, run for real: three `confab serve --redis` nodes
// (a real Redis) behind nginx with the documented configuration, and the desktop app and a
// browser guest given nothing but the proxy's address. nginx keeps a client address on one
// node, so both are on the same one; it is SIGKILLed mid-call. Both are back through the proxy
// on another node within seconds, keep their places (nobody sees anyone leave, the room still
// holds both after the dead node's expiry), the media between them goes on, and a newcomer
// through the proxy reaches both. Real parts: nginx, redis-server, the app under Xvfb through
// WebKitWebDriver, headless Chromium, a `confab join` peer.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { By, until } from "selenium-webdriver";
import { startCluster, startProxy } from "./lib/cluster.mjs";
import { guestDecodes, launchApp, launchChromium, newPage, pollPage, rustPeer, shotsDir, tempDir } from "./lib/harness.mjs";

const ROOM = "proxied";
/** How long after its node died a participant may take to be back in the room. */
const BACK_WITHIN_MS = 10000;
/** Past a dead node's expiry (9 s) and its sweep: what the room holds then is what stays. */
const PAST_THE_SWEEP_MS = 12000;
const dir = tempDir("confab-proxy-");
let cluster;
let proxy;
let app;
let driver;
let browser;
let page;
let carol;

before(async () => {
  if (!process.env.DISPLAY) throw new Error("needs an X server (scripts/test.sh runs this under xvfb-run)");
  cluster = await startCluster(3);
  proxy = await startProxy(cluster.nodes);
  app = await launchApp(["--server", proxy.url, "--room", ROOM, "--name", "host", "--join",
    "--ice-bind", "127.0.0.1:0", "--camera", "synthetic", "--mic", "synthetic", "--speakers", "none"],
  { CONFAB_CONFIG_DIR: path.join(dir, "config") });
  driver = app.driver;
  await driver.wait(until.elementLocated(By.css('[data-testid="leave"]')), 30000, "the app in the call");
  browser = await launchChromium();
  const guestUrl = `${proxy.url}/?room=${ROOM}&name=guest&autojoin=1`;
  page = await newPage(browser, guestUrl, "guest");
  await page.goto(guestUrl);
});

after(async () => {
  if (carol) await carol.stop().catch(() => {});
  if (browser) await browser.close();
  if (app) await app.quit();
  if (proxy) await proxy.stop();
  await cluster?.stop();
});

/** The participants connected to node `i` itself (its /metrics; the cluster's are another line). */
async function ownParticipants(i) {
  const text = await (await fetch(`${cluster.nodes[i].url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("confab_participants "));
  assert.ok(line, `confab_participants in node ${i}'s /metrics`);
  return Number(line.split(" ")[1]);
}

/** Frames the app has drawn of `id`'s video. */
async function appDrew(id) {
  const canvas = await driver.wait(
    until.elementLocated(By.css(`.tile.remote[data-participant="${id}"] canvas[data-testid="tile-canvas"]`)), 30000);
  return Number(await canvas.getAttribute("data-frames-drawn"));
}

/** Frames the guest has decoded of `id`'s video. */
function guestDecoded(id) {
  return page.evaluate(async (id) => {
    const peer = window.confab.backend?.peers.get(id);
    if (!peer) return 0;
    let frames = 0;
    (await peer.pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
    });
    return frames;
  }, id);
}

const appBanner = (state) => `return document.querySelector('[data-testid="signalling-banner"]')?.dataset.state === "${state}"`;

test("through the proxy the app and the guest decode each other, both on one node", async () => {
  await guestDecodes(page, ["host"], { what: "the guest decoding the app through the proxy" });
  await driver.wait(async () => (await appDrew("guest")) >= 30, 30000, "30 of the guest's frames drawn in the app");
  const counts = await Promise.all(cluster.nodes.map((_, i) => ownParticipants(i)));
  assert.deepEqual(counts.filter((c) => c > 0), [2], `sticky by address: both on one node (${counts})`);
});

test("their node SIGKILLed: both back through the proxy on another, nobody leaves, media goes on", async () => {
  const counts = await Promise.all(cluster.nodes.map((_, i) => ownParticipants(i)));
  const dead = counts.indexOf(2);
  const drawnBefore = await appDrew("guest");
  const decodedBefore = await guestDecoded("host");
  assert.equal(await driver.executeScript(appBanner("rejoined")), false, "no rejoin before the kill");
  assert.notEqual(await page.evaluate(() => document.querySelector('[data-testid="signalling-banner"]')?.dataset.state), "rejoined");
  const killed = Date.now();
  cluster.nodes[dead].child.kill("SIGKILL");
  await cluster.nodes[dead].stop();
  await driver.wait(() => driver.executeScript(appBanner("rejoined")), BACK_WITHIN_MS, "the app back in the room through the proxy");
  const appBack = Date.now() - killed;
  await pollPage(page, () => document.querySelector('[data-testid="signalling-banner"]')?.dataset.state === "rejoined", null,
    { timeout: BACK_WITHIN_MS, interval: 100, what: "the guest back in the room through the proxy" });
  const guestBack = Date.now() - killed;
  console.log(`node killed: the app rejoined through the proxy after ${appBack} ms, the guest after ${guestBack} ms`);
  const live = cluster.nodes.map((_, i) => i).filter((i) => i !== dead);
  const now = await Promise.all(live.map(ownParticipants));
  assert.deepEqual(now.filter((c) => c > 0), [2], `both on one live node now (${now})`);
  // The media went on between them, over their peer connection, through all of it.
  await driver.wait(async () => (await appDrew("guest")) >= drawnBefore + 30, 15000, "30 more of the guest's frames drawn");
  await guestDecodes(page, ["host"], { frames: decodedBefore + 30, what: "the guest decoding 30 more of the app's frames" });
  // Past the dead node's expiry and sweep: both still in the room, as every live node says.
  await new Promise((r) => setTimeout(r, Math.max(0, killed + PAST_THE_SWEEP_MS - Date.now())));
  for (const i of live) {
    const rooms = await (await fetch(`${cluster.nodes[i].url}/api/rooms`)).json();
    assert.deepEqual(rooms.rooms.find((r) => r.roomId === ROOM)?.users, ["host", "guest"], `node ${i}'s /api/rooms`);
  }
  assert.ok(await page.locator('.tile.remote[data-participant="host"]').count() === 1, "the app's tile is still on the guest's stage");
  assert.equal((await driver.findElements(By.css('.tile.remote[data-participant="guest"]'))).length, 1, "the guest's tile still in the app");
  writeFileSync(path.join(shotsDir(), "proxy-app-after-failover.png"), await driver.takeScreenshot(), "base64");
  await page.screenshot({ path: path.join(shotsDir(), "proxy-guest-after-failover.png") });
});

test("a newcomer through the proxy reaches both", async () => {
  carol = rustPeer({ server: proxy, room: ROOM, name: "carol", dir, args: ["--synthetic-video", "--synthetic-audio", "--video-size", "320x240"] });
  for (const id of ["host", "guest"]) await carol.waitFor((e) => e.event === "video" && e.from === id && e.frames >= 10, `carol decoding ${id}`, 45000);
  await guestDecodes(page, ["host", "carol"], { frames: 10, what: "the guest decoding carol" });
  await driver.wait(async () => (await appDrew("carol")) >= 10, 30000, "the app drawing carol");
  const report = await carol.stop();
  carol = null;
  assert.deepEqual(report.errors, [], "carol's errors");
});

// The desktop app on a host of its own (a network namespace on a bridged LAN, binding ICE to
// every interface as it does by default), calling a `confab join` peer on another host
// through `confab serve` on a third, while the app's own network misbehaves: a 10 s blackout
// (nftables on its LAN interface) and an address change (a network switch). Checked: the app's
// tile of the peer and the peer's view of the app show *reconnecting* within 5 s, media
// comes back both ways within 5 s of the blackout's end and 10 s of the move, nobody leaves.
// WebKitWebDriver runs beside the app and is driven over a control link outside the LAN.
// Screenshots target/e2e/netns-app-*.png. Needs root; run by scripts/test.sh.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { By, until } from "selenium-webdriver";
import { launchApp, rustPeer, shotsDir, startServer, tempDir } from "./lib/harness.mjs";
import { Lan } from "./lib/netns.mjs";

const ROOM = "netns";
const BLACKOUT_MS = 10000;
const dir = tempDir("confab-netns-app-");
let lan;
let server;
let bob;
let appHost;
let app;
let driver;

async function shot(name) {
  await driver.executeAsyncScript(
    "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done()));",
  );
  writeFileSync(path.join(shotsDir(), `netns-app-${name}.png`), await driver.takeScreenshot(), "base64");
}

const drawn = () =>
  driver.executeScript(() => Number(document.querySelector('.tile.remote[data-participant="bob"] canvas[data-testid="tile-canvas"]')?.dataset.framesDrawn || 0));
const bobTileState = () => driver.executeScript(() => document.querySelector('.tile.remote[data-participant="bob"]')?.dataset.state);

/**
 * Interruptions shorter than this are not marked (confab join --progress prints a frame after
 * a gap of 500 ms or more): a frame after `since` + this without a mark means media never
 * stopped that long, and `since` + this is taken as an upper bound.
 */
const MARKED_GAP = 500;

/** When the app draws bob's video again after an interruption from `since` (polled every 50 ms). */
async function appDrawsAgain(since, ms) {
  let last = await drawn();
  let lastAt = since;
  const deadline = since + ms;
  while (Date.now() < deadline) {
    const now = await drawn();
    const t = Date.now();
    if (now > last) {
      if (t >= since + MARKED_GAP + 100) return t - lastAt >= MARKED_GAP ? t : since + MARKED_GAP;
      last = now;
      lastAt = t;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the app did not draw bob again within ${ms} ms`);
}

/** When bob decodes the app's video again after an interruption from `since`. */
async function bobDecodesAgain(since, ms) {
  const line = await bob.waitFor((e) => e.event === "video" && e.from === "alice" && e.at >= since + MARKED_GAP + 100, "bob decoding alice again", ms);
  return line.gap_ms >= MARKED_GAP ? line.at : since + MARKED_GAP;
}

before(async () => {
  if (!process.env.DISPLAY) throw new Error("needs an X server (scripts/test.sh runs this under xvfb-run)");
  lan = new Lan("app");
  const serverHost = lan.host("srv");
  appHost = lan.host("a");
  const bobHost = lan.host("b");
  const control = lan.control(appHost);
  server = await startServer([], `${serverHost.addr}:3000`, serverHost.ns);
  bob = rustPeer({ server, room: ROOM, name: "bob", dir, bind: null, netns: bobHost.ns, args: ["--synthetic-video", "--synthetic-audio", "--video-size", "320x240"] });
  await bob.waitFor((e) => e.event === "joined", "bob joined");
  const configDir = path.join(dir, "config");
  mkdirSync(configDir);
  // The app's default ICE binding (every interface but loopback): no --ice-bind.
  app = await launchApp(["--server", server.url, "--room", ROOM, "--name", "alice", "--join",
    "--camera", "synthetic", "--mic", "synthetic", "--speakers", "none"],
  { CONFAB_CONFIG_DIR: configDir }, undefined, { netns: appHost.ns, host: control });
  driver = app.driver;
});

after(async () => {
  if (app) await app.quit();
  if (bob) await bob.stop();
  if (server) await server.stop();
  if (lan) lan.destroy();
});

test("the app on its own host calls a peer on another", async () => {
  await driver.wait(until.elementLocated(By.css('.tile.remote[data-participant="bob"]')), 45000);
  await driver.wait(async () => (await drawn()) >= 10, 45000, "the app drawing bob");
  await bob.waitFor((e) => e.event === "video" && e.from === "alice", "bob decoding the app", 45000);
});

test("a 10 s blackout of the app's network: reconnecting on both sides, media back, nobody leaves", async () => {
  const dark = Date.now();
  lan.blackout(appHost);
  let appShown;
  let bobShown;
  try {
    await driver.wait(async () => (await bobTileState()) === "reconnecting", BLACKOUT_MS, "the app showing bob reconnecting");
    appShown = Date.now() - dark;
    await bob.waitFor((e) => e.event === "participant-state" && e.id === "alice" && e.state === "reconnecting" && e.at >= dark,
      "bob showing the app reconnecting", BLACKOUT_MS);
    bobShown = bob.seen.find((e) => e.event === "participant-state" && e.id === "alice" && e.state === "reconnecting" && e.at >= dark).at - dark;
    await shot("blackout");
    await new Promise((r) => setTimeout(r, Math.max(0, BLACKOUT_MS - (Date.now() - dark))));
  } finally {
    lan.restore(appHost);
  }
  const light = Date.now();
  const [atApp, atBob] = await Promise.all([appDrawsAgain(light, 20000), bobDecodesAgain(light, 20000)]);
  const back = Math.max(atApp, atBob) - light;
  console.log(`app blackout 10 s: reconnecting shown by the app after ${appShown} ms, by bob after ${bobShown} ms; media both ways ${back} ms after the end`);
  await shot("after-blackout");
  assert.ok(appShown < 5000 && bobShown < 5000, `reconnecting after ${appShown} ms (app), ${bobShown} ms (bob)`);
  assert.ok(back < 5000, `media both ways ${back} ms after the blackout`);
  assert.equal(bob.seen.filter((e) => e.event === "participant-left").length, 0, "bob saw nobody leave");
  assert.ok(await driver.findElement(By.css('.tile.remote[data-participant="bob"]')), "bob's tile is still there");
});

test("the app's address changes (a network switch): media back within 10 s through an ICE restart", async () => {
  const moved = Date.now();
  lan.changeAddress(appHost, "10.77.0.200");
  const [atApp, atBob] = await Promise.all([appDrawsAgain(moved, 30000), bobDecodesAgain(moved, 30000)]);
  const back = Math.max(atApp, atBob) - moved;
  console.log(`app address change: media both ways ${back} ms after the move`);
  await shot("after-move");
  assert.ok(back < 10000, `media both ways ${back} ms after the move`);
  assert.equal(bob.seen.filter((e) => e.event === "participant-left").length, 0, "bob saw nobody leave");
});

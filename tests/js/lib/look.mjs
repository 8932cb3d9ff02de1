// Ad-hoc: screenshots of the browser UI (lobby and call) at a few sizes, with N rust peers.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, startServer, launchChromium, rustPeer } from "./harness.mjs";

const N = Number(process.env.PEERS || 2);
const OUT = process.env.OUT || "/tmp/look";
const server = await startServer(["--ui-dir", path.join(ROOT, "ui"), "--socketio-client-dir", path.join(ROOT, "node_modules/socket.io-client/dist")]);
const dir = mkdtempSync(path.join(tmpdir(), "look-"));
const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
await context.grantPermissions(["camera", "microphone"], { origin: server.url });
const page = await context.newPage();
page.on("pageerror", (e) => console.error("page error", e.message));
page.on("console", (m) => m.type() === "error" && console.error("console", m.text()));
await page.goto(`${server.url}/?room=look&name=alice`);
await page.waitForTimeout(1500);
for (const [w, h] of [[1280, 720], [800, 600]]) {
  await page.setViewportSize({ width: w, height: h });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${OUT}/lobby-${w}x${h}.png` });
}
await page.click('[data-testid="join"]');
const peers = [];
for (let i = 0; i < N; i++) peers.push(rustPeer({ server, room: "look", name: `peer${i + 1}`, dir, args: ["--synthetic-video", "--synthetic-audio", "--duration", "40"] }));
await page.waitForFunction((n) => document.querySelectorAll(".tile.remote").length === n, N, { timeout: 30000 });
await page.waitForTimeout(4000);
for (const [w, h] of [[1280, 720], [800, 600], [1920, 1080]]) {
  await page.setViewportSize({ width: w, height: h });
  await page.waitForTimeout(600);
  await page.screenshot({ path: `${OUT}/call-${N}-${w}x${h}.png` });
}
if (process.env.PANEL) {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.click(`[data-testid="panel-${process.env.PANEL}"]`);
  await page.waitForTimeout(600);
  await page.screenshot({ path: `${OUT}/call-${N}-panel-${process.env.PANEL}.png` });
}
for (const p of peers) p.child.kill();
await browser.close();
await server.stop();

// The .deb, installed: built by scripts/package-deb.sh (CONFAB_DEB, or the newest in
// target/debian), installed with dpkg, checked for its desktop entry and icons, and the
// installed app launched the way the desktop entry says, under Xvfb through
// WebKitWebDriver: it joins a room hosting its own signalling server (no --server), and that
// server gives browser guests the UI from the package. Removed again afterwards (only when
// this test installed it). Needs root or sudo.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { By, until } from "selenium-webdriver";
import { ROOT, launchApp, shotsDir, tempDir } from "./lib/harness.mjs";

const PKG = "confab";
const dir = tempDir("confab-deb-");
let installedHere = false;
let app;

/** dpkg as root: directly, or through sudo without a password prompt. */
function dpkg(args) {
  const [cmd, ...pre] = process.getuid() === 0 ? ["dpkg"] : ["sudo", "-n", "dpkg"];
  return execFileSync(cmd, [...pre, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function debFile() {
  if (process.env.CONFAB_DEB) return process.env.CONFAB_DEB;
  const out = path.join(ROOT, "target/debian");
  const debs = existsSync(out) ? readdirSync(out).filter((f) => f.startsWith(`${PKG}_`) && f.endsWith(".deb")) : [];
  if (debs.length === 0) throw new Error("no .deb in target/debian: run ./scripts/package-deb.sh first");
  return path.join(out, debs.sort().at(-1));
}

function installedVersion() {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Status} ${Version}", PKG], { encoding: "utf8" });
  } catch {
    return "";
  }
}

/** PNG width and height from the IHDR chunk. */
function pngSize(file) {
  const b = readFileSync(file);
  assert.equal(b.subarray(1, 4).toString("latin1"), "PNG", `${file} is a PNG`);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

before(() => {
  const deb = debFile();
  if (!installedVersion().startsWith("install ok installed")) installedHere = true;
  dpkg(["-i", deb]);
});

after(async () => {
  if (app) await app.quit();
  if (installedHere) dpkg(["-r", PKG]);
});

test("the package installs the app, its desktop entry and its icons", () => {
  assert.match(installedVersion(), /^install ok installed \d/);
  assert.ok(existsSync("/usr/bin/confab-app"));
  const entry = "/usr/share/applications/confab.desktop";
  execFileSync("desktop-file-validate", [entry]); // throws with its complaints
  const text = readFileSync(entry, "utf8");
  assert.match(text, /^Exec=confab-app$/m);
  assert.match(text, /^Icon=confab$/m);
  for (const [size, px] of [["32x32", 32], ["128x128", 128], ["256x256", 256], ["512x512", 512]]) {
    assert.deepEqual(pngSize(`/usr/share/icons/hicolor/${size}/apps/confab.png`), [px, px], size);
  }
  // The libraries it links and the H.264 decoder WebKit's WebCodecs needs are dependencies.
  const depends = execFileSync("dpkg-query", ["-W", "-f=${Depends}", PKG], { encoding: "utf8" });
  for (const dep of ["libwebkit2gtk-4.1-0", "gstreamer1.0-libav", "libasound2"]) assert.ok(depends.includes(dep), `${dep} in ${depends}`);
});

test("the installed app starts from its desktop entry, hosts a room and serves guests the packaged UI", async () => {
  const exec = readFileSync("/usr/share/applications/confab.desktop", "utf8").match(/^Exec=(\S+)/m)[1];
  const binary = execFileSync("sh", ["-c", `command -v ${exec}`], { encoding: "utf8" }).trim();
  assert.equal(binary, "/usr/bin/confab-app");
  // Without CONFAB_UI_DIR (scripts/run.sh's checkout paths) the app finds the packaged UI.
  const env = { CONFAB_CONFIG_DIR: path.join(dir, "config"), CONFAB_UI_DIR: "", CONFAB_SOCKETIO_CLIENT_DIR: "" };
  app = await launchApp(
    ["--room", "installed", "--name", "tester", "--join", "--camera", "synthetic", "--mic", "synthetic", "--speakers", "none"],
    env,
    binary,
  );
  const { driver } = app;
  assert.equal(await driver.getTitle(), "Confab — video calls");
  const link = await driver.wait(until.elementLocated(By.css('[data-testid="invite-link"]')), 30000);
  await driver.wait(async () => /^http:\/\/127\.0\.0\.1:\d+\//.test(await link.getAttribute("href")), 30000, "the invite link");
  const invite = await link.getAttribute("href");
  const page = await fetch(invite);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>Confab — video calls<\/title>/);
  const client = await fetch(new URL("/vendor/socket.io.min.js", invite));
  assert.equal(client.status, 200);
  assert.ok((await client.text()).length > 10000);
  writeFileSync(path.join(shotsDir(), "installed-app.png"), await driver.takeScreenshot(), "base64");
});

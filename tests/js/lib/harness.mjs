// Test harness: starts the real `confab serve` binary on an ephemeral loopback port and
// launches Debian's Chromium through playwright-core with fake camera and microphone.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const CONFAB = process.env.CONFAB_BIN || path.join(ROOT, "target/debug/confab");
export const SHOTS = path.join(ROOT, "target/e2e");

/** `cmd args` as run inside the network namespace `netns` (or as is without one). */
export function inNetns(netns, cmd, args) {
  return netns ? ["ip", ["netns", "exec", netns, cmd, ...args]] : [cmd, args];
}

/**
 * What a test's `confab join` peers log: warnings, but not webrtc-rs's per-packet ones for
 * packets that arrive before the keys (SRTP) or before the association (SCTP) — normal while
 * a link sets up, and hundreds of lines that buried the one failure in CI's output.
 */
const PEER_LOG = "warn,rtc::peer_connection::handler=error,rtc_sctp::endpoint=error";

/**
 * Starts `confab serve` and resolves once it prints the address it listens on; `bind` picks
 * the address (a fixed port lets a test restart the server where its clients expect it),
 * `netns` a network namespace to run in.
 */
export async function startServer(extraArgs = [], bind = "127.0.0.1:0", netns = null) {
  const child = spawn(...inNetns(netns, CONFAB, ["serve", "--bind", bind, ...extraArgs]), {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, CONFAB_LOG: process.env.CONFAB_LOG || "warn" },
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("confab serve did not start within 20 s")), 20000);
    child.once("exit", (code) => reject(new Error(`confab serve exited with ${code}`)));
    lines.on("line", (line) => {
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    url,
    child,
    /** SIGTERM, then wait for the graceful shutdown to finish. */
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection",
  "--autoplay-policy=no-user-gesture-required",
  "--auto-accept-this-tab-capture",
];

export async function launchChromium(extraArgs = []) {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/** A fresh page with camera and microphone granted, logging its console errors. */
export async function newPage(browser, url, label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  await context.grantPermissions(["camera", "microphone"], { origin: new URL(url).origin });
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[${label}] page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") console.error(`[${label}] ${msg.text()}`);
  });
  // Chromium aborts a page's loads with ERR_NETWORK_CHANGED when the host's network
  // configuration changes mid-load (docs/STATUS.md, session 12: an address appearing; seen
  // again in a full run, cause not found), leaving a page without its modules that never
  // joins. A load that lost requests so is done again (at most twice more), and said so.
  let changed = false;
  page.on("requestfailed", (r) => {
    if (r.failure()?.errorText === "net::ERR_NETWORK_CHANGED") changed = true;
  });
  const goto = page.goto.bind(page);
  page.goto = async (target, options) => {
    for (let attempt = 1; ; attempt++) {
      changed = false;
      const response = await goto(target, options);
      if (!changed || attempt === 3) return response;
      console.error(`[${label}] the network changed during the page's load (ERR_NETWORK_CHANGED): loading it again`);
    }
  };
  return page;
}

/**
 * Opens the side panel `name` (chat, people, files, stats, settings) from the control bar,
 * as a user would, unless it is open already: its fields are only visible (and clickable) then.
 */
export async function openPanel(page, name) {
  const toggle = page.locator(`[data-testid="panel-${name}"]`);
  if ((await toggle.getAttribute("aria-pressed")) !== "true") await toggle.click();
  await page.locator(`[data-panel="${name}"]`).waitFor({ state: "visible", timeout: 5000 });
}

export function shotsDir() {
  mkdirSync(SHOTS, { recursive: true });
  return SHOTS;
}

export function tempDir(prefix) {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/**
 * Evaluates `fn(arg)` in the page until it returns something truthy, and returns that.
 * Unlike page.waitForFunction, this awaits a predicate that returns a promise (getStats() is
 * async; a pending promise is truthy, so waitForFunction would pass at once). Bounded by
 * `timeout`; between attempts it waits `interval` ms, since stats have no event to wait on.
 */
export async function pollPage(page, fn, arg, { timeout = 30000, interval = 250, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate(fn, arg);
    if (last) return last;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/**
 * Waits until the browser guest on `page` has decoded at least `frames` video frames and
 * `samples` audio samples (received, not concealed, and audible: mean power above −50 dBFS)
 * from each of `ids` (getStats on each peer connection); with
 * `onlyThese`, it must also have no other peers.
 */
export function guestDecodes(page, ids, { frames = 30, samples = 48000, onlyThese = false, what } = {}) {
  return pollPage(
    page,
    async ({ ids, frames, samples, onlyThese }) => {
      const backend = window.confab.backend;
      if (!backend || (onlyThese && backend.peers.size !== ids.length)) return false;
      for (const id of ids) {
        const peer = backend.peers.get(id);
        if (!peer) return false;
        let decoded = 0;
        let heard = 0;
        let energy = 0;
        let duration = 0;
        (await peer.pc.getStats()).forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "video") decoded += r.framesDecoded || 0;
          if (r.type === "inbound-rtp" && r.kind === "audio") {
            // Samples that arrived (not made up by concealment), and their loudness.
            heard += (r.totalSamplesReceived || 0) - (r.concealedSamples || 0);
            energy += r.totalAudioEnergy || 0;
            duration += r.totalSamplesDuration || 0;
          }
        });
        if (decoded < frames || heard < samples) return false;
        // Sound, not silence: a mean power above -50 dBFS (the tone is -9 dBFS RMS).
        if (!(duration > 0 && energy / duration > 1e-5)) return false;
      }
      return true;
    },
    { ids, frames, samples, onlyThese },
    { timeout: 30000, what: what ?? `the guest decoding video and audio from ${ids.join(", ")}` },
  );
}

/**
 * Starts `confab join` as `name` in `room` with --progress and a report in `dir`.
 * waitFor(pred, what) resolves on the first progress line (JSON) for which pred is true;
 * stop() sends SIGINT, checks the exit code and resolves with the report.
 */
export function rustPeer({ server, room, name, dir, args = [], bind = "127.0.0.1:0", netns = null }) {
  const report = path.join(dir, `${name}.json`);
  const child = spawn(
    ...inNetns(netns, CONFAB, ["join", "--server", server.url, "--room", room, "--name", name,
      ...(bind ? ["--bind", bind] : []), "--report", report, "--progress", ...args]),
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, CONFAB_LOG: process.env.CONFAB_LOG || PEER_LOG } },
  );
  const seen = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    // When it arrived (ms since the epoch), for timing; not enumerable, so not compared.
    Object.defineProperty(event, "at", { value: Date.now(), enumerable: false });
    seen.push(event);
    for (const w of waiters.splice(0)) {
      if (w.pred(event)) w.resolve(event);
      else waiters.push(w);
    }
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    child,
    seen,
    waitFor(pred, what, ms = 30000) {
      const hit = seen.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no ${what} within ${ms} ms; saw ${JSON.stringify(seen.slice(-5))}`)), ms);
        waiters.push({ pred, resolve: (e) => { clearTimeout(timer); resolve(e); } });
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGINT");
      const code = await exited;
      if (code !== 0) throw new Error(`${name} exited with ${code}`);
      return JSON.parse(readFileSync(report, "utf8"));
    },
  };
}

/** The desktop app beside the `confab` binary (same Cargo profile). */
export const APP = process.env.CONFAB_APP_BIN || path.join(path.dirname(CONFAB), "confab-app");

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts WebKitWebDriver and, through it, the desktop app (`binary`) with `args` and `env` (FINDINGS: no
 * tauri-driver needed; the app must see TAURI_WEBVIEW_AUTOMATION). Needs an X display.
 * Resolves with the selenium driver, the WebKitWebDriver process (the app and its WebKit
 * processes are its descendants) and quit(). With `netns`, the driver (and so the app) runs in
 * that network namespace, listening on `host` there.
 */
export async function launchApp(args, env = {}, binary = APP, { netns = null, host = "127.0.0.1" } = {}) {
  if (!process.env.DISPLAY) throw new Error("the app needs an X server (run under xvfb-run)");
  const { Builder } = await import("selenium-webdriver");
  const port = await freePort();
  const driverArgs = netns ? [`--port=${port}`, `--host=${host}`] : [`--port=${port}`];
  const webdriver = spawn(...inNetns(netns, "WebKitWebDriver", driverArgs), {
    stdio: "ignore",
    env: { ...process.env, ...env, TAURI_WEBVIEW_AUTOMATION: "true" },
  });
  const quitDriver = () => {
    if (webdriver.exitCode === null) webdriver.kill();
  };
  // The driver answers /status once it listens; it has no other readiness signal.
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      if ((await fetch(`http://${host}:${port}/status`)).ok) break;
    } catch {}
    if (Date.now() > deadline) {
      quitDriver();
      throw new Error("WebKitWebDriver did not start within 20 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let driver;
  try {
    driver = await new Builder()
      .usingServer(`http://${host}:${port}`)
      .withCapabilities({ browserName: "wry", "webkitgtk:browserOptions": { binary, args } })
      .build();
  } catch (err) {
    quitDriver();
    throw err;
  }
  return {
    driver,
    webdriver,
    async quit() {
      await driver.quit().catch(() => {});
      quitDriver();
    },
  };
}

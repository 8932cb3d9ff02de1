// Desktop notifications from the app (tauri-plugin-notification): a real notification server
// (dunst, on Xvfb) on a session D-Bus of this test's own, and dbus-monitor reading what the
// app asks it to show. While the app's window is in front, a chat shows no notification; once
// another window has the focus, a participant joining, their chat (HTML in it arrives as
// text: escaped for a server that renders body markup) and a file they offer each show one.
// Turned off in the settings panel (and saved), a join and a chat show none; turned on
// again, the ones above do.
// Run by scripts/test.sh inside a loopback-only namespace with xvfb-run.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { By, until } from "selenium-webdriver";
import { launchApp, rustPeer, startServer, shotsDir, tempDir } from "./lib/harness.mjs";

const ROOM = "notify";
const HOSTILE = `<b>bold?</b> & <img src=x>`;
const dir = tempDir("confab-notify-");
const started = [];
let bus;
let server;
let app;
let driver;
const peers = [];
/** Every Notify call the app made: {summary, body}. */
const notified = [];
const waiters = [];

/** Spawns `cmd` and resolves with the child and its first stdout line matching `re`. */
function spawnUntil(cmd, args, env, re, what) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  started.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not ready within 20 s`)), 20000);
    child.once("exit", (code) => reject(new Error(`${what} exited with ${code}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (re.test(line)) {
        clearTimeout(timer);
        resolve({ child, line });
      }
    });
  });
}

/** Reads dbus-monitor's text: each Notify call's strings are app name, icon, summary, body. */
function watchNotifications(monitor) {
  let strings = null;
  createInterface({ input: monitor.stdout }).on("line", (line) => {
    if (/member=Notify\b/.test(line)) {
      strings = [];
      return;
    }
    if (strings === null) return;
    const m = /^\s+string "(.*)"$/.exec(line);
    if (m) strings.push(m[1]);
    if (strings.length === 4) {
      notified.push({ summary: strings[2], body: strings[3] });
      strings = null;
      for (const w of waiters.splice(0)) (w.pred() ? w.resolve() : waiters.push(w));
    }
  });
}

function waitNotified(pred, what, ms = 20000) {
  if (pred()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; notified: ${JSON.stringify(notified)}`)), ms);
    waiters.push({ pred, resolve: () => { clearTimeout(timer); resolve(); } });
  });
}

function gdbusNotifications(method) {
  return execFileSync("gdbus", ["call", "--session", "--dest", "org.freedesktop.Notifications", "--object-path",
    "/org/freedesktop/Notifications", "--method", `org.freedesktop.Notifications.${method}`],
  { encoding: "utf8", timeout: 10000, env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus } });
}

before(async () => {
  if (!process.env.DISPLAY) throw new Error("needs an X server (scripts/test.sh runs this under xvfb-run)");
  const config = path.join(dir, "dunstrc");
  writeFileSync(config, "[global]\n    markup = full\n    font = Sans 11\n");
  ({ line: bus } = await spawnUntil("dbus-daemon", ["--session", "--nofork", "--print-address=1"], {}, /^unix:/, "dbus-daemon"));
  const monitor = spawn("dbus-monitor", ["--session", "interface='org.freedesktop.Notifications',member='Notify'"],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus } });
  started.push(monitor);
  watchNotifications(monitor);
  const dunst = spawn("dunst", ["-config", config], { stdio: "ignore", env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus } });
  started.push(dunst);
  // The server is up once it answers on the bus (a bounded wait: it has no other signal).
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      gdbusNotifications("GetServerInformation");
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`dunst did not answer on the bus within 20 s: ${err.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.match(gdbusNotifications("GetCapabilities"), /'body-markup'/, "the server renders markup: escaping is what keeps HTML as text");
  server = await startServer();
  app = await launchApp(["--server", server.url, "--room", ROOM, "--name", "alice", "--join",
    "--ice-bind", "127.0.0.1:0", "--camera", "synthetic", "--mic", "synthetic", "--speakers", "none"],
  { CONFAB_CONFIG_DIR: path.join(dir, "config"), DBUS_SESSION_BUS_ADDRESS: bus });
  driver = app.driver;
  await driver.wait(until.elementLocated(By.css('[data-testid="leave"]')), 30000, "in the call");
});

after(async () => {
  if (app) await app.quit();
  for (const p of peers) await p.stop();
  if (server) await server.stop();
  for (const c of started) if (c.exitCode === null) c.kill();
});

/** Gives the X input focus to the window titled `title` (no window manager here). */
function focusWindow(title) {
  execFileSync("xdotool", ["search", "--sync", "--limit", "1", "--name", title, "windowfocus", "--sync"], { timeout: 10000 });
}

test("a chat while the window is in front shows no notification", async () => {
  focusWindow(`${ROOM} — Confab`);
  await driver.wait(() => driver.executeScript("return document.hasFocus()"), 10000, "the app focused");
  peers.push(rustPeer({ server, room: ROOM, name: "carol", dir, args: ["--chat", "seen in the window"] }));
  await driver.wait(until.elementLocated(By.css('[data-testid="chat-entry"][data-from="carol"]')), 30000);
  // Checked after the next test's notifications arrived (the app handles events in order).
});

let elsewhere = null;
/** Another application takes the focus, as when the person switches to their browser. */
async function focusElsewhere() {
  if (!elsewhere) {
    elsewhere = spawn("xmessage", ["-name", "elsewhere", "-title", "elsewhere", "another application"], { stdio: "ignore" });
    started.push(elsewhere);
  }
  focusWindow("elsewhere");
  await driver.wait(async () => !(await driver.executeScript("return document.hasFocus()")), 10000, "the app not focused");
}

/** Opens the settings panel, sets the notifications switch to `on`, saves, and waits until saved. */
async function setNotifications(on) {
  focusWindow(`${ROOM} — Confab`);
  const toggle = await driver.findElement(By.css('[data-testid="panel-settings"]'));
  if ((await toggle.getAttribute("aria-pressed")) !== "true") await toggle.click();
  const box = await driver.findElement(By.css('[data-testid="notifications"]'));
  await driver.wait(until.elementIsVisible(box), 5000, "the settings panel");
  if ((await box.isSelected()) !== on) await box.click();
  const status = await driver.findElement(By.css('[data-testid="settings-status"]'));
  await driver.executeScript("arguments[0].textContent = ''", status);
  await driver.findElement(By.css('[data-testid="settings-save"]')).click();
  await driver.wait(async () => (await status.getText()) === "Saved", 10000, "saved");
  const saved = JSON.parse(readFileSync(path.join(dir, "config", "settings.json"), "utf8"));
  assert.equal(saved.notifications, on, "the switch is saved");
}

test("notifications turned off in the settings: with another window in front, a join and a chat show none", async () => {
  await setNotifications(false);
  await focusElsewhere();
  peers.push(rustPeer({ server, room: ROOM, name: "dave", dir, args: ["--chat", "while they are off"] }));
  // The app decides an event's notice before it shows the event (bridge.rs): dave's chat on
  // the screen means it was decided while they were off. Turned on again, the next test's
  // notices show (nothing was counted against the flood limit meanwhile).
  await driver.wait(until.elementLocated(By.css('[data-testid="chat-entry"][data-from="dave"]')), 30000);
  await setNotifications(true);
});

test("with another window in front: a join, a chat with HTML as text, and a file offer notify", async () => {
  await focusElsewhere();
  const file = path.join(dir, "agenda.txt");
  writeFileSync(file, "x".repeat(2048));
  peers.push(rustPeer({ server, room: ROOM, name: "bob", dir, args: ["--chat", HOSTILE, "--send-file", file] }));
  await waitNotified(() => notified.some((n) => n.summary === "bob joined the call"), "join notification");
  await waitNotified(() => notified.some((n) => n.summary === "bob"), "chat notification");
  await waitNotified(() => notified.some((n) => n.summary === "bob offers a file"), "file notification");
  const chat = notified.find((n) => n.summary === "bob");
  assert.equal(chat.body, "&lt;b&gt;bold?&lt;/b&gt; &amp; &lt;img src=x&gt;", "escaped: shown as the text that was typed");
  assert.equal(notified.find((n) => n.summary === "bob offers a file").body, "agenda.txt (2.0 KB)");
  assert.ok(!notified.some((n) => n.body.includes("seen in the window")), `notified while in front: ${JSON.stringify(notified)}`);
  assert.ok(!notified.some((n) => n.summary === "carol joined the call"), "carol joined while the app was in front");
  assert.ok(!notified.some((n) => n.body === "while they are off" || n.summary === "dave joined the call"),
    `notified while they were off: ${JSON.stringify(notified)}`);
  // What a person sees: dunst's popups on the screen (looked at).
  execFileSync("import", ["-window", "root", path.join(shotsDir(), "app-notifications.png")], { timeout: 20000 });
});


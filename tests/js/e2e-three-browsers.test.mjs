// End to end: three Chromium pages join one room through `confab serve` with the browser UI.
// Each decodes the others' video and audio, chat arrives exactly once, a 20 MB file arrives
// hash-exact, a page flooding another is held to its rate, and leaving removes the leaver's
// tile everywhere and stops its tracks.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { guestDecodes, startServer, launchChromium, newPage, openPanel, pollPage, shotsDir, tempDir } from "./lib/harness.mjs";

const NAMES = ["alice", "bob", "carol"];
const ROOM = "e2e-room";
let server;
let browser;
const pages = {};

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  for (const name of NAMES) {
    const page = await newPage(browser, server.url, name);
    await page.goto(`${server.url}/?room=${ROOM}&name=${name}&autojoin=1`);
    pages[name] = page;
  }
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

/** Inbound RTP counters per remote participant, straight from getStats(). */
function inbound(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const [id, peer] of window.confab.backend.peers) {
      const s = { frames: 0, samples: 0 };
      (await peer.pc.getStats()).forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video") s.frames += r.framesDecoded || 0;
        if (r.type === "inbound-rtp" && r.kind === "audio") s.samples += r.totalSamplesReceived || 0;
      });
      out[id] = s;
    }
    return out;
  });
}

test("every page decodes video and audio from both others", async () => {
  for (const name of NAMES) {
    const page = pages[name];
    const others = NAMES.filter((n) => n !== name);
    await guestDecodes(page, others, { frames: 10, onlyThese: true, what: `${name} decoding both others` });
    const tiles = await page.locator('[data-testid="tile"].remote').evaluateAll((els) => els.map((e) => e.dataset.participant).sort());
    assert.deepEqual(tiles, others, `${name}'s remote tiles`);
  }
  // Video keeps flowing: a second sample decodes more frames from everyone.
  const first = await inbound(pages.alice);
  await pollPage(
    pages.alice,
    async (first) => {
      for (const [id, peer] of window.confab.backend.peers) {
        let frames = 0;
        (await peer.pc.getStats()).forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
        });
        if (frames < first[id].frames + 15) return false;
      }
      return true;
    },
    first,
    { timeout: 15000, what: "more frames from everyone" },
  );
  // One data channel per pair, negotiated once.
  for (const name of NAMES) {
    const channels = await pages[name].evaluate(async () => {
      const counts = [];
      for (const peer of window.confab.backend.peers.values()) {
        let n = 0;
        (await peer.pc.getStats()).forEach((r) => r.type === "data-channel" && n++);
        counts.push(n);
      }
      return counts;
    });
    assert.deepEqual(channels, [1, 1], `${name} has one data channel per peer`);
  }
  // Let the statistics panel fill, then keep a picture of the call.
  await pages.alice.waitForFunction(() => document.querySelectorAll("#stats-body tr").length === 2 && [...document.querySelectorAll("#stats-body tr td:nth-child(8)")].every((td) => td.textContent.includes("fps")), null, { timeout: 15000 });
  // Congestion control's view per participant: Chromium's estimate in "Available", what is
  // sent, and each tile's connection indicator (loopback: good).
  const view = await pages.alice.evaluate(() => ({
    available: [...document.querySelectorAll("#stats-body tr td:nth-child(5)")].map((td) => td.textContent),
    sent: [...document.querySelectorAll("#stats-body tr td:nth-child(9)")].map((td) => td.textContent),
    quality: [...document.querySelectorAll('.tile.remote [data-testid="tile-quality"]')].map((b) => !b.hidden && b.dataset.quality),
  }));
  assert.ok(view.available.every((t) => /b\/s$/.test(t)), `available: ${view.available}`);
  assert.ok(view.sent.every((t) => /^\d+×\d+ @ \d+ fps$/.test(t)), `sent: ${view.sent}`);
  assert.deepEqual(view.quality, ["good", "good"], `tile indicators: ${view.quality}`);
  for (const name of NAMES) await pages[name].screenshot({ path: path.join(shotsDir(), `three-way-${name}.png`) });
});

test("a guest's page shows no desktop-only field, nor anything else marked hidden", async () => {
  const page = pages[NAMES[0]];
  // The Server field is the app's; a label's display rule once showed it to guests.
  assert.equal(await page.locator('[data-testid="server-field"]').isVisible(), false);
  const shown = await page.evaluate(() =>
    [...document.querySelectorAll("[hidden]")]
      .filter((el) => getComputedStyle(el).display !== "none")
      .map((el) => el.id || el.className || el.tagName));
  assert.deepEqual(shown, [], "elements with the hidden attribute that are displayed");
});

test("chat arrives exactly once, in order, and HTML stays text", async () => {
  const hostile = `hi <img src=x onerror="window.__pwned=1"><b>bold</b>`;
  for (const name of NAMES) await openPanel(pages[name], "chat");
  await pages.alice.fill('[data-testid="chat-input"]', hostile);
  await pages.alice.click('[data-testid="chat-send"]');
  await pages.bob.fill('[data-testid="chat-input"]', "second from bob");
  await pages.bob.press('[data-testid="chat-input"]', "Enter");
  for (const name of NAMES) {
    const page = pages[name];
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="chat-entry"]').length >= 2, null, { timeout: 15000 });
    // Both paths (data channel and signalling fallback) have had time to deliver duplicates
    // by the time a later message arrives; send a marker and wait for it as a barrier.
  }
  await pages.carol.fill('[data-testid="chat-input"]', "marker");
  await pages.carol.click('[data-testid="chat-send"]');
  for (const name of NAMES) {
    const page = pages[name];
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="chat-entry"] .text')].some((e) => e.textContent === "marker"), null, { timeout: 15000 });
    const texts = await page.locator('[data-testid="chat-entry"] .text').allTextContents();
    assert.equal(texts.filter((t) => t === hostile).length, 1, `${name} shows alice's message once`);
    assert.equal(texts.filter((t) => t === "second from bob").length, 1, `${name} shows bob's message once`);
    assert.equal(texts.length, 3, `${name} shows exactly three messages: ${JSON.stringify(texts)}`);
    assert.equal(await page.locator("#messages img, #messages b").count(), 0, "no markup from chat");
    assert.equal(await page.evaluate(() => window.__pwned), undefined, "no script ran");
  }
});

/** Each page's links (connection and channel states) and its last system messages, for a failure's message. */
async function links() {
  const out = {};
  for (const n of NAMES) {
    out[n] = await pages[n].evaluate(() => ({
      peers: [...window.confab.backend.peers].map(([id, p]) => `${id}: ${p.pc.connectionState}/${p.pc.iceConnectionState} dc ${p.dc ? p.dc.readyState : "none"}`),
      said: [...document.querySelectorAll(".message.system")].slice(-6).map((m) => m.textContent),
    }));
  }
  return out;
}

test("a 20 MB file arrives hash-exact at both receivers", async () => {
  const dir = tempDir("confab-e2e-");
  const file = path.join(dir, "payload.bin");
  const data = randomBytes(20 * 1024 * 1024);
  writeFileSync(file, data);
  const expected = createHash("sha256").update(data).digest("hex");

  for (const name of NAMES) await openPanel(pages[name], "files");
  await pages.alice.setInputFiles('[data-testid="file-input"]', file);
  await pages.alice.click('[data-testid="file-send"]');
  for (const name of ["bob", "carol"]) {
    const row = pages[name].locator('[data-testid="transfer"][data-direction="received"]');
    await row.locator('[data-testid="transfer-accept"]').click({ timeout: 30000 }).catch(async (err) => {
      throw new Error(`${err.message.split("\n")[0]}; links: ${JSON.stringify(await links())}`);
    });
  }
  for (const name of ["bob", "carol"]) {
    const page = pages[name];
    const row = page.locator('[data-testid="transfer"][data-direction="received"]');
    // Polled, so a timeout says where the transfer stood (status and progress of each row,
    // on both receivers and the sender) instead of only that it did not finish.
    await pollPage(page, () => document.querySelector('[data-testid="transfer"][data-direction="received"]')?.dataset.status === "done", null, {
      timeout: 120000,
      interval: 500,
      what: `${name}'s copy done`,
    }).catch(async (err) => {
      const rows = {};
      for (const n of NAMES) {
        rows[n] = await pages[n].evaluate(() => [...document.querySelectorAll('[data-testid="transfer"]')].map((r) => `${r.dataset.direction} ${r.dataset.status} ${r.querySelector(".transfer-status")?.textContent}`));
      }
      throw new Error(`${err.message}; transfers: ${JSON.stringify(rows)}`);
    });
    assert.equal(await row.getAttribute("data-sha256"), expected);
    const [download] = await Promise.all([page.waitForEvent("download"), row.locator('[data-testid="transfer-download"]').click()]);
    assert.equal(download.suggestedFilename(), "payload.bin");
    const saved = readFileSync(await download.path());
    assert.equal(saved.length, data.length);
    assert.equal(createHash("sha256").update(saved).digest("hex"), expected, `${name} got the exact bytes`);
  }
  await pages.alice.waitForFunction(() => [...document.querySelectorAll('[data-testid="transfer"][data-direction="sent"]')].filter((r) => r.dataset.status === "done").length === 2, null, { timeout: 30000 });
  await pages.bob.screenshot({ path: path.join(shotsDir(), "after-transfer-bob.png") });
});

test("a peer flooding the data channel is cut to its rate, told off, and the others' chat still arrives", async () => {
  const started = Date.now();
  // Alice's page misbehaves as a modified client would: straight onto the channel to bob.
  await pages.alice.evaluate(() => {
    const dc = window.confab.backend.peers.get("bob").dc;
    dc.send(JSON.stringify({ t: "chat", id: "long-one", text: "x".repeat(5000) }));
    for (let i = 0; i < 20; i++) {
      dc.send(JSON.stringify({ t: "file-offer", id: `flood-offer-${i}`, name: "<b>f</b>.txt", size: 10, sha256: "0".repeat(64), mime: "" }));
    }
    for (let i = 0; i < 2000; i++) dc.send(JSON.stringify({ t: "chat", id: `flood-${i}`, text: `flood ${i}` }));
  });
  await openPanel(pages.carol, "chat");
  await pages.carol.fill('[data-testid="chat-input"]', "during the flood");
  await pages.carol.click('[data-testid="chat-send"]');
  const bob = await pollPage(
    pages.bob,
    () => {
      const texts = [...document.querySelectorAll("#messages .message")].map((e) => e.textContent);
      const ok = texts.some((t) => t.includes("during the flood")) &&
        texts.some((t) => t.includes("alice sends messages faster than 50 a second")) &&
        texts.some((t) => t.includes("a chat message from alice is 5000 characters long"));
      if (!ok) return false;
      return {
        flood: [...document.querySelectorAll('[data-testid="chat-entry"] .text')].filter((e) => e.textContent.startsWith("flood ")).length,
        carol: [...document.querySelectorAll('[data-testid="chat-entry"] .text')].filter((e) => e.textContent === "during the flood").length,
        offered: document.querySelectorAll('[data-testid="transfer"][data-direction="received"][data-status="offered"]').length,
      };
    },
    null,
    { what: "bob's errors about alice's flood, and carol's message" },
  );
  const seconds = (Date.now() - started) / 1000;
  assert.ok(bob.flood >= 100 && bob.flood <= 200 + 50 * seconds, `bob showed ${bob.flood} of alice's 2000 in ${seconds} s`);
  assert.equal(bob.carol, 1, "carol's message shown once");
  assert.equal(bob.offered, 8, "offers left waiting for bob's answer: the cap");
  await pages.bob.screenshot({ path: path.join(shotsDir(), "flood-bob.png") });
});

test("camera and mic toggles are seen by the others", async () => {
  await pages.alice.click('[data-testid="toggle-video"]');
  await pages.alice.click('[data-testid="toggle-audio"]');
  for (const name of ["bob", "carol"]) {
    const tile = pages[name].locator('[data-testid="tile"][data-participant="alice"]');
    await pages[name].waitForFunction(() => {
      const t = document.querySelector('[data-testid="tile"][data-participant="alice"]');
      return t && t.dataset.video === "false" && t.dataset.audio === "false";
    }, null, { timeout: 15000 });
    assert.match(await tile.locator(".tile-flags").textContent(), /mic off.*camera off/);
  }
  await pages.bob.screenshot({ path: path.join(shotsDir(), "alice-muted-seen-by-bob.png") });
  await pages.alice.click('[data-testid="toggle-video"]');
  await pages.alice.click('[data-testid="toggle-audio"]');
  await pages.bob.waitForFunction(() => {
    const t = document.querySelector('[data-testid="tile"][data-participant="alice"]');
    return t && t.dataset.video === "true" && t.dataset.audio === "true";
  }, null, { timeout: 15000 });
});

test("leaving removes the tile elsewhere and stops the leaver's tracks", async () => {
  await pages.carol.click('[data-testid="leave"]');
  for (const name of ["alice", "bob"]) {
    await pages[name].waitForFunction(() => !document.querySelector('[data-testid="tile"][data-participant="carol"]'), null, { timeout: 15000 });
    assert.equal(await pages[name].evaluate(() => window.confab.backend.peers.has("carol")), false);
  }
  const carol = await pages.carol.evaluate(() => ({
    live: window.confab.backend.liveLocalTracks(),
    peers: window.confab.backend.peers.size,
    video: document.getElementById("local-video").srcObject,
    remoteTiles: document.querySelectorAll('[data-testid="tile"].remote').length,
  }));
  assert.deepEqual(carol, { live: 0, peers: 0, video: null, remoteTiles: 0 });
  const rooms = await (await fetch(`${server.url}/api/rooms`)).json();
  assert.deepEqual(rooms.rooms.find((r) => r.roomId === ROOM).users.sort(), ["alice", "bob"]);
  await pages.alice.screenshot({ path: path.join(shotsDir(), "after-leave-alice.png") });
});

// The engine against the reference design's own Node server (bench/node-reference-server.mjs:
// socket.io 4.8 relaying as the reference does — offers to the whole room, `from` taken from
// the client, no roomId in what it relays). Two `confab join` peers call each other through it:
// each decodes the other's video, hears its tone and gets its chat.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";

import { ROOT, rustPeer, tempDir } from "./lib/harness.mjs";

let server;
let child;
const dir = tempDir("confab-reference-server-");

before(async () => {
  child = spawn(process.execPath, [path.join(ROOT, "bench/node-reference-server.mjs")], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, PORT: "0" },
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the reference server did not start within 20 s")), 20000);
    child.once("exit", (code) => reject(new Error(`the reference server exited with ${code}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  server = { url };
});

after(() => {
  if (child && child.exitCode === null) child.kill("SIGTERM");
});

test("two confab join peers call each other through the reference Node server", async () => {
  const peer = (name) =>
    rustPeer({ server, room: "reference", name, dir, args: ["--synthetic-video", "--synthetic-audio", "--chat", `hi from ${name}`] });
  const alice = peer("alice");
  await alice.waitFor((e) => e.event === "joined", "alice in the room");
  const bob = peer("bob");
  for (const [me, other] of [[alice, "bob"], [bob, "alice"]]) {
    await me.waitFor((e) => e.event === "video" && e.from === other && e.frames >= 60, `60 frames from ${other}`);
    await me.waitFor((e) => e.event === "chat" && e.from === other, `chat from ${other}`);
  }
  const reports = { alice: await alice.stop(), bob: await bob.stop() };
  for (const [me, other] of [["alice", "bob"], ["bob", "alice"]]) {
    const seen = reports[me].participants[other];
    assert.ok(seen.video_frames_decoded >= 60, `${me} decoded ${seen.video_frames_decoded} frames from ${other}`);
    assert.ok(seen.audio_frames_audible >= 50, `${me} heard ${seen.audio_frames_audible} audible frames from ${other}`);
    assert.deepEqual(seen.chat_received, [`hi from ${other}`]);
    assert.deepEqual(reports[me].errors, [], `${me}'s errors`);
  }
});

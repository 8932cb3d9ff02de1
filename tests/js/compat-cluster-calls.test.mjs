// Calls across a cluster (a real Redis, three `confab serve --redis` nodes on loopback): two
// `confab join` peers on different nodes complete a call — each decodes the other's video,
// hears its tone, gets its chat and its file byte for byte — and a three-person call with
// one participant on each node forms its whole mesh. A node killed mid-call: its participant
// moves to another node of its list (`--server` repeated) and keeps its place — nobody sees
// it leave, the media never stops, and it signals a newcomer's call through its new node.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { clusterForTests } from "./lib/cluster.mjs";
import { rustPeer, tempDir } from "./lib/harness.mjs";

const dir = tempDir("confab-cluster-calls-");
const sha256 = (data) => createHash("sha256").update(data).digest("hex");

const cluster = clusterForTests(3);

const MEDIA = ["--synthetic-video", "--synthetic-audio"];

test("two peers on different nodes: video, sound, chat and a file both ways", async () => {
  const files = {};
  const peers = {};
  for (const [i, name] of [[0, "alice"], [1, "bob"]]) {
    files[name] = randomBytes(1024 * 1024 + i * 7);
    writeFileSync(path.join(dir, `${name}.bin`), files[name]);
    peers[name] = rustPeer({
      server: cluster.nodes[i],
      room: "across",
      name,
      dir,
      args: [...MEDIA, "--chat", `hi from ${name}`, "--send-file", path.join(dir, `${name}.bin`),
        "--accept-files", "--download-dir", path.join(dir, `${name}-downloads`)],
    });
    await peers[name].waitFor((e) => e.event === "joined", `${name} in the room`);
  }
  for (const [me, other] of [["alice", "bob"], ["bob", "alice"]]) {
    await peers[me].waitFor((e) => e.event === "video" && e.from === other && e.frames >= 60, `60 frames from ${other}`);
    await peers[me].waitFor((e) => e.event === "chat" && e.from === other, `chat from ${other}`);
    await peers[me].waitFor((e) => e.event === "transfer" && e.direction === "received" && e.status === "done", `${other}'s file`, 60000);
  }
  const reports = { alice: await peers.alice.stop(), bob: await peers.bob.stop() };
  for (const [me, other] of [["alice", "bob"], ["bob", "alice"]]) {
    const seen = reports[me].participants[other];
    assert.ok(seen.video_frames_decoded >= 60, `${me} decoded ${seen.video_frames_decoded} frames from ${other}`);
    assert.ok(seen.audio_frames_audible >= 50, `${me} heard ${seen.audio_frames_audible} audible frames from ${other}`);
    assert.deepEqual(seen.chat_received, [`hi from ${other}`]);
    const got = reports[me].transfers.find((t) => t.direction === "received");
    assert.equal(got.status, "done");
    assert.equal(sha256(readFileSync(got.path)), sha256(files[other]), `${me} wrote ${other}'s exact bytes`);
    assert.deepEqual(reports[me].errors, [], `${me}'s errors`);
  }
});

test("three peers, one on each node: the whole mesh forms", async () => {
  const names = ["ann", "ben", "cat"];
  const peers = names.map((name, i) => rustPeer({ server: cluster.nodes[i], room: "mesh", name, dir, args: MEDIA }));
  for (const [i, me] of peers.entries()) {
    for (const other of names.filter((n) => n !== names[i])) {
      await me.waitFor((e) => e.event === "video" && e.from === other && e.frames >= 30, `30 frames from ${other}`);
    }
  }
  for (const [i, me] of peers.entries()) {
    const report = await me.stop();
    for (const other of names.filter((n) => n !== names[i])) {
      assert.ok(report.participants[other].audio_frames_audible >= 25, `${names[i]} heard ${other}`);
    }
    assert.deepEqual(report.errors, [], `${names[i]}'s errors`);
  }
});

test("a node killed mid-call: its participant signals through another node and the call goes on", async () => {
  // Each peer's list: its own node first (rustPeer's --server), then the two others.
  const list = (first) => [0, 1, 2].filter((i) => i !== first).flatMap((i) => ["--server", cluster.nodes[i].url]);
  const alice = rustPeer({ server: cluster.nodes[2], room: "failover", name: "alice", dir, args: [...MEDIA, ...list(2)] });
  await alice.waitFor((e) => e.event === "joined", "alice in the room");
  const bob = rustPeer({ server: cluster.nodes[0], room: "failover", name: "bob", dir, args: [...MEDIA, ...list(0)] });
  await alice.waitFor((e) => e.event === "video" && e.from === "bob" && e.frames >= 30, "30 frames from bob");
  await bob.waitFor((e) => e.event === "video" && e.from === "alice" && e.frames >= 30, "30 frames from alice");

  const killed = Date.now();
  cluster.nodes[2].child.kill("SIGKILL");
  await cluster.nodes[2].stop();
  await alice.waitFor((e) => e.event === "signalling" && e.state === "reconnecting" && e.at >= killed, "alice losing her node");
  const back = await alice.waitFor((e) => e.event === "signalling" && e.state === "rejoined" && e.at >= killed, "alice back in the room through another node", 15000);
  console.log(`alice signalled again through another node ${back.at - killed} ms after hers was killed`);
  // Past the dead node's expiry and sweep: alice is still in the room on every live node.
  await new Promise((r) => setTimeout(r, 12000));
  for (const n of cluster.nodes.slice(0, 2)) {
    const rooms = await (await fetch(`${n.url}/api/rooms`)).json();
    assert.deepEqual(rooms.rooms.find((r) => r.roomId === "failover")?.users, ["alice", "bob"], n.url);
  }
  assert.equal(bob.seen.some((e) => e.event === "participant-left" && e.id === "alice"), false, "bob saw alice leave");
  // Media went on through the kill: frames from each other after it, without a marked gap.
  for (const [me, other] of [[alice, "bob"], [bob, "alice"]]) {
    const after = me.seen.filter((e) => e.event === "video" && e.from === other && e.at > killed);
    assert.ok(after.length >= 5, `video from ${other} after the kill: ${after.length} lines`);
    assert.ok(after.every((e) => !e.gap_ms), `a gap in ${other}'s video: ${JSON.stringify(after.find((e) => e.gap_ms))}`);
  }
  // Alice's signalling works through her new node: a newcomer's call with her forms.
  const carol = rustPeer({ server: cluster.nodes[1], room: "failover", name: "carol", dir, args: MEDIA });
  await alice.waitFor((e) => e.event === "video" && e.from === "carol" && e.frames >= 30, "30 frames from the newcomer", 30000);
  await carol.waitFor((e) => e.event === "video" && e.from === "alice" && e.frames >= 30, "30 frames from alice", 30000);
  for (const [name, p] of [["alice", alice], ["bob", bob], ["carol", carol]]) {
    const report = await p.stop();
    assert.deepEqual(report.errors, [], `${name}'s errors`);
  }
});

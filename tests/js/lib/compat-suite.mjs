// The socket.io-client v4 compatibility tests, shared by one server
// (compat-socketio-client.test.mjs) and a cluster of three (compat-socketio-client-cluster).

import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

/** Resolves with the first argument of the next `event` on `socket`. */
export function next(socket, event, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, (arg) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

/** A socket.io-client connected to `url` over `transports`, without reconnection. */
export async function connectTo(url, transports) {
  const socket = io(url, { transports, forceNew: true, reconnection: false });
  await next(socket, "connect");
  return socket;
}

/**
 * The compatibility tests, against the servers `urls()` gives (one, or the nodes of a
 * cluster): the n-th client of a test connects to server n mod their count, so with three
 * nodes every room spans them all.
 */
export function compatSuite(urls, { prefix = "" } = {}) {
  let made = 0;
  const connect = async (transports) => {
    const list = urls();
    return connectTo(list[made++ % list.length], transports);
  };
  const anyUrl = () => urls()[made % urls().length];

for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
  const label = prefix + transports.join("+");
  const kind = transports.join("-");

  test(`${label}: join, room-state, user-joined and /api/rooms`, async () => {
    const room = `compat-${kind}`;
    const a = await connect(transports);
    const stateA = next(a, "room-state");
    a.emit("join-room", room, "alice", { name: "Alice" });
    const { resumeToken: tokenA, ...restA } = await stateA;
    assert.deepEqual(restA, { users: [] });
    assert.match(tokenA, /^[0-9a-f]{32}$/, "every room-state carries a resume token");

    const b = await connect(transports);
    const joined = next(a, "user-joined");
    const stateB = next(b, "room-state");
    b.emit("join-room", room, "bob", { name: "Bob" });
    const { resumeToken: tokenB, ...restB } = await stateB;
    assert.deepEqual(restB, { users: [{ userId: "alice", userData: { name: "Alice" } }] });
    assert.notEqual(tokenB, tokenA);
    assert.deepEqual(await joined, { userId: "bob", userData: { name: "Bob" }, roomSize: 2 });

    // Every server lists the room the same way.
    for (const url of urls()) {
      const rooms = await (await fetch(`${url}/api/rooms`)).json();
      const mine = rooms.rooms.find((r) => r.roomId === room);
      assert.deepEqual(mine, { roomId: room, userCount: 2, users: ["alice", "bob"] }, url);
      assert.equal(typeof rooms.totalRooms, "number");
    }

    const left = next(a, "user-left");
    b.disconnect();
    assert.deepEqual(await left, { userId: "bob" });
    a.disconnect();
  });

  test(`${label}: offer, answer and candidates are routed by 'to' with 'from' stamped`, async () => {
    const room = `route-${kind}`;
    const peers = {};
    for (const name of ["alice", "bob", "carol"]) {
      peers[name] = await connect(transports);
      const state = next(peers[name], "room-state");
      peers[name].emit("join-room", room, name, { name });
      await state;
    }
    const { alice, bob, carol } = peers;
    let bobGotOffer = false;
    bob.on("offer", () => (bobGotOffer = true));

    const offer = next(carol, "offer");
    alice.emit("offer", { roomId: room, to: "carol", from: "bob", offer: { type: "offer", sdp: "v=0\r\n" } });
    assert.deepEqual(await offer, { roomId: room, from: "alice", to: "carol", offer: { type: "offer", sdp: "v=0\r\n" } });

    const answer = next(alice, "answer");
    carol.emit("answer", { roomId: room, to: "alice", answer: { type: "answer", sdp: "v=0\r\n" } });
    assert.equal((await answer).from, "carol");

    const cand = next(carol, "ice-candidate");
    alice.emit("ice-candidate", { roomId: room, to: "carol", candidate: { candidate: "candidate:1 1 udp 2 127.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 } });
    assert.equal((await cand).candidate.sdpMid, "0");

    // A later broadcast reaches bob: by then the offer for carol would have arrived too.
    const chat = next(bob, "data-channel-message");
    alice.emit("data-channel-message", { roomId: room, message: "hi", type: "chat" });
    const got = await chat;
    assert.equal(got.from, "alice");
    assert.equal(got.message, "hi");
    assert.ok(!Number.isNaN(Date.parse(got.timestamp)));
    assert.equal(bobGotOffer, false, "an offer for carol must not reach bob");
    for (const s of Object.values(peers)) s.disconnect();
  });

  test(`${label}: a null ice-candidate earns an error event and the server lives on`, async () => {
    const s = await connect(transports);
    const state = next(s, "room-state");
    s.emit("join-room", `null-${kind}`, "nully", {});
    await state;
    const err = next(s, "error");
    s.emit("ice-candidate", null);
    const e = await err;
    assert.equal(e.code, "invalid-payload");
    assert.equal(typeof e.message, "string");
    const health = await fetch(`${anyUrl()}/healthz`);
    assert.equal(health.status, 200);
    s.disconnect();
  });
}
}

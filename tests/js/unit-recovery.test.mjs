// The browser guest's recovery ladder (ui/recovery.js), with time as an input; the same cases
// as the engine's (crates/engine/src/call/recovery.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Recovery, ICE_RESTART_AFTER_MS, ICE_RESTART_CAP_MS, PARTICIPANT_TIMEOUT_MS } from "../../ui/recovery.js";

function connected(restartsIce) {
  const r = new Recovery(restartsIce);
  assert.deepEqual(r.onLink(0, "connected"), [{ state: "connected" }]);
  return r;
}

test("a lost link waits, then restarts with a growing gap up to the cap, then is removed", () => {
  const r = connected(true);
  assert.deepEqual(r.onLink(1000, "disconnected"), [{ state: "reconnecting" }]);
  assert.equal(r.nextTimeout(), 1000 + ICE_RESTART_AFTER_MS);
  const restarts = [];
  for (let t = 1000; t <= 1000 + PARTICIPANT_TIMEOUT_MS; t += 50) {
    for (const a of r.onTimeout(t)) restarts.push(a === "restart" ? t : a);
  }
  const times = restarts.filter((a) => typeof a === "number").map((t) => t - 1000);
  assert.deepEqual(times.slice(0, 4), [2000, 3000, 5000, 8000]);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] <= ICE_RESTART_CAP_MS);
  assert.deepEqual(restarts.slice(-2), [{ state: "left" }, "remove"]);
});

test("the answering side never restarts by itself, and failed restarts at once", () => {
  const r = connected(false);
  r.onLink(0, "disconnected");
  for (let t = 0; t < 10000; t += 100) assert.ok(!r.onTimeout(t).includes("restart"));
  const s = connected(true);
  assert.deepEqual(s.onLink(100, "failed"), [{ state: "reconnecting" }, "restart"]);
});

test("no restart while this side's signalling is down; once back, at once if one was tried", () => {
  const r = connected(true);
  r.onLink(0, "disconnected");
  assert.deepEqual(r.onTimeout(2000), ["restart"]);
  r.onSignalling(2500, false);
  for (let t = 2500; t < 9000; t += 100) assert.deepEqual(r.onTimeout(t), []);
  assert.deepEqual(r.onSignalling(9000, true), ["restart"]);
  const answering = connected(false);
  answering.onLink(0, "disconnected");
  answering.onSignalling(100, false);
  assert.deepEqual(answering.onSignalling(5000, true), ["restart"], "the other side's restarts could not reach us");
});

test("back before the first restart: the old pair gets its chance first; connected ends it", () => {
  const r = connected(true);
  r.onLink(0, "disconnected");
  r.onSignalling(500, false);
  assert.deepEqual(r.onSignalling(1000, true), []);
  assert.equal(r.nextTimeout(), 1000 + ICE_RESTART_AFTER_MS);
  assert.deepEqual(r.onLink(1500, "connected"), [{ state: "connected" }]);
  assert.equal(r.nextTimeout(), null);
});

test("after this side's own network is suspect, the restart waits for signalling, then goes at once", () => {
  const answering = connected(false);
  answering.onLink(0, "disconnected");
  answering.onSignalling(2500, false);
  assert.deepEqual(answering.onOwnNetwork(2500), [], "not into a dead connection");
  assert.deepEqual(answering.onSignalling(3000, true), ["restart"], "the answering side too");
  const offering = connected(true);
  offering.onLink(0, "disconnected");
  offering.onSignalling(2500, false);
  offering.onOwnNetwork(2500);
  assert.deepEqual(offering.onSignalling(2600, true), ["restart"], "no ICE_RESTART_AFTER wait");
});

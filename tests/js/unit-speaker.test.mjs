// The active speaker (ui/speaker.js): the first to speak takes the stage at once; someone
// else only after talking for TAKE_OVER_MS; a cough does not move it; a speaker who leaves
// gives it up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ActiveSpeaker, TAKE_OVER_MS } from "../../ui/speaker.js";

/** Reports `level` for `id` every 200 ms from `from` to `to` (as the backends do, ~5/s). */
function speak(s, id, level, from, to) {
  let who = null;
  for (let t = from; t <= to; t += 200) who = s.report(id, level, t);
  return who;
}

test("the first speaker takes the stage at once", () => {
  const s = new ActiveSpeaker();
  assert.equal(s.report("bob", 0.01, 0), null, "silence picks nobody");
  assert.equal(s.report("bob", 0.3, 200), "bob");
});

test("another speaker takes over only after talking for a while; a cough does not", () => {
  const s = new ActiveSpeaker();
  speak(s, "bob", 0.3, 0, 3000);
  // carol coughs once while bob talks on.
  s.report("carol", 0.6, 3100);
  assert.equal(speak(s, "bob", 0.3, 3200, 3400), "bob");
  // carol starts talking and bob stops: she has the stage once she has spoken long enough.
  let t = 3600;
  let who = "bob";
  for (; t < 3600 + TAKE_OVER_MS - 200; t += 200) {
    s.report("bob", 0.3, t);
    who = s.report("carol", 0.5, t + 1);
  }
  assert.equal(who, "bob", "not before TAKE_OVER_MS while bob still talks");
  for (; t < 3600 + 3 * TAKE_OVER_MS; t += 200) {
    s.report("bob", 0.0, t);
    who = s.report("carol", 0.5, t + 1);
  }
  assert.equal(who, "carol");
});

test("a speaker who goes quiet hands over at once, and one who leaves is forgotten", () => {
  const s = new ActiveSpeaker();
  speak(s, "bob", 0.3, 0, 1000);
  // Bob silent for longer than the window: carol takes it with her first words.
  assert.equal(s.report("carol", 0.4, 4000), "carol");
  s.remove("carol");
  assert.equal(s.current, null);
});

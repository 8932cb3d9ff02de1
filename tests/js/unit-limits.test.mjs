// The browser guest's limits on a peer (ui/limits.js), with time as an input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TokenBucket, DropReport, ChatLog, MESSAGE_BURST, MESSAGES_PER_SECOND, SEEN_PER_SENDER } from "../../ui/limits.js";

test("the bucket allows the burst, then the rate", () => {
  const b = new TokenBucket();
  let burst = 0;
  for (let i = 0; i < 1000; i++) if (b.take(0)) burst++;
  assert.equal(burst, MESSAGE_BURST);
  let refilled = 0;
  for (let i = 0; i < 1000; i++) if (b.take(1000)) refilled++;
  assert.equal(refilled, MESSAGES_PER_SECOND);
});

test("drops are reported at most once a second, with what was dropped since", () => {
  const r = new DropReport();
  assert.equal(r.dropped(0), 1);
  assert.equal(r.dropped(10), null);
  assert.equal(r.dropped(500), null);
  assert.equal(r.dropped(1000), 3);
});

test("chat is shown once per sender and id, and memory stays bounded", () => {
  const log = new ChatLog();
  assert.equal(log.firstTime("bob", "1"), true);
  assert.equal(log.firstTime("bob", "1"), false);
  assert.equal(log.firstTime("mallory", "1"), true, "another sender's id does not hide bob's");
  for (let i = 0; i < SEEN_PER_SENDER + 100; i++) log.firstTime("flood", String(i));
  assert.equal(log.seen.get("flood").size, SEEN_PER_SENDER);
  assert.equal(log.firstTime("flood", "0"), true, "the oldest was forgotten");
  log.forget("flood");
  assert.equal(log.seen.has("flood"), false);
});

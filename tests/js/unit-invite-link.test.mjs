// ui/invite-link.js: what "join with a link" makes of what is pasted.

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseInvite } from "../../ui/invite-link.js";

test("an invite gives server, room and secret", () => {
  assert.deepEqual(parseInvite("  http://10.0.0.2:3000/?room=team-standup&secret=s3 "), {
    server: "http://10.0.0.2:3000", room: "team-standup", secret: "s3",
  });
  assert.deepEqual(parseInvite("https://calls.example/?room=r1"), { server: "https://calls.example", room: "r1", secret: "" });
});

test("nothing typed is nothing; anything else says what an invite looks like", () => {
  assert.equal(parseInvite("   "), null);
  assert.match(parseInvite("not a link").error, /not a link/);
  assert.match(parseInvite("http://host:3000/").error, /names no room/);
  assert.match(parseInvite("http://host:3000/?room=<b>x</b>").error, /names no room/);
  assert.match(parseInvite("javascript:alert(1)?room=a").error, /names no room/);
});

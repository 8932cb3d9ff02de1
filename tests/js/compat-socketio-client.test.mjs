// Compatibility: the official socket.io-client v4 (node) against `confab serve`, over both
// transports the browser client uses (long-polling, then websocket).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./lib/harness.mjs";
import { compatSuite, connectTo, next } from "./lib/compat-suite.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  if (server.child.exitCode === null) await server.stop();
});

compatSuite(() => [server.url]);

// The server closes sessions at the transport level on purpose: a stock client treats that as
// a dropped connection and reconnects (and the UI re-joins) when the server is back, whereas
// an "io server disconnect" would tell it never to come back.
test("SIGTERM shuts the server down gracefully: clients see the transport close, exit status 0", async () => {
  const s = await connectTo(server.url, ["websocket"]);
  const gone = next(s, "disconnect");
  const code = await server.stop();
  assert.equal(code, 0);
  assert.equal(await gone, "transport close");
});

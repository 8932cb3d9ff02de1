// Compatibility across a cluster: the same socket.io-client v4 tests as against one server,
// with a real Redis and three `confab serve --redis` nodes, each test's clients spread over
// the three (so every room, every relay and every membership notice crosses nodes).

import { before, after } from "node:test";
import { startRedis, startNodes } from "./lib/cluster.mjs";
import { compatSuite } from "./lib/compat-suite.mjs";

let redis;
let nodes = [];
before(async () => {
  redis = await startRedis();
  nodes = await startNodes(redis, 3);
});
after(async () => {
  for (const n of nodes) await n.stop();
  await redis?.stop();
});

compatSuite(() => nodes.map((n) => n.url), { prefix: "3 nodes, " });

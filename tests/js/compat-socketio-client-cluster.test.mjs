// Compatibility across a cluster: the same socket.io-client v4 tests as against one server,
// with a real Redis and three `confab serve --redis` nodes, each test's clients spread over
// the three (so every room, every relay and every membership notice crosses nodes).

import { clusterForTests } from "./lib/cluster.mjs";
import { compatSuite } from "./lib/compat-suite.mjs";

const cluster = clusterForTests(3);

compatSuite(() => cluster.nodes.map((n) => n.url), { prefix: "3 nodes, " });

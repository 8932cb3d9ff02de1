// A real Redis and several `confab serve --redis` nodes on loopback, for the multi-node tests.
// Redis runs from a scratch directory with append-only persistence (as docs/cluster.md asks
// of a deployment), so a test can restart it and find the rooms again.

import { before, after } from "node:test";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { startServer, freePort, tempDir } from "./harness.mjs";

/** Starts `redis-server` on a free loopback port; resolves once it accepts connections. */
export async function startRedis({ port = null, dir = tempDir("confab-redis-") } = {}) {
  port = port ?? (await freePort());
  const child = spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", "", "--appendonly", "yes", "--protected-mode", "yes"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout });
  const output = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 20 s:\n${output.join("\n")}`)), 20000);
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}:\n${output.join("\n")}`)));
    lines.on("line", (line) => {
      output.push(line);
      if (line.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    child,
    /** SIGTERM (Redis writes its append-only file and exits), then wait for the exit. */
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0) throw new Error(`redis-server exited with ${code}`);
    },
  };
}

/** Starts `count` signalling nodes sharing rooms through `redis`. */
export async function startNodes(redis, count, extraArgs = []) {
  const nodes = [];
  for (let i = 0; i < count; i++) nodes.push(await startServer(["--redis", redis.url, ...extraArgs]));
  return nodes;
}

/** Starts Redis and `count` nodes; `stop()` stops the nodes, then the Redis there by then. */
export async function startCluster(count, extraArgs = []) {
  const cluster = { redis: await startRedis(), nodes: [] };
  cluster.nodes = await startNodes(cluster.redis, count, extraArgs);
  // A method: called on whatever object holds it, it stops that object's current Redis.
  cluster.stop = async function stop() {
    for (const n of this.nodes) await n.stop();
    await this.redis?.stop();
  };
  return cluster;
}

/**
 * Registers the test file's hooks for a cluster: Redis and `count` nodes started before its
 * tests, stopped after. Returns the cluster, filled in once started: `redis` (a test may
 * replace it, restarting Redis: the one there at the end is stopped) and `nodes`.
 */
export function clusterForTests(count, extraArgs = []) {
  const cluster = { redis: null, nodes: [] };
  before(async () => {
    Object.assign(cluster, await startCluster(count, extraArgs));
  });
  after(async () => {
    await cluster.stop?.();
  });
  return cluster;
}

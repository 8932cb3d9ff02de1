// A real Redis and several `confab serve --redis` nodes on loopback, for the multi-node tests,
// and nginx in front of them as docs/cluster.md deploys it.
// Redis runs from a scratch directory with append-only persistence (as docs/cluster.md asks
// of a deployment), so a test can restart it and find the rooms again.

import { before, after } from "node:test";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
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

/**
 * Starts nginx in front of `nodes` with docs/cluster.md's configuration (sticky by client
 * address, WebSocket upgrade, a failed node skipped), listening on a free loopback port, from
 * a scratch directory (its own pid file, logs and temporary files). Resolves once it answers
 * through to a node. `stop()` ends it.
 */
export async function startProxy(nodes, { dir = tempDir("confab-nginx-") } = {}) {
  const port = await freePort();
  const upstreams = nodes.map((n) => `    server ${new URL(n.url).host} max_fails=1 fail_timeout=5s;`).join("\n");
  const conf = path.join(dir, "nginx.conf");
  // `user root` only when root: nginx's workers would otherwise run as nobody, who cannot
  // write the temporary files below (large responses are buffered there).
  const user = process.getuid?.() === 0 ? "user root;\n" : "";
  writeFileSync(conf, `${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream confab {
    ip_hash;
${upstreams}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://confab;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $http_host;
      proxy_read_timeout 60s;
    }
  }
}
`);
  const child = spawn("nginx", ["-p", dir, "-c", conf, "-g", "daemon off;"], { stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const url = `http://127.0.0.1:${port}`;
  // nginx says nothing when it is ready: asked until it answers (bounded; its exit ends it).
  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode} (${dir}/error.log)`);
    try {
      if ((await fetch(`${url}/api/rooms`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`nginx did not answer within 20 s (${dir}/error.log)`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    child,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0 && code !== null) throw new Error(`nginx exited with ${code}`);
    },
  };
}

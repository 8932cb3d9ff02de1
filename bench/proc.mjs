// What a benchmark measures of a process tree, from /proc: CPU time and resident memory.
// Shared by the call and recording benchmarks.

import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks a second (getconf CLK_TCK: 100 on every Linux this runs on). */
const CLK_TCK = 100;

/** utime + stime of `pid` in clock ticks (0 when it is gone). */
export function ticks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

export function rssKb(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** `root` and all its descendants. */
export function tree(root) {
  const parent = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {}
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

/** CPU (% of one core) and memory (MiB RSS) of each process tree over `seconds`. */
export async function measure(roots, seconds) {
  const pids = roots.map(tree);
  const before = pids.map((ps) => ps.reduce((s, p) => s + ticks(p), 0));
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (Date.now() - t0) / 1000;
  return pids.map((ps, i) => ({
    cpu: (100 * (ps.reduce((s, p) => s + ticks(p), 0) - before[i])) / CLK_TCK / elapsed,
    rssMiB: ps.reduce((s, p) => s + rssKb(p), 0) / 1024,
  }));
}


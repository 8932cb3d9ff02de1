// Turns the benchmark's JSON lines into a Markdown table with confab/node ratios per size.
import { readFileSync } from "node:fs";

const rows = readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "—");
if (rows.some((r) => r.nodes > 1)) {
  // Cluster mode (CLUSTER=1): one node against three sharing a Redis.
  console.log("| clients | servers | join p50 / p99 ms | relay p50 / p99 ms | cross-node relay p50 / p99 ms | offers/s | CPU µs/offer (nodes + Redis) | RSS MiB per node |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const cpu = `${f(r.cpu_us_per_offer)}${r.redis_cpu_us_per_offer != null ? ` + ${f(r.redis_cpu_us_per_offer)}` : ""}`;
    const rss = (r.rss_after_per_node_mib || [r.rss_after_mib]).map((x) => f(x)).join(" / ");
    console.log(`| ${r.clients} | ${r.label} | ${f(r.join_p50_ms, 2)} / ${f(r.join_p99_ms, 2)} | ${f(r.relay_p50_ms, 2)} / ${f(r.relay_p99_ms, 2)} | ${f(r.relay_cross_node_p50_ms, 2)} / ${f(r.relay_cross_node_p99_ms, 2)} | ${f(r.offers_per_s, 0)} | ${cpu} | ${rss} |`);
  }
  process.exit(0);
}
console.log("| clients | server | join p50 ms | join p99 ms | offers/s sent | deliveries/s | CPU µs/offer | CPU µs/delivery | RSS MiB (joined / after) |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.clients} | ${r.label} | ${f(r.join_p50_ms, 2)} | ${f(r.join_p99_ms, 2)} | ${f(r.offers_per_s, 0)} | ${f(r.deliveries_per_s, 0)} | ${f(r.cpu_us_per_offer)} | ${f(r.cpu_us_per_delivery)} | ${f(r.rss_joined_mib)} / ${f(r.rss_after_mib)} |`);
}
console.log("");
console.log("| clients | node CPU per offer ÷ confab | node RSS ÷ confab | confab join p99 ÷ node |");
console.log("|---|---|---|---|");
for (const c of [...new Set(rows.map((r) => r.clients))]) {
  const a = rows.find((r) => r.clients === c && r.label === "confab");
  const b = rows.find((r) => r.clients === c && r.label === "node");
  if (!a || !b) continue;
  console.log(`| ${c} | ${f(b.cpu_us_per_offer / a.cpu_us_per_offer)}× | ${f(b.rss_after_mib / a.rss_after_mib)}× | ${f(a.join_p99_ms / b.join_p99_ms, 2)}× |`);
}

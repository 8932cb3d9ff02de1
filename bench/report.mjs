// Turns the benchmark's JSON lines into a Markdown table with confab/node ratios per size.
import { readFileSync } from "node:fs";

const rows = readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "—");
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

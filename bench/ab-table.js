#!/usr/bin/env node
// ab-table.js RESULTS.jsonl [A-label B-label]: the medians of bench/ab.sh's
// runs per workload and build, side by side, with B/A.
'use strict';
const fs = require('fs');
const [file, aLabel = 'A', bLabel = 'B'] = process.argv.slice(2);
const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const metrics = {
  hot: [['committed ops/s', 'ops_per_sec', true], ['ack p50 ms', 'ack_p50_ms'], ['ack p99 ms', 'ack_p99_ms']],
  steady50: [['ack p50 ms', 'ack_p50_ms'], ['ack p99 ms', 'ack_p99_ms'], ['remote apply p99 ms', 'remote_p99_ms']],
  presence: [['presence p50 ms', 'presence_p50_ms'], ['presence p99 ms', 'presence_p99_ms'], ['presence delivered/s', 'presence_delivered_per_sec', true]],
};
const fmt = (x) => (Number.isNaN(x) ? 'n/a' : x >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(2));
console.log(`| workload | figure | ${aLabel}: median (runs) | ${bLabel}: median (runs) | B/A |`);
console.log('|---|---|---|---|---|');
for (const w of Object.keys(metrics)) {
  const a = rows.filter((r) => r.workload === w && r.build === 'a');
  const b = rows.filter((r) => r.workload === w && r.build === 'b');
  if (a.length + b.length === 0) continue;
  for (const [label, key] of metrics[w]) {
    const ma = median(a.map((r) => r[key]));
    const mb = median(b.map((r) => r[key]));
    const runs = (xs) => xs.map((r) => fmt(r[key])).join(', ');
    console.log(`| ${w} | ${label} | ${fmt(ma)} (${runs(a)}) | ${fmt(mb)} (${runs(b)}) | ${(mb / ma).toFixed(3)} |`);
  }
}
const loads = rows.map((r) => r.load1).filter((x) => typeof x === 'number');
if (loads.length) console.log(`\nload average (1 min) at the runs: ${Math.min(...loads)} to ${Math.max(...loads)}`);

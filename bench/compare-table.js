'use strict';
// compare-table.js results.jsonl: medians per workload and system, side by
// side, with Tandem/ShareDB ratios (for latencies ShareDB/Tandem, so that a
// ratio above 1 always means Tandem is better).
const fs = require('fs');

const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!s.length) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const metrics = [
  ['ops_per_sec', 'committed ops/s', 'higher'],
  ['ack_p50_ms', 'ack p50 ms', 'lower'],
  ['ack_p99_ms', 'ack p99 ms', 'lower'],
  ['remote_p50_ms', 'remote apply p50 ms', 'lower'],
  ['remote_p99_ms', 'remote apply p99 ms', 'lower'],
  ['presence_p50_ms', 'presence p50 ms', 'lower'],
  ['presence_p99_ms', 'presence p99 ms', 'lower'],
  ['presence_delivered_per_sec', 'presence delivered/s', 'higher'],
  ['server_cpu_cores', 'server CPU (cores)', 'lower'],
  ['server_peak_rss_bytes', 'server peak RSS MiB', 'lower'],
];
const fmt = (k, v) => {
  if (v === undefined) return '-';
  if (k === 'server_peak_rss_bytes') return (v / 1048576).toFixed(1);
  if (k === 'server_cpu_cores') return v.toFixed(2);
  return v >= 100 ? v.toFixed(0) : v.toFixed(2);
};
const workloads = [...new Set(lines.map((l) => l.workload))];
const rows = [['workload', 'metric', 'tandem', 'sharedb', 'tandem advantage']];
for (const w of workloads) {
  const of = (sys) => lines.filter((l) => l.workload === w && l.system === sys);
  const t = of('tandem');
  const s = of('sharedb');
  const runs = `${t.length}+${s.length} runs`;
  rows.push([w, `(medians, ${runs}; unsettled ShareDB runs: ${s.filter((l) => l.unsettled).length})`, '', '', '']);
  for (const [k, label, better] of metrics) {
    const a = median(t.map((l) => l[k]));
    const b = median(s.map((l) => l[k]));
    if (a === undefined && b === undefined) continue;
    let ratio = '-';
    if (a !== undefined && b !== undefined && a > 0 && b > 0) {
      ratio = `${(better === 'higher' ? a / b : b / a).toFixed(1)}x`;
    }
    rows.push(['', label, fmt(k, a), fmt(k, b), ratio]);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
for (const r of rows) console.log(r.map((x, i) => String(x).padEnd(widths[i])).join('  ').trimEnd());

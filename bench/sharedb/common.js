'use strict';
// Pieces shared by the ShareDB server and driver: flag parsing, the clock and
// stamps carried by ops and presence, percentiles, /proc sampling of the
// server process, and the result line (same keys as cmd/tandem-bench).
const fs = require('fs');

// args parses --name value and --name=value over defaults; unknown names fail.
function args(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    let k = argv[i];
    if (!k.startsWith('-')) throw new Error(`unexpected argument ${k}`);
    k = k.replace(/^--?/, '');
    let v;
    const eq = k.indexOf('=');
    if (eq >= 0) {
      v = k.slice(eq + 1);
      k = k.slice(0, eq);
    } else {
      v = argv[++i];
    }
    if (!(k in defaults)) throw new Error(`unknown flag --${k} (have ${Object.keys(defaults).join(', ')})`);
    if (v === undefined) throw new Error(`flag --${k} needs a value`);
    out[k] = v;
  }
  return out;
}

// The clock: microseconds since the driver started, from one monotonic clock
// shared by every simulated client in the process.
const base = process.hrtime.bigint();
function nowUs() {
  return Number((process.hrtime.bigint() - base) / 1000n);
}

// A stamp in an op is the insert "{<base-36 µs>}", as in cmd/tandem-bench.
function stampText(t) {
  return `{${t.toString(36)}}`;
}

function stampsIn(s, fn) {
  let i = 0;
  for (;;) {
    const open = s.indexOf('{', i);
    if (open < 0) return;
    const close = s.indexOf('}', open + 1);
    if (close < 0) return;
    const inner = s.indexOf('{', open + 1);
    if (inner >= 0 && inner < close) {
      i = inner;
      continue;
    }
    const body = s.slice(open + 1, close);
    if (body.length > 0 && /^[0-9a-z]+$/.test(body)) fn(parseInt(body, 36));
    i = close + 1;
  }
}

// Code point length and the UTF-16 offset of a code point position.
function cpLen(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}
function utf16Offset(s, pos) {
  let i = 0;
  while (pos > 0 && i < s.length) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
    pos--;
  }
  return i;
}

// stampBoundary moves a code point position out of a stamp (see stamp.go).
function stampBoundary(text, pos) {
  const b = utf16Offset(text, pos);
  const before = text.slice(0, b);
  const open = before.lastIndexOf('{');
  if (open < 0 || before.lastIndexOf('}') > open) return pos;
  const close = text.indexOf('}', b);
  if (close < 0) return pos;
  return pos + cpLen(text.slice(b, close)) + 1;
}

// An ot-text-unicode op doing c at code point pos.
function opAt(pos, c) {
  return pos > 0 ? [pos, c] : [c];
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.min(sorted.length, Math.ceil(p * sorted.length - 1e-9)));
  return sorted[rank - 1];
}

// summarize takes latencies in µs and returns quantiles in ms.
function summarize(l) {
  const s = Float64Array.from(l).sort();
  const ms = (x) => Math.round(x) / 1000;
  return {
    n: s.length,
    p50: ms(percentile(s, 0.5)),
    p90: ms(percentile(s, 0.9)),
    p95: ms(percentile(s, 0.95)),
    p99: ms(percentile(s, 0.99)),
    max: ms(s.length ? s[s.length - 1] : 0),
  };
}

const USER_HZ = 100;
function readProc(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/);
  const cpu = (Number(f[11]) + Number(f[12])) / USER_HZ;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => {
    const m = status.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'));
    if (!m) throw new Error(`/proc/${pid}/status: no ${k}`);
    return Number(m[1]) * 1024;
  };
  return { at: Date.now(), cpu, rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

function usage(a, b) {
  const cpu = b.cpu - a.cpu;
  return {
    server_cpu_s: Math.round(cpu * 100) / 100,
    server_cpu_cores: cpu / ((b.at - a.at) / 1000),
    server_rss_bytes: b.rss,
    server_peak_rss_bytes: b.hwm,
  };
}

function table(r) {
  const rows = [
    ['scenario', `${r.scenario} (${r.system})`],
    ['server', r.url],
    [r.docs ? 'documents' : 'document', r.docs || r.doc],
    ['clients', r.clients],
  ];
  if (r.rate_per_client) rows.push(['offered', `${r.rate_per_client} ops/s per client (${r.offered_ops_per_sec} ops/s in all)`]);
  if (r.presence_hz) rows.push(['caret moves', `${r.presence_hz} Hz per client`]);
  rows.push(['duration', `${r.duration_s.toFixed(1)} s`]);
  rows.push(['committed ops', `${r.committed_ops} (${r.ops_per_sec.toFixed(0)} ops/s)`]);
  rows.push(['ack latency', `p50 ${r.ack_p50_ms} ms   p95 ${r.ack_p95_ms} ms   p99 ${r.ack_p99_ms} ms   max ${r.ack_max_ms} ms`]);
  if (r.remote_samples) rows.push(['remote apply', `p50 ${r.remote_p50_ms} ms   p95 ${r.remote_p95_ms} ms   p99 ${r.remote_p99_ms} ms   max ${r.remote_max_ms} ms   (${r.remote_samples} samples)`]);
  if (r.presence_sent) {
    rows.push(['presence', `p50 ${r.presence_p50_ms} ms   p95 ${r.presence_p95_ms} ms   p99 ${r.presence_p99_ms} ms   max ${r.presence_max_ms} ms`]);
    rows.push(['presence updates', `${r.presence_sent} sent, ${Math.round(r.presence_delivered_per_sec)}/s delivered (${r.presence_samples} samples)`]);
  }
  if (r.server_cpu_s !== undefined) {
    rows.push(['server CPU', `${r.server_cpu_s} s (${r.server_cpu_cores.toFixed(2)} cores)`]);
    rows.push(['server RSS', `${(r.server_rss_bytes / 1048576).toFixed(1)} MiB now, ${(r.server_peak_rss_bytes / 1048576).toFixed(1)} MiB peak`]);
  }
  if (r.client_lag_s) rows.push(['load generator lag', `${r.client_lag_s.toFixed(2)} s behind schedule at worst`]);
  rows.push(['errors', r.errors]);
  rows.push(['converged', r.converged ? `yes (v${r.final_version}, ${r.final_len} code points)` : r.diverged ? 'NO' : 'not checked']);
  const w = Math.max(...rows.map((x) => x[0].length)) + 2;
  return rows.map(([k, v]) => k.padEnd(w) + v).join('\n');
}

module.exports = { args, nowUs, stampText, stampsIn, cpLen, utf16Offset, stampBoundary, opAt, summarize, percentile, readProc, usage, table };

'use strict';
// Load generator for ShareDB: the hot, steady and presence workloads of
// cmd/tandem-bench, driven the same way (one process, one WebSocket per
// simulated client, stamps carried in inserted text and in presence values),
// printing one JSON line with the same keys and a table.
//
//   node driver.js --scenario hot --url ws://127.0.0.1:18090 --clients 20 --duration 10s --server-pid PID
const WebSocket = require('ws');
const { Connection } = require('sharedb/lib/client');
const { type } = require('./type');
const c = require('./common');

const COLLECTION = 'bench';
const MAX_LEN = 1000; // as steadyMaxLen in cmd/tandem-bench

function parseDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(s);
  if (!m) throw new Error(`bad duration ${s}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}

// A small deterministic PRNG (mulberry32), so runs with one seed repeat.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('error', reject);
    ws.on('open', () => {
      ws.removeListener('error', reject);
      ws.on('error', () => {});
      resolve(new Connection(ws));
    });
  });
}

const cb = (f) => new Promise((resolve, reject) => f((err, x) => (err ? reject(err) : resolve(x))));

async function createDoc(url, id, content) {
  const conn = await connect(url);
  const doc = conn.get(COLLECTION, id);
  await cb((k) => doc.fetch(k));
  // sharedb-postgres reads an empty text snapshot back as no data at all:
  // documents are always created with content.
  if (!doc.type) await cb((k) => doc.create(content || 'bench ', type.uri, k));
  conn.close();
}

// Typing ops like benchOp in cmd/tandem-bench/hot.go.
const PIECES = ['a', 'e', 't', ' ', 'é', '😀', '\n', 'xy', 'ok'];
function benchOp(r, text) {
  const n = c.cpLen(text);
  const pos = Math.floor(r() * (n + 1));
  const delChance = n > MAX_LEN ? 1 : 4; // hotMaxLen in cmd/tandem-bench
  if (pos < n && Math.floor(r() * delChance) === 0) {
    return c.opAt(pos, { d: 1 + Math.floor(r() * Math.min(8, n - pos)) });
  }
  let s = '';
  for (let k = 1 + Math.floor(r() * 3); k > 0; k--) s += PIECES[Math.floor(r() * PIECES.length)];
  return c.opAt(pos, s);
}

// Stamped ops like stampOp in cmd/tandem-bench/stamp.go.
function stampOp(r, text, t) {
  const n = c.cpLen(text);
  if (n > MAX_LEN && r() < 0.5) {
    const pos = Math.floor(r() * n);
    return c.opAt(pos, { d: Math.min(10 + Math.floor(r() * 31), n - pos) });
  }
  const pos = c.stampBoundary(text, Math.floor(r() * (n + 1)));
  return c.opAt(pos, c.stampText(t));
}

async function openClients(a, ids, withPresence) {
  const clients = [];
  for (let i = 0; i < a.clients; i++) {
    const conn = await connect(a.url);
    const id = ids[i % ids.length];
    const doc = conn.get(COLLECTION, id);
    await cb((k) => doc.subscribe(k));
    const cl = { i, conn, doc, ack: [], remote: [], presence: [], lastSeen: new Map(), committed: 0, errors: 0 };
    doc.on('op', (op, source) => {
      if (source) return;
      const t = c.nowUs();
      for (const comp of op) if (typeof comp === 'string') c.stampsIn(comp, (at) => cl.remote.push(t - at));
    });
    doc.on('error', () => cl.errors++);
    // Local presence waits for pending ops with one listener per submit.
    doc.setMaxListeners(0);
    if (withPresence) {
      const pres = conn.getDocPresence(COLLECTION, id);
      await cb((k) => pres.subscribe(k));
      pres.on('receive', (pid, value) => {
        if (!value || typeof value.t !== 'number') return;
        if (value.t <= (cl.lastSeen.get(pid) || -1)) return;
        cl.lastSeen.set(pid, value.t);
        cl.presence.push(c.nowUs() - value.t);
      });
      cl.local = pres.create();
    }
    clients.push(cl);
  }
  return clients;
}

function submit(cl, op) {
  const t0 = c.nowUs();
  return new Promise((resolve) => {
    try {
      cl.doc.submitOp(op, { source: true }, (err) => {
        if (err) cl.errors++;
        else {
          cl.ack.push(c.nowUs() - t0);
          // Acks that come in while the run settles are latencies, not throughput.
          if (Date.now() <= cl.end) cl.committed++;
        }
        resolve();
      });
    } catch (err) {
      cl.errors++;
      resolve();
    }
  });
}

// schedule calls fn at rate per second from start (plus phase) until end,
// keeping to the schedule (open loop) and recording the worst lateness.
function schedule(start, end, rate, phase, lag, fn) {
  const period = 1000 / rate;
  let next = start + phase * period;
  return new Promise((resolve) => {
    const tick = () => {
      const now = Date.now();
      if (next >= end) return resolve();
      if (now >= next) {
        lag.max = Math.max(lag.max, now - next);
        fn();
        next += period;
      }
      setTimeout(tick, Math.max(0, next - Date.now()));
    };
    tick();
  });
}

async function settle(clients, limitMs) {
  // A saturated server may still owe acks for minutes; past limitMs the run
  // is reported as not checked rather than waited for.
  const pendingDone = Promise.all(clients.map((cl) => new Promise((resolve) => cl.doc.whenNothingPending(resolve))));
  const timedOut = await Promise.race([pendingDone.then(() => false), new Promise((r) => setTimeout(() => r(true), limitMs))]);
  if (timedOut) return { converged: false, checked: false, finalVersion: 0, finalLen: 0 };
  // Wait until everyone on a document holds the same version, then compare.
  const deadline = Date.now() + 30000;
  const byDoc = new Map();
  for (const cl of clients) {
    if (!byDoc.has(cl.doc.id)) byDoc.set(cl.doc.id, []);
    byDoc.get(cl.doc.id).push(cl);
  }
  let converged = true;
  let finalVersion = 0;
  let finalLen = 0;
  for (const group of byDoc.values()) {
    for (;;) {
      const top = Math.max(...group.map((cl) => cl.doc.version));
      if (group.every((cl) => cl.doc.version === top)) break;
      if (Date.now() > deadline) return { converged: false, checked: false, finalVersion: 0, finalLen: 0 };
      await new Promise((r) => setTimeout(r, 20));
    }
    const want = group[0].doc.data;
    if (!group.every((cl) => cl.doc.data === want)) converged = false;
    finalVersion += group[0].doc.version;
    finalLen += c.cpLen(want);
  }
  return { converged, checked: true, finalVersion, finalLen };
}

async function main() {
  const a = c.args(process.argv.slice(2), {
    scenario: 'hot',
    url: 'ws://127.0.0.1:18090',
    clients: '20',
    duration: '10s',
    rate: '5',
    docs: '1',
    hz: '20',
    doc: '',
    content: 'hello bench ',
    seed: String(Date.now() & 0xffffffff),
    'server-pid': '0',
    'settle-timeout': '60s',
  });
  a.clients = Number(a.clients);
  const dur = parseDuration(a.duration);
  const seed = Number(a.seed);
  const scenario = a.scenario;
  if (!['hot', 'steady', 'presence'].includes(scenario)) throw new Error(`unknown scenario ${scenario}`);
  const nDocs = scenario === 'steady' ? Math.max(1, Number(a.docs)) : 1;
  const base = a.doc || `bench-${Date.now()}-${process.pid}`;
  const ids = nDocs === 1 ? [base] : Array.from({ length: nDocs }, (_, k) => `${base}-${k}`);
  for (const id of ids) await createDoc(a.url, id, a.content);
  const withPresence = scenario === 'presence';
  const clients = await openClients(a, ids, withPresence);
  const pid = Number(a['server-pid']);
  const before = pid ? c.readProc(pid) : null;
  const start = Date.now();
  const end = start + dur;
  for (const cl of clients) cl.end = end;
  const lag = { max: 0 };
  let presenceSent = 0;
  const rate = scenario === 'hot' ? 0 : Number(a.rate);
  const hz = withPresence ? Number(a.hz) : 0;

  const loops = clients.map(async (cl) => {
    const r = rng(seed + cl.i * 7919);
    if (scenario === 'hot') {
      while (Date.now() < end) await submit(cl, benchOp(r, cl.doc.data));
      return;
    }
    const jobs = [];
    if (rate > 0) {
      jobs.push(schedule(start, end, rate, r(), lag, () => {
        submit(cl, stampOp(r, cl.doc.data, c.nowUs()));
      }));
    }
    if (hz > 0) {
      jobs.push(schedule(start, end, hz, r(), lag, () => {
        const pos = Math.floor(r() * (c.cpLen(cl.doc.data) + 1));
        cl.local.submit({ t: c.nowUs(), c: pos }, (err) => { if (err) cl.errors++; });
        presenceSent++;
      }));
    }
    await Promise.all(jobs);
  });
  await Promise.all(loops);
  const elapsed = (Date.now() - start) / 1000;
  const conv = await settle(clients, parseDuration(a['settle-timeout']));
  const after = pid ? c.readProc(pid) : null;

  const all = (k) => clients.flatMap((cl) => cl[k]);
  const ack = c.summarize(all('ack'));
  const remote = c.summarize(all('remote'));
  const pres = c.summarize(all('presence'));
  const committed = clients.reduce((s, cl) => s + cl.committed, 0);
  const res = {
    scenario, system: 'sharedb', url: a.url,
    ...(nDocs === 1 ? { doc: base } : { docs: nDocs }),
    clients: a.clients,
    ...(rate ? { rate_per_client: rate, offered_ops_per_sec: rate * a.clients } : {}),
    ...(hz ? { presence_hz: hz } : {}),
    duration_s: elapsed, committed_ops: committed, ops_per_sec: committed / elapsed,
    ack_p50_ms: ack.p50, ack_p90_ms: ack.p90, ack_p95_ms: ack.p95, ack_p99_ms: ack.p99, ack_max_ms: ack.max,
    ...(remote.n ? { remote_samples: remote.n, remote_p50_ms: remote.p50, remote_p95_ms: remote.p95, remote_p99_ms: remote.p99, remote_max_ms: remote.max } : {}),
    ...(hz ? {
      presence_sent: presenceSent, presence_samples: pres.n, presence_delivered_per_sec: pres.n / elapsed,
      presence_p50_ms: pres.p50, presence_p95_ms: pres.p95, presence_p99_ms: pres.p99, presence_max_ms: pres.max,
    } : {}),
    ...(lag.max > 0 ? { client_lag_s: lag.max / 1000 } : {}),
    ...(pid ? c.usage(before, after) : {}),
    errors: clients.reduce((s, cl) => s + cl.errors, 0),
    final_version: conv.finalVersion, final_len: conv.finalLen,
    converged: conv.converged, ...(conv.checked && !conv.converged ? { diverged: true } : {}),
    ...(conv.checked ? {} : { unsettled: true }),
  };
  process.stdout.write(JSON.stringify(res) + '\n' + c.table(res) + '\n');
  for (const cl of clients) cl.conn.close();
  process.exit(conv.checked && !conv.converged ? 1 : 0);
}

main().catch((err) => {
  console.error('sharedb driver:', err);
  process.exit(1);
});

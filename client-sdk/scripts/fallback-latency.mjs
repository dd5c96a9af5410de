// Measures, against a running server, the latency of one edit over a WebSocket and over
// the HTTP fallback (docs/protocol.md, section 17): from the local insert to its ack, and
// to its arrival at a second client on a WebSocket. Build the SDK first (npm run build):
//
//   node scripts/fallback-latency.mjs ws://127.0.0.1:8080/v1/ws http://127.0.0.1:8080 "$PWD/dist"
const [wsUrl, httpBase, dist] = process.argv.slice(2);
const { Connection } = await import(`${dist}/index.js`);
const { default: WebSocket } = await import(`${dist}/../node_modules/ws/index.js`);
class Blocked extends WebSocket { constructor(u, p, o) { super('ws://127.0.0.1:9/v1/ws', p, o); } }
const N = 200;
async function run(label, WS, fallback, id) {
  await fetch(`${httpBase}/v1/docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, content: '' }) });
  const a = new Connection({ url: wsUrl, WebSocket: WS, storage: null, fallback, reconnect: { initialDelayMs: 10 } });
  const b = new Connection({ url: wsUrl, WebSocket, storage: null, fallback: false });
  const da = a.openDoc(id, { undoCaptureMs: 0 });
  const db = b.openDoc(id, { undoCaptureMs: 0 });
  await Promise.all([da.ready, db.ready]);
  const acks = [], deliveries = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const len = db.length;
    const acked = new Promise((r) => da.once('ack', r));
    const seen = new Promise((r) => { const off = db.on('change', () => { if (db.length > len) { off(); r(); } }); });
    da.insert(da.length, 'x');
    await acked; acks.push(performance.now() - t0);
    await seen; deliveries.push(performance.now() - t0);
  }
  const q = (xs, p) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(p * (s.length - 1))].toFixed(2); };
  console.log(`${label} (transport ${a.transport}): ack p50 ${q(acks, 0.5)} ms p95 ${q(acks, 0.95)} ms; delivery to a WebSocket peer p50 ${q(deliveries, 0.5)} ms p95 ${q(deliveries, 0.95)} ms; n=${N}`);
  a.destroy(); b.destroy();
}
await run('WebSocket', WebSocket, false, 'lat-ws-' + Date.now());
await run('HTTP fallback', Blocked, { after: 1, probeIntervalMs: 3600000 }, 'lat-http-' + Date.now());
process.exit(0);

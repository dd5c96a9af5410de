// The hot scenario for each document type side by side, against a running server: N SDK
// clients on one document, each with one op outstanding (insert, wait for the ack, insert
// the next), for a fixed time; text and rich alternate so that both see the same machine.
// Rich inserts carry a bold attribute every other time and every tenth op bolds the
// character before instead, so the rich run transforms attributes too. Build the SDK first
// (npm run build):
//
//   node scripts/hot-types.mjs ws://127.0.0.1:8080/v1/ws http://127.0.0.1:8080 "$PWD/dist" [clients] [seconds] [rounds] [server-pid]
//
// Prints one line per run: committed ops, ops/s, ack p50/p99, and the server's CPU (cores)
// when its pid is given.
import { readFileSync } from 'node:fs';

const [wsUrl, httpBase, dist, clientsArg = '20', secondsArg = '10', roundsArg = '2', pidArg] = process.argv.slice(2);
const { Connection } = await import(`${dist}/index.js`);
const { default: WebSocket } = await import(`${dist}/../node_modules/ws/index.js`);
const CLIENTS = Number(clientsArg);
const SECONDS = Number(secondsArg);
const ROUNDS = Number(roundsArg);

/** CPU seconds (user + system) of process pid, from /proc. */
function cpuSeconds(pid) {
  if (pid === undefined) return NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

const q = (xs, p) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function run(type, round) {
  const id = `hot-${type}-${round}-${Date.now()}`;
  const res = await fetch(`${httpBase}/v1/docs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(type === 'rich' ? { id, type: 'rich' } : { id, content: '' }),
  });
  if (!res.ok) throw new Error(`create ${type} document: ${res.status} ${await res.text()}`);
  const conns = [];
  const docs = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = new Connection({ url: wsUrl, WebSocket, storage: null, fallback: false });
    conns.push(c);
    docs.push(type === 'rich' ? c.openRich(id, { undoCaptureMs: 0 }) : c.openDoc(id, { undoCaptureMs: 0 }));
  }
  await Promise.all(docs.map((d) => d.ready));
  const acks = [];
  let committed = 0;
  let failed = 0;
  const cpu0 = cpuSeconds(pidArg);
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(
    docs.map(async (d, i) => {
      let n = 0;
      while (performance.now() < end) {
        const len = type === 'rich' ? d.length - 1 : d.length; // a rich document ends with its "\n"
        const pos = Math.floor(Math.random() * (len + 1));
        const s = performance.now();
        try {
          if (type === 'rich' && n % 10 === 9 && pos > 0) d.format(pos - 1, 1, { bold: true });
          else if (type === 'rich') d.insert(pos, String.fromCharCode(97 + (i % 26)), n % 2 === 0 ? { bold: true } : undefined);
          else d.insert(pos, String.fromCharCode(97 + (i % 26)));
          await d.whenSynced();
          acks.push(performance.now() - s);
          committed++;
        } catch (e) {
          failed++;
          if (failed < 5) console.error(`client ${i}: ${e}`);
        }
        n++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cores = (cpuSeconds(pidArg) - cpu0) / wall;
  const v = docs[0].version;
  // Every client ends on the same content.
  await new Promise((r) => setTimeout(r, 300));
  const first = JSON.stringify(docs[0].content);
  const diverged = docs.filter((d) => JSON.stringify(d.content) !== first).length;
  console.log(
    `${type.padEnd(4)} round ${round}: ${committed} ops committed in ${wall.toFixed(1)} s = ${(committed / wall).toFixed(0)} ops/s; ` +
      `ack p50 ${q(acks, 0.5).toFixed(2)} ms p99 ${q(acks, 0.99).toFixed(2)} ms; server ${Number.isNaN(cores) ? '?' : cores.toFixed(2)} cores; ` +
      `doc at v${v}; failed ${failed}; clients not converged ${diverged}`,
  );
  for (const c of conns) c.destroy();
}

for (let r = 1; r <= ROUNDS; r++) {
  await run('text', r);
  await run('rich', r);
}
process.exit(0);

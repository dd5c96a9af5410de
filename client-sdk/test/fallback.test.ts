/**
 * The HTTP fallback (docs/protocol.md, section 17) against the real server:
 * a client whose WebSockets cannot open switches to Server-Sent Events and
 * POSTs after `fallback.after` failures, collaborates with a WebSocket client
 * (text converges both ways, carets are seen both ways, every op lands
 * exactly once), and goes back to WebSockets when they open again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Connection, type TextDoc } from '../src/index.js';
import type { WebSocketConstructor } from '../src/connection.js';
import { retryAfterMs, type FetchLike } from '../src/transport/http-socket.js';
import { cleanBuild, createDoc, freshSchema, startServer, storedOps, type TandemProcess, type TestSchema } from './helpers/tandem-server.js';

let schema: TestSchema;
let server: TandemProcess;

beforeAll(async () => {
  schema = await freshSchema();
  server = await startServer(schema.url);
});

afterAll(async () => {
  for (const c of conns) c.destroy();
  await server?.stop();
  await schema?.drop();
  await cleanBuild();
});

const conns: Connection[] = [];

/** A WebSocket class that, while `blocked.on`, connects nowhere (as a proxy killing the upgrade). */
function blockable(blocked: { on: boolean }): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: object) {
      super(blocked.on ? 'ws://127.0.0.1:9/v1/ws' : url, protocols, options);
    }
  } as unknown as WebSocketConstructor;
}

function client(name: string, WS: WebSocketConstructor, fallback: { after?: number; probeIntervalMs?: number } | false, on = server, fetch?: FetchLike): Connection {
  const conn = new Connection({
    url: on.ws,
    ...(fetch !== undefined ? { fetch } : {}),
    WebSocket: WS,
    storage: null,
    user: { name, color: '#3f51b5' },
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    fallback,
    idleTimeoutMs: 10_000,
  });
  conns.push(conn);
  return conn;
}

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const caretOf = (doc: TextDoc, sid: string) => doc.presence.getPeer(sid)?.selection ?? null;

describe('HTTP fallback', () => {
  it('collaborates without WebSockets: converges both ways, carets both ways, exactly once; back to WebSockets when they open', async () => {
    await createDoc(server, 'fallback-1', 'hello\n');
    const blocked = { on: true };
    const a = client('Ann', blockable(blocked), { after: 2, probeIntervalMs: 200 });
    const transports: string[] = [];
    a.on('transport', ({ transport }) => transports.push(transport));
    // The probe must not switch back before the test lets it.
    const b = client('Bob', WebSocket as unknown as WebSocketConstructor, false);
    const da = a.openDoc('fallback-1', { undoCaptureMs: 0, presenceThrottleMs: 10 });
    const db = b.openDoc('fallback-1', { undoCaptureMs: 0, presenceThrottleMs: 10 });
    await Promise.all([da.ready, db.ready]);
    expect(a.transport).toBe('http');
    expect(transports).toEqual(['http']);

    // Both type, concurrently, many small edits.
    for (let i = 0; i < 20; i++) {
      da.insert(0, 'a');
      db.insert(db.length, 'b');
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await until('convergence', () => da.text === db.text && !da.hasPendingOps && !db.hasPendingOps);
    expect(da.text).toBe('a'.repeat(20) + 'hello\n' + 'b'.repeat(20));

    // Carets both ways.
    da.presence.setSelection([[3, 3]]);
    db.presence.setSelection([[10, 12]]);
    await until('carets', () => JSON.stringify(caretOf(db, a.sid)) === '[[3,3]]' && JSON.stringify(caretOf(da, b.sid)) === '[[10,12]]');
    const ann = db.presence.getPeer(a.sid);
    expect(ann?.user.name).toBe('Ann');

    // A caret moved by its own edit travels with the op.
    da.presence.setSelection([[0, 0]]);
    await until('caret at 0', () => JSON.stringify(caretOf(db, a.sid)) === '[[0,0]]');
    da.insert(0, 'XY');
    await until('caret after the insert', () => JSON.stringify(caretOf(db, a.sid)) === '[[2,2]]' && db.text.startsWith('XY'));

    // WebSockets pass again: the probe switches back, and editing goes on.
    blocked.on = false;
    await until('back to WebSockets', () => a.transport === 'websocket' && a.online);
    expect(transports).toEqual(['http', 'websocket']);
    da.insert(0, '!');
    await until('convergence after the switch', () => da.text === db.text && da.text.startsWith('!XY') && !da.hasPendingOps);

    // Exactly once: every (sid, seq) once in the log, and as many ops as edits.
    const { ops } = await storedOps(schema, 'fallback-1');
    const keys = ops.map((o) => `${o.sid}:${o.seq}`);
    expect(new Set(keys).size).toBe(keys.length);
    const text = ops.reduce((n, o) => n + (o.op as unknown[]).filter((c) => typeof c === 'string').join('').length, 0);
    expect(text).toBe(20 + 20 + 2 + 1);
  });

  it('a client that never had WebSockets opens a document over HTTP and sees later edits', async () => {
    await createDoc(server, 'fallback-2', 'x');
    const a = client('Cid', blockable({ on: true }), { after: 1, probeIntervalMs: 60_000 });
    const da = a.openDoc('fallback-2', { undoCaptureMs: 0 });
    await da.ready;
    expect(a.transport).toBe('http');
    expect(da.text).toBe('x');
    const b = client('Dee', WebSocket as unknown as WebSocketConstructor, false);
    const db = b.openDoc('fallback-2', { undoCaptureMs: 0 });
    await db.ready;
    db.insert(1, 'yz');
    await until('the edit over SSE', () => da.text === 'xyz');
    expect(a.user?.name).toBe('Cid');
  });

  it('honours a 429: no request before its Retry-After, the op resent with its seq, exactly once', async () => {
    // A server whose REST limit the fallback passes at once: one request every 2 s (a Retry-After longer than the session's own 1 s pause before it resends), bursts of 4.
    const limited = await startServer(schema.url, { TANDEM_REST_RATE: '0.5', TANDEM_REST_BURST: '4' });
    try {
      await createDoc(limited, 'fallback-429', '');
      const log: { at: number; status: number; retryAfter: number | null; method: string }[] = [];
      const recording: FetchLike = async (input, init) => {
        const res = await fetch(input, init as RequestInit);
        log.push({ at: Date.now(), status: res.status, retryAfter: res.status === 429 ? retryAfterMs(res) : null, method: init?.method ?? 'GET' });
        return res as unknown as Awaited<ReturnType<FetchLike>>;
      };
      const a = client('Eve', blockable({ on: true }), { after: 1, probeIntervalMs: 60_000 }, limited, recording);
      const offline: (number | null)[] = [];
      a.on('offline', ({ retryInMs }) => offline.push(retryInMs));
      const da = a.openDoc('fallback-429', { undoCaptureMs: 0 });
      await da.ready;
      for (let i = 0; i < 12; i++) {
        da.insert(da.length, String(i % 10));
        await new Promise((r) => setTimeout(r, 20));
      }
      await until('every edit acknowledged', () => !da.hasPendingOps && da.text === '012345678901', 30_000);

      const refused = log.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThan(0); // the test reached the limit
      for (const r of refused) expect(r.retryAfter).toBeGreaterThanOrEqual(1000);
      // After each refused POST, no POST left before its Retry-After had passed.
      for (const r of refused.filter((x) => x.method === 'POST')) {
        const early = log.filter((x) => x.method === 'POST' && x.at > r.at && x.at < r.at + (r.retryAfter ?? 0) - 50);
        expect(early).toEqual([]);
      }
      // A stream refused with 429 made the connection wait at least its Retry-After.
      for (const r of refused.filter((x) => x.method === 'GET')) {
        expect(offline.some((ms) => ms !== null && ms >= (r.retryAfter ?? 0))).toBe(true);
      }
      const { ops } = await storedOps(schema, 'fallback-429');
      const keys = ops.map((o) => `${o.sid}:${o.seq}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(ops.reduce((n, o) => n + (o.op as unknown[]).filter((c) => typeof c === 'string').join('').length, 0)).toBe(12);
    } finally {
      for (const c of conns) c.destroy();
      await limited.stop();
    }
  });
});

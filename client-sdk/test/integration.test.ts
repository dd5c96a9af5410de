/**
 * The SDK against the real server binary on the Postgres store. The set-up
 * builds `./cmd/tandem`, gives the file a fresh schema and starts the server on
 * a loopback port; it fails (never skips) when Go or Postgres is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Connection, TandemError, type ConnectionError, type TextDoc, type TreeDoc } from '../src/index.js';
import type { TreeJSON } from '../src/tree/index.js';
import { apply, cpLength, validate, type Op } from '../src/ot/index.js';
import { rng } from './helpers/random.js';
import {
  cleanBuild,
  createDoc,
  createTreeDoc,
  FlakyProxy,
  freshSchema,
  signToken,
  startServer,
  storedOps,
  type TandemProcess,
  type TestSchema,
} from './helpers/tandem-server.js';

let schema: TestSchema;
let server: TandemProcess;

beforeAll(async () => {
  schema = await freshSchema();
  server = await startServer(schema.url);
});

afterAll(async () => {
  await server?.stop();
  await schema?.drop();
  await cleanBuild();
});

const SEED = Number(process.env.TANDEM_IT_SEED ?? Date.now() % 1_000_000);

interface Client {
  name: string;
  conn: Connection;
  doc: TextDoc;
  proxy: FlakyProxy | null;
  /** Every ack this client got: its `seq` and the version it was committed as. */
  acks: { seq: number; v: number }[];
}

const allConns: Connection[] = [];
afterAll(() => {
  for (const c of allConns) c.destroy();
});

async function client(name: string, docId: string, url: string, proxy: FlakyProxy | null = null): Promise<Client> {
  const conn = new Connection({
    url,
    WebSocket,
    storage: null,
    user: { name, color: '#3f51b5' },
    reconnect: { initialDelayMs: 20, maxDelayMs: 250, factor: 2 },
    idleTimeoutMs: 10_000,
  });
  allConns.push(conn);
  const doc = conn.openDoc(docId, { undoCaptureMs: 0, presenceThrottleMs: 10 });
  const acks: { seq: number; v: number }[] = [];
  doc.on('ack', (a) => acks.push(a));
  await doc.ready;
  return { name, conn, doc, proxy, acks };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits until every client is online, has nothing pending, and all hold the same version. */
async function converged(clients: Client[]): Promise<void> {
  await until(
    `convergence (${clients.map((c) => `${c.name}: ${c.conn.state}/${c.doc.status}@${c.doc.version}`).join(', ')})`,
    () => {
      const v = clients[0]?.doc.version;
      return clients.every((c) => c.doc.status === 'synced' && c.doc.version === v);
    },
    30_000,
  );
}

/** Reads the document as a newcomer would: a fresh client joining from scratch. */
async function readFresh(url: string, docId: string): Promise<{ text: string; v: number }> {
  const c = await client('reader', docId, url);
  const out = { text: c.doc.text, v: c.doc.version };
  c.conn.destroy();
  return out;
}

/** Checks the store's op log: every ack is there once, at its version, and replaying it gives `text`. */
async function checkStore(docId: string, clients: Client[], text: string, version: number): Promise<void> {
  const st = await storedOps(schema, docId);
  expect(st.version).toBe(version);
  expect(st.ops.map((o) => o.v)).toEqual([...Array(version).keys()]);
  const bySidSeq = new Map<string, number>();
  for (const o of st.ops) {
    const k = `${o.sid}/${o.seq}`;
    expect(bySidSeq.has(k), `(sid, seq) ${k} stored twice`).toBe(false);
    bySidSeq.set(k, o.v);
  }
  for (const c of clients) {
    for (const a of c.acks) {
      expect(bySidSeq.get(`${c.conn.sid}/${a.seq}`), `${c.name}'s acked seq ${a.seq} (v ${a.v}) in the store`).toBe(a.v);
    }
  }
  let replay = st.initial;
  for (const o of st.ops) {
    validate(o.op);
    replay = apply(replay, o.op as Op);
  }
  expect(replay).toBe(text);
}

// Astral characters (surrogate pairs in UTF-16), ZWJ sequences, flags, combining marks.
const PIECES = ['a', 'b', 'c', ' ', '\n', 'é', 'e\u0301', '😀', '👍🏽', '🇫🇷', '👩‍👩‍👧', '𠜎', '𝄞', 'Ω', '中'];

function randomPiece(r: () => number): string {
  let s = '';
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

describe(`integration: SDK against the real server on Postgres (seed ${SEED})`, () => {
  it('concurrent typists with random disconnects converge, and every acked edit is stored exactly once', async () => {
    const docId = `converge-${SEED}`;
    const initial = 'Hello 🌍 world\n';
    await createDoc(server, docId, initial);
    const clients: Client[] = [];
    for (let i = 0; i < 4; i++) {
      const proxy = await new FlakyProxy(server.addr).listen();
      clients.push(await client(`typist${i}`, docId, proxy.ws, proxy));
    }
    for (const c of clients) expect(c.doc.text).toBe(initial);

    await Promise.all(
      clients.map(async (c, i) => {
        const r = rng(SEED * 31 + i);
        for (let k = 0; k < 80; k++) {
          const len = c.doc.length;
          const x = r();
          if (x < 0.6 || len < 8) {
            c.doc.insert(Math.floor(r() * (len + 1)), randomPiece(r));
          } else if (x < 0.9) {
            const pos = Math.floor(r() * len);
            c.doc.delete(pos, Math.min(len - pos, 1 + Math.floor(r() * 3)));
          } else if (len > 0) {
            // A replacement: delete and insert in one op.
            const pos = Math.floor(r() * len);
            c.doc.submitOp([...(pos > 0 ? [pos] : []), randomPiece(r), -1]);
          }
          const d = r();
          if (d < 0.06) c.proxy?.drop();
          else if (d < 0.09) {
            // Offline for a while: edits queue up and go out after the reconnect.
            c.conn.close();
            c.doc.insert(0, `[off ${i}.${k} 😀]`);
            await sleep(20 + r() * 60);
            c.conn.connect();
          }
          c.doc.presence.setSelection([[Math.floor(r() * (c.doc.length + 1)), Math.floor(r() * (c.doc.length + 1))]]);
          await sleep(2 + r() * 12);
        }
      }),
    );
    await converged(clients);

    const text = clients[0]?.doc.text ?? '';
    const version = clients[0]?.doc.version ?? -1;
    for (const c of clients) expect(c.doc.text).toBe(text);
    expect(clients.reduce((n, c) => n + (c.proxy?.drops ?? 0), 0)).toBeGreaterThan(0);
    for (const c of clients) expect(c.acks.length, c.name).toBeGreaterThan(2);
    await checkStore(docId, clients, text, version);

    // What the store holds survives a crash: SIGKILL, restart, and read it as a newcomer.
    await server.stop('SIGKILL');
    server = await startServer(schema.url);
    const fresh = await readFresh(server.ws, docId);
    expect(fresh.v).toBe(version);
    expect(fresh.text).toBe(text);
    for (const c of clients) await c.proxy?.close();
    for (const c of clients) c.conn.destroy();
  });

  it('insert-only typists with disconnects: every acked insert is in the stored document exactly once', async () => {
    const docId = `inserts-${SEED}`;
    await createDoc(server, docId, '');
    const clients: Client[] = [];
    for (let i = 0; i < 3; i++) {
      const proxy = await new FlakyProxy(server.addr).listen();
      clients.push(await client(`writer${i}`, docId, proxy.ws, proxy));
    }
    const tokens: string[] = [];
    await Promise.all(
      clients.map(async (c, i) => {
        const r = rng(SEED * 7 + i);
        for (let k = 0; k < 40; k++) {
          const token = `«${i}:${k}${r() < 0.5 ? '😀' : '𠜎'}»`;
          // Insert only between tokens, so no token is ever split.
          const text = c.doc.text;
          const gaps = [0];
          for (let p = text.indexOf('»'); p >= 0; p = text.indexOf('»', p + 1)) gaps.push(cpLength(text.slice(0, p + 1)));
          c.doc.insert(gaps[Math.floor(r() * gaps.length)] ?? 0, token);
          tokens.push(token);
          if (r() < 0.08) c.proxy?.drop();
          await sleep(1 + r() * 8);
        }
      }),
    );
    await converged(clients);
    const text = clients[0]?.doc.text ?? '';
    const version = clients[0]?.doc.version ?? -1;
    for (const c of clients) expect(c.doc.text).toBe(text);
    await checkStore(docId, clients, text, version);
    const fresh = await readFresh(server.ws, docId);
    expect(fresh.text).toBe(text);
    // Synced means every local edit was acknowledged: each token is stored, once.
    expect(tokens).toHaveLength(3 * 40);
    for (const t of tokens) expect(fresh.text.split(t).length - 1, `token ${t} stored once`).toBe(1);
    expect(cpLength(fresh.text)).toBe(tokens.reduce((n, t) => n + cpLength(t), 0));
    for (const c of clients) await c.proxy?.close();
    for (const c of clients) c.conn.destroy();
  });

  it('emoji and surrogate pairs survive: code point positions, UTF-16 selections, storage', async () => {
    const docId = `unicode-${SEED}`;
    const initial = 'a😀b';
    await createDoc(server, docId, initial);
    const a = await client('alice', docId, server.ws);
    const b = await client('bob', docId, server.ws);
    expect(a.doc.length).toBe(3);
    // Code points: position 2 is after the emoji.
    a.doc.insert(2, '🇫🇷');
    b.doc.insert(1, '👩‍👩‍👧');
    await converged([a, b]);
    // Bob's insert at 1 (before the emoji) and Alice's at 2 (after it) do not conflict.
    expect(a.doc.text).toBe('a👩‍👩‍👧😀🇫🇷b');
    expect(b.doc.text).toBe(a.doc.text);
    // Editors count UTF-16: a caret right after the 😀 in Bob's editor is seen by Alice in code points.
    const utf16After = b.doc.text.indexOf('😀') + 2;
    b.doc.presence.setSelectionUtf16([[utf16After, utf16After]]);
    await until('bob\'s caret at alice', () => a.doc.presence.getPeer(b.conn.sid)?.selection?.[0]?.[0] === 1 + cpLength('👩‍👩‍👧') + 1);
    const seen = a.doc.presence.getPeer(b.conn.sid)?.selection ?? null;
    expect(a.doc.presence.toUtf16(seen)).toEqual([[utf16After, utf16After]]);
    // applyChangesUtf16 replaces the emoji (2 UTF-16 units) with a BMP character.
    const at = a.doc.text.indexOf('😀');
    a.doc.applyChangesUtf16([{ from: at, to: at + 2, insert: '☺' }]);
    b.doc.insert(b.doc.length, '𝄞\u0000𠜎');
    await converged([a, b]);
    const want = 'a👩‍👩‍👧☺🇫🇷b𝄞\u0000𠜎';
    expect(a.doc.text).toBe(want);
    expect(b.doc.text).toBe(want);
    // A lone surrogate never reaches the wire.
    expect(() => a.doc.insert(0, '\ud83d')).toThrow();
    await checkStore(docId, [a, b], want, a.doc.version);
    const fresh = await readFresh(server.ws, docId);
    expect(fresh.text).toBe(want);
    expect(cpLength(fresh.text)).toBe(a.doc.length);
    a.conn.destroy();
    b.conn.destroy();
  });

  it('presence: names, selections through concurrent edits, data, and leave', async () => {
    const docId = `presence-${SEED}`;
    await createDoc(server, docId, 'shared text');
    const a = await client('alice', docId, server.ws);
    const b = await client('bob', docId, server.ws);
    a.doc.presence.setSelection([[0, 6]]);
    a.doc.presence.setData({ cursor: { x: 10, y: 20 } });
    await until('alice at bob', () => {
      const p = b.doc.presence.getPeer(a.conn.sid);
      return p?.selection?.[0]?.[1] === 6 && p.data !== null;
    });
    const p = b.doc.presence.getPeer(a.conn.sid);
    expect(p?.user.name).toBe('alice');
    expect(p?.data).toEqual({ cursor: { x: 10, y: 20 } });
    // Bob types at the start of Alice's selection: an insert at a range's start goes
    // inside it (the caret rule), so it grows; he sees it at once, and so does Alice.
    b.doc.insert(0, '😀 ');
    expect(b.doc.presence.getPeer(a.conn.sid)?.selection).toEqual([[0, 8]]);
    await converged([a, b]);
    expect(a.doc.presence.localSelection).toEqual([[0, 8]]);
    const left = new Promise<string>((resolve) => b.doc.presence.on('leave', ({ peer }) => resolve(peer.user.name)));
    a.doc.close();
    expect(await left).toBe('alice');
    a.conn.destroy();
    b.conn.destroy();
  });

  it('offline edits are queued and sent on reconnect', async () => {
    const docId = `offline-${SEED}`;
    await createDoc(server, docId, '');
    const proxy = await new FlakyProxy(server.addr).listen();
    const a = await client('alice', docId, proxy.ws, proxy);
    const b = await client('bob', docId, server.ws);
    a.conn.close();
    expect(a.doc.status).toBe('offline');
    a.doc.insert(0, 'written offline 😀');
    a.doc.insert(a.doc.length, '!');
    b.doc.insert(0, 'online: ');
    await sleep(50);
    expect(b.doc.text).toBe('online: ');
    a.conn.connect();
    await converged([a, b]);
    expect(a.doc.text).toBe(b.doc.text);
    expect(b.doc.text).toContain('written offline 😀!');
    expect(b.doc.text).toContain('online: ');
    a.conn.destroy();
    b.conn.destroy();
    await proxy.close();
  });

  it('tokens: query and header transport, a provider called per connect, read-only and rejected tokens', async () => {
    const secret = 'integration-secret-0123456789abcdef';
    const authed = await startServer(schema.url, { TANDEM_AUTH_SECRET: secret });
    try {
      const admin = signToken(secret, { sub: 'admin', docs: { '*': 'rw' }, admin: true });
      const docId = `tok-${SEED}`;
      await expect(createDoc(authed, docId, 'no token')).rejects.toThrow(/401/);
      await createDoc(authed, docId, 'secret 😀', admin);
      let calls = 0;
      const writer = new Connection({
        url: authed.ws,
        WebSocket,
        storage: null,
        user: { name: 'proposed name', color: '#009688' },
        token: async () => {
          calls++;
          return signToken(secret, { sub: 'u-writer', name: 'Writer', docs: { 'tok-*': 'rw' } });
        },
      });
      allConns.push(writer);
      const w = writer.openDoc(docId);
      await w.ready;
      expect(w.mode).toBe('rw');
      expect(writer.user?.id).toBe('u-writer');
      expect(writer.user?.name).toBe('Writer'); // the token's name wins
      w.insert(0, '✍ ');
      writer.reconnectNow();
      await until('writer re-synced', () => w.status === 'synced' && w.version === 1);
      expect(calls).toBe(2);

      const reader = new Connection({
        url: authed.ws,
        WebSocket,
        storage: null,
        tokenTransport: 'header',
        token: signToken(secret, { sub: 'u-reader', docs: { [docId]: 'r' } }),
      });
      allConns.push(reader);
      const r = reader.openDoc(docId);
      await r.ready;
      expect(r.mode).toBe('r');
      expect(r.text).toBe('✍ secret 😀');
      expect(() => r.insert(0, 'x')).toThrow(TandemError);
      w.insert(w.length, '!');
      await until('reader sees the edit', () => r.text === '✍ secret 😀!');

      const errors: ConnectionError[] = [];
      const bad = new Connection({ url: authed.ws, WebSocket, storage: null, token: signToken('wrong secret', { sub: 'x', docs: { '*': 'rw' } }) });
      allConns.push(bad);
      bad.on('error', (e) => errors.push(e));
      const badDoc = bad.openDoc(docId);
      await expect(badDoc.ready).rejects.toMatchObject({ code: 'unauthorized' });
      expect(errors.map((e) => e.code)).toContain('unauthorized');
      expect(bad.state).toBe('closed'); // a fixed token that was refused is not retried
      bad.destroy();
    } finally {
      await authed.stop();
    }
  });

  it('a script edits, awaits whenSynced and leaves: every edit is stored', async () => {
    const docId = `script-${SEED}`;
    await createDoc(server, docId, 'start');
    const conn = new Connection({ url: server.ws, WebSocket, storage: null });
    allConns.push(conn);
    const doc = conn.openDoc(docId);
    await doc.ready;
    doc.insert(0, '> ');
    for (let i = 0; i < 20; i++) doc.insert(doc.length, ` ${i}`);
    await doc.whenSynced();
    expect(doc.hasPendingOps).toBe(false);
    conn.destroy();
    const st = await storedOps(schema, docId);
    let text = st.initial;
    for (const o of st.ops) text = apply(text, o.op as Op);
    expect(text).toBe(`> start${Array.from({ length: 20 }, (_, i) => ` ${i}`).join('')}`);
  });

  it('a wrong path or port rejects ready with the cause instead of waiting forever', async () => {
    const wrongPath = new Connection({ url: `${server.http.replace('http', 'ws')}/v1/wss`, WebSocket, storage: null, connectAttempts: 2, reconnect: { initialDelayMs: 20 } });
    allConns.push(wrongPath);
    await expect(wrongPath.openDoc('x').ready).rejects.toMatchObject({ code: 'unreachable', message: expect.stringContaining('HTTP 404') });
    const port = Number(server.addr.split(':')[1]);
    const wrongPort = new Connection({ url: `ws://127.0.0.1:${port === 1 ? 2 : 1}/v1/ws`, WebSocket, storage: null, connectAttempts: 2, reconnect: { initialDelayMs: 20 } });
    allConns.push(wrongPort);
    const errors: ConnectionError[] = [];
    wrongPort.on('error', (e) => errors.push(e));
    await expect(wrongPort.openDoc('x').ready).rejects.toBeInstanceOf(TandemError);
    expect(errors[0]?.errno).toBe('ECONNREFUSED');
  });

  it('the binary serves the demo page at /demo/<id>, with its assets', async () => {
    const page = await fetch(`${server.http}/demo/some-doc`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/demo\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) {
      const res = await fetch(`${server.http}${a}`);
      expect(res.status, a).toBe(200);
      expect(res.headers.get('content-type'), a).toMatch(a.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    }
  });

  it('undo removes only the own edits, through the others\' edits', async () => {
    const docId = `undo-${SEED}`;
    await createDoc(server, docId, 'base');
    const a = await client('alice', docId, server.ws);
    const b = await client('bob', docId, server.ws);
    a.doc.insert(4, ' alice😀');
    await converged([a, b]);
    b.doc.insert(0, 'bob ');
    b.doc.insert(b.doc.length, ' end');
    await converged([a, b]);
    expect(a.doc.text).toBe('bob base alice😀 end');
    expect(a.doc.undo()).toBe(true);
    await converged([a, b]);
    expect(b.doc.text).toBe('bob base end');
    expect(a.doc.redo()).toBe(true);
    await converged([a, b]);
    expect(b.doc.text).toBe('bob base alice😀 end');
    expect(b.doc.undo()).toBe(true); // bob's last step: " end"
    await converged([a, b]);
    expect(a.doc.text).toBe('bob base alice😀');
    a.conn.destroy();
    b.conn.destroy();
  });
});

// ---- tree documents ----

const BOARD: TreeJSON = {
  frame: { parent: '', key: 'a0', props: { kind: 'frame', x: 0, y: 0 } },
  note: { parent: 'frame', key: 'a0', props: { kind: 'note', text: 'shared note' } },
  box: { parent: '', key: 'a1', props: { kind: 'rect', x: 10, y: 10 } },
};

interface TreeClient {
  name: string;
  conn: Connection;
  doc: TreeDoc;
  proxy: FlakyProxy | null;
  acks: { seq: number; v: number }[];
  /** The ops the server refused (invalid_op and the like), with what they dropped. */
  refused: unknown[];
}

async function treeClient(name: string, docId: string, url: string, proxy: FlakyProxy | null = null): Promise<TreeClient> {
  const conn = new Connection({
    url,
    WebSocket,
    storage: null,
    user: { name, color: '#009688' },
    reconnect: { initialDelayMs: 20, maxDelayMs: 250, factor: 2 },
    idleTimeoutMs: 10_000,
  });
  allConns.push(conn);
  const doc = conn.openTree(docId, { undoCaptureMs: 0, presenceThrottleMs: 10 });
  const acks: { seq: number; v: number }[] = [];
  doc.on('ack', (a) => acks.push(a));
  const refused: unknown[] = [];
  doc.on('invalid_op', (e) => refused.push(e));
  await doc.ready;
  return { name, conn, doc, proxy, acks, refused };
}

/**
 * With TANDEM_IT_DUMP=<dir>: a line per run in <dir>/tree-runs.log (the seed,
 * how many ops the server refused per client) and, when the clients
 * disagree, <dir>/tree-dump.<seed>.json with the stored op log and every
 * client's sid, acks, refusals and content, to tell which side is wrong.
 */
async function dumpTreeRun(docId: string, clients: TreeClient[], want: unknown): Promise<void> {
  const dir = process.env.TANDEM_IT_DUMP;
  if (!dir) return;
  const fs = await import('node:fs');
  const { isDeepStrictEqual } = await import('node:util');
  const diverged = clients.some((c) => !isDeepStrictEqual(c.doc.toJSON(), want));
  fs.appendFileSync(`${dir}/tree-runs.log`, `seed ${SEED} refused ${clients.map((c) => c.refused.length).join(',')}${diverged ? ' DIVERGED' : ''}\n`);
  if (!diverged) return;
  const st = await storedOps(schema, docId);
  const each = clients.map((c) => ({ name: c.name, sid: c.conn.sid, acks: c.acks, refused: c.refused, content: c.doc.toJSON() }));
  fs.writeFileSync(`${dir}/tree-dump.${SEED}.json`, JSON.stringify({ stored: st, clients: each }, null, 1));
}

/** One random action of a whiteboard user: creates, drags, text edits of shared notes, moves into frames, deletes, undo. */
function randomTreeStep(r: () => number, d: TreeDoc, tag: string): void {
  const ids = d.tree.ids();
  const pick = (): string => ids[Math.floor(r() * ids.length)] as string;
  const x = r();
  if (x < 0.2 || ids.length < 3) {
    const parent = ids.length > 0 && r() < 0.4 ? pick() : '';
    if (d.tree.depth(parent) < 8) d.create({ kind: 'note', x: Math.floor(r() * 500), text: tag }, { inside: parent, at: r() < 0.5 ? 'start' : 'end' });
  } else if (x < 0.45) d.set(pick(), { x: Math.floor(r() * 500), y: Math.floor(r() * 500) });
  else if (x < 0.65) {
    const id = d.has('note') && r() < 0.6 ? 'note' : pick();
    const s = d.prop(id, 'text');
    if (typeof s === 'string') {
      // In code points (a text op): an insert, sometimes replacing the character after it.
      const n = cpLength(s);
      const at = Math.floor(r() * (n + 1));
      const del = at < n && r() < 0.3 ? [-1] : [];
      d.editText(id, 'text', [...(at > 0 ? [at] : []), r() < 0.3 ? '😀' : tag, ...del]);
    }
  } else if (x < 0.8) {
    const id = pick();
    const target = r() < 0.3 ? '' : pick();
    if (target === id || d.ancestors(target).includes(id) || d.tree.depth(target) + d.tree.height(id) > 10) return;
    d.move(id, { inside: target, at: r() < 0.5 ? 'start' : 'end' });
  } else if (x < 0.86) {
    const id = pick();
    if (id !== 'frame' && id !== 'note') d.delete(id);
  } else if (x < 0.92) d.undo();
  else if (x < 0.95) d.redo();
  else d.presence.setSelection([pick()]);
}

describe(`integration: tree documents against the real server (seed ${SEED})`, () => {
  it('5 clients doing random actions through flaky proxies converge on the server, every acked op stored exactly once', async () => {
    const docId = `tree-${SEED}`;
    await createTreeDoc(server, docId, BOARD);
    const clients: TreeClient[] = [];
    for (let i = 0; i < 5; i++) {
      const proxy = await new FlakyProxy(server.addr).listen();
      clients.push(await treeClient(`drawer${i}`, docId, proxy.ws, proxy));
    }
    for (const c of clients) expect(c.doc.toJSON()).toEqual(BOARD);
    await Promise.all(
      clients.map(async (c, i) => {
        const r = rng(SEED * 13 + i);
        for (let k = 0; k < 100; k++) {
          randomTreeStep(r, c.doc, `${i}.${k}`);
          const d = r();
          if (d < 0.06) c.proxy?.drop();
          else if (d < 0.08) {
            c.conn.close();
            c.doc.create({ kind: 'rect', made: `offline ${i}.${k}` });
            await sleep(20 + r() * 60);
            c.conn.connect();
          }
          await sleep(2 + r() * 12);
        }
      }),
    );
    await until(
      `tree convergence (${clients.map((c) => `${c.name}: ${c.conn.state}/${c.doc.status}@${c.doc.version}`).join(', ')})`,
      () => clients.every((c) => c.doc.status === 'synced' && c.doc.version === clients[0]?.doc.version),
      30_000,
    );
    const want = clients[0]?.doc.toJSON();
    await dumpTreeRun(docId, clients, want);
    for (const c of clients) expect(c.doc.toJSON(), c.name).toEqual(want);
    expect(clients.reduce((n, c) => n + (c.proxy?.drops ?? 0), 0)).toBeGreaterThan(0);
    for (const c of clients) expect(c.acks.length, c.name).toBeGreaterThan(2);
    // The store: each (sid, seq) once, at the version its ack named.
    const st = await storedOps(schema, docId);
    const version = clients[0]?.doc.version ?? -1;
    expect(st.version).toBe(version);
    const bySidSeq = new Map<string, number>();
    for (const o of st.ops) {
      const k = `${o.sid}/${o.seq}`;
      expect(bySidSeq.has(k), `(sid, seq) ${k} stored twice`).toBe(false);
      bySidSeq.set(k, o.v);
    }
    for (const c of clients) for (const a of c.acks) expect(bySidSeq.get(`${c.conn.sid}/${a.seq}`), `${c.name}'s ack ${a.seq}`).toBe(a.v);
    // A newcomer, and REST, read the same tree.
    const reader = await treeClient('reader', docId, server.ws);
    expect(reader.doc.toJSON()).toEqual(want);
    const res = await fetch(`${server.http}/v1/docs/${docId}`);
    expect(((await res.json()) as { content: unknown }).content).toEqual(want);
    reader.conn.destroy();
    for (const c of clients) await c.proxy?.close();
    for (const c of clients) c.conn.destroy();
  });
});

describe('tokens that expire (docs/protocol.md, section 16), against the real server', () => {
  const secret = 'integration-expiry-secret-0123456789';
  let authed: TandemProcess;
  const admin = (): string => signToken(secret, { sub: 'admin', docs: { '*': 'rw' }, admin: true });
  /** A token for u1 that expires `s` seconds from now (exp counts whole seconds). */
  const shortToken = (s: number, sub = 'u1'): string => signToken(secret, { sub, docs: { 'exp-*': 'rw' }, exp: Math.floor(Date.now() / 1000) + s });

  beforeAll(async () => {
    authed = await startServer(schema.url, { TANDEM_AUTH_SECRET: secret });
  });
  afterAll(async () => {
    await authed?.stop();
  });

  /**
   * A fresh document `exp-<name>` and a connection to it whose `getToken`
   * returns `make(n)` for its n-th call (counted in `calls.n`).
   */
  async function tokenClient(name: string, make: (n: number) => string) {
    const docId = `exp-${name}-${SEED}`;
    await createDoc(authed, docId, '', admin());
    const calls = { n: 0 };
    const conn = new Connection({
      url: authed.ws,
      WebSocket,
      storage: null,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100, factor: 2 },
      getToken: () => make(++calls.n),
    });
    allConns.push(conn);
    return { docId, conn, doc: conn.openDoc(docId), calls };
  }

  it('renews a short-lived token on the live socket and edits past its exp, on one socket', async () => {
    const { docId, conn, doc, calls } = await tokenClient('renew', () => shortToken(6));
    let onlines = 0;
    const renewals: (number | null)[] = [];
    conn.on('online', () => onlines++);
    conn.on('authed', (e) => renewals.push(e.exp));
    await doc.ready;
    const firstExp = Math.floor(Date.now() / 1000) + 6;
    for (let i = 0; Date.now() < firstExp * 1000 + 1500; i++) {
      doc.insert(doc.length, `${i % 10}`);
      await sleep(250);
    }
    await doc.whenSynced();
    expect(renewals.length).toBeGreaterThanOrEqual(1);
    expect(renewals[0]).toBeGreaterThan(firstExp * 1000);
    expect(onlines).toBe(1); // never reconnected
    expect(calls.n).toBe(renewals.length + 1);
    const st = await storedOps(schema, docId);
    expect(st.ops.map((o) => o.op)).toHaveLength(doc.length);
    conn.destroy();
  });

  it('a token that expires without renewal: error unauthorized, close 4401, a fresh token, nothing lost', async () => {
    const cached = shortToken(3);
    // A provider that hands out its cached token until it has expired: the
    // SDK does not renew with it (no fresher), the server ends the socket.
    const { docId, conn, doc, calls } = await tokenClient('close', (n) => (n <= 2 ? cached : shortToken(3600)));
    const closes: number[] = [];
    conn.on('offline', (e) => closes.push(e.code));
    await doc.ready;
    await until('the expiry', () => closes.length > 0, 10_000);
    expect(closes[0]).toBe(4401);
    doc.insert(0, 'typed across the expiry');
    await until('back online', () => conn.state === 'online' && doc.status === 'synced', 10_000);
    await doc.whenSynced();
    expect(calls.n).toBe(3);
    const st = await storedOps(schema, docId);
    expect(st.ops).toHaveLength(1);
    conn.destroy();
  });

  it('a permanently bad token makes a bounded number of attempts, then stops with an error', async () => {
    const { conn, doc, calls } = await tokenClient('bad', (n) => signToken('not the server secret', { sub: 'u1', name: `try ${n}`, docs: { '*': 'rw' } }));
    const errors: ConnectionError[] = [];
    conn.on('error', (e) => errors.push(e));
    await expect(doc.ready).rejects.toMatchObject({ code: 'unauthorized' });
    expect(conn.state).toBe('closed');
    expect(errors[0]).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('token signature is invalid') });
    expect(errors.at(-1)?.message).toMatch(/^stopped after 2 failed tokens in a row \(the last: .*token signature is invalid\)/);
    await sleep(1500);
    expect(calls.n).toBe(2);
    conn.destroy();
  });
});

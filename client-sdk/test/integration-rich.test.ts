/**
 * RichDoc against the real server binary on Postgres: a rich document created
 * over REST with a Delta, several clients typing, formatting and undoing at
 * once through a proxy that cuts connections, converging on the Delta the
 * server stores; the REST op log replays to it, `?v=` shows earlier versions,
 * and a rich document opened as text (and the reverse) fails with wrong_type.
 * Fails (never skips) without Go or Postgres, as the text suite does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Connection, TandemError, type Attributes, type Delta, type RichDoc } from '../src/index.js';
import { apply, contentOf, validate, type RichOp } from '../src/rich/index.js';
import { rng } from './helpers/random.js';
import { cleanBuild, FlakyProxy, freshSchema, startServer, type TandemProcess, type TestSchema } from './helpers/tandem-server.js';

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

const SEED = Number(process.env.TANDEM_IT_SEED ?? Date.now() % 1_000_000);
const conns: Connection[] = [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by the assertions
async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.http}${path}`, {
    method,
    headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

async function open(name: string, id: string, url: string): Promise<{ conn: Connection; doc: RichDoc }> {
  const conn = new Connection({ url, WebSocket, storage: null, user: { name, color: '#e91e63' }, reconnect: { initialDelayMs: 20, maxDelayMs: 250 }, idleTimeoutMs: 10_000 });
  conns.push(conn);
  const doc = conn.openRich(id, { undoCaptureMs: 0, presenceThrottleMs: 10 });
  await doc.ready;
  return { conn, doc };
}

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const FORMATS: Attributes[] = [{ bold: true }, { italic: true }, { bold: null }, { link: 'https://tandem.example/' }, { underline: true, strike: null }];
const LINES: Attributes[] = [{ heading: 1 }, { heading: 2 }, { heading: null }, { list: 'bullet' }, { list: 'ordered' }, { list: null }, { blockquote: true }];
const PIECES = ['a', 'b', ' ', 'é', '😀', '👍🏽', '中', '\n', 'xy'];

describe(`integration: RichDoc against the real server on Postgres (seed ${SEED})`, () => {
  it('concurrent typing and formatting through a flaky proxy converge on the stored Delta; the op log replays to it; ?v= time travels', async () => {
    const id = `rich-${SEED}`;
    const initial: Delta = [{ i: 'Title', a: { bold: true } }, { i: '\n', a: { heading: 1 } }, 'Body 😀 text\n'];
    const created = await rest('POST', '/v1/docs', { id, type: 'rich', content: initial });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect(created.json.type).toBe('rich');
    expect(created.json.content).toEqual(contentOf(initial));
    const proxies = [await new FlakyProxy(server.addr).listen(), await new FlakyProxy(server.addr).listen()];
    const clients = [await open('ada', id, server.ws), await open('bob', id, proxies[0]!.ws), await open('cy', id, proxies[1]!.ws)];
    expect(clients[0]!.doc.delta()).toEqual(contentOf(initial));
    const r = rng(SEED);
    for (let step = 0; step < 120; step++) {
      const { doc } = clients[Math.floor(r() * clients.length)]!;
      const n = doc.length;
      const at = Math.floor(r() * n);
      const x = r();
      if (x < 0.4) doc.insert(at, PIECES[Math.floor(r() * PIECES.length)]!, r() < 0.3 ? { italic: true } : undefined);
      else if (x < 0.6) doc.format(at, Math.min(n - 1 - at, 1 + Math.floor(r() * 5)), FORMATS[Math.floor(r() * FORMATS.length)]!);
      else if (x < 0.72) doc.formatLine(at, 0, LINES[Math.floor(r() * LINES.length)]!);
      else if (x < 0.82 && n > 2) doc.delete(at, Math.min(n - 1 - at, 1 + Math.floor(r() * 2)));
      else if (x < 0.9) doc.undo();
      else if (x < 0.93) proxies[Math.floor(r() * proxies.length)]!.drop();
      else doc.presence.setSelection([[at, at]]);
      await new Promise((res) => setTimeout(res, Math.floor(r() * 10)));
    }
    await until('convergence', () => {
      const v = clients[0]!.doc.version;
      return clients.every((c) => c.doc.status === 'synced' && c.doc.version === v);
    });
    const final = clients[0]!.doc.delta();
    for (const c of clients) expect(c.doc.delta()).toEqual(final);
    const v = clients[0]!.doc.version;
    expect(v).toBeGreaterThan(20); // edits made while one is in flight are composed into one op
    // What the server stores and serves.
    const got = await rest('GET', `/v1/docs/${id}`);
    expect(got.json).toMatchObject({ id, type: 'rich', v, content: final });
    // The op log, as REST serves it, replays from the initial Delta to it.
    let replay = contentOf(initial);
    const history: Delta[] = [replay];
    for (let from = 0; from < v; ) {
      const page = await rest('GET', `/v1/docs/${id}/ops?from=${from}&limit=1000`);
      expect(page.status).toBe(200);
      for (const o of page.json.ops as { v: number; op: unknown }[]) {
        expect(o.v).toBe(from);
        validate(o.op);
        replay = apply(replay, o.op as RichOp);
        history.push(replay);
        from++;
      }
    }
    expect(replay).toEqual(final);
    // Time travel: ?v= is the content after that many ops.
    for (const k of [0, Math.floor(v / 2), v]) {
      const old = await rest('GET', `/v1/docs/${id}?v=${k}`);
      expect(old.status).toBe(200);
      expect(old.json.content, `?v=${k}`).toEqual(history[k]);
    }
    // A newcomer joining from scratch reads the same Delta.
    const late = await open('late', id, server.ws);
    expect(late.doc.delta()).toEqual(final);
    for (const p of proxies) await p.close();
  }, 120_000);

  it('a REST op (a format) reaches a live RichDoc; opening with the wrong type fails with wrong_type', async () => {
    const id = `rich-types-${SEED}`;
    expect((await rest('POST', '/v1/docs', { id, type: 'rich', content: ['hello world\n'] })).status).toBe(201);
    expect((await rest('POST', '/v1/docs', { id: `${id}-text`, type: 'text', content: 'plain\n' })).status).toBe(201);
    const { doc } = await open('ada', id, server.ws);
    const posted = await rest('POST', `/v1/docs/${id}/ops`, { v: 0, op: [6, { r: 5, a: { bold: true } }] });
    expect(posted.status, JSON.stringify(posted.json)).toBe(200);
    await until('the REST format', () => doc.version === 1);
    expect(doc.delta()).toEqual(['hello ', { i: 'world', a: { bold: true } }, '\n']);
    const conn = new Connection({ url: server.ws, WebSocket, storage: null });
    conns.push(conn);
    await expect(conn.openDoc(id).ready).rejects.toMatchObject({ code: 'wrong_type' });
    const asRich = conn.openRich(`${id}-text`);
    await expect(asRich.ready).rejects.toBeInstanceOf(TandemError);
    await expect(asRich.ready).rejects.toMatchObject({ code: 'wrong_type' });
  }, 60_000);
});

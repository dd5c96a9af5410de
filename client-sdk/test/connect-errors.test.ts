/**
 * What a developer sees when the connection cannot be made (issue 20): the
 * constructor throws at once without a WebSocket implementation, a failed
 * attempt says why (connection refused, the HTTP status of a refused
 * upgrade), and `ready` rejects after `connectAttempts` failures instead of
 * waiting forever. The real-socket cases use Node's `ws` against real
 * listeners on loopback ports.
 */
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Connection, TandemError, type ConnectionError, type WebSocketConstructor } from '../src/index.js';
import { harness } from './helpers/manual.js';

/** A loopback port nobody listens on. */
async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** An HTTP server that answers every WebSocket upgrade with `status`. */
async function refusingServer(status: number): Promise<{ port: number; close: () => Promise<void> }> {
  const srv = http.createServer((_, res) => res.writeHead(status).end());
  srv.on('upgrade', (_req, socket) => {
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  return { port, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

const fast = { initialDelayMs: 20, maxDelayMs: 40, factor: 2 };
const conns: Connection[] = [];
function connect(url: string, extra: Partial<ConstructorParameters<typeof Connection>[0]> = {}): { conn: Connection; errors: ConnectionError[] } {
  const conn = new Connection({ url, WebSocket: WebSocket as unknown as WebSocketConstructor, storage: null, reconnect: fast, ...extra });
  conns.push(conn);
  const errors: ConnectionError[] = [];
  conn.on('error', (e) => errors.push(e));
  return { conn, errors };
}

afterEach(() => {
  for (const c of conns.splice(0)) c.destroy();
  vi.useRealTimers();
});

describe('no WebSocket implementation', () => {
  it('throws a TypeError from the constructor (Node 20 has no global WebSocket), naming the fix', () => {
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined();
    for (const autoConnect of [true, false]) {
      let err: unknown;
      try {
        new Connection({ url: 'ws://127.0.0.1:1/v1/ws', storage: null, autoConnect });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/no WebSocket implementation/);
      expect((err as Error).message).toMatch(/import WebSocket from 'ws'/);
    }
    expect(() => new Connection({ url: 'ws://x/v1/ws', WebSocket: WebSocket as unknown as WebSocketConstructor, connectAttempts: 0 })).toThrow(RangeError);
  });
});

describe('a connection that cannot be made', () => {
  it('connection refused: each error names it, ready rejects after connectAttempts with the cause, the connection stops', async () => {
    const port = await deadPort();
    const { conn, errors } = connect(`ws://127.0.0.1:${port}/v1/ws?token=s3cret-token`, { connectAttempts: 3 });
    const offline: { retryInMs: number | null; error?: ConnectionError }[] = [];
    conn.on('offline', (e) => offline.push(e));
    const doc = conn.openDoc('notes');
    const err = await doc.ready.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TandemError);
    expect((err as TandemError).code).toBe('unreachable');
    expect((err as Error).message).toMatch(/gave up after 3 failed attempts to connect: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/v1\/ws\?token=…: connection refused: nothing listens/);
    const transport = errors.filter((e) => e.code === 'transport');
    expect(transport).toHaveLength(3);
    for (const e of transport) {
      expect(e.errno).toBe('ECONNREFUSED');
      expect(e.message).toMatch(/connection refused: nothing listens at that host and port/);
    }
    expect(errors.at(-1)).toMatchObject({ code: 'unreachable', errno: 'ECONNREFUSED' });
    // The token never appears in a message.
    for (const e of errors) expect(e.message).not.toContain('s3cret');
    expect(offline.map((o) => o.retryInMs === null)).toEqual([false, false, true]);
    expect(offline.at(-1)?.error?.errno).toBe('ECONNREFUSED');
    expect(conn.state).toBe('closed');
    expect(doc.status).toBe('offline');
    // It stopped: no further attempt.
    await new Promise((r) => setTimeout(r, 200));
    expect(errors.filter((e) => e.code === 'transport')).toHaveLength(3);
    // A document opened now fails at once, and whenSynced says the same.
    const late = conn.openDoc('late');
    await expect(late.ready).rejects.toMatchObject({ code: 'unreachable' });
    await expect(doc.whenSynced()).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('an upgrade answered with an HTTP error: the status is in the error and in the rejection', async () => {
    for (const status of [404, 502]) {
      const srv = await refusingServer(status);
      try {
        const { conn, errors } = connect(`ws://127.0.0.1:${srv.port}/wrong/path`, { connectAttempts: 2 });
        const doc = conn.openDoc('d');
        await expect(doc.ready).rejects.toMatchObject({ code: 'unreachable', message: expect.stringContaining(`HTTP ${status}`) });
        expect(errors[0]).toMatchObject({ code: 'transport', httpStatus: status });
        expect(errors.at(-1)).toMatchObject({ code: 'unreachable', httpStatus: status });
        if (status === 404) expect(errors[0]?.message).toMatch(/no such endpoint: is the path \/v1\/ws/);
        if (status === 502) expect(errors[0]?.message).toMatch(/proxy could not reach the server/);
      } finally {
        await srv.close();
      }
    }
  });

  it('a host that does not resolve names the lookup failure', async () => {
    const { conn, errors } = connect('ws://no-such-host.invalid:8080/v1/ws', { connectAttempts: 1 });
    await expect(conn.openDoc('d').ready).rejects.toMatchObject({ code: 'unreachable' });
    expect(errors[0]?.errno).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
  });

  it('connect() after giving up starts over with a fresh count of attempts', async () => {
    const { conn, errors } = connect('ws://127.0.0.1:1/v1/ws', { connectAttempts: 1 });
    await expect(conn.openDoc('d').ready).rejects.toMatchObject({ code: 'unreachable' });
    expect(errors.filter((e) => e.code === 'transport')).toHaveLength(1);
    conn.connect();
    await new Promise((r) => setTimeout(r, 300));
    expect(errors.filter((e) => e.code === 'transport')).toHaveLength(2);
    expect(conn.state).toBe('closed');
  });
});

describe('giving up (scripted sockets)', () => {
  it('never gives up once it has been online: a later outage retries for as long as it lasts', async () => {
    vi.useFakeTimers();
    const h = harness({ connectAttempts: 2 });
    const doc = h.conn.openDoc('d');
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', v: 0, text: '', peers: [], mode: 'rw' });
    await doc.ready;
    for (let i = 0; i < 6; i++) {
      h.socket().drop();
      await vi.advanceTimersByTimeAsync(1500);
    }
    expect(h.sockets.length).toBe(7);
    expect(h.conn.state).not.toBe('closed');
    h.conn.destroy();
  });

  it('a browser-like failure (no detail, 1006) still says what is known; the default is 5 attempts', async () => {
    vi.useFakeTimers();
    const h = harness({ token: 'tok-secret' });
    const errors: ConnectionError[] = [];
    h.conn.on('error', (e) => errors.push(e));
    const doc = h.conn.openDoc('d');
    const rejected = doc.ready.catch((e: unknown) => e);
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(i === 0 ? 0 : 1100);
      const s = h.socket();
      s.onerror?.({ type: 'error' });
      s.drop(1006);
    }
    const err = (await rejected) as TandemError;
    expect(err.code).toBe('unreachable');
    expect(err.message).toMatch(/gave up after 5 failed attempts/);
    expect(err.message).toMatch(/the browser does not say why/);
    expect(err.message).not.toContain('tok-secret');
    expect(h.sockets).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(5);
    // A socket that opened but was closed before the welcome gives the server's code and reason.
    const g = harness({ connectAttempts: 1 });
    const d2 = g.conn.openDoc('d');
    await vi.advanceTimersByTimeAsync(0);
    g.socket().open();
    g.socket().onclose?.({ code: 1013, reason: 'try again later' });
    await expect(d2.ready).rejects.toMatchObject({ code: 'unreachable', message: expect.stringContaining('code 1013: try again later') });
    expect(errors.filter((e) => e.code === 'transport').length).toBe(5);
  });
});

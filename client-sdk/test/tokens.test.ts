/**
 * Token renewal and expiry in the SDK (docs/protocol.md, section 16) against a
 * scripted socket: `getToken` is asked before every connect and before the
 * token expires, the token is renewed on the live socket with `auth`, and a
 * token that stays bad stops the connection after `tokenAttempts` instead of
 * looping. The same behaviours against the real server are in the integration
 * suite.
 */
import { describe, expect, it, vi } from 'vitest';
import type { ConnectionError } from '../src/index.js';
import { jwtExpiry, renewDelay } from '../src/token.js';
import { harness, SID, useFakeTimers } from './helpers/manual.js';

useFakeTimers();

/** An unsigned JWT-shaped token expiring at `expMs` (the SDK never verifies). */
function jwt(expMs: number, sub = 'u1'): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(expMs / 1000), docs: { '*': 'rw' } })}.c2ln`;
}

/** No idle-timeout reconnects while the tests jump minutes ahead. */
const quiet = { idleTimeoutMs: 1e9 };

const welcome = { t: 'welcome', proto: 1, sid: SID, user: { id: 'u1', name: 'Ada', color: '#f00' } } as const;

describe('token timing', () => {
  it('reads exp from a JWT without verifying it, and nothing from anything else', () => {
    expect(jwtExpiry(jwt(1_796_000_000_000))).toBe(1_796_000_000_000);
    expect(jwtExpiry('opaque-token')).toBeNull();
    expect(jwtExpiry('a.b.c')).toBeNull();
    expect(jwtExpiry(`x.${Buffer.from('{"exp":"soon"}').toString('base64url')}.y`)).toBeNull();
    expect(jwtExpiry(`x.${Buffer.from('{"exp":1700000000,"name":"Zoë 😀"}').toString('base64url')}.y`)).toBe(1_700_000_000_000);
  });

  it('renews at 90% of the remaining lifetime, at most 30 s before exp, never after it', () => {
    expect(renewDelay(3_600_000, 0)).toBe(3_570_000); // 1 hour: 30 s before
    expect(renewDelay(60_000, 0)).toBe(54_000); // 60 s: 6 s before
    expect(renewDelay(1_000, 0)).toBe(900);
    expect(renewDelay(1_000, 1_000)).toBeNull(); // expired by this clock: no renewal loop
    expect(renewDelay(1_000, 5_000)).toBeNull();
  });
});

describe('renewal on the live socket', () => {
  it('sends auth before the token expires and keeps the socket; authed sets the next renewal', async () => {
    vi.setSystemTime(Math.ceil(Date.now() / 1000) * 1000); // exp counts whole seconds
    const t0 = Date.now();
    let calls = 0;
    const tokens = [jwt(t0 + 100_000), jwt(t0 + 200_000), jwt(t0 + 400_000)];
    const h = harness({ ...quiet, getToken: () => tokens[calls++] ?? 'none-left' });
    const authed: (number | null)[] = [];
    h.conn.on('authed', (e) => authed.push(e.exp));
    const s = await h.welcome();
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(89_000);
    expect(s.of('auth')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_500); // 90 s: 10% of 100 s before exp
    expect(s.of('auth')).toEqual([{ t: 'auth', token: tokens[1] }]);
    s.deliver({ t: 'authed', exp: Math.floor((t0 + 200_000) / 1000), docs: {} });
    expect(authed).toEqual([Math.floor((t0 + 200_000) / 1000) * 1000]);
    // Next: 110 s were left, so 11 s before the new exp.
    await vi.advanceTimersByTimeAsync(200_000 - 11_000 - 90_500 - 500);
    expect(s.of('auth')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(s.of('auth')).toEqual([{ t: 'auth', token: tokens[1] }, { t: 'auth', token: tokens[2] }]);
    expect(h.sockets).toHaveLength(1);
    expect(h.conn.state).toBe('online');
    h.conn.destroy();
  });

  it('does not renew with a token no fresher than the current one (a cached token cannot loop)', async () => {
    const t0 = Date.now();
    const same = jwt(t0 + 100_000);
    let calls = 0;
    const h = harness({
      ...quiet,
      getToken: () => {
        calls++;
        return same;
      },
    });
    const s = await h.welcome();
    await vi.advanceTimersByTimeAsync(99_000);
    expect(calls).toBe(2); // asked once at 90 s
    expect(s.of('auth')).toHaveLength(0);
    h.conn.destroy();
  });

  it('a refused renewal keeps the socket; a fresh token is asked after a pause; two refusals stop renewing, and the expiry then stops the connection', async () => {
    const t0 = Date.now();
    let calls = 0;
    const h = harness({ ...quiet, getToken: () => jwt(t0 + 100_000 * ++calls) });
    const errors: ConnectionError[] = [];
    h.conn.on('error', (e) => errors.push(e));
    const doc = h.conn.openDoc('d');
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', v: 0, text: '', peers: [], mode: 'rw' });
    await doc.ready;
    await vi.advanceTimersByTimeAsync(90_500);
    expect(s.of('auth')).toHaveLength(1);
    s.deliver({ t: 'error', code: 'unauthorized', msg: 'token renewal refused: token signature is invalid' });
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('refused the renewed token')]);
    expect(h.sockets).toHaveLength(1);
    expect(h.conn.state).toBe('online');
    await vi.advanceTimersByTimeAsync(99);
    expect(s.of('auth')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // the back-off: initialDelayMs of the harness
    expect(s.of('auth')).toHaveLength(2);
    s.deliver({ t: 'error', code: 'unauthorized', msg: 'token renewal refused: token signature is invalid' });
    expect(errors.at(-1)?.message).toMatch(/gave up renewing the token after 2 failures/);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(s.of('auth')).toHaveLength(2);
    expect(calls).toBe(3);
    doc.insert(0, 'still editing');
    expect(s.of('op')).toHaveLength(1);
    // The server ends the socket at exp: the connection stops instead of looping.
    s.deliver({ t: 'error', code: 'unauthorized', msg: 'token expired at ...' });
    s.drop(4401);
    expect(h.conn.state).toBe('closed');
    expect(errors.at(-1)).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/^stopped after 3 failed tokens in a row/) });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(h.sockets).toHaveLength(1);
    expect(calls).toBe(3);
  });

  it('a renewal that crosses the expiry on the wire is not taken as refused: the reconnection may use its token', async () => {
    const t0 = Date.now();
    const tokens = [jwt(t0 + 100_000), jwt(t0 + 3_600_000)];
    let calls = 0;
    const h = harness({ ...quiet, getToken: () => tokens[Math.min(calls++, 1)] ?? '' });
    const s = await h.welcome();
    await vi.advanceTimersByTimeAsync(90_500);
    expect(s.of('auth')).toEqual([{ t: 'auth', token: tokens[1] }]);
    // The server had already ended the socket: its expiry, not a refusal.
    s.deliver({ t: 'error', code: 'unauthorized', msg: 'token expired at ...: renew it with an auth message before it expires, or reconnect with a new token' });
    s.drop(4401);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.sockets).toHaveLength(2);
    expect(h.socket().url).toBe(`ws://server/v1/ws?token=${tokens[1]}`);
    h.socket().open();
    h.socket().deliver(welcome);
    expect(h.conn.state).toBe('online');
    h.conn.destroy();
  });

  it('authed sets each document mode; a document no longer granted goes offline', async () => {
    const h = harness({ getToken: () => `opaque-${Math.random()}` });
    const d = h.conn.openDoc('d');
    const e = h.conn.openDoc('e');
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', v: 0, text: 'x', peers: [], mode: 'rw' });
    s.deliver({ t: 'joined', doc: 'e', v: 0, text: 'y', peers: [], mode: 'rw' });
    const synced: string[] = [];
    d.on('synced', (ev) => synced.push(ev.mode));
    h.conn.renewToken(); // an opaque token is renewed only on request
    await vi.advanceTimersByTimeAsync(0);
    expect(s.of('auth')).toHaveLength(1);
    s.deliver([
      { t: 'error', code: 'forbidden', doc: 'e', msg: 'the renewed token does not grant this document: it was left' },
      { t: 'authed', docs: { d: 'r' } },
    ]);
    expect(d.mode).toBe('r');
    expect(synced).toEqual(['r']);
    expect(() => d.insert(0, 'no')).toThrow(/read/);
    expect(e.status).toBe('offline');
    expect(d.status).toBe('synced');
    h.conn.destroy();
  });
});

describe('reconnecting while getToken is pending', () => {
  it('two quick reconnects (a recolour, then a rename) make one socket, which says the last user', async () => {
    const t0 = Date.now();
    let calls = 0;
    // getToken answers after 100 ms, so both reconnects wait on it at once.
    const h = harness({ ...quiet, getToken: () => new Promise<string>((r) => setTimeout(() => r(jwt(t0 + 3_600_000, `u${++calls}`)), 100)) });
    await vi.advanceTimersByTimeAsync(100);
    const first = await h.welcome();
    h.conn.setUser({ name: 'Ada', color: '#0f0' });
    h.conn.reconnectNow(); // what a second setUser does while the socket is open
    h.conn.setUser({ name: 'Ada L.', color: '#0f0' });
    await vi.advanceTimersByTimeAsync(500);
    expect(first.closedByClient?.code).toBe(4000);
    expect(h.sockets).toHaveLength(2); // not one per reconnect: a leaked second socket would hold the sid
    const s = h.socket();
    s.open();
    expect(s.of('hello')).toEqual([{ t: 'hello', proto: 1, sid: SID, user: { name: 'Ada L.', color: '#0f0' } }]);
    h.conn.destroy();
  });
});

describe('refused tokens never loop', () => {
  it('a permanently bad token makes tokenAttempts connection attempts, spaced by the back-off, then stops', async () => {
    for (const tokenAttempts of [undefined, 4]) {
      let calls = 0;
      const h = harness({ getToken: () => `bad-${++calls}`, ...(tokenAttempts !== undefined ? { tokenAttempts } : {}) });
      const errors: ConnectionError[] = [];
      h.conn.on('error', (e) => errors.push(e));
      const doc = h.conn.openDoc('d');
      const ready = doc.ready.catch((e: unknown) => e);
      for (let i = 0; i < 10 && h.conn.state !== 'closed'; i++) {
        await vi.advanceTimersByTimeAsync(i === 0 ? 0 : 5_000);
        const s = h.socket();
        if (s.readyState !== 0) continue;
        s.open();
        s.deliver({ t: 'error', code: 'unauthorized', msg: 'token signature is invalid' });
        s.drop(1008);
      }
      const n = tokenAttempts ?? 2;
      expect(h.conn.state).toBe('closed');
      expect(h.sockets).toHaveLength(n);
      expect(calls).toBe(n);
      expect(h.sockets.map((s) => s.url)).toEqual(Array.from({ length: n }, (_, i) => `ws://server/v1/ws?token=bad-${i + 1}`));
      expect(await ready).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('token signature is invalid') });
      expect(errors.at(-1)).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(new RegExp(`^stopped after ${n} failed tokens in a row`)) });
      await vi.advanceTimersByTimeAsync(3_600_000);
      expect(h.sockets).toHaveLength(n);
      expect(calls).toBe(n);
      // connect() starts over with a fresh count.
      h.conn.connect();
      await vi.advanceTimersByTimeAsync(0);
      expect(h.sockets).toHaveLength(n + 1);
      h.conn.destroy();
    }
  });

  it('getToken throwing: one more try after the back-off, then a stop that says why', async () => {
    let calls = 0;
    const h = harness({
      getToken: () => {
        calls++;
        throw new Error('auth backend down');
      },
    });
    const offline: (number | null)[] = [];
    h.conn.on('offline', (e) => offline.push(e.retryInMs));
    const errors: ConnectionError[] = [];
    h.conn.on('error', (e) => errors.push(e));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    expect(offline).toHaveLength(1);
    expect(offline[0]).toBeGreaterThanOrEqual(50);
    await vi.advanceTimersByTimeAsync(offline[0] ?? 0);
    expect(calls).toBe(2);
    expect(h.conn.state).toBe('closed');
    expect(offline.at(-1)).toBeNull();
    expect(errors.at(-1)?.message).toMatch(/stopped after 2 failed tokens in a row \(the last: getToken failed: auth backend down\)/);
    expect(h.sockets).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(calls).toBe(2);
  });

  it('a token that expires on a live socket is replaced by a fresh one, every time it happens', async () => {
    let calls = 0;
    const h = harness({ getToken: () => `opaque-${++calls}` });
    const doc = h.conn.openDoc('d');
    let s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', v: 0, text: '', peers: [], mode: 'rw' });
    for (let round = 1; round <= 4; round++) {
      doc.insert(0, 'x');
      s.deliver({ t: 'error', code: 'unauthorized', msg: 'token expired at ...' });
      s.drop(4401);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(h.sockets).toHaveLength(round + 1);
      expect(h.socket().url).toBe(`ws://server/v1/ws?token=opaque-${round + 1}`);
      s = h.socket();
      s.open();
      s.deliver(welcome);
      expect(s.of('join')).toEqual([{ t: 'join', doc: 'd', v: round - 1 }]);
      s.deliver({ t: 'joined', doc: 'd', v: round - 1, ops: [], peers: [], mode: 'rw' });
      const op = s.of('op')[0];
      expect(op).toMatchObject({ seq: round, v: round - 1 }); // resubmitted with its seq
      s.deliver({ t: 'ack', doc: 'd', seq: round, v: round - 1 });
    }
    expect(h.conn.state).toBe('online');
    h.conn.destroy();
  });

  it('getToken handing back the token that just expired counts as refused without connecting', async () => {
    let calls = 0;
    const h = harness({
      getToken: () => {
        calls++;
        return 'cached-token';
      },
    });
    const s = await h.welcome();
    s.deliver({ t: 'error', code: 'unauthorized', msg: 'token expired at ...' });
    s.drop(4401);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(2);
    expect(h.sockets).toHaveLength(1);
    expect(h.conn.state).toBe('closed');
  });
});

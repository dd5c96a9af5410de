/**
 * Offline use across reloads (client-sdk/README.md, "Offline use"): a
 * document kept in an OfflineStore shows its stored text before any
 * connection, accepts edits, and after a "reload" (the connection destroyed,
 * a new one on the same store, as a new page would) resubmits the pending
 * ops under the same (sid, seq) exactly once. Runs on the in-memory store
 * and on IndexedDB (fake-indexeddb) against the fake server's real OT.
 */
import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection } from '../src/connection.js';
import type { TextDoc } from '../src/text-doc.js';
import { IndexedDBStore } from '../src/storage/idb.js';
import { MemoryStore } from '../src/storage/memory.js';
import type { OfflineStore } from '../src/storage/types.js';
import { FakeServer, FakeSocket } from './helpers/fake-server.js';
import { rng } from './helpers/random.js';
import type { WebSocketConstructor } from '../src/connection.js';

beforeEach(() => {
  // fake-indexeddb schedules with setImmediate: leave that one real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A fake server whose network can be cut: sockets opened while offline fail at once. */
function network(seed = 1) {
  const server = new FakeServer({ random: rng(seed), maxDelayMs: 10 });
  const net = { offline: false };
  const WS = class extends FakeSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(server, url, protocols);
      if (net.offline) this.fail();
    }
  } as unknown as WebSocketConstructor;
  const setOffline = (off: boolean) => {
    net.offline = off;
    if (off) server.dropAll();
  };
  return { server, net, WS, setOffline };
}

/** A "page": a connection on the store (no sessionStorage in Node: every page is a new tab). */
function page(WS: WebSocketConstructor, store: OfflineStore | null) {
  const conn = new Connection({
    url: 'ws://server/v1/ws',
    WebSocket: WS,
    storage: store,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    connectAttempts: Infinity,
  });
  return conn;
}

async function settle(ms = 1500): Promise<void> {
  for (let i = 0; i < ms / 50; i++) await vi.advanceTimersByTimeAsync(50);
}

function serverText(server: FakeServer, id: string): string {
  return server.doc(id).text;
}

const stores: [string, () => OfflineStore][] = [
  ['memory', () => new MemoryStore()],
  ['IndexedDB', () => new IndexedDBStore({ name: `offline-${Math.random()}` })],
];

describe.each(stores)('offline across reloads (%s store)', (_name, makeStore) => {
  it('shows the stored text offline, accepts edits, and lands them exactly once after a reload', async () => {
    const { server, WS, setOffline } = network(3);
    server.doc('d').text = 'hello';
    const store = makeStore();
    const a = page(WS, store);
    const doc = a.openDoc('d');
    await settle();
    expect(doc.text).toBe('hello');
    expect(doc.offlineStorage).toBe(true);

    setOffline(true);
    await settle(200);
    const events: [number, boolean, boolean][] = [];
    doc.on('unsynced', (e) => events.push([e.count, e.hasUnsyncedChanges, e.stored]));
    doc.insert(5, ' world');
    doc.insert(0, '> ');
    expect(doc.hasUnsyncedChanges).toBe(true);
    expect(doc.unsyncedCount).toBe(2);
    expect(events).toEqual([
      [1, true, true],
      [2, true, true],
    ]);
    await doc.flushStorage();
    const sid = a.sid;
    a.destroy(); // the tab is closed

    // Meanwhile someone else edits.
    const other = page(WS, null);
    setOffline(false);
    const od = other.openDoc('d');
    await settle();
    od.insert(1, '_');
    await settle();
    expect(serverText(server, 'd')).toBe('h_ello');

    // Reopened offline: the stored text is there at once (once loaded), and editable.
    setOffline(true);
    const b = page(WS, store);
    const doc2 = b.openDoc('d');
    await doc2.loaded;
    expect(b.sid).toBe(sid); // took the closed tab's sid over
    expect(doc2.text).toBe('> hello world');
    expect(doc2.hasUnsyncedChanges).toBe(true);
    doc2.insert(doc2.length, '.');
    await settle(300);
    expect(doc2.status).toBe('offline');

    // Online: everything lands once and converges with the other page.
    setOffline(false);
    await settle(3000);
    expect(doc2.status).toBe('synced');
    expect(doc2.hasUnsyncedChanges).toBe(false);
    expect(serverText(server, 'd')).toBe('> h_ello world.');
    expect(doc2.text).toBe(serverText(server, 'd'));
    expect(od.text).toBe(serverText(server, 'd'));
    expect(server.violations).toEqual([]);
    b.destroy();
    other.destroy();
  });

  it('resubmits an op that was sent but never acknowledged with its seq after a reload: the server applies it once', async () => {
    const { server, WS } = network(5);
    server.doc('d').text = 'abc';
    const store = makeStore();
    const a = page(WS, store);
    const doc = a.openDoc('d');
    await settle();
    doc.insert(3, 'D');
    // The op reaches the server; the tab dies before the ack arrives.
    await vi.advanceTimersByTimeAsync(0);
    await doc.flushStorage();
    for (let i = 0; i < 40 && serverText(server, 'd') !== 'abcD'; i++) await vi.advanceTimersByTimeAsync(1);
    expect(serverText(server, 'd')).toBe('abcD');
    const seq = server.doc('d').log[0]?.seq;
    a.destroy();
    const b = page(WS, store);
    const doc2 = b.openDoc('d');
    await settle();
    expect(doc2.text).toBe('abcD');
    expect(serverText(server, 'd')).toBe('abcD');
    expect(server.doc('d').log).toHaveLength(1);
    expect(doc2.hasUnsyncedChanges).toBe(false);
    // A next edit uses a higher seq than the one the server has.
    doc2.insert(0, 'x');
    await settle();
    expect(server.doc('d').log.map((e) => e.seq)).toEqual([seq, (seq as number) + 1]);
    expect(server.violations).toEqual([]);
    b.destroy();
  });

  it('two tabs on one document: each its own sid, offline edits in both land once, the snapshot follows the newest version', async () => {
    const { server, WS, setOffline } = network(7);
    server.doc('d').text = 'shared\n';
    const store = makeStore();
    const t1 = page(WS, store);
    const t2 = page(WS, store);
    const d1 = t1.openDoc('d');
    const d2 = t2.openDoc('d');
    await settle();
    expect(t1.sid).not.toBe(t2.sid);
    setOffline(true);
    await settle(200);
    d1.insert(0, 'one ');
    d2.insert(d2.length, 'two\n');
    await d1.flushStorage();
    await d2.flushStorage();
    const states = await store.listStates('d');
    expect(states.map((s) => s.buffer ?? s.inflight?.op).filter(Boolean)).toHaveLength(2);
    setOffline(false);
    await settle(3000);
    const text = serverText(server, 'd');
    expect(text).toBe('one shared\ntwo\n');
    expect(d1.text).toBe(text);
    expect(d2.text).toBe(text);
    await d1.flushStorage();
    await d2.flushStorage();
    const snap = await store.getSnapshot('d');
    expect(snap?.v).toBe(2);
    expect(snap?.content).toBe(text);
    expect(server.violations).toEqual([]);
    t1.destroy();
    t2.destroy();
  });
});

describe('a document first opened offline', () => {
  it('keeps what was typed into a never synced document across a reload, and lands it once', async () => {
    const { server, WS, setOffline } = network(17);
    server.doc('d').text = 'server text\n';
    const store = new MemoryStore();
    setOffline(true);
    const a = page(WS, store);
    const doc = a.openDoc('d');
    await settle(300);
    expect(doc.version).toBe(-1);
    doc.insert(0, 'typed first');
    await doc.flushStorage();
    a.destroy();
    const b = page(WS, store);
    const doc2 = b.openDoc('d');
    await doc2.loaded;
    expect(doc2.text).toBe('typed first');
    expect(doc2.hasUnsyncedChanges).toBe(true);
    setOffline(false);
    await settle(3000);
    expect(doc2.status).toBe('synced');
    // The server's text counts as committed first at the spot where both start.
    expect(server.doc('d').text).toBe('server text\ntyped first');
    expect(doc2.text).toBe(server.doc('d').text);
    expect(server.violations).toEqual([]);
    b.destroy();
  });
});

describe('offline storage settings', () => {
  let doc: TextDoc | null = null;
  afterEach(() => {
    doc = null;
  });

  it('storage: null keeps nothing', async () => {
    const { server, WS } = network(9);
    server.doc('d').text = 'x';
    const conn = page(WS, null);
    doc = conn.openDoc('d');
    await settle();
    expect(doc.offlineStorage).toBe(false);
    expect(conn.offlineStore).toBeNull();
    doc.insert(0, 'y');
    expect(doc.hasUnsyncedChanges).toBe(true);
    await settle();
    expect(doc.hasUnsyncedChanges).toBe(false);
    conn.destroy();
  });

  it('a document opened with storage: null is not stored though the connection has a store', async () => {
    const { server, WS } = network(11);
    server.doc('d').text = 'x';
    const store = new MemoryStore();
    const conn = page(WS, store);
    doc = conn.openDoc('d', { storage: null });
    await settle();
    doc.insert(0, 'y');
    await settle();
    expect(doc.offlineStorage).toBe(false);
    expect(await store.getSnapshot('d')).toBeUndefined();
    expect(await store.listStates('d')).toEqual([]);
    conn.destroy();
  });

  it('sends an op only once the state holding its seq is stored', async () => {
    const { server, WS } = network(13);
    server.doc('d').text = '';
    let release: () => void = () => undefined;
    const store = new MemoryStore();
    const conn = page(WS, store);
    doc = conn.openDoc('d');
    await settle();
    const put = store.putState.bind(store);
    store.putState = (s) => new Promise<void>((res) => (release = () => void put(s).then(res)));
    doc.insert(0, 'a');
    await settle(300);
    expect(server.received.filter((m) => m.t === 'op')).toHaveLength(0);
    release();
    await settle(300);
    expect(server.received.filter((m) => m.t === 'op')).toHaveLength(1);
    expect((await store.getState('d', conn.sid))?.lastSeq).toBe(1);
    conn.destroy();
  });
});

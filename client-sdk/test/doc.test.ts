import { describe, expect, it, vi } from 'vitest';
import { type DocChange } from '../src/index.js';
import { harness, peerUser, SID, synced as syncedTo, useFakeTimers } from './helpers/manual.js';

useFakeTimers();

/** Opens doc "d", welcomes (checking hello and join) and answers the join with `text` at version `v`. */
async function synced(text = 'hello', v = 3) {
  const r = await syncedTo(text, v);
  expect(r.s.of('hello')[0]).toMatchObject({ proto: 1, sid: SID, user: { name: 'Ada', color: '#f00' } });
  expect(r.s.of('join')).toEqual([{ t: 'join', doc: 'd' }]);
  expect(r.doc.status).toBe('synced');
  return r;
}

describe('Connection', () => {
  it('uses the tandem.v1 subprotocol and sends the token in the query by default', async () => {
    const h = harness({ token: 'a b' });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.socket().url).toBe('ws://server/v1/ws?token=a%20b');
    expect(h.socket().protocols).toEqual(['tandem.v1']);
    expect(h.socket().options).toBeUndefined();
  });

  it('can send the token as a bearer header (Node)', async () => {
    const h = harness({ token: () => Promise.resolve('tok'), tokenTransport: 'header' });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.socket().url).toBe('ws://server/v1/ws');
    expect(h.socket().options).toEqual({ headers: { Authorization: 'Bearer tok' } });
  });

  it('a refused fixed token closes the connection and rejects ready; a token provider is retried', async () => {
    const h = harness({ token: 'expired' });
    const doc = h.conn.openDoc('d');
    await vi.advanceTimersByTimeAsync(0);
    const s = h.socket();
    s.open();
    s.deliver({ t: 'error', code: 'unauthorized', msg: 'token expired' });
    s.drop(1008);
    await expect(doc.ready).rejects.toMatchObject({ code: 'unauthorized' });
    expect(h.conn.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(1);

    let n = 0;
    const p = harness({ token: () => `t${++n}` });
    await vi.advanceTimersByTimeAsync(0);
    p.socket().open();
    p.socket().deliver({ t: 'error', code: 'unauthorized', msg: 'token expired' });
    p.socket().drop(1008);
    await vi.advanceTimersByTimeAsync(1000);
    expect(p.sockets).toHaveLength(2);
    expect(p.socket().url).toBe('ws://server/v1/ws?token=t2');
    p.conn.destroy();
    h.conn.destroy();
  });

  it('emits connecting, online, offline and reconnects with growing, jittered back-off', async () => {
    const h = harness();
    const states: string[] = [];
    h.conn.on('state', (e) => states.push(e.state));
    const delays: (number | null)[] = [];
    h.conn.on('offline', (e) => delays.push(e.retryInMs));
    await h.welcome();
    expect(h.conn.state).toBe('online');
    for (let i = 0; i < 5; i++) {
      h.socket().drop();
      await vi.advanceTimersByTimeAsync(2000);
    }
    expect(h.sockets.length).toBe(6);
    expect(states.slice(0, 3)).toEqual(['connecting', 'online', 'offline']);
    const d = delays as number[];
    // attempt k waits between base/2 and base, base = 100 * 2^k capped at 1000
    const bases = [100, 200, 400, 800, 1000];
    d.forEach((x, k) => {
      expect(x).toBeGreaterThanOrEqual((bases[k] as number) / 2);
      expect(x).toBeLessThanOrEqual(bases[k] as number);
    });
  });

  it('keeps a stable sid in storage and validates it', async () => {
    const { MemoryStorage } = await import('./helpers/fake-server.js');
    const storage = new MemoryStorage();
    const a = harness({ sid: undefined, storage, autoConnect: false });
    const b = harness({ sid: undefined, storage, autoConnect: false });
    expect(a.conn.sid).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
    expect(b.conn.sid).toBe(a.conn.sid);
    const c = harness({ sid: undefined, storage: null, autoConnect: false });
    expect(c.conn.sid).not.toBe(a.conn.sid);
    expect(() => harness({ sid: 'short' })).toThrow();
  });

  it('treats a silent connection as dead: probes by re-joining, then reconnects', async () => {
    const h = harness({ idleTimeoutMs: 3000 });
    const doc = h.conn.openDoc('d');
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', v: 0, text: '', peers: [], mode: 'rw' });
    await vi.advanceTimersByTimeAsync(1100);
    expect(s.of('join')).toEqual([{ t: 'join', doc: 'd' }, { t: 'join', doc: 'd', v: 0 }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(s.closedByClient).not.toBeNull();
    expect(h.conn.state).not.toBe('online');
    expect(doc.status).toBe('offline');
    await vi.advanceTimersByTimeAsync(200);
    expect(h.sockets.length).toBe(2);
  });

  it('ignores garbage frames but reports them', async () => {
    const h = harness();
    const errors: string[] = [];
    h.conn.on('error', (e) => errors.push(e.code));
    const s = await h.welcome();
    s.onmessage?.({ data: 'text frame' });
    s.onmessage?.({ data: new Uint8Array([0xc1]) });
    s.deliver({ t: 'error', code: 'rate_limited', msg: 'slow down' });
    expect(errors).toEqual(['protocol', 'protocol', 'rate_limited']);
    expect(h.conn.state).toBe('online');
  });
});

describe('TextDoc state machine', () => {
  it('sends one op at a time and buffers (composes) the rest until the ack', async () => {
    const { doc, s } = await synced('hello', 3);
    doc.insert(5, '!');
    expect(doc.text).toBe('hello!');
    expect(doc.status).toBe('pending');
    expect(s.of('op')).toEqual([{ t: 'op', doc: 'd', v: 3, seq: 1, op: [5, '!'], sel: null }]);
    doc.insert(0, '>');
    doc.insert(1, ' ');
    expect(s.of('op').length).toBe(1);
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 3 });
    expect(doc.version).toBe(4);
    expect(s.of('op')[1]).toEqual({ t: 'op', doc: 'd', v: 4, seq: 2, op: ['> '], sel: null });
    s.deliver({ t: 'ack', doc: 'd', seq: 2, v: 4 });
    expect(doc.status).toBe('synced');
    expect(doc.version).toBe(5);
  });

  it('transforms a remote op against the in-flight and buffered ops', async () => {
    const { doc, s } = await synced('abc', 0);
    doc.insert(3, 'X'); // in flight
    doc.insert(0, 'Y'); // buffered
    const changes: DocChange[] = [];
    doc.on('change', (c) => changes.push(c));
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [1, '1', -1], sid: 'other-sid-0123456789', seq: 9 }); // "abc" -> "a1c"
    expect(doc.text).toBe('Ya1cX');
    expect(changes[0]).toMatchObject({ remote: true, sid: 'other-sid-0123456789', op: [2, '1', -1] });
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 1 });
    // the buffered op is sent against version 2, unchanged by the remote op (it is before it)
    expect(s.of('op')[1]).toMatchObject({ v: 2, seq: 2, op: ['Y'] });
  });

  it('concurrent inserts at one position: the committed remote op goes first', async () => {
    const { doc, s } = await synced('', 0);
    doc.insert(0, 'mine');
    s.deliver({ t: 'op', doc: 'd', v: 0, op: ['theirs'], sid: 'other-sid-0123456789', seq: 1 });
    expect(doc.text).toBe('theirsmine');
  });

  it('handles server frames that are arrays of maps, in order', async () => {
    const { doc, s } = await synced('', 0);
    doc.insert(0, 'a');
    s.deliver([
      { t: 'op', doc: 'd', v: 0, op: ['x'], sid: 'other-sid-0123456789', seq: 1 },
      { t: 'op', doc: 'd', v: 1, op: [1, 'y'], sid: 'other-sid-0123456789', seq: 2 },
      { t: 'ack', doc: 'd', seq: 1, v: 2 },
    ]);
    expect(doc.text).toBe('xya');
    expect(doc.version).toBe(3);
    expect(doc.status).toBe('synced');
  });

  it('detects a version gap and re-joins with its last version', async () => {
    const { doc, s } = await synced('abc', 5);
    s.deliver({ t: 'op', doc: 'd', v: 7, op: ['x'], sid: 'other-sid-0123456789', seq: 1 });
    expect(doc.text).toBe('abc');
    expect(s.last()).toEqual({ t: 'join', doc: 'd', v: 5 });
    expect(doc.status).toBe('joining');
    s.deliver({
      t: 'joined',
      doc: 'd',
      v: 8,
      ops: [
        { v: 5, op: ['1'], sid: 'other-sid-0123456789', seq: 1 },
        { v: 6, op: ['2'], sid: 'other-sid-0123456789', seq: 2 },
        { v: 7, op: ['x'], sid: 'other-sid-0123456789', seq: 3 },
      ],
      peers: [],
      mode: 'rw',
    });
    expect(doc.text).toBe('x21abc');
    expect(doc.version).toBe(8);
    expect(doc.status).toBe('synced');
  });

  it('an ack with an unexpected version is a gap too', async () => {
    const { doc, s } = await synced('abc', 5);
    doc.insert(0, 'z');
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 6 });
    expect(s.last()).toEqual({ t: 'join', doc: 'd', v: 5 });
    s.deliver({ t: 'joined', doc: 'd', v: 7, ops: [{ v: 5, op: ['q'], sid: 'other-sid-0123456789', seq: 4 }, { v: 6, op: [1, 'z'], sid: SID, seq: 1 }], peers: [], mode: 'rw' });
    expect(doc.text).toBe('qzabc');
    expect(doc.status).toBe('synced');
  });

  it('reconnect: re-joins with v; its committed in-flight op in the catch-up counts as the ack', async () => {
    const { h, doc, s } = await synced('abc', 2);
    doc.insert(0, 'A'); // seq 1 in flight
    doc.insert(0, 'B'); // buffered
    s.drop();
    expect(doc.status).toBe('offline');
    doc.insert(0, 'C'); // offline edit, composed into the buffer
    await vi.advanceTimersByTimeAsync(200);
    const s2 = await h.welcome();
    expect(s2.of('join')).toEqual([{ t: 'join', doc: 'd', v: 2 }]);
    expect(s2.of('op')).toEqual([]); // nothing until joined
    s2.deliver({ t: 'joined', doc: 'd', v: 3, ops: [{ v: 2, op: ['A'], sid: SID, seq: 1 }], peers: [], mode: 'rw' });
    expect(doc.text).toBe('CBAabc');
    expect(s2.of('op')).toEqual([{ t: 'op', doc: 'd', v: 3, seq: 2, op: ['CB'], sel: null }]);
  });

  it('reconnect: an uncommitted in-flight op is transformed and resubmitted with the same seq', async () => {
    const { h, doc, s } = await synced('abc', 2);
    doc.insert(3, '!'); // seq 1
    s.drop();
    await vi.advanceTimersByTimeAsync(200);
    const s2 = await h.welcome();
    s2.deliver({ t: 'joined', doc: 'd', v: 3, ops: [{ v: 2, op: ['>'], sid: 'other-sid-0123456789', seq: 1 }], peers: [], mode: 'rw' });
    expect(doc.text).toBe('>abc!');
    expect(s2.of('op')).toEqual([{ t: 'op', doc: 'd', v: 3, seq: 1, op: [4, '!'], sel: null }]);
    s2.deliver({ t: 'ack', doc: 'd', seq: 1, v: 3 });
    expect(doc.status).toBe('synced');
    doc.insert(0, 'x');
    expect(s2.of('op')[1]).toMatchObject({ seq: 2, v: 4 });
  });

  it('edits made before the first sync are sent after joining', async () => {
    const h = harness();
    const doc = h.conn.openDoc('d');
    doc.insert(0, 'early');
    expect(doc.status).toBe('offline');
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', v: 4, text: 'server', peers: [], mode: 'rw' });
    // The server's text was committed first, so it goes first.
    expect(doc.text).toBe('serverearly');
    expect(s.of('op')).toEqual([{ t: 'op', doc: 'd', v: 4, seq: 1, op: [6, 'early'], sel: null }]);
    await expect(doc.ready).resolves.toBeUndefined();
  });

  it('full-text re-join with pending edits rebases them on the server text', async () => {
    const { h, doc, s } = await synced('abc', 2);
    doc.insert(3, '!');
    s.drop();
    await vi.advanceTimersByTimeAsync(200);
    const s2 = await h.welcome();
    s2.deliver({ t: 'joined', doc: 'd', v: 9, text: 'XXabc', peers: [], mode: 'rw' });
    expect(doc.text).toBe('XXabc!');
    expect(s2.of('op')).toEqual([{ t: 'op', doc: 'd', v: 9, seq: 1, op: [5, '!'], sel: null }]);
    // ...and if that op had in fact been committed before, its ack names an older version:
    s2.deliver({ t: 'ack', doc: 'd', seq: 1, v: 4 });
    expect(doc.status).toBe('synced');
  });

  it('full-text re-join after a long time offline: pending edits stay in the lines they were made in', async () => {
    const { h, doc, s } = await synced('one\ntwo\nthree\nfour\n', 2);
    s.drop();
    // Offline: edit the middle of "three" and delete "two".
    doc.insert(10, '😀');
    doc.delete(4, 4);
    expect(doc.text).toBe('one\nth😀ree\nfour\n');
    await vi.advanceTimersByTimeAsync(200);
    const s2 = await h.welcome();
    // Meanwhile others rewrote the first and the last line (too long ago for a catch-up with ops).
    s2.deliver({ t: 'joined', doc: 'd', v: 5000, text: 'ONE 1\ntwo\nthree\nFOUR 4\n', peers: [], mode: 'rw' });
    expect(doc.text).toBe('ONE 1\nth😀ree\nFOUR 4\n');
    expect(s2.of('op')).toHaveLength(1);
  });

  it('invalid_op drops the op, emits an event and re-joins for the full text', async () => {
    const { doc, s } = await synced('abc', 1);
    const events: unknown[] = [];
    doc.on('invalid_op', (e) => events.push(e));
    doc.insert(0, 'bad');
    doc.insert(0, 'more');
    s.deliver({ t: 'error', code: 'invalid_op', msg: 'nope', doc: 'd', seq: 1 });
    expect(events).toEqual([{ code: 'invalid_op', msg: 'nope', seq: 1, dropped: ['morebad'] }]);
    expect(s.last()).toEqual({ t: 'join', doc: 'd' });
    s.deliver({ t: 'joined', doc: 'd', v: 1, text: 'abc', peers: [], mode: 'rw' });
    expect(doc.text).toBe('abc');
    expect(doc.status).toBe('synced');
  });

  it('deleted closes the document and emits an event', async () => {
    const { h, doc, s } = await synced('abc', 1);
    const deleted = vi.fn();
    doc.on('deleted', deleted);
    s.deliver({ t: 'error', code: 'deleted', msg: 'gone', doc: 'd' });
    expect(deleted).toHaveBeenCalledWith({ msg: 'gone' });
    expect(doc.status).toBe('closed');
    expect(() => doc.insert(0, 'x')).toThrow(/closed/);
    expect(h.conn.openDocs).toEqual([]);
  });

  it('not_found rejects ready', async () => {
    const h = harness();
    const doc = h.conn.openDoc('missing');
    const s = await h.welcome();
    s.deliver({ t: 'error', code: 'not_found', msg: 'no such document', doc: 'missing' });
    await expect(doc.ready).rejects.toMatchObject({ code: 'not_found' });
  });

  it('read-only documents refuse local edits', async () => {
    const h = harness();
    const doc = h.conn.openDoc('d');
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', v: 0, text: 'ro', peers: [], mode: 'r' });
    expect(doc.mode).toBe('r');
    expect(() => doc.insert(0, 'x')).toThrow(/read-only/);
  });

  it('rate_limited op is resubmitted later with the same seq', async () => {
    const { doc, s } = await synced('', 0);
    doc.insert(0, 'x');
    s.deliver({ t: 'error', code: 'rate_limited', msg: 'slow', doc: 'd', seq: 1 });
    await vi.advanceTimersByTimeAsync(1100);
    expect(s.of('op').map((m) => m.seq)).toEqual([1, 1]);
  });

  it('leave on close', async () => {
    const { doc, s } = await synced('', 0);
    doc.close();
    expect(s.last()).toEqual({ t: 'leave', doc: 'd' });
  });

  it('UTF-16 edits with emoji are sent in code points', async () => {
    const { doc, s } = await synced('😀x', 0);
    doc.applyChangesUtf16([{ from: 2, to: 3, insert: '👍🏽' }]);
    expect(doc.text).toBe('😀👍🏽');
    expect(s.of('op')[0]).toMatchObject({ op: [1, '👍🏽', -1] });
    expect(() => doc.applyChangesUtf16([{ from: 1, to: 1, insert: 'a' }])).toThrow();
  });
});

describe('Presence', () => {
  it('sends presence only when no op is in flight; the selection rides on the next op; data waits for the ack', async () => {
    const { doc, s } = await synced('hello', 0);
    doc.presence.setSelection([[1, 1]]);
    await vi.advanceTimersByTimeAsync(60);
    expect(s.of('presence')).toEqual([{ t: 'presence', doc: 'd', v: 0, sel: [[1, 1]] }]);
    doc.insert(5, '!');
    doc.presence.setSelection([[6, 6]]);
    doc.presence.setData({ cursor: { x: 1, y: 2 } });
    await vi.advanceTimersByTimeAsync(60);
    expect(s.of('presence').length).toBe(1); // op in flight: wait
    doc.insert(6, '?'); // buffered
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    expect(s.of('op')[1]).toMatchObject({ seq: 2, sel: [[7, 7]] }); // selection after the edit
    s.deliver({ t: 'ack', doc: 'd', seq: 2, v: 1 });
    await vi.advanceTimersByTimeAsync(60);
    expect(s.of('presence')[1]).toEqual({ t: 'presence', doc: 'd', v: 2, sel: [[7, 7]], data: { cursor: { x: 1, y: 2 } } });
  });

  it('throttles presence updates', async () => {
    const { doc, s } = await synced('hello world', 0);
    for (let i = 0; i < 10; i++) {
      doc.presence.setSelection([[i, i]]);
      await vi.advanceTimersByTimeAsync(10);
    }
    await vi.advanceTimersByTimeAsync(100);
    const sent = s.of('presence');
    expect(sent.length).toBeLessThanOrEqual(3);
    expect(sent[sent.length - 1]?.sel).toEqual([[9, 9]]);
  });

  it('remote selections are transformed through pending local ops and later edits; leave is reported', async () => {
    const { doc, s } = await synced('abcdef', 0);
    doc.insert(0, 'XY'); // in flight
    const changes = vi.fn();
    doc.presence.on('change', changes);
    s.deliver({ t: 'presence', doc: 'd', v: 0, peers: [{ sid: 'bob-sid-0123456789ab', user: peerUser, sel: [[2, 4]], data: { cursor: { x: 5, y: 6 } } }] });
    const bob = doc.presence.getPeer('bob-sid-0123456789ab');
    expect(bob?.selection).toEqual([[4, 6]]);
    expect(bob?.data).toEqual({ cursor: { x: 5, y: 6 } });
    expect(changes).toHaveBeenCalledTimes(1);
    // A remote op from bob with his selection after it (server coordinates at v+1).
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [6, 'Z'], sid: 'bob-sid-0123456789ab', seq: 1, sel: [[7, 7]] });
    expect(doc.text).toBe('XYabcdefZ');
    expect(doc.presence.getPeer('bob-sid-0123456789ab')?.selection).toEqual([[9, 9]]);
    // A local insert before his caret moves it.
    doc.insert(0, '_');
    expect(doc.presence.getPeer('bob-sid-0123456789ab')?.selection).toEqual([[10, 10]]);
    expect(doc.presence.toUtf16([[10, 10]])).toEqual([[10, 10]]);
    const left = vi.fn();
    doc.presence.on('leave', left);
    s.deliver({ t: 'presence', doc: 'd', v: 1, peers: [], gone: ['bob-sid-0123456789ab'] });
    expect(left).toHaveBeenCalledOnce();
    expect(doc.presence.getPeers()).toEqual([]);
  });

  it('presence from an older version is moved through the ops committed since', async () => {
    const { doc, s } = await synced('abc', 0);
    doc.insert(0, '12'); // ours, v0
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    s.deliver({ t: 'presence', doc: 'd', v: 0, peers: [{ sid: 'bob-sid-0123456789ab', user: peerUser, sel: [[1, 1]] }] });
    expect(doc.presence.getPeer('bob-sid-0123456789ab')?.selection).toEqual([[3, 3]]);
  });

  it('UTF-16 selection API converts around emoji', async () => {
    const { doc, s } = await synced('😀😀ab', 0);
    doc.presence.setSelectionUtf16([[4, 5]]);
    expect(doc.presence.localSelection).toEqual([[2, 3]]);
    await vi.advanceTimersByTimeAsync(60);
    expect(s.of('presence')[0]?.sel).toEqual([[2, 3]]);
  });

  it('peers from joined replace the list, and own sid is excluded', async () => {
    const h = harness();
    const doc = h.conn.openDoc('d');
    const s = await h.welcome();
    s.deliver({
      t: 'joined',
      doc: 'd',
      v: 0,
      text: 'abc',
      peers: [
        { sid: SID, user: { id: 'u1', name: 'Ada', color: '#f00' }, sel: null },
        { sid: 'bob-sid-0123456789ab', user: peerUser, sel: [[1, 2]] },
      ],
      mode: 'rw',
    });
    expect(doc.presence.getPeers().map((p) => p.user.name)).toEqual(['Bob']);
  });
});

describe('UndoManager', () => {
  it('undoes and redoes only own edits, transformed through remote edits', async () => {
    const { doc, s } = await synced('', 0);
    doc.insert(0, 'hello');
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    s.deliver({ t: 'op', doc: 'd', v: 1, op: ['>> '], sid: 'bob-sid-0123456789ab', seq: 1 });
    doc.insert(8, ' world');
    s.deliver({ t: 'op', doc: 'd', v: 2, op: [3, 'X'], sid: 'bob-sid-0123456789ab', seq: 2 });
    expect(doc.text).toBe('>> Xhello world');
    expect(doc.undo()).toBe(true);
    expect(doc.text).toBe('>> Xhello');
    expect(doc.undo()).toBe(true);
    expect(doc.text).toBe('>> X');
    expect(doc.undo()).toBe(false);
    s.deliver({ t: 'op', doc: 'd', v: 3, op: [4, '!'], sid: 'bob-sid-0123456789ab', seq: 3 });
    // positions are transformed: v3 is concurrent with our pending ops
    expect(doc.redo()).toBe(true);
    expect(doc.redo()).toBe(true);
    expect(doc.text.replace('!', '')).toBe('>> Xhello world');
    expect(doc.text).toContain('!');
    expect(doc.undoManager.canRedo).toBe(false);
  });

  it('undo restores deleted text around remote inserts, including emoji', async () => {
    const { doc, s } = await synced('a😀b😀c', 0);
    doc.delete(1, 3); // remove "😀b😀"
    expect(doc.text).toBe('ac');
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [5, '!'], sid: 'bob-sid-0123456789ab', seq: 1 });
    expect(doc.text).toBe('ac!');
    doc.undo();
    expect(doc.text).toBe('a😀b😀c!');
  });

  it('groups quick consecutive edits into one step', async () => {
    const h = harness();
    const doc = h.conn.openDoc('d', { undoCaptureMs: 500 });
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', v: 0, text: '', peers: [], mode: 'rw' });
    doc.insert(0, 'a');
    doc.insert(1, 'b');
    await vi.advanceTimersByTimeAsync(600);
    doc.insert(2, 'c');
    doc.undo();
    expect(doc.text).toBe('ab');
    doc.undo();
    expect(doc.text).toBe('');
  });
});

/**
 * Ties by sid and the caret rule (docs/protocol.md, "Concurrent edits") in
 * TextDoc, presence and undo, with a scripted server; and a simulation in which
 * SDK clients type words at one spot through the fake server and every word
 * stays whole.
 */
import { describe, expect, it, vi } from 'vitest';
import { Connection, type TextDoc } from '../src/index.js';
import { cpLength } from '../src/ot/index.js';
import { FakeServer, MemoryStorage } from './helpers/fake-server.js';
import { peerUser, SID, synced as syncedTo, useFakeTimers } from './helpers/manual.js';
import { rng } from './helpers/random.js';

useFakeTimers();

// SID is 'test-sid-0123456789': BEFORE sorts before it, AFTER after it.
const BEFORE = 'a-peer-0123456789ab';
const AFTER = 'z-peer-0123456789ab';

function synced(text: string) {
  return syncedTo(text, 0, [
    { sid: BEFORE, user: peerUser, sel: [[1, 1]] },
    { sid: AFTER, user: peerUser, sel: [[1, 1]] },
  ]);
}

describe('ties by sid in TextDoc', () => {
  it("a pending insert goes right of a remote one at the same spot when the remote author's sid sorts first", async () => {
    const { h, doc, s } = await synced('x');
    doc.presence.setSelection([[1, 1]]);
    doc.insert(1, 'mine');
    expect(doc.presence.localSelection).toEqual([[5, 5]]); // after the user's own insert
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [1, 'theirs'], sid: BEFORE, seq: 1 });
    expect(doc.text).toBe('xtheirsmine');
    expect(doc.presence.localSelection).toEqual([[11, 11]]);
    // The in-flight op was moved past the remote one; the server commits it as such.
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 1 });
    doc.insert(11, '!');
    expect(s.of('op').at(-1)).toMatchObject({ v: 2, op: [11, '!'] });
    h.conn.destroy();
  });

  it("a pending insert goes left of a remote one at the same spot when its own sid sorts first; the caret stays before the remote text", async () => {
    const { h, doc, s } = await synced('x');
    doc.presence.setSelection([[1, 1]]);
    doc.insert(1, 'mine');
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [1, 'theirs'], sid: AFTER, seq: 1 });
    expect(doc.text).toBe('xminetheirs');
    // The remote insert landed exactly at the caret: the caret stays before it,
    // so the next letters extend "mine", not split "theirs".
    expect(doc.presence.localSelection).toEqual([[5, 5]]);
    doc.insert(5, '2');
    expect(doc.text).toBe('xmine2theirs');
    h.conn.destroy();
  });

  it("carets of peers follow the rule: someone else's stays before an insert at it, the author's own moves after it", async () => {
    const { h, doc, s } = await synced('x');
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [1, 'abc'], sid: AFTER, seq: 1 });
    const at = (sid: string) => doc.presence.getPeer(sid)?.selection;
    expect(at(AFTER)).toEqual([[4, 4]]); // the author's own caret, no sel sent: after its insert
    expect(at(BEFORE)).toEqual([[1, 1]]); // someone else's: before it
    // A local insert at a peer's caret leaves the peer's caret before it.
    doc.insert(1, '😀');
    expect(at(BEFORE)).toEqual([[1, 1]]);
    expect(at(AFTER)).toEqual([[5, 5]]);
    h.conn.destroy();
  });

  it('a presence at an older version is moved through the ops since with the rule', async () => {
    const { h, doc, s } = await synced('x');
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [1, 'abc'], sid: AFTER, seq: 1 });
    s.deliver({ t: 'presence', doc: 'd', v: 0, peers: [{ sid: BEFORE, user: peerUser, sel: [[1, 1]] }, { sid: AFTER, user: peerUser, sel: [[1, 1]] }] });
    expect(doc.presence.getPeer(BEFORE)?.selection).toEqual([[1, 1]]);
    expect(doc.presence.getPeer(AFTER)?.selection).toEqual([[4, 4]]);
    h.conn.destroy();
  });

  it('undo of a deletion restores the text on the side the sids say against a concurrent insert', async () => {
    const { h, doc, s } = await synced('abc');
    doc.delete(1, 1); // "ac"
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    s.deliver({ t: 'op', doc: 'd', v: 1, op: [1, 'X'], sid: BEFORE, seq: 1 }); // "aXc"
    doc.undo();
    expect(doc.text).toBe('aXbc'); // BEFORE sorts first: its X stays left of the restored b
    h.conn.destroy();
    const o = await synced('abc');
    o.doc.delete(1, 1);
    o.s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    o.s.deliver({ t: 'op', doc: 'd', v: 1, op: [1, 'X'], sid: AFTER, seq: 1 });
    o.doc.undo();
    expect(o.doc.text).toBe('abXc');
    o.h.conn.destroy();
    expect(SID > BEFORE && SID < AFTER).toBe(true);
  });
});

const WORDS = ['alpha😀', 'beta👍', 'gamma🎉', 'delta中', 'epsilon-é'];

describe('typing words at one spot', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`2-4 SDK clients typing at one spot through the fake server keep every word whole (seed ${seed})`, async () => {
      const r = rng(100 + seed);
      const server = new FakeServer({ random: r, maxDelayMs: 30 });
      const n = 2 + Math.floor(r() * 3);
      const clients: { conn: Connection; doc: TextDoc }[] = [];
      for (let i = 0; i < n; i++) {
        const conn = new Connection({
          url: 'ws://fake/v1/ws',
          WebSocket: server.WebSocket,
          sid: `sid-${Math.floor(r() * 1e12).toString(36).padStart(12, '0')}-${i}`,
          storage: new MemoryStorage(),
          user: { name: `user${i}`, color: '#123456' },
          idleTimeoutMs: 600_000,
        });
        clients.push({ conn, doc: conn.openDoc('doc', { undoCaptureMs: 0 }) });
      }
      const settle = async () => {
        for (let i = 0; i < 400; i++) {
          await vi.advanceTimersByTimeAsync(50);
          if (clients.every((c) => c.doc.status === 'synced')) return;
        }
        throw new Error('did not settle');
      };
      await settle();
      clients[0]?.doc.insert(0, 'start end');
      await settle();
      // Everyone puts the caret at one spot while in sync, then types a word
      // one code point per key press, with random network delays.
      for (const c of clients) c.doc.presence.setSelection([[6, 6]]);
      const todo = clients.map((_, i) => [...(WORDS[i] as string)]);
      while (todo.some((t) => t.length > 0)) {
        const i = Math.floor(r() * n);
        const c = clients[i] as { doc: TextDoc };
        const ch = todo[i]?.shift();
        if (ch !== undefined) {
          const sel = c.doc.presence.localSelection;
          const head = sel?.[0]?.[1] ?? 0;
          c.doc.insert(head, ch);
        }
        await vi.advanceTimersByTimeAsync(Math.floor(r() * 12));
      }
      await settle();
      const text = server.doc('doc').text;
      for (const c of clients) expect(c.doc.text).toBe(text);
      for (let i = 0; i < n; i++) expect(text.split(WORDS[i] as string).length - 1, `${WORDS[i]} in ${text}`).toBe(1);
      expect(cpLength(text)).toBe(9 + WORDS.slice(0, n).reduce((k, w) => k + cpLength(w), 0));
      expect(server.violations).toEqual([]);
      for (const c of clients) c.conn.destroy();
    });
  }
});

/** The pure DocState's hooks for offline storage: saved(), restore(), adoptSid() and the unsynced count. */
import { describe, expect, it } from 'vitest';
import type { ClientMessage } from '../src/protocol.js';
import { DocState, type Effect } from '../src/state.js';
import { textType } from '../src/text-doc.js';
import type { Op, Range } from '../src/ot/op.js';

function make(sid = 'me-sid-0123456789abc') {
  const sent: ClientMessage[] = [];
  const effects: Effect<string, Op, Range[]>[] = [];
  let seq = 10;
  const st = new DocState('d', sid, textType, { send: (m) => (sent.push(m as ClientMessage), true), nextSeq: () => ++seq, effect: (e) => effects.push(e) }, { undoCaptureMs: 0 });
  return { st, sent, effects };
}

describe('DocState and offline storage', () => {
  it('counts unacknowledged edits and reports each change of the count', () => {
    const { st, effects } = make();
    st.connected();
    st.handle({ t: 'joined', doc: 'd', v: 0, text: 'ab', peers: [], mode: 'rw' });
    st.local([2, 'c'], undefined, 'edit', 0);
    st.local([3, 'd'], undefined, 'edit', 1);
    st.local([4, 'e'], undefined, 'edit', 2);
    expect(st.unsynced).toBe(3);
    st.handle({ t: 'ack', doc: 'd', seq: 11, v: 0 });
    expect(st.unsynced).toBe(2); // the buffer went out
    st.handle({ t: 'ack', doc: 'd', seq: 12, v: 1 });
    expect(st.unsynced).toBe(0);
    expect(effects.filter((e) => e.kind === 'unsynced').map((e) => (e as { count: number }).count)).toEqual([1, 2, 3, 2, 0]);
  });

  it('saved() and restore() carry the base, the version and the pending ops with their seq', () => {
    const a = make();
    a.st.connected();
    a.st.handle({ t: 'joined', doc: 'd', v: 4, text: 'hello', peers: [], mode: 'rw' });
    a.st.local([5, '!'], undefined, 'edit', 0);
    a.st.disconnected();
    a.st.local(['> '], undefined, 'edit', 1);
    const saved = structuredClone(a.st.saved());
    expect(saved).toEqual({ v: 4, base: 'hello', inflight: { seq: 11, op: [5, '!'] }, buffer: ['> '], unsynced: 2 });

    const b = make();
    b.st.restore(saved);
    expect(b.st.content).toBe('> hello!');
    expect(b.st.version).toBe(4);
    expect(b.effects.map((e) => e.kind)).toContain('change');
    b.st.connected();
    expect(b.sent).toEqual([{ t: 'join', doc: 'd', v: 4 }]);
    b.st.handle({ t: 'joined', doc: 'd', v: 5, ops: [{ v: 4, op: ['x'], sid: 'other-sid-0123456789', seq: 1 }], peers: [], mode: 'rw' });
    // The op in flight goes again with its own seq, rebased past the other's op.
    expect(b.sent[1]).toEqual({ t: 'op', doc: 'd', v: 5, seq: 11, op: [6, '!'], sel: null });
    expect(b.st.content).toBe('> xhello!');
  });

  it('restore() keeps edits typed before the storage answered, on top of the stored text', () => {
    const { st } = make();
    st.local(['typed '], undefined, 'edit', 0);
    st.restore({ v: 2, base: 'stored', inflight: null, buffer: [6, '.'], unsynced: 1 });
    expect(st.version).toBe(2);
    expect(st.unsynced).toBe(2);
    expect(st.content).toBe('stored.typed ');
    expect(structuredClone(st.saved()).buffer).toEqual([6, '.typed ']);
  });

  it('adoptSid() only before the first sync', () => {
    const { st } = make();
    st.adoptSid('adopted-sid-0123456789');
    expect(st.sid).toBe('adopted-sid-0123456789');
    st.connected();
    expect(() => st.adoptSid('another-sid-0123456789')).toThrow();
  });
});

/**
 * One contract suite for every OfflineStore implementation: the in-memory
 * store and the IndexedDB store (run under Node on fake-indexeddb).
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { IndexedDBStore } from '../src/storage/idb.js';
import { MemoryStore } from '../src/storage/memory.js';
import type { OfflineStore, StoredState } from '../src/storage/types.js';

let n = 0;
const impls: [string, () => OfflineStore][] = [
  ['MemoryStore', () => new MemoryStore()],
  ['IndexedDBStore', () => new IndexedDBStore({ name: `contract-${++n}` })],
];

function state(doc: string, sid: string, over: Partial<StoredState> = {}): StoredState {
  return { doc, sid, type: 'text', v: 3, base: 'abc', inflight: { seq: 2, op: [3, 'd'] }, buffer: ['x'], lastSeq: 2, unsynced: 2, updatedAt: 1, ...over };
}

describe.each(impls)('OfflineStore contract: %s', (_name, make) => {
  it('keeps the newest snapshot of a document: an older version never replaces a newer one', async () => {
    const s = make();
    expect(await s.getSnapshot('d')).toBeUndefined();
    expect(await s.putSnapshot({ doc: 'd', type: 'text', v: 5, content: 'five', updatedAt: 1 })).toBe(true);
    expect(await s.putSnapshot({ doc: 'd', type: 'text', v: 4, content: 'four', updatedAt: 2 })).toBe(false);
    expect(await s.putSnapshot({ doc: 'd', type: 'text', v: 5, content: 'other five', updatedAt: 2 })).toBe(false);
    expect((await s.getSnapshot('d'))?.content).toBe('five');
    expect(await s.putSnapshot({ doc: 'd', type: 'text', v: 6, content: 'six', updatedAt: 3 })).toBe(true);
    expect(await s.getSnapshot('d')).toEqual({ doc: 'd', type: 'text', v: 6, content: 'six', updatedAt: 3 });
    expect(await s.getSnapshot('other')).toBeUndefined();
  });

  it('keeps one state per (document, sid): two tabs never overwrite each other', async () => {
    const s = make();
    await s.putState(state('d', 'sid-a-0123456789'));
    await s.putState(state('d', 'sid-b-0123456789', { buffer: ['y'], inflight: null }));
    await s.putState(state('e', 'sid-a-0123456789', { v: 9 }));
    expect((await s.getState('d', 'sid-a-0123456789'))?.buffer).toEqual(['x']);
    expect((await s.getState('d', 'sid-b-0123456789'))?.inflight).toBeNull();
    expect((await s.getState('e', 'sid-a-0123456789'))?.v).toBe(9);
    expect(await s.getState('d', 'sid-c-0123456789')).toBeUndefined();
    await s.putState(state('d', 'sid-a-0123456789', { inflight: null, buffer: null, lastSeq: 7 }));
    expect(await s.getState('d', 'sid-a-0123456789')).toMatchObject({ inflight: null, buffer: null, lastSeq: 7 });
    expect((await s.listStates('d')).map((x) => x.sid).sort()).toEqual(['sid-a-0123456789', 'sid-b-0123456789']);
    expect(await s.listStates()).toHaveLength(3);
  });

  it('hands out copies: changing what it returned or was given changes nothing stored', async () => {
    const s = make();
    const st = state('d', 'sid-a-0123456789');
    await s.putState(st);
    (st.buffer as unknown[]).push('mutated');
    const got = await s.getState('d', 'sid-a-0123456789');
    expect(got?.buffer).toEqual(['x']);
    (got?.buffer as unknown[]).push('again');
    expect((await s.getState('d', 'sid-a-0123456789'))?.buffer).toEqual(['x']);
  });

  it('deletes everything about one document', async () => {
    const s = make();
    await s.putSnapshot({ doc: 'd', type: 'text', v: 1, content: 'x', updatedAt: 1 });
    await s.putState(state('d', 'sid-a-0123456789'));
    await s.putState(state('keep', 'sid-a-0123456789'));
    await s.deleteDoc('d');
    expect(await s.getSnapshot('d')).toBeUndefined();
    expect(await s.listStates('d')).toEqual([]);
    expect(await s.listStates()).toHaveLength(1);
  });

  it('leases a sid to one holder at a time, and a released sid can be taken again', async () => {
    const s = make();
    expect(await s.acquireSid('sid-a-0123456789')).toBe(true);
    expect(await s.acquireSid('sid-a-0123456789')).toBe(true); // the holder again
    const other = make();
    expect(await s.acquireSid('sid-b-0123456789')).toBe(true);
    s.releaseSid('sid-b-0123456789');
    s.releaseSid('sid-a-0123456789');
    expect(await other.acquireSid('sid-a-0123456789')).toBe(true);
    other.releaseSid('sid-a-0123456789');
  });
});

describe('IndexedDBStore', () => {
  it('shares leases between two stores of one database, as two tabs do', async () => {
    const a = new IndexedDBStore({ name: 'shared-leases' });
    const b = new IndexedDBStore({ name: 'shared-leases' });
    expect(await a.acquireSid('sid-x-0123456789')).toBe(true);
    expect(await b.acquireSid('sid-x-0123456789')).toBe(false);
    a.releaseSid('sid-x-0123456789');
    expect(await b.acquireSid('sid-x-0123456789')).toBe(true);
    b.releaseSid('sid-x-0123456789');
  });

  it('sees what another store of the same database wrote (a reload)', async () => {
    const a = new IndexedDBStore({ name: 'reload' });
    await a.putState(state('d', 'sid-a-0123456789'));
    await a.close();
    const b = new IndexedDBStore({ name: 'reload' });
    expect((await b.getState('d', 'sid-a-0123456789'))?.inflight).toEqual({ seq: 2, op: [3, 'd'] });
  });
});

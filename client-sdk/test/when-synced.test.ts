/** `doc.whenSynced()`: resolves once nothing of ours is pending (issue 20), so a script can save and exit. */
import { describe, expect, it, vi } from 'vitest';
import { harness, synced as syncedTo, useFakeTimers } from './helpers/manual.js';

useFakeTimers();

const synced = () => syncedTo('abc', 1);

/** Whether the promise has settled (after the microtasks queued so far), and how. */
async function state(p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let st: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (st = 'resolved'),
    () => (st = 'rejected'),
  );
  await vi.advanceTimersByTimeAsync(0);
  return st;
}

describe('whenSynced', () => {
  it('resolves at once when nothing is pending, and only after the ack of every edit made so far', async () => {
    const { h, doc, s } = await synced();
    expect(await state(doc.whenSynced())).toBe('resolved');
    doc.insert(3, 'd');
    const p = doc.whenSynced();
    doc.insert(4, 'e'); // buffered behind the in-flight op
    expect(await state(p)).toBe('pending');
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 1 });
    expect(doc.hasPendingOps).toBe(true);
    expect(await state(p)).toBe('pending');
    s.deliver({ t: 'ack', doc: 'd', seq: 2, v: 2 });
    expect(await state(p)).toBe('resolved');
    expect(doc.hasPendingOps).toBe(false);
    h.conn.destroy();
  });

  it('waits through an outage: edits made offline are sent after the reconnect and then it resolves', async () => {
    const { h, doc, s } = await synced();
    s.drop();
    doc.insert(0, 'x');
    const p = doc.whenSynced();
    expect(await state(p)).toBe('pending');
    await vi.advanceTimersByTimeAsync(200);
    const s2 = await h.welcome();
    s2.deliver({ t: 'joined', doc: 'd', v: 1, ops: [], peers: [], mode: 'rw' });
    expect(await state(p)).toBe('pending');
    expect(s2.of('op')).toHaveLength(1);
    s2.deliver({ t: 'ack', doc: 'd', seq: 1, v: 1 });
    expect(await state(p)).toBe('resolved');
    h.conn.destroy();
  });

  it('waits for the first sync of a document opened just now', async () => {
    const h = harness();
    const doc = h.conn.openDoc('d');
    doc.insert(0, 'early');
    const p = doc.whenSynced();
    const s = await h.welcome();
    expect(await state(p)).toBe('pending');
    s.deliver({ t: 'joined', doc: 'd', v: 0, text: '', peers: [], mode: 'rw' });
    expect(await state(p)).toBe('pending');
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    expect(await state(p)).toBe('resolved');
    h.conn.destroy();
  });

  it('rejects when a pending edit is refused, when the document is deleted or closed, and when the first sync fails', async () => {
    {
      const { h, doc, s } = await synced();
      doc.insert(0, 'bad');
      const p = doc.whenSynced();
      s.deliver({ t: 'error', code: 'invalid_op', msg: 'nope', doc: 'd', seq: 1 });
      await expect(p).rejects.toMatchObject({ name: 'TandemError', code: 'invalid_op', message: expect.stringContaining('nope') });
      h.conn.destroy();
    }
    {
      const { h, doc, s } = await synced();
      doc.insert(0, 'x');
      const p = doc.whenSynced();
      s.deliver({ t: 'error', code: 'deleted', msg: 'the document was deleted', doc: 'd' });
      await expect(p).rejects.toMatchObject({ code: 'deleted' });
      await expect(doc.whenSynced()).rejects.toMatchObject({ code: 'closed' });
      h.conn.destroy();
    }
    {
      const { h, doc } = await synced();
      doc.insert(0, 'x');
      const p = doc.whenSynced();
      doc.close();
      await expect(p).rejects.toMatchObject({ code: 'closed' });
      h.conn.destroy();
    }
    {
      const h = harness();
      const doc = h.conn.openDoc('ghost');
      const p = doc.whenSynced();
      const s = await h.welcome();
      s.deliver({ t: 'error', code: 'not_found', msg: 'no document "ghost"', doc: 'ghost' });
      await expect(p).rejects.toMatchObject({ code: 'not_found' });
      h.conn.destroy();
    }
  });
});

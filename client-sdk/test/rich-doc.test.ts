/**
 * RichDoc: the `rich` type on the SDK's session machinery. Scripted tests of
 * its API (insert with attributes, format, formatLine, delta, undo of
 * formatting, presence, wrong_type) and random concurrent clients on the
 * fake server, which runs the rich transform, converging.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Attributes, Delta } from '../src/index.js';
import { diffRich, richType } from '../src/rich-doc.js';
import { apply, contentOf, deltaLength, type RichOp } from '../src/rich/index.js';
import { FakeServer, fakeRich } from './helpers/fake-server.js';
import { richClient, syncedRich } from './helpers/rich.js';
import { harness, peerUser, useFakeTimers } from './helpers/manual.js';
import { rng } from './helpers/random.js';
import { pick, randomContent, randomOp, text as randomText } from './helpers/rich-random.js';
import { settle } from './helpers/settle.js';

useFakeTimers();

describe('RichDoc', () => {
  it('joins a rich document: delta, text, length; edits with attributes go out as rich ops', async () => {
    const { h, doc, s } = await syncedRich([{ i: 'Title', a: { bold: true } }, { i: '\n', a: { heading: 1 } }, 'x😀\n']);
    expect(s.of('join')).toEqual([{ t: 'join', doc: 'd' }]);
    expect(doc.status).toBe('synced');
    expect(doc.text).toBe('Title\nx😀\n');
    expect(doc.length).toBe(9);
    doc.insert(8, '!', { italic: true });
    expect(s.of('op')[0]).toMatchObject({ doc: 'd', v: 0, seq: 1, op: [8, { i: '!', a: { italic: true } }] });
    expect(doc.delta()).toEqual([{ i: 'Title', a: { bold: true } }, { i: '\n', a: { heading: 1 } }, 'x😀', { i: '!', a: { italic: true } }, '\n']);
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    doc.format(0, 5, { bold: null, underline: true });
    doc.formatLine(6, 0, { list: 'bullet' });
    doc.formatLine(0, 0, { heading: null });
    expect(doc.delta()).toEqual([{ i: 'Title', a: { underline: true } }, '\nx😀', { i: '!', a: { italic: true } }, { i: '\n', a: { list: 'bullet' } }]);
    expect(doc.attributesAt(7, true)).toEqual({ list: 'bullet' });
    expect(doc.attributesAt(0)).toEqual({ underline: true });
    doc.insertEmbed(0, { image: 'https://x/y.png' }, { alt: 'y' });
    expect(doc.delta()[0]).toEqual({ e: { image: 'https://x/y.png' }, a: { alt: 'y' } });
    expect(doc.text.startsWith('\uFFFC')).toBe(true);
    doc.delete(0, 1);
    doc.setText('Title\nx😀!!\n');
    expect(doc.delta()).toEqual([{ i: 'Title', a: { underline: true } }, '\nx😀', { i: '!', a: { italic: true } }, '!', { i: '\n', a: { list: 'bullet' } }]);
    h.conn.destroy();
  });

  it('undo reverts its own formatting (character and paragraph) and redo brings it back; a remote format survives', async () => {
    const { h, doc, s } = await syncedRich(['one two\n']);
    doc.format(0, 3, { bold: true });
    doc.formatLine(0, 0, { heading: 2 });
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    // Someone else italicises "two" meanwhile.
    s.deliver({ t: 'op', doc: 'd', v: 1, op: [4, { r: 3, a: { italic: true } }], sid: 'peer-sid-000000000000', seq: 1 } as never);
    s.deliver({ t: 'ack', doc: 'd', seq: 2, v: 2 });
    expect(doc.delta()).toEqual([{ i: 'one', a: { bold: true } }, ' ', { i: 'two', a: { italic: true } }, { i: '\n', a: { heading: 2 } }]);
    expect(doc.undo()).toBe(true);
    expect(doc.delta()).toEqual([{ i: 'one', a: { bold: true } }, ' ', { i: 'two', a: { italic: true } }, '\n']);
    expect(doc.undo()).toBe(true);
    expect(doc.delta()).toEqual(['one ', { i: 'two', a: { italic: true } }, '\n']);
    expect(doc.undo()).toBe(false);
    expect(doc.redo()).toBe(true);
    expect(doc.delta()).toEqual([{ i: 'one', a: { bold: true } }, ' ', { i: 'two', a: { italic: true } }, '\n']);
    // The first undo went out as an ordinary rich op (the rest wait for its ack).
    expect(s.of('op')[2]?.op).toEqual([7, { r: 1, a: { heading: null } }]);
    h.conn.destroy();
  });

  it('undo brings deleted formatted text back with its attributes', async () => {
    const { h, doc } = await syncedRich([{ i: 'bold', a: { bold: true } }, ' plain', { i: '\n', a: { blockquote: true } }]);
    doc.delete(2, 6);
    expect(doc.delta()).toEqual([{ i: 'bo', a: { bold: true } }, 'in', { i: '\n', a: { blockquote: true } }]);
    doc.undo();
    expect(doc.delta()).toEqual([{ i: 'bold', a: { bold: true } }, ' plain', { i: '\n', a: { blockquote: true } }]);
    h.conn.destroy();
  });

  it('presence: peers carets in code points, UTF-16 conversions over the plain text (embeds one unit)', async () => {
    const h = harness();
    const doc = h.conn.openRich('d');
    const s = await h.welcome();
    s.deliver({
      t: 'joined',
      doc: 'd',
      type: 'rich',
      v: 0,
      text: ['😀', { e: { image: 'u' } }, 'ab\n'],
      peers: [{ sid: 'peer-sid-000000000000', user: peerUser, sel: [[3, 4]], data: null }],
      mode: 'rw',
    });
    expect(doc.presence.getPeers()[0]?.selection).toEqual([[3, 4]]);
    expect(doc.presence.toUtf16([[3, 4]])).toEqual([[4, 5]]);
    // A remote insert before the caret moves it.
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [{ i: 'X', a: { bold: true } }], sid: 'other-sid-00000000000', seq: 1 } as never);
    expect(doc.presence.getPeers()[0]?.selection).toEqual([[4, 5]]);
    doc.presence.setSelectionUtf16([[3, 3]]);
    await vi.advanceTimersByTimeAsync(100);
    expect(s.of('presence').at(-1)).toMatchObject({ doc: 'd', v: 1, sel: [[2, 2]] }); // 'X😀': three UTF-16 units, two code points
    h.conn.destroy();
  });

  it('a document opened as rich that the server says is text fails with wrong_type; one id cannot be open as both', async () => {
    const h = harness();
    const doc = h.conn.openRich('d');
    expect(() => h.conn.openDoc('d')).toThrow(/already open as a rich document/);
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', type: 'text', v: 0, text: 'plain', peers: [], mode: 'rw' });
    await expect(doc.ready).rejects.toMatchObject({ code: 'wrong_type' });
    h.conn.destroy();
  });

  it('rejects a malformed op and one that deletes the final newline, leaving the document as it was', async () => {
    const { h, doc } = await syncedRich(['ab\n']);
    expect(() => doc.submitOp([{ r: 1, a: { bold: { nested: true } } }] as unknown as RichOp)).toThrow();
    expect(() => doc.delete(0, 3)).toThrow(/final newline/);
    expect(doc.delta()).toEqual(['ab\n']);
    expect(doc.hasPendingOps).toBe(false);
    h.conn.destroy();
  });
});

describe('diffRich (resync after a full re-join)', () => {
  it('turns any content into any other, keeping kept characters in place', () => {
    const r = rng(5);
    for (let i = 0; i < 500; i++) {
      const a = randomContent(r);
      const b = r() < 0.3 ? apply(a, randomOp(r, deltaLength(a))) : randomContent(r);
      const op = diffRich(a, b);
      expect(apply(a, op)).toEqual(b);
    }
    // A format change is a format, not a delete and insert.
    expect(diffRich(['abc\n'], ['a', { i: 'b', a: { bold: true } }, 'c\n'])).toEqual([1, { r: 1, a: { bold: true } }]);
    expect(diffRich([{ i: 'x', a: { bold: true, italic: true } }, '\n'], [{ i: 'x', a: { italic: true } }, '\n'])).toEqual([{ r: 1, a: { bold: null } }]);
    expect(diffRich([{ e: { image: 'a' } }, '\n'], [{ e: { image: 'b' } }, '\n'])).toEqual([{ e: { image: 'b' } }, -1]);
    expect(richType.empty()).toEqual(['\n']);
    expect(richType.decodeContent([])).toEqual(['\n']);
  });
});

const FORMATS: Attributes[] = [{ bold: true }, { bold: null }, { italic: true }, { link: 'https://t' }, { underline: null, strike: true }];
const LINES: Attributes[] = [{ heading: 1 }, { heading: null }, { list: 'bullet' }, { list: 'ordered', indent: 1 }, { blockquote: true }, { 'code-block': true }];

describe('randomized: rich clients on the fake server converge', () => {
  for (const seed of [3, 17, 29, 41]) {
    it(`typing, formatting, paragraph formats, undo, redo and disconnects (seed ${seed})`, async () => {
      const r = rng(seed);
      const server = new FakeServer({ random: r, maxDelayMs: 30, noHistory: seed % 2 === 1, typeOf: () => fakeRich });
      const clients = [0, 1, 2].map((i) => richClient(server, `client${i}`));
      await settle(server, clients);
      for (let step = 0; step < 200; step++) {
        const c = pick(r, clients);
        const n = c.doc.length;
        const at = Math.floor(r() * n);
        const x = r();
        if (x < 0.3) c.doc.insert(at, randomText(r, 3), r() < 0.4 ? { bold: true } : undefined);
        else if (x < 0.42) c.doc.format(at, Math.min(n - 1 - at, 1 + Math.floor(r() * 6)), pick(r, FORMATS));
        else if (x < 0.5) c.doc.formatLine(at, Math.floor(r() * 4), pick(r, LINES));
        else if (x < 0.58 && n > 1) c.doc.delete(at, Math.min(n - 1 - at, 1 + Math.floor(r() * 3)));
        else if (x < 0.63) c.doc.submitOp(randomOp(r, n));
        else if (x < 0.7) c.doc.undo();
        else if (x < 0.74) c.doc.redo();
        else if (x < 0.8) c.doc.presence.setSelection([[at, Math.min(n, at + 2)]]);
        else if (x < 0.84) for (const s of [...server.sockets]) if (r() < 0.3) s.fail();
        await vi.advanceTimersByTimeAsync(Math.floor(r() * 25));
      }
      await settle(server, clients);
      expect(server.violations).toEqual([]);
      const d = server.doc('doc');
      expect(d.log.length).toBeGreaterThan(60);
      const content = d.content as Delta;
      expect(contentOf(content)).toEqual(content);
      for (const c of clients) {
        expect(c.doc.delta()).toEqual(content);
        expect(c.doc.version).toBe(d.log.length);
        for (const p of c.doc.presence.getPeers()) for (const [a, hd] of p.selection ?? []) expect(Math.max(a, hd)).toBeLessThanOrEqual(deltaLength(content));
      }
      // The run formatted something that survived.
      expect(content.some((ins) => typeof ins !== 'string')).toBe(true);
      for (const c of clients) c.conn.destroy();
    });
  }
});

// @vitest-environment happy-dom
/**
 * The Quill binding on a RichDoc: Quill's changes become rich ops in code
 * points, remote ops become `updateContents` with source 'api' (no echo, the
 * caret rule), the carets overlay names the peers, the undo keys go to the
 * document, and a Quill editor and a ProseMirror editor on one document
 * converge under random concurrent edits.
 */
import Quill from 'quill';
import { EditorState } from '@tiptap/pm/state';
import { EditorView } from '@tiptap/pm/view';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deltaToDoc, tandemPlugin } from '../src/bindings/prosemirror.js';
import { bindQuill, flatText, quillToDelta } from '../src/bindings/quill.js';
import type { Delta } from '../src/index.js';
import { FakeServer, fakeRich } from './helpers/fake-server.js';
import { richClient, syncedRich } from './helpers/rich.js';
import { peerUser, useFakeTimers } from './helpers/manual.js';
import { randomEdit, schema } from './helpers/pm-random.js';
import { rng } from './helpers/random.js';
import { settle } from './helpers/settle.js';

useFakeTimers();
afterEach(() => {
  document.body.innerHTML = '';
});

const BOB = 'bob-sid-0123456789ab';

function mountQuill(): Quill {
  const el = document.createElement('div');
  document.body.appendChild(el);
  return new Quill(el, { formats: ['bold', 'italic', 'underline', 'strike', 'code', 'link', 'header', 'list', 'indent', 'blockquote', 'code-block', 'image'] });
}

const contents = (q: Quill): Delta => quillToDelta(q.getContents());

describe('Quill binding', () => {
  it('shows the document and turns typing and formatting into ops in code points', async () => {
    const { h, doc, s } = await syncedRich([{ i: 'Hi', a: { bold: true } }, { i: '\n', a: { heading: 2 } }, '😀 x\n']);
    const quill = mountQuill();
    const b = bindQuill(doc, quill);
    expect(contents(quill)).toEqual(doc.delta());
    expect(quill.getContents().ops[1]).toEqual({ insert: '\n', attributes: { header: 2 } });
    quill.insertText(7, '!', 'user'); // after "Hi\n😀 x": UTF-16 3 + 4
    expect(s.of('op')[0]).toMatchObject({ op: [6, '!'] }); // code points: 3 + 3
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    quill.formatText(3, 2, 'italic', true, 'user'); // the emoji
    quill.formatLine(4, 1, 'list', 'bullet', 'user');
    expect(doc.delta()).toEqual([{ i: 'Hi', a: { bold: true } }, { i: '\n', a: { heading: 2 } }, { i: '😀', a: { italic: true } }, ' x!', { i: '\n', a: { list: 'bullet' } }]);
    expect(contents(quill)).toEqual(doc.delta());
    b.destroy();
    h.conn.destroy();
  });

  it('applies remote ops with source api, sends nothing back and keeps the caret before an insert at it', async () => {
    const { h, doc, s } = await syncedRich(['a😀b\n']);
    const quill = mountQuill();
    const b = bindQuill(doc, quill);
    const changes: string[] = [];
    quill.on('text-change', (_d, _o, source) => changes.push(source));
    quill.setSelection(3, 0, 'silent'); // a😀|b
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [2, { i: 'XY', a: { underline: true } }], sid: BOB, seq: 1 } as never);
    expect(contents(quill)).toEqual(['a😀', { i: 'XY', a: { underline: true } }, 'b\n']);
    expect(changes).toEqual(['api']);
    expect(quill.getSelection()?.index).toBe(3);
    s.deliver({ t: 'op', doc: 'd', v: 1, op: [5, { r: 1, a: { 'code-block': true } }], sid: BOB, seq: 2 } as never);
    expect(quill.getContents().ops.at(-1)).toEqual({ insert: '\n', attributes: { 'code-block': 'plain' } });
    expect(s.of('op')).toEqual([]);
    b.destroy();
    h.conn.destroy();
  });

  it("draws each peer's caret with their name and colour, and removes it when they leave", async () => {
    const { h, doc, s } = await syncedRich(['hello world\n']);
    const quill = mountQuill();
    const b = bindQuill(doc, quill);
    s.deliver({ t: 'presence', doc: 'd', v: 0, peers: [{ sid: BOB, user: peerUser, sel: [[6, 11]], data: null }] });
    const caret = quill.container.querySelector('.ql-tandem-caret') as HTMLElement;
    expect(caret.getAttribute('data-sid')).toBe(BOB);
    expect(caret.textContent).toBe('Bob');
    expect(caret.style.borderLeft).toContain('2px solid');
    expect(quill.container.querySelectorAll('.ql-tandem-selection').length).toBeGreaterThan(0);
    quill.setSelection(2, 3, 'user');
    await vi.advanceTimersByTimeAsync(100);
    expect(s.of('presence').at(-1)).toMatchObject({ sel: [[2, 5]] });
    s.deliver({ t: 'presence', doc: 'd', v: 0, peers: [], gone: [BOB] });
    expect(quill.container.querySelector('.ql-tandem-caret')).toBeNull();
    b.destroy();
    expect(quill.container.querySelector('.ql-tandem-cursors')).toBeNull();
    h.conn.destroy();
  });

  it('Mod-z and Mod-Shift-z undo and redo through the document, formatting included', async () => {
    const { h, doc, s } = await syncedRich(['one two\n']);
    const quill = mountQuill();
    const b = bindQuill(doc, quill);
    quill.formatText(0, 3, 'bold', true, 'user');
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [4, { r: 3, a: { strike: true } }], sid: BOB, seq: 1 } as never);
    const key = (shift: boolean): void => {
      quill.root.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true, shiftKey: shift, bubbles: true, cancelable: true }));
    };
    key(false);
    expect(contents(quill)).toEqual(['one ', { i: 'two', a: { strike: true } }, '\n']);
    key(true);
    expect(contents(quill)).toEqual([{ i: 'one', a: { bold: true } }, ' ', { i: 'two', a: { strike: true } }, '\n']);
    expect(doc.delta()).toEqual(contents(quill));
    b.destroy();
    h.conn.destroy();
  });
});

const QUILL_FORMATS: [string, unknown][] = [
  ['bold', true],
  ['italic', true],
  ['bold', false],
  ['underline', true],
  ['link', 'https://q.example/'],
];
const QUILL_LINES: [string, unknown][] = [
  ['header', 1],
  ['header', false],
  ['list', 'bullet'],
  ['list', 'ordered'],
  ['blockquote', true],
  ['code-block', 'plain'],
];

/** A random user edit in Quill (UTF-16 offsets, kept off surrogate pair middles). */
function quillEdit(r: () => number, quill: Quill): void {
  const text = flatText(quill.getContents()); // getText leaves embeds out: its offsets are not Quill's

  const n = quill.getLength();
  let at = Math.floor(r() * n);
  if (at > 0 && /[\udc00-\udfff]/.test(text[at] ?? '')) at--;
  let len = Math.min(n - 1 - at, 1 + Math.floor(r() * 5));
  if (/[\udc00-\udfff]/.test(text[at + len] ?? '')) len++;
  const x = r();
  if (x < 0.4) quill.insertText(at, ['a', 'é', '😀', ' ', '\n', 'xy'][Math.floor(r() * 6)] as string, 'user');
  else if (x < 0.6 && len > 0) quill.deleteText(at, Math.min(len, n - 1 - at), 'user');
  else if (x < 0.8 && len > 0) {
    const [f, v] = QUILL_FORMATS[Math.floor(r() * QUILL_FORMATS.length)] as [string, unknown];
    quill.formatText(at, len, f, v, 'user');
  } else {
    const [f, v] = QUILL_LINES[Math.floor(r() * QUILL_LINES.length)] as [string, unknown];
    quill.formatLine(at, len, f, v, 'user');
  }
}

describe('randomized: a Quill editor and a ProseMirror editor on one document converge', () => {
  for (const seed of [12, 13]) {
    it(`random edits in both, with disconnects (seed ${seed})`, async () => {
      const r = rng(seed);
      const server = new FakeServer({ random: r, maxDelayMs: 30, typeOf: () => fakeRich });
      const q = richClient(server, 'quill');
      const p = richClient(server, 'pm');
      const quill = mountQuill();
      const binding = bindQuill(q.doc, quill);
      const place = document.createElement('div');
      document.body.appendChild(place);
      const view = new EditorView(place, { state: EditorState.create({ doc: deltaToDoc(schema, p.doc.delta()), plugins: [tandemPlugin(p.doc)] }) });
      await settle(server, [q, p]);
      for (let step = 0; step < 160; step++) {
        const x = r();
        if (x < 0.45) quillEdit(r, quill);
        else if (x < 0.85) {
          const e = randomEdit(r, view.state);
          if (e) view.dispatch(e.tr);
        } else if (x < 0.9) q.doc.undo();
        else if (x < 0.94) p.doc.undo();
        else if (x < 0.96) for (const sock of [...server.sockets]) if (r() < 0.5) sock.fail();
        await vi.advanceTimersByTimeAsync(Math.floor(r() * 20));
        // Quill always holds its document (as Quill shows it: only the formats it knows).
        expect(quill.getLength()).toBe(q.doc.text.length);
      }
      await settle(server, [q, p]);
      expect(server.violations).toEqual([]);
      const content = server.doc('doc').content as Delta;
      expect(q.doc.delta()).toEqual(content);
      expect(p.doc.delta()).toEqual(content);
      expect(view.state.doc.toJSON()).toEqual(deltaToDoc(schema, content).toJSON());
      expect(quill.getLength()).toBe(q.doc.text.length);
      expect(flatText(quill.getContents())).toBe(q.doc.text);
      binding.destroy();
      view.destroy();
      q.conn.destroy();
      p.conn.destroy();
    }, 60_000);
  }
});

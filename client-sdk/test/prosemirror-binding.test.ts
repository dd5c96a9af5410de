// @vitest-environment happy-dom
/**
 * The ProseMirror binding and the Tiptap extension on a RichDoc: typing and
 * formatting become rich ops, remote ops become transactions without echo
 * and keep the local caret by the caret rule, peers' carets are named
 * decorations, Mod-z undoes through the document (formatting included), and
 * random editing sessions of several editors on the fake server converge.
 */
import { Editor } from '@tiptap/core';
import Image from '@tiptap/extension-image';
import StarterKit from '@tiptap/starter-kit';
import { toggleMark } from '@tiptap/pm/commands';
import { EditorState, Plugin, TextSelection } from '@tiptap/pm/state';
import { EditorView } from '@tiptap/pm/view';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deltaToDoc, docToDelta, offsetToPos, remoteCarets, tandemPlugin } from '../src/bindings/prosemirror.js';
import { TandemCollaboration } from '../src/bindings/tiptap.js';
import type { Delta, RichDoc } from '../src/index.js';
import { FakeServer, fakeRich } from './helpers/fake-server.js';
import { richClient, syncedRich } from './helpers/rich.js';
import { harness, peerUser, useFakeTimers } from './helpers/manual.js';
import { randomEdit, schema } from './helpers/pm-random.js';
import { rng } from './helpers/random.js';
import { settle } from './helpers/settle.js';

useFakeTimers();
afterEach(() => {
  document.body.innerHTML = '';
});

const BOB = 'bob-sid-0123456789ab';

function mountView(doc: RichDoc, start = deltaToDoc(schema, doc.delta())): EditorView {
  const place = document.createElement('div');
  document.body.appendChild(place);
  return new EditorView(place, { state: EditorState.create({ doc: start, plugins: [tandemPlugin(doc)] }) });
}

function key(view: EditorView, k: string, shift = false): void {
  view.dom.dispatchEvent(new KeyboardEvent('keydown', { key: k, ctrlKey: true, shiftKey: shift, bubbles: true, cancelable: true }));
}

describe('ProseMirror binding', () => {
  it('typing and formatting become rich ops in code points; the selection is shared', async () => {
    const { h, doc, s } = await syncedRich(['😀 hello\n']);
    const view = mountView(doc);
    // After "😀 hello": PM position 1 + 8 UTF-16 units.
    view.dispatch(view.state.tr.insertText('!', 9));
    expect(doc.delta()).toEqual(['😀 hello!\n']);
    expect(s.of('op')[0]).toMatchObject({ op: [7, '!'] });
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, 4, 9)));
    toggleMark(schema.marks.bold!)(view.state, view.dispatch);
    expect(doc.delta()).toEqual(['😀 ', { i: 'hello', a: { bold: true } }, '!\n']);
    expect(s.of('op')[1]).toMatchObject({ op: [2, { r: 5, a: { bold: true } }] });
    // Enter, then a heading on the new line.
    view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, 10)));
    view.dispatch(view.state.tr.split(10));
    view.dispatch(view.state.tr.setBlockType(12, 12, schema.nodes.heading!, { level: 2 }));
    expect(doc.delta()).toEqual(['😀 ', { i: 'hello', a: { bold: true } }, '!\n', { i: '\n', a: { heading: 2 } }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(doc.presence.localSelection).toEqual([[9, 9]]);
    view.destroy();
    h.conn.destroy();
  });

  it('remote ops become transactions without echo, keep the caret by the caret rule, and rebuild carets', async () => {
    const { h, doc, s } = await syncedRich(['ab\n']);
    const view = mountView(doc);
    view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, 2))); // a|b
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [1, { i: 'XY', a: { italic: true } }], sid: BOB, seq: 1 } as never);
    expect(docToDelta(view.state.doc)).toEqual(['a', { i: 'XY', a: { italic: true } }, 'b\n']);
    // Someone else's insert exactly at the caret leaves it before the new text.
    expect(view.state.selection.head).toBe(2);
    s.deliver({ t: 'op', doc: 'd', v: 1, op: [4, { r: 1, a: { heading: 1 } }], sid: BOB, seq: 2 } as never);
    expect(view.state.doc.firstChild?.type.name).toBe('heading');
    s.deliver({ t: 'op', doc: 'd', v: 2, op: ['Z'], sid: BOB, seq: 3 } as never);
    expect(view.state.selection.head).toBe(3);
    expect(s.of('op')).toEqual([]); // nothing sent back
    view.destroy();
    h.conn.destroy();
  });

  // The browser extends the selection over "world" (Shift+ArrowLeft) and its
  // selectionchange event has not been delivered when something from the
  // server is shown: the selection survives (it was put back into the DOM).
  it.each([
    ["a peer's op", { t: 'op', doc: 'd', v: 0, op: ['>> '], sid: BOB, seq: 1 }, 3],
    ["a peer's caret", { t: 'presence', doc: 'd', v: 0, peers: [{ sid: BOB, user: peerUser, sel: [[0, 0]], data: null }] }, 0],
  ])('keeps a selection ProseMirror has not read yet when %s comes first', async (_what, msg, shift) => {
    const { h, doc, s } = await syncedRich(['hello world\n']);
    const view = mountView(doc);
    view.focus();
    view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, 12))); // hello world|
    const text = view.dom.querySelector('p')?.firstChild as Text;
    const held = (e: Event): void => e.stopImmediatePropagation(); // the event still on its way
    window.addEventListener('selectionchange', held, { capture: true });
    document.addEventListener('selectionchange', held, { capture: true });
    document.getSelection()?.setBaseAndExtent(text, 11, text, 6);
    s.deliver(msg as never);
    await vi.advanceTimersByTimeAsync(0);
    window.removeEventListener('selectionchange', held, { capture: true });
    document.removeEventListener('selectionchange', held, { capture: true });
    const sel = view.state.selection;
    expect(view.state.doc.textBetween(sel.from, sel.to)).toBe('world');
    expect([sel.from, sel.to]).toEqual([7 + shift, 12 + shift]); // (happy-dom orders the DOM selection's ends)
    await vi.advanceTimersByTimeAsync(100);
    expect(doc.presence.localSelection).toEqual([[sel.anchor - 1, sel.head - 1]]);
    view.destroy();
    h.conn.destroy();
  });

  it("shows each peer's caret and selection with their name and colour", async () => {
    const { h, doc, s } = await syncedRich(['hello world\n']);
    const view = mountView(doc);
    s.deliver({ t: 'presence', doc: 'd', v: 0, peers: [{ sid: BOB, user: peerUser, sel: [[6, 11]], data: null }] });
    await vi.advanceTimersByTimeAsync(0);
    expect(remoteCarets(view.state)).toEqual([{ sid: BOB, name: 'Bob', color: '#00f', ranges: [[6, 11]] }]);
    const caret = view.dom.querySelector('.pm-tandem-caret');
    expect(caret?.getAttribute('data-sid')).toBe(BOB);
    expect(caret?.textContent).toBe('Bob');
    expect((caret as HTMLElement).style.borderLeft).toContain('2px solid');
    const sel = view.dom.querySelector('.pm-tandem-selection');
    expect(sel?.textContent).toBe('world');
    // A remote insert before the caret moves it with the text.
    s.deliver({ t: 'op', doc: 'd', v: 0, op: ['>> '], sid: 'carol-sid-0123456789', seq: 1 });
    expect(remoteCarets(view.state)[0]?.ranges).toEqual([[9, 14]]);
    expect(view.dom.querySelector('.pm-tandem-selection')?.textContent).toBe('world');
    s.deliver({ t: 'presence', doc: 'd', v: 1, peers: [], gone: [BOB] });
    expect(view.dom.querySelector('.pm-tandem-caret')).toBeNull();
    view.destroy();
    h.conn.destroy();
  });

  it('Mod-z undoes its own formatting and typing through the document, Mod-Shift-z redoes', async () => {
    const { h, doc, s } = await syncedRich(['one two\n']);
    const view = mountView(doc);
    view.dispatch(view.state.tr.addMark(1, 4, schema.marks.bold!.create()));
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [4, { r: 3, a: { italic: true } }], sid: BOB, seq: 1 } as never);
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 1 });
    expect(docToDelta(view.state.doc)).toEqual([{ i: 'one', a: { bold: true } }, ' ', { i: 'two', a: { italic: true } }, '\n']);
    key(view, 'z');
    expect(docToDelta(view.state.doc)).toEqual(['one ', { i: 'two', a: { italic: true } }, '\n']);
    expect(doc.delta()).toEqual(docToDelta(view.state.doc));
    key(view, 'z', true);
    expect(docToDelta(view.state.doc)).toEqual([{ i: 'one', a: { bold: true } }, ' ', { i: 'two', a: { italic: true } }, '\n']);
    view.destroy();
    h.conn.destroy();
  });

  it('an editor started on another document is reset to the shared one; a read-only refusal restores it', async () => {
    const h = harness();
    const doc = h.conn.openRich('d');
    const view = mountView(doc, deltaToDoc(schema, ['local junk\n']));
    await vi.advanceTimersByTimeAsync(0);
    expect(docToDelta(view.state.doc)).toEqual(['\n']);
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 'd', type: 'rich', v: 4, text: [{ i: 'Shared', a: { bold: true } }, { i: '\n', a: { heading: 1 } }], peers: [], mode: 'r' });
    expect(docToDelta(view.state.doc)).toEqual([{ i: 'Shared', a: { bold: true } }, { i: '\n', a: { heading: 1 } }]);
    view.dispatch(view.state.tr.insertText('x', 1));
    await vi.advanceTimersByTimeAsync(0);
    expect(docToDelta(view.state.doc)).toEqual([{ i: 'Shared', a: { bold: true } }, { i: '\n', a: { heading: 1 } }]);
    view.destroy();
    h.conn.destroy();
  });
  it('a plugin that answers a remote edit with an edit of its own sends that edit, made on the remote one', async () => {
    const { h, doc, s } = await syncedRich(['a\n', 'b\n']);
    // Like TrailingNode without its meta: a paragraph after a trailing heading.
    const trailing = new Plugin({
      appendTransaction: (_trs, _old, state) => (state.doc.lastChild?.type.name === 'heading' ? state.tr.insert(state.doc.content.size, schema.nodes.paragraph!.create()) : null),
    });
    const place = document.createElement('div');
    document.body.appendChild(place);
    const view = new EditorView(place, { state: EditorState.create({ doc: deltaToDoc(schema, doc.delta()), plugins: [tandemPlugin(doc), trailing] }) });
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [3, { r: 1, a: { heading: 1 } }], sid: BOB, seq: 1 } as never);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.of('op')).toHaveLength(1); // the paragraph, as an op on the document after the heading
    expect(doc.delta()).toEqual(['a\nb', { i: '\n', a: { heading: 1 } }, '\n']);
    expect(docToDelta(view.state.doc)).toEqual(doc.delta());
    view.destroy();
    h.conn.destroy();
  });
});

describe('Tiptap extension', () => {
  it('binds an Editor: commands become ops, remote edits show, undo goes through the document', async () => {
    const { h, doc, s } = await syncedRich(['Title\n', 'body\n']);
    const el = document.createElement('div');
    document.body.appendChild(el);
    const editor = new Editor({
      element: el,
      extensions: [StarterKit.configure({ undoRedo: false }), Image.configure({ inline: true }), TandemCollaboration.configure({ doc })],
      content: '',
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(docToDelta(editor.state.doc)).toEqual(['Title\nbody\n']);
    editor.chain().setTextSelection(2).toggleHeading({ level: 1 }).run();
    expect(doc.delta()).toEqual(['Title', { i: '\n', a: { heading: 1 } }, 'body\n']);
    editor.chain().setTextSelection({ from: 8, to: 12 }).toggleItalic().run();
    expect(doc.delta()).toEqual(['Title', { i: '\n', a: { heading: 1 } }, { i: 'body', a: { italic: true } }, '\n']);
    editor.chain().setTextSelection(8).insertContent('my ').run();
    expect(doc.text).toBe('Title\nmy body\n');
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [{ r: 5, a: { underline: true } }], sid: BOB, seq: 1 } as never);
    expect(editor.state.doc.firstChild?.firstChild?.marks.map((m) => m.type.name)).toEqual(['underline']);
    expect(editor.commands.undo()).toBe(true);
    expect(doc.text).toBe('Title\nbody\n');
    editor.commands.undo();
    editor.commands.undo();
    expect(doc.delta()).toEqual([{ i: 'Title', a: { underline: true } }, '\nbody\n']);
    expect(docToDelta(editor.state.doc)).toEqual(doc.delta());
    // A remote heading on the last line: Tiptap's TrailingNode does not answer it with a paragraph of its own.
    const sent = s.of('op').length;
    s.deliver({ t: 'op', doc: 'd', v: 1, op: [10, { r: 1, a: { heading: 2 } }], sid: BOB, seq: 2 } as never);
    await vi.advanceTimersByTimeAsync(10);
    expect(doc.delta()).toEqual([{ i: 'Title', a: { underline: true } }, '\nbody', { i: '\n', a: { heading: 2 } }]);
    expect(s.of('op').length).toBe(sent);
    expect(docToDelta(editor.state.doc)).toEqual(doc.delta());
    editor.destroy();
    h.conn.destroy();
  });
});

describe('randomized: editors on one document converge', () => {
  for (const seed of [7, 8, 9]) {
    it(`three ProseMirror views make random edits of every kind (seed ${seed})`, async () => {
      const r = rng(seed);
      const server = new FakeServer({ random: r, maxDelayMs: 30, typeOf: () => fakeRich });
      const clients = [0, 1, 2].map((i) => {
        const c = richClient(server, `pm${i}`);
        return { ...c, view: mountView(c.doc) };
      });
      await settle(server, clients);
      let edits = 0;
      for (let step = 0; step < 200; step++) {
        const c = clients[Math.floor(r() * clients.length)]!;
        const x = r();
        if (x < 0.8) {
          const e = randomEdit(r, c.view.state);
          if (e) {
            c.view.dispatch(e.tr);
            edits++;
          }
        } else if (x < 0.88) c.doc.undo();
        else if (x < 0.92) c.doc.redo();
        else if (x < 0.95) for (const sock of [...server.sockets]) if (r() < 0.3) sock.fail();
        await vi.advanceTimersByTimeAsync(Math.floor(r() * 20));
        // The editors always show their documents exactly.
        for (const o of clients) expect(o.view.state.doc.toJSON()).toEqual(deltaToDoc(schema, o.doc.delta()).toJSON());
      }
      await settle(server, clients);
      expect(server.violations).toEqual([]);
      expect(edits).toBeGreaterThan(50);
      const content = server.doc('doc').content as Delta;
      const want = deltaToDoc(schema, content);
      for (const c of clients) {
        expect(c.doc.delta()).toEqual(content);
        expect(c.view.state.doc.toJSON()).toEqual(want.toJSON());
        // Every peer's caret is drawn inside the document.
        for (const rc of remoteCarets(c.view.state)) for (const [a] of rc.ranges) expect(offsetToPos(c.view.state.doc, Math.min(a, content.length))).toBeGreaterThanOrEqual(0);
      }
      for (const c of clients) {
        c.view.destroy();
        c.conn.destroy();
      }
    }, 60_000);
  }
});

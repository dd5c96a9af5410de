// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EditorState, EditorSelection } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { bindTextarea } from '../src/bindings/textarea.js';
import { tandemCollab } from '../src/bindings/codemirror.js';
import type { TextDoc } from '../src/index.js';
import { peerUser, synced, useFakeTimers } from './helpers/manual.js';

useFakeTimers();
afterEach(() => {
  document.body.innerHTML = '';
});

/** A focused textarea in the page, bound to `doc`. */
function mountTextarea(doc: TextDoc): { ta: HTMLTextAreaElement; binding: ReturnType<typeof bindTextarea> } {
  const ta = document.createElement('textarea');
  document.body.appendChild(ta);
  const binding = bindTextarea(doc, ta);
  ta.focus();
  return { ta, binding };
}

/** A CodeMirror view in the page, bound to `doc`. */
function mountEditor(doc: TextDoc): { view: EditorView; parent: HTMLElement } {
  const parent = document.createElement('div');
  document.body.appendChild(parent);
  const view = new EditorView({ state: EditorState.create({ doc: doc.text, extensions: [tandemCollab(doc)] }), parent });
  return { view, parent };
}

function type(ta: HTMLTextAreaElement, value: string, caret: number): void {
  ta.value = value;
  ta.setSelectionRange(caret, caret);
  ta.dispatchEvent(new Event('input'));
}

const BOB = 'bob-sid-0123456789ab';

describe('textarea binding', () => {
  it('turns typing into ops (code points) and keeps the caret in place when remote edits land', async () => {
    const { doc, s } = await synced('😀 hello');
    const { ta, binding: b } = mountTextarea(doc);
    expect(ta.value).toBe('😀 hello');
    type(ta, '😀 hello!', 9);
    expect(doc.text).toBe('😀 hello!');
    expect(s.of('op')[0]).toMatchObject({ op: [7, '!'] }); // the emoji counts one
    ta.setSelectionRange(3, 3); // after "😀 "
    s.deliver({ t: 'op', doc: 'd', v: 0, op: ['👋'], sid: BOB, seq: 1 });
    expect(ta.value).toBe('👋😀 hello!');
    expect(ta.selectionStart).toBe(5); // moved by the 2-unit emoji inserted before it
    s.deliver({ t: 'op', doc: 'd', v: 1, op: [8, '?'], sid: BOB, seq: 2 });
    expect(ta.selectionStart).toBe(5); // insert after the caret: no move
    b.destroy();
    s.deliver({ t: 'op', doc: 'd', v: 2, op: ['x'], sid: BOB, seq: 3 });
    expect(ta.value).not.toContain('x');
  });

  it("leaves the caret before someone else's insert exactly at it (the caret rule)", async () => {
    const { doc, s } = await synced('a😀b');
    const { ta } = mountTextarea(doc);
    ta.setSelectionRange(3, 3); // after the emoji
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [2, 'beta 👍'], sid: BOB, seq: 1 });
    expect(ta.value).toBe('a😀beta 👍b');
    expect(ta.selectionStart).toBe(3); // before "beta 👍": what the user types next stays apart from it
    type(ta, 'a😀Xbeta 👍b', 4);
    expect(doc.text).toBe('a😀Xbeta 👍b');
  });

  it('resolves repeated characters with the caret and shares the selection', async () => {
    const { doc, s } = await synced('aa');
    const { ta } = mountTextarea(doc);
    type(ta, 'aaa', 1); // typed at the start: the caret says where
    expect(s.of('op')[0]).toMatchObject({ op: ['a'] });
    ta.setSelectionRange(0, 2);
    ta.dispatchEvent(new Event('select'));
    s.deliver({ t: 'ack', doc: 'd', seq: 1, v: 0 });
    await vi.advanceTimersByTimeAsync(100);
    expect(s.of('presence').at(-1)?.sel).toEqual([[0, 2]]);
  });

  it('undo keys undo own edits only', async () => {
    const { doc, s } = await synced('');
    const { ta } = mountTextarea(doc);
    type(ta, 'mine', 4);
    s.deliver({ t: 'op', doc: 'd', v: 0, op: ['theirs '], sid: BOB, seq: 1 });
    expect(ta.value).toBe('theirs mine');
    ta.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true, cancelable: true }));
    expect(ta.value).toBe('theirs ');
    ta.dispatchEvent(new KeyboardEvent('keydown', { key: 'y', ctrlKey: true, cancelable: true }));
    expect(ta.value).toBe('theirs mine');
    expect(ta.selectionStart).toBe(11);
  });
});

describe('CodeMirror binding', () => {
  it('syncs edits both ways and draws remote carets with names and colours', async () => {
    const { doc, s } = await synced('ab😀cd');
    const { view, parent } = mountEditor(doc);
    // local edit in UTF-16 -> op in code points
    view.dispatch({ changes: { from: 4, insert: 'X' } }); // after the emoji
    expect(doc.text).toBe('ab😀Xcd');
    expect(s.of('op')[0]).toMatchObject({ op: [3, 'X'] });
    // remote edit lands, caret stays by the same text
    view.dispatch({ selection: EditorSelection.cursor(5) });
    s.deliver({ t: 'op', doc: 'd', v: 0, op: ['>>'], sid: BOB, seq: 1 });
    expect(view.state.doc.toString()).toBe('>>ab😀Xcd');
    expect(view.state.selection.main.head).toBe(7);
    // remote presence shows a named, coloured caret and selection
    s.deliver({ t: 'presence', doc: 'd', v: 1, peers: [{ sid: BOB, user: peerUser, sel: [[0, 2]] }] });
    await vi.advanceTimersByTimeAsync(0);
    const label = parent.querySelector('.cm-tandem-caret-label');
    expect(label?.textContent).toBe('Bob');
    expect((label as HTMLElement).style.backgroundColor).toBeTruthy();
    expect(parent.querySelector('.cm-tandem-selection')).not.toBeNull();
    s.deliver({ t: 'presence', doc: 'd', v: 1, peers: [], gone: [BOB] });
    await vi.advanceTimersByTimeAsync(0);
    expect(parent.querySelector('.cm-tandem-caret')).toBeNull();
    view.destroy();
  });

  it("maps the editor's selection and the remote carets with the caret rule", async () => {
    const { doc, s } = await synced('ab😀cd');
    const { view, parent } = mountEditor(doc);
    // Someone else's insert exactly at the caret leaves it before the insert.
    view.dispatch({ selection: EditorSelection.cursor(4) }); // after the emoji
    s.deliver({ t: 'op', doc: 'd', v: 0, op: [3, 'beta'], sid: BOB, seq: 1 });
    expect(view.state.doc.toString()).toBe('ab😀betacd');
    expect(view.state.selection.main.head).toBe(4);
    // A range starting there takes the insert in, one ending there does not.
    view.dispatch({ selection: EditorSelection.range(4, 9) }); // "beta" and "c"
    s.deliver({ t: 'op', doc: 'd', v: 1, op: [3, '1', 5, '2'], sid: BOB, seq: 2 });
    expect(view.state.doc.toString()).toBe('ab😀1betac2d');
    expect([view.state.selection.main.anchor, view.state.selection.main.head]).toEqual([4, 10]);
    // A caret inside a replaced stretch ends after the new text.
    view.dispatch({ selection: EditorSelection.cursor(6) }); // inside "beta"
    s.deliver({ t: 'op', doc: 'd', v: 2, op: [4, 'BETA', -4], sid: BOB, seq: 3 });
    expect(view.state.doc.toString()).toBe('ab😀1BETAc2d');
    expect(view.state.selection.main.head).toBe(9);
    // Typing at a peer's caret leaves the peer's caret before the typed text.
    s.deliver({ t: 'presence', doc: 'd', v: 3, peers: [{ sid: BOB, user: peerUser, sel: [[3, 3]] }] });
    await vi.advanceTimersByTimeAsync(0);
    view.dispatch({ changes: { from: 4, insert: 'XY' } });
    expect(doc.text).toBe('ab😀XY1BETAc2d');
    expect(doc.presence.getPeer(BOB)?.selection).toEqual([[3, 3]]);
    const caretEl = parent.querySelector('.cm-tandem-caret') as HTMLElement;
    const line = caretEl.closest('.cm-line') as HTMLElement;
    let before = '';
    for (const n of Array.from(line.childNodes)) {
      if (n === caretEl || n.contains(caretEl)) break;
      if (!(n instanceof HTMLElement && n.classList.contains('cm-widgetBuffer'))) before += n.textContent ?? '';
    }
    expect(before).toBe('ab😀');
    view.destroy();
  });

  it('keeps \\r characters intact', async () => {
    const { doc } = await synced('a\r\nb');
    const { view, parent } = mountEditor(doc);
    expect(view.state.doc.toString()).toBe('a\r\nb');
    view.dispatch({ changes: { from: 4, insert: '!' } });
    expect(doc.text).toBe('a\r\nb!');
    view.destroy();
  });
});

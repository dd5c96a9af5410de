/**
 * `@tandem/client/quill`: Quill 2 support for `rich` documents.
 * {@link bindQuill} keeps a Quill editor and a {@link RichDoc} in sync: the
 * editor's `text-change` becomes a rich op (Quill's UTF-16 offsets turned
 * into code points), a remote op becomes `updateContents` with source
 * `'api'` (never sent back; Quill keeps the local caret before text inserted
 * exactly at it, the caret rule), peers' carets and selections are drawn in
 * a small overlay with their names and colours, and Mod-z / Mod-y /
 * Mod-Shift-z undo and redo this client's own edits through the document.
 * The mapping between Quill's Delta and the rich op is exported too.
 *
 * `quill` is an optional peer dependency; this module only uses the Quill
 * instance it is given.
 * @module
 */
import type Quill from 'quill';
import type { Range } from '../ot/op.js';
import { richText, type RichDoc } from '../rich-doc.js';
import { transformPair, type Delta, type RichOp } from '../rich/index.js';
import type { DocChange } from '../types.js';
import { deltaToQuill, opToQuill, quillRangeToRange, quillShowable, quillToOp, rangeToQuillRange, type QuillOp } from './quill-mapping.js';

export {
  EMBED_CHAR,
  flatText,
  quillToOp,
  opToQuill,
  deltaToQuill,
  quillToDelta,
  quillRangeToRange,
  rangeToQuillRange,
  quillShowable,
  type QuillOp,
  type QuillDeltaLike,
} from './quill-mapping.js';
export type { AttrValue, Attributes, Embed, Delta, DeltaInsert, RichComponent, RichOp } from '../rich/index.js';

/** Options of {@link bindQuill}. */
export interface QuillBindingOptions {
  /** Share the local selection as presence (default true). */
  shareSelection?: boolean;
  /** Hide the local caret from peers while the editor is not focused (default false). */
  hideOnBlur?: boolean;
  /** Draw the peers' carets and selections (default true). */
  showCarets?: boolean;
  /** Show each peer's name above their caret (default true). */
  showNames?: boolean;
  /** Handle Mod-z, Mod-y and Mod-Shift-z with the document's undo manager instead of Quill's history (default true). */
  undoKeys?: boolean;
}

/** A live binding; {@link QuillBinding.destroy} unbinds. */
export interface QuillBinding {
  /** Redraws the peers' carets (after a layout change the binding cannot see). */
  redraw(): void;
  /** Stops syncing, removes the overlay and hides the local caret from peers. */
  destroy(): void;
}

type Source = 'user' | 'api' | 'silent';

/** Translucent background for a CSS colour. */
function tint(color: string): string {
  if (/^#[0-9a-f]{6}$/i.test(color)) return `${color}33`;
  if (/^#[0-9a-f]{3}$/i.test(color)) return `${color}3`;
  return `color-mix(in srgb, ${color} 20%, transparent)`;
}

function box(parent: HTMLElement, cls: string, css: string): HTMLElement {
  const el = document.createElement('div');
  el.className = cls;
  el.style.cssText = css;
  parent.appendChild(el);
  return el;
}

/**
 * Binds `quill` to `doc`. The editor's contents are replaced with the
 * document's at once (and again when it first syncs). Quill's own history
 * would undo other people's edits too: with `undoKeys` (the default) the
 * undo keys go to the document instead; configure `history: { userOnly: true }`
 * if you keep Quill's toolbar undo buttons.
 */
export function bindQuill(doc: RichDoc, quill: Quill, options: QuillBindingOptions = {}): QuillBinding {
  const share = options.shareSelection !== false;
  const hideOnBlur = options.hideOnBlur === true;
  const showCarets = options.showCarets !== false;
  const showNames = options.showNames !== false;
  const origin = {};
  let destroyed = false;
  /** The remote change being applied (its own updateContents is not sent back). */
  let applying: DocChange<RichOp, Delta> | null = null;
  /** What of `applying` remains to apply to Quill, once pending DOM edits were sent first. */
  let remaining: RichOp | null = null;
  const offs: (() => void)[] = [];

  const setContents = (): void => {
    applying = { op: [], before: doc.delta(), remote: true, origin: undefined };
    try {
      quill.setContents(deltaToQuill(quillShowable(doc.delta())) as never, 'api');
    } finally {
      applying = null;
    }
  };

  const onTextChange = (delta: { ops: QuillOp[] }, _old: unknown, source: Source): void => {
    if (destroyed) return;
    if (applying !== null) {
      if (source !== 'user') return; // our own updateContents
      // Edits the DOM held when a remote op came (Quill flushes them first): they were made on
      // the content before the remote op, so they move past it, and it past them.
      const c = applying;
      const mine = quillToOp(delta.ops, c.before);
      const [minePast, theirsPast] = transformPair(mine, doc.sid, remaining ?? c.op, c.sid ?? '');
      remaining = theirsPast;
      submit(minePast);
      return;
    }
    let op: RichOp;
    try {
      op = quillToOp(delta.ops, doc.delta());
    } catch {
      queueMicrotask(() => !destroyed && setContents()); // what a rich document cannot hold (a lone surrogate)
      return;
    }
    submit(op);
  };

  const submit = (op: RichOp): void => {
    if (op.length === 0) return;
    try {
      doc.submitOp(op, origin);
    } catch (e) {
      // Read-only, closed, or an edit the type refuses: show the document as it is.
      queueMicrotask(() => !destroyed && setContents());
      if (!(e instanceof Error)) throw e;
    }
  };

  const onDocChange = (c: DocChange<RichOp, Delta>): void => {
    if (destroyed || c.origin === origin) return;
    applying = c;
    remaining = null;
    try {
      // Pending DOM edits (an IME composition) go first, as edits of the content before c.
      quill.update('user');
      const op = remaining ?? c.op;
      // The text the op runs over: the document before c, or Quill's now that it holds the flushed edits.
      const text = remaining === null ? richText(c.before) : flat();
      quill.updateContents(opToQuill(op, text) as never, 'api');
    } catch {
      setContents();
    } finally {
      applying = null;
      remaining = null;
    }
    if (quill.getLength() !== doc.text.length) setContents(); // out of step (should not happen); Quill counts UTF-16
    redraw();
  };

  /** Quill's own plain text, embeds as U+FFFC (what its offsets count). */
  const flat = (): string =>
    (quill.getContents().ops as QuillOp[]).map((o) => (typeof o.insert === 'string' ? o.insert : '\uFFFC')).join('');

  const sendSelection = (range: { index: number; length: number } | null): void => {
    if (!share) return;
    if (range === null) {
      if (hideOnBlur) doc.presence.setSelection(null);
      return;
    }
    doc.presence.setSelection([quillRangeToRange(doc.text, range)]);
  };

  // ---- the carets overlay ----
  const overlay = box(quill.container, 'ql-tandem-cursors', 'position:absolute;inset:0;pointer-events:none;overflow:hidden;z-index:5;');
  const redraw = (): void => {
    if (destroyed) return;
    overlay.replaceChildren();
    if (!showCarets) return;
    const text = doc.text;
    for (const p of doc.presence.getPeers()) {
      if (p.selection === null) continue;
      for (const r of p.selection as Range[]) {
        const { index, length } = rangeToQuillRange(text, r);
        if (length > 0) {
          for (const line of quill.getLines(index, length)) {
            const start = Math.max(index, quill.getIndex(line));
            const end = Math.min(index + length, quill.getIndex(line) + line.length() - 1);
            const b = end > start ? quill.getBounds(start, end - start) : null;
            if (b) box(overlay, 'ql-tandem-selection', `position:absolute;left:${b.left}px;top:${b.top}px;width:${b.width}px;height:${b.height}px;background:${tint(p.user.color)};`);
          }
        }
        const head = rangeToQuillRange(text, [r[1], r[1]]).index;
        const b = quill.getBounds(head, 0);
        if (!b) continue;
        const caret = box(
          overlay,
          'ql-tandem-caret',
          `position:absolute;left:${b.left - 1}px;top:${b.top}px;height:${Math.max(b.height, 16)}px;border-left:2px solid ${p.user.color};`,
        );
        caret.setAttribute('data-sid', p.sid);
        if (showNames) {
          const label = box(
            caret,
            'ql-tandem-caret-label',
            `position:absolute;bottom:100%;left:-2px;padding:0 4px;border-radius:3px 3px 3px 0;color:white;background:${p.user.color};font:11px/16px system-ui,sans-serif;white-space:nowrap;`,
          );
          label.textContent = p.user.name;
        }
      }
    }
  };

  // ---- undo keys ----
  const onKey = (e: KeyboardEvent): void => {
    const mod = e.metaKey || e.ctrlKey;
    if (!mod || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === 'z' && !e.shiftKey) doc.undo();
    else if (key === 'y' || (key === 'z' && e.shiftKey)) doc.redo();
    else return;
    e.preventDefault();
    e.stopPropagation();
  };
  const onBeforeInput = (e: InputEvent): void => {
    if (e.inputType !== 'historyUndo' && e.inputType !== 'historyRedo') return;
    if (e.inputType === 'historyUndo') doc.undo();
    else doc.redo();
    e.preventDefault();
    e.stopPropagation();
  };
  if (options.undoKeys !== false) {
    // On the container, capturing: before Quill's keyboard and history modules on the editor root.
    quill.container.addEventListener('keydown', onKey, true);
    quill.container.addEventListener('beforeinput', onBeforeInput as EventListener, true);
    offs.push(() => quill.container.removeEventListener('keydown', onKey, true));
    offs.push(() => quill.container.removeEventListener('beforeinput', onBeforeInput as EventListener, true));
  }

  const onSelection = (range: { index: number; length: number } | null, _old: unknown, source: Source): void => {
    if (source !== 'silent' || range !== null) sendSelection(range);
  };
  quill.on('text-change', onTextChange as never);
  quill.on('selection-change', onSelection as never);
  offs.push(() => quill.off('text-change', onTextChange as never));
  offs.push(() => quill.off('selection-change', onSelection as never));
  const onScroll = (): void => redraw();
  quill.root.addEventListener('scroll', onScroll);
  offs.push(() => quill.root.removeEventListener('scroll', onScroll));
  if (typeof window !== 'undefined') {
    window.addEventListener('resize', onScroll);
    offs.push(() => window.removeEventListener('resize', onScroll));
  }
  offs.push(doc.on('change', onDocChange));
  offs.push(doc.presence.on('change', redraw));
  offs.push(doc.presence.on('leave', redraw));
  // Until the first sync the document is empty: show the server's content when it comes.
  offs.push(doc.on('synced', () => !destroyed && !same() && (setContents(), redraw())));
  const same = (): boolean => JSON.stringify(quill.getContents().ops) === JSON.stringify(deltaToQuill(quillShowable(doc.delta())));

  setContents();
  redraw();

  return {
    redraw,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const off of offs) off();
      overlay.remove();
      if (share) doc.presence.setSelection(null);
    },
  };
}

/**
 * `@tandem/client/prosemirror`: ProseMirror and Tiptap support for `rich`
 * documents. {@link tandemPlugin} binds an `EditorView` to a {@link RichDoc}:
 * local transactions become rich ops, remote ops become transactions (never
 * sent back), the local selection survives remote edits by the caret rule,
 * every peer's caret and selection is drawn as decorations in their colour
 * with their name, and Mod-z / Mod-y / Mod-Shift-z undo and redo this
 * client's own edits through the document (formatting included). For Tiptap
 * see `@tandem/client/tiptap`. The mapping between ProseMirror's tree and the
 * Delta (whole documents, positions, transactions and ops) is exported too;
 * see ./prosemirror-mapping.ts for the attribute keys.
 *
 * `prosemirror-model`, `prosemirror-state`, `prosemirror-transform` and
 * `prosemirror-view` are optional peer dependencies (Tiptap's `@tiptap/pm`
 * brings them).
 * @module
 */
import type { Node as PMNode } from 'prosemirror-model';
import { Plugin, PluginKey, TextSelection, type EditorState, type Transaction } from 'prosemirror-state';
import { Transform } from 'prosemirror-transform';
import { Decoration, DecorationSet } from 'prosemirror-view';
import type { Range } from '../ot/op.js';
import type { RichDoc } from '../rich-doc.js';
import { deltaLength as deltaLen, transformSelection, type Delta, type RichOp } from '../rich/index.js';
import type { DocChange } from '../types.js';
import { applyOpToTransform, canonicalize, deltaLength, deltaToDoc, docToDelta, offsetToPos, posToOffset, transactionToOp } from './prosemirror-mapping.js';

export {
  HARD_BREAK,
  OBJECT_REPLACEMENT,
  BLOCK_KEYS,
  docToDelta,
  deltaToDoc,
  posToOffset,
  offsetToPos,
  deltaLength,
  canonicalize,
  transactionToOp,
  applyOpToTransform,
  type ApplyResult,
} from './prosemirror-mapping.js';
export type { AttrValue, Attributes, Embed, Delta, DeltaInsert, RichComponent, RichOp } from '../rich/index.js';

/** Options of {@link tandemPlugin}. */
export interface ProseMirrorCollabOptions {
  /** Share the local selection as presence (default true). */
  shareSelection?: boolean;
  /** Hide the local caret from peers while the editor is not focused (default false: peers keep seeing where you were). */
  hideOnBlur?: boolean;
  /** Show each peer's name above their caret (default true). */
  showNames?: boolean;
  /** Handle Mod-z, Mod-y and Mod-Shift-z with the document's undo manager (default true). Disable the editor's own history. */
  undoKeys?: boolean;
}

/** The plugin's key: `tandemKey.getState(state)` is its {@link TandemPluginState}. */
export const tandemKey = new PluginKey<TandemPluginState>('tandem');

/** Meta on transactions the binding dispatches itself (remote edits, undo, resets): they are not sent back. */
export const TANDEM_META = 'tandem';

/** A peer's caret and selection as the plugin draws it. */
export interface RemoteCaret {
  sid: string;
  name: string;
  color: string;
  /** `[anchor, head]` ranges in code points of the document. */
  ranges: Range[];
}

/** The plugin's state: the peers' decorations and the local transactions not yet turned into ops. */
export interface TandemPluginState {
  decorations: DecorationSet;
  carets: RemoteCaret[];
  /** Local document changes since the view last synced them to the document (in order). */
  unsent: readonly Transaction[];
}

interface Meta {
  /** The transaction comes from the document: do not send it. */
  remote?: boolean;
  /** New peer carets. */
  carets?: RemoteCaret[];
}

/** Translucent background for a CSS colour (hex gets an alpha suffix; other forms use color-mix). */
function tint(color: string): string {
  if (/^#[0-9a-f]{6}$/i.test(color)) return `${color}33`;
  if (/^#[0-9a-f]{3}$/i.test(color)) return `${color}3`;
  return `color-mix(in srgb, ${color} 20%, transparent)`;
}

function caretWidget(c: RemoteCaret, showName: boolean): HTMLElement {
  const el = document.createElement('span');
  el.className = 'pm-tandem-caret';
  el.setAttribute('data-sid', c.sid);
  el.setAttribute('aria-hidden', 'true');
  el.style.cssText = `position:relative;border-left:2px solid ${c.color};margin-left:-1px;margin-right:-1px;pointer-events:none;word-break:normal;`;
  if (showName) {
    const label = document.createElement('span');
    label.className = 'pm-tandem-caret-label';
    label.textContent = c.name;
    label.style.cssText =
      `position:absolute;bottom:100%;left:-2px;padding:0 4px;border-radius:3px 3px 3px 0;color:white;background:${c.color};` +
      'font:11px/16px system-ui,sans-serif;white-space:nowrap;user-select:none;z-index:10;';
    el.appendChild(label);
  }
  return el;
}

function buildDecorations(doc: PMNode, carets: RemoteCaret[], showNames: boolean): DecorationSet {
  const decos: Decoration[] = [];
  const max = deltaLength(doc) - 1;
  const pos = (off: number): number => offsetToPos(doc, Math.min(Math.max(0, off), max));
  for (const c of carets) {
    for (const [a, h] of c.ranges) {
      const from = pos(Math.min(a, h));
      const to = pos(Math.max(a, h));
      if (to > from) {
        decos.push(Decoration.inline(from, to, { class: 'pm-tandem-selection', style: `background-color: ${tint(c.color)}` }, { inclusiveStart: true, inclusiveEnd: false }));
      }
      // side -1: text typed at someone else's caret goes after it (the caret rule, docs/protocol.md).
      decos.push(Decoration.widget(pos(h), () => caretWidget(c, showNames), { key: `${c.sid}:${c.color}:${c.name}:${showNames}`, side: -1, ignoreSelection: true }));
    }
  }
  return DecorationSet.create(doc, decos);
}

function caretsOf(doc: RichDoc): RemoteCaret[] {
  return doc.presence
    .getPeers()
    .filter((p) => p.selection !== null)
    .map((p) => ({ sid: p.sid, name: p.user.name, color: p.user.color, ranges: p.selection ?? [] }));
}

/** True when the editor's document is exactly the document's Delta (as this schema shows it). */
function mirrors(editor: PMNode, delta: Delta): boolean {
  return editor.eq(deltaToDoc(editor.type.schema, delta));
}

/**
 * The collaboration plugin for one rich document. Create the editor with
 * `deltaToDoc(schema, doc.delta())` as its document, or with any document:
 * the plugin resets it to the shared one when the view starts (and whenever
 * the two ever differ). Disable the editor's own history (ProseMirror:
 * leave out `history()`; Tiptap: `StarterKit.configure({ undoRedo: false })`):
 * undo goes through the document, so it undoes only this client's edits.
 */
export function tandemPlugin(doc: RichDoc, options: ProseMirrorCollabOptions = {}): Plugin<TandemPluginState> {
  const share = options.shareSelection !== false;
  const hideOnBlur = options.hideOnBlur === true;
  const showNames = options.showNames !== false;
  const undoKeys = options.undoKeys !== false;
  /** Transactions already turned into ops (the plugin state drops them on the next transaction). */
  const sent = new WeakSet<Transaction>();
  const origin = {};

  const plugin: Plugin<TandemPluginState> = new Plugin<TandemPluginState>({
    key: tandemKey,
    state: {
      init: () => ({ decorations: DecorationSet.empty, carets: [], unsent: [] }),
      apply(tr, prev, _old, state) {
        const meta = tr.getMeta(tandemKey) as Meta | undefined;
        let unsent = prev.unsent.filter((t) => !sent.has(t));
        if (tr.docChanged && meta?.remote !== true) unsent = [...unsent, tr];
        const carets = meta?.carets ?? prev.carets;
        const decorations = meta?.carets !== undefined || meta?.remote === true ? buildDecorations(state.doc, carets, showNames) : prev.decorations.map(tr.mapping, tr.doc);
        return { decorations, carets, unsent };
      },
    },
    props: {
      decorations: (state) => tandemKey.getState(state)?.decorations ?? DecorationSet.empty,
      handleDOMEvents: hideOnBlur
        ? {
            focus: (view) => {
              shareSelection(view.state, doc);
              return false;
            },
            blur: () => {
              doc.presence.setSelection(null);
              return false;
            },
          }
        : {},
      handleKeyDown(_view, event) {
        if (!undoKeys) return false;
        const mod = event.metaKey || event.ctrlKey;
        if (!mod || event.altKey) return false;
        const key = event.key.toLowerCase();
        if (key === 'z' && !event.shiftKey) doc.undo();
        else if (key === 'y' || (key === 'z' && event.shiftKey)) doc.redo();
        else return false;
        event.preventDefault();
        return true;
      },
    },
    // Literal "\n" that replace fitting leaves in a paragraph becomes a hard break, as peers see it.
    appendTransaction(trs, _old, state) {
      if (!trs.some((t) => t.docChanged && (t.getMeta(tandemKey) as Meta | undefined)?.remote !== true)) return null;
      const tr = state.tr;
      return canonicalize(tr) ? tr : null;
    },
    view(view) {
      let destroyed = false;
      const dispatch = (tr: Transaction, meta: Meta): void => {
        if (destroyed) return;
        tr.setMeta(tandemKey, meta).setMeta('addToHistory', false);
        // Tiptap's TrailingNode would answer every client's copy of a remote edit with a paragraph of its own.
        if (meta.remote === true) tr.setMeta('skipTrailingNode', true);
        view.dispatch(tr);
      };
      const reset = (): void => {
        const target = deltaToDoc(view.state.schema, doc.delta());
        const tr = view.state.tr.replaceWith(0, view.state.doc.content.size, target.content);
        dispatch(tr, { remote: true, carets: caretsOf(doc) });
      };
      /** True while readPendingSelection reads the DOM's selection into the editor ahead of a remote edit. */
      let readingAhead = false;
      /**
       * Reads a selection the browser changed and ProseMirror has not read
       * yet: `selectionchange` comes as a task of its own, after the key
       * (Shift+Arrow) that moved the selection, and a transaction dispatched
       * in between (a remote edit, peers' carets) puts ProseMirror's older
       * selection back into the DOM, undoing the user's key. Only when no
       * DOM change waits to be read: that would be the user's typing, which
       * ProseMirror reads itself after the transaction, against the document
       * it then shows. (The view's DOM observer is internal to
       * prosemirror-view; without it this does nothing.) `ahead`: the
       * document has already taken a remote edit the editor has not, so the
       * selection read now is not shared (offsets would be the old
       * document's); the remote edit's own transaction shares it.
       */
      const readPendingSelection = (ahead: boolean): void => {
        const observer = (view as unknown as { domObserver?: { pendingRecords?: () => unknown[]; flush?: () => void } }).domObserver;
        if (!view.hasFocus() || typeof observer?.pendingRecords !== 'function' || typeof observer.flush !== 'function') return;
        if (observer.pendingRecords().length > 0) return;
        readingAhead = ahead;
        try {
          observer.flush();
        } finally {
          readingAhead = false;
        }
      };
      const refreshCarets = (): void => {
        if (destroyed) return;
        readPendingSelection(false);
        dispatch(view.state.tr, { carets: caretsOf(doc) });
      };
      const sendSelection = (state: EditorState): void => {
        if (!share || readingAhead) return;
        if (hideOnBlur && !view.hasFocus()) {
          doc.presence.setSelection(null);
          return;
        }
        shareSelection(state, doc);
      };
      const onChange = (c: DocChange<RichOp, Delta>): void => {
        if (destroyed || c.origin === origin) return;
        readPendingSelection(true);
        const state = view.state;
        if (deltaLength(state.doc) !== deltaLen(c.before)) {
          reset(); // out of step (should not happen): show the document as it is
          return;
        }
        // The local selection in code points, moved with the caret rule: someone
        // else's insert exactly at the caret leaves it before the new text.
        const sel = state.selection;
        const offs: Range = [posToOffset(state.doc, sel.anchor), posToOffset(state.doc, sel.head)];
        const [moved] = (transformSelection([offs], c.op, !c.remote) ?? [offs]) as Range[];
        const tr = state.tr;
        try {
          applyOpToTransform(tr, c.op, doc.delta());
        } catch {
          reset();
          return;
        }
        if (sel instanceof TextSelection && moved) {
          const a = offsetToPos(tr.doc, moved[0]);
          const h = offsetToPos(tr.doc, moved[1]);
          try {
            tr.setSelection(TextSelection.between(tr.doc.resolve(a), tr.doc.resolve(h)));
          } catch {
            // keep ProseMirror's own mapping
          }
        }
        if (!c.remote) tr.scrollIntoView();
        dispatch(tr, { remote: true, carets: caretsOf(doc) });
      };
      /**
       * After a local op: the document may hold attributes this editor could
       * not show (a Quill peer's heading on a list item's first line, a
       * `list-start` inside a list) that the edit brings to light. The editor
       * is brought to what the document now says, over the blocks the op
       * touched (unchanged blocks are shared, so the comparison is cheap).
       */
      const reveal = (before: PMNode, op: RichOp): void => {
        const t = new Transform(before);
        applyOpToTransform(t, op, doc.delta());
        if (!t.doc.eq(view.state.doc)) queueMicrotask(settle);
      };
      /** Makes the editor show the document exactly, replacing only the range that differs. */
      const settle = (): void => {
        if (destroyed) return;
        const cur = view.state.doc;
        const target = deltaToDoc(view.state.schema, doc.delta());
        const start = cur.content.findDiffStart(target.content);
        const end = cur.content.findDiffEnd(target.content);
        if (start === null || end === null) return;
        let { a, b } = end;
        const overlap = start - Math.min(a, b);
        if (overlap > 0) {
          a += overlap;
          b += overlap;
        }
        dispatch(view.state.tr.replace(start, a, target.slice(start, b)), { remote: true });
      };
      const offs = [doc.on('change', onChange), doc.presence.on('change', refreshCarets), doc.presence.on('leave', refreshCarets)];
      if (!mirrors(view.state.doc, doc.delta())) queueMicrotask(() => !destroyed && reset());
      else queueMicrotask(refreshCarets);
      // Until the document is synced its content is the empty document: show the server's when it comes.
      offs.push(
        doc.on('synced', () => {
          if (!destroyed && !mirrors(view.state.doc, doc.delta())) reset();
        }),
      );
      return {
        update(v, prevState) {
          if (destroyed) return;
          const st = tandemKey.getState(v.state);
          const unsent = st?.unsent.filter((t) => !sent.has(t)) ?? [];
          if (unsent.length > 0) {
            // The unsent transactions applied one after the other (a remote one may come before them in
            // this update, when a plugin answered it): one transform from the document the first applied to.
            const base = (unsent[0] as Transaction).before;
            const t = new Transform(base);
            for (const tr of unsent) {
              sent.add(tr);
              for (const step of tr.steps) t.step(step);
            }
            let op: RichOp = [];
            try {
              op = t.doc.eq(v.state.doc) ? transactionToOp(t) : transactionToOp(new Transform(base).replaceWith(0, base.content.size, v.state.doc.content));
              if (op.length > 0) {
                doc.submitOp(op, origin);
                reveal(base, op);
              }
            } catch (e) {
              // Read-only, closed, or an edit the type refuses: show the document as it is.
              queueMicrotask(() => !destroyed && reset());
              if (!(e instanceof Error)) throw e;
            }
          }
          if (!v.state.selection.eq(prevState.selection) || !v.state.doc.eq(prevState.doc) || unsent.length > 0) sendSelection(v.state);
        },
        destroy() {
          destroyed = true;
          for (const off of offs) off();
          if (share) doc.presence.setSelection(null);
        },
      };
    },
  });
  return plugin;
}

/** The peers' carets the plugin shows in `state` (for tests and custom rendering). */
export function remoteCarets(state: EditorState): RemoteCaret[] {
  return tandemKey.getState(state)?.carets ?? [];
}

/** Shares the editor's selection as the local presence, in code points. */
function shareSelection(state: EditorState, doc: RichDoc): void {
  const sel = state.selection;
  doc.presence.setSelection([[posToOffset(state.doc, sel.anchor), posToOffset(state.doc, sel.head)]]);
}

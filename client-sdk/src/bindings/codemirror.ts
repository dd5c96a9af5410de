/**
 * CodeMirror 6 binding: `tandemCollab(doc)` returns an extension that keeps an
 * `EditorView` and a {@link TextDoc} in sync, shows every peer's caret and
 * selection in their colour with their name, shares the local selection, and
 * maps Mod-z / Mod-y / Mod-Shift-z to the document's own-edits-only undo.
 * `@codemirror/state` and `@codemirror/view` are peer dependencies.
 * @module
 */
import { Annotation, EditorSelection, EditorState, Prec, RangeSetBuilder, StateEffect, StateField, type ChangeSpec, type Extension, type Text } from '@codemirror/state';
import { Decoration, EditorView, ViewPlugin, WidgetType, keymap, type DecorationSet, type ViewUpdate } from '@codemirror/view';
import type { TextDoc } from '../text-doc.js';
import type { DocChange } from '../types.js';
import { changesToOp, mapPositionUtf16, opToChanges, type TextChange } from '../ot/changes.js';
import type { Peer } from '../types.js';

/** Options of {@link tandemCollab}. */
export interface CollabOptions {
  /** Share the local selection as presence (default true). */
  shareSelection?: boolean;
  /** Bind Mod-z, Mod-y and Mod-Shift-z to the document's undo manager (default true). */
  undoKeys?: boolean;
  /** Show the peer's name above the caret (default true). */
  showNames?: boolean;
}

/** Marks transactions that come from the document (remote edits, undo), so the plugin does not send them back. */
export const fromTandem = Annotation.define<boolean>();

/** A remote peer's selection in UTF-16 offsets of the editor text. */
interface RemoteCaret {
  sid: string;
  name: string;
  color: string;
  ranges: { anchor: number; head: number }[];
}

const setCarets = StateEffect.define<RemoteCaret[]>();

class CaretWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly color: string,
    readonly showName: boolean,
  ) {
    super();
  }
  override eq(other: CaretWidget): boolean {
    return other.name === this.name && other.color === this.color && other.showName === this.showName;
  }
  toDOM(): HTMLElement {
    const el = document.createElement('span');
    el.className = 'cm-tandem-caret';
    el.style.borderLeftColor = this.color;
    el.setAttribute('aria-hidden', 'true');
    if (this.showName) {
      const label = document.createElement('span');
      label.className = 'cm-tandem-caret-label';
      label.textContent = this.name;
      label.style.backgroundColor = this.color;
      el.appendChild(label);
    }
    return el;
  }
  override ignoreEvent(): boolean {
    return true;
  }
}

/** Translucent background for a CSS colour (hex gets an alpha suffix; other forms use color-mix). */
function tint(color: string): string {
  if (/^#[0-9a-f]{6}$/i.test(color)) return `${color}33`;
  if (/^#[0-9a-f]{3}$/i.test(color)) return `${color}3`;
  return `color-mix(in srgb, ${color} 20%, transparent)`;
}

function buildDecorations(carets: RemoteCaret[], docLength: number, showNames: boolean): DecorationSet {
  const items: { from: number; to: number; deco: Decoration }[] = [];
  for (const c of carets) {
    for (const r of c.ranges) {
      const anchor = Math.min(r.anchor, docLength);
      const head = Math.min(r.head, docLength);
      const from = Math.min(anchor, head);
      const to = Math.max(anchor, head);
      // Until the next refresh, CodeMirror maps these through local edits
      // itself; they are set to follow the caret rule (docs/protocol.md,
      // "Carets and selections"), as the presence model does: text typed at
      // someone else's caret goes after it (the widget's side -1), text typed
      // at the start of their range goes inside it and at its end outside.
      if (to > from) {
        items.push({
          from,
          to,
          deco: Decoration.mark({
            class: 'cm-tandem-selection',
            inclusiveStart: true,
            inclusiveEnd: false,
            attributes: { style: `background-color: ${tint(c.color)}` },
          }),
        });
      }
      items.push({ from: head, to: head, deco: Decoration.widget({ widget: new CaretWidget(c.name, c.color, showNames), side: -1 }) });
    }
  }
  items.sort((a, b) => a.from - b.from || a.to - b.to);
  const b = new RangeSetBuilder<Decoration>();
  for (const it of items) b.add(it.from, it.to, it.deco);
  return b.finish();
}

const caretTheme = EditorView.baseTheme({
  '.cm-tandem-caret': {
    position: 'relative',
    borderLeft: '2px solid',
    marginLeft: '-1px',
    marginRight: '-1px',
    pointerEvents: 'none',
  },
  '.cm-tandem-caret-label': {
    position: 'absolute',
    bottom: '100%',
    left: '-2px',
    padding: '0 4px',
    borderRadius: '3px 3px 3px 0',
    color: 'white',
    fontSize: '11px',
    lineHeight: '16px',
    fontFamily: 'system-ui, sans-serif',
    whiteSpace: 'nowrap',
    userSelect: 'none',
    zIndex: '10',
  },
});

function toCodeMirrorChanges(changes: TextChange[]): ChangeSpec[] {
  return changes.map((c) => ({ from: c.from, to: c.to, insert: c.insert }));
}

/** The editor's own selection moved through someone else's changes with the caret rule. */
function mapSelection(sel: EditorSelection, changes: readonly TextChange[]): EditorSelection {
  return EditorSelection.create(
    sel.ranges.map((r) => EditorSelection.range(mapPositionUtf16(r.anchor, changes), mapPositionUtf16(r.head, changes))),
    sel.mainIndex,
  );
}

function peersToCarets(doc: TextDoc, peers: Peer[]): RemoteCaret[] {
  return peers
    .filter((p) => p.selection !== null)
    .map((p) => ({
      sid: p.sid,
      name: p.user.name,
      color: p.user.color,
      ranges: (doc.presence.toUtf16(p.selection) ?? []).map(([anchor, head]) => ({ anchor, head })),
    }));
}

/**
 * The collaboration extension for one document. The editor's initial content
 * should be `doc.text` (e.g. `EditorState.create({doc: doc.text, extensions: [tandemCollab(doc)]})`);
 * if it differs, the editor is reset to the document's text when the view starts.
 */
export function tandemCollab(doc: TextDoc, options: CollabOptions = {}): Extension {
  const share = options.shareSelection !== false;
  const showNames = options.showNames !== false;

  const caretField = StateField.define<DecorationSet>({
    create: () => Decoration.none,
    update(deco, tr) {
      let next = deco.map(tr.changes);
      for (const e of tr.effects) if (e.is(setCarets)) next = buildDecorations(e.value, tr.state.doc.length, showNames);
      return next;
    },
    provide: (f) => EditorView.decorations.from(f),
  });

  const plugin = ViewPlugin.fromClass(
    class {
      private readonly offs: (() => void)[] = [];
      private destroyed = false;
      constructor(private readonly view: EditorView) {
        if (view.state.doc.toString() !== doc.text) {
          const text = doc.text;
          queueMicrotask(() => {
            if (this.destroyed) return;
            view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, annotations: fromTandem.of(true) });
          });
        }
        this.offs.push(doc.on('change', (c) => this.onDocChange(c)));
        this.offs.push(doc.presence.on('change', () => this.refreshCarets()));
        this.offs.push(doc.presence.on('leave', () => this.refreshCarets()));
        queueMicrotask(() => this.refreshCarets());
      }

      private onDocChange(c: DocChange): void {
        if (this.destroyed || c.origin === plugin) return;
        const editorText: Text = this.view.state.doc;
        if (editorText.length !== c.before.length) {
          // Out of sync (should not happen): reset the editor to the document.
          this.view.dispatch({ changes: { from: 0, to: editorText.length, insert: doc.text }, annotations: fromTandem.of(true) });
          this.refreshCarets();
          return;
        }
        // The editor mirrors the document, so changes computed on the text before apply as they are.
        const textChanges = opToChanges(c.before, c.op);
        const changes = this.view.state.changes(toCodeMirrorChanges(textChanges));
        const own = !c.remote;
        this.view.dispatch({
          changes,
          annotations: fromTandem.of(true),
          // Someone else's insert exactly at the caret leaves the caret before
          // it (docs/protocol.md, "Carets and selections"): what the user types
          // next goes left of the other person's text, so neither word is
          // split. CodeMirror's own mapping would put a caret inside a
          // replaced range at its start; this follows the protocol exactly.
          ...(own ? { scrollIntoView: true } : { selection: mapSelection(this.view.state.selection, textChanges) }),
        });
        this.refreshCarets();
      }

      update(u: ViewUpdate): void {
        if (u.docChanged && !u.transactions.some((tr) => tr.annotation(fromTandem) === true)) {
          const changes: TextChange[] = [];
          u.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
            changes.push({ from: fromA, to: toA, insert: inserted.toString() });
          });
          const before = doc.text;
          try {
            const op = changesToOp(before, changes);
            if (op.length > 0) doc.submitOp(op, plugin);
          } catch (e) {
            // Read-only, closed or a change that splits a surrogate pair: restore the document's text.
            queueMicrotask(() => {
              if (this.destroyed) return;
              this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: doc.text }, annotations: fromTandem.of(true) });
            });
            if (!(e instanceof Error)) throw e;
          }
        }
        if (share && (u.selectionSet || u.focusChanged || u.docChanged)) {
          if (this.view.hasFocus) {
            const sel = u.state.selection.ranges.map((r) => [r.anchor, r.head] as [number, number]);
            if (u.state.doc.length === doc.text.length) doc.presence.setSelectionUtf16(sel);
          } else if (u.focusChanged) {
            doc.presence.setSelection(null);
          }
        }
      }

      refreshCarets(): void {
        if (this.destroyed) return;
        const carets = peersToCarets(doc, doc.presence.getPeers());
        this.view.dispatch({ effects: setCarets.of(carets) });
      }

      destroy(): void {
        this.destroyed = true;
        for (const off of this.offs) off();
      }
    },
  );

  const undoKeys: Extension = options.undoKeys === false
    ? []
    : Prec.high(
        keymap.of([
          { key: 'Mod-z', run: () => (doc.undo(), true), preventDefault: true },
          { key: 'Mod-y', run: () => (doc.redo(), true), preventDefault: true },
          { key: 'Mod-Shift-z', run: () => (doc.redo(), true), preventDefault: true },
        ]),
      );

  // Only \n separates lines, so \r and \r\n survive unchanged in the shared text.
  return [EditorState.lineSeparator.of('\n'), caretField, plugin, caretTheme, undoKeys];
}

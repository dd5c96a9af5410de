/**
 * Binds a plain `<textarea>` to a {@link TextDoc}: typing becomes ops (the
 * textarea value is diffed on every `input` event), remote edits land without
 * moving the local caret, selection or scroll position, the caret is shared as
 * presence, and undo/redo (Ctrl/Cmd+Z, Ctrl+Y, Ctrl/Cmd+Shift+Z) use the
 * document's {@link UndoManager}, which only undoes this user's edits.
 * @module
 */
import type { TextDoc } from '../text-doc.js';
import type { DocChange } from '../types.js';
import { diffToOp, opToChanges, type TextChange } from '../ot/changes.js';
import { transformPosition } from '../ot/op.js';
import { OffsetMap } from '../ot/unicode.js';

/** Options of {@link bindTextarea}. */
export interface TextareaBindingOptions {
  /** Share the caret/selection as presence (default true). */
  shareSelection?: boolean;
  /** Handle undo/redo keys with the document's undo manager (default true). */
  handleUndo?: boolean;
}

/** A live binding; call {@link TextareaBinding.destroy} to detach. */
export interface TextareaBinding {
  /** Removes all listeners; the textarea keeps its current value. */
  destroy(): void;
}

/** Moves a UTF-16 offset of `before` through a code point op, returning a UTF-16 offset of `after`. */
function moveUtf16(before: OffsetMap, after: OffsetMap, u: number, op: DocChange['op']): number {
  const cp = before.toCodePoint(Math.min(u, before.text.length));
  return after.toUtf16(transformPosition(cp, op));
}

/**
 * Binds `textarea` to `doc`. The textarea's value is replaced by the
 * document's text. Returns a handle to detach the binding.
 */
export function bindTextarea(doc: TextDoc, textarea: HTMLTextAreaElement, options: TextareaBindingOptions = {}): TextareaBinding {
  const share = options.shareSelection !== false;
  const handleUndo = options.handleUndo !== false;
  const origin = Symbol('textarea-binding');
  let last = doc.text;
  textarea.value = last;

  const publishSelection = (): void => {
    if (!share) return;
    if (textarea.value !== doc.text) return; // mid-composition: wait for input
    const { selectionStart: s, selectionEnd: e, selectionDirection: dir } = textarea;
    const range: [number, number] = dir === 'backward' ? [e, s] : [s, e];
    doc.presence.setSelectionUtf16([range]);
  };

  const onInput = (): void => {
    const value = textarea.value;
    if (value === last) return;
    let op;
    try {
      op = diffToOp(last, value, textarea.selectionEnd);
    } catch {
      // A lone surrogate mid-input (rare IME states): wait for the next input event.
      return;
    }
    last = value;
    if (op.length > 0) {
      try {
        doc.submitOp(op, origin);
      } catch (e) {
        // Read-only or closed: put the document's text back.
        last = doc.text;
        textarea.value = last;
        throw e;
      }
    }
    publishSelection();
  };

  const onChange = (c: DocChange): void => {
    if (c.origin === origin) return;
    // Anything not typed here (remote edits, undo/redo, programmatic edits) is
    // applied to the textarea while keeping caret and scroll in place.
    const before = new OffsetMap(textarea.value === c.before ? c.before : last);
    const next = doc.text;
    const after = new OffsetMap(next);
    const focused = textarea.ownerDocument.activeElement === textarea;
    const { selectionStart, selectionEnd, selectionDirection, scrollTop, scrollLeft } = textarea;
    let start = selectionStart;
    let end = selectionEnd;
    if (c.remote) {
      start = moveUtf16(before, after, selectionStart, c.op);
      end = moveUtf16(before, after, selectionEnd, c.op);
    } else {
      // Own undo/redo: put the caret at the end of the last change.
      const changes: TextChange[] = opToChanges(c.before, c.op);
      const lastChange = changes[changes.length - 1];
      if (lastChange !== undefined) {
        let shift = 0;
        for (const ch of changes) shift += ch.insert.length - (ch.to - ch.from);
        start = end = lastChange.to + shift;
      }
    }
    last = next;
    textarea.value = next;
    if (focused || c.remote) textarea.setSelectionRange(start, end, selectionDirection ?? undefined);
    textarea.scrollTop = scrollTop;
    textarea.scrollLeft = scrollLeft;
    if (!c.remote) publishSelection();
  };

  const onKeyDown = (ev: KeyboardEvent): void => {
    if (!handleUndo || !(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
    const key = ev.key.toLowerCase();
    if (key === 'z' && !ev.shiftKey) {
      ev.preventDefault();
      doc.undo();
    } else if ((key === 'z' && ev.shiftKey) || (key === 'y' && !ev.shiftKey)) {
      ev.preventDefault();
      doc.redo();
    }
  };

  const onBeforeInput = (ev: InputEvent): void => {
    if (!handleUndo) return;
    if (ev.inputType === 'historyUndo') {
      ev.preventDefault();
      doc.undo();
    } else if (ev.inputType === 'historyRedo') {
      ev.preventDefault();
      doc.redo();
    }
  };

  const selectionEvents = ['select', 'keyup', 'mouseup', 'focus'] as const;
  const onSelectionChange = (): void => {
    if (textarea.ownerDocument.activeElement === textarea) publishSelection();
  };
  const onBlur = (): void => {
    if (share) doc.presence.setSelection(null);
  };

  const listeners: [EventTarget, string, (ev: never) => void][] = [
    [textarea, 'input', onInput],
    [textarea, 'keydown', onKeyDown],
    [textarea, 'beforeinput', onBeforeInput],
    [textarea, 'blur', onBlur],
    ...selectionEvents.map((e): [EventTarget, string, () => void] => [textarea, e, publishSelection]),
    [textarea.ownerDocument, 'selectionchange', onSelectionChange],
  ];
  const offChange = doc.on('change', onChange);
  for (const [target, type, fn] of listeners) target.addEventListener(type, fn as EventListener);

  return {
    destroy() {
      offChange();
      for (const [target, type, fn] of listeners) target.removeEventListener(type, fn as EventListener);
    },
  };
}

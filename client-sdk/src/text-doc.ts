/**
 * The `text` document type in the SDK: its operational-transform functions
 * for the session machinery ({@link textType}) and its public document class
 * ({@link TextDoc}), opened with `Connection.openDoc`.
 * @module
 */
import { rangeTypeOps, type DocType } from './doctype.js';
import { changesToOp, diffLinesToOp, diffToOp, type TextChange } from './ot/changes.js';
import { OTError } from './ot/errors.js';
import { apply, compose, invert, isNoop, normalize, transformPair, transformSelection, validate, type Op, type Range } from './ot/op.js';
import { cpLength } from './ot/unicode.js';
import { TextPresence } from './presence.js';
import type { DocEvents, DocOptions, DocSession } from './session.js';
import { SharedDoc } from './shared-doc.js';

/** The `text` type's functions (docs/protocol.md, "Text documents"): a string, ops of code points, range selections. */
export const textType: DocType<string, Op, Range[]> = {
  name: 'text',
  contentKey: 'text',
  empty: () => '',
  decodeContent(value) {
    if (typeof value !== 'string') throw new OTError('invalid', 'joined text is not a string');
    return value;
  },
  ...rangeTypeOps({ apply, normalize, invert, isNoop, transformPair, validate, compose, transformSelection, length: cpLength }),
  // Line-aligned, so that carets, pending edits and undo steps stay in their lines.
  diff: diffLinesToOp,
};

/** Events of a {@link TextDoc}. */
export type TextDocEvents = DocEvents<Op, string>;

/** Options of {@link Connection.openDoc}. */
export type TextDocOptions = DocOptions;

/**
 * A shared text document: the client side of the OT protocol.
 *
 * Local edits apply at once to {@link text}. At most one op is in flight
 * (sent, not yet acknowledged); later edits compose into one buffered op that
 * is sent after the ack. Remote ops are transformed against the in-flight and
 * buffered ops before they are applied. A gap in versions, a reconnect or a
 * rejected op makes the document re-join with its last version; the
 * unacknowledged op is then resubmitted with the same `seq` (the server applies
 * it at most once).
 *
 * Positions in methods without `Utf16` in their name count code points.
 */
export class TextDoc extends SharedDoc<string, Op, Range[]> {
  /** Live carets and selections of the people in this document, with UTF-16 conversions. */
  declare readonly presence: TextPresence;

  /** @internal Use {@link Connection.openDoc}. */
  constructor(session: DocSession<string, Op, Range[]>) {
    super(session, new TextPresence(session as DocSession<unknown, unknown, Range[]>, () => session.state.content));
  }

  /** The local text (includes local edits not yet acknowledged). */
  get text(): string {
    return this.session.state.content;
  }

  /** Length of the local text in code points. */
  get length(): number {
    return cpLength(this.text);
  }

  /** Inserts `text` at code point `pos`. */
  insert(pos: number, text: string, origin?: unknown): void {
    if (text === '') return;
    this.submitOp(pos > 0 ? [pos, text] : [text], origin);
  }

  /** Deletes `count` code points at code point `pos`. */
  delete(pos: number, count: number, origin?: unknown): void {
    if (count <= 0) return;
    this.submitOp(pos > 0 ? [pos, -count] : [-count], origin);
  }

  /** Applies editor changes given in **UTF-16** offsets of the current text (see {@link TextChange}). */
  applyChangesUtf16(changes: readonly TextChange[], origin?: unknown): void {
    const op = changesToOp(this.text, changes);
    if (op.length > 0) this.submitOp(op, origin);
  }

  /** Replaces the whole text with `text`, as one minimal local edit. */
  setText(text: string, origin?: unknown): void {
    const op = diffToOp(this.text, text);
    if (op.length > 0) this.submitOp(op, origin);
  }
}

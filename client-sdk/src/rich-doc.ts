/**
 * The `rich` document type in the SDK: its operational-transform functions
 * for the session machinery ({@link richType}) and its public document class
 * ({@link RichDoc}), opened with `Connection.openRich`. Content is the
 * document's Delta (docs/protocol.md, "Rich-text documents"); positions
 * count code points, each embed one.
 * @module
 */
import { rangeTypeOps, type DocType } from './doctype.js';
import { changesToOp, diffLinesToOp, diffToOp, type TextChange } from './ot/changes.js';
import type { Op, Range } from './ot/op.js';
import { cpLength } from './ot/unicode.js';
import { TextPresence } from './presence.js';
import { attrsEqual, type Attributes, type Embed } from './rich/attributes.js';
import { RichError } from './rich/errors.js';
import {
  apply,
  compose,
  contentOf,
  deltaLength,
  deltaText,
  invert,
  isNoop,
  normalize,
  transformPair,
  transformSelection,
  validate,
  type Delta,
  type RichComponent,
  type RichOp,
} from './rich/op.js';
import type { DocEvents, DocOptions, DocSession } from './session.js';
import { SharedDoc } from './shared-doc.js';

/** The plain text of a rich content, each embed one U+FFFC (kept per content: contents are never changed in place). */
export function richText(content: Delta): string {
  return deltaText(content);
}

/** One code point (or embed) of a content with its attributes. */
interface Unit {
  ch: string;
  embed?: Embed;
  attrs?: Attributes;
}

function unitsOf(content: Delta): Unit[] {
  const out: Unit[] = [];
  for (const d of content) {
    if (typeof d === 'string') {
      for (const ch of d) out.push({ ch });
    } else if ('i' in d) {
      const attrs = d.a ?? undefined;
      for (const ch of d.i) out.push({ ch, attrs });
    } else {
      out.push({ ch: '\uFFFC', embed: d.e, attrs: d.a ?? undefined });
    }
  }
  return out;
}

function embedEqual(a: Embed | undefined, b: Embed | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The format that turns attributes `a` into `b` (null removes), or undefined when equal. */
function attrsChange(a: Attributes | undefined, b: Attributes | undefined): Attributes | undefined {
  if (attrsEqual(a, b)) return undefined;
  const out: Attributes = {};
  for (const [k, v] of Object.entries(b ?? {})) if (v !== null && (a === undefined || a[k] !== v)) out[k] = v;
  for (const k of Object.keys(a ?? {})) if (b === undefined || b[k] === undefined || b[k] === null) out[k] = null;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * A small rich op turning content `from` into `to`: the plain texts are
 * diffed line by line (as text documents resync), characters kept by that
 * diff keep their place and get only the formats that changed, and the rest
 * is deleted and inserted with its attributes. An embed kept by the text
 * diff but changed is replaced.
 */
export function diffRich(from: Delta, to: Delta): RichOp {
  const a = unitsOf(from);
  const b = unitsOf(to);
  // The final "\n" of both is the same line end: the diff runs on what is before it.
  const textOp: Op = diffLinesToOp(richText(from).slice(0, -1), richText(to).slice(0, -1));
  const out: RichComponent[] = [];
  let i = 0;
  let j = 0;
  const insert = (u: Unit): void => {
    if (u.embed !== undefined) out.push(u.attrs ? { e: { ...u.embed }, a: { ...u.attrs } } : { e: { ...u.embed } });
    else out.push(u.attrs ? { i: u.ch, a: { ...u.attrs } } : u.ch);
  };
  const keep = (n: number): void => {
    for (let k = 0; k < n; k++, i++, j++) {
      const ua = a[i] as Unit;
      const ub = b[j] as Unit;
      if (ua.embed !== undefined && !embedEqual(ua.embed, ub.embed)) {
        insert(ub);
        out.push(-1);
        continue;
      }
      const change = attrsChange(ua.attrs, ub.attrs);
      out.push(change ? { r: 1, a: change } : 1);
    }
  };
  for (const c of textOp) {
    if (typeof c === 'number') {
      if (c > 0) keep(c);
      else {
        out.push(c);
        i -= c;
      }
    } else {
      for (const _ of c) insert(b[j++] as Unit);
    }
  }
  keep(a.length - i);
  return normalize(out);
}

/** The `rich` type's functions (docs/protocol.md, "Rich-text documents"): a Delta, rich ops in code points, range selections. */
export const richType: DocType<Delta, RichOp, Range[]> = {
  name: 'rich',
  contentKey: 'text',
  // A new document is one empty paragraph: it always ends with "\n".
  empty: () => ['\n'],
  decodeContent: (value) => contentOf(value),
  ...rangeTypeOps({ apply, normalize, invert, isNoop, transformPair, validate, compose, transformSelection, length: deltaLength }),
  diff: diffRich,
};

/** Events of a {@link RichDoc}: changes carry rich ops and the Delta before them. */
export type RichDocEvents = DocEvents<RichOp, Delta>;

/** Options of {@link Connection.openRich}. */
export type RichDocOptions = DocOptions;

/** Keeps a non-empty attribute map, drops an empty or absent one. */
function someAttrs(attrs: Attributes | null | undefined): Attributes | undefined {
  return attrs && Object.keys(attrs).length > 0 ? attrs : undefined;
}

/** A text op (code points) is a rich op as it is: plain inserts, retains and deletes. */
const fromTextOp = (op: Op): RichOp => op;

/**
 * A shared rich-text document: text with formatting, as a Delta
 * (docs/protocol.md, "Rich-text documents"). It syncs as a {@link TextDoc}
 * does (local edits at once, one op in flight, remote ops transformed),
 * shows the same presence (ranges of code points) and undoes this client's
 * own edits, formatting included: undoing a bold removes the bold, undoing a
 * heading restores the paragraph.
 *
 * Positions and lengths count code points; an embed counts one. Paragraph
 * attributes (`heading`, `list`, `blockquote`, `code-block`) sit on the
 * paragraph's closing `"\n"`: set them with {@link formatLine}. The editor
 * bindings (`@tandem/client/prosemirror`, `@tandem/client/quill`) map an
 * editor onto it.
 */
export class RichDoc extends SharedDoc<Delta, RichOp, Range[]> {
  /** Live carets and selections of the people in this document, with UTF-16 conversions of {@link text}. */
  declare readonly presence: TextPresence;

  /** @internal Use {@link Connection.openRich}. */
  constructor(session: DocSession<Delta, RichOp, Range[]>) {
    super(session, new TextPresence(session as DocSession<unknown, unknown, Range[]>, () => richText(session.state.content)));
  }

  /** The document's Delta (local edits included), always ending with `"\n"`. Read-only: it is the SDK's own. */
  delta(): Delta {
    return this.session.state.content;
  }

  /** The plain text, each embed as U+FFFC, so that its code points are the document's positions. */
  get text(): string {
    return richText(this.session.state.content);
  }

  /** Length in code points (embeds count one, the final `"\n"` included). */
  get length(): number {
    return deltaLength(this.session.state.content);
  }

  /** Inserts `text` at code point `pos`, with `attrs` (none: plain text). */
  insert(pos: number, text: string, attrs?: Attributes | null, origin?: unknown): void {
    if (text === '') return;
    const a = someAttrs(attrs);
    const ins: RichComponent = a ? { i: text, a } : text;
    this.submitOp(pos > 0 ? [pos, ins] : [ins], origin);
  }

  /** Inserts one embed (e.g. `{image: "https://..."}`) at code point `pos`. */
  insertEmbed(pos: number, embed: Embed, attrs?: Attributes | null, origin?: unknown): void {
    const a = someAttrs(attrs);
    const ins: RichComponent = a ? { e: embed, a } : { e: embed };
    this.submitOp(pos > 0 ? [pos, ins] : [ins], origin);
  }

  /** Deletes `count` code points at code point `pos`. */
  delete(pos: number, count: number, origin?: unknown): void {
    if (count <= 0) return;
    this.submitOp(pos > 0 ? [pos, -count] : [-count], origin);
  }

  /**
   * Sets attributes on `len` code points at `pos` (`{bold: true}`; a null
   * value removes one: `{bold: null}`). Paragraph attributes belong on the
   * `"\n"`: see {@link formatLine}.
   */
  format(pos: number, len: number, attrs: Attributes, origin?: unknown): void {
    if (len <= 0 || Object.keys(attrs).length === 0) return;
    this.submitOp(pos > 0 ? [pos, { r: len, a: attrs }] : [{ r: len, a: attrs }], origin);
  }

  /**
   * Sets paragraph attributes (`{heading: 1}`, `{list: "bullet"}`,
   * `{heading: null}`) on every line that `[pos, pos + len]` touches (up to
   * the end of the document): on their closing `"\n"`.
   */
  formatLine(pos: number, len: number, attrs: Attributes, origin?: unknown): void {
    if (Object.keys(attrs).length === 0) return;
    const cps = [...this.text];
    if (pos < 0 || pos >= cps.length) throw new RichError('does_not_fit', `position ${pos} is outside the document (${cps.length} code points)`);
    const op: RichComponent[] = [];
    let at = 0;
    for (let k = pos; k < cps.length; k++) {
      if (cps[k] !== '\n') continue;
      if (k - at > 0) op.push(k - at);
      op.push({ r: 1, a: attrs });
      at = k + 1;
      if (k >= pos + Math.max(0, len)) break;
    }
    this.submitOp(op, origin);
  }

  /** The attributes of the character at `pos` (of its line's `"\n"` with `line`), or `{}`. */
  attributesAt(pos: number, line = false): Attributes {
    const t = this.text;
    let k = pos;
    if (line) {
      const cps = [...t];
      while (k < cps.length && cps[k] !== '\n') k++;
    }
    let at = 0;
    for (const d of this.session.state.content) {
      const n = typeof d === 'string' ? cpLength(d) : 'i' in d ? cpLength(d.i) : 1;
      if (k < at + n) return typeof d === 'string' ? {} : { ...(d.a ?? {}) };
      at += n;
    }
    return {};
  }

  /** Applies plain-text editor changes given in **UTF-16** offsets of {@link text}: inserted text is plain. */
  applyChangesUtf16(changes: readonly TextChange[], origin?: unknown): void {
    const op = changesToOp(this.text, changes);
    if (op.length > 0) this.submitOp(fromTextOp(op), origin);
  }

  /** Replaces the plain text with `text` as one minimal edit; kept characters keep their formatting. */
  setText(text: string, origin?: unknown): void {
    const cur = this.text;
    // The final "\n" stays: edits go before it.
    const body = text.endsWith('\n') ? text : `${text}\n`;
    const op = diffToOp(cur, body);
    if (op.length > 0) this.submitOp(fromTextOp(op), origin);
  }

  /** Replaces the whole content with `delta` as one small edit (see {@link diffRich}). */
  setDelta(delta: Delta, origin?: unknown): void {
    const op = diffRich(this.session.state.content, contentOf(delta));
    if (!isNoop(op)) this.submitOp(op, origin);
  }
}

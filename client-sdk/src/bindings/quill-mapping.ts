/**
 * Quill <-> rich op mapping: the pure half of the Quill binding. Quill's
 * Delta and the `rich` document are one model (text with attributes, embeds of
 * length 1, paragraph attributes on the closing "\n"), so the work is the
 * units and a name:
 *
 * - Quill counts UTF-16 code units (an emoji such as 😀 is 2); the rich type
 *   counts code points (😀 is 1). Converting a retain or delete needs the
 *   document text it runs over: {@link flatText} gives it (an embed is one
 *   BMP placeholder character, so it is 1 in both units).
 * - Quill calls a heading `header`; the rich document says `heading`
 *   (docs/protocol.md), which is the one key renamed; and Quill 2 gives a
 *   code line without a language `code-block: "plain"` where the rich
 *   document says `true` (so a language literally named "plain" reads back
 *   as none). Every other attribute
 *   (`bold`, `italic`, `underline`, `strike`, `code`, `link`, `list`,
 *   `indent`, `blockquote`, `code-block`, image `alt`/`width`/`height`)
 *   has the same name and value on both sides; attributes Quill does not know
 *   (`nest`, `list-start`, see the ProseMirror mapping) pass through.
 * - Quill ops: `{insert: string | {type: value}, attributes?}`,
 *   `{retain: n, attributes?}` (a `null` attribute removes it), `{delete: n}`.
 *   Rich ops: `n`, `-n`, `"text"`, `{i, a}`, `{r, a}`, `{e, a}`.
 *
 * Nothing here imports Quill: the shapes are structural, so `quill-delta`'s
 * `Delta` (or its `ops`) goes in and out as is.
 * @module
 */
import { OTError } from '../ot/errors.js';
import { assertWellFormed, cpLength, utf16ToCodePoint } from '../ot/unicode.js';
import type { Attributes, AttrValue, Delta, Embed, RichComponent, RichOp } from '../rich/index.js';

/** One op of a Quill Delta (the shape of `quill-delta`'s `Op`). */
export interface QuillOp {
  insert?: string | Record<string, unknown>;
  retain?: number | Record<string, unknown>;
  delete?: number;
  attributes?: Record<string, unknown>;
}

/** A Quill Delta or its `ops`. */
export type QuillDeltaLike = readonly QuillOp[] | { readonly ops: readonly QuillOp[] };

/** The character that stands for an embed in {@link flatText}: U+FFFC OBJECT REPLACEMENT CHARACTER (1 UTF-16 unit, 1 code point). */
export const EMBED_CHAR = '\uFFFC';

/** Rich attribute name -> Quill attribute name, where they differ. */
const TO_QUILL: Readonly<Record<string, string>> = { heading: 'header' };
/** Quill attribute name -> rich attribute name, where they differ. */
const FROM_QUILL: Readonly<Record<string, string>> = { header: 'heading' };

/**
 * Quill 2 names a code line's language `"plain"` when it has none; the rich
 * document (and the ProseMirror mapping) says `true`.
 */
function codeValue(v: AttrValue, toQuill: boolean): AttrValue {
  if (toQuill) return v === true ? 'plain' : v;
  return v === 'plain' ? true : v;
}

function opsOf(d: QuillDeltaLike): readonly QuillOp[] {
  return Array.isArray(d) ? (d as readonly QuillOp[]) : (d as { ops: readonly QuillOp[] }).ops;
}

function isScalar(v: unknown): v is AttrValue {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function renameAttrs(src: Record<string, unknown> | null | undefined, names: Readonly<Record<string, string>>, index: number, allowNull: boolean): Attributes | undefined {
  if (!src) return undefined;
  const out: Attributes = {};
  let any = false;
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined) continue;
    if (!isScalar(v)) throw new OTError('invalid', `attribute ${k} is not a JSON scalar`, index);
    if (v === null && !allowNull) continue;
    out[names[k] ?? k] = k === 'code-block' ? codeValue(v, names === TO_QUILL) : v;
    any = true;
  }
  return any ? out : undefined;
}

function readEmbed(e: Record<string, unknown>, index: number): Embed {
  const keys = Object.keys(e);
  if (keys.length !== 1) throw new OTError('invalid', `an embed has exactly one key, not ${keys.length}`, index);
  const k = keys[0] as string;
  const v = e[k];
  if (!isScalar(v) || v === null) throw new OTError('invalid', `embed ${k} has a value a rich document cannot hold (a JSON scalar)`, index);
  return { [k]: v };
}

/**
 * The document text as both sides count it: text as is, each embed as
 * {@link EMBED_CHAR}. Accepts the rich Delta (content) or Quill's contents
 * (`quill.getContents()`): both measure the same.
 */
export function flatText(content: Delta | QuillDeltaLike): string {
  let s = '';
  const items = Array.isArray(content) ? content : (content as { ops: readonly QuillOp[] }).ops;
  for (const d of items as readonly unknown[]) {
    if (typeof d === 'string') s += d;
    else if (d && typeof d === 'object') {
      const o = d as { i?: unknown; e?: unknown; insert?: unknown };
      if (typeof o.i === 'string') s += o.i;
      else if (o.e !== undefined) s += EMBED_CHAR;
      else if (typeof o.insert === 'string') s += o.insert;
      else if (o.insert !== undefined) s += EMBED_CHAR;
    }
  }
  return s;
}

/** Code points in `text` over UTF-16 `[from, to)`; throws when either end splits a surrogate pair or runs past the end. */
function cpSpan(text: string, from: number, to: number, index: number): number {
  if (to > text.length) throw new OTError('does_not_fit', `runs to UTF-16 offset ${to}, past the end (${text.length})`, index);
  if (splitsPair(text, from) || splitsPair(text, to)) throw new OTError('invalid', `UTF-16 offset ${splitsPair(text, from) ? from : to} splits a surrogate pair`, index);
  return cpLength(text.slice(from, to));
}

function splitsPair(text: string, u: number): boolean {
  if (u <= 0 || u >= text.length) return false;
  const hi = text.charCodeAt(u - 1);
  const lo = text.charCodeAt(u);
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff;
}

/** UTF-16 units of `n` code points of `text` from UTF-16 offset `from`; throws past the end. */
function unitSpan(text: string, from: number, n: number, index: number): number {
  let u = from;
  for (let k = 0; k < n; k++) {
    if (u >= text.length) throw new OTError('does_not_fit', `runs past the end of the document`, index);
    const c = text.charCodeAt(u);
    u += c >= 0xd800 && c <= 0xdbff && u + 1 < text.length ? 2 : 1;
  }
  return u - from;
}

/**
 * Quill computes some changes with a text diff over UTF-16 (inserting
 * formatted text, for one), and a diff can cut a surrogate pair: typing 😀
 * (D83D DE00) before 👍 (D83D DC4D) comes out as "retain up to and including
 * the D83D of 👍, insert DE00 D83D". Moving such an insert or delete one unit
 * to the left, across the plain retain before it, gives the same text with
 * every pair whole: insert D83D DE00 before 👍. Returns the change with those
 * moves made; whatever still cuts a pair is refused later.
 */
function alignPairs(ops: readonly QuillOp[], text: string): QuillOp[] {
  const out: QuillOp[] = [];
  let u = 0;
  for (const q0 of ops) {
    const q = { ...q0 };
    const ins = typeof q.insert === 'string' ? q.insert : undefined;
    const prev = out[out.length - 1];
    if ((ins !== undefined || q.delete !== undefined) && splitsPair(text, u) && prev && typeof prev.retain === 'number' && !prev.attributes) {
      const h = text[u - 1] as string;
      const moved = ins ?? text.slice(u, u + (q.delete as number));
      if (moved.endsWith(h)) {
        prev.retain -= 1;
        if (prev.retain === 0) out.pop();
        if (ins !== undefined) q.insert = h + ins.slice(0, -1);
        out.push(q, { retain: 1 });
        if (q.delete !== undefined) u += q.delete;
        continue;
      }
    }
    if (typeof q.retain === 'number' && !q.attributes && prev && typeof prev.retain === 'number' && !prev.attributes) prev.retain += q.retain;
    else out.push(q);
    if (typeof q.retain === 'number') u += q.retain;
    else if (q.delete !== undefined) u += q.delete;
  }
  if (u > text.length) throw new OTError('does_not_fit', `the change runs to UTF-16 offset ${u}, past the end (${text.length})`);
  // A trailing plain retain changes nothing (and may end inside a pair that the rest of the document completes).
  const last = out[out.length - 1];
  if (last && typeof last.retain === 'number' && !last.attributes) out.pop();
  return out;
}

/** Appends to a rich op, merging neighbours of one kind. */
function push(out: RichOp, c: RichComponent): void {
  const last = out[out.length - 1];
  if (typeof c === 'number' && typeof last === 'number' && Math.sign(c) === Math.sign(last)) out[out.length - 1] = last + c;
  else if (typeof c === 'string' && typeof last === 'string') out[out.length - 1] = last + c;
  else out.push(c);
}

/**
 * The rich op (code points) of a Quill change (UTF-16), given the document
 * before the change: the rich Delta (best: it also lets a change that adds a
 * line after Quill's final "\n" be rewritten) or its {@link flatText}.
 * Throws {@link OTError} on what a rich document cannot hold: an
 * offset inside a surrogate pair, text with a lone surrogate, an embed whose
 * value is not a scalar, Quill 2's embed-change retains (`retain: {...}`), or
 * a change that runs past the end.
 */
export function quillToOp(change: QuillDeltaLike, doc: string | Delta): RichOp {
  const text = typeof doc === 'string' ? doc : flatText(doc);
  const out: RichOp = [];
  let u = 0;
  alignPairs(opsOf(change), text).forEach((q, index) => {
    if (q.insert !== undefined) {
      if (typeof q.insert === 'string') {
        if (q.insert === '') return;
        assertWellFormed(q.insert, index);
        const a = renameAttrs(q.attributes, FROM_QUILL, index, false);
        push(out, a ? { i: q.insert, a } : q.insert);
      } else {
        const e = readEmbed(q.insert, index);
        const a = renameAttrs(q.attributes, FROM_QUILL, index, false);
        push(out, a ? { e, a } : { e });
      }
    } else if (q.delete !== undefined) {
      const n = cpSpan(text, u, u + q.delete, index);
      u += q.delete;
      if (n > 0) push(out, -n);
    } else if (typeof q.retain === 'number') {
      const n = cpSpan(text, u, u + q.retain, index);
      u += q.retain;
      if (n === 0) return;
      const a = renameAttrs(q.attributes, FROM_QUILL, index, true);
      if (a) out.push({ r: n, a });
      else push(out, n);
    } else if (q.retain !== undefined) {
      throw new OTError('invalid', 'Quill embed-change retains ({retain: {...}}) have no rich form', index);
    } else throw new OTError('invalid', 'a Quill op with no insert, retain or delete', index);
  });
  while (out.length > 0 && typeof out[out.length - 1] === 'number' && (out[out.length - 1] as number) > 0) out.pop();
  return keepFinalNewline(out, cpLength(text), typeof doc === 'string' ? undefined : finalAttrs(doc));
}

function finalAttrs(doc: Delta): Attributes {
  const last = doc[doc.length - 1];
  return last !== undefined && typeof last === 'object' && last.a ? last.a : {};
}

/**
 * Quill sometimes inserts after its document's final "\n" (a new last line:
 * `retain len, insert "\n" {list}`), which a rich op may not do. The same
 * document comes from inserting a "\n" with the final line's attributes
 * before the final "\n" and giving that one the new last line's attributes:
 * the op is rewritten so. That needs the final "\n"'s attributes, hence the
 * document rather than its text. A delete of the final "\n" is refused.
 */
function keepFinalNewline(op: RichOp, len: number, last: Attributes | undefined): RichOp {
  let off = 0;
  for (let k = 0; k < op.length; k++) {
    const c = op[k] as RichComponent;
    const n = typeof c === 'number' ? Math.abs(c) : typeof c === 'object' && 'r' in c ? c.r : 0;
    if (n === 0) continue;
    if (typeof c === 'number' && c < 0 && off + n >= len) throw new OTError('invalid', 'the change deletes the final "\\n"', k);
    off += n;
    if (off < len || k === op.length - 1) continue;
    // c covers the final "\n" and inserts follow it.
    if (!last) throw new OTError('invalid', 'the change inserts after the final "\\n": pass the document, not its text, to convert it', k + 1);
    const rest = op.slice(k + 1);
    const fmt = typeof c === 'object' && 'r' in c ? c.a : undefined;
    const tail = rest[rest.length - 1];
    const tailText = typeof tail === 'string' ? tail : tail && typeof tail === 'object' && 'i' in tail ? tail.i : '';
    if (!tailText.endsWith('\n') || rest.some((x) => typeof x === 'number' || (typeof x === 'object' && 'r' in x))) {
      throw new OTError('invalid', 'the change leaves the document without a final "\\n"', k + 1);
    }
    const newLast: Attributes = (typeof tail === 'object' && 'a' in tail && tail.a) || {};
    const moved: Attributes = { ...last };
    if (fmt) for (const [key, v] of Object.entries(fmt)) v === null ? delete moved[key] : (moved[key] = v);
    const body = rest.slice(0, -1);
    const head = tailText.slice(0, -1);
    if (head !== '') body.push(typeof tail === 'string' || Object.keys(newLast).length === 0 ? head : { i: head, a: newLast });
    const change: Attributes = {};
    for (const key of Object.keys(newLast)) if (newLast[key] !== last[key]) change[key] = newLast[key] as AttrValue;
    for (const key of Object.keys(last)) if (!(key in newLast)) change[key] = null;
    const out: RichOp = op.slice(0, k);
    if (n > 1) out.push(fmt ? { r: n - 1, a: fmt } : n - 1);
    out.push(Object.keys(moved).length > 0 ? { i: '\n', a: moved } : '\n', ...body);
    if (Object.keys(change).length > 0) out.push({ r: 1, a: change });
    return out;
  }
  return op;
}

/**
 * The Quill change (UTF-16) of a rich op (code points), given the document
 * text before the op ({@link flatText}). The result is the `ops` of a Quill
 * Delta: `quill.updateContents(new Delta(opToQuill(op, text)))`.
 */
export function opToQuill(op: RichOp, text: string): QuillOp[] {
  const out: QuillOp[] = [];
  let u = 0;
  op.forEach((c, index) => {
    if (typeof c === 'number') {
      if (c === 0) throw new OTError('invalid', 'zero count', index);
      const n = unitSpan(text, u, Math.abs(c), index);
      u += n;
      out.push(c > 0 ? { retain: n } : { delete: n });
      return;
    }
    if (typeof c === 'string') {
      out.push({ insert: c });
      return;
    }
    if ('i' in c) {
      const a = renameAttrs(c.a, TO_QUILL, index, false);
      out.push(a ? { insert: c.i, attributes: a } : { insert: c.i });
    } else if ('e' in c) {
      const a = renameAttrs(c.a, TO_QUILL, index, false);
      out.push(a ? { insert: { ...c.e }, attributes: a } : { insert: { ...c.e } });
    } else {
      const n = unitSpan(text, u, c.r, index);
      u += n;
      const a = renameAttrs(c.a, TO_QUILL, index, true);
      out.push(a ? { retain: n, attributes: a } : { retain: n });
    }
  });
  while (out.length > 0 && typeof out[out.length - 1]?.retain === 'number' && !out[out.length - 1]?.attributes) out.pop();
  return out;
}

/** Quill contents (`quill.setContents`) of a whole rich document. */
export function deltaToQuill(content: Delta): QuillOp[] {
  return content.map((d, index) => {
    if (typeof d === 'string') return { insert: d };
    if ('i' in d) {
      const a = renameAttrs(d.a, TO_QUILL, index, false);
      return a ? { insert: d.i, attributes: a } : { insert: d.i };
    }
    const a = renameAttrs(d.a, TO_QUILL, index, false);
    return a ? { insert: { ...d.e }, attributes: a } : { insert: { ...d.e } };
  });
}

/** The rich Delta of Quill contents (`quill.getContents()`). Throws on what a rich document cannot hold. */
export function quillToDelta(contents: QuillDeltaLike): Delta {
  return opsOf(contents).map((q, index) => {
    if (typeof q.insert === 'string') {
      assertWellFormed(q.insert, index);
      const a = renameAttrs(q.attributes, FROM_QUILL, index, false);
      return a ? { i: q.insert, a } : q.insert;
    }
    if (q.insert && typeof q.insert === 'object') {
      const a = renameAttrs(q.attributes, FROM_QUILL, index, false);
      const e = readEmbed(q.insert, index);
      return a ? { e, a } : { e };
    }
    throw new OTError('invalid', 'document contents hold inserts only', index);
  });
}

/**
 * The rich document as Quill can show it without moving anything: Quill's
 * code block holds text only and moves an embed out of a code line, which
 * would shift every position after it, so an embed on a code line becomes
 * {@link EMBED_CHAR} (the ProseMirror mapping does the same). Same length,
 * position for position. Returns `content` itself when there is nothing to do.
 */
export function quillShowable(content: Delta): Delta {
  // Which inserts sit on a code line: scan backwards, the line's "\n" comes after its content.
  let code = false;
  let changed = false;
  const out: Delta = new Array<Delta[number]>(content.length);
  for (let k = content.length - 1; k >= 0; k--) {
    const d = content[k] as Delta[number];
    if (typeof d === 'string' || 'i' in d) {
      const text = typeof d === 'string' ? d : d.i;
      const a = typeof d === 'string' ? undefined : d.a;
      // Every "\n" of one insert has its attributes: embeds before it are on a code line when they say so.
      if (text.includes('\n')) code = Boolean(a?.['code-block']);
      out[k] = d;
      continue;
    }
    if (code) {
      changed = true;
      out[k] = d.a ? { i: EMBED_CHAR, a: d.a } : { i: EMBED_CHAR };
    } else out[k] = d;
  }
  return changed ? out : content;
}

/** A Quill selection `{index, length}` (UTF-16) as a rich range `[anchor, head]` (code points) in `text`. */
export function quillRangeToRange(text: string, range: { index: number; length: number }): [number, number] {
  // An offset inside a surrogate pair counts as the position before the pair.
  const a = utf16ToCodePoint(text, Math.max(0, Math.min(range.index, text.length)));
  const b = utf16ToCodePoint(text, Math.max(0, Math.min(range.index + range.length, text.length)));
  return [a, b];
}

/** A rich range `[anchor, head]` (code points) as a Quill selection `{index, length}` (UTF-16) in `text`. */
export function rangeToQuillRange(text: string, range: readonly [number, number]): { index: number; length: number } {
  const from = Math.min(range[0], range[1]);
  const to = Math.max(range[0], range[1]);
  const index = unitSpan(text, 0, Math.min(from, cpLength(text)), -1);
  const length = unitSpan(text, index, Math.min(to, cpLength(text)) - Math.min(from, cpLength(text)), -1);
  return { index, length };
}

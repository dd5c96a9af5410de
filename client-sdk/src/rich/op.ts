import { headerSize, intSize, strSize, utf8Length } from '../msgpack-size.js';
import { cpLength, cpSlice, firstLoneSurrogate } from '../ot/unicode.js';
import { sideOf, type Range, type Selection, type Side } from '../ot/op.js';
import {
  MAX_ATTRS,
  attrCount,
  attrsEqual,
  attrsSize,
  checkAttributes,
  checkEmbed,
  composeAttrs,
  embedSize,
  invertAttrs,
  isPlainObject,
  sortedAttrs,
  transformAttrs,
  withoutNulls,
  type Attributes,
  type Embed,
} from './attributes.js';
import { RichError } from './errors.js';

/** Insert text carrying attributes: `{i: "text", a: {...}}`. */
export interface TextInsert {
  i: string;
  a?: Attributes | null;
}

/** Retain `r` code points, setting attributes on them (a null value removes one): a format. */
export interface FormatRetain {
  r: number;
  a?: Attributes | null;
}

/** Insert one embed (length 1), optionally with attributes. */
export interface EmbedInsert {
  e: Embed;
  a?: Attributes | null;
}

/**
 * One component of a {@link RichOp}, exactly as on the wire: a positive
 * integer retains that many code points, a negative one deletes, a non-empty
 * string inserts plain text, and the maps insert with attributes, format, or
 * insert an embed.
 */
export type RichComponent = number | string | TextInsert | FormatRetain | EmbedInsert;

/** An operation on a rich document. All counts are Unicode code points; an embed counts 1. */
export type RichOp = RichComponent[];

/** One insert of a document's content: plain text, attributed text or an embed. */
export type DeltaInsert = string | TextInsert | EmbedInsert;

/**
 * A document's content: the canonical op of inserts that builds it, always
 * ending with `"\n"`, e.g. `[{i: "Title", a: {bold: true}}, {i: "\n", a: {heading: 1}}]`.
 */
export type Delta = DeltaInsert[];

/** How two concurrent ops are ordered for {@link transform}. */
export interface Order {
  /** Where `a`'s inserts go relative to `b`'s at one position. */
  side: Side;
  /** `a` commits after `b`: its attribute values win where both set one name on one character. */
  aLater: boolean;
}

/** Largest retain/delete count or base length accepted (as the Go `rich.MaxCount`). */
export const MAX_COUNT = 2 ** 31 - 1;

/** The character {@link deltaText} puts in place of an embed. */
export const OBJECT_REPLACEMENT = '\uFFFC';

// ---------------------------------------------------------------------------
// Internal form: every algorithm works on parts, converted from and to the
// wire form at the edges.

type Kind = 'r' | 'd' | 'i' | 'e';

interface Part {
  k: Kind;
  /** Code points: the count of a retain or delete, 1 for an embed, the text's length for an insert. */
  n: number;
  text?: string;
  embed?: Embed;
  attrs?: Attributes;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number';
}

function checkCount(x: unknown, index: number, what: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x)) throw new RichError('invalid', `${what} ${String(x)} is not an integer`, index);
  if (Math.abs(x) > MAX_COUNT) throw new RichError('does_not_fit', `${what} ${x} out of range`, index);
  return x;
}

function checkText(x: unknown, index: number): string {
  if (typeof x !== 'string') throw new RichError('invalid', 'insert must be a string', index);
  if (x.length === 0) throw new RichError('invalid', 'empty insert', index);
  if (firstLoneSurrogate(x) >= 0) throw new RichError('invalid', 'insert has a lone surrogate', index);
  return x;
}

function partOf(c: unknown, index: number): Part {
  if (isCount(c)) {
    const n = checkCount(c, index, 'count');
    if (n === 0) throw new RichError('invalid', 'zero count', index);
    return n > 0 ? { k: 'r', n } : { k: 'd', n: -n };
  }
  if (typeof c === 'string') {
    const text = checkText(c, index);
    return { k: 'i', n: cpLength(text), text };
  }
  if (!isPlainObject(c)) throw new RichError('invalid', `component of type ${c === null ? 'null' : Array.isArray(c) ? 'array' : typeof c}`, index);
  let kinds = 0;
  let part: Part | undefined;
  let attrs: Attributes | undefined;
  for (const key of Object.keys(c)) {
    const v = c[key];
    switch (key) {
      case 'i': {
        kinds++;
        const text = checkText(v, index);
        part = { k: 'i', n: cpLength(text), text };
        break;
      }
      case 'r': {
        kinds++;
        if (typeof v !== 'number') throw new RichError('invalid', '"r" must be a positive integer', index);
        const n = checkCount(v, index, 'retain');
        if (n <= 0) throw new RichError('invalid', `retain ${n} is not positive`, index);
        part = { k: 'r', n };
        break;
      }
      case 'e':
        kinds++;
        checkEmbed(v, index);
        part = { k: 'e', n: 1, embed: v };
        break;
      case 'a':
        if (v === null) break;
        checkAttributes(v, index);
        attrs = v;
        break;
      default:
        throw new RichError('invalid', `unknown component key ${JSON.stringify(key.slice(0, 32))}`, index);
    }
  }
  if (kinds !== 1 || part === undefined) throw new RichError('invalid', 'component object needs exactly one of "i", "r" and "e"', index);
  if (attrs !== undefined && attrCount(attrs) > 0) part.attrs = attrs;
  return part;
}

function partsOf(op: unknown): Part[] {
  if (!Array.isArray(op)) throw new RichError('invalid', 'op must be an array');
  const out: Part[] = new Array<Part>(op.length);
  let base = 0;
  for (let i = 0; i < op.length; i++) {
    const p = partOf(op[i], i);
    if (p.k === 'r' || p.k === 'd') {
      base += p.n;
      if (base > MAX_COUNT) throw new RichError('does_not_fit', `op reads more than ${MAX_COUNT} code points`, i);
    }
    out[i] = p;
  }
  return out;
}

/**
 * Checks the rules that do not depend on a document, exactly as the Go
 * package does: every component is a non-zero integer, a non-empty string or
 * one of the maps; counts and the base length are at most {@link MAX_COUNT};
 * no lone surrogates; attribute maps hold at most 64 valid names with scalar
 * values (strings at most 8 KiB); embeds have one valid type and a non-null
 * scalar (strings at most 256 KiB). Throws {@link RichError}.
 */
export function validate(op: unknown): asserts op is RichOp {
  partsOf(op);
}

function mergeable(a: Part, b: Part): boolean {
  if (a.k !== b.k) return false;
  if (a.k === 'd') return true;
  if (a.k === 'r' || a.k === 'i') return attrsEqual(a.attrs, b.attrs);
  return false;
}

/** Appends parts keeping the canonical form (see {@link normalize}). */
class Builder {
  readonly out: Part[] = [];

  push(p: Part): void {
    if (p.n <= 0) return;
    const out = this.out;
    const n = out.length;
    const last = out[n - 1];
    if (last === undefined) {
      out.push({ ...p });
      return;
    }
    if (mergeable(last, p)) {
      last.n += p.n;
      if (p.k === 'i') last.text = (last.text as string) + (p.text as string);
      return;
    }
    if (last.k === 'd' && (p.k === 'i' || p.k === 'e')) {
      const prev = out[n - 2];
      if (p.k === 'i' && prev !== undefined && prev.k === 'i' && attrsEqual(prev.attrs, p.attrs)) {
        prev.n += p.n;
        prev.text = (prev.text as string) + (p.text as string);
        return;
      }
      out[n - 1] = { ...p };
      out.push(last);
      return;
    }
    out.push({ ...p });
  }

  finish(): Part[] {
    const out = this.out;
    const last = out[out.length - 1];
    if (last !== undefined && last.k === 'r' && last.attrs === undefined) out.pop();
    return out;
  }
}

function canonicalAttrs(p: Part): Part {
  if (p.attrs === undefined) return p;
  const a = p.k === 'r' ? (attrCount(p.attrs) === 0 ? undefined : p.attrs) : withoutNulls(p.attrs);
  if (a === p.attrs) return p;
  const q = { ...p };
  if (a === undefined) delete q.attrs;
  else q.attrs = a;
  return q;
}

function normalizeParts(parts: Part[]): Part[] {
  const b = new Builder();
  for (const p of parts) b.push(canonicalAttrs(p));
  return b.finish();
}

function toWire(parts: Part[]): RichOp {
  return parts.map((p): RichComponent => {
    const a = sortedAttrs(p.attrs);
    switch (p.k) {
      case 'd':
        return -p.n;
      case 'r':
        return a === undefined ? p.n : { r: p.n, a };
      case 'i':
        return a === undefined ? (p.text as string) : { i: p.text as string, a };
      case 'e':
        return a === undefined ? { e: p.embed as Embed } : { e: p.embed as Embed, a };
    }
  });
}

/**
 * Returns the canonical form of `op`, the form the server stores and sends:
 * empty attribute maps are none, nulls are dropped from inserts' attributes;
 * adjacent components of one kind with equal attributes merge (plain
 * retains, formats with equal settings, deletes, text inserts; never
 * embeds); where inserts and deletes touch, the inserts come first; a
 * trailing plain retain is dropped. Validates first (throws {@link RichError}).
 */
export function normalize(op: RichOp): RichOp {
  return toWire(normalizeParts(partsOf(op)));
}

/** True when `op` (valid) is already canonical. */
export function isCanonical(op: RichOp): boolean {
  const parts = partsOf(op);
  for (let i = 0; i < op.length; i++) {
    const c = op[i];
    const p = parts[i] as Part;
    // Maps without attributes must be a number or a string, and an empty or
    // null "a" is not canonical.
    if (isPlainObject(c) && ('a' in c ? c.a === null || attrCount((c.a as Attributes | null) ?? undefined) === 0 : p.k !== 'e')) return false;
    if (p.k !== 'r' && p.attrs !== undefined && Object.values(p.attrs).some((v) => v === null)) return false;
    const prev = parts[i - 1];
    if (prev !== undefined && (mergeable(prev, p) || (prev.k === 'd' && (p.k === 'i' || p.k === 'e')))) return false;
  }
  const last = parts[parts.length - 1];
  return last === undefined || !(last.k === 'r' && last.attrs === undefined);
}

/** Number of code points `op` reads (retains plus deletes): the least length of a document it applies to. */
export function baseLength(op: RichOp): number {
  let n = 0;
  for (const p of partsOf(op)) if (p.k === 'r' || p.k === 'd') n += p.n;
  return n;
}

/** Length of a document (a Delta) in code points; an embed counts 1. */
export function deltaLength(delta: Delta): number {
  const ix = indexOf(delta);
  return ix.cp[delta.length] as number;
}

/** The document's plain text, each embed as U+FFFC, so that positions in it are positions in the document. */
export function deltaText(delta: Delta): string {
  const ix = indexOf(delta);
  if (ix.text === undefined) ix.text = componentsText(delta, 0, delta.length);
  return ix.text;
}

/** The plain text of components `from` to `to` (excluded) of a valid content. */
function componentsText(delta: Delta, from: number, to: number): string {
  let s = '';
  for (let k = from; k < to; k++) {
    const d = delta[k] as RichComponent;
    if (typeof d === 'string') s += d;
    else if (typeof d === 'object' && 'i' in d) s += d.i;
    else if (typeof d === 'object' && 'e' in d) s += OBJECT_REPLACEMENT;
  }
  return s;
}

// ---------------------------------------------------------------------------
// Content index: contents are never changed in place, so where each
// component starts is computed once per content object (validating it), and
// apply and invert work on the few components an op touches instead of
// rebuilding the whole Delta: an edit costs O(components) pointer and number
// copies plus O(what it touches), not O(document) allocations.

interface ContentIndex {
  /** Code point offset where component k starts; [length] is the document's length. */
  cp: Float64Array;
  /** UTF-16 offset where component k starts in the plain text (an embed is one unit). */
  u16: Float64Array;
  /** The plain text, once asked for (or carried over from the content an op was applied to). */
  text?: string;
}

const indexes = new WeakMap<Delta, ContentIndex>();

function indexOf(doc: Delta): ContentIndex {
  let ix = indexes.get(doc);
  if (ix === undefined) {
    const parts = partsOf(doc);
    const cp = new Float64Array(parts.length + 1);
    const u16 = new Float64Array(parts.length + 1);
    parts.forEach((p, k) => {
      cp[k + 1] = (cp[k] as number) + p.n;
      u16[k + 1] = (u16[k] as number) + (p.k === 'i' ? (p.text as string).length : p.k === 'e' ? 1 : 0);
    });
    ix = { cp, u16 };
    indexes.set(doc, ix);
  }
  return ix;
}

/** The component holding code point `pos` (< the document's length). */
function componentAt(ix: ContentIndex, pos: number): number {
  let lo = 0;
  let hi = ix.cp.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((ix.cp[mid] as number) <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The components of `doc` an op (normalized parts) touches, with one
 * untouched code point on each side where the document has one, so that
 * what the op makes there merges with its neighbours exactly as a whole
 * rebuild would, and nothing outside can: components `from` to `to`
 * (excluded), starting at code point `start`, and the op rebased to start
 * there.
 */
function windowOf(ix: ContentIndex, len: number, po: Part[]): { from: number; to: number; start: number; sub: Part[] } {
  let r0 = 0;
  let k = 0;
  const first = po[0];
  if (first !== undefined && first.k === 'r' && first.attrs === undefined) {
    r0 = first.n;
    k = 1;
  }
  let end = r0;
  for (let i = k; i < po.length; i++) {
    const p = po[i] as Part;
    if (p.k === 'r' || p.k === 'd') end += p.n;
  }
  const from = r0 > 0 ? componentAt(ix, r0 - 1) : 0;
  const to = (end < len ? componentAt(ix, end) : ix.cp.length - 2) + 1;
  const start = ix.cp[from] as number;
  const sub = po.slice(k);
  if (r0 > start) sub.unshift({ k: 'r', n: r0 - start });
  return { from, to, start, sub };
}

/** True when `op` changes nothing (only plain retains). */
export function isNoop(op: RichOp): boolean {
  return partsOf(op).every((p) => p.k === 'r' && p.attrs === undefined);
}

/** Walks parts, handing out pieces of a given length; past the end, plain retains. */
class Iter {
  private i = 0;
  private off = 0; // code points consumed of parts[i]
  constructor(private readonly parts: Part[]) {}

  peekKind(): Kind | undefined {
    return this.parts[this.i]?.k;
  }

  /** The next piece of at most `n` code points (Infinity: the rest of the part); `whole` parts are never split. */
  take(n: number, whole: Kind | null): Part | undefined {
    const p = this.parts[this.i];
    if (p === undefined) return n === Infinity ? undefined : { k: 'r', n };
    const rem = p.n - this.off;
    if (n >= rem || p.k === whole || p.k === 'e') {
      const q: Part = { ...p, n: rem };
      if (p.k === 'i' && this.off > 0) q.text = cpSlice(p.text as string, this.off);
      this.i++;
      this.off = 0;
      return q;
    }
    const q: Part = { ...p, n };
    if (p.k === 'i') q.text = cpSlice(p.text as string, this.off, this.off + n);
    this.off += n;
    return q;
  }
}

function checkLimits(parts: Part[]): void {
  parts.forEach((p, i) => {
    if (attrCount(p.attrs) > MAX_ATTRS) throw new RichError('too_large', `${attrCount(p.attrs)} attributes, over the limit of ${MAX_ATTRS}`, i);
  });
}

function composeParts(a: Part[], b: Part[]): Part[] {
  const out = new Builder();
  const it = new Iter(a);
  for (const c of b) {
    if (c.k === 'i' || c.k === 'e') {
      out.push(c);
    } else if (c.k === 'r') {
      let n = c.n;
      while (n > 0) {
        const x = it.take(n, 'd') as Part;
        if (x.k === 'd') {
          out.push(x);
          continue;
        }
        const attrs = composeAttrs(x.attrs, c.attrs, x.k === 'r');
        const y: Part = { ...x };
        if (attrs === undefined) delete y.attrs;
        else y.attrs = attrs;
        out.push(y);
        n -= x.n;
      }
    } else {
      let n = c.n;
      while (n > 0) {
        const x = it.take(n, 'd') as Part;
        if (x.k === 'r') {
          out.push({ k: 'd', n: x.n });
          n -= x.n;
        } else if (x.k === 'i' || x.k === 'e') {
          n -= x.n; // b deletes what a inserted: both vanish
        } else {
          out.push(x);
        }
      }
    }
  }
  for (let x = it.take(Infinity, null); x !== undefined; x = it.take(Infinity, null)) out.push(x);
  const res = out.finish();
  checkLimits(res);
  return res;
}

/**
 * One op with the effect of `a` followed by `b` (made against the result of
 * `a`): formatting composes (b's values replace a's, b's nulls remove),
 * b's deletes of what a inserted cancel both. Throws `too_large` when an
 * attribute map would hold more than 64 names (keep the ops apart then).
 */
export function compose(a: RichOp, b: RichOp): RichOp {
  return toWire(composeParts(normalizeParts(partsOf(a)), normalizeParts(partsOf(b))));
}

/**
 * Transforms `a` past `b`, both made against the same document, so that the
 * result applies after `b`: with `a' = transform(a, b, o)` and
 * `b' = transform(b, a, flipOrder(o))`, applying a then b' equals b then a'.
 * Inserts at one position are ordered by `o.side`; where both set one
 * attribute on one character the op committed last wins (`o.aLater`); a's
 * formatting never reaches text b inserted.
 */
export function transform(a: RichOp, b: RichOp, o: Order): RichOp {
  if (o.side !== 'left' && o.side !== 'right') throw new RichError('invalid', 'side must be "left" or "right"');
  const pa = normalizeParts(partsOf(a));
  const pb = normalizeParts(partsOf(b));
  const out = new Builder();
  const it = new Iter(pa);
  for (const c of pb) {
    if (c.k === 'i' || c.k === 'e') {
      if (o.side === 'left') {
        for (let k = it.peekKind(); k === 'i' || k === 'e'; k = it.peekKind()) out.push(it.take(Infinity, null) as Part);
      }
      out.push({ k: 'r', n: c.n });
    } else if (c.k === 'r') {
      let n = c.n;
      while (n > 0) {
        const x = it.take(n, 'i') as Part;
        if (x.k === 'i' || x.k === 'e') {
          out.push(x);
          continue;
        }
        if (x.k === 'r') {
          const attrs = transformAttrs(x.attrs, c.attrs, o.aLater);
          if (attrs === undefined) delete x.attrs;
          else x.attrs = attrs;
        }
        out.push(x);
        n -= x.n;
      }
    } else {
      let n = c.n;
      while (n > 0) {
        const x = it.take(n, 'i') as Part;
        if (x.k === 'i' || x.k === 'e') out.push(x); // a's insert inside b's deletion survives
        else n -= x.n; // a's retain or delete of text b already removed
      }
    }
  }
  for (let x = it.take(Infinity, null); x !== undefined; x = it.take(Infinity, null)) out.push(x);
  return toWire(out.finish());
}

/**
 * The contract's order for transforming `a` (by author `aSid`) past `b` (by
 * `bSid`): `a`'s inserts go left when `aSid` sorts first bytewise; between
 * ops of one sid the one committed first goes left. `aLater` says whether `a` commits after `b`.
 * A client transforms its pending op past a server op with
 * `orderBySid(ownSid, serverSid, true)`, and the server op past its pending op
 * with `orderBySid(serverSid, ownSid, false)`.
 */
export function orderBySid(aSid: string, bSid: string, aLater: boolean): Order {
  // Of two ops of one sid, the committed one goes left.
  if (aSid === bSid && !aLater) return { side: 'left', aLater };
  return { side: sideOf(aSid, bSid), aLater };
}

/**
 * `op`, written by `sid`, transformed past `committed`, written by
 * `committedSid` against the same document and committed first: inserts at
 * one position ordered by sid (`sideOf` of the `ot` module), and `op`'s
 * attribute values standing where both set one (it commits later).
 */
export function transformPast(op: RichOp, sid: string, committed: RichOp, committedSid: string): RichOp {
  return transform(op, committed, orderBySid(sid, committedSid, true));
}

/**
 * Transforms `op` (written by `sid`, not committed yet) and `committed`
 * (written by `committedSid`, committed first) past each other:
 * `[opPast, committedPast]`. A client with `op` unacknowledged applies
 * `committedPast` to its document (without the attribute values `op` sets on
 * the same characters: `op` commits later and overwrites them) and keeps
 * `opPast` as its pending op.
 */
export function transformPair(op: RichOp, sid: string, committed: RichOp, committedSid: string): [opPast: RichOp, committedPast: RichOp] {
  const o = orderBySid(sid, committedSid, true);
  return [transform(op, committed, o), transform(committed, op, flipOrder(o))];
}

/** The order seen from the other op. */
export function flipOrder(o: Order): Order {
  return { side: o.side === 'left' ? 'right' : 'left', aLater: !o.aLater };
}

function checkFit(parts: Part[], docLen: number): void {
  let pos = 0;
  parts.forEach((p, i) => {
    if (p.k === 'r' || p.k === 'd') {
      pos += p.n;
      if (pos > docLen) throw new RichError('does_not_fit', `op reads past the end of the document (${docLen} code points)`, i);
    }
  });
}

function checkNewline(parts: Part[], docLen: number): void {
  let pos = 0;
  parts.forEach((p, i) => {
    if (p.k === 'd' && pos + p.n >= docLen) throw new RichError('final_newline', "deletes the document's final newline", i);
    if ((p.k === 'i' || p.k === 'e') && pos >= docLen) throw new RichError('final_newline', "inserts after the document's final newline", i);
    if (p.k === 'r' || p.k === 'd') pos += p.n;
  });
}

/**
 * Builds a document's canonical content from a Delta: inserts only (else
 * `invalid`), ending with `"\n"` (else `final_newline`); an empty Delta is
 * the new document `["\n"]`.
 */
export function contentOf(delta: unknown): Delta {
  const parts = partsOf(delta);
  parts.forEach((p, i) => {
    if (p.k !== 'i' && p.k !== 'e') throw new RichError('invalid', 'content may only insert', i);
  });
  if (parts.length === 0) return ['\n'];
  const out = normalizeParts(parts);
  const last = out[out.length - 1] as Part;
  if (last.k !== 'i' || !(last.text as string).endsWith('\n')) throw new RichError('final_newline', 'content must end with "\\n"', out.length - 1);
  return toWire(out) as Delta;
}

/**
 * Applies `op` to a document's content and returns the new content. The op is
 * validated, must fit (`does_not_fit`), must keep the final newline
 * (`final_newline`) and may not give a character more than 64 attributes
 * (`too_large`). `doc` must be canonical content (see {@link contentOf}).
 */
export function apply(doc: Delta, op: RichOp): Delta {
  const ix = indexOf(doc);
  const po = partsOf(op);
  const len = ix.cp[doc.length] as number;
  checkFit(po, len);
  checkNewline(po, len);
  const w = windowOf(ix, len, normalizeParts(po));
  const mid = toWire(composeParts(partsOf(doc.slice(w.from, w.to)), w.sub)) as Delta;
  const out = doc.slice(0, w.from).concat(mid, doc.slice(w.to));
  // The new content's index: the same up to the window, the window's own,
  // the rest shifted by what the op added or removed.
  const cp = new Float64Array(out.length + 1);
  const u16 = new Float64Array(out.length + 1);
  cp.set(ix.cp.subarray(0, w.from + 1));
  u16.set(ix.u16.subarray(0, w.from + 1));
  let k = w.from;
  for (const c of mid) {
    const n = typeof c === 'string' ? cpLength(c) : 'i' in c ? cpLength(c.i) : 1;
    const u = typeof c === 'string' ? c.length : 'i' in c ? c.i.length : 1;
    cp[k + 1] = (cp[k] as number) + n;
    u16[k + 1] = (u16[k] as number) + u;
    k++;
  }
  const dcp = (cp[k] as number) - (ix.cp[w.to] as number);
  const du16 = (u16[k] as number) - (ix.u16[w.to] as number);
  cp.set(ix.cp.subarray(w.to + 1), k + 1);
  u16.set(ix.u16.subarray(w.to + 1), k + 1);
  for (let j = k + 1; j < cp.length; j++) {
    cp[j] = (cp[j] as number) + dcp;
    u16[j] = (u16[j] as number) + du16;
  }
  const next: ContentIndex = { cp, u16 };
  if (ix.text !== undefined) {
    next.text = ix.text.slice(0, ix.u16[w.from]) + componentsText(mid, 0, mid.length) + ix.text.slice(ix.u16[w.to]);
  }
  indexes.set(out, next);
  return out;
}

/**
 * The op that undoes `op` once applied to `doc` (the content before it):
 * deleted text and embeds come back with their attributes, and formatting is
 * undone name by name (null where `doc` did not have the name).
 */
export function invert(op: RichOp, doc: Delta): RichOp {
  const po = normalizeParts(partsOf(op));
  const ix = indexOf(doc);
  const len = ix.cp[doc.length] as number;
  checkFit(po, len);
  // Only the components the op touches matter: invert there, then retain up to them.
  const w = windowOf(ix, len, po);
  const it = new Iter(partsOf(doc.slice(w.from, w.to)));
  const out = new Builder();
  out.push({ k: 'r', n: w.start });
  for (const c of w.sub) {
    if (c.k === 'i' || c.k === 'e') {
      out.push({ k: 'd', n: c.n });
      continue;
    }
    let n = c.n;
    while (n > 0) {
      const x = it.take(n, null) as Part;
      n -= x.n;
      if (c.k === 'd') {
        out.push(x);
      } else if (c.attrs === undefined) {
        out.push({ k: 'r', n: x.n });
      } else {
        const inv = invertAttrs(c.attrs, x.attrs);
        out.push(inv === undefined ? { k: 'r', n: x.n } : { k: 'r', n: x.n, attrs: inv });
      }
    }
  }
  return toWire(out.finish());
}

function positionIn(pos: number, parts: Part[], own: boolean): number {
  let out = pos;
  let i = 0; // position in the document before the op
  for (const p of parts) {
    if (i > pos) break;
    if (p.k === 'i' || p.k === 'e') {
      if (i < pos || own) out += p.n;
    } else if (p.k === 'd') {
      out -= Math.min(p.n, pos - i);
      i += p.n;
    } else {
      i += p.n;
    }
  }
  return out;
}

/**
 * Moves a caret (code points) through `op`: an insert strictly before it
 * moves it; an insert exactly at it leaves it before the inserted text unless
 * `own` (the author's own caret after its own insert); a delete containing it
 * moves it to the delete's start; formatting does not move it.
 */
export function transformPosition(pos: number, op: RichOp, own = false): number {
  if (!Number.isInteger(pos) || pos < 0) throw new RichError('invalid', `position ${pos} is not a non-negative integer`);
  return positionIn(pos, normalizeParts(partsOf(op)), own);
}

/** Moves every range of a selection through `op` (see {@link transformPosition}); `null` stays `null`. */
export function transformSelection(sel: Selection, op: RichOp, own = false): Selection {
  if (sel === null) return null;
  const parts = normalizeParts(partsOf(op));
  sel.forEach(([a, h], i) => {
    if (!Number.isInteger(a) || a < 0 || !Number.isInteger(h) || h < 0) {
      throw new RichError('invalid', `selection range [${a}, ${h}] is not two non-negative integers`, i);
    }
  });
  return sel.map(([a, h]) => [positionIn(a, parts, own), positionIn(h, parts, own)] as Range);
}

/**
 * The document's size for the server's document limit: UTF-8 bytes of its
 * text, plus for each component of its content the MessagePack size of its
 * attributes, plus each embed's MessagePack size.
 */
export function documentSize(doc: Delta): number {
  let n = 0;
  for (const p of normalizeParts(partsOf(doc))) {
    n += p.k === 'e' ? embedSize(p.embed as Embed) : utf8Length(p.text ?? '');
    if (p.attrs !== undefined) n += attrsSize(p.attrs);
  }
  return n;
}

/** Size in bytes of `op`'s canonical MessagePack encoding (the server's op size limit). */
export function opSize(op: RichOp): number {
  const parts = partsOf(op);
  let n = headerSize(parts.length);
  for (const p of parts) {
    const a = p.attrs !== undefined && attrCount(p.attrs) > 0 ? 2 + attrsSize(p.attrs) : 0;
    switch (p.k) {
      case 'd':
        n += intSize(-p.n);
        break;
      case 'r':
        n += intSize(p.n) + (a > 0 ? 3 + a : 0);
        break;
      case 'i':
        n += strSize(utf8Length(p.text as string)) + (a > 0 ? 3 + a : 0);
        break;
      case 'e':
        n += 3 + embedSize(p.embed as Embed) + a;
        break;
    }
  }
  return n;
}

import { OTError } from './errors.js';
import { advanceCodePoints, assertWellFormed, cpLength, cpSlice } from './unicode.js';

/**
 * One component of an {@link Op}, exactly as on the wire: a positive integer
 * retains (skips) that many code points, a non-empty string inserts it, a
 * negative integer deletes that many code points.
 */
export type Component = number | string;

/**
 * A text operation: its components walked left to right over the document.
 * All counts are Unicode code points. A trailing retain may be omitted.
 */
export type Op = Component[];

/** A selection range `[anchor, head]` in code points; a caret is `[p, p]`. */
export type Range = [anchor: number, head: number];

/** A selection: a list of ranges, or `null` for "no caret shown". */
export type Selection = Range[] | null;

/**
 * Which side wins a tie when two ops insert at the same position: the
 * low-level form of "who goes first". Where two authors' ops meet, use
 * {@link sideOf}, {@link transformPast} or {@link transformPair}, which take it
 * from the authors' session ids as the protocol requires.
 */
export type Side = 'left' | 'right';

/** Largest retain/delete count or base length accepted (as the Go `ot.MaxCount`). */
export const MAX_COUNT = 2 ** 31 - 1;

function isRetain(c: Component): c is number {
  return typeof c === 'number' && c > 0;
}
function isDelete(c: Component): c is number {
  return typeof c === 'number' && c < 0;
}
function isInsert(c: Component): c is string {
  return typeof c === 'string';
}

/**
 * Checks the document-independent shape rules: `op` is an array; every
 * component is a non-zero safe integer of magnitude at most {@link MAX_COUNT}
 * or a non-empty string without lone surrogates; the base length is at most
 * {@link MAX_COUNT}. Non-canonical ops are valid. Throws {@link OTError}.
 */
export function validate(op: unknown): asserts op is Op {
  if (!Array.isArray(op)) throw new OTError('invalid', 'op must be an array');
  let base = 0;
  for (let i = 0; i < op.length; i++) {
    const c: unknown = op[i];
    if (typeof c === 'string') {
      if (c.length === 0) throw new OTError('invalid', 'empty insert', i);
      assertWellFormed(c, i);
    } else if (typeof c === 'number') {
      if (!Number.isInteger(c)) throw new OTError('invalid', `count ${c} is not an integer`, i);
      if (c === 0) throw new OTError('invalid', 'zero count', i);
      const n = Math.abs(c);
      if (n > MAX_COUNT) throw new OTError('does_not_fit', `count ${n} over ${MAX_COUNT}`, i);
      base += n;
      if (base > MAX_COUNT) throw new OTError('does_not_fit', `op reads more than ${MAX_COUNT} code points`, i);
    } else {
      throw new OTError('invalid', `component of type ${c === null ? 'null' : typeof c}`, i);
    }
  }
}

/**
 * Number of code points the op reads (retains plus deletes): the minimum length
 * of a document it applies to. Assumes `op` is valid.
 */
export function baseLength(op: Op): number {
  let n = 0;
  for (const c of op) if (typeof c === 'number') n += Math.abs(c);
  return n;
}

/** Change in document length (code points) caused by `op`. Assumes `op` is valid. */
export function lengthDelta(op: Op): number {
  let n = 0;
  for (const c of op) {
    if (typeof c === 'string') n += cpLength(c);
    else if (c < 0) n += c;
  }
  return n;
}

/** True when `op` changes nothing (empty or retains only). */
export function isNoop(op: Op): boolean {
  return op.every(isRetain);
}

/** True when `op` is canonical: no trailing retain, no adjacent same kinds, no delete followed by insert. */
export function isCanonical(op: Op): boolean {
  let prev = '';
  for (const c of op) {
    const k = isInsert(c) ? 'i' : isRetain(c) ? 'r' : isDelete(c) ? 'd' : '';
    if (k === '' || k === prev || (prev === 'd' && k === 'i')) return false;
    if (isInsert(c) && c.length === 0) return false;
    prev = k;
  }
  return prev !== 'r';
}

/**
 * Appends component `c` to `out` keeping it canonical (merging same kinds and
 * placing inserts before an adjacent delete). Zero counts and empty strings are
 * ignored. Trailing retains are left in place; see {@link trim}.
 */
function append(out: Op, c: Component): void {
  if (c === 0 || c === '') return;
  const n = out.length;
  if (n === 0) {
    out.push(c);
    return;
  }
  const last = out[n - 1] as Component;
  if (isInsert(c)) {
    if (isInsert(last)) out[n - 1] = last + c;
    else if (isDelete(last)) {
      // insert then delete == delete then insert: keep the insert first.
      const before = n >= 2 ? out[n - 2] : undefined;
      if (before !== undefined && isInsert(before)) out[n - 2] = before + c;
      else out.splice(n - 1, 0, c);
    } else out.push(c);
  } else if (isRetain(c)) {
    if (isRetain(last)) out[n - 1] = last + c;
    else out.push(c);
  } else {
    if (isDelete(last)) out[n - 1] = last + c;
    else out.push(c);
  }
}

function trim(op: Op): Op {
  while (op.length > 0 && isRetain(op[op.length - 1] as Component)) op.pop();
  return op;
}

/**
 * Returns the canonical form of `op`: trailing retain dropped, adjacent
 * components of one kind merged, inserts moved before the deletes they touch.
 * Zero counts and empty strings are dropped; validate first to reject them.
 */
export function normalize(op: Op): Op {
  const out: Op = [];
  for (const c of op) append(out, c);
  return trim(out);
}

/** Walks an op component by component, splitting components on demand. */
class OpIter {
  private i = 0;
  private offset = 0; // consumed part of op[i], in code points (or UTF-16 for inserts: see take)
  constructor(private readonly op: Op) {}

  done(): boolean {
    return this.i >= this.op.length;
  }

  peek(): Component | undefined {
    return this.op[this.i];
  }

  /**
   * Takes up to `n` code points from the current component. Inserts (when
   * `whole` is 'i') or deletes (when 'd') are taken whole regardless of `n`.
   * Returns undefined at the end.
   */
  take(n: number, whole: 'i' | 'd' | null): Component | undefined {
    const c = this.op[this.i];
    if (c === undefined) return undefined;
    if (isInsert(c)) {
      if (whole === 'i') {
        const rest = this.offset === 0 ? c : cpSlice(c, this.offset);
        this.next();
        return rest;
      }
      const len = cpLength(c);
      const part = Math.min(n, len - this.offset);
      const s = cpSlice(c, this.offset, this.offset + part);
      this.offset += part;
      if (this.offset >= len) this.next();
      return s;
    }
    const len = Math.abs(c);
    const rem = len - this.offset;
    if (isDelete(c) && whole === 'd') {
      this.next();
      return -rem;
    }
    const part = Math.min(n, rem);
    this.offset += part;
    if (this.offset >= len) this.next();
    return isDelete(c) ? -part : part;
  }

  private next(): void {
    this.i++;
    this.offset = 0;
  }
}

function componentLength(c: Component): number {
  return isInsert(c) ? cpLength(c) : Math.abs(c);
}

/**
 * Applies `op` to `doc` and returns the new text. Throws {@link OTError}
 * (`invalid`, including lone surrogates, or `does_not_fit` when the op reads past the end).
 */
export function apply(doc: string, op: Op): string {
  validate(op);
  const parts: string[] = [];
  let pos = 0; // UTF-16 offset in doc
  for (let k = 0; k < op.length; k++) {
    const c = op[k] as Component;
    if (isInsert(c)) {
      parts.push(c);
    } else {
      const end = advanceCodePoints(doc, pos, Math.abs(c));
      if (end < 0) throw new OTError('does_not_fit', `${isRetain(c) ? 'retain' : 'delete'} runs past the end of the document`, k);
      if (isRetain(c)) parts.push(doc.slice(pos, end));
      pos = end;
    }
  }
  parts.push(doc.slice(pos));
  return parts.join('');
}

/**
 * Orders two strings bytewise, as their UTF-8 encodings compare (which is
 * code point order, not JavaScript's UTF-16 order): negative when `a` sorts
 * first, 0 when equal, positive otherwise. Session ids are ASCII, where the
 * two agree; this stays right for any string.
 */
export function compareBytewise(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate is part of a code point above U+FFFF, which sorts after
    // every code point of the BMP in UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * The side of an op written by `sid` when it meets, at one position, an insert
 * of a concurrent op written by `committedSid` that the server committed first:
 * `'left'` when `sid` sorts first bytewise, `'right'` otherwise. Equal sids
 * give `'right'`: of two ops of one author, the committed one goes left
 * (docs/protocol.md, "Concurrent inserts").
 */
export function sideOf(sid: string, committedSid: string): Side {
  return compareBytewise(sid, committedSid) < 0 ? 'left' : 'right';
}

/**
 * `op`, written by `sid`, transformed past `committed`, written by
 * `committedSid` against the same document and committed first: the result
 * applies after `committed`; concurrent inserts at one position are ordered by
 * {@link sideOf}.
 */
export function transformPast(op: Op, sid: string, committed: Op, committedSid: string): Op {
  return transform(op, committed, sideOf(sid, committedSid));
}

/**
 * Transforms `op` (written by `sid`, not committed yet) and `committed`
 * (written by `committedSid`, committed first), made against the same
 * document, past each other: `[opPast, committedPast]`, where `opPast`
 * applies after `committed` and `committedPast` after `op`, and both orders
 * give one text. A client with `op` unacknowledged applies `committedPast` to
 * its local text and keeps `opPast` as its pending op.
 */
export function transformPair(op: Op, sid: string, committed: Op, committedSid: string): [opPast: Op, committedPast: Op] {
  const side = sideOf(sid, committedSid);
  return [transform(op, committed, side), transform(committed, op, side === 'left' ? 'right' : 'left')];
}

/**
 * Transforms `op` against `other`, both made against the same document, so
 * that the result applies after `other`. `side` says where `op`'s inserts go
 * when both insert at one position: `'left'` (before `other`'s) or `'right'`.
 * With `transform(a, b, 'left')` and `transform(b, a, 'right')`,
 * `apply(apply(d, a), b') === apply(apply(d, b), a')`. This is the low-level
 * form: where two authors' ops meet, {@link transformPast} and
 * {@link transformPair} pick the side from their sids.
 */
export function transform(op: Op, other: Op, side: Side): Op {
  validate(op);
  validate(other);
  if (side !== 'left' && side !== 'right') throw new OTError('invalid', `side must be "left" or "right"`);
  const out: Op = [];
  const it = new OpIter(normalize(op));
  for (const c of normalize(other)) {
    if (isRetain(c)) {
      let n = c;
      while (n > 0) {
        const chunk = it.take(n, 'i');
        if (chunk === undefined) {
          append(out, n);
          break;
        }
        append(out, chunk);
        if (!isInsert(chunk)) n -= Math.abs(chunk);
      }
    } else if (isInsert(c)) {
      const p = it.peek();
      if (side === 'left' && p !== undefined && isInsert(p)) append(out, it.take(Infinity, 'i') as Component);
      append(out, cpLength(c));
    } else {
      let n = -c;
      while (n > 0) {
        const chunk = it.take(n, 'i');
        if (chunk === undefined) break;
        if (isInsert(chunk)) append(out, chunk);
        else n -= Math.abs(chunk); // retained or deleted by both: gone either way
      }
    }
  }
  for (;;) {
    const chunk = it.take(Infinity, null);
    if (chunk === undefined) break;
    append(out, chunk);
  }
  return trim(out);
}

/**
 * Composes `a` then `b` (where `b` applies to the result of `a`) into one op
 * with the same effect: `apply(apply(d, a), b) === apply(d, compose(a, b))`.
 * Throws `does_not_fit` when `b` reads past what `a` produces (counting `a`'s
 * implicit trailing retain as unbounded).
 */
export function compose(a: Op, b: Op): Op {
  validate(a);
  validate(b);
  const out: Op = [];
  const it = new OpIter(normalize(a));
  for (const c of normalize(b)) {
    if (isRetain(c)) {
      let n = c;
      while (n > 0) {
        const chunk = it.take(n, 'd');
        if (chunk === undefined) {
          append(out, n);
          break;
        }
        append(out, chunk);
        if (!isDelete(chunk)) n -= componentLength(chunk);
      }
    } else if (isInsert(c)) {
      append(out, c);
    } else {
      let n = -c;
      while (n > 0) {
        const chunk = it.take(n, 'd');
        if (chunk === undefined) {
          append(out, -n);
          break;
        }
        if (isRetain(chunk)) {
          append(out, -chunk);
          n -= chunk;
        } else if (isInsert(chunk)) {
          n -= cpLength(chunk); // inserted by a, deleted by b
        } else {
          append(out, chunk); // deleted by a: not visible to b
        }
      }
    }
  }
  for (;;) {
    const chunk = it.take(Infinity, null);
    if (chunk === undefined) break;
    append(out, chunk);
  }
  return trim(out);
}

/**
 * Returns the op that undoes `op`, given `doc`, the text `op` was applied to
 * (needed to restore deleted text): `apply(apply(doc, op), invert(op, doc)) === doc`.
 */
export function invert(op: Op, doc: string): Op {
  validate(op);
  const out: Op = [];
  let pos = 0; // UTF-16 offset in doc
  for (let k = 0; k < op.length; k++) {
    const c = op[k] as Component;
    if (isInsert(c)) {
      append(out, -cpLength(c));
    } else {
      const end = advanceCodePoints(doc, pos, Math.abs(c));
      if (end < 0) throw new OTError('does_not_fit', 'op runs past the end of the document', k);
      append(out, isRetain(c) ? c : doc.slice(pos, end));
      pos = end;
    }
  }
  return trim(out);
}

/**
 * Moves a caret position (code points) through `op`, with the caret rule of
 * docs/protocol.md ("Carets and selections"): an insert strictly before the
 * position moves it right; an insert exactly at it leaves it before the
 * inserted text, unless `own` is true (the author's own caret through the
 * author's own op, which ends after its own insert); deleted text before it
 * moves it left, and a deletion containing it moves it to the deletion's
 * start. Leaving someone else's caret before an insert at it is what keeps two
 * people typing at one spot from splitting each other's words.
 */
export function transformPosition(pos: number, op: Op, own = false): number {
  validate(op);
  if (!Number.isInteger(pos) || pos < 0) throw new OTError('invalid', `position ${pos} is not a non-negative integer`);
  // The canonical form puts an insert before an adjacent delete; a caret inside
  // a replaced stretch must be pushed by the insert whichever order the op uses.
  return positionIn(pos, isCanonical(op) ? op : normalize(op), own);
}

function positionIn(pos: number, op: Op, own: boolean): number {
  let cursor = 0; // position in the old document
  let result = pos;
  for (const c of op) {
    if (cursor > pos) break;
    if (isRetain(c)) {
      cursor += c;
    } else if (isInsert(c)) {
      if (cursor < pos || own) result += cpLength(c);
    } else {
      const n = -c;
      if (cursor < pos) result -= Math.min(n, pos - cursor);
      cursor += n;
    }
  }
  return result;
}

/** Moves every range of a selection through `op` (see {@link transformPosition}); `null` stays `null`. */
export function transformSelection(sel: Selection, op: Op, own = false): Selection {
  if (sel === null) return null;
  validate(op);
  const c = isCanonical(op) ? op : normalize(op);
  for (const [a, h] of sel) {
    if (!Number.isInteger(a) || a < 0 || !Number.isInteger(h) || h < 0) {
      throw new OTError('invalid', `selection range [${a}, ${h}] is not two non-negative integers`);
    }
  }
  return sel.map(([a, h]) => [positionIn(a, c, own), positionIn(h, c, own)] as Range);
}

/**
 * Moves `sel`, the selection of `owner`, through `op`, written by `author`:
 * the author's own selection when the two are the same (non-empty) sid,
 * someone else's otherwise (see {@link transformPosition}).
 */
export function transformSelectionPast(sel: Selection, owner: string, op: Op, author: string | undefined): Selection {
  return transformSelection(sel, op, owner !== '' && owner === author);
}

import { OffsetMap, advanceCodePoints } from '../ot/unicode.js';
import type { Range, Selection } from '../ot/op.js';
import { RichError } from './errors.js';
import type { RichComponent, RichOp } from './op.js';

/*
 * Quill and ProseMirror count UTF-16 code units; Tandem counts code points.
 * These helpers convert the counts of an op, and selections, between the two,
 * given the plain text of the document the op applies to (deltaText: each
 * embed is one U+FFFC, one unit in both counts). Inserts are strings either
 * way and are left alone.
 */

function mapCounts(op: RichOp, convert: (n: number, index: number) => number): RichOp {
  return op.map((c, i): RichComponent => {
    if (typeof c === 'number') return c > 0 ? convert(c, i) : -convert(-c, i);
    if (typeof c === 'object' && c !== null && 'r' in c && typeof c.r === 'number') return { ...c, r: convert(c.r, i) };
    return c;
  });
}

/**
 * Converts an op counted in code points into the same op counted in UTF-16
 * units of `text` (the plain text of the document before the op). Throws
 * `does_not_fit` when the op reads past the end of `text`.
 */
export function opToUtf16(op: RichOp, text: string): RichOp {
  let u = 0; // UTF-16 offset in text
  return mapCounts(op, (n, i) => {
    const end = advanceCodePoints(text, u, n);
    if (end < 0) throw new RichError('does_not_fit', 'op reads past the end of the text', i);
    const units = end - u;
    u = end;
    return units;
  });
}

/**
 * Converts an op counted in UTF-16 units of `text` (such as one made from a
 * Quill delta) into code points. Throws `does_not_fit` when it reads past the
 * end of `text`, `invalid` when a count ends inside a surrogate pair.
 */
export function opFromUtf16(op: RichOp, text: string): RichOp {
  let u = 0;
  return mapCounts(op, (n, i) => {
    const end = u + n;
    if (end > text.length) throw new RichError('does_not_fit', 'op reads past the end of the text', i);
    const c = text.charCodeAt(end - 1);
    if (c >= 0xd800 && c <= 0xdbff && end < text.length) {
      const d = text.charCodeAt(end);
      if (d >= 0xdc00 && d <= 0xdfff) throw new RichError('invalid', `count ends inside a surrogate pair at UTF-16 offset ${end}`, i);
    }
    let cps = 0;
    for (let k = u; k < end; k++) {
      const x = text.charCodeAt(k);
      if (x >= 0xd800 && x <= 0xdbff && k + 1 < end) {
        const y = text.charCodeAt(k + 1);
        if (y >= 0xdc00 && y <= 0xdfff) k++;
      }
      cps++;
    }
    u = end;
    return cps;
  });
}

/** Converts a selection in code points of `text` to UTF-16 offsets; `null` stays `null`. */
export function selectionToUtf16(sel: Selection, text: string): Selection {
  if (sel === null) return null;
  const m = new OffsetMap(text);
  return sel.map(([a, h]) => [m.toUtf16(a), m.toUtf16(h)] as Range);
}

/**
 * Converts a selection in UTF-16 offsets of `text` to code points (an offset
 * inside a surrogate pair rounds down); `null` stays `null`.
 */
export function selectionFromUtf16(sel: Selection, text: string): Selection {
  if (sel === null) return null;
  const m = new OffsetMap(text);
  return sel.map(([a, h]) => [m.toCodePoint(a), m.toCodePoint(h)] as Range);
}

import { normalize, type Op } from './op.js';
import { OTError } from './errors.js';
import { assertWellFormed, OffsetMap, cpLength } from './unicode.js';

/**
 * An editor-style change in **UTF-16** offsets of the text before the change:
 * replace `[from, to)` with `insert`. Lists of changes are sorted, do not
 * overlap, and all refer to the original text (as CodeMirror's ChangeSpec).
 */
export interface TextChange {
  /** Start, UTF-16 offset into the text before the change. */
  from: number;
  /** End (exclusive), UTF-16 offset into the text before the change. */
  to: number;
  /** Text inserted in place of `[from, to)`. */
  insert: string;
}

/**
 * Converts an op (code points) applying to `before` into UTF-16 changes
 * against `before`.
 */
export function opToChanges(before: string, op: Op): TextChange[] {
  const map = new OffsetMap(before);
  const out: TextChange[] = [];
  let cp = 0;
  let pending: TextChange | null = null;
  const flush = (): void => {
    if (pending !== null) out.push(pending);
    pending = null;
  };
  for (const c of op) {
    if (typeof c === 'number' && c > 0) {
      flush();
      cp += c;
    } else if (typeof c === 'string') {
      const at = map.toUtf16(cp);
      if (pending === null) pending = { from: at, to: at, insert: c };
      else pending.insert += c;
    } else {
      const from = map.toUtf16(cp);
      cp += -c;
      const to = map.toUtf16(cp);
      if (pending === null) pending = { from, to, insert: '' };
      else pending.to = to;
    }
  }
  flush();
  return out;
}

/**
 * Moves a **UTF-16** offset of the text before `changes` to the text after
 * them, with the caret rule of `transformPosition`: a change strictly
 * before the offset shifts it; text inserted exactly at it stays after it
 * unless `own` is true (the author's own caret after its own insert); an
 * offset inside a replaced range ends after the new text. `changes` must be as
 * {@link opToChanges} makes them (sorted, not overlapping, an insert at the
 * start of the range it replaces), and the offset must not split a surrogate
 * pair; the result is then exactly what `transformPosition` gives in code
 * points, without counting them.
 */
export function mapPositionUtf16(pos: number, changes: readonly TextChange[], own = false): number {
  let shift = 0;
  for (const ch of changes) {
    if (ch.from > pos) break;
    if (ch.from === pos && !own) {
      // Nothing strictly before the offset: only a deletion starting here,
      // which leaves it where it is.
      break;
    }
    if (ch.to >= pos) return ch.from + shift + ch.insert.length;
    shift += ch.insert.length - (ch.to - ch.from);
  }
  return pos + shift;
}

/**
 * Converts sorted, non-overlapping UTF-16 changes against `before` into a
 * canonical op in code points. Throws {@link OTError} (`invalid`) when a
 * change splits a surrogate pair or inserts a lone surrogate, and `does_not_fit`
 * when a change runs past the end.
 */
export function changesToOp(before: string, changes: readonly TextChange[]): Op {
  const map = new OffsetMap(before);
  const op: Op = [];
  let cp = 0;
  let last = 0;
  for (let i = 0; i < changes.length; i++) {
    const ch = changes[i] as TextChange;
    if (ch.from < last || ch.to < ch.from) throw new OTError('invalid', 'changes must be sorted and not overlap', i);
    if (ch.to > before.length) throw new OTError('does_not_fit', 'change runs past the end of the text', i);
    if (splitsPair(before, ch.from) || splitsPair(before, ch.to)) throw new OTError('invalid', 'change splits a surrogate pair', i);
    if (ch.insert !== '') assertWellFormed(ch.insert, i);
    const from = map.toCodePoint(ch.from);
    const to = map.toCodePoint(ch.to);
    if (from > cp) op.push(from - cp);
    if (ch.insert !== '') op.push(ch.insert);
    if (to > from) op.push(-(to - from));
    cp = to;
    last = ch.to;
  }
  return normalize(op);
}

function splitsPair(s: string, u: number): boolean {
  if (u <= 0 || u >= s.length) return false;
  const a = s.charCodeAt(u - 1);
  const b = s.charCodeAt(u);
  return a >= 0xd800 && a <= 0xdbff && b >= 0xdc00 && b <= 0xdfff;
}

/**
 * Computes a single-change op (code points) turning `before` into `after`, by
 * common prefix and suffix. `cursorHint` (UTF-16 offset of the caret in
 * `after`, as after typing) disambiguates repeated characters: the changed
 * region is placed to end at or before the hint when possible. Never splits a
 * surrogate pair. Throws `invalid` when `after` holds a lone surrogate.
 */
export function diffToOp(before: string, after: string, cursorHint?: number): Op {
  if (before === after) return [];
  assertWellFormed(after);
  const minLen = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < minLen && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (
    suffix < minLen - prefix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  ) suffix++;
  // Prefer the changed region to end at the caret (typing "a" into "aa").
  if (cursorHint !== undefined) {
    const changeEndAfter = after.length - suffix;
    if (cursorHint < changeEndAfter && cursorHint >= 0) {
      const shift = Math.min(changeEndAfter - cursorHint, prefix);
      // Shifting left is valid only while the moved characters repeat.
      let k = 0;
      const beforeEnd = before.length - suffix;
      while (
        k < shift &&
        before.charCodeAt(beforeEnd - 1 - k) === after.charCodeAt(changeEndAfter - 1 - k)
      ) k++;
      prefix -= k;
      suffix += k;
    }
  }
  // Do not split surrogate pairs.
  while (prefix > 0 && (splitsPair(before, prefix) || splitsPair(after, prefix))) prefix--;
  while (
    suffix > 0 &&
    (splitsPair(before, before.length - suffix) || splitsPair(after, after.length - suffix))
  ) suffix--;
  const del = before.slice(prefix, before.length - suffix);
  const ins = after.slice(prefix, after.length - suffix);
  const op: Op = [];
  const pre = cpLength(before.slice(0, prefix));
  if (pre > 0) op.push(pre);
  if (ins !== '') op.push(ins);
  if (del !== '') op.push(-cpLength(del));
  return normalize(op);
}

/** Edit distance (in lines) beyond which {@link diffLinesToOp} gives up on aligning lines. */
const MAX_LINE_EDITS = 1000;

function splitLines(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) {
    out.push(s.slice(start, i + 1));
    start = i + 1;
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

/**
 * Myers' diff of two token lists: for each token of `a`, whether it is kept,
 * and for each of `b`, whether it is kept (matched in order). Null when the
 * edit distance exceeds `maxD`.
 */
function myers(a: string[], b: string[], maxD: number): { keepA: boolean[]; keepB: boolean[] } | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxD);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && (v[off + k - 1] as number) < (v[off + k + 1] as number)) ? (v[off + k + 1] as number) : (v[off + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    trace.push(v.slice());
  }
  if (found < 0) return null;
  const keepA = new Array<boolean>(n).fill(false);
  const keepB = new Array<boolean>(m).fill(false);
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const pv = trace[d - 1] as Int32Array;
    const k = x - y;
    const prevK = k === -d || (k !== d && (pv[off + k - 1] as number) < (pv[off + k + 1] as number)) ? k + 1 : k - 1;
    const px = pv[off + prevK] as number;
    const py = px - prevK;
    // The edit (a deletion moves x, an insertion y), then a snake of kept tokens up to (x, y).
    const sx = prevK === k + 1 ? px : px + 1;
    while (x > sx) {
      keepA[--x] = true;
      keepB[--y] = true;
    }
    x = px;
    y = py;
  }
  while (x > 0 && y > 0) {
    keepA[--x] = true;
    keepB[--y] = true;
  }
  return { keepA, keepB };
}

/**
 * Like {@link diffToOp}, but keeps unchanged lines in place between several
 * changed regions: `before` and `after` are aligned line by line (Myers'
 * diff), and each changed run of lines is reduced to its changed characters.
 * Used when a document re-synchronises from a full text, so that pending local
 * edits rebase onto the lines they were made in rather than onto one big
 * replacement. Falls back to {@link diffToOp} for very different texts.
 */
export function diffLinesToOp(before: string, after: string): Op {
  if (before === after) return [];
  assertWellFormed(after);
  const a = splitLines(before);
  const b = splitLines(after);
  const r = myers(a, b, MAX_LINE_EDITS);
  if (r === null) return diffToOp(before, after);
  const op: Op = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && r.keepA[i] === true && r.keepB[j] === true) {
      op.push(cpLength(a[i] as string));
      i++;
      j++;
      continue;
    }
    let del = '';
    let ins = '';
    while (i < a.length && r.keepA[i] !== true) del += a[i++] as string;
    while (j < b.length && r.keepB[j] !== true) ins += b[j++] as string;
    // Within a changed run, only the characters that differ.
    const sub = diffToOp(del, ins);
    let consumed = 0;
    for (const c of sub) {
      op.push(c);
      if (typeof c === 'number') consumed += Math.abs(c);
    }
    const rest = cpLength(del) - consumed;
    if (rest > 0) op.push(rest);
  }
  return normalize(op);
}

import { OTError } from './errors.js';

/*
 * Editors (DOM, CodeMirror) count in UTF-16 code units; the Tandem wire counts
 * Unicode code points. These helpers convert between the two. Every function
 * names the unit it takes and returns.
 */

const SURROGATE = /[\uD800-\uDFFF]/;

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** True when `s` holds no surrogates at all, so UTF-16 and code point offsets coincide. */
export function isBmpOnly(s: string): boolean {
  return !SURROGATE.test(s);
}

/** True when `s` is well-formed UTF-16: every surrogate is part of a proper pair. */
export function isWellFormed(s: string): boolean {
  return firstLoneSurrogate(s) < 0;
}

/** UTF-16 index of the first lone surrogate in `s`, or -1 when there is none. */
export function firstLoneSurrogate(s: string): number {
  if (!SURROGATE.test(s)) return -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isHigh(c)) {
      if (i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
        i++;
        continue;
      }
      return i;
    }
    if (isLow(c)) return i;
  }
  return -1;
}

/** Throws an {@link OTError} of kind `invalid` when `s` contains a lone surrogate. */
export function assertWellFormed(s: string, index = -1): void {
  const at = firstLoneSurrogate(s);
  if (at >= 0) throw new OTError('invalid', `lone surrogate at UTF-16 offset ${at}`, index);
}

/** Number of code points in `s` (a surrogate pair counts 1). */
export function cpLength(s: string): number {
  if (!SURROGATE.test(s)) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isHigh(c) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
    n++;
  }
  return n;
}

/**
 * UTF-16 offset reached by advancing `n` code points from UTF-16 offset `from`
 * in `s`, or -1 when `s` ends first.
 */
export function advanceCodePoints(s: string, from: number, n: number): number {
  let i = from;
  for (let k = 0; k < n; k++) {
    if (i >= s.length) return -1;
    const c = s.charCodeAt(i);
    i += isHigh(c) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
  }
  return i;
}

/** The code points `[start, end)` of `s` (code point offsets). */
export function cpSlice(s: string, start: number, end?: number): string {
  if (!SURROGATE.test(s)) return s.slice(start, end);
  const a = advanceCodePoints(s, 0, start);
  if (a < 0) return '';
  if (end === undefined) return s.slice(a);
  const b = advanceCodePoints(s, a, Math.max(0, end - start));
  return s.slice(a, b < 0 ? s.length : b);
}

/**
 * Converts a UTF-16 offset in `text` to a code point offset. An offset that
 * falls inside a surrogate pair counts as the position before the pair. Throws
 * `RangeError` when `utf16` is outside `[0, text.length]`.
 */
export function utf16ToCodePoint(text: string, utf16: number): number {
  if (!Number.isInteger(utf16) || utf16 < 0 || utf16 > text.length) {
    throw new RangeError(`UTF-16 offset ${utf16} outside [0, ${text.length}]`);
  }
  if (!SURROGATE.test(text)) return utf16;
  let n = 0;
  let i = 0;
  while (i < utf16) {
    const c = text.charCodeAt(i);
    const pair = isHigh(c) && i + 1 < text.length && isLow(text.charCodeAt(i + 1));
    if (pair && i + 1 === utf16) break; // inside the pair: round down
    i += pair ? 2 : 1;
    n++;
  }
  return n;
}

/**
 * Converts a code point offset in `text` to a UTF-16 offset. Throws
 * `RangeError` when `cp` is outside `[0, cpLength(text)]`.
 */
export function codePointToUtf16(text: string, cp: number): number {
  if (!Number.isInteger(cp) || cp < 0) throw new RangeError(`code point offset ${cp} is negative or not an integer`);
  if (!SURROGATE.test(text)) {
    if (cp > text.length) throw new RangeError(`code point offset ${cp} past the end (${text.length})`);
    return cp;
  }
  const i = advanceCodePoints(text, 0, cp);
  if (i < 0) throw new RangeError(`code point offset ${cp} past the end (${cpLength(text)})`);
  return i;
}

/**
 * Precomputed converter for many offsets into one text: O(n) once, then O(log n)
 * per conversion. Useful when a binding converts a whole selection set.
 */
export class OffsetMap {
  private readonly astral: number[];
  /** The text this map converts offsets in. */
  readonly text: string;

  /** Scans `text` once for surrogate pairs. */
  constructor(text: string) {
    this.text = text;
    this.astral = [];
    if (SURROGATE.test(text)) {
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (isHigh(c) && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
          this.astral.push(i);
          i++;
        }
      }
    }
  }

  /** Number of astral pairs starting before UTF-16 offset `u`. */
  private pairsBefore(u: number): number {
    let lo = 0;
    let hi = this.astral.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.astral[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** UTF-16 offset -> code point offset (inside a pair rounds down). */
  toCodePoint(utf16: number): number {
    if (utf16 < 0 || utf16 > this.text.length) throw new RangeError(`UTF-16 offset ${utf16} outside [0, ${this.text.length}]`);
    // Each pair starting before utf16 is 2 units but 1 code point; an offset
    // inside a pair (just after its first unit) yields the same value, which is
    // the position before the pair (rounds down).
    return utf16 - this.pairsBefore(utf16);
  }

  /** Code point offset -> UTF-16 offset. */
  toUtf16(cp: number): number {
    if (cp < 0) throw new RangeError(`code point offset ${cp} is negative`);
    // Find the number of pairs k such that astral[k] - k < cp (pair starts before code point cp).
    let lo = 0;
    let hi = this.astral.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.astral[mid] as number) - mid < cp) lo = mid + 1;
      else hi = mid;
    }
    const u = cp + lo;
    if (u > this.text.length) throw new RangeError(`code point offset ${cp} past the end`);
    return u;
  }
}

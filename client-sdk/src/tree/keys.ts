import { generateKeyBetween } from 'fractional-indexing';
import { MAX_KEY_LENGTH, validKey } from './op.js';

/*
 * Fractional keys order siblings: the server only checks that a key is 1-64
 * characters of [0-9A-Za-z] and sorts siblings by (key, id), comparing bytes.
 * keyBetween uses rocicorp's fractional-indexing when both bounds are keys of
 * its scheme, and otherwise (keys written by other clients, or the scheme's
 * ends) the plain midpoint of the two strings. The Go package `tree` makes
 * exactly the same keys (testdata/tree-vectors.json pins both).
 */

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SMALLEST_INT = 'A' + '0'.repeat(26);

/** Thrown when no key of at most 64 characters sorts between the bounds. */
export class NoKeyBetweenError extends Error {
  constructor(message: string) {
    super(`tree: no key between these bounds: ${message}`);
    this.name = 'NoKeyBetweenError';
  }
}

function digit(c: string): number {
  return DIGITS.indexOf(c);
}

function intLength(head: string): number {
  if (head >= 'A' && head <= 'Z') return 'Z'.charCodeAt(0) - head.charCodeAt(0) + 2;
  if (head >= 'a' && head <= 'z') return head.charCodeAt(0) - 'a'.charCodeAt(0) + 2;
  return 0;
}

/** True when `k` is a key of the fractional-indexing scheme (the library would accept it). */
export function isFractionalKey(k: string): boolean {
  if (k === '' || k === SMALLEST_INT) return false;
  const n = intLength(k[0] as string);
  if (n === 0 || n > k.length) return false;
  return k.length === n || !k.endsWith('0');
}

function plainBetween(a: string, b: string): string | null {
  let out = '';
  let bOpen = b === '';
  while (out.length < MAX_KEY_LENGTH) {
    const da = a === '' ? -1 : digit(a[0] as string);
    if (bOpen) {
      const d = Math.floor((da + DIGITS.length + 1) / 2);
      if (d < DIGITS.length) return out + DIGITS[d];
      out += a[0];
      a = a.slice(1);
      continue;
    }
    const db = digit(b[0] as string);
    if (db - da > 1) return out + DIGITS[Math.floor((da + db + 1) / 2)];
    if (db === da) {
      out += a[0];
      a = a.slice(1);
      b = b.slice(1);
      if (b === '') return null;
    } else if (da < 0) {
      out += b[0];
      b = b.slice(1);
      if (b === '') return null;
    } else {
      out += a[0];
      a = a.slice(1);
      bOpen = true;
    }
  }
  return null;
}

/**
 * A key that sorts strictly between `a` and `b`. `null` or `''` for `a` means
 * "before everything", for `b` "after everything"; `keyBetween(null, null)`
 * is the first key of an empty list (`"a0"`). Throws an Error for an invalid
 * bound or `a >= b`, and {@link NoKeyBetweenError} when no key fits (`"a"` and
 * `"a0"`): then re-key a neighbour first.
 */
export function keyBetween(a: string | null | undefined, b: string | null | undefined): string {
  const lo = a ?? '';
  const hi = b ?? '';
  if (lo !== '' && !validKey(lo)) throw new Error(`tree: key ${JSON.stringify(String(lo).slice(0, 80))} is not 1-64 characters of [0-9A-Za-z]`);
  if (hi !== '' && !validKey(hi)) throw new Error(`tree: key ${JSON.stringify(String(hi).slice(0, 80))} is not 1-64 characters of [0-9A-Za-z]`);
  if (lo !== '' && hi !== '' && lo >= hi) throw new NoKeyBetweenError(`${JSON.stringify(lo)} is not before ${JSON.stringify(hi)}`);
  if ((lo === '' || isFractionalKey(lo)) && (hi === '' || isFractionalKey(hi))) {
    try {
      const k = generateKeyBetween(lo === '' ? null : lo, hi === '' ? null : hi);
      if (k.length <= MAX_KEY_LENGTH) return k;
    } catch {
      // The scheme ran out (its largest or smallest integer): fall back.
    }
  }
  const k = plainBetween(lo, hi);
  if (k === null) throw new NoKeyBetweenError(`${JSON.stringify(lo)} and ${JSON.stringify(hi)}`);
  return k;
}

/**
 * `n` sorted keys between `a` and `b`, spread out so that they stay short (as
 * fractional-indexing's generateNKeysBetween, with keyBetween's fallback).
 */
export function nKeysBetween(a: string | null | undefined, b: string | null | undefined, n: number): string[] {
  const lo = a ?? '';
  const hi = b ?? '';
  if (n <= 0) return [];
  if (n === 1) return [keyBetween(lo, hi)];
  if (hi === '') {
    const out: string[] = [];
    let c = lo;
    for (let i = 0; i < n; i++) {
      c = keyBetween(c, hi);
      out.push(c);
    }
    return out;
  }
  if (lo === '') {
    const out: string[] = new Array<string>(n);
    let c = hi;
    for (let i = n - 1; i >= 0; i--) {
      c = keyBetween(lo, c);
      out[i] = c;
    }
    return out;
  }
  const mid = Math.floor(n / 2);
  const c = keyBetween(lo, hi);
  return [...nKeysBetween(lo, c, mid), c, ...nKeysBetween(c, hi, n - mid - 1)];
}

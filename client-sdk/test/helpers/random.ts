import type { Op } from '../../src/ot/index.js';
import { cpLength } from '../../src/ot/index.js';

/** Deterministic PRNG (mulberry32) so failures reproduce from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', 'c', ' ', '\n', 'é', '😀', '👍🏽', '中', '𝄞'];

/** A random string of up to `max` code points, with astral characters. */
export function randomText(r: () => number, max: number): string {
  const n = Math.floor(r() * (max + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}

/** A random valid op over a document of `len` code points (canonical or not). */
export function randomOp(r: () => number, len: number): Op {
  const op: Op = [];
  let pos = 0;
  while (pos < len || (op.length === 0 && r() < 0.5)) {
    const x = r();
    const remaining = len - pos;
    if (x < 0.35 && remaining > 0) {
      const n = 1 + Math.floor(r() * Math.min(remaining, 5));
      op.push(n);
      pos += n;
    } else if (x < 0.65) {
      const t = randomText(r, 3) || 'z';
      op.push(t);
    } else if (remaining > 0) {
      const n = 1 + Math.floor(r() * Math.min(remaining, 4));
      op.push(-n);
      pos += n;
    } else break;
    if (r() < 0.15) break;
  }
  return op;
}

/** Length in code points. */
export const len = cpLength;

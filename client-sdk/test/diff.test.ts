import { describe, expect, it } from 'vitest';
import { apply, diffLinesToOp, diffToOp, isCanonical, transform } from '../src/ot/index.js';
import { randomText, rng } from './helpers/random.js';

describe('diffLinesToOp', () => {
  it('turns before into after, canonically, for random texts with lines and astral characters', () => {
    const r = rng(7);
    for (let i = 0; i < 2000; i++) {
      const lines = (n: number): string => Array.from({ length: n }, () => randomText(r, 6) + '\n').join('');
      const before = lines(Math.floor(r() * 8));
      // Edit some lines, drop some, add some.
      const after = before
        .split('\n')
        .flatMap((l) => (r() < 0.2 ? [] : r() < 0.2 ? [l, randomText(r, 4)] : r() < 0.3 ? [l + randomText(r, 2)] : [l]))
        .join('\n');
      const op = diffLinesToOp(before, after);
      expect(apply(before, op)).toBe(after);
      expect(op.length === 0 || isCanonical(op)).toBe(true);
    }
  });

  it('keeps unchanged lines between two changed regions, unlike a prefix/suffix diff', () => {
    const base = 'one\ntwo\nthree\nfour\nfive\n';
    const server = 'ONE\ntwo\nthree\nfour\nFIVE\n';
    expect(diffToOp(base, server)).toEqual(['ONE\ntwo\nthree\nfour\nFIVE', -23]);
    const d = diffLinesToOp(base, server);
    expect(d).toEqual(['ONE', -3, 16, 'FIVE', -4]);
    // A pending local edit inside "three" rebases onto "three", not after everything.
    const local = [8, '3️⃣ ']; // before "three"
    const rebased = transform(local, d, 'right');
    expect(apply(server, rebased)).toBe('ONE\ntwo\n3️⃣ three\nfour\nFIVE\n');
  });

  it('gives up aligning very different texts and still produces a correct op', () => {
    const a = Array.from({ length: 3000 }, (_, i) => `a${i}\n`).join('');
    const b = Array.from({ length: 3000 }, (_, i) => `b${i}\n`).join('');
    expect(apply(a, diffLinesToOp(a, b))).toBe(b);
  });
});

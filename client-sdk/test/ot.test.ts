import { describe, expect, it } from 'vitest';
import {
  apply,
  compareBytewise,
  compose,
  cpLength,
  invert,
  isCanonical,
  mapPositionUtf16,
  normalize,
  OffsetMap,
  opToChanges,
  OTError,
  sideOf,
  transform,
  transformPosition,
  validate,
  type Op,
} from '../src/ot/index.js';
import { randomOp, randomText, rng } from './helpers/random.js';

describe('ot properties (randomized, with astral characters)', () => {
  it('transform converges (TP1) and results are canonical', () => {
    const r = rng(1);
    for (let i = 0; i < 2000; i++) {
      const doc = randomText(r, 12);
      const a = randomOp(r, cpLength(doc));
      const b = randomOp(r, cpLength(doc));
      const a2 = transform(a, b, 'left');
      const b2 = transform(b, a, 'right');
      expect(isCanonical(a2) || a2.length === 0).toBe(true);
      expect(apply(apply(doc, b), a2)).toBe(apply(apply(doc, a), b2));
    }
  });

  it('compose equals sequential application and is canonical', () => {
    const r = rng(2);
    for (let i = 0; i < 2000; i++) {
      const doc = randomText(r, 12);
      const a = randomOp(r, cpLength(doc));
      const mid = apply(doc, a);
      const b = randomOp(r, cpLength(mid));
      const c = compose(a, b);
      expect(apply(doc, c)).toBe(apply(mid, b));
      expect(c.length === 0 || isCanonical(c)).toBe(true);
    }
  });

  it('invert undoes', () => {
    const r = rng(3);
    for (let i = 0; i < 2000; i++) {
      const doc = randomText(r, 12);
      const a = randomOp(r, cpLength(doc));
      expect(apply(apply(doc, a), invert(a, doc))).toBe(doc);
    }
  });

  it('transforming against a no-op or a retain-only op changes nothing', () => {
    const r = rng(4);
    for (let i = 0; i < 500; i++) {
      const doc = randomText(r, 10);
      const a = normalize(randomOp(r, cpLength(doc)));
      expect(transform(a, [], 'left')).toEqual(a);
      expect(transform(a, [cpLength(doc)].filter((n) => n > 0), 'right')).toEqual(a);
    }
  });

  it('normalize keeps the effect and is idempotent', () => {
    const r = rng(5);
    for (let i = 0; i < 1000; i++) {
      const doc = randomText(r, 10);
      const a = randomOp(r, cpLength(doc));
      const n = normalize(a);
      expect(apply(doc, n)).toBe(apply(doc, a));
      expect(normalize(n)).toEqual(n);
    }
  });
});

describe('ot edge cases', () => {
  it('left/right tie-break at the same position', () => {
    expect(apply(apply('', ['a']), transform(['b'], ['a'], 'right'))).toBe('ab');
    expect(apply(apply('', ['a']), transform(['b'], ['a'], 'left'))).toBe('ba');
  });

  it("an insert at someone else's caret leaves it before; the author's own caret goes after its own insert", () => {
    expect(transformPosition(2, [2, 'x'])).toBe(2);
    expect(transformPosition(2, [2, 'x'], true)).toBe(3);
    expect(transformPosition(3, [2, 'x'])).toBe(4);
  });

  it('sideOf orders sids bytewise (code points, not UTF-16 units), the committed op left on a tie', () => {
    expect(sideOf('aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb')).toBe('left');
    expect(sideOf('bbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaa')).toBe('right');
    expect(sideOf('same-sid-0123456', 'same-sid-0123456')).toBe('right');
    expect(sideOf('ZZZZZZZZZZZZZZZZ', 'aaaaaaaaaaaaaaaa')).toBe('left');
    expect(sideOf('abcdefghijklmnop', 'abcdefghijklmnopq')).toBe('left');
    // U+FF61 sorts before U+1F600 in UTF-8, though not in UTF-16 units.
    expect(compareBytewise('\uff61', '\u{1f600}')).toBeLessThan(0);
    expect('\uff61' < '\u{1f600}').toBe(false);
    expect(compareBytewise('\u{1f600}', '\u{1f601}')).toBeLessThan(0);
    expect(compareBytewise('x', 'x')).toBe(0);
  });

  it('mapPositionUtf16 agrees with transformPosition on every offset', () => {
    const texts = ['', 'a😀b', 'hello wörld', '😀😀😀'];
    const ops: Op[] = [['x'], [1, 'x'], [1, '😀!', -1], [-1, 'y'], [2, -1, 'zz'], ['a', 1, 'b', 1, -1], [1, -2]];
    for (const t of texts) {
      for (const op of ops) {
        let after: string;
        try {
          after = apply(t, op);
        } catch {
          continue; // the op does not fit this text
        }
        const changes = opToChanges(t, normalize(op));
        const before = new OffsetMap(t);
        const next = new OffsetMap(after);
        for (let cp = 0; cp <= cpLength(t); cp++) {
          for (const own of [false, true]) {
            const want = next.toUtf16(transformPosition(cp, op, own));
            expect(mapPositionUtf16(before.toUtf16(cp), changes, own), `${JSON.stringify(t)} ${JSON.stringify(op)} at ${cp} own ${own}`).toBe(want);
          }
        }
      }
    }
  });

  it('validation errors are typed with the component index', () => {
    const bad: unknown[] = [[1, 0], [''], [1.5], [null], ['\ud800'], 'x'];
    for (const op of bad) {
      let err: unknown;
      try {
        validate(op);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(op)).toBeInstanceOf(OTError);
      expect((err as OTError).kind).toBe('invalid');
    }
    try {
      apply('ab', [1, 'x', -2] as Op);
      expect.unreachable();
    } catch (e) {
      expect((e as OTError).kind).toBe('does_not_fit');
      expect((e as OTError).index).toBe(2);
    }
  });

  it('compose rejects an op that reads past what the first produces only when the first is exhausted explicitly', () => {
    // a's implicit trailing retain makes b fit any document a fits.
    expect(compose([1, 'x'], [5, 'y'])).toEqual([1, 'x', 3, 'y']);
  });
});

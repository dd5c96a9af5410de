import { describe, expect, it } from 'vitest';
import {
  apply,
  compose,
  contentOf,
  deltaLength,
  deltaText,
  flipOrder,
  invert,
  isCanonical,
  opFromUtf16,
  opToUtf16,
  orderBySid,
  RichError,
  selectionFromUtf16,
  selectionToUtf16,
  transform,
  transformPosition,
  validate,
  type Attributes,
  type RichComponent,
  type Delta,
  type RichOp,
} from '../src/rich/index.js';
import { rng } from './helpers/random.js';
import { ATTRS, insert as insertOf, pick, randomContent, randomOp, text } from './helpers/rich-random.js';

const SIDS = ['alice-0000000000000001', 'bob-00000000000000002'];

describe('rich properties (randomized, with astral characters)', () => {
  it('transform converges (TP1), with sid ties and the last committed attribute winning', () => {
    const r = rng(11);
    for (let i = 0; i < 1000; i++) {
      const doc = randomContent(r);
      const n = deltaLength(doc);
      const a = randomOp(r, n);
      const b = randomOp(r, n);
      const o = orderBySid(pick(r, SIDS), pick(r, SIDS), r() < 0.5);
      const a2 = transform(a, b, o);
      const b2 = transform(b, a, flipOrder(o));
      expect(isCanonical(a2) && isCanonical(b2)).toBe(true);
      expect(apply(apply(doc, a), b2)).toEqual(apply(apply(doc, b), a2));
    }
  });

  it('apply rebuilds only what an op touches: the same content, text and length as a whole rebuild, over long chains', () => {
    const r = rng(19);
    for (let chain = 0; chain < 60; chain++) {
      let doc = randomContent(r);
      for (let step = 0; step < 40; step++) {
        // Long documents of many components, so that most ops touch only some.
        const op = step % 3 === 0 ? [...(deltaLength(doc) > 1 ? [Math.floor(r() * (deltaLength(doc) - 1))] : []), ...Array.from({ length: 1 + Math.floor(r() * 4) }, () => insertOf(r, false))].filter((c) => c !== 0) : randomOp(r, deltaLength(doc));
        const next = apply(doc, op);
        expect(next).toEqual(compose(doc, op)); // compose rebuilds the whole Delta
        const copy = [...next]; // a new array: its text and length are computed afresh
        expect(deltaText(next)).toBe(deltaText(copy));
        expect(deltaLength(next)).toBe(deltaLength(copy));
        expect(apply(next, invert(op, doc))).toEqual(doc);
        doc = next;
      }
    }
  });

  it('compose equals applying in turn', () => {
    const r = rng(12);
    for (let i = 0; i < 1000; i++) {
      const doc = randomContent(r);
      const a = randomOp(r, deltaLength(doc));
      const mid = apply(doc, a);
      const b = randomOp(r, deltaLength(mid));
      const c = compose(a, b);
      expect(isCanonical(c)).toBe(true);
      expect(apply(doc, c)).toEqual(apply(mid, b));
    }
  });

  it('invert undoes, formatting included', () => {
    const r = rng(13);
    for (let i = 0; i < 1000; i++) {
      const doc = randomContent(r);
      const a = randomOp(r, deltaLength(doc));
      expect(apply(apply(doc, a), invert(a, doc))).toEqual(doc);
    }
  });

  it('carets stay inside the document', () => {
    const r = rng(14);
    for (let i = 0; i < 500; i++) {
      const doc = randomContent(r);
      const n = deltaLength(doc);
      const a = randomOp(r, n);
      const after = deltaLength(apply(doc, a));
      for (let p = 0; p <= n; p++) {
        const q = transformPosition(p, a, r() < 0.5);
        expect(q >= 0 && q <= after).toBe(true);
      }
    }
  });

  it('UTF-16 conversion round-trips and matches the document text', () => {
    const r = rng(15);
    for (let i = 0; i < 500; i++) {
      const doc = randomContent(r);
      const t = deltaText(doc);
      const a = randomOp(r, deltaLength(doc));
      const u = opToUtf16(a, t);
      expect(opFromUtf16(u, t)).toEqual(a);
    }
  });
});

describe('rich rules', () => {
  it('the final newline cannot be deleted or written past', () => {
    const doc: Delta = ['ab\n'];
    for (const op of [[2, -1], [-3], [3, 'x\n'], [3, { e: { image: 'u' } }]] as RichOp[]) {
      expect(() => apply(doc, op)).toThrowError(RichError);
    }
    expect(apply(doc, [2, { r: 1, a: { heading: 1 } }])).toEqual(['ab', { i: '\n', a: { heading: 1 } }]);
  });

  it('validation rejects nested attribute values and non-plain objects', () => {
    const deep = JSON.parse('['.repeat(500) + ']'.repeat(500)) as unknown;
    expect(() => validate([{ i: 'x', a: { bold: deep } }])).toThrowError(/string, number, boolean or null/);
    expect(() => validate([{ i: 'x', a: new Map() }])).toThrowError(RichError);
    expect(() => validate([{ i: 'x', a: { size: Number.NaN } }])).toThrowError(/finite/);
    expect(() => validate([{ e: { image: 'x'.repeat(256 * 1024 + 1) } }])).toThrowError(/over/);
  });

  it('compose refuses more than 64 attributes on one character', () => {
    const a: Attributes = {};
    const b: Attributes = {};
    for (let i = 0; i < 64; i++) {
      a[`a${i}`] = true;
      b[`b${i}`] = true;
    }
    let err: unknown;
    try {
      compose([{ r: 1, a }], [{ r: 1, a: b }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RichError);
    expect((err as RichError).kind).toBe('too_large');
  });

  it('converts Quill-style UTF-16 counts at astral characters', () => {
    const doc: Delta = ['a😀b', { e: { image: 'u' } }, '\n'];
    const t = deltaText(doc);
    expect(t).toBe('a😀b\uFFFC\n');
    // Bold the emoji and the b: 3 UTF-16 units from unit 1, 2 code points from 1.
    expect(opFromUtf16([1, { r: 3, a: { bold: true } }], t)).toEqual([1, { r: 2, a: { bold: true } }]);
    expect(opToUtf16([1, { r: 2, a: { bold: true } }, 1, -1], t)).toEqual([1, { r: 3, a: { bold: true } }, 1, -1]);
    expect(() => opFromUtf16([2, 'x'], t)).toThrowError(/surrogate pair/);
    expect(() => opToUtf16([9], t)).toThrowError(RichError);
    expect(selectionToUtf16([[2, 3]], t)).toEqual([[3, 4]]);
    expect(selectionFromUtf16([[3, 4]], t)).toEqual([[2, 3]]);
    expect(selectionFromUtf16(null, t)).toBe(null);
  });
});

describe('the README example', () => {
  it('runs as written', () => {
    let doc: Delta = ['Hello world\n'];
    const bold: RichOp = [6, { r: 5, a: { bold: true } }];
    doc = apply(doc, bold);
    expect(doc).toEqual(['Hello ', { i: 'world', a: { bold: true } }, '\n']);
    expect(invert([2, 'X'], doc)).toEqual([2, -1]);
    expect(transform([6, 'big '], bold, orderBySid('server-sid', 'my-sid', false))).toEqual([6, 'big ']);
    expect(opFromUtf16([1, { r: 3, a: { italic: true } }], deltaText(['a😀b\n']))).toEqual([1, { r: 2, a: { italic: true } }]);
  });
});

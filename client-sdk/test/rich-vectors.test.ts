import { describe, expect, it } from 'vitest';
import {
  apply,
  compose,
  contentOf,
  documentSize,
  invert,
  isCanonical,
  normalize,
  opSize,
  orderBySid,
  transform,
  transformPair,
  transformPast,
  transformSelection,
  validate,
  type Delta,
  type RichOp,
} from '../src/rich/index.js';
import type { Selection } from '../src/ot/index.js';
import { errorKind, expectSections, readVectors } from './helpers/vectors.js';

interface Vectors {
  apply: { name: string; doc: Delta; op: unknown; result?: Delta; error?: string }[];
  normalize: { name: string; op: RichOp; result: RichOp }[];
  invalid: { name: string; op: unknown; error: string | null }[];
  content: { name: string; content: unknown; result?: Delta; error?: string }[];
  compose: { name: string; doc: Delta; a: RichOp; b: RichOp; result: RichOp }[];
  transform: {
    name: string;
    doc: Delta;
    a: RichOp;
    b: RichOp;
    sid_a: string;
    sid_b: string;
    later: 'a' | 'b';
    a_after_b: RichOp;
    b_after_a: RichOp;
    result: Delta;
  }[];
  invert: { name: string; doc: Delta; op: RichOp; result: RichOp }[];
  selection: { name: string; sel: Selection; op: RichOp; own: boolean; result: Selection }[];
  size: { name: string; doc: Delta; size: number }[];
  op_size: { name: string; op: RichOp; size: number }[];
}

// Shared with the Go rich package.
const vectors = readVectors<Vectors>('rich-vectors.json');

describe('shared rich vectors', () => {
  it('has every section, and this file runs every section it has', () => {
    expectSections(vectors, ['apply', 'normalize', 'invalid', 'content', 'compose', 'transform', 'invert', 'selection', 'size', 'op_size'], 4);
  });

  describe('apply', () => {
    for (const c of vectors.apply) {
      it(c.name, () => {
        if (c.error !== undefined) {
          expect(errorKind(() => apply(c.doc, c.op as RichOp))).toBe(c.error);
        } else {
          const got = apply(c.doc, c.op as RichOp);
          expect(got).toEqual(c.result);
          expect(isCanonical(got)).toBe(true);
        }
      });
    }
  });

  describe('normalize', () => {
    for (const c of vectors.normalize) {
      it(c.name, () => {
        const n = normalize(c.op);
        expect(n).toEqual(c.result);
        expect(isCanonical(n)).toBe(true);
        expect(normalize(n)).toEqual(n);
      });
    }
  });

  describe('invalid', () => {
    for (const c of vectors.invalid) {
      it(c.name, () => expect(errorKind(() => validate(c.op))).toBe(c.error ?? undefined));
    }
  });

  describe('content', () => {
    for (const c of vectors.content) {
      it(c.name, () => {
        if (c.error !== undefined) expect(errorKind(() => contentOf(c.content))).toBe(c.error);
        else expect(contentOf(c.content)).toEqual(c.result);
      });
    }
  });

  describe('compose', () => {
    for (const c of vectors.compose) {
      it(c.name, () => {
        const r = compose(c.a, c.b);
        expect(r).toEqual(c.result);
        expect(apply(c.doc, r)).toEqual(apply(apply(c.doc, c.a), c.b));
      });
    }
  });

  describe('transform', () => {
    for (const c of vectors.transform) {
      it(c.name, () => {
        const aLater = c.later === 'a';
        const a2 = transform(c.a, c.b, orderBySid(c.sid_a, c.sid_b, aLater));
        const b2 = transform(c.b, c.a, orderBySid(c.sid_b, c.sid_a, !aLater));
        // The same through the author-level functions: the later op is the pending one.
        const pair = aLater ? transformPair(c.a, c.sid_a, c.b, c.sid_b) : transformPair(c.b, c.sid_b, c.a, c.sid_a).reverse();
        expect(pair).toEqual([a2, b2]);
        if (aLater) expect(transformPast(c.a, c.sid_a, c.b, c.sid_b)).toEqual(a2);
        expect(a2).toEqual(c.a_after_b);
        expect(b2).toEqual(c.b_after_a);
        expect(apply(apply(c.doc, c.a), b2)).toEqual(c.result);
        expect(apply(apply(c.doc, c.b), a2)).toEqual(c.result);
      });
    }
  });

  describe('invert', () => {
    for (const c of vectors.invert) {
      it(c.name, () => {
        const inv = invert(c.op, c.doc);
        expect(inv).toEqual(c.result);
        expect(apply(apply(c.doc, c.op), inv)).toEqual(contentOf(c.doc));
      });
    }
  });

  describe('selection', () => {
    for (const c of vectors.selection) {
      it(c.name, () => expect(transformSelection(c.sel, c.op, c.own)).toEqual(c.result));
    }
  });

  describe('size', () => {
    for (const c of vectors.size) {
      it(c.name, () => expect(documentSize(c.doc)).toBe(c.size));
    }
    for (const c of vectors.op_size) {
      it(c.name, () => expect(opSize(c.op)).toBe(c.size));
    }
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { apply, compose, normalize, OTError, transform, transformPosition, transformSelection, type Op, type Selection, type Side } from '../src/ot/index.js';

interface Vectors {
  apply: { name: string; doc: string; op: unknown; result?: string; error?: string }[];
  normalize: { name: string; op: Op; result: Op }[];
  transform: { name: string; a: Op; b: Op; side: Side; result: Op }[];
  compose: { name: string; doc: string; a: Op; b: Op; result: Op }[];
  position: { name: string; pos: number; op: Op; result: number }[];
  selection: { name: string; sel: Selection; op: Op; result: Selection }[];
}

// Shared with the Go ot package: read by relative path from this test file.
const path = fileURLToPath(new URL('../../testdata/ot-vectors.json', import.meta.url));
const vectors = JSON.parse(readFileSync(path, 'utf8')) as Vectors;

describe('shared OT vectors', () => {
  it('has every section', () => {
    for (const k of ['apply', 'normalize', 'transform', 'compose', 'position', 'selection'] as const) {
      expect(vectors[k].length, k).toBeGreaterThan(0);
    }
  });

  describe('apply', () => {
    for (const c of vectors.apply) {
      it(c.name, () => {
        if (c.error !== undefined) {
          let err: unknown;
          try {
            apply(c.doc, c.op as Op);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(OTError);
          expect((err as OTError).kind).toBe(c.error);
        } else {
          expect(apply(c.doc, c.op as Op)).toBe(c.result);
        }
      });
    }
  });

  describe('normalize', () => {
    for (const c of vectors.normalize) {
      it(c.name, () => expect(normalize(c.op)).toEqual(c.result));
    }
  });

  describe('transform', () => {
    for (const c of vectors.transform) {
      it(`${c.name} (${c.side})`, () => expect(transform(c.a, c.b, c.side)).toEqual(c.result));
    }
  });

  describe('compose', () => {
    for (const c of vectors.compose) {
      it(c.name, () => {
        const r = compose(c.a, c.b);
        expect(r).toEqual(c.result);
        expect(apply(c.doc, r)).toBe(apply(apply(c.doc, c.a), c.b));
      });
    }
  });

  describe('position', () => {
    for (const c of vectors.position) {
      it(c.name, () => expect(transformPosition(c.pos, c.op)).toBe(c.result));
    }
  });

  describe('selection', () => {
    for (const c of vectors.selection) {
      it(c.name, () => expect(transformSelection(c.sel, c.op)).toEqual(c.result));
    }
  });
});

import { describe, expect, it } from 'vitest';
import {
  TreeContent,
  checkBase,
  keyBetween,
  nKeysBetween,
  transform,
  validateOp,
  type TreeLimits,
  type TreeOp,
} from '../src/tree/index.js';
import { errorKind, expectSections, readVectors } from './helpers/vectors.js';

interface SnakeLimits {
  max_objects?: number;
  max_props?: number;
  max_depth?: number;
  max_value_bytes?: number;
  max_value_depth?: number;
  max_bytes?: number;
  max_op_bytes?: number;
  max_selection?: number;
}

interface Vectors {
  apply: { name: string; content: unknown; op: unknown; limits?: SnakeLimits; applied?: unknown; result?: unknown; error?: string; children?: Record<string, string[]> }[];
  transform: { name: string; op: unknown; sid: string; committed: unknown; committed_sid: string; result: unknown }[];
  selection: { name: string; content: unknown; sel: string[] | null; result: string[] | null }[];
  invalid: { name: string; op: unknown; error: string; limits?: SnakeLimits }[];
  valid: { name: string; op: unknown; limits?: SnakeLimits }[];
  server: {
    name: string;
    content: unknown;
    limits?: SnakeLimits;
    submit: { op: unknown; sid: string; v: number; applied?: unknown; error?: string }[];
    result: unknown;
  }[];
  keys: {
    between: { a: string; b: string; result?: string; error?: boolean }[];
    plain: { a: string; b: string; result?: string; error?: boolean }[];
    nkeys: { a: string; b: string; n: number; result: string[] }[];
  };
}

// Shared with the Go package tree: read by relative path from this test file.
const vectors = readVectors<Vectors>('tree-vectors.json');

function limits(l?: SnakeLimits): Partial<TreeLimits> {
  return {
    maxObjects: l?.max_objects,
    maxProps: l?.max_props,
    maxDepth: l?.max_depth,
    maxValueBytes: l?.max_value_bytes,
    maxValueDepth: l?.max_value_depth,
    maxBytes: l?.max_bytes,
    maxOpBytes: l?.max_op_bytes,
    maxSelection: l?.max_selection,
  };
}


describe('shared tree vectors', () => {
  it('has every section, and this file runs every section it has', () => {
    expectSections(vectors, ['apply', 'transform', 'selection', 'invalid', 'valid', 'server', 'keys.between', 'keys.plain', 'keys.nkeys'], 4);
    expect(vectors.keys.between.length).toBeGreaterThan(100);
  });

  describe('apply', () => {
    for (const c of vectors.apply) {
      it(c.name, () => {
        const lim = limits(c.limits);
        const content = TreeContent.fromJSON(c.content, lim);
        const before = content.toJSON();
        if (c.error !== undefined) {
          expect(
            errorKind(() => content.apply(validateOp(c.op, lim))),
            'error kind',
          ).toBe(c.error);
          expect(content.toJSON()).toEqual(before);
          return;
        }
        const { applied, inverse } = content.apply(validateOp(c.op, lim));
        expect(applied).toEqual(c.applied);
        expect(content.toJSON()).toEqual(c.result);
        for (const [parent, ids] of Object.entries(c.children ?? {})) expect(content.children(parent), parent).toEqual(ids);
        expect(content.size).toBe(TreeContent.fromJSON(content.toJSON(), lim).size);
        // The inverse undoes it.
        content.apply(inverse);
        expect(content.toJSON()).toEqual(before);
      });
    }
  });

  describe('transform', () => {
    for (const c of vectors.transform) {
      it(c.name, () => {
        const got = transform(validateOp(c.op), validateOp(c.committed), c.sid, c.committed_sid);
        expect(got).toEqual(c.result);
      });
    }
  });

  describe('selection', () => {
    for (const c of vectors.selection) {
      it(c.name, () => expect(TreeContent.fromJSON(c.content).filterSelection(c.sel)).toEqual(c.result));
    }
  });

  describe('invalid ops', () => {
    for (const c of vectors.invalid) {
      it(c.name, () => expect(errorKind(() => validateOp(c.op, limits(c.limits)))).toBe(c.error));
    }
    for (const c of vectors.valid) {
      it(`valid: ${c.name}`, () => expect(errorKind(() => validateOp(c.op, limits(c.limits)))).toBeUndefined());
    }
  });

  describe('server: submissions transformed and applied in commit order', () => {
    for (const c of vectors.server) {
      it(c.name, () => {
        const lim = limits(c.limits);
        const content = TreeContent.fromJSON(c.content, lim);
        const log: { op: TreeOp; sid: string; removed: string[] }[] = [];
        c.submit.forEach((s, k) => {
          const serve = () => {
            let op = validateOp(s.op, lim);
            checkBase(op, content, log.slice(s.v));
            for (const past of log.slice(s.v)) op = transform(op, past.op, s.sid, past.sid);
            return content.apply(op);
          };
          if (s.error !== undefined) {
            expect(errorKind(serve), `submission ${k}`).toBe(s.error);
            return;
          }
          const { applied, removed } = serve();
          expect(applied, `submission ${k}`).toEqual(s.applied);
          log.push({ op: applied, sid: s.sid, removed });
        });
        expect(content.toJSON()).toEqual(c.result);
      });
    }
  });

  describe('keys', () => {
    it('match fractional-indexing and the Go port, fallback included', () => {
      for (const c of [...vectors.keys.between, ...vectors.keys.plain]) {
        if (c.error) {
          expect(() => keyBetween(c.a, c.b), `${c.a} ${c.b}`).toThrow();
          continue;
        }
        expect(keyBetween(c.a, c.b), `${c.a} ${c.b}`).toBe(c.result);
      }
      for (const c of vectors.keys.nkeys) expect(nKeysBetween(c.a, c.b, c.n)).toEqual(c.result);
    });
  });
});


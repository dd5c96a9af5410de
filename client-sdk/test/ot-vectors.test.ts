import { describe, expect, it } from 'vitest';
import {
  apply,
  compose,
  normalize,
  transform,
  transformPair,
  transformPast,
  transformPosition,
  transformSelection,
  transformSelectionPast,
  type Op,
  type Selection,
  type Side,
} from '../src/ot/index.js';
import { errorKind, expectSections, readVectors } from './helpers/vectors.js';

interface Vectors {
  apply: { name: string; doc: string; op: unknown; result?: string; error?: string }[];
  normalize: { name: string; op: Op; result: Op }[];
  transform: { name: string; a: Op; b: Op; side: Side; result: Op }[];
  transform_sid: { name: string; op: Op; sid: string; committed: Op; committed_sid: string; result: Op; committed_result: Op }[];
  commit: { name: string; doc: string; submits: { sid: string; v: number; op: Op }[]; log: Op[]; result: string }[];
  compose: { name: string; doc: string; a: Op; b: Op; result: Op }[];
  position: { name: string; pos: number; op: Op; own?: boolean; result: number }[];
  selection: { name: string; sel: Selection; op: Op; own?: boolean; result: Selection }[];
}

// Shared with the Go ot package.
const vectors = readVectors<Vectors>('ot-vectors.json');

describe('shared OT vectors', () => {
  it('has every section, and this file runs every section it has', () => {
    expectSections(vectors, ['apply', 'normalize', 'transform', 'transform_sid', 'commit', 'compose', 'position', 'selection']);
  });

  describe('apply', () => {
    for (const c of vectors.apply) {
      it(c.name, () => {
        if (c.error !== undefined) {
          expect(errorKind(() => apply(c.doc, c.op as Op))).toBe(c.error);
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

  describe('transform_sid (ties by sid)', () => {
    for (const c of vectors.transform_sid) {
      it(c.name, () => {
        expect(transformPast(c.op, c.sid, c.committed, c.committed_sid)).toEqual(c.result);
        const [opPast, committedPast] = transformPair(c.op, c.sid, c.committed, c.committed_sid);
        expect(opPast).toEqual(c.result);
        expect(committedPast).toEqual(c.committed_result);
      });
    }
  });

  describe('commit (the server order)', () => {
    for (const c of vectors.commit) {
      it(c.name, () => {
        const log: { op: Op; sid: string }[] = [];
        let text = c.doc;
        for (const s of c.submits) {
          expect(s.v).toBeLessThanOrEqual(log.length);
          let op = s.op;
          for (const e of log.slice(s.v)) op = transformPast(op, s.sid, e.op, e.sid);
          text = apply(text, op);
          log.push({ op, sid: s.sid });
        }
        expect(log.map((e) => e.op)).toEqual(c.log);
        expect(text).toBe(c.result);
      });
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
      it(c.name, () => {
        expect(transformPosition(c.pos, c.op, c.own === true)).toBe(c.result);
        if (c.own !== true) expect(transformPosition(c.pos, c.op)).toBe(c.result);
      });
    }
  });

  describe('selection', () => {
    for (const c of vectors.selection) {
      it(c.name, () => {
        expect(transformSelection(c.sel, c.op, c.own === true)).toEqual(c.result);
        const [owner, author] = c.own === true ? ['alice-0123456789', 'alice-0123456789'] : ['bob-0123456789ab', 'alice-0123456789'];
        expect(transformSelectionPast(c.sel, owner, c.op, author)).toEqual(c.result);
      });
    }
  });
});

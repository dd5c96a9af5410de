/**
 * The tree DocType's own pieces: the diff a resync applies (any content to
 * any other, through moves out of deleted subtrees and into new parents,
 * text edits where a string stays a string) and the summary of what a change
 * did, object by object.
 */
import { describe, expect, it } from 'vitest';
import { TreeContent, type TreeJSON } from '../src/tree/index.js';
import { createTreeType, diffTree, summaryOf } from '../src/tree-type.js';
import { rng } from './helpers/random.js';
import { randomAction, SIM_LIMITS, simStart } from './helpers/tree-random.js';

function randomContent(seed: number, steps: number): TreeContent {
  const r = rng(seed);
  const c = TreeContent.fromJSON(simStart(), SIM_LIMITS);
  const made = { n: 0 };
  for (let i = 0; i < steps; i++) {
    const a = randomAction(r, c, `s${seed % 3}abcdefg`, made);
    if (a === null) continue;
    try {
      c.apply([a]);
    } catch {
      // past a limit: skip
    }
  }
  return c;
}

describe('diffTree', () => {
  for (let seed = 1; seed <= 60; seed++) {
    it(`takes one random content to another (seed ${seed})`, () => {
      const from = randomContent(seed, 40);
      const to = randomContent(seed * 7919, 40);
      const ids = new Set([...from.ids(), ...to.ids()]);
      const { op, summary } = diffTree((id) => from.get(id), to, ids);
      const c = from.clone();
      const r = c.apply(op);
      expect(r.applied.length, 'nothing dropped').toBe(op.length);
      expect(c.toJSON()).toEqual(to.toJSON());
      for (const id of summary.created) expect(from.has(id) || !to.has(id)).toBe(false);
      for (const id of summary.deleted) expect(from.has(id) && !to.has(id)).toBe(true);
    });
  }

  it('edits a string that stays a string with a text action, so that concurrent text edits survive', () => {
    const a: TreeJSON = { n: { parent: '', key: 'a0', props: { text: 'hello world', x: 1 } } };
    const b: TreeJSON = { n: { parent: '', key: 'a0', props: { text: 'hello brave world', y: 2 } } };
    const from = TreeContent.fromJSON(a);
    const { op, summary } = diffTree((id) => from.get(id), TreeContent.fromJSON(b), ['n']);
    expect(op).toEqual([
      ['text', 'n', 'text', [6, 'brave ']],
      ['set', 'n', 'x', null],
      ['set', 'n', 'y', 2],
    ]);
    expect(summary).toEqual({ ids: ['n'], created: [], deleted: [], moved: [], props: { n: ['text', 'x', 'y'] } });
  });
});

describe('the tree type', () => {
  it('a local op reports what it did, object by object, and what it dropped', () => {
    const t = createTreeType();
    const c = TreeContent.fromJSON(simStart());
    const r = t.apply(c, [
      ['set', 'box', 'x', 5],
      ['move', 'note', '', 'a5'],
      ['del', 'frame'],
      ['new', 'k', '', 'a6', { a: 1 }],
      ['set', 'gone', 'x', 1],
    ]);
    expect(summaryOf(r.applied)).toEqual({
      ids: ['k', 'frame', 'note', 'box'],
      created: ['k'],
      deleted: ['frame'],
      moved: ['note'],
      props: { box: ['x'] },
    });
    expect(r.dropped).toEqual([['set', 'gone', 'x', 1]]);
  });

  it('compose leaves out sets a later set of the same property overwrites, and keeps the inverse right', () => {
    const t = createTreeType();
    const c = TreeContent.fromJSON(simStart());
    const a = t.apply(c, [['set', 'box', 'x', 2]]);
    const b = t.apply(c, [['text', 'note', 'text', ['>']], ['set', 'box', 'x', 3], ['set', 'note', 'text', 'z']]);
    const ab = t.compose(a.applied, b.applied);
    expect(ab).toEqual([['text', 'note', 'text', ['>']], ['set', 'box', 'x', 3], ['set', 'note', 'text', 'z']]);
    t.apply(c, t.invert(ab, c));
    expect(c.toJSON()).toEqual(simStart());
  });
});

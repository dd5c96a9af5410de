/* Random tree actions and the starting document of the tree simulations. */
import { cpLength } from '../../src/ot/index.js';
import type { Action, TreeContent, TreeJSON } from '../../src/tree/index.js';
import { randomOp } from './random.js';

/** Limits small enough that the simulations reach them. */
export const SIM_LIMITS = { maxDepth: 8, maxObjects: 400 };

/** The document every simulated client starts from. */
export function simStart(): TreeJSON {
  return {
    frame: { parent: '', key: 'a0', props: { text: 'hello' } },
    note: { parent: 'frame', key: 'a0', props: { text: 'shared note' } },
    box: { parent: '', key: 'a1', props: { x: 1 } },
  };
}

/**
 * A random action by client `sid` on its `view`: creates, concurrent sets
 * and text edits of shared properties, moves into each other's subtrees,
 * deletes of ancestors; null when the pick does not apply. `made` numbers
 * the client's new objects.
 */
export function randomAction(rand: () => number, view: TreeContent, sid: string, made: { n: number }): Action | null {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const ids = view.ids();
  const any = (): string => (ids.length ? pick(ids) : 'frame');
  const r = rand();
  if (r < 0.15 || ids.length < 3) {
    const parent = ids.length && rand() < 0.6 ? any() : '';
    const key = view.keyAt(parent, Math.floor(rand() * (view.children(parent).length + 1)));
    made.n++;
    const props: Record<string, number | string> = { x: Math.floor(rand() * 100) };
    if (rand() < 0.5) props.text = 'abc';
    return ['new', `${sid.slice(0, 7)}.${made.n}`, parent, key, props];
  }
  if (r < 0.35) {
    const v = [null, `s${Math.floor(rand() * 10)}`, Math.floor(rand() * 1000), Math.floor(rand() * 1000)][Math.floor(rand() * 4)] as null | string | number;
    return ['set', any(), pick(['x', 'y', 'color', 'text']), v];
  }
  if (r < 0.65) {
    const id = rand() < 0.66 ? 'note' : any();
    const s = view.prop(id, 'text');
    if (typeof s !== 'string') return null;
    const t = randomOp(rand, cpLength(s));
    if (t.length === 0) return null;
    return ['text', id, 'text', t];
  }
  if (r < 0.92) {
    const parent = rand() < 0.75 ? any() : '';
    return ['move', any(), parent, view.keyAt(parent, Math.floor(rand() * (view.children(parent).length + 1)))];
  }
  let id = any();
  const o = view.get(id);
  if (o && o.parent !== '' && rand() < 0.5) id = o.parent;
  if ((id === 'frame' || id === 'note') && rand() < 0.9) return null;
  return ['del', id];
}

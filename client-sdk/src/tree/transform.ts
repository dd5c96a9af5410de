import { transformPair, type Op as TextOp } from '../ot/op.js';
import type { TreeContent } from './content.js';
import { TreeError } from './errors.js';
import type { Action, TreeOp } from './op.js';
import { rebasedActions } from './rebased.js';

const ref = (id: string, prop: string): string => `${id}\u0000${prop}`;

/**
 * `op`, made by `sid` against the state before `committed` (by
 * `committedSid`), transformed to apply after it: what the server does with
 * every op committed since an op's version, and what a client does to rebase
 * its pending actions over an op from the server. The rules are the Go
 * package `tree`'s Transform:
 * - `set`, `move` and `del` pass (the last committed wins; apply drops what no
 *   longer applies);
 * - `text` is transformed against `committed`'s `text` actions on the same
 *   (object, property), ties by sid; dropped when `committed` sets that
 *   property or creates that object, unless `op` itself set the property or
 *   created the object earlier on;
 * - `new` of an id `committed` also creates is dropped, with every later
 *   action of `op` on that id or under it.
 */
export function transform(op: TreeOp, committed: TreeOp, sid: string, committedSid: string): TreeOp {
  return transformKept(op, committed, sid, committedSid).op;
}

/** {@link transform}, also saying for each action of `op` whether it was kept. */
export function transformKept(op: TreeOp, committed: TreeOp, sid: string, committedSid: string): { op: TreeOp; kept: boolean[] } {
  if (committed.length === 0) return { op, kept: op.map(() => true) };
  const created = new Set<string>();
  const reset = new Set<string>();
  const texts = new Map<string, TextOp[]>();
  for (const a of committed) {
    if (a[0] === 'new') created.add(a[1]);
    else if (a[0] === 'set') reset.add(ref(a[1], a[2]));
    else if (a[0] === 'text') {
      const r = ref(a[1], a[2]);
      const list = texts.get(r) ?? [];
      list.push(a[3]);
      texts.set(r, list);
    }
  }
  const out: TreeOp = [];
  const kept: boolean[] = [];
  const orphaned = new Set<string>();
  const ownNew = new Set<string>();
  const ownSet = new Set<string>();
  for (const a of op) {
    let next: Action = a;
    let keep = true;
    if (orphaned.has(a[1]) || ((a[0] === 'new' || a[0] === 'move') && orphaned.has(a[2]))) {
      if (a[0] === 'new') orphaned.add(a[1]);
      keep = false;
    } else if (a[0] === 'new') {
      if (created.has(a[1])) {
        orphaned.add(a[1]);
        keep = false;
      } else ownNew.add(a[1]);
    } else if (a[0] === 'set') {
      ownSet.add(ref(a[1], a[2]));
    } else if (a[0] === 'text') {
      const r = ref(a[1], a[2]);
      if (!ownNew.has(a[1]) && !ownSet.has(r)) {
        if (created.has(a[1]) || reset.has(r)) keep = false;
        else {
          const cs = texts.get(r);
          if (cs?.length) {
            let t = a[3];
            const moved: TextOp[] = [];
            // Ties by sid (transformPair).
            for (const c of cs) {
              const [t2, c2] = transformPair(t, sid, c, committedSid);
              moved.push(c2);
              t = t2;
            }
            texts.set(r, moved);
            next = ['text', a[1], a[2], t];
          }
        }
      }
    }
    kept.push(keep);
    if (keep) {
      const copy = [...next] as Action;
      rebasedActions.add(copy);
      out.push(copy);
    }
  }
  return { op: out, kept };
}

/** An op committed after some version, with the ids its dels removed when known (ApplyResult.removed). */
export interface Since {
  op: TreeOp;
  removed?: readonly string[];
}

/**
 * What only the op's own version decides, checked before it is transformed
 * (the Go server's CheckBase): a `new` of an id that existed at that version
 * is invalid, even when the object has been deleted since. `cur` is the
 * document now, `since` the ops committed after the op's version, oldest
 * first. A `new` after a `del` of the op itself is not checked. Throws
 * {@link TreeError}.
 */
export function checkBase(op: TreeOp, cur: TreeContent, since: readonly Since[]): void {
  let deleted = false;
  const mine = new Set<string>();
  op.forEach((a, i) => {
    if (a[0] === 'del') deleted = true;
    else if (a[0] === 'new') {
      if (!deleted && !mine.has(a[1]) && existedAt(a[1], cur, since)) {
        throw new TreeError('invalid', `new: object ${a[1]} existed at the op's version`, i);
      }
      mine.add(a[1]);
    }
  });
}

function existedAt(id: string, cur: TreeContent, since: readonly Since[]): boolean {
  let state = cur.has(id);
  for (let k = since.length - 1; k >= 0; k--) {
    const s = since[k] as Since;
    const removed = s.removed?.includes(id) ?? false;
    for (let j = s.op.length - 1; j >= 0; j--) {
      const a = s.op[j] as Action;
      if (a[0] === 'new' && a[1] === id) state = false;
      else if (a[0] === 'del' && (a[1] === id || removed)) state = true;
    }
  }
  return state;
}

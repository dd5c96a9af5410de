/**
 * The `tree` document type's functions for the session machinery
 * ({@link createTreeType}): contents changed in place, pending actions
 * rebased by undoing them, applying the server's op and re-applying them (as
 * the pure TreeReplica does), and two things the text type does not need:
 * a summary of what each change did to which objects (for `change` events
 * and renderers), and the actions the concurrency rules dropped, with why.
 * @module
 */
import type { DocType } from './doctype.js';
import { diffToOp } from './ot/changes.js';
import { TreeContent, transform, transformKept, validateOp, type Action, type TreeLimits, type TreeObject, type TreeOp } from './tree/index.js';

/**
 * Why one of this client's actions did not happen:
 * - `deleted`: its object (or the parent it was to go under) was deleted by someone else first;
 * - `cycle`: a move under one of the object's own descendants (someone else moved that first);
 * - `replaced`: a text edit of a property someone else set meanwhile (the set wins);
 * - `exists`: a `new` of an id someone else created first (and the actions on it that followed);
 * - `limit`: the concurrent changes would take the document past a limit (nesting, objects, properties).
 */
export type DropReason = 'deleted' | 'cycle' | 'replaced' | 'exists' | 'limit';

/** One of this client's actions that did not happen, and why. */
export interface DroppedAction {
  /** The action as it was about to apply. */
  action: Action;
  /** Why it was dropped. */
  reason: DropReason;
}

/** What one change did, object by object (the net effect: an object created and deleted again is not in it). */
export interface TreeChangeSummary {
  /** Every object created, deleted, moved or with changed properties. */
  ids: string[];
  /** Objects that did not exist before. */
  created: string[];
  /** Objects that exist no more (with everything that was under them). */
  deleted: string[];
  /** Objects with a new parent or a new place among their siblings. */
  moved: string[];
  /** Per object that exists before and after: the names of the properties set, removed or edited. */
  props: Record<string, string[]>;
}

/** The inverse of each op as applied to a local content, recorded by apply, rebase and compose. */
const inverses = new WeakMap<TreeOp, TreeOp>();
/** The summary of each op a change event reports. */
const summaries = new WeakMap<TreeOp, TreeChangeSummary>();
/** The reasons of each dropped op the type reported. */
const reasons = new WeakMap<TreeOp, DroppedAction[]>();

/** What a change op did, object by object (undefined for an op that no change event reported). */
export function summaryOf(op: TreeOp): TreeChangeSummary | undefined {
  return summaries.get(op);
}

/** The actions of a dropped op with the reason of each. */
export function droppedActions(op: TreeOp): DroppedAction[] {
  return reasons.get(op) ?? op.map((action) => ({ action, reason: 'deleted' as const }));
}

function inverseOf(op: TreeOp): TreeOp {
  const inv = inverses.get(op);
  if (inv === undefined) throw new Error('tree: no inverse recorded for a pending op');
  return inv;
}

/** Deep equality of property values (JSON-like). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * An op taking the objects `ids` from how `before` gives them to how they
 * are in `after`, and what it does object by object. Re-parented objects
 * first go to the top level (so that no delete takes them along and no move
 * makes a cycle on the way), deleted ones go (only the topmost: a delete
 * takes its subtree), new ones are created parents first, moved ones reach
 * their place parents first, and properties are set, or edited with a text
 * op where a string stays a string (so that concurrent text edits of it
 * survive a resync).
 */
export function diffTree(before: (id: string) => TreeObject | undefined, after: TreeContent, ids: Iterable<string>): { op: TreeOp; summary: TreeChangeSummary } {
  const removed = new Set<string>();
  const created: string[] = [];
  const reparented: string[] = [];
  const rekeyed: string[] = [];
  const both: string[] = [];
  for (const id of ids) {
    const a = before(id);
    const b = after.get(id);
    if (a === undefined && b === undefined) continue;
    if (b === undefined) removed.add(id);
    else if (a === undefined) created.push(id);
    else {
      both.push(id);
      if (a.parent !== b.parent) reparented.push(id);
      else if (a.key !== b.key) rekeyed.push(id);
    }
  }
  const byDepth = (xs: string[]): string[] =>
    xs
      .map((id) => [after.depth(id), id] as const)
      .sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1))
      .map((x) => x[1]);
  const op: TreeOp = [];
  const at = (id: string): TreeObject => after.get(id) as TreeObject;
  for (const id of reparented) op.push(['move', id, '', at(id).key]);
  for (const id of removed) {
    const p = (before(id) as TreeObject).parent;
    if (p === '' || !removed.has(p)) op.push(['del', id]);
  }
  for (const id of byDepth(created)) {
    const b = at(id);
    op.push(['new', id, b.parent, b.key, { ...b.props }]);
  }
  for (const id of byDepth(reparented)) op.push(['move', id, at(id).parent, at(id).key]);
  for (const id of rekeyed) op.push(['move', id, at(id).parent, at(id).key]);
  const props: Record<string, string[]> = {};
  for (const id of both) {
    const a = (before(id) as TreeObject).props;
    const b = at(id).props;
    if (a === b) continue;
    const names: string[] = [];
    for (const n of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const va = Object.hasOwn(a, n) ? a[n] : undefined;
      const vb = Object.hasOwn(b, n) ? b[n] : undefined;
      if (sameValue(va, vb)) continue;
      names.push(n);
      if (typeof va === 'string' && typeof vb === 'string') op.push(['text', id, n, diffToOp(va, vb)]);
      else op.push(['set', id, n, vb ?? null]);
    }
    if (names.length > 0) props[id] = names;
  }
  const moved = [...reparented, ...rekeyed];
  const deleted = [...removed];
  const ids2 = [...new Set([...created, ...deleted, ...moved, ...Object.keys(props)])];
  return { op, summary: { ids: ids2, created, deleted, moved, props } };
}

/**
 * Records objects as they were before a sequence of in-place changes, so
 * that the net change can be told afterwards: every id an action names is
 * noted before the action applies, and a delete's whole subtree.
 */
class Tracker {
  private readonly before = new Map<string, TreeObject | undefined>();
  constructor(private readonly content: TreeContent) {}

  touchOp(op: readonly Action[]): void {
    for (const a of op) this.touchAction(a);
  }

  touchAction(a: Action): void {
    this.touch(a[1]);
    if (a[0] === 'del') this.touchSubtree(a[1]);
  }

  private touch(id: string): void {
    if (!this.before.has(id)) this.before.set(id, this.content.get(id));
  }

  private touchSubtree(id: string): void {
    for (const k of this.content.children(id)) {
      this.touch(k);
      this.touchSubtree(k);
    }
  }

  result(): { op: TreeOp; summary: TreeChangeSummary } {
    return diffTree((id) => this.before.get(id), this.content, this.before.keys());
  }
}

/** Why `a` did not apply to `content` (as it is right after the attempt). */
function whyDropped(content: TreeContent, a: Action): DropReason {
  switch (a[0]) {
    case 'new':
      return a[2] !== '' && !content.has(a[2]) ? 'deleted' : 'limit';
    case 'move':
      if (!content.has(a[1]) || (a[2] !== '' && !content.has(a[2]))) return 'deleted';
      for (let p = a[2], n = 0; p !== '' && n <= content.limits.maxDepth; n++) {
        if (p === a[1]) return 'cycle';
        p = content.get(p)?.parent ?? '';
      }
      return 'limit';
    default:
      return content.has(a[1]) ? 'limit' : 'deleted';
  }
}

/**
 * `op` without the `set`s that a later `set` of the same property overwrites
 * with nothing reading the property in between (a drag is hundreds of sets
 * of x and y: buffered while offline or while an op is in flight, they go
 * out as one set each). Applied, it gives what `op` gives.
 */
function coalesce(op: TreeOp): TreeOp {
  const overwritten = new Set<string>();
  const out: Action[] = [];
  for (let i = op.length - 1; i >= 0; i--) {
    const a = op[i] as Action;
    if (a[0] === 'set') {
      const r = `${a[1]}\u0000${a[2]}`;
      if (overwritten.has(r)) continue;
      overwritten.add(r);
    } else if (a[0] === 'text') overwritten.delete(`${a[1]}\u0000${a[2]}`);
    else if (a[0] === 'new' || a[0] === 'del') {
      for (const r of overwritten) if (r.startsWith(`${a[1]}\u0000`)) overwritten.delete(r);
    }
    out.push(a);
  }
  return out.length === op.length ? op : out.reverse();
}

function droppedOp(list: DroppedAction[]): TreeOp | undefined {
  if (list.length === 0) return undefined;
  const op = list.map((d) => d.action);
  reasons.set(op, list);
  return op;
}

/**
 * The `tree` type for documents with the given limits (the server's
 * defaults when none are given: docs/protocol.md, "Tree documents").
 * Selections are arrays of object ids.
 */
export function createTreeType(limits?: Partial<TreeLimits>): DocType<TreeContent, TreeOp, string[]> {
  return {
    name: 'tree',
    contentKey: 'tree',
    empty: () => new TreeContent(limits),
    decodeContent: (v) => TreeContent.fromJSON(v, limits),
    validate: (op) => validateOp(op, limits),
    apply(content, op) {
      const track = new Tracker(content);
      track.touchOp(op);
      const r = content.apply(op); // in place; throws (content unchanged) for an invalid op
      inverses.set(r.applied, r.inverse);
      summaries.set(r.applied, track.result().summary);
      let dropped: TreeOp | undefined;
      if (r.applied.length !== op.length) {
        const kept = new Set(r.applied);
        dropped = droppedOp(op.filter((a) => !kept.has(a)).map((action) => ({ action, reason: whyDropped(content, action) })));
      }
      return { content, applied: r.applied, inverse: () => r.inverse, ...(dropped !== undefined ? { dropped } : {}) };
    },
    isNoop: (op) => op.length === 0,
    invert: (op, before) => inverses.get(op) ?? before.clone().apply(op).inverse,
    compose(a, b) {
      const c = coalesce([...a, ...b]);
      const ia = inverses.get(a);
      const ib = inverses.get(b);
      if (ia !== undefined && ib !== undefined) inverses.set(c, [...ib, ...ia]);
      return c;
    },
    // The undo stacks: an own step past someone's op, and their op past the step.
    transformPair: (op, sid, committed, committedSid) => [transform(op, committed, sid, committedSid), transform(committed, op, committedSid, sid)],
    rebase(content, pending, sid, committed, committedSid) {
      const track = new Tracker(content);
      // Back to the server's content: undo the pending actions, newest first.
      for (let i = pending.length - 1; i >= 0; i--) {
        const inv = inverseOf(pending[i] as TreeOp);
        track.touchOp(inv);
        content.applyEach(inv);
      }
      track.touchOp(committed);
      content.apply(committed);
      // Then the pending actions again, as the server will see them.
      const { op: rebased, kept } = transformKept(pending.flat(), committed, sid, committedSid);
      const dropped: DroppedAction[] = [];
      let k = 0;
      let r = 0;
      const out = pending.map((p, n) => {
        const mine: TreeOp = [];
        const invs: TreeOp[] = [];
        for (let j = 0; j < p.length; j++, k++) {
          if (!kept[k]) {
            const a = p[j] as Action;
            dropped.push({ action: a, reason: a[0] === 'text' ? 'replaced' : 'exists' });
            continue;
          }
          const a = rebased[r++] as Action;
          track.touchAction(a);
          const [inv] = content.applyEach([a]);
          if (inv === null) {
            // The op in flight stays whole: the server judges it, and the ack
            // says what it dropped. A buffered action that no longer applies goes now.
            if (n > 0) {
              dropped.push({ action: a, reason: whyDropped(content, a) });
              continue;
            }
          }
          mine.push(a);
          if (inv) invs.push(inv);
        }
        inverses.set(mine, invs.reverse().flat());
        return mine;
      });
      const { op: change, summary } = track.result();
      summaries.set(change, summary);
      const d = droppedOp(dropped);
      return { content, pending: out, change, ...(d !== undefined ? { dropped: d } : {}) };
    },
    transformSelection(sel, op) {
      const gone = new Set(summaries.get(op)?.deleted ?? []);
      for (const a of op) if (a[0] === 'del') gone.add(a[1]);
      return gone.size === 0 ? sel : sel.filter((id) => !gone.has(id));
    },
    fitSelection: (sel, content) => content.filterSelection(sel) ?? [],
    diff(from, to) {
      const ids = new Set([...from.ids(), ...to.ids()]);
      const { op, summary } = diffTree((id) => from.get(id), to, ids);
      summaries.set(op, summary);
      return op;
    },
  };
}

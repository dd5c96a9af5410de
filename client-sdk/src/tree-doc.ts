/**
 * The `tree` document type in the SDK: a shared document of objects with
 * properties (docs/protocol.md, "Tree documents"), opened with
 * `Connection.openTree`. Objects have an id, a parent, a place among their
 * siblings and properties; what a whiteboard, a diagram or a form builder
 * keeps.
 * @module
 */
import { changesToOp, diffToOp, type TextChange } from './ot/changes.js';
import type { Op as TextOp } from './ot/op.js';
import { Presence } from './presence.js';
import type { PresenceData } from './protocol.js';
import type { DocEvents, DocOptions, DocSession } from './session.js';
import { SharedDoc } from './shared-doc.js';
import { TreeError, keyBetween, type Action, type Props, type TreeContent, type TreeJSON, type TreeLimits, type TreeOp, type Value } from './tree/index.js';
import { droppedActions, summaryOf, type DroppedAction, type TreeChangeSummary } from './tree-type.js';
import type { DocChange, Peer } from './types.js';
import { randomId } from './random-id.js';

/** One object of a tree document, as {@link TreeDoc.get} gives it. A snapshot: it does not change afterwards. */
export interface TreeNode {
  /** Its id. */
  readonly id: string;
  /** Its parent's id, `""` at the top level. */
  readonly parent: string;
  /** Its fractional key: siblings sort by key, then id. */
  readonly key: string;
  /** Its properties (read-only). */
  readonly props: Readonly<Props>;
}

/**
 * Where an object goes: as the first, last or `at`-th child of `inside`
 * (`""` is the top level; `at` defaults to `'end'`, which is on top when
 * children are drawn in order), or right before or after a sibling.
 */
export type Place = { inside: string; at?: 'start' | 'end' | number } | { before: string } | { after: string };

/**
 * A change of a tree document, local or remote: the op as applied (for a
 * remote op or a resync: the net op that took the local content from
 * before to after, with this client's pending changes still on top) and
 * what it did, object by object.
 */
export interface TreeChange extends DocChange<TreeOp, TreeContent>, TreeChangeSummary {}

/** Events of a {@link TreeDoc}. */
export interface TreeDocEvents extends DocEvents<TreeOp, TreeContent> {
  /** The content changed: which objects, which properties. One event per local edit or transaction, per remote op. */
  change: TreeChange;
  /**
   * Some of this client's actions did not happen: the server's concurrency
   * rules dropped them (someone deleted the object first, the move would
   * have made a cycle, someone set the property the text edit was for).
   * The local content already shows what the server keeps.
   */
  dropped: { actions: DroppedAction[] };
}

/** Options of {@link Connection.openTree}. */
export interface TreeDocOptions extends DocOptions {
  /** The server's tree limits, when it runs with others than the defaults (local edits past them are refused at once). */
  limits?: Partial<TreeLimits>;
}

/** A pointer position in document coordinates, as presence carries it. */
export interface Pointer {
  x: number;
  y: number;
}

/**
 * Presence of a tree document: selections are arrays of object ids (ids of
 * deleted objects drop out), and the pointer travels in `data` as `{x, y}`
 * in document coordinates. Throttled like every presence.
 */
export class TreePresence extends Presence<string[]> {
  /** Sets this client's pointer (document coordinates), or hides it with null. Other `data` fields are kept. */
  setPointer(p: Pointer | null): void {
    const { x: _x, y: _y, ...rest } = (this.localData ?? {}) as PresenceData & Partial<Pointer>;
    this.setData(p === null ? rest : { ...rest, x: p.x, y: p.y });
  }

  /** A peer's pointer, or null when they show none. */
  pointerOf(peer: Peer<string[]>): Pointer | null {
    const d = peer.data as (PresenceData & Partial<Pointer>) | null;
    return d !== null && typeof d.x === 'number' && typeof d.y === 'number' && Number.isFinite(d.x) && Number.isFinite(d.y) ? { x: d.x, y: d.y } : null;
  }
}

function node(id: string, o: { parent: string; key: string; props: Readonly<Props> }): TreeNode {
  return { id, parent: o.parent, key: o.key, props: o.props };
}

function isTextChanges(edit: TextOp | readonly TextChange[]): edit is readonly TextChange[] {
  const first = edit[0] as unknown;
  return typeof first === 'object' && first !== null && !Array.isArray(first) && 'from' in first;
}

/**
 * A shared tree document: objects with properties, edited by many people at
 * once, Figma's way. Local changes show at once and are sent in the
 * background; concurrent changes to one property resolve by the server's
 * order (the last committed wins), text properties merge character by
 * character, and while one of this client's own changes to a property is
 * unacknowledged a remote value of it does not show (no flicker back and
 * forth). Actions the server drops (on an object someone deleted, a move
 * into one's own subtree) are undone locally and reported in a `dropped`
 * event.
 *
 * Write methods throw a `TreeError` for what cannot be done now (an object
 * that does not exist, a text edit of a property that is not a string, a
 * limit) and a `TandemError` when the document is closed or read-only.
 */
export class TreeDoc extends SharedDoc<TreeContent, TreeOp, string[], TreeDocEvents> {
  /** Selected ids and pointers of the people in this document. */
  declare readonly presence: TreePresence;
  private txDepth = 0;
  private txChanges: TreeChange[] = [];
  private made = 0;

  /** @internal Use {@link Connection.openTree}. */
  constructor(session: DocSession<TreeContent, TreeOp, string[]>) {
    super(session, new TreePresence(session as DocSession<unknown, unknown, string[]>));
    session.on('dropped', ({ op }) => this.emit('dropped', { actions: droppedActions(op) }));
  }

  protected override relay<K extends keyof DocEvents<TreeOp, TreeContent>>(name: K, payload: DocEvents<TreeOp, TreeContent>[K]): void {
    if (name !== 'change') {
      super.relay(name, payload);
      return;
    }
    const c = payload as DocChange<TreeOp, TreeContent>;
    const s = summaryOf(c.op) ?? { ids: [], created: [], deleted: [], moved: [], props: {} };
    const change: TreeChange = { ...c, ...s };
    if (this.txDepth > 0 && !c.remote) this.txChanges.push(change);
    else this.emit('change', change);
  }

  // ---- reading ----

  /** The local content (includes local changes not yet acknowledged): the pure `TreeContent`. Read-only. */
  get tree(): TreeContent {
    return this.session.state.content;
  }

  /** Number of objects. */
  get size(): number {
    return this.tree.count;
  }

  /** True when object `id` exists. */
  has(id: string): boolean {
    return this.tree.has(id);
  }

  /** Object `id`, or undefined. */
  get(id: string): TreeNode | undefined {
    const o = this.tree.get(id);
    return o === undefined ? undefined : node(id, o);
  }

  /** Property `prop` of object `id`, or undefined. */
  prop(id: string, prop: string): Value | undefined {
    return this.tree.prop(id, prop);
  }

  /** The children of `parent` (`""`: the top level) in sibling order. */
  children(parent = ''): TreeNode[] {
    return this.tree.children(parent).map((id) => this.get(id) as TreeNode);
  }

  /** The top-level objects in order. */
  root(): TreeNode[] {
    return this.children('');
  }

  /** The ids of `id`'s ancestors, its parent first (empty at the top level or for a missing object). */
  ancestors(id: string): string[] {
    const out: string[] = [];
    for (let p = this.tree.get(id)?.parent ?? ''; p !== ''; p = this.tree.get(p)?.parent ?? '') out.push(p);
    return out;
  }

  /** The whole document as JSON (`{id: {parent, key, props}}`, parents first), as REST's `content` gives it. */
  toJSON(): TreeJSON {
    return this.tree.toJSON();
  }

  // ---- writing ----

  /**
   * Creates an object with `props` at `place` (default: last at the top
   * level) and returns its id (a new random one unless `id` is given).
   */
  create(props: Record<string, Value> = {}, place: Place = { inside: '' }, id?: string): string {
    const newId = id ?? this.newId();
    const { parent, key } = this.placeFor(place);
    this.submit([['new', newId, parent, key, props as Props]]);
    return newId;
  }

  /** Sets property `prop` of object `id` (null removes it). */
  set(id: string, prop: string, value: Value): void;
  /** Sets several properties of object `id` at once (null values remove theirs). */
  set(id: string, props: Record<string, Value>): void;
  set(id: string, a: string | Record<string, Value>, value?: Value): void {
    this.mustExist(id);
    const entries = typeof a === 'string' ? [[a, value ?? null] as const] : Object.entries(a);
    const op: TreeOp = [];
    for (const [name, v] of entries) {
      if (v === null && this.tree.prop(id, name) === undefined) continue;
      op.push(['set', id, name, v]);
    }
    if (op.length > 0) this.submit(op);
  }

  /**
   * Edits string property `prop` of object `id`, merging with everyone
   * else's edits of it: with a text op (code points, docs/protocol.md "Text
   * documents"), or with an editor's changes in **UTF-16** offsets of the
   * current string (see `TextChange`). Throws a `TreeError` when the
   * property is not a string.
   */
  editText(id: string, prop: string, edit: TextOp | readonly TextChange[], origin?: unknown): void {
    const s = this.stringProp(id, prop);
    const op = isTextChanges(edit) ? changesToOp(s, edit) : (edit as TextOp);
    if (op.length === 0) return;
    this.submit([['text', id, prop, op]], origin);
  }

  /**
   * Replaces string property `prop` of object `id` with `text` as a minimal
   * text edit (so concurrent edits elsewhere in it survive); sets it when it
   * is not a string yet.
   */
  setText(id: string, prop: string, text: string, origin?: unknown): void {
    this.mustExist(id);
    const cur = this.tree.prop(id, prop);
    if (typeof cur !== 'string') {
      this.submit([['set', id, prop, text]], origin);
      return;
    }
    const op = diffToOp(cur, text);
    if (op.length > 0) this.submit([['text', id, prop, op]], origin);
  }

  /** Moves object `id` to `place` (re-parenting it and/or re-ordering it among its siblings). */
  move(id: string, place: Place): void {
    const o = this.mustExist(id);
    const { parent, key } = this.placeFor(place, id);
    if (parent === o.parent && key === o.key) return;
    this.submit([['move', id, parent, key]]);
  }

  /** Puts `id` last among its siblings (drawn on top of them). */
  bringToFront(id: string): void {
    const o = this.mustExist(id);
    const sibs = this.tree.children(o.parent);
    if (sibs[sibs.length - 1] !== id) this.move(id, { inside: o.parent, at: 'end' });
  }

  /** Puts `id` first among its siblings (drawn below them). */
  sendToBack(id: string): void {
    const o = this.mustExist(id);
    if (this.tree.children(o.parent)[0] !== id) this.move(id, { inside: o.parent, at: 'start' });
  }

  /** Deletes object `id` and everything under it (a no-op when it does not exist). */
  delete(id: string): void {
    if (!this.tree.has(id)) return;
    this.submit([['del', id]]);
  }

  /**
   * Runs `fn`; the changes it makes are sent as one op (all or nothing on
   * the server), undone as one step and reported in one `change` event.
   * Reads inside `fn` see its changes so far. Nested calls join the
   * outermost. Returns what `fn` returns; if `fn` throws, the changes it
   * made before are kept and sent.
   */
  transact<T>(fn: () => T): T {
    this.txDepth++;
    try {
      return this.session.transact(fn);
    } finally {
      if (--this.txDepth === 0) this.emitTransaction();
    }
  }

  /**
   * The parent and fractional key that put an object at `place`; `self`
   * is the object being moved there (left out of its siblings).
   */
  placeFor(place: Place, self?: string): { parent: string; key: string } {
    let parent: string;
    let index: number;
    let sibs: string[];
    if ('inside' in place) {
      parent = place.inside;
      if (parent !== '') this.mustExist(parent);
      sibs = this.tree.children(parent).filter((x) => x !== self);
      const at = place.at ?? 'end';
      index = at === 'start' ? 0 : at === 'end' ? sibs.length : Math.max(0, Math.min(Math.trunc(at), sibs.length));
    } else {
      const ref = 'before' in place ? place.before : place.after;
      parent = this.mustExist(ref).parent;
      if (ref === self) {
        const o = this.tree.get(ref) as { key: string };
        return { parent, key: o.key };
      }
      sibs = this.tree.children(parent).filter((x) => x !== self);
      index = sibs.indexOf(ref) + ('before' in place ? 0 : 1);
    }
    const keys = sibs.map((x) => (this.tree.get(x) as { key: string }).key);
    const lo = index > 0 ? (keys[index - 1] as string) : '';
    let hi = index < keys.length ? (keys[index] as string) : '';
    // Siblings sharing one key (made concurrently): go right after all of them.
    if (lo !== '' && lo === hi) hi = keys.slice(index).find((k) => k > lo) ?? '';
    return { parent, key: keyBetween(lo, hi) };
  }

  // ---- internals ----

  private submit(op: Action[], origin?: unknown): void {
    this.session.submit(op, origin);
  }

  private newId(): string {
    // Random: unique across clients and reloads (a sid is per tab, a counter per page).
    this.made++;
    return `${randomId().slice(0, 16)}${this.made.toString(36)}`;
  }

  private mustExist(id: string): { parent: string; key: string } {
    const o = this.tree.get(id);
    if (o === undefined) throw new TreeError('invalid', `no object ${JSON.stringify(id)} in document ${this.id}`);
    return o;
  }

  private stringProp(id: string, prop: string): string {
    this.mustExist(id);
    const s = this.tree.prop(id, prop);
    if (typeof s !== 'string') throw new TreeError('invalid', `property ${JSON.stringify(prop)} of ${id} is not a string`);
    return s;
  }

  /** One `change` for the local changes of a transaction. */
  private emitTransaction(): void {
    const list = this.txChanges;
    this.txChanges = [];
    if (list.length === 0) return;
    if (list.length === 1) {
      this.emit('change', list[0] as TreeChange);
      return;
    }
    const first = list[0] as TreeChange;
    const created = new Set<string>();
    const deleted = new Set<string>();
    const moved = new Set<string>();
    const props = new Map<string, Set<string>>();
    for (const c of list) {
      for (const id of c.created) created.add(id);
      for (const id of c.deleted) deleted.add(id);
      for (const id of c.moved) moved.add(id);
      for (const [id, names] of Object.entries(c.props)) {
        const s = props.get(id) ?? new Set<string>();
        for (const n of names) s.add(n);
        props.set(id, s);
      }
    }
    // Net effect: what was created and deleted again never showed.
    for (const id of created) {
      if (!this.tree.has(id)) {
        created.delete(id);
        deleted.delete(id);
      }
    }
    for (const id of deleted) {
      moved.delete(id);
      props.delete(id);
    }
    for (const id of created) {
      moved.delete(id);
      props.delete(id);
    }
    const p: Record<string, string[]> = {};
    for (const [id, names] of props) p[id] = [...names];
    const ids = [...new Set([...created, ...deleted, ...moved, ...props.keys()])];
    this.emit('change', {
      op: list.flatMap((c) => c.op),
      before: first.before,
      remote: false,
      origin: first.origin,
      ids,
      created: [...created],
      deleted: [...deleted],
      moved: [...moved],
      props: p,
    });
  }
}

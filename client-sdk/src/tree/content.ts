import { OTError } from '../ot/errors.js';
import { apply as applyText, invert } from '../ot/op.js';
import { TreeError } from './errors.js';
import { keyBetween } from './keys.js';
import { withDefaults, type TreeLimits } from './limits.js';
import { validateOp, validId, validKey, validPropName, type Action, type Props, type TreeOp } from './op.js';
import { rebasedActions } from './rebased.js';
import { headerSize, intSize, strSize, utf8Length } from '../msgpack-size.js';
import { checkValue, sizeOfValue, type Value } from './value.js';

/** One object, as `get` returns it. Records are replaced, never changed: keep one as long as you like. */
export interface TreeObject {
  readonly parent: string;
  readonly key: string;
  readonly props: Readonly<Props>;
}

/** The JSON form of a content: `{id: {parent, key, props}}`. */
export type TreeJSON = Record<string, { parent: string; key: string; props: Props }>;

/** What {@link TreeContent.apply} did. */
export interface ApplyResult {
  /** The op as applied: the actions that took effect, dropped ones removed. */
  applied: TreeOp;
  /** The op that undoes it (applied to the content right after). */
  inverse: TreeOp;
  /** The inverse of each applied action, in the order of `applied`. */
  inverses: TreeOp[];
  /** Every id its `del` actions removed, the objects under the deleted ones included. */
  removed: string[];
}

interface Rec extends TreeObject {
  readonly size: number;
}

/** Sibling order: by key, then by id (both ASCII, so code unit order is byte order). */
function bySibling(a: [string, string], b: [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

function objectSize(id: string, parent: string, key: string, props: Props): number {
  const names = Object.keys(props);
  let n = strSize(id.length) + 1 + 7 + strSize(parent.length) + 4 + strSize(key.length) + 6 + headerSize(names.length);
  for (const k of names) n += strSize(utf8Length(k)) + sizeOfValue(props[k] as Value);
  return n;
}

function freezeProps(props: Props): Props {
  const out = Object.create(null) as Props;
  for (const k of Object.keys(props)) out[k] = props[k] as Value;
  return Object.freeze(out);
}

/**
 * The content of a tree document: objects with a parent, a key and
 * properties, always a forest within the limits. The same rules as the Go
 * server's (package `tree`): {@link apply} drops actions on missing objects,
 * `new` under a missing parent and cycle-making moves, and throws
 * {@link TreeError} for what the server answers with `invalid_op` or
 * `too_large`. Mutable: {@link apply} changes it in place (and returns the
 * inverse), {@link clone} copies it (O(n)).
 */
export class TreeContent {
  readonly limits: TreeLimits;
  private readonly objects = new Map<string, Rec>();
  private readonly kids = new Map<string, Set<string>>([['', new Set()]]);
  private readonly order = new Map<string, string[]>();
  private bytes = 0;

  /** An empty document (`{}`) with the given limits (defaults otherwise). */
  constructor(limits?: Partial<TreeLimits>) {
    this.limits = withDefaults(limits);
  }

  /**
   * A content from its JSON form (REST's `content`; `joined`'s `tree` decodes
   * to the same shape). Checks what the server checks: ids, keys, names and
   * values, every parent present, no cycle, the limits. `parent` may be left
   * out for a top-level object and `props` for none. Throws {@link TreeError}.
   */
  static fromJSON(json: unknown, limits?: Partial<TreeLimits>): TreeContent {
    const c = new TreeContent(limits);
    const lim = c.limits;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TreeError('invalid', 'content must be a map of ids to objects');
    const entries = Object.entries(json as Record<string, unknown>);
    if (entries.length > lim.maxObjects) throw new TreeError('limit', `content: ${entries.length} objects, over the limit of ${lim.maxObjects}`);
    const parsed = new Map<string, { parent: string; key: string; props: Props }>();
    for (const [id, o] of entries) {
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TreeError('invalid', `content: object ${id} must be {parent, key, props}`);
      for (const f of Object.keys(o)) {
        if (f !== 'parent' && f !== 'key' && f !== 'props') throw new TreeError('invalid', `content: object ${id}: unknown field ${f}`);
      }
      const rec = o as { parent?: unknown; key?: unknown; props?: unknown };
      if (rec.key === undefined) throw new TreeError('invalid', `content: object ${id} has no key`);
      const parent = rec.parent === undefined ? '' : rec.parent;
      const props = rec.props === undefined || rec.props === null ? {} : rec.props;
      // The same checks as a new action (and the same errors).
      let action: Action;
      try {
        action = validateOp([['new', id, parent, rec.key, props]], lim)[0] as Action;
      } catch (e) {
        throw e instanceof TreeError ? new TreeError(e.kind, `content: object ${id}: ${e.message}`) : e;
      }
      const [, , p, k, ps] = action as ['new', string, string, string, Props];
      parsed.set(id, { parent: p, key: k, props: ps });
    }
    // Parents exist, no cycles, depth within the limit.
    const depth = new Map<string, number>();
    for (const id of parsed.keys()) {
      const path: string[] = [];
      let d = 0;
      let cur = id;
      while (cur !== '') {
        const known = depth.get(cur);
        if (known === -1) throw new TreeError('invalid', `content: object ${cur} is its own ancestor`);
        if (known !== undefined) {
          d = known;
          break;
        }
        const e = parsed.get(cur);
        if (!e) throw new TreeError('invalid', `content: object ${path[path.length - 1]} has a parent ${cur} that does not exist`);
        depth.set(cur, -1);
        path.push(cur);
        cur = e.parent;
      }
      for (let j = path.length - 1; j >= 0; j--) {
        d++;
        if (d > lim.maxDepth) throw new TreeError('limit', `content: object ${path[j]} is at depth ${d}, over the limit of ${lim.maxDepth}`);
        depth.set(path[j] as string, d);
      }
    }
    for (const [id, e] of parsed) c.insert(id, e.parent, e.key, freezeProps(e.props));
    const size = c.size;
    if (size > lim.maxBytes) throw new TreeError('too_large', `content is ${size} bytes encoded, over the limit of ${lim.maxBytes}`);
    return c;
  }

  /** An independent copy (O(n): records are shared, maps are not). */
  clone(): TreeContent {
    const c = new TreeContent(this.limits);
    for (const [id, r] of this.objects) c.objects.set(id, r);
    for (const [p, s] of this.kids) c.kids.set(p, new Set(s));
    c.bytes = this.bytes;
    return c;
  }

  /** Number of objects. */
  get count(): number {
    return this.objects.size;
  }

  /** Length in bytes of the content's MessagePack encoding (the document size limit's measure). */
  get size(): number {
    return headerSize(this.objects.size) + this.bytes;
  }

  /** True when object `id` exists. */
  has(id: string): boolean {
    return this.objects.has(id);
  }

  /** Object `id`, or undefined. */
  get(id: string): TreeObject | undefined {
    return this.objects.get(id);
  }

  /** Property `name` of object `id`, or undefined when either is missing. */
  prop(id: string, name: string): Value | undefined {
    const o = this.objects.get(id);
    return o && Object.hasOwn(o.props, name) ? o.props[name] : undefined;
  }

  /** Ids of `parent`'s children in sibling order (by key, then id); `""` for the top level. */
  children(parent = ''): readonly string[] {
    let list = this.order.get(parent);
    if (list) return list;
    const ids = this.kids.get(parent);
    if (!ids) return [];
    const pairs: [string, string][] = [];
    for (const id of ids) pairs.push([(this.objects.get(id) as Rec).key, id]);
    pairs.sort(bySibling);
    list = Object.freeze(pairs.map((p) => p[1])) as string[];
    this.order.set(parent, list);
    return list;
  }

  /** Every id, parents before their children, siblings in order. */
  ids(): string[] {
    const out: string[] = [];
    const walk = (parent: string): void => {
      for (const id of this.children(parent)) {
        out.push(id);
        walk(id);
      }
    };
    walk('');
    return out;
  }

  /** Nesting level of `id` (1 at the top level), 0 when it does not exist. */
  depth(id: string): number {
    let d = 0;
    while (id !== '' && d <= this.limits.maxDepth) {
      const o = this.objects.get(id);
      if (!o) return 0;
      d++;
      id = o.parent;
    }
    return d;
  }

  /** Levels of the subtree under `id` (1 without children), 0 when it does not exist. */
  height(id: string): number {
    if (!this.objects.has(id)) return 0;
    let h = 1;
    for (const k of this.kids.get(id) ?? []) h = Math.max(h, 1 + this.height(k));
    return h;
  }

  /**
   * A key that puts a new child of `parent` at position `index` of its
   * children; when the two neighbours share one key, one that sorts right
   * after every sibling with that key (as the Go `Content.KeyAt`).
   */
  keyAt(parent: string, index: number): string {
    const keys = this.children(parent).map((id) => (this.objects.get(id) as Rec).key);
    const i = Math.max(0, Math.min(index, keys.length));
    const lo = i > 0 ? (keys[i - 1] as string) : '';
    let hi = i < keys.length ? (keys[i] as string) : '';
    if (lo !== '' && lo === hi) hi = keys.slice(i).find((k) => k > lo) ?? '';
    return keyBetween(lo, hi);
  }

  /** `sel` without the ids of objects that do not exist and without repeats; null when nothing is left. */
  filterSelection(sel: readonly string[] | null): string[] | null {
    if (!sel) return null;
    const seen = new Set<string>();
    const out: string[] = [];
    for (const id of sel) {
      if (!seen.has(id) && this.objects.has(id)) {
        seen.add(id);
        out.push(id);
      }
    }
    return out.length ? out : null;
  }

  /** The JSON form, parents first and siblings in order. */
  toJSON(): TreeJSON {
    const out: TreeJSON = {};
    for (const id of this.ids()) {
      const o = this.objects.get(id) as Rec;
      out[id] = { parent: o.parent, key: o.key, props: { ...o.props } };
    }
    return out;
  }

  /**
   * Applies `op` (valid: see validateOp) and returns the op as applied and
   * its inverse. Drops, without error, actions on missing objects, `new`
   * under a missing parent and moves that would make a cycle. Throws
   * {@link TreeError} and leaves the content unchanged when an action is
   * invalid or breaks a limit (a limit broken by an action that transform
   * rebased past concurrent ops drops it instead), or the content would grow
   * past its size limit.
   */
  apply(op: TreeOp): ApplyResult {
    const applied: TreeOp = [];
    const undo: TreeOp[] = [];
    const before = this.size;
    for (let i = 0; i < op.length; i++) {
      const a = op[i] as Action;
      let inv: TreeOp | null;
      try {
        inv = this.applyAction(a);
      } catch (e) {
        if (e instanceof TreeError && e.kind === 'limit' && rebasedActions.has(a)) continue;
        this.rollback(undo);
        throw e instanceof TreeError ? e.at(i) : e;
      }
      if (inv) {
        applied.push(a);
        undo.push(inv);
      }
    }
    const size = this.size;
    if (size > this.limits.maxBytes && size > before) {
      this.rollback(undo);
      throw new TreeError('too_large', `document would be ${size} bytes encoded, over the limit of ${this.limits.maxBytes}`);
    }
    const removed: string[] = [];
    for (const inv of undo) for (const a of inv) if (a[0] === 'new') removed.push(a[1]);
    return { applied, inverse: [...undo].reverse().flat(), inverses: undo, removed };
  }

  /**
   * Applies `op` action by action, as a client's view does with its pending
   * actions: an action that fails is left out like a dropped one. Returns,
   * per action, its inverse, or null when it did not apply.
   */
  applyEach(op: TreeOp): (TreeOp | null)[] {
    return op.map((a) => {
      try {
        return this.applyAction(a);
      } catch {
        return null;
      }
    });
  }

  private rollback(undo: TreeOp[]): void {
    for (let i = undo.length - 1; i >= 0; i--) {
      for (const a of undo[i] as TreeOp) this.applyAction(a);
    }
  }

  /** Applies one action; returns its inverse, or null when it is dropped. */
  private applyAction(a: Action): TreeOp | null {
    const lim = this.limits;
    switch (a[0]) {
      case 'new': {
        const [, id, parent, key, props] = a;
        if (this.objects.has(id)) throw new TreeError('invalid', `new: object ${id} exists`);
        if (parent !== '' && !this.objects.has(parent)) return null;
        const d = this.depth(parent) + 1;
        if (d > lim.maxDepth) throw new TreeError('limit', `new: object ${id} would be at depth ${d}, over the limit of ${lim.maxDepth}`);
        if (this.objects.size + 1 > lim.maxObjects) throw new TreeError('limit', `new: the document would have ${this.objects.size + 1} objects, over the limit of ${lim.maxObjects}`);
        const names = Object.keys(props);
        if (names.length > lim.maxProps) throw new TreeError('limit', `new: ${names.length} properties, over the limit of ${lim.maxProps}`);
        this.insert(id, parent, key, freezeProps(props));
        return [['del', id]];
      }
      case 'set': {
        const [, id, name, v] = a;
        const o = this.objects.get(id);
        if (!o) return null;
        const had = Object.hasOwn(o.props, name);
        const old = had ? (o.props[name] as Value) : null;
        if (v === null && !had) return [['set', id, name, null]];
        if (v !== null && !had && Object.keys(o.props).length + 1 > lim.maxProps) {
          throw new TreeError('limit', `set: object ${id} would have ${Object.keys(o.props).length + 1} properties, over the limit of ${lim.maxProps}`);
        }
        if (v !== null) checkValue(v, lim);
        const props = Object.create(null) as Props;
        for (const k of Object.keys(o.props)) if (k !== name) props[k] = o.props[k] as Value;
        if (v !== null) props[name] = v;
        this.replace(id, o, o.parent, o.key, Object.freeze(props));
        return [['set', id, name, old]];
      }
      case 'text': {
        const [, id, name, t] = a;
        const o = this.objects.get(id);
        if (!o) return null;
        if (!Object.hasOwn(o.props, name)) throw new TreeError('invalid', `text: object ${id} has no property ${name}`);
        const s = o.props[name];
        if (typeof s !== 'string') throw new TreeError('invalid', `text: property ${name} of ${id} is not a string`);
        let out: string;
        let inv;
        try {
          out = applyText(s, t);
          inv = invert(t, s);
        } catch (e) {
          if (e instanceof OTError) throw new TreeError('invalid', `text: ${name} of ${id}: ${e.message}`);
          throw e;
        }
        const size = strSize(utf8Length(out));
        if (size > lim.maxValueBytes) throw new TreeError('limit', `text: property ${name} of ${id} would be ${size} bytes encoded, over the limit of ${lim.maxValueBytes}`);
        const props = Object.create(null) as Props;
        for (const k of Object.keys(o.props)) props[k] = k === name ? out : (o.props[k] as Value);
        this.replace(id, o, o.parent, o.key, Object.freeze(props));
        return [['text', id, name, inv]];
      }
      case 'move': {
        const [, id, parent, key] = a;
        const o = this.objects.get(id);
        if (!o) return null;
        if (parent !== '' && !this.objects.has(parent)) return null;
        for (let p = parent, steps = 0; p !== '' && steps <= lim.maxDepth; steps++) {
          if (p === id) return null; // would make a cycle
          p = (this.objects.get(p) as Rec).parent;
        }
        if (parent !== o.parent) {
          const d = this.depth(parent) + this.height(id);
          if (d > lim.maxDepth) throw new TreeError('limit', `move: the subtree of ${id} would reach depth ${d}, over the limit of ${lim.maxDepth}`);
        }
        const inv: TreeOp = [['move', id, o.parent, o.key]];
        this.unlink(id, o.parent);
        this.replace(id, o, parent, key, o.props);
        this.link(id, parent);
        return inv;
      }
      case 'del': {
        const id = a[1];
        const o = this.objects.get(id);
        if (!o) return null;
        // Parents first, siblings in order: applied in this order the
        // inverse re-creates the subtree exactly.
        const inv: TreeOp = [];
        const stack = [id];
        const gone: string[] = [];
        while (stack.length) {
          const x = stack.pop() as string;
          const r = this.objects.get(x) as Rec;
          inv.push(['new', x, r.parent, r.key, r.props as Props]);
          gone.push(x);
          const kids = this.children(x);
          for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i] as string);
        }
        this.unlink(id, o.parent);
        for (const x of gone) {
          this.bytes -= (this.objects.get(x) as Rec).size;
          this.objects.delete(x);
          this.kids.delete(x);
          this.order.delete(x);
        }
        return inv;
      }
    }
  }

  private insert(id: string, parent: string, key: string, props: Props): void {
    const rec: Rec = Object.freeze({ parent, key, props, size: objectSize(id, parent, key, props) });
    this.objects.set(id, rec);
    this.bytes += rec.size;
    this.link(id, parent);
  }

  private replace(id: string, old: Rec, parent: string, key: string, props: Props): void {
    const rec: Rec = Object.freeze({ parent, key, props, size: objectSize(id, parent, key, props) });
    this.objects.set(id, rec);
    this.bytes += rec.size - old.size;
    if (key !== old.key) this.order.delete(parent);
  }

  private link(id: string, parent: string): void {
    let s = this.kids.get(parent);
    if (!s) {
      s = new Set();
      this.kids.set(parent, s);
    }
    s.add(id);
    this.order.delete(parent);
  }

  private unlink(id: string, parent: string): void {
    const s = this.kids.get(parent);
    s?.delete(id);
    if (s && s.size === 0 && parent !== '') this.kids.delete(parent);
    this.order.delete(parent);
  }
}

// Re-exported for callers that build contents field by field.
export { validId, validKey, validPropName };

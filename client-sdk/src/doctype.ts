/**
 * What a document type gives the SDK: the operational-transform functions
 * of its content, ops and selections. The session machinery (DocState,
 * DocSession, Connection) is the same for every type; a type is one object
 * implementing {@link DocType} plus a public document class over the session
 * (TextDoc for `text`). The Go server's `doctype` package is the same idea on
 * the server side.
 * @module
 */

/** What {@link DocType.apply} did. */
export interface Applied<C, O> {
  /** The content after the op (the one given, changed in place, or a new one). */
  content: C;
  /** The op as applied: canonical, and without what the type drops under its concurrency rules. */
  applied: O;
  /** The op that undoes `applied` on `content` (computed on demand: only local edits need it, for undo). */
  inverse(): O;
  /**
   * What of the op the type dropped under its concurrency rules (a tree's
   * action on a deleted object, a cycle-making move), when anything was:
   * the SDK reports it, so that an app can say what did not happen.
   */
  dropped?: O;
}

/** What {@link DocType.rebase} did. */
export interface Rebased<C, O> {
  /** The local content after the committed op, pending ops on top. */
  content: C;
  /** The pending ops, rewritten to apply after the committed op (one for each given, in order). */
  pending: O[];
  /** The op that took the local content from before to after: what a `change` event reports and carets move through. */
  change: O;
  /**
   * Pending edits the type dropped because the committed op made them
   * impossible (a tree's buffered action on an object deleted meanwhile),
   * when any: reported like {@link Applied.dropped}.
   */
  dropped?: O;
}

/**
 * The operational-transform functions of one document type. `C` is its
 * content (text: a string), `O` its op (text: an array of components), `S`
 * a visible selection (text: `[anchor, head]` ranges; `null`, the hidden
 * selection, is handled by the SDK and never passed in).
 *
 * Implementations are stateless objects. Ops and selections are values that
 * no function changes. Contents are owned by the SDK, which keeps two per
 * document (the server's and the local one, never the same object) and
 * hands each to one `apply` or `rebase` at a time, keeping what it returns:
 * so a type may change a content in place (a tree of 100,000 objects is not
 * copied per op) or return a new one (text's strings). Every other function
 * only reads contents.
 *
 * Errors: `validate`, `decodeContent` and `apply` throw the type's own error
 * (an `OTError` for text) for an op or content that is malformed or does not
 * fit, leaving the content as it was; the SDK lets a local edit's reach the
 * caller.
 *
 * Ties: wherever two concurrent ops insert at one position, the op whose
 * author's sid sorts first bytewise goes first; of two ops of one sid, the
 * committed one goes first (docs/protocol.md, "Concurrent edits"). The empty
 * sid `''` stands for a change nobody wrote (a resync), which sorts first.
 */
export interface DocType<C, O, S> {
  /** The type's name in the protocol: `joined`'s `type` (`text`, `tree`, `rich`). */
  readonly name: string;
  /** The key under which `joined` carries the whole content (`text` for text and rich, `tree` for tree). */
  readonly contentKey: string;

  /** The empty document: the local content before the first sync (a new object at each call). */
  empty(): C;
  /** The content as `joined` carries it (decoded MessagePack, untrusted): checked and converted. */
  decodeContent(value: unknown): C;

  /**
   * Checks an op in itself (its shape, not whether it fits a content): a
   * local edit, or an op the server sent. Returns it typed and unchanged, as
   * its author wrote it.
   */
  validate(op: unknown): O;
  /**
   * Applies a valid op to `content`, checking that it fits the op as it is
   * (a text op's trailing retain included).
   */
  apply(content: C, op: O): Applied<C, O>;
  /** True when the op changes nothing. */
  isNoop(op: O): boolean;
  /** The op that undoes `op` once applied to `before` (the content `op` applies to; only read). */
  invert(op: O, before: C): O;
  /** One op with the effect of `a` then `b` (`b` applies to the result of `a`). */
  compose(a: O, b: O): O;
  /**
   * Transforms `op` (written by `sid`, not committed yet) and `committed`
   * (written by `committedSid`, committed first), both made against one
   * content, past each other: `[opPast, committedPast]`, where `opPast`
   * applies after `committed` and `committedPast` after `op`, and both orders
   * give one content. Ties by sid (above). The undo stacks move through
   * remote edits with it.
   */
  transformPair(op: O, sid: string, committed: O, committedSid: string): [opPast: O, committedPast: O];
  /**
   * Moves the local content past an op the server committed. `content` is
   * the server's content before `committed` with `pending` applied on top
   * (the op in flight, then the buffered one: none, one or both), all written
   * by `sid`. Ties by sid (above). Types whose ops say how a committed op
   * reads after pending ones (text, rich) build it with
   * {@link rebaseByTransform}; a type that needs the content for that (a
   * tree, where a `move` undone by a delete must go back to its old place)
   * can undo the pending ops, apply `committed` and re-apply them rebased.
   */
  rebase(content: C, pending: readonly O[], sid: string, committed: O, committedSid: string): Rebased<C, O>;

  /**
   * Moves a selection through an op applied to the content it refers to.
   * `own` is true when the selection is the op's author's (the caret rule:
   * an insert exactly at a caret leaves it before the inserted text, except
   * the author's own caret after its own insert).
   */
  transformSelection(sel: S, op: O, own: boolean): S;
  /** `sel` as it may be shown on `content`: positions clamped (text), ids of missing objects removed (tree). */
  fitSelection(sel: S, content: C): S;

  /**
   * An op turning `from` into `to`: how a resync after a full re-join reaches
   * the local content. Small, and aligned to lines where the type has them,
   * so that pending edits rebased over it stay where they were made.
   */
  diff(from: C, to: C): O;
}

/**
 * {@link DocType.rebase} from `transformPair`: each pending op and the
 * committed op are transformed past each other, oldest pending first, and
 * what the committed op became applies to the local content.
 */
export function rebaseByTransform<C, O>(t: Pick<DocType<C, O, unknown>, 'transformPair' | 'apply' | 'isNoop'>): DocType<C, O, unknown>['rebase'] {
  return (content, pending, sid, committed, committedSid) => {
    let change = committed;
    const out = pending.map((p) => {
      const [past, committedPast] = t.transformPair(p, sid, change, committedSid);
      change = committedPast;
      return past;
    });
    if (t.isNoop(change)) return { content, pending: out, change };
    const r = t.apply(content, change);
    return { content: r.content, pending: out, change: r.applied };
  };
}

/** The pure functions of an OT type whose contents are immutable values (text, rich). */
interface ValueOps<C, O> {
  apply(content: C, op: O): C;
  normalize(op: O): O;
  invert(op: O, before: C): O;
  isNoop(op: O): boolean;
  transformPair(op: O, sid: string, committed: O, committedSid: string): [O, O];
}

/**
 * `apply` (with a lazy inverse), `isNoop`, `transformPair` and `rebase` of
 * {@link DocType} for a type whose contents are values no op changes in
 * place (text's strings, rich's Deltas): `rebase` comes from `transformPair`
 * ({@link rebaseByTransform}).
 */
export function valueTypeOps<C, O>(f: ValueOps<C, O>): Pick<DocType<C, O, unknown>, 'apply' | 'isNoop' | 'transformPair' | 'rebase'> {
  const ops = {
    isNoop: f.isNoop,
    transformPair: f.transformPair,
    apply(content: C, op: O): Applied<C, O> {
      const applied = f.normalize(op);
      return { content: f.apply(content, op), applied, inverse: () => f.invert(applied, content) };
    },
  };
  return { ...ops, rebase: rebaseByTransform(ops) };
}

/** The pure functions of a type whose contents are immutable sequences of code points selected by `[anchor, head]` ranges (text, rich). */
interface RangeOps<C, O, R extends readonly [number, number]> extends ValueOps<C, O> {
  validate(op: unknown): asserts op is O;
  compose(a: O, b: O): O;
  transformSelection(sel: R[] | null, op: O, own: boolean): R[] | null;
  /** The content's length in code points. */
  length(content: C): number;
}

/**
 * Every function of {@link DocType} but the name, the content's and the
 * diff, for a type of {@link RangeOps} (text, rich): {@link valueTypeOps},
 * `validate`, `invert`, `compose`, `transformSelection` (which maps only null
 * to null, so a visible selection stays visible) and `fitSelection` (the
 * ranges clamped to the content).
 */
export function rangeTypeOps<C, O, R extends readonly [number, number]>(
  f: RangeOps<C, O, R>,
): Pick<DocType<C, O, R[]>, 'validate' | 'apply' | 'isNoop' | 'transformPair' | 'rebase' | 'invert' | 'compose' | 'transformSelection' | 'fitSelection'> {
  return {
    validate(op) {
      f.validate(op);
      return op;
    },
    ...valueTypeOps(f),
    invert: (op, before) => f.invert(op, before),
    compose: (a, b) => f.compose(a, b),
    transformSelection: (sel, op, own) => f.transformSelection(sel, op, own) as R[],
    fitSelection: (sel, content) => clampRanges(sel, f.length(content)),
  };
}

/** Clamps every `[anchor, head]` range of a selection to `[0, max]` (a text-like type's `fitSelection`). */
export function clampRanges<R extends readonly [number, number]>(sel: readonly R[], max: number): R[] {
  return sel.map(([a, h]) => [Math.min(Math.max(0, a), max), Math.min(Math.max(0, h), max)] as unknown as R);
}

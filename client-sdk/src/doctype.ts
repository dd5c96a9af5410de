/**
 * What a document type gives the SDK: the pure operational-transform
 * functions of its content, ops and selections. The session machinery
 * (DocState, DocSession, Connection) is the same for every type; a type is
 * one object implementing {@link DocType} plus a public document class over
 * the session (TextDoc for `text`). The Go server's `doctype` package is the
 * same idea on the server side.
 * @module
 */

/**
 * The operational-transform functions of one document type. `C` is its
 * content (text: a string), `O` its op (text: an array of components), `S`
 * a visible selection (text: `[anchor, head]` ranges; `null`, the hidden
 * selection, is handled by the SDK and never passed in).
 *
 * Implementations are stateless objects; every function is pure. Contents
 * and ops are values: no function changes its arguments, and the SDK keeps
 * old ones (the server's content beside the local one, ops in the undo
 * stacks). A type with a large content should make it persistent (sharing
 * structure between versions) so that `apply` costs what the op touches.
 *
 * Errors: `validate`, `decodeContent` and `apply` throw the type's own error
 * (an `OTError` for text) for an op or content that is malformed or does not
 * fit; the SDK lets local ones reach the caller and treats a server's as a
 * broken server.
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

  /** The empty document: the local content before the first sync. */
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
   * (a text op's trailing retain included). Returns the new content and the
   * op as applied: canonical, and without what the type drops under its
   * concurrency rules (a tree drops actions on deleted objects).
   */
  apply(content: C, op: O): { content: C; applied: O };
  /** True when the op changes nothing. */
  isNoop(op: O): boolean;
  /** The op that undoes `op` once applied to `before` (the content `op` applies to). */
  invert(op: O, before: C): O;
  /** One op with the effect of `a` then `b` (`b` applies to the result of `a`). */
  compose(a: O, b: O): O;
  /**
   * Transforms `op` (written by `sid`, not committed yet) and `committed`
   * (written by `committedSid`, committed first), both made against one
   * content, past each other: `[opPast, committedPast]`, where `opPast`
   * applies after `committed` and `committedPast` after `op`, and both orders
   * give one content. Ties by sid (above). A client with `op` pending applies
   * `committedPast` to its local content and keeps `opPast` as pending.
   */
  transformPair(op: O, sid: string, committed: O, committedSid: string): [opPast: O, committedPast: O];

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

import { KindError } from '../ot/errors.js';

/**
 * Kind of a {@link TreeError}, named as in the shared test vectors
 * (testdata/tree-vectors.json) and as the Go package `tree` names them:
 * - `invalid`: an op that is wrong in itself (unknown action, bad id, key,
 *   property name or value, a text op that does not fit its string, `new` of
 *   an id that exists, `text` on a non-string); the server answers `invalid_op`;
 * - `limit`: an op that would take the document past a tree limit (objects,
 *   properties per object, nesting, value size); also `invalid_op`;
 * - `too_large`: an op or document over its size in bytes; `too_large`.
 */
export type TreeErrorKind = 'invalid' | 'limit' | 'too_large';

/** The only error type thrown by the `tree` module. */
export class TreeError extends KindError<TreeErrorKind> {
  /** Creates an error of the given kind about action `action` (-1 for none). */
  constructor(kind: TreeErrorKind, message: string, action = -1) {
    super('tree', kind, message, 'action', action);
    this.name = 'TreeError';
  }

  /** Index of the offending action in its op (the same as `index`), -1 when not about one action. */
  get action(): number {
    return this.index;
  }

  /** This error about action `index`, when it was not about one yet. */
  at(index: number): TreeError {
    if (this.action >= 0) return this;
    const e = new TreeError(this.kind, this.message.replace(/^tree: [a-z_]+: /, ''), index);
    return e;
  }
}

/**
 * The value types a document of any type reports: its status, its changes,
 * its errors and its peers. Shared by the pure state, the session and the
 * public document classes (and re-exported by the package).
 * @module
 */
import type { Op, Range } from './ot/op.js';
import type { PresenceData, ServerUser } from './protocol.js';

/**
 * Synchronisation status of a document:
 * - `offline`: no connection; local edits are queued;
 * - `joining`: (re-)joining, waiting for `joined`;
 * - `synced`: every local edit is acknowledged;
 * - `pending`: local edits are in flight or buffered;
 * - `closed`: closed or deleted; the object is unusable.
 */
export type DocStatus = 'offline' | 'joining' | 'synced' | 'pending' | 'closed';

/** `rw`, or `r` when the token only allows reading. */
export type DocMode = 'rw' | 'r';

/**
 * A change to a document, local or remote. `O` is the type's op and `C` its
 * content (for a text document: an op in code points and the text).
 */
export interface DocChange<O = Op, C = string> {
  /** The op as applied to the local content (canonical). */
  op: O;
  /**
   * The content before the change (for text, to convert `op` to UTF-16 with
   * `opToChanges`). A type whose content changes in place hands the same
   * object as after the change.
   */
  before: C;
  /** True for someone else's edit (or a resync after re-joining); false for edits made through this object. */
  remote: boolean;
  /** The `origin` given to `submitOp` (local), `'undo'`/`'redo'`, or `undefined`. */
  origin: unknown;
  /** The author's session id, for remote edits (absent for a resync). */
  sid?: string;
}

/** A server `error` concerning one document. */
export interface DocError {
  /** Error code (docs/protocol.md, "Error codes"), or `wrong_type`. */
  code: string;
  /** Detail from the server. */
  msg: string;
  /** The `seq` of the op it concerns, if any. */
  seq?: number;
}

/**
 * Another person in the document. `S` is the type's selection: for text,
 * `[anchor, head]` ranges in code points of the local text.
 */
export interface Peer<S = Range[]> {
  /** Their session id (one per tab). */
  sid: string;
  /** Who they are. */
  user: ServerUser;
  /** Their selection in the coordinates of the local content, or null when hidden. */
  selection: S | null;
  /** Their free presence data (e.g. `{cursor: {x, y}}`), or null. */
  data: PresenceData | null;
}

/**
 * Offline storage of documents: what is kept per document and per tab, and
 * the interface every storage engine implements (IndexedDB in browsers,
 * memory for tests and Node). One contract test suite
 * (test/storage-contract.test.ts) runs against every implementation.
 * @module
 */

/**
 * The last content this browser synced of a document, shared by every tab:
 * a write only replaces an older version (the stored text follows the newest
 * version any tab saw).
 */
export interface StoredSnapshot {
  /** Document id. */
  doc: string;
  /** The document type's name (`text`, ...). */
  type: string;
  /** The server version of `content`. */
  v: number;
  /** The content at `v` (structured-clone copy of the type's content). */
  content: unknown;
  /** When it was written (ms since the epoch). */
  updatedAt: number;
}

/**
 * One tab's (one `sid`'s) state of a document: its own synced base and the
 * local edits not yet acknowledged, with the `seq` the first of them was sent
 * with. Only the tab owning `sid` writes it, so two tabs never overwrite each
 * other's pending edits.
 */
export interface StoredState {
  /** Document id. */
  doc: string;
  /** The session id (one per tab) the pending ops belong to. */
  sid: string;
  /** The document type's name. */
  type: string;
  /** The server version `base` is at; -1 when never synced. */
  v: number;
  /** The server's content at `v`, the base of the pending ops. */
  base: unknown;
  /** The op sent and not yet acknowledged, against `v`, with its `seq` (resubmitted as is). */
  inflight: { seq: number; op: unknown } | null;
  /** Later local edits composed into one op (no `seq` yet: never sent). */
  buffer: unknown;
  /** The highest `seq` this sid used on this document (the next one is higher: the server dedupes by it). */
  lastSeq: number;
  /** How many local edits are not acknowledged yet. */
  unsynced: number;
  /** When it was written (ms since the epoch). */
  updatedAt: number;
}

/**
 * Where documents are kept across reloads. Writes of one document by one
 * client are issued in order and must be applied in that order. Every method
 * may reject when the storage fails (quota, private mode); the SDK then keeps
 * working in memory and reports the error.
 *
 * `acquireSid`/`releaseSid` lease a session id to one live tab: a tab that
 * holds a sid's lease owns its states; a sid whose lease is free (its tab was
 * closed) may be taken over by a new tab, which then resubmits that sid's
 * pending ops with their own `seq`s (the server applies each at most once).
 */
export interface OfflineStore {
  /** A short name for messages (`indexeddb`, `memory`). */
  readonly kind: string;
  /** The shared snapshot of `doc`, if any. */
  getSnapshot(doc: string): Promise<StoredSnapshot | undefined>;
  /** Stores `s` unless a snapshot of a version >= `s.v` is stored; resolves to whether it was stored. */
  putSnapshot(s: StoredSnapshot): Promise<boolean>;
  /** The state of `doc` kept by `sid`, if any. */
  getState(doc: string, sid: string): Promise<StoredState | undefined>;
  /** Stores (replaces) the state of (`s.doc`, `s.sid`). */
  putState(s: StoredState): Promise<void>;
  /** Every stored state, of one document when `doc` is given. */
  listStates(doc?: string): Promise<StoredState[]>;
  /** Deletes everything about `doc` (snapshot and every sid's state). */
  deleteDoc(doc: string): Promise<void>;
  /** Takes the lease of `sid` for this client's lifetime; false when a live client holds it. */
  acquireSid(sid: string): Promise<boolean>;
  /** Gives the lease of `sid` back (closing the connection does it). */
  releaseSid(sid: string): void;
}

/** True for values that implement {@link OfflineStore} (as opposed to a Web Storage). */
export function isOfflineStore(x: unknown): x is OfflineStore {
  return typeof x === 'object' && x !== null && typeof (x as OfflineStore).getSnapshot === 'function' && typeof (x as OfflineStore).putState === 'function';
}

/**
 * Tandem client SDK: connect to a Tandem server, edit shared documents with
 * operational transform, and show everyone's carets and selections. This
 * module exports the public API only; the OT type is `@tandem/client/ot`,
 * the editor bindings have entry points of their own.
 * @module
 */
export {
  Connection,
  randomId,
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionEvents,
  type ConnectionError,
  type ReconnectOptions,
  type StorageLike,
  type WebSocketConstructor,
} from './connection.js';
export { TextDoc, type TextDocEvents, type TextDocOptions } from './text-doc.js';
export { RichDoc, type RichDocEvents, type RichDocOptions } from './rich-doc.js';
export { SharedDoc } from './shared-doc.js';
export { TreeDoc, TreePresence, type TreeDocEvents, type TreeDocOptions, type TreeChange, type TreeNode, type Place, type Pointer } from './tree-doc.js';
export type { DroppedAction, DropReason, TreeChangeSummary } from './tree-type.js';
export type { DocEvents, DocOptions } from './session.js';
export { TandemError } from './errors.js';
export type { DocStatus, DocMode, DocChange, DocError, Peer } from './types.js';
export { Presence, TextPresence, type PresenceEvents } from './presence.js';
export { UndoManager } from './undo.js';
export type { ErrorCode, UserInfo, ServerUser, PresenceData } from './protocol.js';
export * as ot from './ot/index.js';
export type { Op, Component, Range, Selection } from './ot/op.js';
export type { TextChange } from './ot/changes.js';
export type { OfflineStore, StoredSnapshot, StoredState } from './storage/types.js';
export { MemoryStore } from './storage/memory.js';
export { IndexedDBStore, type IndexedDBStoreOptions } from './storage/idb.js';
export type { TransportKind } from './connection.js';
export type { FetchLike } from './transport/http-socket.js';
export type { Delta, DeltaInsert, RichOp, RichComponent, Attributes, AttrValue, Embed } from './rich/index.js';

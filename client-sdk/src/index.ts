/**
 * Tandem client SDK: connect to a Tandem server, edit shared text documents
 * with operational transform, and show everyone's carets and selections.
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
export {
  TextDoc,
  TandemError,
  type DocStatus,
  type DocChange,
  type DocError,
  type TextDocEvents,
  type TextDocOptions,
} from './doc.js';
export { Presence, type Peer, type PresenceEvents } from './presence.js';
export { UndoManager } from './undo.js';
export { Emitter, type Listener } from './emitter.js';
export {
  SUBPROTOCOL,
  PROTO_VERSION,
  ProtocolError,
  encodeMessage,
  decodeFrame,
  type ClientMessage,
  type ServerMessage,
  type ErrorCode,
  type UserInfo,
  type ServerUser,
  type PresenceData,
  type WirePeer,
  type WireOpEntry,
} from './protocol.js';
export * as ot from './ot/index.js';
export type { Op, Component, Range, Selection } from './ot/op.js';
export type { TextChange } from './ot/changes.js';

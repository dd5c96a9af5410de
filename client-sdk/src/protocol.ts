/**
 * The wire protocol's messages (docs/protocol.md, "Messages") and the frame
 * codec: MessagePack maps, one per client frame; one map or an array of maps
 * per server frame. Internal: the package exports only the user and presence
 * shapes that its public API mentions.
 * @module
 */
import { decode, encode } from '@msgpack/msgpack';
import type { Op, Selection } from './ot/op.js';

/** WebSocket subprotocol spoken by this SDK. */
export const SUBPROTOCOL = 'tandem.v1';
/** Protocol version sent in `hello`. */
export const PROTO_VERSION = 1;

/** A user as announced in `hello`. */
export interface UserInfo {
  /** Display name. */
  name: string;
  /** CSS colour used for this user's caret and pointer, e.g. `#e91e63`. */
  color: string;
}

/** A user as the server describes it (`welcome`, peers). */
export interface ServerUser {
  /** Stable user id (token `sub`, or made up in open mode). */
  id: string;
  /** Display name. */
  name: string;
  /** CSS colour. */
  color: string;
}

/** Free-form presence payload (at most 1 KiB encoded). */
export type PresenceData = { [key: string]: unknown };

/**
 * One peer on the wire: selection at the message's version. `S` is the
 * document type's selection with `null` for hidden (text: code point ranges).
 */
export interface WirePeer<S = Selection> {
  sid: string;
  user: ServerUser;
  sel: S;
  data?: PresenceData | null;
}

/** One missed op in a `joined` catch-up; `O` is the document type's op. */
export interface WireOpEntry<O = Op> {
  v: number;
  op: O;
  sid: string;
  seq: number;
}

/**
 * Messages the client sends. `O` and `S` are the document type's op and
 * selection (with `null`); the defaults are the `text` type's.
 */
export type ClientMessage<O = Op, S = Selection> =
  | { t: 'hello'; proto: number; sid: string; user?: UserInfo }
  | { t: 'join'; doc: string; v?: number }
  | { t: 'leave'; doc: string }
  | { t: 'op'; doc: string; v: number; seq: number; op: O; sel?: S }
  | { t: 'presence'; doc: string; v: number; sel: S; data?: PresenceData }
  | { t: 'auth'; token: string };

/**
 * Messages the server sends (`O`, `S` as for {@link ClientMessage}).
 * `joined` carries the whole content under its type's key (`text` for text
 * and rich, `tree` for tree) and names the type (absent means `text`).
 */
export type ServerMessage<O = Op, S = Selection> =
  | { t: 'welcome'; proto: number; sid: string; user: ServerUser }
  | {
      t: 'joined';
      doc: string;
      v: number;
      type?: string;
      text?: unknown;
      tree?: unknown;
      ops?: WireOpEntry<O>[];
      peers: WirePeer<S>[];
      mode: 'rw' | 'r';
    }
  | { t: 'ack'; doc: string; seq: number; v: number }
  | { t: 'op'; doc: string; v: number; op: O; sid: string; seq: number; sel?: S }
  | { t: 'presence'; doc: string; v: number; peers: WirePeer<S>[]; gone?: string[] }
  | { t: 'authed'; exp?: number; docs: Record<string, 'rw' | 'r'> }
  | { t: 'error'; code: ErrorCode | string; msg: string; doc?: string; seq?: number };

/** Error codes of docs/protocol.md, section 8. */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'invalid_op'
  | 'too_large'
  | 'rate_limited'
  | 'deleted'
  | 'internal';

/** Encodes one client message as a MessagePack map. */
export function encodeMessage(msg: ClientMessage<unknown, unknown>): Uint8Array {
  return encode(msg, { ignoreUndefined: true });
}

/** Raised when a server frame cannot be decoded or has an unexpected shape. */
export class ProtocolError extends Error {
  /** Creates an error describing a malformed server frame. */
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

/**
 * Decodes one server frame: a single MessagePack map, or an array of maps to be
 * handled in order. Maps without a string `t` are reported as errors.
 */
export function decodeFrame(data: Uint8Array): ServerMessage<unknown, unknown>[] {
  let value: unknown;
  try {
    value = decode(data);
  } catch (e) {
    throw new ProtocolError(`undecodable frame: ${(e as Error).message}`);
  }
  const list = Array.isArray(value) ? value : [value];
  const out: ServerMessage<unknown, unknown>[] = [];
  for (const m of list) {
    if (!isRecord(m) || typeof m.t !== 'string') throw new ProtocolError('server frame item is not a map with a string "t"');
    out.push(m as unknown as ServerMessage<unknown, unknown>);
  }
  return out;
}

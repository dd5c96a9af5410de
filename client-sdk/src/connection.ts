/**
 * The connection: one WebSocket to a Tandem server, shared by every document
 * opened through it. It owns the socket, `hello`, reconnecting, the `seq`
 * counters, and routes each server message to the session of its document.
 * @module
 */
import type { DocType } from './doctype.js';
import { Emitter } from './emitter.js';
import { TandemError } from './errors.js';
import {
  decodeFrame,
  encodeMessage,
  PROTO_VERSION,
  SUBPROTOCOL,
  type ClientMessage,
  type ServerMessage,
  type ServerUser,
  type UserInfo,
} from './protocol.js';
import { RichDoc, richType, type RichDocOptions } from './rich-doc.js';
import { DocSession, type DocOptions, type Link, type Routed } from './session.js';
import type { SharedDoc } from './shared-doc.js';
import { claimSid } from './storage/claim.js';
import { IndexedDBStore } from './storage/idb.js';
import { httpSocketClass, type FetchLike } from './transport/http-socket.js';
import { isOfflineStore, type OfflineStore } from './storage/types.js';
import { randomId } from './random-id.js';
import { TextDoc, textType, type TextDocOptions } from './text-doc.js';
import { jwtExpiry, renewDelay } from './token.js';
import { TreeDoc, type TreeDocOptions } from './tree-doc.js';
import { createTreeType } from './tree-type.js';

export { randomId };

/**
 * Anything constructible like the WHATWG `WebSocket`: the browser's global
 * `WebSocket`, or the default export of the `ws` package in Node. A third
 * `options` argument with `headers` is passed only when the token travels in
 * a header (`tokenTransport: 'header'`), which `ws` supports and browsers do not.
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => object;

/** The subset of the WebSocket API the SDK uses (internal shape of {@link WebSocketConstructor} instances). */
interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol?: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  /** `retryAfterMs` (the HTTP fallback's, from a 429's Retry-After): reconnect no sooner. */
  onclose: ((ev: { code?: number; reason?: string; retryAfterMs?: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  on?: (event: string, fn: () => void) => void;
}

/** Minimal Web Storage interface (`sessionStorage`) used to keep `sid` and `seq` per tab. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Back-off settings for reconnecting. */
export interface ReconnectOptions {
  /** First delay in milliseconds (default 500). */
  initialDelayMs: number;
  /** Largest delay in milliseconds (default 30000). */
  maxDelayMs: number;
  /** Growth factor per failed attempt (default 2). */
  factor: number;
}

/** Options of {@link Connection}. */
export interface ConnectionOptions {
  /** WebSocket URL of the server's endpoint, e.g. `wss://example.com/v1/ws`. */
  url: string;
  /**
   * A fixed access token (JWT). It cannot be renewed: when the server refuses
   * it or it expires, the connection closes. Prefer {@link getToken}. (A
   * function here is taken as `getToken`.) Omit both in open mode.
   */
  token?: string | (() => string | Promise<string>);
  /**
   * Returns an access token (JWT). Called before every (re)connect; before
   * the token expires (at 90% of its remaining lifetime, at most 30 s before
   * its `exp`, read from the JWT without verifying it), to renew it on the
   * live socket with an `auth` message, without reconnecting; and once more
   * when the server refuses a token or lets it expire. A token that stays
   * refused stops the connection after `tokenAttempts` (docs/protocol.md,
   * section 16).
   */
  getToken?: () => string | Promise<string>;
  /**
   * How many tokens in a row may fail (refused by the server at connect or
   * renewal, expired on the socket, or `getToken` throwing) before the
   * connection stops: it then closes, emits an `error` with code
   * `unauthorized`, and rejects the `ready` of documents still waiting
   * (default 2: the refused token and one fresh one). Attempts are spaced by
   * the reconnect back-off. `connect()` starts again.
   */
  tokenAttempts?: number;
  /**
   * How the token is sent: `'query'` (default; `?token=`, works in browsers) or
   * `'header'` (`Authorization: Bearer`, needs a WebSocket implementation that
   * accepts `{headers}`, such as `ws` in Node).
   */
  tokenTransport?: 'query' | 'header';
  /**
   * WebSocket implementation; defaults to `globalThis.WebSocket`. Node 20 has
   * none: pass the `ws` package's default export (the constructor throws a
   * `TypeError` when there is neither).
   */
  WebSocket?: WebSocketConstructor;
  /** Name and colour announced to peers. */
  user?: UserInfo;
  /**
   * Client session id (16-64 chars of `[A-Za-z0-9_-]`). Defaults to one kept in
   * `sessionStorage` (stable per tab), or a random one when there is no storage.
   */
  sid?: string;
  /**
   * Where documents and the tab's `sid` are kept (docs: client-sdk/README.md, "Offline use"):
   * - omitted: documents in IndexedDB (an {@link IndexedDBStore}) when the
   *   runtime has it, the `sid` and `seq` counters in `sessionStorage`;
   * - an `OfflineStore` (`IndexedDBStore`, `MemoryStore`): documents there;
   * - a Web Storage (`StorageLike`): the `sid` and `seq` counters there,
   *   documents in IndexedDB when available;
   * - `null`: nothing is stored; documents live in memory only.
   */
  storage?: StorageLike | OfflineStore | null;
  /** Reconnect back-off (exponential with jitter). */
  reconnect?: Partial<ReconnectOptions>;
  /**
   * How many connection attempts in a row may fail before the connection has
   * ever been online, before it gives up (default 5, about 4 to 8 seconds with
   * the default back-off): it then closes, emits an `unreachable` error with
   * the cause of the last failure, and rejects the `ready` of every document
   * still waiting for its first sync with a {@link TandemError} `unreachable`.
   * `connect()` starts again. Once online, a connection never gives up: it
   * retries for as long as it is open. `Infinity` never gives up.
   */
  connectAttempts?: number;
  /**
   * A connection on which no frame arrives for this long (ms) is treated as dead
   * and replaced (default 45000). After a third of it, the SDK probes the
   * server by re-joining an idle document with its version, which the server answers.
   */
  idleTimeoutMs?: number;
  /** Connect immediately (default true); otherwise call {@link Connection.connect}. */
  autoConnect?: boolean;
  /**
   * The HTTP fallback (docs/protocol.md, section 17): after `after` WebSocket
   * attempts in a row that fail before the server's welcome (the socket does
   * not open, or dies at once) while the browser is online, the connection
   * carries the protocol over Server-Sent Events and POSTs instead, and every
   * `probeIntervalMs` tries a WebSocket again, going back to it when one
   * opens. Defaults: `{ after: 2, probeIntervalMs: 30000 }`; `false` turns the
   * fallback off. On by default when the SDK uses the runtime's WebSocket
   * (browsers); with a `WebSocket` option (Node's `ws`) only when given.
   */
  fallback?: false | { after?: number; probeIntervalMs?: number };
  /** The `fetch` the HTTP fallback uses (default: the global one). */
  fetch?: FetchLike;
}

/** What carries the protocol: a WebSocket, or the HTTP fallback (Server-Sent Events and POSTs). */
export type TransportKind = 'websocket' | 'http';

/** State of a {@link Connection}. */
export type ConnectionState = 'connecting' | 'online' | 'offline' | 'closed';

/** An error reported by a {@link Connection}: a server `error` frame not tied to a document, or a transport failure. */
export interface ConnectionError {
  /**
   * Server error code (docs/protocol.md, section 8), or for client-side failures:
   * `transport` (a socket failed or closed; retried), `unreachable` (gave up
   * after `connectAttempts` failures before ever being online) or `protocol`.
   */
  code: string;
  /** Human-readable detail, with the cause when the runtime tells it. */
  message: string;
  /**
   * The HTTP status the server (or a proxy) answered the WebSocket upgrade
   * with, instead of 101: 404 for a wrong path, 502 for a proxy whose backend
   * is down. Node's `ws` tells it; browsers never do.
   */
  httpStatus?: number;
  /** The system error of a failed connection (`ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, ...), when the runtime tells it. */
  errno?: string;
}

/** Events of {@link Connection}. */
export interface ConnectionEvents {
  /** Any state change. */
  state: { state: ConnectionState; previous: ConnectionState };
  /** A socket is being opened (attempt counts failures since the last success, from 0). */
  connecting: { attempt: number };
  /** The server welcomed us; documents re-join now. */
  online: { user: ServerUser; sid: string };
  /**
   * The socket closed; `retryInMs` is null when no reconnect is planned.
   * `error` is what made a socket that never opened fail, when known.
   */
  offline: { code: number; reason: string; retryInMs: number | null; error?: ConnectionError };
  /** The transport changed: to the HTTP fallback after WebSocket failures, or back to the WebSocket. */
  transport: { transport: TransportKind };
  /**
   * Errors not tied to one document. An `unauthorized` error with a fixed
   * token (not `getToken`) also closes the connection: retrying with the same
   * token cannot succeed. With `getToken`, `tokenAttempts` tokens refused in a
   * row stop the connection with an `unauthorized` error.
   */
  error: ConnectionError;
  /**
   * The server accepted a renewed token on the live socket. `exp` is when it
   * expires (ms since the epoch), null when unknown (an opaque token in open mode).
   */
  authed: { exp: number | null };
}

const SID_KEY = 'tandem.sid';
/** How the server's message starts when it refuses an `auth` (docs/protocol.md, section 16), unlike an expiry. */
const RENEWAL_REFUSED = 'token renewal refused';
const NO_WEBSOCKET =
  '@tandem/client: no WebSocket implementation. This runtime has no global WebSocket (Node before 22 has none): ' +
  "install the `ws` package and pass it: `import WebSocket from 'ws'; new Connection({ url, WebSocket })`";
const SID_RE = /^[A-Za-z0-9_-]{16,64}$/;

function defaultStorage(): StorageLike | null {
  try {
    const s = (globalThis as { sessionStorage?: StorageLike }).sessionStorage;
    if (s === undefined) return null;
    s.setItem('tandem.probe', '1');
    return s;
  } catch {
    return null;
  }
}

/** True when the browser says it has no network (`navigator.onLine` false). */
function browserOffline(): boolean {
  return (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
}

/** The URL with the value of a `token` query parameter hidden, for messages. */
function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/g, '$1…');
}

/** Hints for HTTP statuses a WebSocket upgrade commonly gets instead of 101. */
const STATUS_HINTS: Record<number, string> = {
  400: 'the server did not take it as a WebSocket upgrade (is this the /v1/ws endpoint of a Tandem server?)',
  401: 'a proxy in front of the server wants credentials',
  403: 'refused (an origin or proxy rule?)',
  404: 'no such endpoint: is the path /v1/ws and the port the right one?',
  426: 'the server wants another protocol version',
  502: 'a proxy could not reach the server behind it',
  503: 'the server is unavailable or shutting down',
  504: 'a proxy timed out waiting for the server',
};

/** Words for the system errors a connection commonly fails with. */
const ERRNO_HINTS: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens at that host and port (is the server running? is the port right?)',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/**
 * What a socket error event says about why the connection failed. Node's
 * `ws` passes an ErrorEvent whose `error` carries the system error code or
 * "Unexpected server response: 404"; browsers pass a bare Event (they never
 * expose the cause to scripts).
 */
function describeSocketError(ev: unknown, url: string): ConnectionError {
  const e = (ev ?? {}) as { error?: unknown; message?: unknown };
  const err = (e.error ?? null) as { code?: unknown; message?: unknown; cause?: unknown } | null;
  const text = typeof err?.message === 'string' ? err.message : typeof e.message === 'string' ? e.message : '';
  const where = redactToken(url);
  const status = /Unexpected server response: (\d{3})/.exec(text);
  if (status !== null) {
    const httpStatus = Number(status[1]);
    const hint = STATUS_HINTS[httpStatus];
    return {
      code: 'transport',
      httpStatus,
      message: `cannot connect to ${where}: the server answered the WebSocket upgrade with HTTP ${httpStatus}${hint !== undefined ? ` (${hint})` : ''}`,
    };
  }
  let errno = typeof err?.code === 'string' ? err.code : undefined;
  const cause = (err?.cause ?? null) as { code?: unknown } | null;
  if (errno === undefined && typeof cause?.code === 'string') errno = cause.code;
  if (errno !== undefined) {
    const hint = ERRNO_HINTS[errno];
    return { code: 'transport', errno, message: `cannot connect to ${where}: ${hint ?? text} (${errno})` };
  }
  if (text !== '') return { code: 'transport', message: `cannot connect to ${where}: ${text}` };
  return {
    code: 'transport',
    message:
      `cannot connect to ${where} (the browser does not say why: the server may be down, the address or port wrong, ` +
      'or something in between refusing the WebSocket upgrade; the network panel of the developer tools shows the answer)',
  };
}

function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) {
    // ws may hand over fragments as Buffer[] when binaryType is 'fragments'.
    const parts = data.filter((p): p is Uint8Array => p instanceof Uint8Array);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  return null;
}

/**
 * One WebSocket session with a Tandem server (docs/protocol.md, section 4), shared by
 * every document opened through it. It says `hello`, keeps a stable `sid`,
 * reconnects with exponential back-off and jitter, and on every reconnect has
 * each open document re-join with its version and resubmit its unacknowledged
 * op with the same `seq`.
 */
export class Connection extends Emitter<ConnectionEvents> {
  private currentSid: string;
  /**
   * Resolves to this tab's session id. With offline storage it is settled
   * before the first connection: a new tab may take over the sid of a closed
   * tab that left unsynced edits (see README, "Offline use").
   */
  readonly sidReady: Promise<string>;
  /** Where documents are kept offline (null: in memory only). */
  readonly offlineStore: OfflineStore | null;
  /** The user as the server knows it (after the first `welcome`). */
  user: ServerUser | null = null;

  private opts: ConnectionOptions;
  private readonly Impl: WebSocketConstructor;
  private readonly connectAttempts: number;
  private readonly tokenAttempts: number;
  /** The token of the current socket, or of its latest accepted renewal. */
  private token: string | undefined;
  /** When {@link token} expires (ms since the epoch), when it is a JWT. */
  private tokenExp: number | null = null;
  /** Tokens that failed in a row (refused, expired, or `getToken` threw); reset by `welcome` and `authed`. */
  private tokenFailures = 0;
  /** The last token the server refused or let expire: `getToken` returning it again counts as refused. */
  private refusedToken: string | null = null;
  /** The server's message when it refused the current socket's token; the close that follows is a token failure. */
  private tokenRejected: string | null = null;
  /** A renewal sent on the live socket and not answered yet. */
  private renewing: { token: string; exp: number | null } | null = null;
  private renewTimer: ReturnType<typeof setTimeout> | null = null;
  /** True once the server has welcomed this connection: after that it never gives up. */
  private everOnline = false;
  /** Why the connection gave up before it was ever online (documents opened now fail at once). */
  private gaveUp: TandemError | null = null;
  /** The error of the current socket before it opened, if any (for `offline` and giving up). */
  private socketError: ConnectionError | null = null;
  private readonly storage: StorageLike | null;
  private readonly seqFloors = new Map<string, number>();
  private readonly seqs = new Map<string, number>();
  /** Open documents by id: the session frames are routed to, and the public object. */
  private readonly docs = new Map<string, { session: Routed; doc: SharedDoc<unknown, unknown, unknown> }>();
  /** What the sessions see of this connection. */
  private readonly link: Link;
  private ws: WebSocketLike | null = null;
  private _state: ConnectionState = 'offline';
  private welcomed = false;
  private attempt = 0;
  private closedByUser = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private lastProbeAt = 0;
  private readonly idleTimeoutMs: number;
  private readonly backoff: ReconnectOptions;
  private kind: TransportKind = 'websocket';
  /** WebSocket attempts in a row that failed before the welcome. */
  private wsFailures = 0;
  /** Counts open() calls, so that a superseded one stops after its awaits. */
  private openGen = 0;
  private readonly fallbackAfter: number;
  private readonly probeIntervalMs: number;
  private readonly HttpImpl: WebSocketConstructor | null;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  private probeSocket: WebSocketLike | null = null;
  private readonly onBrowserOnline = (): void => {
    if (this._state === 'offline' && !this.closedByUser) this.reconnectNow();
    else if (this.gaveUp !== null) this.connect(); // it gave up while the browser was offline
  };
  /**
   * The browser lost its network: a socket may stay "open" without carrying
   * anything for a long while (Chromium keeps it), so drop it now: documents
   * go offline at once and keep their edits (stored, with offline storage).
   */
  private readonly onBrowserOffline = (): void => {
    if (this.ws === null || this.closedByUser) return;
    this.dropSocket(4000, 'browser offline');
    this.handleClose(4000, 'browser offline');
  };

  /**
   * Creates the connection and, unless `autoConnect` is false, starts connecting.
   * Throws a `TypeError` when there is no WebSocket implementation (Node 20
   * without `options.WebSocket`) and an `Error` for a malformed `sid`.
   */
  constructor(options: ConnectionOptions) {
    super();
    const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof Impl !== 'function') throw new TypeError(NO_WEBSOCKET);
    this.Impl = Impl;
    const attempts = options.connectAttempts ?? 5;
    if (!(attempts >= 1)) throw new RangeError(`connectAttempts must be at least 1 (or Infinity), got ${attempts}`);
    this.connectAttempts = attempts;
    const tokenAttempts = options.tokenAttempts ?? 2;
    if (!(tokenAttempts >= 1)) throw new RangeError(`tokenAttempts must be at least 1 (or Infinity), got ${tokenAttempts}`);
    this.tokenAttempts = tokenAttempts;
    this.opts = { ...options };
    const given = options.storage;
    this.storage = given === undefined || isOfflineStore(given) ? defaultStorage() : given;
    this.offlineStore = isOfflineStore(given) ? given : given === null ? null : IndexedDBStore.available() ? new IndexedDBStore() : null;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 45000;
    this.backoff = { initialDelayMs: 500, maxDelayMs: 30000, factor: 2, ...options.reconnect };
    const fb = options.fallback;
    const fetchImpl = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    // On by default with the runtime's own WebSocket (browsers); with one passed
    // in (Node's `ws`, tests) only when `fallback` is given.
    const fbOn = fb === undefined ? options.WebSocket === undefined : fb !== false;
    this.fallbackAfter = fbOn ? Math.max(1, (fb || {}).after ?? 2) : Infinity;
    this.probeIntervalMs = fbOn ? ((fb || {}).probeIntervalMs ?? 30000) : 0;
    this.HttpImpl = !fbOn || typeof fetchImpl !== 'function' ? null : (httpSocketClass(fetchImpl) as unknown as WebSocketConstructor);
    let sid = options.sid;
    if (sid === undefined && this.storage !== null) {
      const stored = this.storage.getItem(SID_KEY);
      if (stored !== null && SID_RE.test(stored)) sid = stored;
      else {
        sid = randomId();
        this.storage.setItem(SID_KEY, sid);
      }
    }
    sid ??= randomId();
    if (!SID_RE.test(sid)) throw new Error(`sid must be 16-64 characters of [A-Za-z0-9_-], got ${JSON.stringify(sid)}`);
    this.currentSid = sid;
    if (this.offlineStore !== null) {
      this.sidReady = claimSid(this.offlineStore, sid, randomId, options.sid !== undefined)
        .catch(() => sid)
        .then((final) => {
          this.currentSid = final;
          try {
            if (options.sid === undefined) this.storage?.setItem(SID_KEY, final);
          } catch {
            // storage full or unavailable
          }
          return final;
        });
    } else {
      this.sidReady = Promise.resolve(sid);
    }
    const conn = this; // for the getters below
    this.link = {
      get sid() {
        return conn.currentSid;
      },
      get user() {
        return conn.user;
      },
      store: this.offlineStore,
      sidReady: this.sidReady,
      seqFloor: (doc, seq) => this.seqFloors.set(doc, Math.max(seq, this.seqFloors.get(doc) ?? 0)),
      send: (msg) => this.send(msg),
      nextSeq: (doc) => this.nextSeq(doc),
      forget: (session) => {
        if (this.docs.get(session.id)?.session === session) this.docs.delete(session.id);
      },
    };
    const g = globalThis as { addEventListener?: (t: string, f: () => void) => void };
    g.addEventListener?.('online', this.onBrowserOnline);
    g.addEventListener?.('offline', this.onBrowserOffline);
    // Deferred so that listeners added right after construction see 'connecting'.
    if (options.autoConnect !== false) queueMicrotask(() => {
      if (this._state === 'offline' && !this.closedByUser) this.connect();
    });
  }

  /** This client's session id (final once {@link sidReady} resolved). */
  get sid(): string {
    return this.currentSid;
  }

  /** The name and colour announced to peers. */
  get localUser(): UserInfo | undefined {
    return this.opts.user;
  }

  /**
   * Changes the name and colour announced to peers. They travel in `hello`, so
   * an online connection reconnects at once (documents re-join seamlessly).
   */
  setUser(user: UserInfo): void {
    this.opts.user = { ...user };
    if (this.ws !== null) this.reconnectNow();
  }

  /** What carries the protocol now: `websocket`, or `http` (the fallback). */
  get transport(): TransportKind {
    return this.kind;
  }

  /** Current state. */
  get state(): ConnectionState {
    return this._state;
  }

  /** True when the server has welcomed this session and frames can flow. */
  get online(): boolean {
    return this.welcomed && this.ws !== null;
  }

  /** Starts connecting (again, after {@link close}, or after giving up: with a fresh count of `connectAttempts`). */
  connect(): void {
    if (this.closedByUser || this.gaveUp !== null) {
      this.attempt = 0;
      this.tokenFailures = 0;
    }
    this.gaveUp = null;
    this.closedByUser = false;
    if (this.ws !== null || this.retryTimer !== null || this._state === 'connecting') return;
    void this.open();
  }

  /** Drops the current socket (if any) and connects again at once. */
  reconnectNow(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.ws !== null) this.dropSocket(4000, 'reconnect');
    if (!this.closedByUser) void this.open();
  }

  /**
   * Closes the socket and stops reconnecting. Open documents keep their state
   * (and queue local edits) until {@link connect} is called again.
   */
  close(): void {
    this.closedByUser = true;
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.ws !== null) this.dropSocket(1000, 'client closed');
    this.setState('closed');
  }

  /**
   * Opens (joins) a rich-text document (type `rich`), or returns the already
   * open one with this id. Usable at once, as {@link openDoc}.
   */
  openRich(id: string, options?: RichDocOptions): RichDoc {
    return this.openTyped(id, richType, options, (session) => new RichDoc(session));
  }

  /**
   * Opens (joins) a text document, or returns the already open one with this id.
   * The document is usable at once: local edits are queued until it is synced.
   */
  openDoc(id: string, options?: TextDocOptions): TextDoc {
    return this.openTyped(id, textType, options, (session) => new TextDoc(session));
  }

  /**
   * Opens (joins) a tree document (objects with properties), or returns the
   * already open one with this id. Usable at once, like {@link openDoc}.
   */
  openTree(id: string, options?: TreeDocOptions): TreeDoc {
    return this.openTyped(id, createTreeType(options?.limits), options, (session) => new TreeDoc(session));
  }

  /**
   * Opens document `id` of `type` with the public class `make` builds over
   * its session, or returns the one already open. Throws a {@link TandemError}
   * `wrong_type` when `id` is open as another type.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any event map: a document class may add events
  private openTyped<C, O, S, D extends SharedDoc<C, O, S, any>>(id: string, type: DocType<C, O, S>, options: DocOptions | undefined, make: (session: DocSession<C, O, S>) => D): D {
    const existing = this.docs.get(id);
    if (existing !== undefined) {
      if (existing.session.typeName !== type.name) {
        throw new TandemError('wrong_type', `document ${id} is already open as a ${existing.session.typeName} document`);
      }
      return existing.doc as unknown as D;
    }
    const session = new DocSession(this.link, id, type, options);
    const doc = make(session);
    this.docs.set(id, { session, doc: doc as unknown as SharedDoc<unknown, unknown, unknown> });
    if (this.welcomed) session.connected();
    else if (this.gaveUp !== null) session.failed(this.gaveUp);
    return doc;
  }

  /**
   * Renews the token on the live socket now: asks `getToken` and sends the
   * token with `auth` (for example after the user's grants changed). Does
   * nothing without `getToken` or while offline (the next connect asks
   * `getToken` anyway). The outcome is an `authed` event, or an `error`.
   */
  renewToken(): void {
    void this.renew(true);
  }

  /** The open documents. */
  get openDocs(): SharedDoc<unknown, unknown, unknown>[] {
    return [...this.docs.values()].map((e) => e.doc);
  }

  /** Sends a message if the session is welcomed; returns whether it was sent. */
  private send(msg: ClientMessage<unknown, unknown>): boolean {
    if (!this.welcomed || this.ws === null) return false;
    try {
      this.ws.send(encodeMessage(msg));
      return true;
    } catch (e) {
      this.emit('error', { code: 'transport', message: `send failed: ${(e as Error).message}` });
      return false;
    }
  }

  /**
   * Next `seq` for a document: strictly increasing per sid and document,
   * kept in storage so it survives reconnects and reloads.
   */
  private nextSeq(doc: string): number {
    const key = `tandem.seq.${this.sid}.${doc}`;
    let last = Math.max(this.seqs.get(doc) ?? 0, this.seqFloors.get(doc) ?? 0);
    if (this.storage !== null) {
      const stored = Number(this.storage.getItem(key) ?? '0');
      if (Number.isSafeInteger(stored) && stored > last) last = stored;
    }
    const next = last + 1;
    this.seqs.set(doc, next);
    try {
      this.storage?.setItem(key, String(next));
    } catch {
      // storage full or unavailable: the in-memory counter still increases.
    }
    return next;
  }

  private setState(state: ConnectionState): void {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this.emit('state', { state, previous });
  }

  private async open(): Promise<void> {
    // Only the newest open() may make a socket: two quick reconnectNow() calls
    // (a rename, then a recolour) must not leave two sockets racing.
    const gen = ++this.openGen;
    const Impl = this.kind === 'http' && this.HttpImpl !== null ? this.HttpImpl : this.Impl;
    this.socketError = null;
    this.setState('connecting');
    this.emit('connecting', { attempt: this.attempt });
    if (this.offlineStore !== null) {
      await this.sidReady; // a new tab may take a closed tab's sid over first
      if (this.closedByUser || gen !== this.openGen) return;
    }
    const provider = this.tokenProvider;
    let token = typeof this.opts.token === 'string' ? this.opts.token : undefined;
    if (provider !== undefined) {
      try {
        token = await provider();
      } catch (e) {
        if (!this.closedByUser) this.tokenFailed(`getToken failed: ${(e as Error).message}`);
        return;
      }
      if (this.closedByUser || gen !== this.openGen) return;
      if (token === this.refusedToken) {
        this.tokenFailed('getToken returned the token the server refused (or let expire) again');
        return;
      }
    }
    if (this.closedByUser) return;
    this.token = token;
    this.tokenExp = token !== undefined && token !== '' ? jwtExpiry(token) : null;
    let url = this.opts.url;
    let headers: Record<string, string> | undefined;
    if (token !== undefined && token !== '') {
      if (this.opts.tokenTransport === 'header') headers = { Authorization: `Bearer ${token}` };
      else url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
    }
    let ws: WebSocketLike;
    try {
      ws = (headers !== undefined ? new Impl(url, [SUBPROTOCOL], { headers }) : new Impl(url, [SUBPROTOCOL])) as WebSocketLike;
    } catch (e) {
      this.socketError = { code: 'transport', message: `cannot open a WebSocket to ${redactToken(url)}: ${(e as Error).message}` };
      this.emit('error', this.socketError);
      this.scheduleReconnect(0, 'cannot open');
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      this.lastFrameAt = Date.now();
      this.startIdleTimer();
      try {
        ws.send(encodeMessage({ t: 'hello', proto: PROTO_VERSION, sid: this.sid, ...(this.opts.user ? { user: this.opts.user } : {}) }));
      } catch (e) {
        this.emit('error', { code: 'transport', message: `send failed: ${(e as Error).message}` });
      }
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      this.onFrame(ev.data);
    };
    ws.onerror = (ev) => {
      if (this.ws !== ws) return;
      if (opened) {
        this.emit('error', { code: 'transport', message: `WebSocket error on ${redactToken(url)}` });
        return;
      }
      this.socketError = describeSocketError(ev, url);
      this.emit('error', this.socketError);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.handleClose(ev.code ?? 1006, ev.reason ?? '', ev.retryAfterMs);
    };
    // Node's `ws` surfaces the server's pings; count them as signs of life.
    if (typeof ws.on === 'function') {
      ws.on('ping', () => {
        if (this.ws === ws) this.lastFrameAt = Date.now();
      });
    }
  }

  private onFrame(data: unknown): void {
    if (typeof data === 'string') {
      this.emit('error', { code: 'protocol', message: 'unexpected text frame from server' });
      return;
    }
    const bytes = toBytes(data);
    if (bytes === null) {
      this.emit('error', { code: 'protocol', message: 'unsupported frame payload' });
      return;
    }
    let msgs: ServerMessage<unknown, unknown>[];
    try {
      msgs = decodeFrame(bytes);
    } catch (e) {
      this.emit('error', { code: 'protocol', message: (e as Error).message });
      return;
    }
    for (const m of msgs) {
      if (this.ws === null) return; // a handler closed the socket
      this.dispatch(m);
    }
  }

  private dispatch(m: ServerMessage<unknown, unknown>): void {
    if (m.t === 'welcome') {
      this.welcomed = true;
      if (this.kind === 'websocket') this.wsFailures = 0;
      this.everOnline = true;
      this.socketError = null;
      this.attempt = 0;
      this.user = m.user;
      this.setState('online');
      this.tokenFailures = 0;
      this.scheduleRenewal();
      this.emit('online', { user: m.user, sid: this.sid });
      for (const { session } of [...this.docs.values()]) session.connected();
      return;
    }
    if (m.t === 'authed') {
      this.onAuthed(m);
      return;
    }
    if (m.t === 'error' && (m.doc === undefined || !this.docs.has(m.doc))) {
      if (m.code === 'unauthorized' && m.doc === undefined && this.tokenProvider !== undefined) {
        if (this.renewing !== null && m.msg.startsWith(RENEWAL_REFUSED)) {
          // The renewal was refused; the socket goes on with its current token.
          this.refusedToken = this.renewing.token;
          this.renewing = null;
          this.renewalFailed(`the server refused the renewed token: ${m.msg}`);
        } else {
          // (A renewal that crossed the expiry on the wire was never read: its token is not refused.)
          this.renewing = null;
          // The socket's token was refused or expired: the server closes it
          // next, and the close counts the failure (handleClose).
          this.tokenRejected = m.msg;
          this.refusedToken = this.token ?? null;
        }
        return;
      }
      this.emit('error', { code: m.code, message: m.msg });
      if (m.code === 'unauthorized') {
        // The same token would be refused again: stop instead of retrying
        // forever, and fail the documents still waiting for their first sync.
        // (getToken may yield a fresh token: see tokenFailed.)
        this.close();
        const failure = new TandemError('unauthorized', m.msg);
        for (const { session } of [...this.docs.values()]) session.failed(failure);
      }
      return;
    }
    if (m.doc !== undefined) this.docs.get(m.doc)?.session.handle(m);
  }

  private startIdleTimer(): void {
    this.stopIdleTimer();
    const tick = Math.max(50, Math.floor(this.idleTimeoutMs / 6));
    this.idleTimer = setInterval(() => {
      if (this.ws === null) return;
      const silence = Date.now() - this.lastFrameAt;
      if (silence >= this.idleTimeoutMs) {
        this.emit('error', { code: 'transport', message: `no frame for ${silence} ms: reconnecting` });
        this.dropSocket(4000, 'idle timeout');
        this.handleClose(4000, 'idle timeout');
        return;
      }
      if (this.welcomed && silence >= this.idleTimeoutMs / 3 && Date.now() - this.lastProbeAt >= this.idleTimeoutMs / 3) {
        this.lastProbeAt = Date.now();
        for (const { session } of this.docs.values()) if (session.probe()) break;
      }
    }, tick);
  }

  private stopIdleTimer(): void {
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    this.idleTimer = null;
  }

  /** Detaches and closes the current socket without waiting for its close event. */
  private dropSocket(code: number, reason: string): void {
    const ws = this.ws;
    if (ws === null) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    // Closing a socket that is still connecting makes `ws` (Node) emit an error
    // event, which throws when nobody listens: keep a listener that ignores it.
    ws.onerror = () => undefined;
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
    this.stopIdleTimer();
    this.clearRenewal();
    if (this.welcomed) {
      this.welcomed = false;
      for (const { session } of [...this.docs.values()]) session.disconnected();
    }
  }

  private handleClose(code: number, reason: string, retryAfterMs?: number): void {
    const wasWelcomed = this.welcomed;
    if (!wasWelcomed && !this.closedByUser) this.countFailure();
    if (this.ws !== null) this.dropSocket(code, reason);
    this.stopIdleTimer();
    this.clearRenewal();
    if (this.welcomed) {
      this.welcomed = false;
      for (const { session } of [...this.docs.values()]) session.disconnected();
    }
    if (this.closedByUser) {
      this.setState('closed');
      this.emit('offline', { code, reason, retryInMs: null, ...this.errorField() });
      return;
    }
    const rejected = this.tokenRejected;
    this.tokenRejected = null;
    if (rejected !== null) {
      this.tokenFailed(rejected, code, reason);
      return;
    }
    if (this.socketError === null && !wasWelcomed) {
      // No error event said why (or the socket opened and the server closed it
      // before its welcome): say what is known, with the server's reason.
      this.socketError = {
        code: 'transport',
        message: `the connection to ${redactToken(this.opts.url)} closed before the server welcomed it (code ${code}${reason !== '' ? `: ${reason}` : ''})`,
      };
    }
    this.scheduleReconnect(code, reason, retryAfterMs);
  }

  /** A socket failed before the welcome: after `fallback.after` WebSocket failures, use HTTP. */
  private countFailure(): void {
    if (this.kind !== 'websocket' || this.HttpImpl === null || browserOffline()) return;
    this.wsFailures++;
    if (this.wsFailures < this.fallbackAfter) return;
    this.setTransport('http');
    this.attempt = 0; // a fresh count for the new transport
  }

  private setTransport(kind: TransportKind): void {
    if (kind === this.kind) return;
    this.kind = kind;
    this.wsFailures = 0;
    if (kind === 'http') this.startProbe();
    else this.stopProbe();
    this.emit('transport', { transport: kind });
  }

  /** On the HTTP fallback: tries a WebSocket now and then; when one opens, goes back to WebSockets. */
  private startProbe(): void {
    this.stopProbe();
    if (this.probeIntervalMs <= 0) return;
    this.probeTimer = setInterval(() => void this.probe(), this.probeIntervalMs);
  }

  private stopProbe(): void {
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    this.probeTimer = null;
    const ps = this.probeSocket;
    this.probeSocket = null;
    if (ps !== null) {
      ps.onopen = ps.onclose = ps.onmessage = null;
      ps.onerror = () => undefined;
      try {
        ps.close(1000, 'probe');
      } catch {
        // already closed
      }
    }
  }

  private async probe(): Promise<void> {
    if (this.probeSocket !== null || this.closedByUser || browserOffline()) return;
    let url = this.opts.url;
    let headers: Record<string, string> | undefined;
    try {
      const provider = this.tokenProvider;
      const token = provider !== undefined ? await provider() : typeof this.opts.token === 'string' ? this.opts.token : undefined;
      if (token !== undefined && token !== '') {
        if (this.opts.tokenTransport === 'header') headers = { Authorization: `Bearer ${token}` };
        else url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
      }
    } catch {
      return;
    }
    let ps: WebSocketLike;
    try {
      ps = (headers !== undefined ? new this.Impl(url, [SUBPROTOCOL], { headers }) : new this.Impl(url, [SUBPROTOCOL])) as WebSocketLike;
    } catch {
      return;
    }
    this.probeSocket = ps;
    ps.binaryType = 'arraybuffer';
    ps.onerror = () => undefined;
    ps.onclose = () => {
      if (this.probeSocket === ps) this.probeSocket = null;
    };
    ps.onopen = () => {
      if (this.probeSocket !== ps) return;
      // WebSockets pass again: switch back. Documents re-join on the new
      // socket and resubmit what is unacknowledged with the same seq.
      this.stopProbe();
      this.setTransport('websocket');
      if (!this.closedByUser) this.reconnectNow();
    };
  }

  private errorField(): { error?: ConnectionError } {
    return this.socketError !== null ? { error: this.socketError } : {};
  }

  private scheduleReconnect(code: number, reason: string, atLeastMs = 0): void {
    const { initialDelayMs, maxDelayMs, factor } = this.backoff;
    const base = Math.min(maxDelayMs, initialDelayMs * factor ** this.attempt);
    const delay = Math.max(atLeastMs, Math.round(base / 2 + (Math.random() * base) / 2));
    this.attempt++;
    // A browser that knows it is offline does not count against giving up:
    // the page works on its stored documents and connects when back online.
    if (!this.everOnline && this.attempt >= this.connectAttempts && !browserOffline()) {
      this.giveUp(code, reason);
      return;
    }
    this.setState('offline');
    this.emit('offline', { code, reason, retryInMs: delay, ...this.errorField() });
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closedByUser) void this.open();
    }, delay);
  }

  /**
   * Stops after `connectAttempts` failures without ever being online: the
   * server is not there (or not a Tandem server), and a script waiting on
   * `ready` must hear it rather than wait forever.
   */
  private giveUp(code: number, reason: string): void {
    const cause = this.socketError?.message ?? `the connection closed with code ${code}${reason !== '' ? ` (${reason})` : ''}`;
    const n = this.attempt;
    const message = `gave up after ${n} failed attempt${n === 1 ? '' : 's'} to connect: ${cause}`;
    const err: ConnectionError = {
      code: 'unreachable',
      message,
      ...(this.socketError?.httpStatus !== undefined ? { httpStatus: this.socketError.httpStatus } : {}),
      ...(this.socketError?.errno !== undefined ? { errno: this.socketError.errno } : {}),
    };
    this.stop(code, reason, err);
  }

  /**
   * Stops for good, until {@link connect}: closes, emits `offline` and `error`
   * with `err`, and fails the documents still waiting for their first sync
   * (and those opened later).
   */
  private stop(code: number, reason: string, err: ConnectionError): void {
    const failure = new TandemError(err.code, err.message);
    this.close();
    this.gaveUp = failure;
    this.emit('offline', { code, reason, retryInMs: null, error: err });
    this.emit('error', err);
    for (const { session } of [...this.docs.values()]) session.failed(failure);
  }

  // ---- tokens (docs/protocol.md, section 16) ----

  /** `getToken`, or a function given as `token`. */
  private get tokenProvider(): (() => string | Promise<string>) | undefined {
    return this.opts.getToken ?? (typeof this.opts.token === 'function' ? this.opts.token : undefined);
  }

  /**
   * The token of a connection attempt failed: the server refused it or let
   * it expire (`reason` is its message), or `getToken` threw. The next attempt
   * asks `getToken` for a fresh one after the back-off; after `tokenAttempts`
   * failures in a row the connection stops instead of looping.
   */
  private tokenFailed(reason: string, code = 0, closeReason = 'no usable token'): void {
    this.tokenFailures++;
    this.socketError = { code: 'unauthorized', message: reason };
    if (this.tokenFailures >= this.tokenAttempts) {
      const n = this.tokenFailures;
      const message =
        `stopped after ${n} failed token${n === 1 ? '' : 's'} in a row (the last: ${reason}); ` +
        'fix the token or getToken, then call connect()';
      this.stop(code, closeReason, { code: 'unauthorized', message });
      return;
    }
    this.emit('error', this.socketError);
    this.scheduleReconnect(code, closeReason);
  }

  /** Renews the token once its remaining lifetime is 90% gone (at most 30 s before exp). */
  private scheduleRenewal(): void {
    if (this.renewTimer !== null) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    if (this.tokenProvider === undefined || this.tokenExp === null) return;
    const delay = renewDelay(this.tokenExp, Date.now());
    if (delay === null) return; // expired by this clock: the server ends the socket, the reconnection asks again
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      void this.renew(false);
    }, delay);
  }

  private clearRenewal(): void {
    if (this.renewTimer !== null) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    this.renewing = null;
  }

  /**
   * Asks `getToken` and sends the token with `auth` on the live socket. A
   * token no fresher than the current one (same string, or an `exp` not
   * later) is not sent unless `force`: the socket then ends at the current
   * token's exp and the reconnection asks `getToken` again, so that a
   * provider handing out a cached token cannot make the SDK renew in a loop.
   */
  private async renew(force: boolean): Promise<void> {
    const provider = this.tokenProvider;
    const ws = this.ws;
    if (provider === undefined || !this.online || this.renewing !== null) return;
    let token: string;
    try {
      token = await provider();
    } catch (e) {
      if (this.ws === ws && this.online) this.renewalFailed(`getToken failed: ${(e as Error).message}`);
      return;
    }
    if (this.ws !== ws || !this.online || this.renewing !== null) return; // the socket changed: its connect asked getToken
    const exp = jwtExpiry(token);
    const stale = token === this.token || (exp !== null && this.tokenExp !== null && exp <= this.tokenExp);
    if (token === this.refusedToken) {
      this.renewalFailed('getToken returned the token the server refused again');
      return;
    }
    if (token === '' || token === this.token || (stale && !force)) return;
    this.renewing = { token, exp };
    if (!this.send({ t: 'auth', token })) this.renewing = null;
  }

  /** The server accepted the renewal: the new token rules the socket. */
  private onAuthed(m: Extract<ServerMessage<unknown, unknown>, { t: 'authed' }>): void {
    const r = this.renewing;
    this.renewing = null;
    if (r === null) return; // not ours: ignore
    this.token = r.token;
    this.tokenExp = r.exp ?? (typeof m.exp === 'number' ? m.exp * 1000 : null);
    this.tokenFailures = 0;
    this.refusedToken = null;
    for (const { session } of this.docs.values()) {
      const mode = m.docs?.[session.id];
      if (mode === 'rw' || mode === 'r') session.modeChanged(mode);
      // A document no longer granted got its own `forbidden` error.
    }
    this.scheduleRenewal();
    this.emit('authed', { exp: this.tokenExp });
  }

  /**
   * A renewal failed (refused, or `getToken` threw): the socket goes on with
   * its current token. Another fresh token is asked for after the back-off
   * (before the current one expires), up to `tokenAttempts` in a row; then
   * renewal stops, and when the server ends the socket at exp the connection
   * stops too (the failures are still counted).
   */
  private renewalFailed(reason: string): void {
    this.tokenFailures++;
    this.emit('error', { code: 'unauthorized', message: reason });
    if (this.tokenFailures >= this.tokenAttempts) {
      this.emit('error', {
        code: 'unauthorized',
        message: `gave up renewing the token after ${this.tokenFailures} failures in a row; the connection stops when the current token expires`,
      });
      return;
    }
    const { initialDelayMs, maxDelayMs, factor } = this.backoff;
    let delay = Math.min(maxDelayMs, initialDelayMs * factor ** (this.tokenFailures - 1));
    if (this.tokenExp !== null) delay = Math.min(delay, Math.max(0, (this.tokenExp - Date.now()) / 2));
    if (this.renewTimer !== null) clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      void this.renew(false);
    }, delay);
  }

  /** Closes the connection and releases listeners; the object is unusable afterwards. */
  destroy(): void {
    this.close();
    const g = globalThis as { removeEventListener?: (t: string, f: () => void) => void };
    g.removeEventListener?.('online', this.onBrowserOnline);
    g.removeEventListener?.('offline', this.onBrowserOffline);
    this.stopProbe();
    this.offlineStore?.releaseSid(this.currentSid);
    for (const { session } of [...this.docs.values()]) session.disconnected();
    this.docs.clear();
  }
}

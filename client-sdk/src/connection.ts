import { Emitter } from './emitter.js';
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
import { TextDoc, type TextDocOptions } from './doc.js';

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
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
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
  /** Access token (JWT), or a function returning one, called before every (re)connect. Omit in open mode. */
  token?: string | (() => string | Promise<string>);
  /**
   * How the token is sent: `'query'` (default; `?token=`, works in browsers) or
   * `'header'` (`Authorization: Bearer`, needs a WebSocket implementation that
   * accepts `{headers}`, such as `ws` in Node).
   */
  tokenTransport?: 'query' | 'header';
  /** WebSocket implementation; defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Name and colour announced to peers. */
  user?: UserInfo;
  /**
   * Client session id (16-64 chars of `[A-Za-z0-9_-]`). Defaults to one kept in
   * `sessionStorage` (stable per tab), or a random one when there is no storage.
   */
  sid?: string;
  /** Storage for `sid` and per-document `seq` counters; defaults to `sessionStorage` when available. `null` disables it. */
  storage?: StorageLike | null;
  /** Reconnect back-off (exponential with jitter). */
  reconnect?: Partial<ReconnectOptions>;
  /**
   * A connection on which no frame arrives for this long (ms) is treated as dead
   * and replaced (default 45000). After a third of it, the SDK probes the
   * server by re-joining an idle document with its version, which the server answers.
   */
  idleTimeoutMs?: number;
  /** Connect immediately (default true); otherwise call {@link Connection.connect}. */
  autoConnect?: boolean;
}

/** State of a {@link Connection}. */
export type ConnectionState = 'connecting' | 'online' | 'offline' | 'closed';

/** An error reported by a {@link Connection}: a server `error` frame not tied to a document, or a transport failure. */
export interface ConnectionError {
  /** Server error code (docs/protocol.md, section 8) or `transport` / `protocol` for client-side failures. */
  code: string;
  /** Human-readable detail. */
  message: string;
}

/** Events of {@link Connection}. */
export interface ConnectionEvents {
  /** Any state change. */
  state: { state: ConnectionState; previous: ConnectionState };
  /** A socket is being opened (attempt counts failures since the last success, from 0). */
  connecting: { attempt: number };
  /** The server welcomed us; documents re-join now. */
  online: { user: ServerUser; sid: string };
  /** The socket closed; `retryInMs` is null when no reconnect is planned. */
  offline: { code: number; reason: string; retryInMs: number | null };
  /**
   * Errors not tied to one document. An `unauthorized` error with a fixed
   * token (not a provider function) also closes the connection: retrying
   * with the same token cannot succeed.
   */
  error: ConnectionError;
}

const SID_KEY = 'tandem.sid';
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

/** A random id of 22 URL-safe characters (132 bits). */
export function randomId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const bytes = new Uint8Array(22);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += alphabet[b & 63];
  return s;
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
  /** This client's session id. */
  readonly sid: string;
  /** The user as the server knows it (after the first `welcome`). */
  user: ServerUser | null = null;

  private opts: ConnectionOptions;
  private readonly storage: StorageLike | null;
  private readonly seqs = new Map<string, number>();
  private readonly docs = new Map<string, TextDoc>();
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
  private readonly onBrowserOnline = (): void => {
    if (this._state === 'offline' && !this.closedByUser) this.reconnectNow();
  };

  /** Creates the connection and, unless `autoConnect` is false, starts connecting. */
  constructor(options: ConnectionOptions) {
    super();
    this.opts = { ...options };
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 45000;
    this.backoff = { initialDelayMs: 500, maxDelayMs: 30000, factor: 2, ...options.reconnect };
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
    this.sid = sid;
    const g = globalThis as { addEventListener?: (t: string, f: () => void) => void };
    g.addEventListener?.('online', this.onBrowserOnline);
    // Deferred so that listeners added right after construction see 'connecting'.
    if (options.autoConnect !== false) queueMicrotask(() => {
      if (this._state === 'offline' && !this.closedByUser) this.connect();
    });
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

  /** Current state. */
  get state(): ConnectionState {
    return this._state;
  }

  /** True when the server has welcomed this session and frames can flow. */
  get online(): boolean {
    return this.welcomed && this.ws !== null;
  }

  /** Starts connecting (again, after {@link close}). */
  connect(): void {
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
   * Opens (joins) a text document, or returns the already open one with this id.
   * The document is usable at once: local edits are queued until it is synced.
   */
  openDoc(id: string, options?: TextDocOptions): TextDoc {
    const existing = this.docs.get(id);
    if (existing !== undefined) return existing;
    const doc = new TextDoc(this, id, options);
    this.docs.set(id, doc);
    if (this.welcomed) doc._online();
    return doc;
  }

  /** The open documents. */
  get openDocs(): TextDoc[] {
    return [...this.docs.values()];
  }

  /** @internal Removes a document (after `leave` or deletion). */
  _forget(doc: TextDoc): void {
    if (this.docs.get(doc.id) === doc) this.docs.delete(doc.id);
  }

  /** @internal Sends a message if the session is welcomed; returns whether it was sent. */
  _send(msg: ClientMessage): boolean {
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
   * @internal Next `seq` for a document: strictly increasing per sid and
   * document, kept in storage so it survives reconnects and reloads.
   */
  _nextSeq(doc: string): number {
    const key = `tandem.seq.${this.sid}.${doc}`;
    let last = this.seqs.get(doc) ?? 0;
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
    const Impl = this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Impl === undefined) throw new Error('no WebSocket implementation: pass one as options.WebSocket (e.g. the `ws` package)');
    this.setState('connecting');
    this.emit('connecting', { attempt: this.attempt });
    let token: string | undefined;
    try {
      token = typeof this.opts.token === 'function' ? await this.opts.token() : this.opts.token;
    } catch (e) {
      this.emit('error', { code: 'unauthorized', message: `token provider failed: ${(e as Error).message}` });
      this.scheduleReconnect(0, 'token provider failed');
      return;
    }
    if (this.closedByUser) return;
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
      this.emit('error', { code: 'transport', message: `cannot open WebSocket: ${(e as Error).message}` });
      this.scheduleReconnect(0, 'cannot open');
      return;
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (this.ws !== ws) return;
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
    ws.onerror = () => {
      if (this.ws !== ws) return;
      this.emit('error', { code: 'transport', message: 'WebSocket error' });
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.handleClose(ev.code ?? 1006, ev.reason ?? '');
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
    let msgs: ServerMessage[];
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

  private dispatch(m: ServerMessage): void {
    if (m.t === 'welcome') {
      this.welcomed = true;
      this.attempt = 0;
      this.user = m.user;
      this.setState('online');
      this.emit('online', { user: m.user, sid: this.sid });
      for (const d of [...this.docs.values()]) d._online();
      return;
    }
    if (m.t === 'error' && (m.doc === undefined || !this.docs.has(m.doc))) {
      this.emit('error', { code: m.code, message: m.msg });
      if (m.code === 'unauthorized' && typeof this.opts.token !== 'function') {
        // The same token would be refused again: stop instead of retrying
        // forever, and fail the documents still waiting for their first sync.
        // (A token provider may yield a fresh token, so with one we retry.)
        this.close();
        for (const d of this.docs.values()) d._authFailed(m.msg);
      }
      return;
    }
    const doc = m.doc === undefined ? undefined : this.docs.get(m.doc);
    doc?._handle(m);
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
        for (const d of this.docs.values()) if (d._probe()) break;
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
    if (this.welcomed) {
      this.welcomed = false;
      for (const d of this.docs.values()) d._offline();
    }
  }

  private handleClose(code: number, reason: string): void {
    if (this.ws !== null) this.dropSocket(code, reason);
    this.stopIdleTimer();
    if (this.welcomed) {
      this.welcomed = false;
      for (const d of this.docs.values()) d._offline();
    }
    if (this.closedByUser) {
      this.setState('closed');
      this.emit('offline', { code, reason, retryInMs: null });
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  private scheduleReconnect(code: number, reason: string): void {
    const { initialDelayMs, maxDelayMs, factor } = this.backoff;
    const base = Math.min(maxDelayMs, initialDelayMs * factor ** this.attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.attempt++;
    this.setState('offline');
    this.emit('offline', { code, reason, retryInMs: delay });
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closedByUser) void this.open();
    }, delay);
  }

  /** Closes the connection and releases listeners; the object is unusable afterwards. */
  destroy(): void {
    this.close();
    const g = globalThis as { removeEventListener?: (t: string, f: () => void) => void };
    g.removeEventListener?.('online', this.onBrowserOnline);
    for (const d of [...this.docs.values()]) d._offline();
    this.docs.clear();
  }
}

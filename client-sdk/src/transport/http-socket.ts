/**
 * The HTTP fallback transport (docs/protocol.md, section 17): an object with
 * the WebSocket API the connection uses, which speaks the protocol over a
 * session stream per document (Server-Sent Events) and POSTs. The connection
 * switches to it when WebSockets cannot open, and nothing above the socket
 * changes: the same messages, in the same order, with the same guarantees.
 *
 * - `hello` is answered with `welcome` once `GET /healthz` answers (the
 *   server is reachable); the user id is filled in by the first `joined`.
 * - `join` opens `GET /v1/docs/{id}/events?sid=&name=&color=&from=v`; the
 *   replayed op events are collected into the `joined` message.
 * - `op` is `POST .../ops` with sid, seq and sel. Its ack is the own op
 *   coming back on the stream, in version order; the POST's answer is used
 *   only for errors and for a duplicate of an op older than the stream.
 * - `presence` is `POST .../presence`.
 * - Any failure of a stream or a POST (network, 5xx) closes the whole socket
 *   (code 1006): the connection reconnects and every document re-joins with
 *   its version and resubmits its op with the same `seq`.
 * - A `429` (docs/api.md, "Rate limit") is honoured: its `Retry-After` holds
 *   back every later POST of this socket until then, an op refused with it is
 *   answered `rate_limited` (resent with its `seq` once the pause is over),
 *   and a stream refused with it closes the socket with 1013 and
 *   `retryAfterMs`, which the connection waits at least before reconnecting.
 * @module
 */
import { decode, encode } from '@msgpack/msgpack';
import type { ClientMessage, ServerMessage, ServerUser, WireOpEntry, WirePeer } from '../protocol.js';
import { readSSE, type SSEEvent } from './sse.js';

/** The fetch function the transport uses (the global one by default). */
export type FetchLike = (input: string, init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<{
  ok: boolean;
  status: number;
  body: ReadableStream<Uint8Array> | null;
  json(): Promise<unknown>;
  text(): Promise<string>;
  headers?: { get(name: string): string | null };
}>;

/**
 * The pause a `429` asks for, in milliseconds, from its `Retry-After` header
 * (whole seconds, or an HTTP date); null when it has none that can be read.
 */
export function retryAfterMs(res: { headers?: { get(name: string): string | null } }, now = Date.now()): number | null {
  const h = res.headers?.get('Retry-After')?.trim();
  if (h === undefined || h === '') return null;
  if (/^\d+$/.test(h)) return Number(h) * 1000;
  // An HTTP date ends in "GMT" in each of its three forms (RFC 9110, 5.6.7).
  const at = /GMT$/.test(h) ? Date.parse(h) : NaN;
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The endpoints of a server, from its WebSocket URL. */
export function httpBase(wsUrl: string): { base: string; token: string | null } {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  const token = u.searchParams.get('token');
  const path = u.pathname.replace(/\/v1\/ws\/?$/, '');
  return { base: `${u.protocol}//${u.host}${path === '/' ? '' : path}`, token };
}

interface Stream {
  abort: AbortController;
  /** The version the client holds after the ops seen on this stream (-1 before joined without from). */
  v: number;
  joined: boolean;
  buffered: WireOpEntry<unknown>[];
}

/** Problem documents (docs/api.md, "Errors") carry the protocol's error code. */
async function problem(res: { status: number; json(): Promise<unknown> }): Promise<{ code: string; msg: string }> {
  let code = res.status === 429 ? 'rate_limited' : res.status === 404 ? 'not_found' : res.status === 403 ? 'forbidden' : res.status === 401 ? 'unauthorized' : 'internal';
  let msg = `HTTP ${res.status}`;
  try {
    const b = (await res.json()) as { code?: unknown; detail?: unknown; title?: unknown };
    if (typeof b.code === 'string') code = b.code;
    if (typeof b.detail === 'string') msg = b.detail;
    else if (typeof b.title === 'string') msg = b.title;
  } catch {
    // not JSON: keep the status
  }
  return { code, msg };
}

/** The constructor shape {@link httpSocketClass} returns (that of a WebSocket). */
export type HttpSocketConstructor = new (url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) => HttpSocket;

/**
 * A class with the WebSocket constructor's shape whose instances carry the
 * protocol over HTTP with `fetch` (default: the global one).
 */
export function httpSocketClass(fetchImpl?: FetchLike): HttpSocketConstructor {
  return class extends HttpSocket {
    constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
      super(url, protocols, options, fetchImpl);
    }
  };
}

/** One "socket" of the HTTP fallback: the WebSocket API over session streams and POSTs. */
export class HttpSocket {
  binaryType = 'arraybuffer';
  readyState = 0;
  readonly protocol = 'tandem.v1';
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code?: number; reason?: string; retryAfterMs?: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  private readonly base: string;
  /** No POST leaves before this time (ms since the epoch): the server's last Retry-After. */
  private pausedUntil = 0;
  private readonly headers: Record<string, string> = {};
  private readonly fetch: FetchLike;
  private sid = '';
  private user: { name?: string; color?: string } = {};
  private readonly streams = new Map<string, Stream>();
  private closed = false;
  /** The user the server knows, from the first joined event. */
  private known: ServerUser | null = null;

  constructor(url: string, _protocols?: string | string[], options?: { headers?: Record<string, string> }, fetchImpl?: FetchLike) {
    const { base, token } = httpBase(url);
    this.base = base;
    const auth = options?.headers?.Authorization ?? (token !== null ? `Bearer ${token}` : undefined);
    if (auth !== undefined) this.headers.Authorization = auth;
    const f = fetchImpl ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (typeof f !== 'function') throw new TypeError('@tandem/client: the HTTP fallback needs fetch');
    this.fetch = f.bind(globalThis) as FetchLike;
    setTimeout(() => {
      if (this.closed) return;
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error('socket not open');
    const m = decode(data) as ClientMessage<unknown, unknown>;
    switch (m.t) {
      case 'hello':
        this.sid = m.sid;
        this.user = m.user ?? {};
        void this.hello();
        return;
      case 'join':
        this.openStream(m.doc, m.v);
        return;
      case 'leave':
        this.stopStream(m.doc);
        return;
      case 'op':
        void this.postOp(m);
        return;
      case 'auth':
        // A renewed token: an event stream cannot take it in place (docs/api.md, "Token
        // expiry on event streams"), so the streams reopen with it: the connection
        // reconnects, asking for the token again, and every document resumes at its version.
        this.headers.Authorization = `Bearer ${m.token}`;
        this.fail('token renewed: the event streams reopen with it');
        return;
      case 'presence':
        void this.post(`/v1/docs/${encodeURIComponent(m.doc)}/presence`, { sid: this.sid, v: m.v, sel: m.sel, ...(m.data !== undefined ? { data: m.data } : {}) }).catch(() => undefined);
        return;
    }
  }

  close(code = 1000, reason = '', retryAfter?: number): void {
    if (this.closed) return;
    this.closed = true;
    this.readyState = 3;
    for (const s of this.streams.values()) s.abort.abort();
    this.streams.clear();
    setTimeout(() => this.onclose?.({ code, reason, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) }), 0);
  }

  /** A failure: the connection reconnects (and every document re-joins). */
  private fail(reason: string): void {
    if (this.closed) return;
    this.onerror?.({ message: reason });
    this.close(1006, reason);
  }

  private deliver(m: ServerMessage<unknown, unknown> | ServerMessage<unknown, unknown>[]): void {
    if (this.closed) return;
    const bytes = encode(m, { ignoreUndefined: true });
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  private async hello(): Promise<void> {
    try {
      const res = await this.fetch(`${this.base}/healthz`, { headers: { ...this.headers } });
      if (!res.ok) throw new Error(`GET /healthz answered HTTP ${res.status}`);
    } catch (e) {
      this.fail(`the server is not reachable over HTTP: ${(e as Error).message}`);
      return;
    }
    const user = this.known ?? { id: '', name: this.user.name ?? '', color: this.user.color ?? '' };
    this.deliver({ t: 'welcome', proto: 1, sid: this.sid, user });
  }

  private stopStream(doc: string): void {
    this.streams.get(doc)?.abort.abort();
    this.streams.delete(doc);
  }

  private openStream(doc: string, from: number | undefined): void {
    this.stopStream(doc);
    const s: Stream = { abort: new AbortController(), v: from ?? -1, joined: false, buffered: [] };
    this.streams.set(doc, s);
    const q = new URLSearchParams({ sid: this.sid });
    if (this.user.name) q.set('name', this.user.name);
    if (this.user.color) q.set('color', this.user.color);
    if (from !== undefined) q.set('from', String(from));
    void this.runStream(doc, s, `${this.base}/v1/docs/${encodeURIComponent(doc)}/events?${q.toString()}`, from);
  }

  private async runStream(doc: string, s: Stream, url: string, from: number | undefined): Promise<void> {
    try {
      const res = await this.fetch(url, { headers: { ...this.headers, Accept: 'text/event-stream' }, signal: s.abort.signal });
      if (s.abort.signal.aborted) return;
      if (!res.ok || res.body === null) {
        if ((res.status === 409 || res.status === 410) && from !== undefined) {
          this.openStream(doc, undefined); // cannot resume there: take the whole text
          return;
        }
        if (res.status === 429) {
          const wait = retryAfterMs(res);
          this.close(1013, `the event stream of ${doc} answered HTTP 429 (rate limited)`, wait ?? undefined);
          return;
        }
        if (res.status >= 500) {
          this.fail(`the event stream of ${doc} answered HTTP ${res.status}`);
          return;
        }
        const p = await problem(res);
        this.streams.delete(doc);
        this.deliver({ t: 'error', code: p.code, msg: p.msg, ...(res.status === 401 ? {} : { doc }) });
        return;
      }
      await readSSE(
        res.body,
        (e) => {
          if (!s.abort.signal.aborted) this.onEvent(doc, s, e);
        },
        () => {
          if (!s.abort.signal.aborted) this.deliver([]); // a heartbeat: the connection is alive
        },
      );
      if (!s.abort.signal.aborted) this.fail(`the event stream of ${doc} ended`);
    } catch (e) {
      if (!s.abort.signal.aborted) this.fail(`the event stream of ${doc} failed: ${(e as Error).message}`);
    }
  }

  private onEvent(doc: string, s: Stream, e: SSEEvent): void {
    let d: Record<string, unknown>;
    try {
      d = JSON.parse(e.data) as Record<string, unknown>;
    } catch {
      this.fail(`undecodable ${e.event} event on ${doc}`);
      return;
    }
    switch (e.event) {
      case 'op': {
        const entry = { v: d.v as number, op: d.op, sid: d.sid as string, seq: d.seq as number };
        s.v = entry.v + 1;
        if (!s.joined) s.buffered.push(entry);
        else this.deliver({ t: 'op', doc, ...entry, ...(d.sel !== undefined && d.sel !== null ? { sel: d.sel } : {}) });
        return;
      }
      case 'joined': {
        s.joined = true;
        s.v = d.v as number;
        if (this.known === null && typeof d.user === 'object' && d.user !== null) this.known = d.user as ServerUser;
        const ops = s.buffered;
        s.buffered = [];
        // The whole content (under its type's key: text, tree) when the stream was opened without a version.
        const { v, type, mode, peers, user: _user, ...content } = d;
        const base = {
          t: 'joined' as const,
          doc,
          v: v as number,
          peers: (peers ?? []) as WirePeer<unknown>[],
          mode: mode === 'r' ? ('r' as const) : ('rw' as const),
          ...(typeof type === 'string' ? { type } : {}),
        };
        this.deliver(Object.keys(content).length > 0 ? { ...base, ...content } : { ...base, ops });
        return;
      }
      case 'presence':
        this.deliver({ t: 'presence', doc, v: d.v as number, peers: (d.peers ?? []) as WirePeer<unknown>[], gone: (d.gone ?? []) as string[] });
        return;
      case 'unauthorized':
        // The token expired on the stream: as a WebSocket would, say so and close
        // (4401); the connection reconnects with a fresh token from getToken.
        this.deliver({ t: 'error', code: 'unauthorized', msg: String(d.msg ?? 'token expired') });
        this.close(4401, 'token expired');
        return;
      case 'deleted':
        this.streams.delete(doc);
        this.deliver({ t: 'error', code: 'deleted', msg: 'the document was deleted', doc });
        return;
      case 'error':
        this.deliver({ t: 'error', code: String(d.code), msg: String(d.msg), doc, ...(typeof d.seq === 'number' ? { seq: d.seq } : {}) });
        return;
    }
  }

  private async post(path: string, body: unknown) {
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const res = await this.fetch(`${this.base}${path}`, { method: 'POST', headers: { ...this.headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status === 429) {
      // Without a readable Retry-After, a second: the server's buckets refill within it.
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + (retryAfterMs(res) ?? 1000));
    }
    return res;
  }

  private async postOp(m: Extract<ClientMessage<unknown, unknown>, { t: 'op' }>): Promise<void> {
    let res;
    try {
      res = await this.post(`/v1/docs/${encodeURIComponent(m.doc)}/ops`, { v: m.v, op: m.op, sid: this.sid, seq: m.seq, ...(m.sel !== undefined && m.sel !== null ? { sel: m.sel } : {}) });
    } catch (e) {
      // The op may or may not be committed: resubmitted with its seq after the reconnect.
      this.fail(`POST of an op failed: ${(e as Error).message}`);
      return;
    }
    if (res.ok) {
      const { v } = (await res.json()) as { v: number };
      const s = this.streams.get(m.doc);
      // Committed before what the stream has passed (a duplicate): the ack will not come on the stream.
      if (s !== undefined && s.joined && v < s.v) this.deliver({ t: 'ack', doc: m.doc, seq: m.seq, v });
      return;
    }
    if (res.status >= 500) {
      this.fail(`POST of an op answered HTTP ${res.status}`);
      return;
    }
    const p = await problem(res);
    this.deliver({ t: 'error', code: p.code, msg: p.msg, doc: m.doc, seq: m.seq });
  }
}

/*
 * Test-only in-memory implementation of the server side of docs/protocol.md,
 * with a real OT transform, behind a fake WebSocket with random delivery delays,
 * coalesced frames and disconnects. Timers are meant to be faked (vi.useFakeTimers).
 */
import { decode, encode } from '@msgpack/msgpack';
import { apply, transformPair, transformSelectionPast, type Selection } from '../../src/ot/index.js';
import * as rich from '../../src/rich/index.js';
import type { ClientMessage, ServerMessage, WirePeer } from '../../src/protocol.js';
import { Connection, type WebSocketConstructor } from '../../src/connection.js';
import { checkBase, transform as transformTree, TreeContent, TreeError, validateOp, type TreeJSON, type TreeOp } from '../../src/tree/index.js';

/** One committed op as the fake server's log keeps it. */
export interface LogEntry {
  v: number;
  /** The op as applied (a tree op without what it dropped). */
  op: unknown;
  sid: string;
  seq: number;
  /** Tree documents: the ids the op's deletes removed (for checkBase and selections). */
  removed?: string[];
}

/** An op the fake server refuses whole, with the code the Go server answers. */
export class FakeRefusal extends Error {
  constructor(
    readonly code: 'invalid_op' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

/**
 * What the fake server needs of a document type: the server side of
 * docs/protocol.md's types (text, rich, tree), with the same rules as the Go
 * server's doctype.Type: an op is checked against its own version, moved past
 * every op committed since, then applied, and what it applied is what the log
 * keeps and the peers receive (for a tree: without the actions it dropped).
 * Selections move with every committed op and are fitted to the content.
 */
export interface FakeDocType {
  name: string;
  /** The key of the content in a joined message. */
  contentKey: string;
  /** A new document's content. */
  empty(): unknown;
  /** The content as a joined message carries it. */
  toWire(content: unknown): unknown;
  /** Checks an op as sent against the content now and the entries committed since its version; returns it decoded. Throws {@link FakeRefusal}. */
  check(op: unknown, content: unknown, since: readonly LogEntry[]): unknown;
  /** `op` by `sid` moved past `committed` by `committedSid`, and `committed` moved past `op` (to move the author's selection). Throws {@link FakeRefusal}. */
  transformPair(op: unknown, sid: string, committed: unknown, committedSid: string): [unknown, unknown];
  /** Applies `op` to `content` (maybe in place): the new content and the entry's op as applied. Throws {@link FakeRefusal}, the content unchanged. */
  apply(content: unknown, op: unknown): { content: unknown; applied: unknown; removed?: string[] };
  /** `owner`'s selection moved past a committed op (`e.op` by `e.sid`). */
  moveSelection(sel: Selection, owner: string, e: Pick<LogEntry, 'op' | 'sid' | 'removed'>): Selection;
  /** The selection without what the content no longer has (a tree's deleted ids). */
  fitSelection(content: unknown, sel: Selection): Selection;
}

/** A text or rich op that does not fit: refused with invalid_op, as the Go server does. */
function refuseInvalid<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new FakeRefusal('invalid_op', (e as Error).message);
  }
}

/** The `text` type on the fake server. */
export const fakeText: FakeDocType = {
  name: 'text',
  contentKey: 'text',
  empty: () => '',
  toWire: (c) => c,
  check: (op) => op,
  transformPair: (op, sid, committed, committedSid) => refuseInvalid(() => transformPair(op as never, sid, committed as never, committedSid)),
  apply: (c, op) => {
    const content = refuseInvalid(() => apply(c as string, op as never));
    return { content, applied: op };
  },
  moveSelection: (sel, owner, e) => transformSelectionPast(sel, owner, e.op as never, e.sid),
  fitSelection: (_c, sel) => sel,
};

/** The `rich` type on the fake server. */
export const fakeRich: FakeDocType = {
  name: 'rich',
  contentKey: 'text',
  empty: () => ['\n'],
  toWire: (c) => c,
  check: (op) => op,
  transformPair: (op, sid, committed, committedSid) => refuseInvalid(() => rich.transformPair(op as rich.RichOp, sid, committed as rich.RichOp, committedSid)),
  apply: (c, op) => {
    const content = refuseInvalid(() => rich.apply(c as rich.Delta, op as rich.RichOp));
    return { content, applied: op };
  },
  moveSelection: (sel, owner, e) => rich.transformSelection(sel, e.op as rich.RichOp, owner !== '' && owner === e.sid),
  fitSelection: (_c, sel) => sel,
};

/** A tree error as the Go server answers it: too_large for the size limits, invalid_op for the rest. */
function treeRefusal(e: unknown): FakeRefusal {
  if (e instanceof FakeRefusal) return e;
  return new FakeRefusal(e instanceof TreeError && e.kind === 'too_large' ? 'too_large' : 'invalid_op', (e as Error).message);
}

/**
 * The `tree` type on the fake server: content is a {@link TreeContent}
 * changed in place; an op is validated and checked against its own version
 * (checkBase), transformed, and applied with drops (actions on deleted
 * objects, cycle-making moves...), as the Go server does. A selection is the
 * ids of existing objects: a committed op takes out the ids it removed.
 */
export const fakeTree: FakeDocType = {
  name: 'tree',
  contentKey: 'tree',
  empty: () => new TreeContent(),
  toWire: (c) => (c as TreeContent).toJSON(),
  check: (op, c, since) => {
    try {
      const t = validateOp(op);
      checkBase(t, c as TreeContent, since.map((e) => ({ op: e.op as TreeOp, removed: e.removed ?? [] })));
      return t;
    } catch (e) {
      throw treeRefusal(e);
    }
  },
  transformPair: (op, sid, committed, committedSid) => {
    try {
      return [transformTree(op as TreeOp, committed as TreeOp, sid, committedSid), committed];
    } catch (e) {
      throw treeRefusal(e);
    }
  },
  apply: (c, op) => {
    try {
      const r = (c as TreeContent).apply(op as TreeOp);
      return { content: c, applied: r.applied, removed: r.removed };
    } catch (e) {
      throw treeRefusal(e);
    }
  },
  moveSelection: (sel, _owner, e) => {
    if (!Array.isArray(sel)) return null;
    const gone = new Set(e.removed ?? []);
    for (const a of e.op as TreeOp) if (a[0] === 'del') gone.add(a[1]);
    const out = (sel as unknown[]).filter((id) => !gone.has(id as string));
    return (out.length > 0 ? out : null) as unknown as Selection;
  },
  fitSelection: (c, sel) => {
    if (!Array.isArray(sel)) return null;
    return (c as TreeContent).filterSelection((sel as unknown[]).filter((x): x is string => typeof x === 'string')) as unknown as Selection;
  },
};

interface DocState {
  type: FakeDocType;
  /** The content (a string for text, a Delta for rich, a TreeContent for tree). */
  content: unknown;
  /** The content of a text document (read and set). */
  text: string;
  /** The content of a tree document. */
  readonly tree: TreeContent;
  log: LogEntry[];
  committed: Map<string, number>;
  lastSeq: Map<string, number>;
  subs: Set<Session>;
  peers: Map<string, { user: WirePeer['user']; sel: Selection; data: WirePeer['data'] }>;
}

/** Server-side end of one fake socket (exported for the stepped network of the interleaving tests). */
export class Session {
  sid: string | null = null;
  user = { id: '', name: '', color: '' };
  readonly docs = new Set<string>();
  outbox: ServerMessage[] = [];
  flushScheduled = false;
  constructor(readonly sock: FakeSocket) {}
}

/** Options of {@link FakeServer}. */
export interface FakeServerOptions {
  /** Random source (seeded). */
  random: () => number;
  /** Max one-way delay in ms. */
  maxDelayMs?: number;
  /** When true, re-joins with v get the full text instead of ops. */
  noHistory?: boolean;
  /** The type of each document, by id (default: text). */
  typeOf?: (id: string) => FakeDocType;
  /** When true, joining a document nobody created is `not_found` (as on the Go server); otherwise it creates an empty text document. */
  strictDocs?: boolean;
}

/** Records protocol invariant violations seen by the fake server. */
export class FakeServer {
  readonly docs = new Map<string, DocState>();
  readonly violations: string[] = [];
  readonly sockets = new Set<FakeSocket>();
  /** Every frame the server received, decoded (for assertions). */
  readonly received: ClientMessage[] = [];
  constructor(readonly opts: FakeServerOptions) {}

  doc(id: string): DocState {
    let d = this.docs.get(id);
    if (d === undefined) {
      const type = this.opts.typeOf?.(id) ?? fakeText;
      d = {
        type,
        content: type.empty(),
        get text(): string {
          if (typeof this.content !== 'string') throw new Error(`fake server: ${id} is a ${this.type.name} document, not text`);
          return this.content;
        },
        set text(t: string) {
          this.content = t;
        },
        get tree(): TreeContent {
          if (!(this.content instanceof TreeContent)) throw new Error(`fake server: ${id} is a ${this.type.name} document, not tree`);
          return this.content;
        },
        log: [],
        committed: new Map(),
        lastSeq: new Map(),
        subs: new Set(),
        peers: new Map(),
      };
      this.docs.set(id, d);
    }
    return d;
  }

  /** Creates tree document `id` (as `POST /v1/docs {type: "tree", content}` would). */
  createTree(id: string, content: TreeJSON = {}): DocState {
    const d = this.doc(id);
    d.type = fakeTree;
    d.content = TreeContent.fromJSON(content);
    return d;
  }

  /** A WebSocket class whose instances connect to this server. */
  get WebSocket(): WebSocketConstructor {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const server = this;
    return class extends FakeSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(server, url, protocols);
      }
    };
  }

  delay(): number {
    return Math.floor(this.opts.random() * (this.opts.maxDelayMs ?? 20));
  }

  /** Drops every live socket (as a network failure: queued frames are lost). */
  dropAll(): void {
    for (const s of [...this.sockets]) s.fail();
  }

  send(s: Session, m: ServerMessage): void {
    s.outbox.push(m);
    if (s.flushScheduled) return;
    s.flushScheduled = true;
    setTimeout(() => {
      s.flushScheduled = false;
      const msgs = s.outbox;
      s.outbox = [];
      if (msgs.length > 1 && this.opts.random() < 0.5) s.sock.toClient(encode(msgs));
      else for (const m2 of msgs) s.sock.toClient(encode(m2));
    }, 0);
  }

  receive(s: Session, bytes: Uint8Array): void {
    const m = decode(bytes) as ClientMessage;
    this.received.push(m);
    if (s.sid === null) {
      if (m.t !== 'hello') {
        this.violations.push(`first message was ${m.t}, not hello`);
        return;
      }
      s.sid = m.sid;
      s.user = { id: `u-${m.sid.slice(0, 4)}`, name: m.user?.name ?? 'anon', color: m.user?.color ?? '#000' };
      this.send(s, { t: 'welcome', proto: 1, sid: m.sid, user: s.user });
      return;
    }
    const sid = s.sid;
    switch (m.t) {
      case 'join': {
        if (this.opts.strictDocs === true && !this.docs.has(m.doc)) {
          this.send(s, { t: 'error', code: 'not_found', msg: `document ${m.doc} not found`, doc: m.doc });
          return;
        }
        const d = this.doc(m.doc);
        const peers: WirePeer[] = [...d.peers.entries()].filter(([k]) => k !== sid).map(([k, p]) => ({ sid: k, user: p.user, sel: p.sel, data: p.data }));
        const v = d.log.length;
        if (m.v !== undefined && m.v > v) this.violations.push(`join with v ${m.v} beyond ${v}`);
        if (m.v !== undefined && m.v <= v && !this.opts.noHistory) {
          this.send(s, { t: 'joined', doc: m.doc, type: d.type.name, v, ops: d.log.slice(m.v).map(({ v: ev, op, sid: es, seq }) => ({ v: ev, op, sid: es, seq })), peers, mode: 'rw' } as ServerMessage);
        } else {
          this.send(s, { t: 'joined', doc: m.doc, type: d.type.name, v, [d.type.contentKey]: d.type.toWire(d.content), peers, mode: 'rw' } as ServerMessage);
        }
        const fresh = !d.subs.has(s);
        d.subs.add(s);
        s.docs.add(m.doc);
        if (fresh) {
          d.peers.set(sid, { user: s.user, sel: null, data: null });
          this.broadcast(m.doc, s, { t: 'presence', doc: m.doc, v, peers: [{ sid, user: s.user, sel: null, data: null }] });
        }
        return;
      }
      case 'leave':
        this.unsubscribe(s, m.doc);
        return;
      case 'op': {
        const d = this.doc(m.doc);
        if (!d.subs.has(s)) {
          this.violations.push(`op on unjoined doc from ${sid}`);
          return;
        }
        const key = `${sid}:${m.seq}`;
        const prior = d.committed.get(key);
        if (prior !== undefined) {
          this.send(s, { t: 'ack', doc: m.doc, seq: m.seq, v: prior });
          return;
        }
        const last = d.lastSeq.get(sid) ?? 0;
        if (m.seq <= last) this.violations.push(`seq ${m.seq} not above ${last} for ${sid}`);
        if (m.v > d.log.length || m.v < 0) {
          this.violations.push(`op at v ${m.v} beyond ${d.log.length}`);
          this.send(s, { t: 'error', code: 'bad_request', msg: 'v ahead', doc: m.doc, seq: m.seq });
          return;
        }
        this.commit(s, sid, d, m);
        return;
      }
      case 'presence': {
        const d = this.doc(m.doc);
        if (m.v !== d.log.length && m.v > d.log.length) this.violations.push(`presence at v ${m.v} ahead`);
        let sel = m.sel;
        for (const e of d.log.slice(m.v)) sel = d.type.moveSelection(sel, sid, e);
        sel = d.type.fitSelection(d.content, sel);
        const p = d.peers.get(sid);
        if (p === undefined) return;
        p.sel = sel;
        if (m.data !== undefined) p.data = m.data;
        this.broadcast(m.doc, s, { t: 'presence', doc: m.doc, v: d.log.length, peers: [{ sid, user: s.user, sel, data: p.data }] });
        return;
      }
      default:
        this.violations.push(`unexpected message ${(m as { t: string }).t}`);
    }
  }

  /**
   * An op of any type: checked against its own version, moved past what was
   * committed since (the author's selection with it), applied (a tree drops
   * what no longer applies), then the peers' selections move past it, as on
   * the Go server.
   */
  private commit(s: Session, sid: string, d: DocState, m: { doc: string; v: number; seq: number; op: unknown; sel?: Selection | undefined }): void {
    const since = d.log.slice(m.v);
    let op: unknown;
    let sel: Selection | undefined = m.sel ?? undefined;
    let r: ReturnType<FakeDocType['apply']>;
    try {
      op = d.type.check(m.op, d.content, since);
      for (const e of since) {
        // Ties by sid; the author's selection (after its op) moves by the
        // committed op as it looks past the author's op.
        const [past, committedPast] = d.type.transformPair(op, sid, e.op, e.sid);
        op = past;
        if (sel !== undefined && sel !== null) sel = d.type.moveSelection(sel, sid, { op: committedPast, sid: e.sid, removed: e.removed ?? [] });
      }
      r = d.type.apply(d.content, op);
    } catch (e) {
      if (!(e instanceof FakeRefusal)) throw e;
      this.violations.push(`${d.type.name} op from ${sid} refused: ${e.message}`);
      this.send(s, { t: 'error', code: e.code, msg: e.message, doc: m.doc, seq: m.seq });
      return;
    }
    const v = d.log.length;
    const entry: LogEntry = { v, op: r.applied, sid, seq: m.seq, ...(r.removed !== undefined ? { removed: r.removed } : {}) };
    d.content = r.content;
    d.log.push(entry);
    d.committed.set(`${sid}:${m.seq}`, v);
    d.lastSeq.set(sid, m.seq);
    for (const [peer, p] of d.peers) p.sel = d.type.fitSelection(d.content, d.type.moveSelection(p.sel, peer, entry));
    if (sel !== undefined) {
      sel = d.type.fitSelection(d.content, sel);
      const p = d.peers.get(sid);
      if (p !== undefined) p.sel = sel;
    }
    this.send(s, { t: 'ack', doc: m.doc, seq: m.seq, v });
    this.broadcast(m.doc, s, { t: 'op', doc: m.doc, v, op: r.applied as never, sid, seq: m.seq, ...(sel !== undefined ? { sel } : {}) });
  }

  broadcast(docId: string, from: Session, m: ServerMessage): void {
    const d = this.doc(docId);
    for (const s of d.subs) if (s !== from) this.send(s, m);
  }

  unsubscribe(s: Session, docId: string): void {
    const d = this.doc(docId);
    if (!d.subs.delete(s)) return;
    s.docs.delete(docId);
    if (s.sid !== null && ![...d.subs].some((o) => o.sid === s.sid)) {
      d.peers.delete(s.sid);
      this.broadcast(docId, s, { t: 'presence', doc: docId, v: d.log.length, peers: [], gone: [s.sid] });
    }
  }

  disconnect(s: Session): void {
    for (const id of [...s.docs]) this.unsubscribe(s, id);
  }
}

/** What the SDK sets and calls on a socket: the base of every test socket. */
export class SocketStub {
  binaryType = 'blob';
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
}

/** The client-facing fake WebSocket (constructed by the SDK through {@link FakeServer.WebSocket}). */
export class FakeSocket extends SocketStub {
  readonly protocol: string;
  private readonly session: Session;
  private lastToServer = 0;
  private lastToClient = 0;
  private alive = true;
  readonly url: string;

  constructor(
    private readonly server: FakeServer,
    url: string,
    protocols?: string | string[],
  ) {
    super();
    this.url = url;
    this.protocol = Array.isArray(protocols) ? (protocols[0] ?? '') : (protocols ?? '');
    if (this.protocol !== 'tandem.v1') server.violations.push(`subprotocol ${this.protocol}`);
    this.session = new Session(this);
    server.sockets.add(this);
    setTimeout(() => {
      if (!this.alive) return;
      this.readyState = 1;
      this.onopen?.({});
    }, server.delay());
  }

  private at(last: 'lastToServer' | 'lastToClient'): number {
    const t = Math.max(Date.now() + this.server.delay(), this[last]);
    this[last] = t;
    return t - Date.now();
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error('socket not open');
    if (!(data instanceof Uint8Array)) this.server.violations.push('client sent a non-binary frame');
    const copy = data.slice();
    setTimeout(() => {
      if (this.alive) this.server.receive(this.session, copy);
    }, this.at('lastToServer'));
  }

  toClient(bytes: Uint8Array): void {
    setTimeout(() => {
      if (!this.alive) return;
      const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      this.onmessage?.({ data: this.binaryType === 'arraybuffer' ? buf : bytes });
    }, this.at('lastToClient'));
  }

  /** Client-initiated close. */
  close(code = 1000, reason = ''): void {
    if (!this.alive) return;
    this.kill();
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }

  /** Network failure: frames in flight are lost both ways. */
  fail(): void {
    if (!this.alive) return;
    this.kill();
    setTimeout(() => this.onclose?.({ code: 1006, reason: '' }), this.server.delay());
  }

  private kill(): void {
    this.alive = false;
    this.readyState = 3;
    this.server.sockets.delete(this);
    this.server.disconnect(this.session);
  }
}

/** In-memory Web Storage stand-in. */
export class MemoryStorage {
  private readonly m = new Map<string, string>();
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, v);
  }
}

/** Client `i`'s connection to a fake server (stable sid, quick reconnects, no idle timeout in virtual time). */
export function fakeConnection(server: FakeServer, i: number, storage: MemoryStorage): Connection {
  return new Connection({
    url: 'ws://fake/v1/ws',
    WebSocket: server.WebSocket,
    sid: `client-${i}-aaaaaaaaaaaa`,
    storage,
    user: { name: `user${i}`, color: '#123456' },
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    idleTimeoutMs: 600_000,
  });
}

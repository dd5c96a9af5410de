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

/**
 * What the fake server needs of a document type: the server side of
 * docs/protocol.md's types (text, rich), with the same transform as the Go
 * server's.
 */
export interface FakeDocType {
  name: string;
  contentKey: string;
  empty(): unknown;
  apply(content: unknown, op: unknown): unknown;
  transformPair(op: unknown, sid: string, committed: unknown, committedSid: string): [unknown, unknown];
  transformSelectionPast(sel: Selection, owner: string, op: unknown, author: string): Selection;
}

/** The `text` type on the fake server. */
export const fakeText: FakeDocType = {
  name: 'text',
  contentKey: 'text',
  empty: () => '',
  apply: (c, op) => apply(c as string, op as never),
  transformPair: (op, sid, committed, committedSid) => transformPair(op as never, sid, committed as never, committedSid),
  transformSelectionPast: (sel, owner, op, author) => transformSelectionPast(sel, owner, op as never, author),
};

/** The `rich` type on the fake server. */
export const fakeRich: FakeDocType = {
  name: 'rich',
  contentKey: 'text',
  empty: () => ['\n'],
  apply: (c, op) => rich.apply(c as rich.Delta, op as rich.RichOp),
  transformPair: (op, sid, committed, committedSid) => rich.transformPair(op as rich.RichOp, sid, committed as rich.RichOp, committedSid),
  transformSelectionPast: (sel, owner, op, author) => rich.transformSelection(sel, op as rich.RichOp, owner !== '' && owner === author),
};

/**
 * The `tree` type on the fake server: a marker, since tree documents keep
 * their content in DocState.tree and go through treeOp and treeSel, which
 * check, transform and apply with drops as the Go server does.
 */
export const fakeTree: FakeDocType = {
  name: 'tree',
  contentKey: 'tree',
  empty: () => null,
  apply: () => {
    throw new Error('fake server: tree ops go through treeOp');
  },
  transformPair: () => {
    throw new Error('fake server: tree ops go through treeOp');
  },
  transformSelectionPast: () => {
    throw new Error('fake server: tree selections go through treeSel');
  },
};

interface LogEntry {
  v: number;
  op: unknown;
  sid: string;
  seq: number;
  /** Tree documents: the ids the op's deletes removed (for checkBase). */
  removed?: string[];
}

interface DocState {
  type: FakeDocType;
  /** The content (a string for text, a Delta for rich). */
  content: unknown;
  /** The content of a text document (read and set). */
  text: string;
  tree: TreeContent;
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
          if (typeof this.content !== 'string') throw new Error(`fake server: ${id} is a ${type.name} document, not text`);
          return this.content;
        },
        set text(t: string) {
          this.content = t;
        },
        tree: new TreeContent(),
        log: [], committed: new Map(), lastSeq: new Map(), subs: new Set(), peers: new Map() };
      this.docs.set(id, d);
    }
    return d;
  }

  /** Creates tree document `id` (as `POST /v1/docs {type: "tree", content}` would). */
  createTree(id: string, content: TreeJSON = {}): DocState {
    const d = this.doc(id);
    d.type = fakeTree;
    d.tree = TreeContent.fromJSON(content);
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
        } else if (d.type === fakeTree) {
          this.send(s, { t: 'joined', doc: m.doc, v, type: 'tree', tree: d.tree.toJSON(), peers, mode: 'rw' } as ServerMessage);
        } else {
          this.send(s, { t: 'joined', doc: m.doc, type: d.type.name, v, [d.type.contentKey]: d.content, peers, mode: 'rw' } as ServerMessage);
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
        if (d.type === fakeTree) {
          this.treeOp(s, sid, d, m as unknown as { doc: string; v: number; seq: number; op: unknown; sel?: unknown });
          return;
        }
        let op = m.op;
        let sel: Selection | undefined = m.sel ?? undefined;
        for (const e of d.log.slice(m.v)) {
          // Ties by sid; the author's selection (after its op) moves by the
          // committed op as it looks past the author's op.
          const [past, committedPast] = d.type.transformPair(op, sid, e.op, e.sid);
          op = past as typeof op;
          if (sel !== undefined && sel !== null) sel = d.type.transformSelectionPast(sel, sid, committedPast, e.sid);
        }
        let text: unknown;
        try {
          text = d.type.apply(d.content, op);
        } catch (e) {
          this.violations.push(`invalid op from ${sid}: ${(e as Error).message}`);
          this.send(s, { t: 'error', code: 'invalid_op', msg: (e as Error).message, doc: m.doc, seq: m.seq });
          return;
        }
        const v = d.log.length;
        d.content = text;
        d.log.push({ v, op, sid, seq: m.seq });
        d.committed.set(key, v);
        d.lastSeq.set(sid, m.seq);
        if (sel !== undefined) {
          const p = d.peers.get(sid);
          if (p !== undefined) p.sel = sel;
        }
        this.send(s, { t: 'ack', doc: m.doc, seq: m.seq, v });
        this.broadcast(m.doc, s, { t: 'op', doc: m.doc, v, op, sid, seq: m.seq, ...(sel !== undefined ? { sel } : {}) });
        return;
      }
      case 'presence': {
        const d = this.doc(m.doc);
        if (m.v !== d.log.length && m.v > d.log.length) this.violations.push(`presence at v ${m.v} ahead`);
        let sel = m.sel;
        if (d.type === fakeTree) sel = this.treeSel(d, sel) as Selection;
        else for (const e of d.log.slice(m.v)) sel = d.type.transformSelectionPast(sel, sid, e.op, e.sid);
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

  /** A tree selection as the server keeps it: the ids of objects that exist. */
  private treeSel(d: DocState, sel: unknown): string[] | null {
    if (!Array.isArray(sel)) return null;
    return d.tree.filterSelection(sel.filter((x): x is string => typeof x === 'string')) ?? [];
  }

  /** An op on a tree document: checked, transformed past what was committed since its version, applied with drops. */
  private treeOp(s: Session, sid: string, d: DocState, m: { doc: string; v: number; seq: number; op: unknown; sel?: unknown }): void {
    const refuse = (e: unknown): void => {
      const code = e instanceof TreeError && e.kind === 'too_large' ? 'too_large' : 'invalid_op';
      this.send(s, { t: 'error', code, msg: (e as Error).message, doc: m.doc, seq: m.seq });
    };
    let op: TreeOp;
    try {
      op = validateOp(m.op);
      const since = d.log.slice(m.v);
      checkBase(op, d.tree, since.map((e) => ({ op: e.op as unknown as TreeOp, removed: e.removed ?? [] })));
      for (const e of since) op = transformTree(op, e.op as unknown as TreeOp, sid, e.sid);
    } catch (e) {
      this.violations.push(`invalid tree op from ${sid}: ${(e as Error).message}`);
      refuse(e);
      return;
    }
    let r;
    try {
      r = d.tree.apply(op);
    } catch (e) {
      this.violations.push(`tree op from ${sid} does not apply: ${(e as Error).message}`);
      refuse(e);
      return;
    }
    const v = d.log.length;
    const applied: unknown = r.applied;
    d.log.push({ v, op: applied, sid, seq: m.seq, removed: r.removed });
    d.committed.set(`${sid}:${m.seq}`, v);
    d.lastSeq.set(sid, m.seq);
    const sel = m.sel === undefined ? undefined : this.treeSel(d, m.sel);
    if (sel !== undefined) {
      const p = d.peers.get(sid);
      if (p !== undefined) p.sel = sel as unknown as Selection;
    }
    this.send(s, { t: 'ack', doc: m.doc, seq: m.seq, v });
    this.broadcast(m.doc, s, { t: 'op', doc: m.doc, v, op: applied as never, sid, seq: m.seq, ...(sel !== undefined ? { sel: sel as unknown as Selection } : {}) });
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

/**
 * A document's session: its pure {@link DocState} wired to the connection it
 * is open on, with the two timers the protocol needs (the presence throttle
 * and the pause before resending a rate-limited op) and the events the
 * public document classes re-emit. Internal: users meet the session only
 * through a document class (TextDoc) and its `presence` and `undoManager`.
 * @module
 */
import type { DocType } from './doctype.js';
import { Emitter } from './emitter.js';
import { TandemError } from './errors.js';
import type { ClientMessage, PresenceData, ServerMessage, ServerUser } from './protocol.js';
import { DocState, type Effect } from './state.js';
import { DocPersistence } from './storage/persist.js';
import type { OfflineStore } from './storage/types.js';
import type { DocChange, DocError, DocMode, DocStatus, Peer } from './types.js';

/** What a session needs of the connection it is open on. */
export interface Link {
  /** The connection's session id. */
  readonly sid: string;
  /** The local user as the server knows it, once welcomed. */
  readonly user: ServerUser | null;
  /** Sends a message if the connection is welcomed; returns whether it was sent. */
  send(msg: ClientMessage<unknown, unknown>): boolean;
  /** The next `seq` for a document (strictly increasing per sid and document, kept in storage). */
  nextSeq(doc: string): number;
  /** The session closed: the connection stops routing its document's messages to it. */
  forget(session: Routed): void;
  /** Offline storage of documents (absent or null: in memory only). */
  readonly store?: OfflineStore | null;
  /** Resolves to the final session id (a reopened tab may take a closed tab's sid over); with `store`. */
  readonly sidReady?: Promise<string>;
  /** Makes the next `seq` of `doc` higher than `seq` (a stored state used it). */
  seqFloor?(doc: string, seq: number): void;
}

/** What the connection calls on every session it routes frames to, whatever its type. */
export interface Routed {
  /** The document id. */
  readonly id: string;
  /** The document type's name. */
  readonly typeName: string;
  /** The connection was welcomed: (re-)join. */
  connected(): void;
  /** The connection dropped. */
  disconnected(): void;
  /** A server message about this document. */
  handle(m: ServerMessage<unknown, unknown>): void;
  /** The first sync will not come (the connection gave up or its token was refused). */
  failed(e: TandemError): void;
  /** Probes a silent connection by re-joining; false when this document cannot probe now. */
  probe(): boolean;
  /** A renewed token gives this mode on the document. */
  modeChanged(mode: DocMode): void;
}

/** Options of a document, given to the connection's open methods. */
export interface DocOptions {
  /** Presence throttle in ms (default 50). */
  presenceThrottleMs?: number;
  /** Consecutive local edits within this many ms form one undo step (default 500; 0 disables). */
  undoCaptureMs?: number;
  /**
   * `null` keeps this document in memory only, even when the connection has
   * offline storage (see `ConnectionOptions.storage`).
   */
  storage?: null;
}

/** Events of a document of any type (`O` its op, `C` its content). */
export interface DocEvents<O, C> {
  /** The content changed. */
  change: DocChange<O, C>;
  /** The status changed. */
  status: { status: DocStatus };
  /** The document is (re-)synchronised with the server at version `v`. */
  synced: { v: number; mode: DocMode };
  /** A local op was committed as version `v`. */
  ack: { seq: number; v: number };
  /** Any server error about this document. */
  error: DocError;
  /**
   * The server rejected a local op (`invalid_op`, `too_large` or `forbidden`):
   * it and the edits buffered after it were dropped, and the document re-joins
   * to recover the server's content.
   */
  invalid_op: DocError & { dropped: O };
  /** The document was deleted on the server; this object is closed. */
  deleted: { msg: string };
  /**
   * The number of local edits not yet acknowledged by the server changed:
   * `hasUnsyncedChanges` is true until every edit is durably stored by the
   * server (warn before the page is closed while it is true and the document
   * has no offline storage). `stored` says whether the pending edits are also
   * kept in offline storage (they then survive a reload).
   */
  unsynced: { count: number; hasUnsyncedChanges: boolean; stored: boolean };
  /** Offline storage failed (quota, private mode): the document goes on in memory. */
  storage_error: { error: Error };
}

/** Events of a session: a document's events and its presence's. */
export interface SessionEvents<C, O, S> extends DocEvents<O, C> {
  /** Peers joined, moved their selection or changed their data. */
  peers: { peers: Peer<S>[] };
  /** A peer left. */
  leave: { peer: Peer<S> };
  /** The type dropped part of this client's edits (see {@link Effect} `dropped`). */
  dropped: { op: O };
}

/** One open document on one connection: state, link, timers, events. */
export class DocSession<C, O, S> extends Emitter<SessionEvents<C, O, S>> implements Routed {
  /** The pure state: read it; change it only through this session. */
  readonly state: DocState<C, O, S>;
  /** Resolves when the document first synchronised with the server; rejects if it could not be joined. */
  readonly ready: Promise<void>;
  private readonly throttleMs: number;
  private presenceTimer: ReturnType<typeof setTimeout> | null = null;
  private lastPresenceAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private settleReady!: (e?: TandemError) => void;
  /** The document type's name. */
  readonly typeName: string;
  /** Offline storage of this document, if any. */
  private readonly persist: DocPersistence<C, O> | null = null;
  /** Resolves once the stored state (if any) is in place. */
  readonly loaded: Promise<void>;
  private loading = false;
  private connectWhenLoaded = false;
  /** Counts connections, so that an op held back for storage is not sent on a later one. */
  private epoch = 0;

  /** A session for document `id` of `type` on `link`. */
  constructor(
    private readonly link: Link,
    readonly id: string,
    type: DocType<C, O, S>,
    options: DocOptions = {},
  ) {
    super();
    this.typeName = type.name;
    this.throttleMs = options.presenceThrottleMs ?? 50;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (e) => (e === undefined ? resolve() : reject(e));
    });
    this.ready.catch(() => undefined);
    this.state = new DocState(
      id,
      link.sid,
      type,
      {
        send: (msg) => this.send(msg),
        nextSeq: () => link.nextSeq(id),
        effect: (e) => this.effect(e),
      },
      { undoCaptureMs: options.undoCaptureMs ?? 500 },
    );
    const store = options.storage === null ? null : (link.store ?? null);
    if (store !== null) {
      const state = this.state;
      this.loading = true;
      this.persist = new DocPersistence<C, O>(store, {
        id,
        typeName: type.name,
        sid: () => state.sid,
        sidReady: link.sidReady ?? Promise.resolve(link.sid),
        adoptSid: (sid) => state.adoptSid(sid),
        saved: () => state.saved(),
        restore: (s) => state.restore(s),
        decodeContent: (v) => type.decodeContent(v),
        seqFloor: (seq) => link.seqFloor?.(id, seq),
        failed: (error) => this.emit('storage_error', { error }),
      });
      this.loaded = this.persist.loaded.then(() => {
        this.loading = false;
        if (this.connectWhenLoaded) {
          this.connectWhenLoaded = false;
          this.state.connected();
        }
      });
    } else {
      this.loaded = Promise.resolve();
    }
  }

  /** True when this document is kept in offline storage. */
  get stored(): boolean {
    return this.persist !== null;
  }

  /** Resolves when every change so far is written to offline storage (at once without storage). */
  async flushed(): Promise<void> {
    await this.persist?.flushed();
  }

  /** Sends through the link; an op waits until the state holding its `seq` is stored. */
  private send(msg: ClientMessage<unknown, unknown>): boolean {
    if (msg.t !== 'op' || this.persist === null) return this.link.send(msg);
    const ok = this.persist.beforeSend(msg.seq);
    if (ok === true) return this.link.send(msg);
    const epoch = this.epoch;
    void ok.then(() => {
      if (epoch === this.epoch) this.link.send(msg);
    });
    return true;
  }

  /** The local user as the server knows it, once online. */
  get user(): ServerUser | null {
    return this.link.user;
  }

  // ---- from the connection ----

  connected(): void {
    this.epoch++;
    if (this.loading) {
      this.connectWhenLoaded = true; // joins with the stored version once loaded
      return;
    }
    this.state.connected();
  }

  disconnected(): void {
    this.epoch++;
    this.connectWhenLoaded = false;
    this.state.disconnected();
  }

  handle(m: ServerMessage<unknown, unknown>): void {
    this.state.handle(m);
  }

  failed(e: TandemError): void {
    this.state.failed(e);
  }

  probe(): boolean {
    return this.state.probe();
  }

  modeChanged(mode: DocMode): void {
    this.state.setMode(mode);
  }

  // ---- from the document classes ----

  /** Applies a local edit (see {@link DocState.local}). */
  submit(op: unknown, origin: unknown): void {
    this.state.local(op, origin, 'edit', Date.now());
  }

  /**
   * Runs `fn`, whose local edits are sent as one op and undone as one step
   * (nested calls join the outer one). Returns what `fn` returns.
   */
  transact<T>(fn: () => T): T {
    this.state.hold();
    try {
      return fn();
    } finally {
      this.state.release();
    }
  }

  /** Undoes this client's last edit step; false if there is none. */
  undo(): boolean {
    return this.state.undoLast(Date.now());
  }

  /** Redoes the last undone step; false if there is none. */
  redo(): boolean {
    return this.state.redoLast(Date.now());
  }

  /** Sets this client's selection; sent throttled. */
  setSelection(sel: S | null): void {
    if (this.state.setSelection(sel)) this.schedulePresence();
  }

  /** Sets this client's presence data; sent throttled. */
  setData(data: PresenceData): void {
    this.state.setData(data);
    this.schedulePresence();
  }

  /** Leaves the document. */
  close(): void {
    this.state.close();
  }

  // ---- effects ----

  private effect(e: Effect<C, O, S>): void {
    switch (e.kind) {
      case 'change':
        this.persist?.schedule();
        this.emit('change', e.change);
        return;
      case 'unsynced':
        this.persist?.schedule();
        this.emit('unsynced', { count: e.count, hasUnsyncedChanges: e.count > 0, stored: this.persist !== null });
        return;
      case 'status':
        this.emit('status', { status: e.status });
        return;
      case 'synced':
        this.persist?.schedule();
        this.emit('synced', { v: e.v, mode: e.mode });
        return;
      case 'ack':
        this.persist?.schedule();
        this.emit('ack', { seq: e.seq, v: e.v });
        return;
      case 'error':
        this.emit('error', e.error);
        return;
      case 'invalid_op':
        this.emit('invalid_op', { ...e.error, dropped: e.dropped });
        return;
      case 'deleted':
        this.persist?.stop();
        if (this.link.store) void this.link.store.deleteDoc(this.id).catch(() => undefined);
        this.emit('deleted', { msg: e.msg });
        return;
      case 'ready':
        this.settleReady(e.error);
        return;
      case 'peers':
        this.emit('peers', { peers: e.peers });
        return;
      case 'leave':
        this.emit('leave', { peer: e.peer });
        return;
      case 'dropped':
        this.emit('dropped', { op: e.op });
        return;
      case 'presence_due':
        this.schedulePresence();
        return;
      case 'retry_later':
        if (this.retryTimer === null) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.state.resendInflight();
          }, 1000);
        }
        return;
      case 'stopped':
        this.stopTimers();
        if (e.closed) this.link.forget(this);
        return;
    }
  }

  private schedulePresence(): void {
    if (this.presenceTimer !== null) return;
    const wait = Math.max(0, this.lastPresenceAt + this.throttleMs - Date.now());
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = null;
      if (this.state.sendPresence()) this.lastPresenceAt = Date.now();
    }, wait);
  }

  private stopTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.presenceTimer !== null) clearTimeout(this.presenceTimer);
    this.presenceTimer = null;
  }
}

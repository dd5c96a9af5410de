import { Emitter } from './emitter.js';
import { apply, compose, invert, isNoop, normalize, transform, transformPair, transformSelectionPast, validate, type Op, type Selection } from './ot/op.js';
import { changesToOp, diffLinesToOp, diffToOp, type TextChange } from './ot/changes.js';
import { cpLength } from './ot/unicode.js';
import type { ServerMessage, ServerUser, WireOpEntry } from './protocol.js';
import { Presence } from './presence.js';
import { UndoManager } from './undo.js';
import type { Connection } from './connection.js';

/**
 * Synchronisation status of a {@link TextDoc}:
 * - `offline`: no connection; local edits are queued;
 * - `joining`: (re-)joining, waiting for `joined`;
 * - `synced`: every local edit is acknowledged;
 * - `pending`: local edits are in flight or buffered.
 */
export type DocStatus = 'offline' | 'joining' | 'synced' | 'pending' | 'closed';

/** A change to the document, local or remote, in code points. */
export interface DocChange {
  /** The op as applied to the local text (code points, canonical). */
  op: Op;
  /** The text before the change (to convert `op` to UTF-16 with `opToChanges`). */
  before: string;
  /** True for someone else's edit (or a resync after re-joining); false for edits made through this object. */
  remote: boolean;
  /** The `origin` given to {@link TextDoc.submitOp} (local), `'undo'`/`'redo'`, or `undefined`. */
  origin: unknown;
  /** The author's session id, for remote edits (absent for a resync). */
  sid?: string;
}

/** A server `error` concerning this document. */
export interface DocError {
  /** Error code (docs/protocol.md, "Error codes"). */
  code: string;
  /** Detail from the server. */
  msg: string;
  /** The `seq` of the op it concerns, if any. */
  seq?: number;
}

/** Events of a {@link TextDoc}. */
export interface TextDocEvents {
  /** The text changed. */
  change: DocChange;
  /** The status changed. */
  status: { status: DocStatus };
  /** The document is (re-)synchronised with the server at version `v`. */
  synced: { v: number; mode: 'rw' | 'r' };
  /** A local op was committed as version `v`. */
  ack: { seq: number; v: number };
  /** Any server error about this document. */
  error: DocError;
  /**
   * The server rejected a local op (`invalid_op`, `too_large` or `forbidden`):
   * it and the edits buffered after it were dropped, and the document re-joins
   * to recover the server's text.
   */
  invalid_op: DocError & { dropped: Op };
  /** The document was deleted on the server; this object is closed. */
  deleted: { msg: string };
}

/** Options of {@link Connection.openDoc}. */
export interface TextDocOptions {
  /** Presence throttle in ms (default 50). */
  presenceThrottleMs?: number;
  /** Consecutive local edits within this many ms form one undo step (default 500; 0 disables). */
  undoCaptureMs?: number;
}

/** Raised by local edits that cannot be made (closed or read-only document, invalid op). */
export class TandemError extends Error {
  /** Machine-readable code: `closed`, `read_only`, or a server error code. */
  readonly code: string;
  /** Creates an error with a code. */
  constructor(code: string, message: string) {
    super(message);
    this.name = 'TandemError';
    this.code = code;
  }
}

interface InFlight {
  op: Op;
  seq: number;
}

const HISTORY = 200;

/**
 * A shared text document: the client side of the OT protocol.
 *
 * Local edits apply at once to {@link text}. At most one op is in flight
 * (sent, not yet acknowledged); later edits compose into one buffered op that
 * is sent after the ack. Remote ops are transformed against the in-flight and
 * buffered ops before they are applied. A gap in versions, a reconnect or a
 * rejected op makes the document re-join with its last version; the
 * unacknowledged op is then resubmitted with the same `seq` (the server applies
 * it at most once).
 *
 * Positions in methods without `Utf16` in their name count code points.
 */
export class TextDoc extends Emitter<TextDocEvents> {
  /** Document id. */
  readonly id: string;
  /** Live carets and selections of the people in this document. */
  readonly presence: Presence;
  /** Undo/redo of this client's own edits. */
  readonly undoManager: UndoManager;

  private readonly conn: Connection;
  private _text = '';
  private serverText = '';
  private _version = -1;
  private inflight: InFlight | null = null;
  private buffer: Op | null = null;
  private joining = false;
  private _mode: 'rw' | 'r' = 'rw';
  private _status: DocStatus = 'offline';
  private closed = false;
  private history: { v: number; op: Op; sid: string }[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private resyncedSeq = -1;
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  /** Resolves when the document first synchronised with the server; rejects if it could not be joined. */
  readonly ready: Promise<void>;

  /** @internal Use {@link Connection.openDoc}. */
  constructor(conn: Connection, id: string, options: TextDocOptions = {}) {
    super();
    this.conn = conn;
    this.id = id;
    this.presence = new Presence(this, options.presenceThrottleMs ?? 50);
    this.undoManager = new UndoManager(this, options.undoCaptureMs ?? 500);
    this.ready = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => undefined);
  }

  /** The local text (includes local edits not yet acknowledged). */
  get text(): string {
    return this._text;
  }

  /** Length of the local text in code points. */
  get length(): number {
    return cpLength(this._text);
  }

  /** The server version the local state is based on (-1 before the first sync). */
  get version(): number {
    return this._version;
  }

  /** `rw`, or `r` when the token only allows reading. */
  get mode(): 'rw' | 'r' {
    return this._mode;
  }

  /** Current synchronisation status. */
  get status(): DocStatus {
    return this._status;
  }

  /** True while local edits are unacknowledged (in flight or buffered). */
  get hasPendingOps(): boolean {
    return this.inflight !== null || this.buffer !== null;
  }

  /** The connection's session id. */
  get sid(): string {
    return this.conn.sid;
  }

  /** The local user as the server knows it, once online. */
  get user(): ServerUser | null {
    return this.conn.user;
  }

  /**
   * Applies a local edit (code points) at once and queues it for the server.
   * `origin` is passed back in the `change` event, so a binding can ignore its
   * own edits. Throws {@link OTError} when the op does not fit the text, and
   * {@link TandemError} when the document is closed or read-only.
   */
  submitOp(op: Op, origin?: unknown): void {
    this.local(op, origin, 'edit');
  }

  /** Inserts `text` at code point `pos`. */
  insert(pos: number, text: string, origin?: unknown): void {
    if (text === '') return;
    this.submitOp(pos > 0 ? [pos, text] : [text], origin);
  }

  /** Deletes `count` code points at code point `pos`. */
  delete(pos: number, count: number, origin?: unknown): void {
    if (count <= 0) return;
    this.submitOp(pos > 0 ? [pos, -count] : [-count], origin);
  }

  /** Applies editor changes given in **UTF-16** offsets of the current text (see {@link TextChange}). */
  applyChangesUtf16(changes: readonly TextChange[], origin?: unknown): void {
    const op = changesToOp(this._text, changes);
    if (op.length > 0) this.submitOp(op, origin);
  }

  /** Replaces the whole text with `text`, as one minimal local edit. */
  setText(text: string, origin?: unknown): void {
    const op = diffToOp(this._text, text);
    if (op.length > 0) this.submitOp(op, origin);
  }

  /** Undoes this client's last edit (transformed through everyone else's); false if there is none. */
  undo(): boolean {
    return this.undoManager.undo();
  }

  /** Redoes the last undone edit; false if there is none. */
  redo(): boolean {
    return this.undoManager.redo();
  }

  /** Leaves the document: peers see this client gone; the object is closed. */
  close(): void {
    if (this.closed) return;
    this.conn._send({ t: 'leave', doc: this.id });
    this.shutdown();
  }

  /** @internal Applies a local op of the given kind. */
  _applyLocal(op: Op, origin: unknown, kind: 'edit' | 'undo' | 'redo'): void {
    this.local(op, origin, kind);
  }

  private local(op: Op, origin: unknown, kind: 'edit' | 'undo' | 'redo'): void {
    if (this.closed) throw new TandemError('closed', `document ${this.id} is closed`);
    if (this._mode === 'r') throw new TandemError('read_only', `document ${this.id} is read-only for this token`);
    validate(op);
    const before = this._text;
    const after = apply(before, op); // throws when the op does not fit
    if (isNoop(op)) return;
    const norm = normalize(op);
    const inverse = invert(norm, before);
    this._text = after;
    this.buffer = this.buffer === null ? norm : compose(this.buffer, norm);
    this.presence._transformLocal(norm); // the user's own caret ends after the user's own insert
    this.undoManager._recordLocal(inverse, kind);
    this.emit('change', { op: norm, before, remote: false, origin });
    this.flush();
    this.updateStatus();
  }

  /**
   * Applies a remote op (already transformed to local coordinates) to the local
   * text. `sid` is its author, absent for a resync (a difference nobody wrote).
   */
  private applyRemote(op: Op, sid: string | undefined): void {
    if (isNoop(op)) return;
    const before = this._text;
    this._text = apply(before, op);
    this.presence._transformRemote(op, sid);
    this.undoManager._transformRemote(op, sid);
    this.emit('change', { op, before, remote: true, origin: undefined, ...(sid !== undefined ? { sid } : {}) });
  }

  /** @internal The connection was welcomed: (re-)join. */
  _online(): void {
    if (this.closed) return;
    this.join(false);
  }

  /** @internal The connection dropped. */
  _offline(): void {
    if (this.closed) return;
    this.joining = false;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.presence._offline();
    this.updateStatus();
  }

  /** @internal The server refused the connection's token: a first sync will not come. */
  _authFailed(msg: string): void {
    if (this._version < 0) this.readyReject(new TandemError('unauthorized', msg));
    this.joining = false;
    this.updateStatus();
  }

  /** @internal Probes a silent connection by re-joining; false when this document cannot probe now. */
  _probe(): boolean {
    if (this.closed || this.joining || this.inflight !== null || this._version < 0) return false;
    this.join(false);
    return true;
  }

  /** @internal The local selection or data may be sent now (no own op unacknowledged). */
  _canSendPresence(): boolean {
    return !this.closed && !this.joining && this.conn.online && this._version >= 0 && this.inflight === null && this.buffer === null;
  }

  /** @internal Sends a presence message (used by {@link Presence}). */
  _sendPresence(sel: Selection, data: { [k: string]: unknown } | undefined): boolean {
    if (!this._canSendPresence()) return false;
    return this.conn._send({ t: 'presence', doc: this.id, v: this._version, sel, ...(data !== undefined ? { data } : {}) });
  }

  /**
   * @internal Moves the selection of `owner` from server version `v` to local
   * coordinates: through the ops committed since (the owner's own ones move it
   * as its editor did) and through this client's pending ops.
   */
  _selectionToLocal(sel: Selection, v: number, owner: string): Selection {
    if (sel === null) return null;
    let s: Selection = sel;
    if (v < this._version) {
      for (const h of this.history) if (h.v >= v) s = transformSelectionPast(s, owner, h.op, h.sid);
    }
    if (this.inflight !== null) s = transformSelectionPast(s, owner, this.inflight.op, this.sid);
    if (this.buffer !== null) s = transformSelectionPast(s, owner, this.buffer, this.sid);
    const max = this.length;
    return (s ?? []).map(([a, h]) => [Math.min(Math.max(0, a), max), Math.min(Math.max(0, h), max)]);
  }

  private join(full: boolean): void {
    this.joining = true;
    this.updateStatus();
    const v = full || this._version < 0 ? undefined : this._version;
    this.conn._send({ t: 'join', doc: this.id, ...(v !== undefined ? { v } : {}) });
  }

  private flush(): void {
    if (this.closed || this.joining || !this.conn.online || this._version < 0 || this._mode === 'r') return;
    if (this.inflight !== null || this.buffer === null) return;
    this.inflight = { op: this.buffer, seq: this.conn._nextSeq(this.id) };
    this.buffer = null;
    this.sendInflight();
  }

  private sendInflight(): void {
    if (this.inflight === null) return;
    const sel = this.presence.localSelection;
    this.conn._send({ t: 'op', doc: this.id, v: this._version, seq: this.inflight.seq, op: this.inflight.op, sel });
    this.presence._selectionSent();
  }

  private remember(v: number, op: Op, sid: string): void {
    this.history.push({ v, op, sid });
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
  }

  /** @internal Handles a server message for this document. */
  _handle(m: ServerMessage): void {
    if (this.closed) return;
    switch (m.t) {
      case 'joined':
        this.onJoined(m);
        break;
      case 'ack':
        if (this.joining) return; // the joined answer settles the state
        this.onAck(m.seq, m.v);
        break;
      case 'op':
        if (this.joining) return;
        this.onRemoteOp({ v: m.v, op: m.op, sid: m.sid, seq: m.seq }, m.sel);
        break;
      case 'presence':
        if (this.joining) return;
        this.presence._onPresence(m.v, m.peers, m.gone ?? []);
        break;
      case 'error':
        this.onError({ code: m.code, msg: m.msg, ...(m.seq !== undefined ? { seq: m.seq } : {}) });
        break;
      default:
        break;
    }
  }

  /** Returns false on a version gap (after starting a re-join). */
  private onAck(seq: number, v: number): boolean {
    if (this.inflight === null || seq !== this.inflight.seq) return true; // stale duplicate
    if (v !== this._version) {
      if (v < this._version) {
        // Committed before the full text we re-synced to, which already holds it.
        if (seq === this.resyncedSeq) this.dropCommittedInflight(seq, v);
        return true;
      }
      this.join(false);
      return false;
    }
    this.serverText = apply(this.serverText, this.inflight.op);
    this.remember(v, this.inflight.op, this.sid);
    this._version = v + 1;
    this.inflight = null;
    this.emit('ack', { seq, v });
    if (!this.joining) {
      this.flush();
      this.presence._flushSoon();
    }
    this.updateStatus();
    return true;
  }

  /** Returns false on a version gap (after starting a re-join). */
  private onRemoteOp(e: WireOpEntry, sel?: Selection): boolean {
    if (e.v < this._version) return true; // already seen
    if (e.v > this._version) {
      this.join(false);
      return false;
    }
    if (e.sid === this.conn.sid && this.inflight !== null && e.seq === this.inflight.seq) {
      return this.onAck(e.seq, e.v);
    }
    validate(e.op);
    // The server op was committed first; where it and a pending op of ours
    // insert at one spot, the authors' sids decide which goes left.
    let op = e.op;
    if (this.inflight !== null) [this.inflight.op, op] = transformPair(this.inflight.op, this.sid, op, e.sid);
    if (this.buffer !== null) [this.buffer, op] = transformPair(this.buffer, this.sid, op, e.sid);
    this.serverText = apply(this.serverText, e.op);
    this.remember(e.v, e.op, e.sid);
    this._version = e.v + 1;
    this.applyRemote(op, e.sid);
    if (sel !== undefined) this.presence._onPeerSelection(e.sid, sel, this._version);
    return true;
  }

  private onJoined(m: Extract<ServerMessage, { t: 'joined' }>): void {
    if (!this.joining) return; // unexpected: ignore
    this._mode = m.mode === 'r' ? 'r' : 'rw';
    // `joining` stays set while the catch-up is applied, so that an ack found
    // in it does not send the buffer before the state is settled.
    if (m.ops !== undefined && m.text === undefined && this._version >= 0) {
      for (const e of m.ops) {
        if (!this.onRemoteOp(e)) return; // a gap inside the catch-up: re-joining already
      }
      if (this._version !== m.v) {
        // The catch-up does not reach the announced version: start over from the full text.
        this.join(true);
        return;
      }
    } else if (m.text !== undefined) {
      this.resync(m.text, m.v);
    } else {
      this.join(true);
      return;
    }
    this.joining = false;
    this.presence._onJoined(m.v, m.peers);
    this.emit('synced', { v: this._version, mode: this._mode });
    this.readyResolve();
    if (this.inflight !== null && this._mode === 'rw') this.sendInflight();
    else this.flush();
    this.presence._flushSoon();
    this.updateStatus();
  }

  /**
   * The in-flight op turned out to be committed before the version we re-synced
   * to with a full text, so that text already holds it: take it out of the
   * local state (keeping later buffered edits).
   */
  private dropCommittedInflight(seq: number, v: number): void {
    if (this.inflight === null) return;
    const inv = invert(this.inflight.op, this.serverText);
    const buffer = this.buffer === null ? null : transform(this.buffer, inv, 'right');
    const target = buffer === null ? this.serverText : apply(this.serverText, buffer);
    this.inflight = null;
    this.buffer = buffer !== null && !isNoop(buffer) ? buffer : null;
    this.resyncedSeq = -1;
    this.applyRemote(diffToOp(this._text, target), undefined);
    this.emit('ack', { seq, v });
    this.flush();
    this.presence._flushSoon();
    this.updateStatus();
  }

  /** Adopts the server's full text at version `v`, keeping unacknowledged local edits on top. */
  private resync(text: string, v: number): void {
    if (this.inflight === null && this.buffer === null) {
      // Line-aligned, so that carets and undo steps stay in their lines.
      const op = diffLinesToOp(this._text, text);
      this.serverText = text;
      this._version = v;
      this.history = [];
      this.applyRemote(op, undefined);
      return;
    }
    // Rebase pending edits on the difference between what we last knew and the
    // server's text. If the in-flight op was in fact committed already, its
    // ack carries an older version and dropCommittedInflight repairs the state.
    this.resyncedSeq = this.inflight?.seq ?? -1;
    // A line-aligned diff, so that the pending edits stay in the lines they were made in.
    // The difference has no author to order ties by: it counts as committed
    // first, so its inserts go left of ours at one spot.
    let d = diffLinesToOp(this.serverText, text);
    if (this.inflight !== null) {
      const f = this.inflight.op;
      this.inflight.op = transform(f, d, 'right');
      d = transform(d, f, 'left');
    }
    if (this.buffer !== null) {
      const b = this.buffer;
      this.buffer = transform(b, d, 'right');
      d = transform(d, b, 'left');
    }
    this.serverText = text;
    this._version = v;
    this.history = [];
    this.applyRemote(d, undefined);
  }

  private onError(err: DocError): void {
    this.emit('error', err);
    switch (err.code) {
      case 'deleted':
        this.emit('deleted', { msg: err.msg });
        this.shutdown();
        return;
      case 'not_found':
      case 'unauthorized':
        if (this._version < 0) this.readyReject(new TandemError(err.code, err.msg));
        this.joining = false;
        this.updateStatus();
        return;
      case 'invalid_op':
      case 'too_large':
      case 'forbidden':
        if (err.seq !== undefined && this.inflight !== null && err.seq === this.inflight.seq) {
          let dropped = this.inflight.op;
          if (this.buffer !== null) dropped = compose(dropped, this.buffer);
          this.inflight = null;
          this.buffer = null;
          this.undoManager.clear();
          this.emit('invalid_op', { ...err, dropped });
          this.join(true);
        } else if (err.code === 'forbidden' && err.seq === undefined && this._version < 0) {
          this.readyReject(new TandemError(err.code, err.msg));
        }
        return;
      case 'rate_limited':
        if (err.seq !== undefined && this.inflight !== null && err.seq === this.inflight.seq) {
          if (this.retryTimer === null) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = null;
              if (!this.joining && this.conn.online) this.sendInflight();
            }, 1000);
          }
        }
        return;
      default:
        return;
    }
  }

  private shutdown(): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.presence._offline();
    this.conn._forget(this);
    this.setStatus('closed');
  }

  private updateStatus(): void {
    if (this.closed) return;
    let s: DocStatus;
    if (!this.conn.online) s = 'offline';
    else if (this.joining || this._version < 0) s = 'joining';
    else if (this.inflight !== null || this.buffer !== null) s = 'pending';
    else s = 'synced';
    this.setStatus(s);
  }

  private setStatus(s: DocStatus): void {
    if (s === this._status) return;
    this._status = s;
    this.emit('status', { status: s });
  }
}

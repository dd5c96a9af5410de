/**
 * The client side of the OT protocol for one document, as a pure state
 * machine: no sockets, no timers, no event emitters. The session around it
 * feeds it what happens (local edits, server messages, the connection going
 * up and down, a timer firing) and carries out what it asks through an
 * {@link Outlet}: messages to send, and effects to report. The same split as
 * the Go client's `docState` (client/state.go).
 * @module
 */
import type { DocType } from './doctype.js';
import { TandemError } from './errors.js';
import type { ClientMessage, PresenceData, ServerMessage, WireOpEntry, WirePeer } from './protocol.js';
import type { DocChange, DocError, DocMode, DocStatus, Peer } from './types.js';
import { UndoStacks, type EditKind } from './undo-stack.js';

/** How many committed ops a document keeps to bring stale presence up to date. */
const HISTORY = 200;

/** What a {@link DocState} reports, in the order it happened. */
export type Effect<C, O, S> =
  | { kind: 'change'; change: DocChange<O, C> }
  | { kind: 'status'; status: DocStatus }
  | { kind: 'synced'; v: number; mode: DocMode }
  | { kind: 'ack'; seq: number; v: number }
  | { kind: 'error'; error: DocError }
  | { kind: 'invalid_op'; error: DocError; dropped: O }
  /** The type dropped part of this client's edits under its concurrency rules (the server drops it too, or did). */
  | { kind: 'dropped'; op: O }
  | { kind: 'deleted'; msg: string }
  /** The first sync is done (no `error`) or will not come (`error`); reported once. */
  | { kind: 'ready'; error?: TandemError }
  | { kind: 'peers'; peers: Peer<S>[] }
  | { kind: 'leave'; peer: Peer<S> }
  /** A changed local selection or data waits and may be sent now: call {@link DocState.sendPresence} (throttled). */
  | { kind: 'presence_due' }
  /** The number of unacknowledged local edits changed (see {@link DocState.unsynced}). */
  | { kind: 'unsynced'; count: number }
  /** The op in flight was rate-limited: call {@link DocState.resendInflight} after a pause. */
  | { kind: 'retry_later' }
  /** Nothing is to be sent until the next join (`closed`: ever): cancel timers; a closed document is forgotten. */
  | { kind: 'stopped'; closed: boolean };

/** How a {@link DocState} acts on the world. Calls happen during the state's own calls, in order. */
export interface Outlet<C, O, S> {
  /** Sends a message on the current connection; false when it could not be sent. */
  send(msg: ClientMessage<O, S | null>): boolean;
  /** The next `seq` of this client on this document (strictly increasing, kept across reconnects). */
  nextSeq(): number;
  /** Reports an effect. */
  effect(e: Effect<C, O, S>): void;
}

/** Options of a {@link DocState}. */
export interface DocStateOptions {
  /** Consecutive local edits within this many ms form one undo step (0: every edit is a step). */
  undoCaptureMs: number;
}

/**
 * What a {@link DocState} keeps across reloads (offline storage): the
 * server's content at version `v` and the unacknowledged local edits on it.
 */
export interface SavedDocState<C, O> {
  /** The server version of `base`; -1 when never synced. */
  v: number;
  /** The server's content at `v`. */
  base: C;
  /** The op sent and not acknowledged, against `v`, with its `seq`. */
  inflight: { seq: number; op: O } | null;
  /** Later local edits, composed (never sent). */
  buffer: O | null;
  /** How many local edits `inflight` and `buffer` hold. */
  unsynced: number;
}

/** Deep equality of JSON-like values (selections). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((x, i) => sameValue(x, b[i]));
}

/**
 * One document's client state: the server's content at {@link version}
 * (`base`), the local content (`base` with the op in flight and the buffered
 * op applied), the peers with their selections in local coordinates, this
 * client's own selection and data, and the undo stacks.
 *
 * At most one op is in flight (sent, not acknowledged); later local edits
 * compose into one buffered op, sent after the ack. A remote op and the
 * pending ops are transformed past each other (ties by the authors' sids). A
 * version gap, a reconnect or a rejected op makes the document re-join with
 * its last version; the unacknowledged op is then resubmitted with the same
 * `seq` (the server applies it at most once).
 */
export class DocState<C, O, S> {
  private view: C;
  private base: C;
  private ver = -1;
  private inflight: { op: O; seq: number } | null = null;
  private buffer: O | null = null;
  private joining = false;
  private online = false;
  private docMode: DocMode = 'rw';
  private docStatus: DocStatus = 'offline';
  private closed = false;
  private readySettled = false;
  private history: { v: number; op: O; sid: string }[] = [];
  private resyncedSeq = -1;
  /**
   * Set when an op is dropped (invalid_op): the view still shows it and the
   * base was made the view, so only a full content may settle the state,
   * however the next join comes about (a reconnect too).
   */
  private needsFull = false;
  /** Local edits in the op in flight, and in the buffer (for {@link unsynced}). */
  private inflightEdits = 0;
  private bufferEdits = 0;
  /** Open transactions ({@link hold}), and local edits made in them so far. */
  private held = 0;
  private heldEdits = 0;

  private readonly peerMap = new Map<string, Peer<S>>();
  private localSel: S | null = null;
  private data: PresenceData | undefined = undefined;
  private selDirty = false;
  private dataDirty = false;

  private readonly undo: UndoStacks<O>;

  /** A state for document `id` of `type`, edited by the client `sid`. */
  constructor(
    readonly id: string,
    private ownSid: string,
    private readonly type: DocType<C, O, S>,
    private readonly out: Outlet<C, O, S>,
    options: DocStateOptions,
  ) {
    this.view = type.empty();
    this.base = type.empty();
    this.undo = new UndoStacks(type, options.undoCaptureMs);
  }

  /** This client's session id. */
  get sid(): string {
    return this.ownSid;
  }

  /** The local content (includes local edits not yet acknowledged). */
  get content(): C {
    return this.view;
  }

  /** The server version the local state is based on (-1 before the first sync). */
  get version(): number {
    return this.ver;
  }

  /** `rw`, or `r` when the token only allows reading. */
  get mode(): DocMode {
    return this.docMode;
  }

  /** Current synchronisation status. */
  get status(): DocStatus {
    return this.docStatus;
  }

  /** True while local edits are unacknowledged (in flight or buffered). */
  get hasPendingOps(): boolean {
    return this.inflight !== null || this.buffer !== null;
  }

  /** How many local edits are not acknowledged yet (0 when synced). */
  get unsynced(): number {
    return this.inflightEdits + this.bufferEdits;
  }

  /** What offline storage keeps of this state (shared structures: copy before keeping them). */
  saved(): SavedDocState<C, O> {
    return { v: this.ver, base: this.base, inflight: this.inflight === null ? null : { ...this.inflight }, buffer: this.buffer, unsynced: this.unsynced };
  }

  /**
   * Takes the session id of a stored state over, before this state was ever
   * connected (a reopened tab continuing a closed one's pending edits under
   * its `sid`, so that the server dedupes their resubmission).
   */
  adoptSid(sid: string): void {
    if (this.online || this.ver >= 0) throw new Error('adoptSid: the state has already been synced');
    this.ownSid = sid;
  }

  /**
   * Puts a stored state (see {@link saved}) in place: the stored base and
   * version, the pending ops as they were (the op in flight keeps its `seq`,
   * so it is resubmitted as is). Only before the first sync; local edits made
   * before it (typed before the storage answered) are rebased onto the stored
   * content and kept. Reports the change of content.
   */
  restore(s: SavedDocState<C, O>): void {
    if (this.closed || this.online || this.ver >= 0) return;
    const before = this.view;
    const early = this.buffer;
    const earlyEdits = this.bufferEdits;
    this.base = s.v >= 0 ? s.base : this.type.empty();
    this.ver = s.v;
    this.inflight = s.inflight === null ? null : { ...s.inflight };
    this.buffer = s.buffer;
    this.inflightEdits = s.inflight === null ? 0 : Math.max(1, s.unsynced - (s.buffer === null ? 0 : 1));
    this.bufferEdits = s.buffer === null ? 0 : Math.max(1, s.unsynced - this.inflightEdits);
    let view = this.base;
    if (this.inflight !== null) view = this.type.apply(view, this.inflight.op).content;
    if (this.buffer !== null) view = this.type.apply(view, this.buffer).content;
    // What was typed before the restore sits on the empty content: move it
    // past the stored content as if that had been committed first.
    const stored = this.type.diff(this.type.empty(), view);
    let change = stored;
    if (early !== null) {
      const r = this.type.rebase(before, [early], this.ownSid, stored, '');
      const past = r.pending[0] as O;
      this.buffer = this.buffer === null ? past : this.type.compose(this.buffer, past);
      this.bufferEdits += earlyEdits;
      view = this.type.apply(view, past).content;
      change = r.change;
    }
    this.view = view;
    this.history = [];
    if (!this.type.isNoop(change)) {
      if (this.localSel !== null) this.localSel = this.type.fitSelection(this.localSel, this.view);
      this.undo.clear();
      this.out.effect({ kind: 'change', change: { op: change, before, remote: true, origin: 'storage' } });
    }
    this.reportUnsynced();
    this.updateStatus();
  }

  /** This client's selection (null when hidden). */
  get localSelection(): S | null {
    return this.localSel;
  }

  /** This client's presence data (undefined until set). */
  get localData(): PresenceData | undefined {
    return this.data;
  }

  /** The other people in the document. */
  get peers(): Peer<S>[] {
    return [...this.peerMap.values()];
  }

  /** One peer by session id. */
  peer(sid: string): Peer<S> | undefined {
    return this.peerMap.get(sid);
  }

  /** True when there is an own edit to undo. */
  get canUndo(): boolean {
    return this.undo.canUndo;
  }

  /** True when there is an undone edit to redo. */
  get canRedo(): boolean {
    return this.undo.canRedo;
  }

  // ---- local edits -------------------------------------------------------

  /**
   * Applies a local edit at once and queues it for the server; `now` (ms)
   * groups quick edits into one undo step. Throws {@link TandemError} when
   * the document is closed or read-only, and the type's error when the op is
   * malformed or does not fit.
   */
  local(op: unknown, origin: unknown, kind: EditKind, now: number): void {
    if (this.closed) throw new TandemError('closed', `document ${this.id} is closed`);
    if (this.docMode === 'r') throw new TandemError('read_only', `document ${this.id} is read-only for this token`);
    const valid = this.type.validate(op);
    const before = this.view;
    const r = this.type.apply(before, valid); // throws when the op does not fit
    const applied = r.applied;
    if (this.type.isNoop(applied)) {
      this.reportDropped(r.dropped);
      return;
    }
    const inverse = r.inverse();
    this.view = r.content;
    this.buffer = this.buffer === null ? applied : this.type.compose(this.buffer, applied);
    this.bufferEdits++;
    // The user's own caret ends after the user's own insert.
    if (this.localSel !== null) this.localSel = this.type.transformSelection(this.localSel, applied, true);
    this.movePeers(applied, this.sid);
    this.undo.record(inverse, kind, now, kind === 'edit' && this.held > 0 && this.heldEdits++ > 0);
    this.out.effect({ kind: 'change', change: { op: applied, before, remote: false, origin } });
    this.reportUnsynced();
    this.reportDropped(r.dropped);
    this.flush();
    this.updateStatus();
  }

  /**
   * Starts a transaction: local edits until the matching {@link release}
   * are buffered together (sent as one op) and form one undo step.
   * Transactions nest; only the outermost release sends.
   */
  hold(): void {
    if (this.held++ === 0) this.heldEdits = 0;
  }

  /** Ends a transaction started with {@link hold}. */
  release(): void {
    if (this.held === 0) return;
    if (--this.held > 0) return;
    this.flush();
    this.updateStatus();
  }

  private reportDropped(op: O | undefined): void {
    if (op !== undefined && !this.type.isNoop(op)) this.out.effect({ kind: 'dropped', op });
  }

  /** Undoes this client's last edit step; false when there is none. */
  undoLast(now: number): boolean {
    const inv = this.undo.pop('undo');
    if (inv === undefined) return false;
    this.local(inv, 'undo', 'undo', now);
    return true;
  }

  /** Redoes the last undone step; false when there is none. */
  redoLast(now: number): boolean {
    const inv = this.undo.pop('redo');
    if (inv === undefined) return false;
    this.local(inv, 'redo', 'redo', now);
    return true;
  }

  /** Makes the next edit start a new undo step. */
  stopCapturing(): void {
    this.undo.stopCapturing();
  }

  /** Forgets the undo and redo steps. */
  clearUndo(): void {
    this.undo.clear();
  }

  /** Leaves the document: sends `leave`; the state is closed. */
  close(): void {
    if (this.closed) return;
    this.out.send({ t: 'leave', doc: this.id });
    this.shutdown();
  }

  // ---- presence ----------------------------------------------------------

  /** Sets this client's selection (a copy is kept); false when it did not change. */
  setSelection(sel: S | null): boolean {
    const copy = sel === null ? null : structuredClone(sel);
    if (sameValue(copy, this.localSel)) return false;
    this.localSel = copy;
    this.selDirty = true;
    return true;
  }

  /** Sets this client's free presence data. */
  setData(data: PresenceData): void {
    this.data = data;
    this.dataDirty = true;
  }

  /**
   * Sends the changed selection and data when the protocol allows (no own op
   * unacknowledged: the local content is then exactly the server's version);
   * true when a message went out. Otherwise they wait for the ack or the next
   * join, which report `presence_due`.
   */
  sendPresence(): boolean {
    if (!this.selDirty && !this.dataDirty) return false;
    if (!this.canSendPresence()) return false;
    const sent = this.out.send({ t: 'presence', doc: this.id, v: this.ver, sel: this.localSel, ...(this.data !== undefined ? { data: this.data } : {}) });
    if (sent) {
      this.selDirty = false;
      this.dataDirty = false;
    }
    return sent;
  }

  private canSendPresence(): boolean {
    return !this.closed && !this.joining && this.online && this.ver >= 0 && this.inflight === null && this.buffer === null;
  }

  private presenceDue(): void {
    if (this.selDirty || this.dataDirty) this.out.effect({ kind: 'presence_due' });
  }

  // ---- the connection ----------------------------------------------------

  /** The connection was welcomed: (re-)join. */
  connected(): void {
    this.online = true;
    if (this.closed) return;
    this.join(false);
  }

  /** The connection dropped: peers are unknown until the next join. */
  disconnected(): void {
    this.online = false;
    if (this.closed) return;
    this.joining = false;
    this.out.effect({ kind: 'stopped', closed: false });
    this.removePeers();
    this.updateStatus();
  }

  /** The first sync will not come (the connection gave up, or refused its token). */
  failed(e: TandemError): void {
    this.rejectReady(e);
    this.joining = false;
    this.updateStatus();
  }

  /**
   * A renewed token changed this document's mode (docs/protocol.md, section
   * 16): a synced document says so with a new `synced` effect, so that an
   * editor can switch to or from read-only.
   */
  setMode(mode: DocMode): void {
    if (this.closed || mode === this.docMode) return;
    this.docMode = mode;
    if (!this.joining && this.ver >= 0) this.out.effect({ kind: 'synced', v: this.ver, mode });
  }

  /** Probes a silent connection by re-joining; false when this document cannot probe now. */
  probe(): boolean {
    if (this.closed || this.joining || this.inflight !== null || this.ver < 0) return false;
    this.join(false);
    return true;
  }

  /** Sends the op in flight again (after `retry_later`). */
  resendInflight(): void {
    if (!this.closed && !this.joining && this.online) this.sendInflight();
  }

  /** Handles a server message about this document. */
  handle(m: ServerMessage<unknown, unknown>): void {
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
        this.onPresence(m.v, m.peers, m.gone ?? []);
        break;
      case 'error':
        this.onError({ code: m.code, msg: m.msg, ...(m.seq !== undefined ? { seq: m.seq } : {}) });
        break;
      default:
        break;
    }
  }

  // ---- the protocol ------------------------------------------------------

  private join(full: boolean): void {
    this.joining = true;
    this.updateStatus();
    const v = full || this.needsFull || this.ver < 0 ? undefined : this.ver;
    this.out.send({ t: 'join', doc: this.id, ...(v !== undefined ? { v } : {}) });
  }

  private flush(): void {
    if (this.closed || this.joining || !this.online || this.ver < 0 || this.docMode === 'r' || this.held > 0) return;
    if (this.inflight !== null || this.buffer === null) return;
    this.inflight = { op: this.buffer, seq: this.out.nextSeq() };
    this.buffer = null;
    this.inflightEdits = this.bufferEdits;
    this.bufferEdits = 0;
    this.sendInflight();
  }

  private sendInflight(): void {
    if (this.inflight === null) return;
    this.out.send({ t: 'op', doc: this.id, v: this.ver, seq: this.inflight.seq, op: this.inflight.op, sel: this.localSel });
    this.selDirty = false; // the selection went with the op
  }

  private remember(v: number, op: O, sid: string): void {
    this.history.push({ v, op, sid });
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
  }

  /** Returns false on a version gap (after starting a re-join). */
  private onAck(seq: number, v: number): boolean {
    if (this.inflight === null || seq !== this.inflight.seq) return true; // stale duplicate
    if (v !== this.ver) {
      if (v < this.ver) {
        // Committed before the full content we re-synced to, which already holds it.
        if (seq === this.resyncedSeq) this.dropCommittedInflight(seq, v);
        return true;
      }
      this.join(false);
      return false;
    }
    // Applied to the server's content as the server did: what it dropped of
    // the op (its actions on objects deleted meanwhile) is dropped here too.
    const r = this.type.apply(this.base, this.inflight.op);
    this.base = r.content;
    this.remember(v, r.applied, this.sid);
    this.ver = v + 1;
    // Peers' selections are kept in local coordinates, which the ack does not change.
    this.inflight = null;
    this.inflightEdits = 0;
    this.out.effect({ kind: 'ack', seq, v });
    this.reportUnsynced();
    this.reportDropped(r.dropped);
    if (!this.joining) {
      this.flush();
      this.presenceDue();
    }
    this.updateStatus();
    return true;
  }

  /** Returns false on a version gap (after starting a re-join). */
  private onRemoteOp(e: WireOpEntry<unknown>, sel?: unknown): boolean {
    if (e.v < this.ver) return true; // already seen
    if (e.v > this.ver) {
      this.join(false);
      return false;
    }
    if (e.sid === this.sid && this.inflight !== null && e.seq === this.inflight.seq) {
      return this.onAck(e.seq, e.v);
    }
    const committed = this.type.validate(e.op);
    this.base = this.type.apply(this.base, committed).content;
    this.remember(e.v, committed, e.sid);
    this.ver = e.v + 1;
    // The server op was committed first; where it and a pending op of ours
    // insert at one spot, the authors' sids decide which goes left.
    this.rebaseLocal(committed, e.sid);
    if (sel !== undefined) this.onPeerSelection(e.sid, sel as S | null, this.ver);
    return true;
  }

  /**
   * Moves the local content, the pending ops, the selections and the undo
   * stacks past an op committed on top of the server's content as it was.
   * `sid` is its author, absent for a resync (a difference nobody wrote,
   * which goes first at one spot).
   */
  private rebaseLocal(committed: O, sid: string | undefined): void {
    const pending: O[] = [];
    if (this.inflight !== null) pending.push(this.inflight.op);
    if (this.buffer !== null) pending.push(this.buffer);
    const before = this.view;
    const r = this.type.rebase(before, pending, this.sid, committed, sid ?? '');
    let i = 0;
    if (this.inflight !== null) this.inflight.op = r.pending[i++] as O;
    if (this.buffer !== null) this.buffer = r.pending[i++] as O;
    this.view = r.content;
    const op = r.change;
    if (this.type.isNoop(op)) {
      this.reportDropped(r.dropped);
      return;
    }
    // Someone else's insert at the user's caret leaves the caret before it.
    if (this.localSel !== null) this.localSel = this.type.transformSelection(this.localSel, op, false);
    this.movePeers(op, sid);
    this.undo.transform(op, this.sid, sid ?? '');
    this.out.effect({ kind: 'change', change: { op, before, remote: true, origin: undefined, ...(sid !== undefined ? { sid } : {}) } });
    this.reportDropped(r.dropped);
  }

  private onJoined(m: Extract<ServerMessage<unknown, unknown>, { t: 'joined' }>): void {
    if (!this.joining) return; // unexpected: ignore
    const type = m.type ?? 'text';
    if (type !== this.type.name) {
      this.wrongType(type);
      return;
    }
    this.docMode = m.mode === 'r' ? 'r' : 'rw';
    const content = (m as Record<string, unknown>)[this.type.contentKey];
    // `joining` stays set while the catch-up is applied, so that an ack found
    // in it does not send the buffer before the state is settled.
    if (m.ops !== undefined && content === undefined && this.ver >= 0) {
      for (const e of m.ops) {
        if (!this.onRemoteOp(e)) return; // a gap inside the catch-up: re-joining already
      }
      if (this.ver !== m.v) {
        // The catch-up does not reach the announced version: start over from the full content.
        this.join(true);
        return;
      }
    } else if (content !== undefined) {
      this.resync(this.type.decodeContent(content), m.v);
    } else {
      this.join(true);
      return;
    }
    this.joining = false;
    this.onPeerList(m.v, m.peers);
    this.out.effect({ kind: 'synced', v: this.ver, mode: this.docMode });
    this.resolveReady();
    if (this.inflight !== null && this.docMode === 'rw') this.sendInflight();
    else this.flush();
    this.presenceDue();
    this.updateStatus();
  }

  /** The server says the document is of another type than the one it was opened as. */
  private wrongType(type: string): void {
    const msg = `document ${this.id} is a ${type} document, opened as ${this.type.name}: open it with the method of its type`;
    this.out.effect({ kind: 'error', error: { code: 'wrong_type', msg } });
    this.rejectReady(new TandemError('wrong_type', msg));
    this.close();
  }

  /**
   * The in-flight op turned out to be committed before the version we
   * re-synced to with a full content, so that content already holds it: take
   * it out of the local state (keeping later buffered edits).
   */
  private dropCommittedInflight(seq: number, v: number): void {
    if (this.inflight === null) return;
    // The local content is base, inflight, buffer: undoing the inflight op
    // under the buffer, as if committed, leaves base and the buffer.
    const inv = this.type.invert(this.inflight.op, this.base);
    this.inflight = null;
    this.inflightEdits = 0;
    this.resyncedSeq = -1;
    this.rebaseLocal(inv, undefined);
    if (this.buffer !== null && this.type.isNoop(this.buffer)) {
      this.buffer = null;
      this.bufferEdits = 0;
    }
    this.out.effect({ kind: 'ack', seq, v });
    this.reportUnsynced();
    this.flush();
    this.presenceDue();
    this.updateStatus();
  }

  /** Adopts the server's full content at version `v`, keeping unacknowledged local edits on top. */
  private resync(content: C, v: number): void {
    // Rebase pending edits on the difference between what we last knew and the
    // server's content. If the in-flight op was in fact committed already, its
    // ack carries an older version and dropCommittedInflight repairs the state.
    // The difference has no author to order ties by: it counts as committed
    // first, so its inserts go left of ours at one spot.
    this.resyncedSeq = this.inflight?.seq ?? -1;
    this.needsFull = false;
    const d = this.type.diff(this.hasPendingOps ? this.base : this.view, content);
    this.base = content;
    this.ver = v;
    this.history = [];
    this.rebaseLocal(d, undefined);
  }

  private onError(err: DocError): void {
    this.out.effect({ kind: 'error', error: err });
    switch (err.code) {
      case 'deleted':
        this.out.effect({ kind: 'deleted', msg: err.msg });
        this.shutdown();
        return;
      case 'not_found':
      case 'unauthorized':
        this.rejectReady(new TandemError(err.code, err.msg));
        this.joining = false;
        this.updateStatus();
        return;
      case 'invalid_op':
      case 'too_large':
      case 'forbidden':
        if (err.seq !== undefined && this.inflight !== null && err.seq === this.inflight.seq) {
          let dropped = this.inflight.op;
          if (this.buffer !== null) dropped = this.type.compose(dropped, this.buffer);
          this.inflight = null;
          this.buffer = null;
          this.inflightEdits = this.bufferEdits = 0;
          // The view keeps the dropped edits until the full content comes
          // (resync diffs from the view then). But edits made before that
          // are made on this view, and resync rebases them from the base:
          // so the base becomes the view now, or the dropped edits would
          // stay in the view past the resync, on this client alone.
          this.base = this.type.apply(this.base, this.type.diff(this.base, this.view)).content;
          this.needsFull = true;
          this.reportUnsynced();
          this.undo.clear();
          this.out.effect({ kind: 'invalid_op', error: err, dropped });
          this.join(true);
        } else if (err.code === 'forbidden' && err.seq === undefined) {
          this.rejectReady(new TandemError(err.code, err.msg));
          // A synced document whose access a renewed token took away was left
          // by the server (docs/protocol.md, section 16): it stops syncing
          // until the connection re-joins it.
          if (this.ver >= 0) this.disconnected();
        }
        return;
      case 'rate_limited':
        if (err.seq !== undefined && this.inflight !== null && err.seq === this.inflight.seq) this.out.effect({ kind: 'retry_later' });
        return;
      default:
        return;
    }
  }

  private resolveReady(): void {
    if (this.readySettled) return;
    this.readySettled = true;
    this.out.effect({ kind: 'ready' });
  }

  /** Rejects `ready` unless the document was ever synced. */
  private rejectReady(error: TandemError): void {
    if (this.readySettled || this.ver >= 0) return;
    this.readySettled = true;
    this.out.effect({ kind: 'ready', error });
  }

  private shutdown(): void {
    this.closed = true;
    this.removePeers();
    this.out.effect({ kind: 'stopped', closed: true });
    this.setStatus('closed');
  }

  private lastUnsynced = 0;

  private reportUnsynced(): void {
    const n = this.unsynced;
    if (n === this.lastUnsynced) return;
    this.lastUnsynced = n;
    this.out.effect({ kind: 'unsynced', count: n });
  }

  private updateStatus(): void {
    if (this.closed) return;
    let s: DocStatus;
    if (!this.online) s = 'offline';
    else if (this.joining || this.ver < 0) s = 'joining';
    else if (this.inflight !== null || this.buffer !== null) s = 'pending';
    else s = 'synced';
    this.setStatus(s);
  }

  private setStatus(s: DocStatus): void {
    if (s === this.docStatus) return;
    this.docStatus = s;
    this.out.effect({ kind: 'status', status: s });
  }

  // ---- peers -------------------------------------------------------------

  /**
   * Moves the selection of `owner` from server version `v` to local
   * coordinates: through the ops committed since (the owner's own ones move it
   * as its editor did) and through this client's pending ops.
   */
  private selectionToLocal(sel: S | null, v: number, owner: string): S | null {
    if (sel === null) return null;
    let s: S = sel;
    if (v < this.ver) {
      for (const h of this.history) if (h.v >= v) s = this.type.transformSelection(s, h.op, owner !== '' && owner === h.sid);
    }
    if (this.inflight !== null) s = this.type.transformSelection(s, this.inflight.op, owner === this.sid);
    if (this.buffer !== null) s = this.type.transformSelection(s, this.buffer, owner === this.sid);
    return this.type.fitSelection(s, this.view);
  }

  /** Moves every peer's selection through an op by `author` applied to the local content. */
  private movePeers(op: O, author: string | undefined): void {
    for (const p of this.peerMap.values()) {
      if (p.selection !== null) p.selection = this.type.transformSelection(p.selection, op, p.sid !== '' && p.sid === author);
    }
  }

  /** The author's selection that came with their op, at server version `v`. */
  private onPeerSelection(sid: string, sel: S | null, v: number): void {
    const p = this.peerMap.get(sid);
    if (p === undefined) return;
    const local = this.selectionToLocal(sel, v, sid);
    if (sameValue(local, p.selection)) return;
    p.selection = local;
    this.out.effect({ kind: 'peers', peers: [p] });
  }

  private toPeer(w: WirePeer<unknown>, v: number): Peer<S> {
    return { sid: w.sid, user: w.user, selection: this.selectionToLocal((w.sel ?? null) as S | null, v, w.sid), data: w.data ?? null };
  }

  /** A `presence` message: changed peers at version `v`, and the ones gone. */
  private onPresence(v: number, peers: WirePeer<unknown>[], gone: string[]): void {
    const changed: Peer<S>[] = [];
    for (const w of peers) {
      if (w.sid === this.sid) continue;
      const p = this.toPeer(w, v);
      this.peerMap.set(w.sid, p);
      changed.push(p);
    }
    if (changed.length > 0) this.out.effect({ kind: 'peers', peers: changed });
    for (const sid of gone) this.removePeer(sid);
  }

  /** The peer list of a `joined` message replaces ours. */
  private onPeerList(v: number, peers: WirePeer<unknown>[]): void {
    const seen = new Set<string>();
    const changed: Peer<S>[] = [];
    for (const w of peers) {
      if (w.sid === this.sid) continue;
      seen.add(w.sid);
      const p = this.toPeer(w, v);
      this.peerMap.set(w.sid, p);
      changed.push(p);
    }
    for (const sid of [...this.peerMap.keys()]) if (!seen.has(sid)) this.removePeer(sid);
    if (changed.length > 0) this.out.effect({ kind: 'peers', peers: changed });
    // Peers lost our caret with the old connection: announce it again.
    if (this.localSel !== null || this.data !== undefined) {
      this.selDirty = true;
      this.dataDirty = this.data !== undefined;
    }
  }

  private removePeers(): void {
    for (const sid of [...this.peerMap.keys()]) this.removePeer(sid);
  }

  private removePeer(sid: string): void {
    const p = this.peerMap.get(sid);
    if (p === undefined) return;
    this.peerMap.delete(sid);
    this.out.effect({ kind: 'leave', peer: p });
  }
}

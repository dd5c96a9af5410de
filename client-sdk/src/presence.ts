import { Emitter } from './emitter.js';
import { transformSelection, transformSelectionPast, type Op, type Range, type Selection } from './ot/op.js';
import { OffsetMap } from './ot/unicode.js';
import type { PresenceData, ServerUser, WirePeer } from './protocol.js';
import type { TextDoc } from './doc.js';

/** Another person in the document. Selection offsets are code points in the local text. */
export interface Peer {
  /** Their session id (one per tab). */
  sid: string;
  /** Who they are. */
  user: ServerUser;
  /** Their selection in **code points** of the local text, or null when hidden. */
  selection: Selection;
  /** Their free presence data (e.g. `{cursor: {x, y}}`), or null. */
  data: PresenceData | null;
}

/** Events of {@link Presence}. */
export interface PresenceEvents {
  /** Peers joined, moved their selection or changed their data (`peers` lists the changed ones). */
  change: { peers: Peer[] };
  /** A peer left. */
  leave: { peer: Peer };
}

function sameSel(a: Selection, b: Selection): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((r, i) => r[0] === (b[i] as Range)[0] && r[1] === (b[i] as Range)[1]);
}

/**
 * Presence of a {@link TextDoc}: this client's selection and data, and the
 * peers'. Local updates are throttled and sent only when no own op is in
 * flight (the selection otherwise rides on the next op, and `data` waits for
 * the ack), per docs/protocol.md ("Presence"). Remote selections are kept in
 * local coordinates: transformed through pending local ops and every later
 * edit, with the caret rule (an insert exactly at a caret leaves it before the
 * inserted text, except the author's own caret after its own insert).
 */
export class Presence extends Emitter<PresenceEvents> {
  private readonly peers = new Map<string, Peer>();
  private localSel: Selection = null;
  private _data: PresenceData | undefined = undefined;
  private selDirty = false;
  private dataDirty = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastSentAt = 0;

  /** @internal Created by {@link TextDoc}. */
  constructor(
    private readonly doc: TextDoc,
    private readonly throttleMs: number,
  ) {
    super();
  }

  /** This client's selection in **code points** (null when hidden). */
  get localSelection(): Selection {
    return this.localSel;
  }

  /** This client's presence data (undefined until {@link setData}). */
  get localData(): PresenceData | undefined {
    return this._data;
  }

  /** Sets this client's selection in **code points** (`null` hides the caret). */
  setSelection(sel: Selection): void {
    const norm = sel === null ? null : sel.map(([a, h]) => [a, h] as Range);
    if (sameSel(norm, this.localSel)) return;
    this.localSel = norm;
    this.selDirty = true;
    this.schedule();
  }

  /** Sets this client's selection in **UTF-16** offsets of the current text (`null` hides the caret). */
  setSelectionUtf16(sel: Selection): void {
    if (sel === null) {
      this.setSelection(null);
      return;
    }
    const map = new OffsetMap(this.doc.text);
    this.setSelection(sel.map(([a, h]) => [map.toCodePoint(a), map.toCodePoint(h)] as Range));
  }

  /** Sets this client's free presence data (at most 1 KiB encoded), e.g. `{cursor: {x, y}}`. Throttled. */
  setData(data: PresenceData): void {
    this._data = data;
    this.dataDirty = true;
    this.schedule();
  }

  /** The other people in the document (this client excluded). */
  getPeers(): Peer[] {
    return [...this.peers.values()];
  }

  /** One peer by session id. */
  getPeer(sid: string): Peer | undefined {
    return this.peers.get(sid);
  }

  /** Converts a code point selection of the current text to **UTF-16** offsets (for editors). */
  toUtf16(sel: Selection): Selection {
    if (sel === null) return null;
    const map = new OffsetMap(this.doc.text);
    const max = this.doc.text.length;
    return sel.map(([a, h]) => [Math.min(max, map.toUtf16(Math.min(a, this.doc.length))), Math.min(max, map.toUtf16(Math.min(h, this.doc.length)))] as Range);
  }

  private schedule(): void {
    if (this.timer !== null) return;
    const wait = Math.max(0, this.lastSentAt + this.throttleMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.send();
    }, wait);
  }

  private send(): void {
    if (!this.selDirty && !this.dataDirty) return;
    if (!this.doc._canSendPresence()) return; // retried after the ack or the next join
    if (this.doc._sendPresence(this.localSel, this._data)) {
      this.selDirty = false;
      this.dataDirty = false;
      this.lastSentAt = Date.now();
    }
  }

  /** @internal Called after an ack or a join: sends what is waiting, if allowed. */
  _flushSoon(): void {
    if (this.selDirty || this.dataDirty) this.schedule();
  }

  /** @internal The selection went out with an op. */
  _selectionSent(): void {
    this.selDirty = false;
  }

  /** @internal A local op was applied: move every selection (ours as the author's own). */
  _transformLocal(op: Op): void {
    if (this.localSel !== null) this.localSel = transformSelection(this.localSel, op, true);
    this.transformPeers(op, this.doc.sid);
  }

  /** @internal A remote op by `sid` (absent for a resync) was applied: move every selection. */
  _transformRemote(op: Op, sid?: string): void {
    if (this.localSel !== null) this.localSel = transformSelection(this.localSel, op);
    this.transformPeers(op, sid);
  }

  private transformPeers(op: Op, author: string | undefined): void {
    for (const p of this.peers.values()) {
      if (p.selection !== null) p.selection = transformSelectionPast(p.selection, p.sid, op, author);
    }
  }

  /** @internal The author's selection that came with their op, at server version `v`. */
  _onPeerSelection(sid: string, sel: Selection, v: number): void {
    const p = this.peers.get(sid);
    if (p === undefined) return;
    const local = this.doc._selectionToLocal(sel, v, sid);
    if (sameSel(local, p.selection)) return;
    p.selection = local;
    this.emit('change', { peers: [p] });
  }

  /** @internal A `presence` message. */
  _onPresence(v: number, peers: WirePeer[], gone: string[]): void {
    const changed: Peer[] = [];
    for (const w of peers) {
      if (w.sid === this.doc.sid) continue;
      const p: Peer = { sid: w.sid, user: w.user, selection: this.doc._selectionToLocal(w.sel ?? null, v, w.sid), data: w.data ?? null };
      this.peers.set(w.sid, p);
      changed.push(p);
    }
    if (changed.length > 0) this.emit('change', { peers: changed });
    for (const sid of gone) this.remove(sid);
  }

  /** @internal The peer list of a `joined` message replaces ours. */
  _onJoined(v: number, peers: WirePeer[]): void {
    const seen = new Set<string>();
    const changed: Peer[] = [];
    for (const w of peers) {
      if (w.sid === this.doc.sid) continue;
      seen.add(w.sid);
      const p: Peer = { sid: w.sid, user: w.user, selection: this.doc._selectionToLocal(w.sel ?? null, v, w.sid), data: w.data ?? null };
      this.peers.set(w.sid, p);
      changed.push(p);
    }
    for (const sid of [...this.peers.keys()]) if (!seen.has(sid)) this.remove(sid);
    if (changed.length > 0) this.emit('change', { peers: changed });
    // Peers lost our caret with the old connection: announce it again.
    if (this.localSel !== null || this._data !== undefined) {
      this.selDirty = true;
      this.dataDirty = this._data !== undefined;
    }
  }

  /** @internal Offline: peers are unknown until the next join. */
  _offline(): void {
    for (const sid of [...this.peers.keys()]) this.remove(sid);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private remove(sid: string): void {
    const p = this.peers.get(sid);
    if (p === undefined) return;
    this.peers.delete(sid);
    this.emit('leave', { peer: p });
  }
}

/**
 * Keeps one open document in an {@link OfflineStore}: loads what a previous
 * page left (the tab's own pending edits, else the newest snapshot any tab
 * stored) into the pure state before it first joins, and writes the state
 * back after every change, coalesced, one write at a time, in order.
 *
 * An op is sent only once the state holding its `seq` is stored (see
 * {@link DocPersistence.beforeSend}): whatever the server may have seen, a
 * reopened page finds, so it resubmits it with the same `seq` and never
 * reuses a `seq` for another op.
 * @module
 */
import type { SavedDocState } from '../state.js';
import type { OfflineStore, StoredState } from './types.js';

/** What a {@link DocPersistence} needs of the document's state and session. */
export interface Persisted<C, O> {
  readonly id: string;
  readonly typeName: string;
  /** The session id the state is kept under (final once `sidReady` resolved). */
  sid(): string;
  /** Resolves to the tab's final session id (see Connection: a reopened tab may take a closed one's over). */
  readonly sidReady: Promise<string>;
  /** Takes the final sid over (before the first sync). */
  adoptSid(sid: string): void;
  saved(): SavedDocState<C, O>;
  restore(s: SavedDocState<C, O>): void;
  decodeContent(value: unknown): C;
  /** The seq counter must go past `seq` (a stored state used it). */
  seqFloor(seq: number): void;
  /** A storage failure (the document goes on in memory). */
  failed(e: Error): void;
}

/** Persistence of one document. */
export class DocPersistence<C, O> {
  /** Resolves once the stored state is in place (or there was none). */
  readonly loaded: Promise<void>;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private storedSeq = 0;
  private lastSeq = 0;
  private snapshotV = -1;
  private stopped = false;

  constructor(
    private readonly store: OfflineStore,
    private readonly doc: Persisted<C, O>,
  ) {
    this.loaded = this.load().catch((e: unknown) => this.doc.failed(e as Error));
  }

  private async load(): Promise<void> {
    const sid = await this.doc.sidReady;
    if (sid !== this.doc.sid()) this.doc.adoptSid(sid);
    const [own, snap] = await Promise.all([this.store.getState(this.doc.id, sid), this.store.getSnapshot(this.doc.id)]);
    if (own !== undefined) {
      this.lastSeq = own.lastSeq;
      this.storedSeq = own.inflight?.seq ?? 0;
      this.doc.seqFloor(own.lastSeq);
    }
    if (snap !== undefined) this.snapshotV = snap.v;
    // Own pending edits win over the snapshot (they are based on their own base),
    // even on a document never synced (v -1: edits on the empty content, rebased
    // on the server's content at the first join).
    const ownPending = own !== undefined && own.type === this.doc.typeName && (own.inflight !== null || (own.buffer !== null && own.buffer !== undefined));
    if (ownPending) {
      this.doc.restore({
        v: own.v,
        base: own.v >= 0 ? this.doc.decodeContent(own.base) : this.doc.saved().base,
        inflight: own.inflight as { seq: number; op: O } | null,
        buffer: (own.buffer ?? null) as O | null,
        unsynced: own.unsynced,
      });
    } else if (snap !== undefined && snap.type === this.doc.typeName) {
      this.doc.restore({ v: snap.v, base: this.doc.decodeContent(snap.content), inflight: null, buffer: null, unsynced: 0 });
    }
    // Edits typed before the storage answered are in the state now: store them.
    if (this.doc.saved().unsynced > 0) this.schedule();
  }

  /** The state changed: write it (coalesced). */
  schedule(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.writing === null) this.writing = this.drain();
  }

  /** Resolves when everything scheduled so far is stored. */
  async flushed(): Promise<void> {
    while (this.writing !== null) await this.writing;
  }

  /**
   * Whether an op with `seq` may be sent now; otherwise it may once the
   * returned promise resolves (the state holding the `seq` is then stored).
   */
  beforeSend(seq: number): true | Promise<void> {
    if (seq <= this.storedSeq || this.stopped) return true;
    this.schedule();
    return this.flushed();
  }

  /** Stops writing (the document was closed or deleted). */
  stop(): void {
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    try {
      await this.loaded;
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        await this.write();
      }
    } catch (e) {
      this.doc.failed(e as Error);
    } finally {
      this.writing = null;
    }
  }

  private async write(): Promise<void> {
    // Copies now: a content may change in place later (the tree type does).
    const s = structuredClone(this.doc.saved());
    const pending = s.inflight !== null || s.buffer !== null;
    if (s.inflight !== null) this.lastSeq = Math.max(this.lastSeq, s.inflight.seq);
    const state: StoredState = {
      doc: this.doc.id,
      sid: this.doc.sid(),
      type: this.doc.typeName,
      v: s.v,
      base: pending ? s.base : null,
      inflight: s.inflight,
      buffer: s.buffer,
      lastSeq: this.lastSeq,
      unsynced: s.unsynced,
      updatedAt: Date.now(),
    };
    const seq = s.inflight?.seq ?? 0;
    const writes: Promise<unknown>[] = [this.store.putState(state)];
    if (s.v > this.snapshotV) {
      const v = s.v;
      writes.push(
        this.store.putSnapshot({ doc: this.doc.id, type: this.doc.typeName, v, content: s.base, updatedAt: state.updatedAt }).then(() => {
          this.snapshotV = Math.max(this.snapshotV, v);
        }),
      );
    }
    await Promise.all(writes);
    this.storedSeq = Math.max(this.storedSeq, seq);
  }
}

/**
 * An {@link OfflineStore} in memory: for tests and for Node, where there is
 * no IndexedDB. It survives closing a connection and opening another in the
 * same process (what a reload is to a browser tab), not the process.
 * @module
 */
import { SidLeases } from './leases.js';
import type { OfflineStore, StoredSnapshot, StoredState } from './types.js';

let stores = 0;

/** Keeps snapshots and states in maps, as structured-clone copies (like IndexedDB does). */
export class MemoryStore implements OfflineStore {
  readonly kind = 'memory';
  private readonly snaps = new Map<string, StoredSnapshot>();
  private readonly states = new Map<string, StoredState>();
  private readonly leases = new SidLeases(`memory-${++stores}`, false);

  private static key(doc: string, sid: string): string {
    return JSON.stringify([doc, sid]);
  }

  async getSnapshot(doc: string): Promise<StoredSnapshot | undefined> {
    const s = this.snaps.get(doc);
    return s === undefined ? undefined : structuredClone(s);
  }

  async putSnapshot(s: StoredSnapshot): Promise<boolean> {
    const old = this.snaps.get(s.doc);
    if (old !== undefined && old.v >= s.v) return false;
    this.snaps.set(s.doc, structuredClone(s));
    return true;
  }

  async getState(doc: string, sid: string): Promise<StoredState | undefined> {
    const s = this.states.get(MemoryStore.key(doc, sid));
    return s === undefined ? undefined : structuredClone(s);
  }

  async putState(s: StoredState): Promise<void> {
    this.states.set(MemoryStore.key(s.doc, s.sid), structuredClone(s));
  }

  async listStates(doc?: string): Promise<StoredState[]> {
    return [...this.states.values()].filter((s) => doc === undefined || s.doc === doc).map((s) => structuredClone(s));
  }

  async deleteDoc(doc: string): Promise<void> {
    this.snaps.delete(doc);
    for (const [k, s] of this.states) if (s.doc === doc) this.states.delete(k);
  }

  acquireSid(sid: string): Promise<boolean> {
    return this.leases.acquire(sid);
  }

  releaseSid(sid: string): void {
    this.leases.release(sid);
  }
}

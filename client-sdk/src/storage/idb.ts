/**
 * An {@link OfflineStore} in the browser's IndexedDB, through the `idb`
 * wrapper. One database (default name `tandem`) with two object stores:
 * `snapshots` keyed by document id, `states` keyed by [document id, sid].
 * Session-id leases use the Web Locks API.
 * @module
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { SidLeases } from './leases.js';
import type { OfflineStore, StoredSnapshot, StoredState } from './types.js';

interface Schema extends DBSchema {
  snapshots: { key: string; value: StoredSnapshot };
  states: { key: [string, string]; value: StoredState; indexes: { doc: string } };
}

/** Options of {@link IndexedDBStore}. */
export interface IndexedDBStoreOptions {
  /** Database name (default `tandem`); one per server an app talks to, if several. */
  name?: string;
  /** The IndexedDB factory (default `globalThis.indexedDB`; `fake-indexeddb` in Node tests). */
  indexedDB?: IDBFactory;
}

/** Keeps documents in IndexedDB; the database opens on first use. */
export class IndexedDBStore implements OfflineStore {
  readonly kind = 'indexeddb';
  private db: Promise<IDBPDatabase<Schema>> | null = null;
  private readonly leases: SidLeases;
  private readonly name: string;
  private readonly factory: IDBFactory | undefined;

  constructor(options: IndexedDBStoreOptions = {}) {
    this.name = options.name ?? 'tandem';
    this.factory = options.indexedDB;
    this.leases = new SidLeases(`idb-${this.name}`);
  }

  /** True when this runtime has IndexedDB. */
  static available(): boolean {
    return typeof (globalThis as { indexedDB?: unknown }).indexedDB === 'object' && (globalThis as { indexedDB?: unknown }).indexedDB !== null;
  }

  private open(): Promise<IDBPDatabase<Schema>> {
    if (this.db === null) {
      const factory = this.factory;
      const saved = factory !== undefined ? (globalThis as { indexedDB?: IDBFactory }).indexedDB : undefined;
      // idb opens through globalThis.indexedDB: swap in the given factory for the call.
      if (factory !== undefined) (globalThis as { indexedDB?: IDBFactory }).indexedDB = factory;
      try {
        this.db = openDB<Schema>(this.name, 1, {
          upgrade(db) {
            db.createObjectStore('snapshots', { keyPath: 'doc' });
            const states = db.createObjectStore('states', { keyPath: ['doc', 'sid'] });
            states.createIndex('doc', 'doc');
          },
        });
      } finally {
        if (factory !== undefined) (globalThis as { indexedDB?: IDBFactory }).indexedDB = saved;
      }
      this.db.catch(() => {
        this.db = null; // try again next time
      });
    }
    return this.db;
  }

  async getSnapshot(doc: string): Promise<StoredSnapshot | undefined> {
    return (await this.open()).get('snapshots', doc);
  }

  async putSnapshot(s: StoredSnapshot): Promise<boolean> {
    const db = await this.open();
    // One read-write transaction: two tabs writing at once cannot both win.
    const tx = db.transaction('snapshots', 'readwrite');
    const old = await tx.store.get(s.doc);
    if (old !== undefined && old.v >= s.v) {
      await tx.done;
      return false;
    }
    await tx.store.put(s);
    await tx.done;
    return true;
  }

  async getState(doc: string, sid: string): Promise<StoredState | undefined> {
    return (await this.open()).get('states', [doc, sid]);
  }

  async putState(s: StoredState): Promise<void> {
    await (await this.open()).put('states', s);
  }

  async listStates(doc?: string): Promise<StoredState[]> {
    const db = await this.open();
    return doc === undefined ? db.getAll('states') : db.getAllFromIndex('states', 'doc', doc);
  }

  async deleteDoc(doc: string): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(['snapshots', 'states'], 'readwrite');
    await tx.objectStore('snapshots').delete(doc);
    const states = tx.objectStore('states');
    for (const key of await states.index('doc').getAllKeys(doc)) await states.delete(key);
    await tx.done;
  }

  acquireSid(sid: string): Promise<boolean> {
    return this.leases.acquire(sid);
  }

  releaseSid(sid: string): void {
    this.leases.release(sid);
  }

  /** Closes the database (it reopens on next use). */
  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    if (db !== null) (await db).close();
  }
}

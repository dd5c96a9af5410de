/**
 * Leases of session ids between the tabs of one browser. With the Web Locks
 * API (every current browser) a lease is an exclusive lock held until it is
 * released or the tab goes away, so a closed or crashed tab frees its sid at
 * once. Without it (Node, old browsers) leases are kept per JavaScript realm,
 * which is what tests and single-process clients need.
 * @module
 */

interface LockManagerLike {
  request(name: string, options: { ifAvailable: boolean }, cb: (lock: unknown) => Promise<void>): Promise<void>;
}

function lockManager(): LockManagerLike | null {
  const n = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return n?.locks !== undefined && typeof n.locks.request === 'function' ? n.locks : null;
}

/** Per-realm leases (the fallback without Web Locks), shared by every store of this realm with the same scope. */
const realmLeases = new Map<string, Set<string>>();

/** Leases of one store (`scope` names it, so two stores do not share leases). */
export class SidLeases {
  private readonly held = new Map<string, () => void>();

  constructor(
    private readonly scope: string,
    private readonly useLocks = true,
  ) {}

  /** Takes the lease of `sid`; false when someone else holds it. */
  async acquire(sid: string): Promise<boolean> {
    if (this.held.has(sid)) return true;
    const locks = this.useLocks ? lockManager() : null;
    if (locks === null) {
      let set = realmLeases.get(this.scope);
      if (set === undefined) realmLeases.set(this.scope, (set = new Set()));
      if (set.has(sid)) return false;
      set.add(sid);
      this.held.set(sid, () => set.delete(sid));
      return true;
    }
    return new Promise<boolean>((resolve) => {
      void locks
        .request(`tandem:${this.scope}:sid:${sid}`, { ifAvailable: true }, (lock) => {
          if (lock === null) {
            resolve(false);
            return Promise.resolve();
          }
          // Held until released: the promise the callback returns settles then.
          return new Promise<void>((release) => {
            this.held.set(sid, release);
            resolve(true);
          });
        })
        .catch(() => resolve(false));
    });
  }

  /** Gives the lease of `sid` back. */
  release(sid: string): void {
    const r = this.held.get(sid);
    if (r === undefined) return;
    this.held.delete(sid);
    r();
  }
}

/**
 * Which session id a new tab uses when documents are kept offline. A tab
 * keeps its sid across reloads (in `sessionStorage`); a tab opened anew takes
 * over the sid of a closed tab that left unsynced edits, so that it
 * resubmits them under their own (sid, seq) and the server applies each at
 * most once. A sid is used by one live tab at a time (a lease, see
 * {@link OfflineStore.acquireSid}): two tabs never share one.
 * @module
 */
import type { OfflineStore } from './types.js';

/**
 * The sid this tab uses: `preferred` (this tab's own, from sessionStorage)
 * when its lease is free and no other closed tab left edits it should take
 * over first... precisely: its own if it left unsynced edits, else a free sid
 * with unsynced edits (newest first), else `preferred`, else (a duplicated
 * tab whose sessionStorage holds a live tab's sid) a fresh one from `fresh`.
 * `fixed` (a sid given in the options) is used as is.
 */
export async function claimSid(store: OfflineStore, preferred: string, fresh: () => string, fixed: boolean): Promise<string> {
  if (fixed) {
    await store.acquireSid(preferred);
    return preferred;
  }
  const states = await store.listStates();
  const latest = new Map<string, number>();
  for (const s of states) {
    if (s.inflight === null && (s.buffer === null || s.buffer === undefined)) continue;
    latest.set(s.sid, Math.max(latest.get(s.sid) ?? 0, s.updatedAt));
  }
  const orphans = [...latest.entries()].sort((a, b) => b[1] - a[1]).map(([sid]) => sid);
  // A reloaded tab: the page it replaces may still hold the lease for a moment.
  if (latest.has(preferred) && (await acquireSoon(store, preferred))) return preferred;
  for (const sid of orphans) {
    if (sid !== preferred && (await store.acquireSid(sid))) return sid;
  }
  if (await store.acquireSid(preferred)) return preferred;
  for (;;) {
    const sid = fresh();
    if (await store.acquireSid(sid)) return sid;
  }
}

/** Tries to lease `sid` for up to about a second (a reloaded page's predecessor releasing it). */
async function acquireSoon(store: OfflineStore, sid: string): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    if (await store.acquireSid(sid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

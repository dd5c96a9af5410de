/** Set-ups of the RichDoc and binding tests: a scripted joined rich document, and simulated clients on the fake server. */
import { Connection, type Delta, type RichDoc } from '../../src/index.js';
import type { FakeServer } from './fake-server.js';
import { MemoryStorage } from './fake-server.js';
import { harness } from './manual.js';

/** A harness with rich document "d" open (every edit its own undo step), welcomed and joined at version 0 with `delta`. */
export async function syncedRich(delta: Delta) {
  const h = harness();
  const doc = h.conn.openRich('d', { undoCaptureMs: 0 });
  const s = await h.welcome();
  s.deliver({ t: 'joined', doc: 'd', type: 'rich', v: 0, text: delta, peers: [], mode: 'rw' });
  return { h, doc, s };
}

/** A client of `server` (its sid starts with `name`) with rich document "doc" open. */
export function richClient(server: FakeServer, name: string): { conn: Connection; doc: RichDoc } {
  const conn = new Connection({
    url: 'ws://fake/v1/ws',
    WebSocket: server.WebSocket,
    sid: `${name}-aaaaaaaaaaaaaaaa`,
    storage: new MemoryStorage(),
    user: { name, color: '#123456' },
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    idleTimeoutMs: 600_000,
  });
  return { conn, doc: conn.openRich('doc', { undoCaptureMs: 0 }) };
}

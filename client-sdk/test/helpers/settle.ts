import { vi } from 'vitest';
import type { Connection } from '../../src/index.js';
import type { FakeServer } from './fake-server.js';

/** A simulated client: its connection and one open document. */
export interface SimClient {
  conn: Connection;
  doc: { readonly status: string };
}

/** Runs virtual time (vi.useFakeTimers) until every client is online, synced and the network is quiet. */
export async function settle(_server: FakeServer, clients: SimClient[]): Promise<void> {
  for (let i = 0; i < 400; i++) {
    await vi.advanceTimersByTimeAsync(50);
    if (clients.every((c) => c.doc.status === 'synced') && vi.getTimerCount() < 200) {
      await vi.advanceTimersByTimeAsync(200);
      if (clients.every((c) => c.doc.status === 'synced')) return;
    }
  }
  throw new Error(`did not settle: ${clients.map((c) => `${c.conn.state}/${c.doc.status}`).join(', ')}`);
}

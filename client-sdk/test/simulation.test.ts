import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Connection, TextDoc } from '../src/index.js';
import { cpLength } from '../src/ot/index.js';
import { fakeConnection, FakeServer, MemoryStorage } from './helpers/fake-server.js';
import { randomOp, randomText, rng } from './helpers/random.js';
import { settle } from './helpers/settle.js';

interface Client {
  conn: Connection;
  doc: TextDoc;
  storage: MemoryStorage;
}

function makeClient(server: FakeServer, i: number, storage = new MemoryStorage()): Client {
  const conn = fakeConnection(server, i, storage);
  const doc = conn.openDoc('doc', { undoCaptureMs: 0 });
  return { conn, doc, storage };
}

function checkExactlyOnce(server: FakeServer, clients: Client[]): void {
  const d = server.doc('doc');
  const seen = new Set<string>();
  for (const e of d.log) {
    const k = `${e.sid}:${e.seq}`;
    expect(seen.has(k), `duplicate commit ${k}`).toBe(false);
    seen.add(k);
  }
  for (const c of clients) {
    // Every seq the client ever assigned (1..last) was committed exactly once.
    const last = Number(c.storage.getItem(`tandem.seq.${c.conn.sid}.doc`) ?? '0');
    for (let s = 1; s <= last; s++) expect(seen.has(`${c.conn.sid}:${s}`), `${c.conn.sid} seq ${s} lost`).toBe(true);
  }
}

describe('randomized simulation: fake server, delays, coalesced frames, disconnects', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  // SIM_SEEDS=n runs n extra seeds (for local stress runs); seeds divisible by 3 use a server without history.
  const extra = Number(process.env.SIM_SEEDS ?? '0');
  const seeds = [11, 22, 33, 44, 55, 66, ...Array.from({ length: extra }, (_, i) => 1000 + i)];
  for (const seed of seeds) {
    it(`converges with random edits, undo and disconnects (seed ${seed})`, async () => {
      const r = rng(seed);
      const server = new FakeServer({ random: r, maxDelayMs: 30, noHistory: seed % 3 === 0 });
      const clients = [0, 1, 2, 3].map((i) => makeClient(server, i));
      await settle(server, clients);
      for (let step = 0; step < 250; step++) {
        const c = clients[Math.floor(r() * clients.length)] as Client;
        const x = r();
        if (x < 0.6) {
          c.doc.submitOp(randomOp(r, cpLength(c.doc.text)));
        } else if (x < 0.68) {
          c.doc.undo();
        } else if (x < 0.72) {
          c.doc.redo();
        } else if (x < 0.8) {
          const n = cpLength(c.doc.text);
          const a = Math.floor(r() * (n + 1));
          c.doc.presence.setSelection([[a, Math.min(n, a + 2)]]);
          c.doc.presence.setData({ cursor: { x: step, y: seed } });
        } else if (x < 0.86) {
          // network failure of one client: frames in flight are lost both ways
          for (const s of [...server.sockets]) if (r() < 0.3) s.fail();
        } else if (x < 0.88) {
          server.dropAll();
        }
        await vi.advanceTimersByTimeAsync(Math.floor(r() * 25));
      }
      await settle(server, clients);
      expect(server.violations).toEqual([]);
      // The run exercised what it claims: many commits, several reconnects, coalesced resubmissions.
      expect(server.doc('doc').log.length).toBeGreaterThan(50);
      expect(server.received.filter((m) => m.t === 'hello').length).toBeGreaterThan(clients.length + 3);
      const text = server.doc('doc').text;
      for (const c of clients) expect(c.doc.text).toBe(text);
      for (const c of clients) expect(c.doc.version).toBe(server.doc('doc').log.length);
      checkExactlyOnce(server, clients);
      // Presence converged: every client sees the others, with selections inside the text.
      for (const c of clients) {
        const peers = c.doc.presence.getPeers();
        expect(peers.map((p) => p.sid).sort()).toEqual(clients.filter((o) => o !== c).map((o) => o.conn.sid).sort());
        for (const p of peers) for (const [a, h] of p.selection ?? []) expect(Math.max(a, h)).toBeLessThanOrEqual(cpLength(text));
      }
      for (const c of clients) c.conn.destroy();
    });
  }

  it('loses and duplicates nothing typed: unique insert-only tokens with disconnects', async () => {
    const r = rng(7);
    const server = new FakeServer({ random: r, maxDelayMs: 40 });
    const clients = [0, 1, 2].map((i) => makeClient(server, i));
    const typed: string[] = [];
    for (let step = 0; step < 300; step++) {
      const ci = Math.floor(r() * clients.length);
      const c = clients[ci] as Client;
      if (r() < 0.75) {
        const token = `<${ci}.${step}${r() < 0.3 ? '😀' : ''}>`;
        const n = cpLength(c.doc.text);
        // insert between tokens only, so tokens stay contiguous
        const bounds = [0];
        let cp = 0;
        for (const ch of c.doc.text) {
          cp++;
          if (ch === '>') bounds.push(cp);
        }
        const at = bounds[Math.floor(r() * bounds.length)] as number;
        expect(at).toBeLessThanOrEqual(n);
        c.doc.insert(at, token);
        typed.push(token);
      } else {
        for (const s of [...server.sockets]) if (r() < 0.4) s.fail();
      }
      await vi.advanceTimersByTimeAsync(Math.floor(r() * 30));
    }
    await settle(server, clients);
    const text = server.doc('doc').text;
    for (const c of clients) expect(c.doc.text).toBe(text);
    for (const t of typed) expect(text.split(t).length - 1, t).toBe(1);
    expect(cpLength(text)).toBe(typed.reduce((n, t) => n + cpLength(t), 0));
    checkExactlyOnce(server, clients);
    expect(server.violations).toEqual([]);
    for (const c of clients) c.conn.destroy();
  });

  it('a reloaded tab (same sid, same storage) keeps seq increasing and its edits are applied', async () => {
    const r = rng(8);
    const server = new FakeServer({ random: r, maxDelayMs: 5 });
    const storage = new MemoryStorage();
    const a = makeClient(server, 0, storage);
    await settle(server, [a]);
    a.doc.insert(0, 'one ');
    await settle(server, [a]);
    a.conn.destroy();
    const b = makeClient(server, 0, storage);
    await settle(server, [b]);
    b.doc.insert(cpLength(b.doc.text), 'two');
    await settle(server, [b]);
    expect(server.doc('doc').text).toBe('one two');
    expect(server.violations).toEqual([]);
    b.conn.destroy();
  });

  it('random text helper produces astral characters (sanity of the generator)', () => {
    const r = rng(1);
    let astral = false;
    for (let i = 0; i < 100; i++) if (/[\ud800-\udbff]/.test(randomText(r, 8))) astral = true;
    expect(astral).toBe(true);
  });
});

/**
 * Exhaustive interleavings of the client state machine: SDK clients with a
 * small script of local edits each, a scripted peer whose edits the server
 * commits directly (remote ops), and a network whose every step is chosen by
 * the test: a local edit, delivering a client's next frame to the server,
 * delivering the server's next frame (ack, remote op, joined...) to a client,
 * a peer's commit, or (within a budget) cutting a client's connection, which
 * loses what is in flight both ways and reconnects. Every order of those steps
 * is run (stateless model checking: replay from scratch for each schedule and
 * backtrack on the last choice point, with a partial-order reduction that
 * skips orders differing only in commuting steps), and each must end
 * converged, exactly once, with the expected text.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type TextDoc } from '../src/index.js';
import type { ServerMessage } from '../src/protocol.js';
import type { WebSocketConstructor } from '../src/connection.js';
import { apply, cpLength, type Op } from '../src/ot/index.js';
import { encode } from '@msgpack/msgpack';
import { FakeServer, Session, SocketStub } from './helpers/fake-server.js';

/** A socket whose frames wait in queues until the schedule delivers them. */
class StepSocket extends SocketStub {
  readonly up: Uint8Array[] = [];
  readonly down: ServerMessage[] = [];
  readonly session: Session;
  alive = true;
  constructor(readonly net: SteppedServer) {
    super();
    this.session = new Session(this as never);
    net.bySession.set(this.session, this);
  }
  send(data: Uint8Array): void {
    if (!this.alive) throw new Error('socket closed');
    this.up.push(data.slice());
  }
  close(): void {
    this.kill();
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    this.readyState = 3;
    this.up.length = 0;
    this.down.length = 0;
    this.net.disconnect(this.session);
  }
}

/** The fake server's protocol logic, with delivery left to the schedule. */
class SteppedServer extends FakeServer {
  readonly bySession = new Map<Session, StepSocket>();
  override send(s: Session, m: ServerMessage): void {
    const sock = this.bySession.get(s);
    if (sock?.alive === true) sock.down.push(m);
  }
}

interface Client {
  conn: Connection;
  doc: TextDoc;
  socket: StepSocket;
  edits: ((d: TextDoc) => void)[];
  drops: number;
}

type Action = { kind: 'edit' | 'up' | 'down' | 'drop' | 'remote'; c: number };

/** A peer's edit, made on the server's text. */
type RemoteEdit = (text: string) => Op;

interface Scenario {
  initial: string;
  edits: ((d: TextDoc) => void)[][];
  /** Edits of a peer the server commits directly, one step each (a remote op for every client). */
  remote?: RemoteEdit[];
  drops: number[];
  noHistory?: boolean;
  /** The final text, or a check of it against the server's op log. */
  expected: string | ((text: string, log: { op: Op }[]) => boolean);
}

const live: Connection[] = [];
afterEach(() => {
  for (const c of live.splice(0)) c.destroy();
});

function enabled(clients: Client[], remote: RemoteEdit[]): Action[] {
  const out: Action[] = [];
  if (remote.length > 0) out.push({ kind: 'remote', c: clients.length });
  clients.forEach((cl, c) => {
    if (cl.edits.length > 0) out.push({ kind: 'edit', c });
    if (cl.socket.up.length > 0) out.push({ kind: 'up', c });
    if (cl.socket.down.length > 0) out.push({ kind: 'down', c });
    if (cl.drops > 0 && cl.socket.alive) out.push({ kind: 'drop', c });
  });
  return out;
}

/**
 * Whether step `a` (just taken) and step `b` of another client lead to the same
 * state in either order. Only server steps (delivering a frame to the server, or
 * a disconnect) touch shared state; they append to other clients' queues,
 * which commutes with a delivery from a queue that was not empty before `a`.
 */
function commute(a: Action, b: Action, downBeforeA: number[]): boolean {
  const server = (x: Action): boolean => x.kind === 'up' || x.kind === 'drop' || x.kind === 'remote';
  if (server(a) && server(b)) return false;
  if (server(a) && b.kind === 'down') return (downBeforeA[b.c] ?? 0) > 0;
  return true;
}

const PEER = new Session(null as never);
PEER.sid = 'scripted-peer-000000';

/** The server commits a peer's edit and broadcasts it, as for a client's op. */
function commitRemote(server: SteppedServer, edit: RemoteEdit): void {
  const d = server.doc('d');
  const op = edit(d.text);
  const v = d.log.length;
  const seq = v + 1;
  d.text = apply(d.text, op);
  d.log.push({ v, op, sid: PEER.sid as string, seq });
  d.committed.set(`${PEER.sid}:${seq}`, v);
  server.broadcast('d', PEER, { t: 'op', doc: 'd', v, op, sid: PEER.sid as string, seq });
}

function step(server: SteppedServer, cl: Client, a: Action): void {
  const s = cl.socket;
  switch (a.kind) {
    case 'edit':
      cl.edits.shift()?.(cl.doc);
      return;
    case 'up':
      server.receive(s.session, s.up.shift() as Uint8Array);
      return;
    case 'down': {
      const m = s.down.shift() as ServerMessage;
      const bytes = encode(m);
      s.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
      return;
    }
    case 'drop':
      cl.drops--;
      s.kill();
      s.onclose?.({ code: 1006, reason: '' });
      // Reconnect at once instead of after the back-off timer.
      cl.conn.reconnectNow();
      cl.socket.open();
      return;
  }
}

/** Runs one schedule; returns the number of options at each choice point. */
function runOnce(sc: Scenario, choices: number[], texts?: Set<string>): { widths: number[]; pruned: boolean } {
  const server = new SteppedServer({ random: () => 0, ...(sc.noHistory ? { noHistory: true } : {}) });
  server.doc('d').text = sc.initial;
  const clients: Client[] = [];
  sc.edits.forEach((edits, i) => {
    let current: StepSocket | null = null;
    const WS = class extends StepSocket {
      constructor() {
        super(server);
        current = this;
      }
    } as unknown as WebSocketConstructor;
    const conn = new Connection({
      url: 'ws://stepped/v1/ws',
      WebSocket: WS,
      sid: `stepped-client-${i}-0000`,
      storage: null,
      autoConnect: false,
      idleTimeoutMs: 3_600_000,
    });
    live.push(conn);
    const doc = conn.openDoc('d', { undoCaptureMs: 0 });
    const cl: Client = {
      conn,
      doc,
      edits: [...edits],
      drops: sc.drops[i] ?? 0,
      get socket(): StepSocket {
        if (current === null) throw new Error('no socket');
        return current;
      },
    };
    conn.connect();
    cl.socket.open();
    clients.push(cl);
  });
  // Handshake in a fixed order: both clients join before the schedule starts.
  for (let moved = true; moved; ) {
    moved = false;
    for (const cl of clients) {
      for (const kind of ['up', 'down'] as const) {
        if ((kind === 'up' ? cl.socket.up : cl.socket.down).length > 0) {
          step(server, cl, { kind, c: 0 });
          moved = true;
        }
      }
    }
  }
  for (const cl of clients) expect(cl.doc.status).toBe('synced');

  const remote = [...(sc.remote ?? [])];
  const widths: number[] = [];
  const trace: string[] = [];
  let prev: Action | null = null;
  let downBefore: number[] = [];
  for (;;) {
    const all = enabled(clients, remote);
    if (all.length === 0) break;
    // Partial-order reduction: of two adjacent steps of different clients that
    // commute, only the order with the lower client first is explored.
    const p = prev;
    const opts = p === null ? all : all.filter((b) => !(b.c < p.c && commute(p, b, downBefore)));
    // Every step left commutes back before the last one: an order explored elsewhere.
    if (opts.length === 0) {
      for (const c of live.splice(0)) c.destroy();
      return { widths, pruned: true };
    }
    const k = choices[widths.length] ?? 0;
    widths.push(opts.length);
    const a = opts[k] as Action;
    trace.push(`${a.kind}${a.c}`);
    downBefore = clients.map((cl) => cl.socket.down.length);
    if (a.kind === 'remote') commitRemote(server, remote.shift() as RemoteEdit);
    else step(server, clients[a.c] as Client, a);
    prev = a;
    if (widths.length > 200) throw new Error(`schedule does not end: ${trace.join(' ')}`);
  }
  const d = server.doc('d');
  const fail = (what: string): never => {
    throw new Error(`${what}\n  schedule: ${trace.join(' ')}\n  server text ${JSON.stringify(d.text)}, clients ${clients.map((c) => `${JSON.stringify(c.doc.text)} ${c.doc.status}@${c.doc.version}`).join(', ')}`);
  };
  if (server.violations.length > 0) fail(`protocol violations: ${server.violations.join('; ')}`);
  for (const cl of clients) {
    if (cl.doc.status !== 'synced' || cl.doc.text !== d.text || cl.doc.version !== d.log.length) fail('not converged');
  }
  if (typeof sc.expected === 'string' ? d.text !== sc.expected : !sc.expected(d.text, d.log as { op: Op }[])) fail(`unexpected text (want ${String(sc.expected)})`);
  texts?.add(d.text);
  // Exactly once: no (sid, seq) committed twice.
  const keys = d.log.map((e) => `${e.sid}/${e.seq}`);
  if (new Set(keys).size !== keys.length) fail(`an op was committed twice: ${keys.join(' ')}`);
  for (const c of live.splice(0)) c.destroy();
  return { widths, pruned: false };
}

/** Every schedule of a scenario, depth first. */
function explore(sc: Scenario, texts?: Set<string>): number {
  let choices: number[] = [];
  let runs = 0;
  for (;;) {
    const { widths, pruned } = runOnce(sc, choices, texts);
    if (!pruned) runs++;
    // Next schedule: bump the last choice point that has an untried option.
    const next = widths.map((_, i) => choices[i] ?? 0);
    let i = next.length - 1;
    while (i >= 0 && (next[i] as number) + 1 >= (widths[i] as number)) i--;
    if (i < 0) return runs;
    next[i] = (next[i] as number) + 1;
    choices = next.slice(0, i + 1);
  }
}

/** Code point index of the first `ch`, or the length when it is gone. */
function cpIndex(d: TextDoc, ch: string): number {
  const i = d.text.indexOf(ch);
  return i < 0 ? d.length : cpLength(d.text.slice(0, i));
}
// Edits anchored on content, so that their intent does not depend on what the client has seen yet.
const before = (ch: string, s: string) => (d: TextDoc) => d.insert(cpIndex(d, ch), s);
const after = (ch: string, s: string) => (d: TextDoc) => d.insert(Math.min(d.length, cpIndex(d, ch) + 1), s);
const del = (ch: string) => (d: TextDoc) => {
  if (d.text.includes(ch)) d.delete(cpIndex(d, ch), 1);
};
const atStart = (s: string) => (d: TextDoc) => d.insert(0, s);

/** Peer edits on the server's text, anchored on content like the clients'. */
function cpOf(text: string, ch: string): number {
  const i = text.indexOf(ch);
  return i < 0 ? cpLength(text) : cpLength(text.slice(0, i));
}
const peerBefore = (ch: string, s: string): RemoteEdit => (t) => [...(cpOf(t, ch) > 0 ? [cpOf(t, ch)] : []), s];
const peerDel = (ch: string): RemoteEdit => (t) => (t.includes(ch) ? [...(cpOf(t, ch) > 0 ? [cpOf(t, ch)] : []), -1] : []);

// Thousands of schedules each: allow for a busy machine.
describe('every interleaving of local edits, acks, remote ops and reconnects', { timeout: 90_000 }, () => {
  it('two clients: two edits against one', () => {
    const runs = explore({ initial: 'ab', edits: [[before('b', 'x'), del('a')], [after('b', '😀')]], drops: [0, 0], expected: 'xb😀' });
    expect(runs).toBeGreaterThan(20); // distinct orders run
  });

  it('one client, two local edits, two remote ops, a disconnect at any point (re-join with v)', () => {
    const runs = explore({
      initial: 'ab',
      edits: [[before('b', 'x'), atStart('😀')]],
      remote: [peerBefore('b', 'y'), peerDel('a')],
      drops: [1],
      expected: (t) => t === '😀xyb' || t === '😀yxb',
    });
    expect(runs).toBeGreaterThan(1000); // distinct orders run
  });

  it('one client, a disconnect at any point, server without history: full-text re-join rebases pending edits, none lost', () => {
    const runs = explore({
      initial: 'ab',
      edits: [[before('b', 'x'), atStart('𝄞')]],
      remote: [peerDel('b'), peerBefore('a', '🇫🇷')],
      drops: [1],
      noHistory: true,
      // A full-text re-join rebases on a text diff, which may place concurrent
      // inserts differently than ops would; no edit may be lost or doubled.
      expected: (t) => [...t].sort().join('') === [...'𝄞🇫🇷ax'].sort().join(''),
    });
    expect(runs).toBeGreaterThan(100); // distinct orders run
  });

  it('two clients and a disconnect: inserts at one position converge everywhere (AB when concurrent, sids decide; BA when B typed after seeing A)', () => {
    const texts = new Set<string>();
    const runs = explore({ initial: '', edits: [[atStart('A')], [atStart('B')]], drops: [1, 0], expected: (t) => t === 'AB' || t === 'BA' }, texts);
    expect(runs).toBeGreaterThan(100); // distinct orders run
    expect([...texts].sort()).toEqual(['AB', 'BA']);
  });
});

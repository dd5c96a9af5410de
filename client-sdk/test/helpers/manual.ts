/* A scripted fake WebSocket: the test reads what the client sent and injects server frames. */
import { decode, encode } from '@msgpack/msgpack';
import { afterEach, beforeEach, vi } from 'vitest';
import { Connection, type ConnectionOptions, type TextDocOptions } from '../../src/index.js';
import type { ClientMessage, ServerMessage, WirePeer } from '../../src/protocol.js';
import type { WebSocketConstructor } from '../../src/connection.js';
import { MemoryStorage, SocketStub } from './fake-server.js';

export class ManualSocket extends SocketStub {
  readonly sent: ClientMessage[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string | string[] | undefined,
    readonly options: { headers?: Record<string, string> } | undefined,
  ) {
    super();
  }
  send(data: Uint8Array): void {
    this.sent.push(decode(data) as ClientMessage);
  }
  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }
  /** Server accepts the connection. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  /** Server sends one frame (a map, or an array of maps). */
  deliver(m: ServerMessage | ServerMessage[]): void {
    const bytes = encode(m);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }
  /** Server or network closes the connection. */
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  /** Messages of one type sent so far. */
  of<T extends ClientMessage['t']>(t: T): Extract<ClientMessage, { t: T }>[] {
    return this.sent.filter((m): m is Extract<ClientMessage, { t: T }> => m.t === t);
  }
  last(): ClientMessage | undefined {
    return this.sent[this.sent.length - 1];
  }
}

export interface Harness {
  conn: Connection;
  sockets: ManualSocket[];
  socket(): ManualSocket;
  /** Opens the latest socket and welcomes the client. */
  welcome(): Promise<ManualSocket>;
}

export const SID = 'test-sid-0123456789';

export function harness(opts: Partial<ConnectionOptions> = {}): Harness {
  const sockets: ManualSocket[] = [];
  const WS = class extends ManualSocket {
    constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
      super(url, protocols, options);
      sockets.push(this);
    }
  } as WebSocketConstructor;
  const conn = new Connection({
    url: 'ws://server/v1/ws',
    WebSocket: WS,
    sid: SID,
    storage: new MemoryStorage(),
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    user: { name: 'Ada', color: '#f00' },
    ...opts,
  });
  const h: Harness = {
    conn,
    sockets,
    socket() {
      const s = sockets[sockets.length - 1];
      if (s === undefined) throw new Error('no socket yet');
      return s;
    },
    async welcome() {
      await vi.advanceTimersByTimeAsync(0);
      const s = h.socket();
      s.open();
      s.deliver({ t: 'welcome', proto: 1, sid: SID, user: { id: 'u1', name: 'Ada', color: '#f00' } });
      return s;
    },
  };
  return h;
}

export const peerUser = { id: 'u2', name: 'Bob', color: '#00f' };

/** Fake timers in every test of the calling file. */
export function useFakeTimers(): void {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/**
 * A harness with document "d" open (every edit its own undo step unless
 * `options` say otherwise), welcomed and joined at version `v` with `text`.
 */
export async function synced(text: string, v = 0, peers: WirePeer[] = [], options: TextDocOptions = { undoCaptureMs: 0 }) {
  const h = harness();
  const doc = h.conn.openDoc('d', options);
  const s = await h.welcome();
  s.deliver({ t: 'joined', doc: 'd', v, text, peers, mode: 'rw' });
  return { h, doc, s };
}

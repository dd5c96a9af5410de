/* A scripted fake WebSocket: the test reads what the client sent and injects server frames. */
import { decode, encode } from '@msgpack/msgpack';
import { vi } from 'vitest';
import { Connection, type ConnectionOptions } from '../../src/index.js';
import type { ClientMessage, ServerMessage } from '../../src/protocol.js';
import type { WebSocketConstructor } from '../../src/connection.js';
import { MemoryStorage } from './fake-server.js';

export class ManualSocket {
  binaryType = 'blob';
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly sent: ClientMessage[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string | string[] | undefined,
    readonly options: { headers?: Record<string, string> } | undefined,
  ) {}
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

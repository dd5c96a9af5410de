/**
 * The HTTP fallback's pieces without a server: the SSE parser, the endpoint
 * mapping, and the socket's translation of session-stream events and POST
 * answers into protocol messages (docs/protocol.md, section 17), on a
 * scripted fetch. test/fallback.test.ts runs it against the real server.
 */
import { decode, encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { httpBase, httpSocketClass, retryAfterMs, type FetchLike } from '../src/transport/http-socket.js';
import { readSSE, type SSEEvent } from '../src/transport/sse.js';

function body(chunks: string[]): { stream: ReadableStream<Uint8Array>; push(s: string): void; end(): void } {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
      for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
    },
  });
  return { stream, push: (s) => ctl.enqueue(new TextEncoder().encode(s)), end: () => ctl.close() };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('readSSE', () => {
  it('parses events split anywhere, CRLF and LF, multi-line data, ids and comments', async () => {
    const events: SSEEvent[] = [];
    let comments = 0;
    const b = body(['id: 7\r\nevent: op\r\ndata: {"v":', '7}\r\n\r\n: ping\n\n', 'data: a\ndata: b\n\n']);
    b.end();
    await readSSE(b.stream, (e) => events.push(e), () => comments++);
    expect(events).toEqual([
      { event: 'op', data: '{"v":7}', id: '7' },
      { event: 'message', data: 'a\nb' },
    ]);
    expect(comments).toBe(1);
  });
});

describe('httpBase', () => {
  it('maps the WebSocket URL to the HTTP base and takes the token out', () => {
    expect(httpBase('wss://example.com/v1/ws?token=abc')).toEqual({ base: 'https://example.com', token: 'abc' });
    expect(httpBase('ws://127.0.0.1:8080/tandem/v1/ws')).toEqual({ base: 'http://127.0.0.1:8080/tandem', token: null });
  });
});

/** A scripted fetch: each request is recorded and answered by `answer`. */
function scripted(answer: (url: string, init?: { method?: string; body?: string }) => { status: number; json?: unknown; stream?: ReadableStream<Uint8Array> }) {
  const calls: { url: string; method: string; body?: unknown; headers?: Record<string, string> }[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, method: init?.method ?? 'GET', ...(init?.body !== undefined ? { body: JSON.parse(init.body) } : {}), ...(init?.headers ? { headers: init.headers } : {}) });
    const a = answer(url, init);
    return { ok: a.status < 300, status: a.status, body: a.stream ?? null, json: async () => a.json, text: async () => JSON.stringify(a.json) };
  };
  return { fetch, calls };
}

function open(fetch: FetchLike) {
  const Socket = httpSocketClass(fetch);
  const s = new Socket('ws://srv/v1/ws?token=T', ['tandem.v1']);
  const got: Record<string, unknown>[] = [];
  const closed: number[] = [];
  s.onmessage = (ev) => {
    const v = decode(new Uint8Array(ev.data as ArrayBuffer));
    for (const m of Array.isArray(v) ? v : [v]) got.push(m as Record<string, unknown>);
  };
  s.onclose = (ev) => closed.push(ev.code ?? 0);
  return { s, got, closed, send: (m: unknown) => s.send(encode(m)) };
}

describe('the HTTP fallback socket', () => {
  it('welcomes after /healthz, collects the replay into joined, and passes ops, presence and errors on', async () => {
    const stream = body(['id: 4\nevent: op\ndata: {"v":4,"op":["x"],"sid":"other-sid-0123456789","seq":1}\n\n']);
    const { fetch, calls } = scripted((url) => {
      if (url.endsWith('/healthz')) return { status: 200 };
      if (url.includes('/events')) return { status: 200, stream: stream.stream };
      return { status: 200, json: { v: 5 } };
    });
    const { got, send } = open(fetch);
    await tick();
    send({ t: 'hello', proto: 1, sid: 'me-sid-0123456789ab', user: { name: 'Ann', color: '#f00' } });
    await tick();
    expect(got[0]).toMatchObject({ t: 'welcome', sid: 'me-sid-0123456789ab', user: { name: 'Ann' } });
    send({ t: 'join', doc: 'd', v: 4 });
    await tick();
    expect(calls[1]?.url).toBe('http://srv/v1/docs/d/events?sid=me-sid-0123456789ab&name=Ann&color=%23f00&from=4');
    expect(calls[1]?.headers?.Authorization).toBe('Bearer T');
    stream.push('event: joined\ndata: {"v":5,"type":"text","mode":"rw","peers":[],"user":{"id":"u1","name":"Ann","color":"#f00"}}\n\n');
    await tick();
    expect(got[1]).toEqual({ t: 'joined', doc: 'd', v: 5, type: 'text', mode: 'rw', peers: [], ops: [{ v: 4, op: ['x'], sid: 'other-sid-0123456789', seq: 1 }] });
    // An op: POSTed with sid, seq and sel; its ack is its own op event on the stream.
    send({ t: 'op', doc: 'd', v: 5, seq: 3, op: [1, 'y'], sel: [[2, 2]] });
    await tick();
    expect(calls[2]).toMatchObject({ url: 'http://srv/v1/docs/d/ops', method: 'POST', body: { v: 5, op: [1, 'y'], sid: 'me-sid-0123456789ab', seq: 3, sel: [[2, 2]] } });
    expect(got).toHaveLength(2); // the POST answer (v 5, not passed yet) is not an ack
    stream.push('id: 5\nevent: op\ndata: {"v":5,"op":[1,"y"],"sid":"me-sid-0123456789ab","seq":3,"sel":[[2,2]]}\n\n');
    stream.push('event: presence\ndata: {"v":6,"peers":[],"gone":["x-sid-0123456789abc"]}\n\n: ping\n\n');
    stream.push('event: error\ndata: {"code":"bad_request","msg":"presence: no"}\n\n');
    await tick();
    expect(got.slice(2)).toEqual([
      { t: 'op', doc: 'd', v: 5, op: [1, 'y'], sid: 'me-sid-0123456789ab', seq: 3, sel: [[2, 2]] },
      { t: 'presence', doc: 'd', v: 6, peers: [], gone: ['x-sid-0123456789abc'] },
      // (the ping is an empty frame: it keeps the connection's idle timer quiet)
      { t: 'error', code: 'bad_request', msg: 'presence: no', doc: 'd' },
    ]);
    send({ t: 'presence', doc: 'd', v: 6, sel: [[0, 0]] });
    await tick();
    expect(calls[3]).toMatchObject({ url: 'http://srv/v1/docs/d/presence', method: 'POST', body: { sid: 'me-sid-0123456789ab', v: 6, sel: [[0, 0]] } });
  });

  it('acks a resubmitted op committed before what the stream passed, and maps a refused op to an error with its seq', async () => {
    const stream = body(['event: joined\ndata: {"v":9,"type":"text","mode":"rw","peers":[],"text":"abc"}\n\n']);
    let opAnswer: { status: number; json?: unknown } = { status: 200, json: { v: 3 } };
    const { fetch } = scripted((url) => (url.endsWith('/healthz') ? { status: 200 } : url.includes('/events') ? { status: 200, stream: stream.stream } : opAnswer));
    const { got, send } = open(fetch);
    await tick();
    send({ t: 'hello', proto: 1, sid: 'me-sid-0123456789ab' });
    send({ t: 'join', doc: 'd' });
    await tick();
    expect(got[1]).toMatchObject({ t: 'joined', v: 9, text: 'abc' });
    send({ t: 'op', doc: 'd', v: 2, seq: 1, op: ['q'] });
    await tick();
    expect(got[2]).toEqual({ t: 'ack', doc: 'd', seq: 1, v: 3 });
    opAnswer = { status: 422, json: { code: 'invalid_op', detail: 'does not fit' } };
    send({ t: 'op', doc: 'd', v: 9, seq: 2, op: [99, 'q'] });
    await tick();
    expect(got[3]).toEqual({ t: 'error', code: 'invalid_op', msg: 'does not fit', doc: 'd', seq: 2 });
  });

  it('closes (the connection reconnects) when the server is unreachable, a stream ends or a POST fails with 5xx', async () => {
    const down = open(scripted(() => ({ status: 503 })).fetch);
    await tick();
    down.send({ t: 'hello', proto: 1, sid: 'me-sid-0123456789ab' });
    await tick();
    expect(down.closed).toEqual([1006]);
    const stream = body([]);
    const ends = open(scripted((url) => (url.endsWith('/healthz') ? { status: 200 } : { status: 200, stream: stream.stream })).fetch);
    await tick();
    ends.send({ t: 'hello', proto: 1, sid: 'me-sid-0123456789ab' });
    ends.send({ t: 'join', doc: 'd' });
    await tick();
    stream.end();
    await tick();
    expect(ends.closed).toEqual([1006]);
  });

  it('re-opens a stream without a version when the server cannot resume there (410)', async () => {
    const { fetch, calls } = scripted((url) => (url.endsWith('/healthz') ? { status: 200 } : url.includes('from=') ? { status: 410, json: { code: 'invalid_op' } } : { status: 200, stream: body([]).stream }));
    const { send } = open(fetch);
    await tick();
    send({ t: 'hello', proto: 1, sid: 'me-sid-0123456789ab' });
    send({ t: 'join', doc: 'd', v: 1 });
    await tick();
    expect(calls.map((c) => c.url)).toEqual(['http://srv/healthz', 'http://srv/v1/docs/d/events?sid=me-sid-0123456789ab&from=1', 'http://srv/v1/docs/d/events?sid=me-sid-0123456789ab']);
  });
});

describe('retryAfterMs', () => {
  const h = (v: string | null) => ({ headers: { get: (n: string) => (n === 'Retry-After' ? v : null) } });
  it.each([
    ['whole seconds', '3', 3000],
    ['zero', '0', 0],
    ['an HTTP date 2 s ahead', new Date(1_000_000 + 2000).toUTCString(), 2000],
    ['an HTTP date in the past', new Date(1_000_000 - 5000).toUTCString(), 0],
    ['nonsense', 'soon', null],
    ['a negative number', '-1', null],
    ['empty', '', null],
  ])('%s', (_what, value, want) => {
    expect(retryAfterMs(h(value), 1_000_000)).toBe(want);
  });
  it('no header, or no headers at all', () => {
    expect(retryAfterMs(h(null))).toBeNull();
    expect(retryAfterMs({})).toBeNull();
  });
});

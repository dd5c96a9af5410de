/**
 * A Server-Sent Events parser over a fetch response body: works in browsers
 * and in Node (which has fetch but no EventSource), and lets the request
 * carry an `Authorization` header. Only what Tandem's streams use: `id`,
 * `event`, `data` lines and comments (docs/api.md, "Server-Sent Events").
 * @module
 */

/** One event of a stream. */
export interface SSEEvent {
  /** The `event:` name (`message` when absent). */
  event: string;
  /** The `data:` lines joined with newlines. */
  data: string;
  /** The `id:`, if the event had one. */
  id?: string;
}

/**
 * Reads `body` to its end, calling `onEvent` for every event and `onComment`
 * for every comment line (the server's heartbeats). Resolves when the stream
 * ends; rejects when reading fails (network error, abort).
 */
export async function readSSE(body: ReadableStream<Uint8Array>, onEvent: (e: SSEEvent) => void, onComment: () => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let ev: { event?: string; data: string[]; id?: string } = { data: [] };
  const line = (l: string): void => {
    if (l === '') {
      if (ev.data.length > 0 || ev.event !== undefined) {
        onEvent({ event: ev.event ?? 'message', data: ev.data.join('\n'), ...(ev.id !== undefined ? { id: ev.id } : {}) });
      }
      ev = { data: [] };
      return;
    }
    if (l.startsWith(':')) {
      onComment();
      return;
    }
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') ev.event = value;
    else if (field === 'data') ev.data.push(value);
    else if (field === 'id') ev.id = value;
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const sep = buf.startsWith('\r\n', nl) ? 2 : 1;
      line(buf.slice(0, nl));
      buf = buf.slice(nl + sep);
    }
  }
}

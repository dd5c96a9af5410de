/*
 * The demo pages on the SDK's fake server, over a real HTTP port: serves the
 * built bundle (server/demo/dist) as the Go server does, `POST /v1/docs`, and
 * the WebSocket protocol at /v1/ws through FakeServer (which runs the text
 * and tree types as the Go server does). For trying the demos in a browser
 * without the Go server, and for the canvas browser script:
 *
 *   npx vite-node test/helpers/demo-fake-server.ts 8090
 *
 * Test tooling: in memory, one process, no auth.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { FakeServer, Session, type FakeSocket } from './fake-server.js';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../server/demo/dist');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** Starts the server on `port` (0: any free one); resolves with the port and a function that stops it. */
export async function startDemoServer(port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const fake = new FakeServer({ random: Math.random, maxDelayMs: 0, strictDocs: true });
  const http = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && url.pathname === '/v1/docs') {
        let body = '';
        for await (const chunk of req) body += String(chunk);
        const b = JSON.parse(body || '{}') as { id?: string; type?: string; content?: unknown };
        const id = b.id ?? `doc-${Date.now().toString(36)}`;
        if (fake.docs.has(id)) {
          res.writeHead(409).end();
          return;
        }
        if (b.type === 'tree') fake.createTree(id, (b.content ?? {}) as never);
        else fake.doc(id).text = typeof b.content === 'string' ? b.content : '';
        res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id }));
        return;
      }
      let rel = url.pathname.replace(/^\/demo\/?/, '');
      if (rel === url.pathname) {
        res.writeHead(404).end();
        return;
      }
      if (rel.startsWith('assets/')) {
        try {
          const data = await readFile(path.join(dist, rel));
          res.writeHead(200, { 'Content-Type': TYPES[path.extname(rel)] ?? 'application/octet-stream' }).end(data);
        } catch {
          res.writeHead(404).end();
        }
        return;
      }
      rel = rel.startsWith('canvas') ? 'canvas/index.html' : 'index.html';
      res.writeHead(200, { 'Content-Type': TYPES['.html'] as string }).end(await readFile(path.join(dist, rel)));
    })().catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  const wss = new WebSocketServer({ server: http, path: '/v1/ws', handleProtocols: () => 'tandem.v1' });
  wss.on('connection', (ws) => {
    const sock = { toClient: (bytes: Uint8Array) => ws.send(bytes) } as unknown as FakeSocket;
    const session = new Session(sock);
    ws.on('message', (data: Buffer) => fake.receive(session, new Uint8Array(data)));
    ws.on('close', () => fake.disconnect(session));
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const addr = http.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
}

if (process.argv.some((a) => a.endsWith('vite-node'))) {
  const port = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? '8090');
  const s = await startDemoServer(port);
  console.log(`demo fake server on http://127.0.0.1:${s.port}/demo/ and /demo/canvas/`);
}

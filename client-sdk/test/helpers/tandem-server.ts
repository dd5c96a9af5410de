/**
 * Test set-up for the integration suite: builds the real `tandem` binary, gives
 * each suite a fresh Postgres schema, starts and kills server processes on
 * loopback ports, and puts a TCP proxy between clients and the server so that
 * tests can cut connections abruptly (no close frame, frames lost in flight).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The database the integration tests use (the Makefile exports the same default). */
export const DATABASE_URL = process.env.TANDEM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable';

let built: Promise<{ bin: string; dir: string }> | null = null;

/**
 * Builds `./cmd/tandem` once per test file into a temporary directory, or uses
 * the binary named by `TANDEM_BIN` (for example one `make build` made).
 */
export function buildServer(): Promise<{ bin: string; dir: string }> {
  built ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-sdk-it-'));
    const given = process.env.TANDEM_BIN;
    if (given !== undefined && given !== '') return { bin: path.resolve(given), dir };
    const bin = path.join(dir, 'tandem');
    try {
      await run('go', ['build', '-o', bin, './cmd/tandem'], { cwd: repoRoot, maxBuffer: 16 << 20 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`go build ./cmd/tandem failed (the integration tests need the Go toolchain): ${err.stderr ?? err.message}`);
    }
    return { bin, dir };
  })();
  return built;
}

/** Removes the temporary build directory. */
export async function cleanBuild(): Promise<void> {
  if (built === null) return;
  const { dir } = await built;
  built = null;
  await rm(dir, { recursive: true, force: true });
}

/** A fresh schema in the test database; the server's store lives there alone. */
export interface TestSchema {
  /** Schema name. */
  name: string;
  /** Database URL whose connections use the schema (`search_path`). */
  url: string;
  /** A client connected to the database, with the schema on its search path. */
  db: pg.Client;
  /** Drops the schema and disconnects. */
  drop(): Promise<void>;
}

/** Creates a fresh schema; fails loudly (never skips) when Postgres is unreachable. */
export async function freshSchema(): Promise<TestSchema> {
  const name = `sdk_it_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e9).toString(36)}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(
      `integration tests need Postgres at ${DATABASE_URL} (set TANDEM_TEST_DATABASE_URL; \`make services\` starts it): ${(e as Error).message}`,
    );
  }
  await admin.query(`CREATE SCHEMA ${name}`);
  await admin.query(`SET search_path TO ${name}`);
  const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}search_path=${name}`;
  return {
    name,
    url,
    db: admin,
    async drop() {
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** A running `tandem` process. */
export interface TandemProcess {
  /** `host:port` it listens on. */
  addr: string;
  /** `http://host:port`. */
  http: string;
  /** `ws://host:port/v1/ws`. */
  ws: string;
  /** Everything it logged. */
  logs(): string;
  /** Stops it with `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the server on a free loopback port (it binds port 0 and logs the address). */
export async function startServer(databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<TandemProcess> {
  const { bin } = await buildServer();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    TANDEM_ADDR: '127.0.0.1:0',
    TANDEM_DATABASE_URL: databaseUrl,
    TANDEM_LOG_LEVEL: 'info',
    ...extraEnv,
  };
  const child: ChildProcess = spawn(bin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const addr = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tandem did not start within 30 s:\n${log}`)), 30_000);
    const onData = (b: Buffer): void => {
      log += b.toString();
      const m = /msg=listening addr=(\S+)/.exec(log) ?? /"msg":"listening","addr":"([^"]+)"/.exec(log);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`tandem exited during start-up (code ${code}, signal ${signal}):\n${log}`));
    });
  });
  return {
    addr,
    http: `http://${addr}`,
    ws: `ws://${addr}/v1/ws`,
    logs: () => log,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Creates a text document through the REST API (`POST /v1/docs`); `token` for a server with auth. */
export async function createDoc(server: TandemProcess, id: string, content: string, token?: string): Promise<void> {
  const res = await fetch(`${server.http}/v1/docs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ id, type: 'text', content }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/docs ${id}: ${res.status} ${await res.text()}`);
}

/** Creates a tree document with `content` (`{id: {parent, key, props}}`) over REST. */
export async function createTreeDoc(server: TandemProcess, id: string, content: unknown): Promise<void> {
  const res = await fetch(`${server.http}/v1/docs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id, type: 'tree', content }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/docs ${id} (tree): ${res.status} ${await res.text()}`);
}

/** An HS256 JWT as docs/api.md ("Tokens") describes it, signed with `secret`. */
export function signToken(secret: string, claims: { sub: string; name?: string; docs: Record<string, 'rw' | 'r'>; admin?: boolean; exp?: number }): string {
  const b64 = (x: string | Buffer): string => Buffer.from(x).toString('base64url');
  const header = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }));
  const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${sig}`;
}

/** One committed op as the store keeps it. */
export interface StoredOp {
  v: number;
  op: unknown;
  sid: string | null;
  seq: number | null;
}

/** Reads a document's version and op log straight from Postgres. */
export async function storedOps(schema: TestSchema, id: string): Promise<{ version: number; ops: StoredOp[]; initial: string }> {
  const { decode } = await import('@msgpack/msgpack');
  const d = await schema.db.query<{ pk: string; version: string }>('SELECT pk, version FROM documents WHERE id = $1', [id]);
  const row = d.rows[0];
  if (row === undefined) throw new Error(`document ${id} is not in the store`);
  const snap = await schema.db.query<{ content: Buffer }>('SELECT content FROM snapshots WHERE doc = $1 AND version = 0', [row.pk]);
  const r = await schema.db.query<{ version: string; op: Buffer; sid: string | null; seq: string | null }>(
    'SELECT version, op, sid, seq FROM ops WHERE doc = $1 ORDER BY version',
    [row.pk],
  );
  return {
    version: Number(row.version),
    // A snapshot holds the content in its type's MessagePack form (store
    // migration 0005): a MessagePack string for a text document.
    initial: snap.rows[0] !== undefined ? String(decode(snap.rows[0].content)) : '',
    ops: r.rows.map((o) => ({ v: Number(o.version), op: decode(o.op), sid: o.sid, seq: o.seq === null ? null : Number(o.seq) })),
  };
}

/**
 * A TCP proxy in front of the server. {@link drop} destroys every proxied
 * connection at once: the client sees the socket die without a close frame,
 * and frames in flight in either direction are lost.
 */
export class FlakyProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;
  /** Number of times {@link drop} cut at least one connection. */
  drops = 0;

  constructor(private readonly target: string) {
    this.server = net.createServer((client) => {
      const [host, port] = splitAddr(this.target);
      const upstream = net.connect(port, host);
      this.sockets.add(client).add(upstream);
      const forget = (): void => {
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', forget).on('close', forget);
      upstream.on('error', forget).on('close', forget);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** Starts listening on a free loopback port. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** The WebSocket URL through this proxy. */
  get ws(): string {
    return `ws://127.0.0.1:${this.port}/v1/ws`;
  }

  /** Cuts every open connection. */
  drop(): void {
    if (this.sockets.size > 0) this.drops++;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Cuts everything and stops listening. */
  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

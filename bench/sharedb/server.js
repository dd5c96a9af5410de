'use strict';
// ShareDB 7 server for the side-by-side benchmark: sharedb-postgres on the same
// Postgres as Tandem (its own schema, since both use tables named ops and
// snapshots), ot-text-unicode, presence on, one WebSocket endpoint.
//
//   node server.js --addr 127.0.0.1:18090 --database-url postgres://postgres@127.0.0.1:5432/test
//
// It prints "listening <addr> pid <pid>" on stdout once ready.
const http = require('http');
const { WebSocketServer } = require('ws');
const WebSocketJSONStream = require('@teamwork/websocket-json-stream');
const pg = require('pg');
const PostgresDB = require('sharedb-postgres');
const { ShareDB } = require('./type');
const { args } = require('./common');

async function ensureSchema(url, schema) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`SET search_path TO ${schema}`);
    // sharedb-postgres 5's structure.sql, minus the migration steps a fresh
    // schema does not need.
    await client.query(`CREATE TABLE IF NOT EXISTS ops (
      collection character varying(255) not null,
      doc_id character varying(255) not null,
      version integer not null,
      operation jsonb not null,
      PRIMARY KEY (collection, doc_id, version))`);
    await client.query(`CREATE TABLE IF NOT EXISTS snapshots (
      collection character varying(255) not null,
      doc_id character varying(255) not null,
      doc_type character varying(255),
      version integer not null,
      data jsonb,
      metadata jsonb,
      PRIMARY KEY (collection, doc_id))`);
  } finally {
    await client.end();
  }
}

async function main() {
  const a = args(process.argv.slice(2), {
    addr: '127.0.0.1:18090',
    'database-url': process.env.TANDEM_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable',
    schema: 'sharedb_bench',
    'pool-size': '10',
  });
  const schema = a.schema;
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  await ensureSchema(a['database-url'], schema);
  const db = new PostgresDB({
    connectionString: a['database-url'],
    max: Number(a['pool-size']),
    options: `-c search_path=${schema}`,
  });
  const backend = new ShareDB({ db, presence: true, doNotForwardSendPresenceErrorsToClient: true });
  const [host, port] = a.addr.split(':');
  if (!/^127\./.test(host)) throw new Error('listen on loopback only');
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    const stream = new WebSocketJSONStream(ws);
    // A client that goes away mid-write (a load generator exiting) must not
    // take the server down with an unhandled 'error'.
    ws.on('error', () => {});
    stream.on('error', () => {});
    backend.listen(stream);
  });
  server.listen(Number(port), host, () => {
    process.stdout.write(`listening ${a.addr} pid ${process.pid}\n`);
  });
  const stop = () => {
    wss.close();
    server.close();
    backend.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error('sharedb server:', err);
  process.exit(1);
});

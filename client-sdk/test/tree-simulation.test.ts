/**
 * Clients making random tree actions (creates, concurrent sets and text edits
 * of shared properties, moves into each other's subtrees, deletes of
 * ancestors) through a simulated server that transforms and applies in commit
 * order, with random delivery: every replica ends with the server's content,
 * which never holds a cycle, an orphan or a duplicate id.
 */
import { describe, expect, it } from 'vitest';
import { TreeContent, TreeReplica, transform, validateOp, type TreeOp } from '../src/tree/index.js';
import { rng } from './helpers/random.js';
import { randomAction, SIM_LIMITS, simStart } from './helpers/tree-random.js';

interface Commit {
  op: TreeOp;
  sid: string;
}

interface Client {
  sid: string;
  r: TreeReplica;
  inbox: ({ ack: true; v: number } | { ack: false; v: number; op: TreeOp; sid: string })[];
  outbox: { op: TreeOp; v: number }[];
  made: { n: number };
}

function checkForest(c: TreeContent): void {
  // Plain checks (expect() per object is slow): every object reachable from
  // the top exactly once, every ancestor present, nesting within the limit.
  const json = c.toJSON();
  const ids = Object.keys(json);
  if (ids.length !== c.count || new Set(c.ids()).size !== c.count) throw new Error(`orphans or duplicates: ${ids.length} of ${c.count}`);
  for (const id of ids) {
    let d = 0;
    for (let p = id; p !== ''; p = json[p]?.parent ?? '') {
      if (!json[p]) throw new Error(`missing ancestor ${p} of ${id}`);
      if (++d > c.limits.maxDepth) throw new Error(`${id} nested past the limit (or a cycle)`);
    }
  }
}

function wire(op: TreeOp): TreeOp {
  // What travels is JSON-compatible data: validate it as the server does.
  return validateOp(JSON.parse(JSON.stringify(op)));
}

function simulate(seed: number, nClients: number, steps: number): { commits: number; actions: number } {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const server = TreeContent.fromJSON(simStart(), SIM_LIMITS);
  const log: Commit[] = [];
  let actions = 0;
  const clients: Client[] = [];
  for (let i = 0; i < nClients; i++) {
    const sid = `client${i}-${String(seed).padStart(12, '0')}`;
    clients.push({ sid, r: new TreeReplica(sid, server.clone(), 0), inbox: [], outbox: [], made: { n: 0 } });
  }
  const serve = (c: Client): void => {
    const s = c.outbox.shift() as { op: TreeOp; v: number };
    let op = wire(s.op);
    for (const past of log.slice(s.v)) op = transform(op, past.op, c.sid, past.sid);
    const { applied } = server.apply(op);
    log.push({ op: applied, sid: c.sid });
    actions += applied.length;
    checkForest(server);
    const v = log.length - 1;
    for (const o of clients) {
      if (o === c) o.inbox.push({ ack: true, v });
      else o.inbox.push({ ack: false, v, op: wire(applied), sid: c.sid });
    }
  };
  const deliver = (c: Client): void => {
    const m = c.inbox.shift();
    if (!m) return;
    if (m.ack) c.r.ack(m.v);
    else c.r.remote(m.op, m.sid, m.v);
  };
  const flush = (c: Client): void => {
    const f = c.r.flush();
    if (f) c.outbox.push(f);
  };
  for (let step = 0; step < steps; step++) {
    const c = pick(clients);
    const r = rand();
    if (r < 0.35) {
      const op: TreeOp = [];
      const n = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < n; i++) {
        const a = randomAction(rand, c.r.view, c.sid, c.made);
        if (!a) continue;
        try {
          c.r.local([a]);
          op.push(a);
        } catch (e) {
          if (!(e instanceof Error && /limit/.test(e.message))) throw e;
        }
      }
    } else if (r < 0.55) flush(c);
    else if (r < 0.75 && c.outbox.length) serve(c);
    else deliver(c);
  }
  for (let busy = true; busy; ) {
    busy = false;
    for (const c of clients) {
      flush(c);
      while (c.outbox.length) {
        serve(c);
        busy = true;
      }
    }
    for (const c of clients) {
      while (c.inbox.length) {
        deliver(c);
        busy = true;
      }
    }
  }
  const want = server.toJSON();
  for (const c of clients) {
    expect(c.r.hasPending).toBe(false);
    expect(c.r.view.toJSON(), c.sid).toEqual(want);
    expect(c.r.view.ids(), c.sid).toEqual(server.ids());
    checkForest(c.r.view);
  }
  return { commits: log.length, actions };
}

describe('tree: random clients through a simulated server', () => {
  for (let seed = 1; seed <= 24; seed++) {
    it(`converges (seed ${seed})`, () => {
      const { actions } = simulate(seed, 2 + (seed % 4), 600);
      expect(actions).toBeGreaterThan(80);
    });
  }
});

/**
 * Clients making random tree actions (creates, concurrent sets and text edits
 * of shared properties, moves into each other's subtrees, deletes of
 * ancestors) through a simulated server that transforms and applies in commit
 * order, with random delivery: every replica ends with the server's content,
 * which never holds a cycle, an orphan or a duplicate id.
 */
import { describe, expect, it } from 'vitest';
import { cpLength } from '../src/ot/index.js';
import { TreeContent, TreeReplica, transform, validateOp, type Action, type TreeOp } from '../src/tree/index.js';
import { randomOp, rng } from './helpers/random.js';

interface Commit {
  op: TreeOp;
  sid: string;
}

interface Client {
  sid: string;
  r: TreeReplica;
  inbox: ({ ack: true; v: number } | { ack: false; v: number; op: TreeOp; sid: string })[];
  outbox: { op: TreeOp; v: number }[];
  next: number;
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
  const limits = { maxDepth: 8, maxObjects: 400 };
  const server = TreeContent.fromJSON(
    {
      frame: { parent: '', key: 'a0', props: { text: 'hello' } },
      note: { parent: 'frame', key: 'a0', props: { text: 'shared note' } },
      box: { parent: '', key: 'a1', props: { x: 1 } },
    },
    limits,
  );
  const log: Commit[] = [];
  let actions = 0;
  const clients: Client[] = [];
  for (let i = 0; i < nClients; i++) {
    const sid = `client${i}-${String(seed).padStart(12, '0')}`;
    clients.push({ sid, r: new TreeReplica(sid, server.clone(), 0), inbox: [], outbox: [], next: 0 });
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
  const randomAction = (c: Client): Action | null => {
    const view = c.r.view;
    const ids = view.ids();
    const any = (): string => (ids.length ? pick(ids) : 'frame');
    const r = rand();
    if (r < 0.15 || ids.length < 3) {
      const parent = ids.length && rand() < 0.6 ? any() : '';
      const key = view.keyAt(parent, Math.floor(rand() * (view.children(parent).length + 1)));
      c.next++;
      const props: Record<string, number | string> = { x: Math.floor(rand() * 100) };
      if (rand() < 0.5) props.text = 'abc';
      return ['new', `${c.sid.slice(0, 7)}.${c.next}`, parent, key, props];
    }
    if (r < 0.35) {
      const v = [null, `s${Math.floor(rand() * 10)}`, Math.floor(rand() * 1000), Math.floor(rand() * 1000)][Math.floor(rand() * 4)] as null | string | number;
      return ['set', any(), pick(['x', 'y', 'color', 'text']), v];
    }
    if (r < 0.65) {
      const id = rand() < 0.66 ? 'note' : any();
      const s = view.prop(id, 'text');
      if (typeof s !== 'string') return null;
      const t = randomOp(rand, cpLength(s));
      if (t.length === 0) return null;
      return ['text', id, 'text', t];
    }
    if (r < 0.92) {
      const parent = rand() < 0.75 ? any() : '';
      return ['move', any(), parent, view.keyAt(parent, Math.floor(rand() * (view.children(parent).length + 1)))];
    }
    let id = any();
    const o = view.get(id);
    if (o && o.parent !== '' && rand() < 0.5) id = o.parent;
    if ((id === 'frame' || id === 'note') && rand() < 0.9) return null;
    return ['del', id];
  };
  for (let step = 0; step < steps; step++) {
    const c = pick(clients);
    const r = rand();
    if (r < 0.35) {
      const op: TreeOp = [];
      const n = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < n; i++) {
        const a = randomAction(c);
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

/**
 * The session machinery is not text's alone: the `tree` type (src/tree)
 * runs on the same DocState through a DocType adapter of a few dozen lines,
 * changing its content in place (no copy of the tree per op) and rebasing
 * its pending actions by undoing them, applying the server's op and
 * re-applying them, as TreeReplica does. Random clients, each a DocState,
 * edit through a simulated server with random delivery and must all end on
 * the server's content. (Issue 15 makes this adapter src/tree-doc.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { DocType } from '../src/doctype.js';
import type { ClientMessage, ServerMessage } from '../src/protocol.js';
import { DocState } from '../src/state.js';
import { TreeContent, transform, transformKept, validateOp, type Action, type TreeOp } from '../src/tree/index.js';
import { rng } from './helpers/random.js';
import { randomAction, SIM_LIMITS, simStart } from './helpers/tree-random.js';

/** The inverse of each op as applied to a local content, recorded by apply and rebase. */
const inverses = new WeakMap<TreeOp, TreeOp>();

function inverseOf(op: TreeOp): TreeOp {
  const inv = inverses.get(op);
  if (inv === undefined) throw new Error('tree: no inverse recorded for a pending op');
  return inv;
}

const treeType: DocType<TreeContent, TreeOp, string[]> = {
  name: 'tree',
  contentKey: 'tree',
  empty: () => new TreeContent(SIM_LIMITS),
  decodeContent: (v) => TreeContent.fromJSON(v, SIM_LIMITS),
  validate: (op) => validateOp(op, SIM_LIMITS),
  apply(content, op) {
    const r = content.apply(op); // in place
    inverses.set(r.applied, r.inverse);
    return { content, applied: r.applied, inverse: () => r.inverse };
  },
  isNoop: (op) => op.length === 0,
  invert: (op, before) => inverses.get(op) ?? before.clone().apply(op).inverse,
  compose(a, b) {
    const c = [...a, ...b];
    inverses.set(c, [...inverseOf(b), ...inverseOf(a)]);
    return c;
  },
  // For the undo stacks: the last committed wins, so a committed op past an undo step is itself.
  transformPair: (op, sid, committed, committedSid) => [transform(op, committed, sid, committedSid), committed],
  rebase(content, pending, sid, committed, committedSid) {
    const change: TreeOp = [];
    for (let i = pending.length - 1; i >= 0; i--) {
      const inv = inverseOf(pending[i] as TreeOp);
      content.applyEach(inv);
      change.push(...inv);
    }
    change.push(...content.apply(committed).applied);
    const { op: rebased, kept } = transformKept(pending.flat(), committed, sid, committedSid);
    let k = 0;
    let r = 0;
    const out = pending.map((p, n) => {
      const mine: TreeOp = [];
      const invs: TreeOp[] = [];
      for (let j = 0; j < p.length; j++, k++) {
        if (!kept[k]) continue;
        const a = rebased[r++] as Action;
        const [inv] = content.applyEach([a]);
        // The op in flight stays whole (the server judges it); buffered actions that no longer apply go.
        if (inv === null && n > 0) continue;
        mine.push(a);
        if (inv) {
          invs.push(inv);
          change.push(a);
        }
      }
      inverses.set(mine, invs.reverse().flat());
      return mine;
    });
    return { content, pending: out, change };
  },
  transformSelection(sel, op) {
    const gone = new Set(op.filter((a) => a[0] === 'del').map((a) => a[1]));
    return sel.filter((id) => !gone.has(id));
  },
  fitSelection: (sel, content) => content.filterSelection(sel) ?? [],
  diff(from, to) {
    const json = to.toJSON();
    const del = from.children('').map((id): Action => ['del', id]);
    return [...del, ...to.ids().map((id): Action => ['new', id, json[id]?.parent ?? '', json[id]?.key ?? 'a0', json[id]?.props ?? {}])];
  },
};

interface Client {
  sid: string;
  st: DocState<TreeContent, TreeOp, string[]>;
  inbox: ServerMessage<unknown, unknown>[];
  outbox: Extract<ClientMessage<unknown, unknown>, { t: 'op' }>[];
  made: { n: number };
}

/** What travels is JSON-compatible data. */
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function simulate(seed: number, nClients: number, steps: number): number {
  const rand = rng(seed);
  const server = TreeContent.fromJSON(simStart(), SIM_LIMITS);
  const log: { op: TreeOp; sid: string }[] = [];
  const clients: Client[] = [];
  for (let i = 0; i < nClients; i++) {
    const sid = `client${i}-${String(seed).padStart(12, '0')}`;
    const c: Client = { sid, inbox: [], outbox: [], made: { n: 0 }, st: undefined as never };
    let seq = 0;
    c.st = new DocState('d', sid, treeType, {
      send: (m) => {
        if (m.t === 'op') c.outbox.push(wire(m));
        return true;
      },
      nextSeq: () => ++seq,
      effect: () => undefined,
    }, { undoCaptureMs: 0 });
    c.st.connected();
    c.st.handle({ t: 'joined', doc: 'd', v: 0, type: 'tree', tree: simStart(), peers: [], mode: 'rw' });
    clients.push(c);
  }
  const serve = (c: Client): void => {
    const m = c.outbox.shift() as Client['outbox'][number];
    let op = validateOp(m.op);
    for (const past of log.slice(m.v)) op = transform(op, past.op, c.sid, past.sid);
    const { applied } = server.apply(op);
    log.push({ op: applied, sid: c.sid });
    const v = log.length - 1;
    for (const o of clients) o.inbox.push(o === c ? { t: 'ack', doc: 'd', seq: m.seq, v } : { t: 'op', doc: 'd', v, op: wire(applied), sid: c.sid, seq: m.seq });
  };
  const deliver = (c: Client): void => c.st.handle(c.inbox.shift() as ServerMessage<unknown, unknown>);
  for (let step = 0; step < steps; step++) {
    const c = clients[Math.floor(rand() * clients.length)] as Client;
    const r = rand();
    if (r < 0.4) {
      const a = randomAction(rand, c.st.content, c.sid, c.made);
      try {
        if (a) c.st.local([a], undefined, 'edit', step);
      } catch (e) {
        if (!(e instanceof Error && /limit/.test(e.message))) throw e;
      }
    } else if (r < 0.7 && c.outbox.length > 0) serve(c);
    else if (c.inbox.length > 0) deliver(c);
  }
  while (clients.some((c) => c.outbox.length + c.inbox.length > 0)) {
    for (const c of clients) while (c.outbox.length > 0) serve(c);
    for (const c of clients) while (c.inbox.length > 0) deliver(c);
  }
  for (const c of clients) {
    expect(c.st.hasPendingOps, c.sid).toBe(false);
    expect(c.st.content.toJSON(), c.sid).toEqual(server.toJSON());
  }
  return log.length;
}

describe('the tree type over the session machinery', () => {
  for (let seed = 1; seed <= 12; seed++) {
    it(`random clients converge (seed ${seed})`, () => {
      expect(simulate(seed, 2 + (seed % 4), 600)).toBeGreaterThan(50);
    });
  }
});

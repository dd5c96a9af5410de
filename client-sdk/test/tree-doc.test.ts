/**
 * TreeDoc, the SDK's tree documents: reading and writing objects, fractional
 * places, transactions, change events, the optimistic rules (a pending own
 * change of a property is not overwritten by a remote value; what the server
 * drops is undone locally and reported), undo and redo, presence; scripted
 * against a manual socket where timing matters, and against the fake
 * server (which runs the tree type as the Go server does) for convergence.
 */
import { describe, expect, it, vi } from 'vitest';
import type { TreeChange, TreeDoc, DroppedAction } from '../src/index.js';
import type { TreeJSON, TreeOp } from '../src/tree/index.js';
import { fakeConnection, FakeServer, MemoryStorage } from './helpers/fake-server.js';
import { harness, peerUser, SID, useFakeTimers } from './helpers/manual.js';
import { rng } from './helpers/random.js';

useFakeTimers();

const START: TreeJSON = {
  frame: { parent: '', key: 'a0', props: { kind: 'frame', x: 0, y: 0 } },
  note: { parent: 'frame', key: 'a0', props: { kind: 'note', text: 'hello' } },
  box: { parent: '', key: 'a1', props: { kind: 'rect', x: 10, y: 10, fill: '#f00' } },
};

/** A tree document "t" on a manual socket, joined at version `v` with `tree`. */
async function manualTree(tree: TreeJSON = START, v = 0) {
  const h = harness();
  const doc = h.conn.openTree('t', { undoCaptureMs: 0 });
  const s = await h.welcome();
  s.deliver({ t: 'joined', doc: 't', v, type: 'tree', tree, peers: [{ sid: 'peer-sid-0123456789', user: peerUser, sel: null }], mode: 'rw' } as never);
  return { h, doc, s };
}

function makeClient(server: FakeServer, i: number, storage = new MemoryStorage()) {
  const conn = fakeConnection(server, i, storage);
  const doc = conn.openTree('doc', { undoCaptureMs: 0 });
  return { conn, doc, storage };
}
type Client = ReturnType<typeof makeClient>;

async function settle(clients: Client[]): Promise<void> {
  for (let i = 0; i < 400; i++) {
    await vi.advanceTimersByTimeAsync(50);
    if (clients.every((c) => c.doc.status === 'synced') && vi.getTimerCount() < 200) {
      await vi.advanceTimersByTimeAsync(200);
      if (clients.every((c) => c.doc.status === 'synced')) return;
    }
  }
  throw new Error(`did not settle: ${clients.map((c) => `${c.conn.state}/${c.doc.status}`).join(', ')}`);
}

async function pair(start: TreeJSON = START) {
  const server = new FakeServer({ random: rng(5), maxDelayMs: 10 });
  server.createTree('doc', start);
  const a = makeClient(server, 0);
  const b = makeClient(server, 1);
  await settle([a, b]);
  return { server, a, b };
}

describe('TreeDoc: reading and writing', () => {
  it('reads the joined content: get, children in order, root, toJSON', async () => {
    const { doc } = await manualTree();
    expect(doc.status).toBe('synced');
    expect(doc.size).toBe(3);
    expect(doc.root().map((n) => n.id)).toEqual(['frame', 'box']);
    expect(doc.children('frame').map((n) => n.id)).toEqual(['note']);
    expect(doc.get('note')).toEqual({ id: 'note', parent: 'frame', key: 'a0', props: { kind: 'note', text: 'hello' } });
    expect(doc.get('nope')).toBeUndefined();
    expect(doc.ancestors('note')).toEqual(['frame']);
    expect(doc.toJSON()).toEqual(START);
  });

  it('writes: create, set, editText (op and UTF-16 changes), setText, move, bring to front, delete; the other client sees all', async () => {
    const { server, a, b } = await pair();
    const id = a.doc.create({ kind: 'ellipse', x: 1, y: 2 }, { inside: '' });
    expect(a.doc.root().map((n) => n.id)).toEqual(['frame', 'box', id]);
    a.doc.set(id, 'fill', '#0f0');
    a.doc.set(id, { x: 5, y: 6, gone: null });
    a.doc.editText('note', 'text', [5, ' world']);
    a.doc.editText('note', 'text', [{ from: 0, to: 1, insert: 'H' }]);
    a.doc.setText('note', 'text', 'Hello world!');
    a.doc.move(id, { before: 'frame' });
    expect(a.doc.root().map((n) => n.id)).toEqual([id, 'frame', 'box']);
    a.doc.move('box', { inside: 'frame', at: 'start' });
    expect(a.doc.children('frame').map((n) => n.id)).toEqual(['box', 'note']);
    a.doc.bringToFront('box');
    expect(a.doc.children('frame').map((n) => n.id)).toEqual(['note', 'box']);
    a.doc.sendToBack('box');
    expect(a.doc.children('frame').map((n) => n.id)).toEqual(['box', 'note']);
    a.doc.move('box', { after: 'note' });
    expect(a.doc.children('frame').map((n) => n.id)).toEqual(['note', 'box']);
    const tmp = a.doc.create({ kind: 'rect' }, { inside: 'frame', at: 1 });
    expect(a.doc.children('frame').map((n) => n.id)).toEqual(['note', tmp, 'box']);
    a.doc.delete(tmp);
    expect(() => a.doc.set('missing', 'x', 1)).toThrow(/no object/);
    expect(() => a.doc.editText('box', 'fill', [])).not.toThrow();
    expect(() => a.doc.editText('box', 'x', ['a'])).toThrow(/not a string/);
    await settle([a, b]);
    expect(a.doc.get(id)?.props).toEqual({ kind: 'ellipse', x: 5, y: 6, fill: '#0f0' });
    expect(a.doc.prop('note', 'text')).toBe('Hello world!');
    expect(b.doc.toJSON()).toEqual(a.doc.toJSON());
    expect(server.doc('doc').tree.toJSON()).toEqual(a.doc.toJSON());
    expect(server.violations).toEqual([]);
  });

  it('transact sends several actions as one op, one change event and one undo step', async () => {
    const { server, a, b } = await pair();
    await settle([a, b]);
    const opsBefore = server.received.filter((m) => m.t === 'op').length;
    const changes: TreeChange[] = [];
    a.doc.on('change', (c) => changes.push(c));
    const id = a.doc.transact(() => {
      const n = a.doc.create({ kind: 'rect', x: 0 }, { inside: 'frame' });
      a.doc.set(n, 'x', 50); // reads inside see the new object
      a.doc.set('box', 'fill', '#00f');
      a.doc.move('box', { inside: 'frame' });
      return n;
    });
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ remote: false, created: [id], moved: ['box'], props: { box: ['fill'] } });
    expect(changes[0]?.ids.sort()).toEqual([id, 'box'].sort());
    await settle([a, b]);
    expect(server.received.filter((m) => m.t === 'op').length - opsBefore).toBe(1);
    expect(b.doc.get(id)?.props).toEqual({ kind: 'rect', x: 50 });
    expect(a.doc.undo()).toBe(true);
    expect(a.doc.has(id)).toBe(false);
    expect(a.doc.get('box')).toMatchObject({ parent: '', props: { fill: '#f00' } });
    expect(a.doc.toJSON()).toEqual(START);
    await settle([a, b]);
    expect(b.doc.toJSON()).toEqual(START);
  });

  it('change events name the objects and properties that changed, local and remote', async () => {
    const { a, b } = await pair();
    const seen: TreeChange[] = [];
    b.doc.on('change', (c) => seen.push(c));
    a.doc.set('box', 'x', 99);
    a.doc.editText('note', 'text', ['¡']);
    a.doc.delete('frame');
    await settle([a, b]);
    const remote = seen.filter((c) => c.remote);
    expect(remote.length).toBeGreaterThan(0);
    const props = Object.assign({}, ...remote.map((c) => c.props)) as Record<string, string[]>;
    const deleted = remote.flatMap((c) => c.deleted).sort();
    expect(props.box).toEqual(['x']);
    expect(deleted).toEqual(['frame', 'note']);
    expect(remote.every((c) => c.sid === a.conn.sid)).toBe(true);
  });

  it('opening a text document as a tree fails with wrong_type', async () => {
    const h = harness();
    const doc = h.conn.openTree('t');
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 't', v: 0, type: 'text', text: 'x', peers: [], mode: 'rw' });
    await expect(doc.ready).rejects.toMatchObject({ code: 'wrong_type' });
    expect(() => h.conn.openDoc('t')).not.toThrow();
  });
});

describe('TreeDoc: optimistic and honest', () => {
  it('a remote value does not overwrite our unacknowledged change of that property; after the ack ours is what the server keeps', async () => {
    const { doc, s } = await manualTree();
    doc.set('box', 'x', 1);
    const sent = s.of('op')[0];
    expect(sent).toMatchObject({ v: 0, op: [['set', 'box', 'x', 1]] });
    // Someone else's set of the same property, committed first; and of another one.
    s.deliver({ t: 'op', doc: 't', v: 0, op: [['set', 'box', 'x', 500], ['set', 'box', 'y', 7]], sid: 'peer-sid-0123456789', seq: 1 } as never);
    expect(doc.prop('box', 'x')).toBe(1); // no flicker to 500
    expect(doc.prop('box', 'y')).toBe(7);
    s.deliver({ t: 'ack', doc: 't', seq: sent?.seq as number, v: 1 });
    expect(doc.prop('box', 'x')).toBe(1);
    expect(doc.version).toBe(2);
    expect(doc.status).toBe('synced');
  });

  it('an action the server drops (object deleted meanwhile) is undone locally and reported with its reason', async () => {
    const { doc, s } = await manualTree();
    const dropped: DroppedAction[][] = [];
    doc.on('dropped', (e) => dropped.push(e.actions));
    doc.set('note', 'color', 'blue'); // in flight
    doc.set('box', 'x', 3); // buffered
    doc.editText('note', 'text', [5, '!']); // buffered
    s.deliver({ t: 'op', doc: 't', v: 0, op: [['del', 'frame']], sid: 'peer-sid-0123456789', seq: 1 } as never);
    // The buffered text edit of the deleted note goes at once; the in-flight set waits for the server's word.
    expect(doc.has('note')).toBe(false);
    expect(doc.prop('box', 'x')).toBe(3);
    expect(dropped).toEqual([[{ action: ['text', 'note', 'text', [5, '!']], reason: 'deleted' }]]);
    s.deliver({ t: 'ack', doc: 't', seq: s.of('op')[0]?.seq as number, v: 1 });
    expect(dropped[1]).toEqual([{ action: ['set', 'note', 'color', 'blue'], reason: 'deleted' }]);
    expect(s.of('op')[1]).toMatchObject({ v: 2, op: [['set', 'box', 'x', 3]] });
  });

  it('a move that would make a cycle after a concurrent move is dropped: the local tree follows the server', async () => {
    const two: TreeJSON = { f1: { parent: '', key: 'a0', props: {} }, f2: { parent: '', key: 'a1', props: {} } };
    const { doc, s } = await manualTree(two);
    const dropped: DroppedAction[] = [];
    doc.on('dropped', (e) => dropped.push(...e.actions));
    doc.move('f1', { inside: 'f2' });
    expect(doc.get('f1')?.parent).toBe('f2');
    s.deliver({ t: 'op', doc: 't', v: 0, op: [['move', 'f2', 'f1', 'a0']], sid: 'peer-sid-0123456789', seq: 1 } as never);
    expect(doc.get('f2')?.parent).toBe('f1');
    expect(doc.get('f1')?.parent).toBe('');
    s.deliver({ t: 'ack', doc: 't', seq: s.of('op')[0]?.seq as number, v: 1 });
    expect(dropped).toEqual([{ action: ['move', 'f1', 'f2', expect.any(String) as string], reason: 'cycle' }]);
    expect(doc.get('f1')?.parent).toBe('');
  });

  it('a text edit of a property someone set meanwhile is dropped as replaced; concurrent text edits merge', async () => {
    const { doc, s } = await manualTree();
    const dropped: DroppedAction[] = [];
    doc.on('dropped', (e) => dropped.push(...e.actions));
    doc.editText('note', 'text', ['>']);
    s.deliver({ t: 'op', doc: 't', v: 0, op: [['text', 'note', 'text', [5, '<']]], sid: 'peer-sid-0123456789', seq: 1 } as never);
    expect(doc.prop('note', 'text')).toBe('>hello<');
    s.deliver({ t: 'ack', doc: 't', seq: s.of('op')[0]?.seq as number, v: 1 });
    doc.editText('note', 'text', [1, '#']); // in flight at v 2
    doc.editText('note', 'text', [2, '#']); // buffered
    s.deliver({ t: 'op', doc: 't', v: 2, op: [['set', 'note', 'text', 'reset']], sid: 'peer-sid-0123456789', seq: 2 } as never);
    expect(doc.prop('note', 'text')).toBe('reset');
    expect(dropped.map((d) => d.reason)).toEqual(['replaced', 'replaced']);
  });
});

describe('TreeDoc: undo and redo', () => {
  it('undo n times then redo n times gives back the same document; undoing a delete recreates the subtree with its properties', async () => {
    const { a, b } = await pair();
    const steps: (() => void)[] = [
      () => a.doc.create({ kind: 'rect', x: 1 }, { inside: 'frame' }, 'r1'),
      () => a.doc.set('box', 'fill', '#123'),
      () => a.doc.editText('note', 'text', [5, ' there']),
      () => a.doc.move('box', { inside: 'frame', at: 'start' }),
      () => a.doc.delete('frame'),
      () => a.doc.create({ kind: 'note', text: '' }, { inside: '' }, 'n2'),
    ];
    const states: TreeJSON[] = [a.doc.toJSON()];
    for (const step of steps) {
      step();
      states.push(a.doc.toJSON());
      await vi.advanceTimersByTimeAsync(7);
    }
    // Someone else adds something meanwhile: undo and redo leave it alone.
    b.doc.create({ kind: 'rect', by: 'b' }, { inside: '' }, 'bobs');
    await settle([a, b]);
    const bobs = b.doc.get('bobs');
    const withLabel = (j: TreeJSON): TreeJSON => ({ ...j, bobs: { parent: '', key: bobs?.key as string, props: { kind: 'rect', by: 'b' } } });
    const norm = (j: TreeJSON): string => JSON.stringify(Object.entries(j).sort(([x], [y]) => (x < y ? -1 : 1)));
    for (let i = steps.length - 1; i >= 0; i--) {
      expect(a.doc.undo()).toBe(true);
      expect(norm(a.doc.toJSON())).toEqual(norm(withLabel(states[i] as TreeJSON)));
    }
    expect(a.doc.undo()).toBe(false);
    // Undoing the delete brought back frame with note inside and their properties.
    expect(a.doc.get('note')).toMatchObject({ parent: 'frame', props: { kind: 'note', text: 'hello' } });
    for (let i = 1; i <= steps.length; i++) {
      expect(a.doc.redo()).toBe(true);
      expect(norm(a.doc.toJSON())).toEqual(norm(withLabel(states[i] as TreeJSON)));
    }
    await settle([a, b]);
    expect(b.doc.toJSON()).toEqual(a.doc.toJSON());
  });
});

describe('TreeDoc: presence', () => {
  it('selected ids and the pointer reach the others; a deleted object drops out of selections', async () => {
    const { a, b } = await pair();
    a.doc.presence.setSelection(['box', 'note']);
    a.doc.presence.setPointer({ x: 12, y: 34 });
    await settle([a, b]);
    const peer = b.doc.presence.getPeer(a.conn.sid);
    expect(peer?.selection).toEqual(['box', 'note']);
    expect(peer && b.doc.presence.pointerOf(peer)).toEqual({ x: 12, y: 34 });
    b.doc.delete('frame');
    await settle([a, b]);
    expect(b.doc.presence.getPeer(a.conn.sid)?.selection).toEqual(['box']);
    a.doc.presence.setPointer(null);
    await settle([a, b]);
    const p2 = b.doc.presence.getPeer(a.conn.sid);
    expect(p2 && b.doc.presence.pointerOf(p2)).toBeNull();
    expect(b.doc.presence.getPeers().map((p) => p.user.name)).toEqual(['user0']);
  });
});

describe('TreeDoc: random clients through a flaky link', () => {
  function randomStep(r: () => number, c: Client, step: number): void {
    const d = c.doc;
    const ids = d.tree.ids();
    const pick = (): string => ids[Math.floor(r() * ids.length)] as string;
    const x = r();
    if (x < 0.15 || ids.length < 3) {
      const parent = ids.length > 0 && r() < 0.5 ? pick() : '';
      if (d.tree.depth(parent) < 6) d.create({ kind: 'rect', x: step, text: 'ab' }, { inside: parent, at: Math.floor(r() * 4) });
    } else if (x < 0.35) d.set(pick(), ['x', 'y', 'fill'][Math.floor(r() * 3)] as string, Math.floor(r() * 100));
    else if (x < 0.5) {
      const id = r() < 0.5 && d.has('note') ? 'note' : pick();
      const s = d.prop(id, 'text');
      if (typeof s === 'string') d.editText(id, 'text', [{ from: Math.floor(r() * (s.length + 1)), to: Math.floor(r() * (s.length + 1)), insert: `${step}` }].map((ch) => ({ ...ch, to: Math.max(ch.from, ch.to) })));
    } else if (x < 0.65) {
      const id = pick();
      const target = r() < 0.3 ? '' : pick();
      if (target === id || d.ancestors(target).includes(id) || d.tree.depth(target) + d.tree.height(id) > 7) return;
      d.move(id, { inside: target, at: r() < 0.5 ? 'start' : 'end' });
    } else if (x < 0.7) {
      const id = pick();
      if (id !== 'frame' || r() < 0.2) d.delete(id);
    } else if (x < 0.76) {
      d.transact(() => {
        const n = d.create({ kind: 'note', text: '' }, { inside: '' });
        d.setText(n, 'text', `t${step}`);
        if (d.has('box')) d.set('box', 'x', step);
      });
    } else if (x < 0.82) d.undo();
    else if (x < 0.86) d.redo();
    else if (x < 0.92) {
      d.presence.setSelection(ids.length > 0 ? [pick()] : []);
      d.presence.setPointer({ x: step, y: Math.floor(r() * 100) });
    }
  }

  // SIM_SEEDS=n runs n extra seeds (local stress runs); seeds divisible by 3 use a server without history.
  const extra = Number(process.env.SIM_SEEDS ?? '0');
  for (const seed of [3, 4, 6, 9, ...Array.from({ length: extra }, (_, i) => 2000 + i)]) {
    it(`5 clients converge on the server's content, every op committed exactly once (seed ${seed})`, async () => {
      const r = rng(seed);
      const server = new FakeServer({ random: r, maxDelayMs: 30, noHistory: seed % 3 === 0 });
      server.createTree('doc', START);
      const clients = [0, 1, 2, 3, 4].map((i) => makeClient(server, i));
      await settle(clients);
      for (let step = 0; step < 300; step++) {
        const c = clients[Math.floor(r() * clients.length)] as Client;
        const x = r();
        if (x < 0.06) {
          for (const s of [...server.sockets]) if (r() < 0.3) s.fail();
        } else if (x < 0.075) server.dropAll();
        else randomStep(r, c, step);
        await vi.advanceTimersByTimeAsync(Math.floor(r() * 25));
      }
      await settle(clients);
      expect(server.violations).toEqual([]);
      const d = server.doc('doc');
      expect(d.log.length).toBeGreaterThan(60);
      expect(server.received.filter((m) => m.t === 'hello').length).toBeGreaterThan(clients.length + 3);
      const want = d.tree.toJSON();
      for (const c of clients) {
        expect(c.doc.toJSON(), c.conn.sid).toEqual(want);
        expect(c.doc.version).toBe(d.log.length);
      }
      // Exactly once: no (sid, seq) twice in the log, every seq a client used is in it.
      const seen = new Set<string>();
      for (const e of d.log) {
        const k = `${e.sid}:${e.seq}`;
        expect(seen.has(k), `duplicate commit ${k}`).toBe(false);
        seen.add(k);
      }
      for (const c of clients) {
        const last = Number(c.storage.getItem(`tandem.seq.${c.conn.sid}.doc`) ?? '0');
        for (let q = 1; q <= last; q++) expect(seen.has(`${c.conn.sid}:${q}`), `${c.conn.sid} seq ${q} lost`).toBe(true);
      }
      // Selections name only objects that exist.
      for (const c of clients) for (const p of c.doc.presence.getPeers()) for (const id of p.selection ?? []) expect(c.doc.has(id)).toBe(true);
      for (const c of clients) c.conn.destroy();
    });
  }
});

describe('TreeDoc: what goes on the wire', () => {
  it('a drag made while an op is in flight goes out as one set per property, and undoes in one step', async () => {
    const h = harness();
    const doc = h.conn.openTree('t'); // the default undo capture: a drag is one step
    const s = await h.welcome();
    s.deliver({ t: 'joined', doc: 't', v: 0, type: 'tree', tree: START, peers: [], mode: 'rw' } as never);
    doc.set('note', 'color', 'red'); // in flight
    doc.undoManager.stopCapturing(); // as the demo does when a drag starts
    for (let i = 1; i <= 300; i++) doc.set('box', { x: 10 + i, y: 10 + 2 * i });
    expect(s.of('op')).toHaveLength(1);
    s.deliver({ t: 'ack', doc: 't', seq: s.of('op')[0]?.seq as number, v: 0 });
    expect(s.of('op')[1]).toMatchObject({ v: 1, op: [['set', 'box', 'x', 310], ['set', 'box', 'y', 610]] });
    expect(doc.undo()).toBe(true);
    expect(doc.get('box')?.props).toMatchObject({ x: 10, y: 10 });
    expect(doc.get('note')?.props.color).toBe('red');
    expect(doc.undo()).toBe(true);
    expect(doc.get('note')?.props.color).toBeUndefined();
    expect(doc.undo()).toBe(false);
    h.conn.destroy();
  });

  it('sends tree ops with the version and selection, and re-sends the op in flight after a reconnect', async () => {
    const { h, doc, s } = await manualTree();
    doc.presence.setSelection(['box']);
    doc.set('box', 'x', 2);
    const op = s.of('op')[0] as unknown as { v: number; op: TreeOp; seq: number; sel: unknown };
    expect(op).toMatchObject({ doc: 't', v: 0, op: [['set', 'box', 'x', 2]], sel: ['box'] });
    s.drop();
    await vi.advanceTimersByTimeAsync(1000);
    const s2 = h.socket();
    expect(s2).not.toBe(s);
    s2.open();
    s2.deliver({ t: 'welcome', proto: 1, sid: SID, user: { id: 'u1', name: 'Ada', color: '#f00' } });
    expect(s2.of('join')).toEqual([{ t: 'join', doc: 't', v: 0 }]);
    s2.deliver({ t: 'joined', doc: 't', v: 0, type: 'tree', ops: [], peers: [], mode: 'rw' } as never);
    expect(s2.of('op')[0]).toMatchObject({ seq: op.seq, v: 0, op: [['set', 'box', 'x', 2]] });
    h.conn.destroy();
  });
});

/**
 * Table tests of the pure document state (src/state.ts) with the `text` type:
 * no sockets, no timers, no events. Each case is a list of steps; a step is
 * one input (a local edit, a server message, the connection going up or
 * down, a timer the session would run) and what it must produce: the
 * messages sent, the effects reported (by kind), and the state after it.
 */
import { describe, expect, it } from 'vitest';
import type { ClientMessage, ServerMessage } from '../src/protocol.js';
import { DocState, type Effect } from '../src/state.js';
import { textType } from '../src/text-doc.js';
import type { DocStatus } from '../src/types.js';
import type { Op, Range } from '../src/ot/index.js';

const ME = 'me-sid-0123456789abc'; // sorts after A and before Z
const A = 'A-sid-0123456789abcd';
const Z = 'z-sid-0123456789abcd';
const user = { id: 'u', name: 'U', color: '#000' };

type Input =
  | ['connect']
  | ['disconnect']
  | ['local', Op]
  | ['server', ServerMessage]
  | ['undo']
  | ['redo']
  | ['probe']
  | ['resend']
  | ['close']
  | ['select', Range[] | null]
  | ['data', Record<string, unknown>]
  | ['sendPresence'];

interface Step {
  in: Input;
  /** Messages sent by this step (exactly). */
  sends?: ClientMessage[];
  /** Kinds of the effects reported by this step (exactly, in order). */
  effects?: Effect<string, Op, Range[]>['kind'][];
  text?: string;
  version?: number;
  status?: DocStatus;
  pending?: boolean;
  /** The local selection after the step. */
  sel?: Range[] | null;
  /** Peers' selections after the step, by sid. */
  peers?: Record<string, Range[] | null>;
  /** What the step throws (a message pattern). */
  throws?: RegExp;
}

interface Case {
  name: string;
  steps: Step[];
}

const joined = (v: number, text: string, extra: Partial<Extract<ServerMessage, { t: 'joined' }>> = {}): ['server', ServerMessage] => [
  'server',
  { t: 'joined', doc: 'd', v, text, peers: [], mode: 'rw', ...extra },
];
const op = (v: number, o: Op, sid: string, seq = 1, sel?: Range[] | null): ['server', ServerMessage] => [
  'server',
  { t: 'op', doc: 'd', v, op: o, sid, seq, ...(sel !== undefined ? { sel } : {}) },
];
const ack = (seq: number, v: number): ['server', ServerMessage] => ['server', { t: 'ack', doc: 'd', seq, v }];
const error = (code: string, seq?: number): ['server', ServerMessage] => ['server', { t: 'error', code, msg: code, doc: 'd', ...(seq !== undefined ? { seq } : {}) }];
const presence = (v: number, sid: string, sel: Range[] | null, gone?: string[]): ['server', ServerMessage] => [
  'server',
  { t: 'presence', doc: 'd', v, peers: sid === '' ? [] : [{ sid, user, sel }], ...(gone ? { gone } : {}) },
];

/** Connected and synced to `text` at version `v`. */
const start = (text: string, v: number): Step[] => [
  { in: ['connect'], sends: [{ t: 'join', doc: 'd' }], status: 'joining' },
  { in: joined(v, text), sends: [], text, version: v, status: 'synced' },
];

const cases: Case[] = [
  {
    name: 'offline until connected; the first join has no version; edits before it wait and are rebased on the joined text',
    steps: [
      { in: ['local', ['early']], sends: [], effects: ['change'], text: 'early', status: 'offline', pending: true },
      { in: ['connect'], sends: [{ t: 'join', doc: 'd' }], effects: ['status'], status: 'joining' },
      {
        in: joined(4, 'server'),
        sends: [{ t: 'op', doc: 'd', v: 4, seq: 1, op: [6, 'early'], sel: null }],
        effects: ['change', 'synced', 'ready', 'status'],
        text: 'serverearly',
        version: 4,
        status: 'pending',
      },
    ],
  },
  {
    name: 'one op in flight; later edits compose into the buffer and go after the ack',
    steps: [
      ...start('hello', 3),
      { in: ['local', [5, '!']], sends: [{ t: 'op', doc: 'd', v: 3, seq: 1, op: [5, '!'], sel: null }], effects: ['change', 'status'], status: 'pending' },
      { in: ['local', ['>']], sends: [], effects: ['change'] },
      { in: ['local', [1, ' ']], sends: [], text: '> hello!' },
      { in: ack(1, 3), sends: [{ t: 'op', doc: 'd', v: 4, seq: 2, op: ['> '], sel: null }], effects: ['ack'], version: 4, status: 'pending' },
      { in: ack(2, 4), sends: [], effects: ['ack', 'status'], version: 5, status: 'synced', pending: false },
      { in: ack(2, 4), sends: [], effects: [], version: 5 }, // a duplicate ack changes nothing
    ],
  },
  {
    name: 'a remote op is transformed past the op in flight and the buffer',
    steps: [
      ...start('abc', 0),
      { in: ['local', [3, 'X']] },
      { in: ['local', ['Y']] },
      { in: op(0, [1, '1', -1], Z, 9), sends: [], effects: ['change'], text: 'Ya1cX', version: 1 },
      { in: ack(1, 1), sends: [{ t: 'op', doc: 'd', v: 2, seq: 2, op: ['Y'], sel: null }] },
    ],
  },
  {
    name: 'ties by sid: a committed insert at our spot goes left when its author sorts first',
    steps: [...start('', 0), { in: ['local', ['me']] }, { in: op(0, ['A'], A), text: 'Ame' }],
  },
  {
    name: 'ties by sid: and right when ours sorts first, though it was committed first',
    steps: [...start('', 0), { in: ['local', ['me']] }, { in: op(0, ['Z'], Z), text: 'meZ' }, { in: ack(1, 1), sends: [] }],
  },
  {
    name: 'a version gap re-joins with the last version; the catch-up ops fill it',
    steps: [
      ...start('abc', 5),
      { in: op(7, ['x'], Z), sends: [{ t: 'join', doc: 'd', v: 5 }], text: 'abc', status: 'joining' },
      { in: op(8, ['y'], Z), sends: [], text: 'abc' }, // ignored while joining
      {
        in: ['server', { t: 'joined', doc: 'd', v: 8, ops: [5, 6, 7].map((v) => ({ v, op: [String(v)], sid: Z, seq: v })), peers: [], mode: 'rw' }],
        text: '765abc',
        version: 8,
        status: 'synced',
      },
    ],
  },
  {
    name: 'reconnect: re-join with v; the own op found in the catch-up is its ack; the buffer follows',
    steps: [
      ...start('abc', 2),
      { in: ['local', ['A']] },
      { in: ['local', ['B']] },
      { in: ['disconnect'], sends: [], effects: ['stopped', 'status'], status: 'offline' },
      { in: ['local', ['C']], sends: [], text: 'CBAabc' },
      { in: ['connect'], sends: [{ t: 'join', doc: 'd', v: 2 }] },
      {
        in: ['server', { t: 'joined', doc: 'd', v: 3, ops: [{ v: 2, op: ['A'], sid: ME, seq: 1 }], peers: [], mode: 'rw' }],
        sends: [{ t: 'op', doc: 'd', v: 3, seq: 2, op: ['CB'], sel: null }],
        effects: ['ack', 'synced', 'status'],
        text: 'CBAabc',
      },
    ],
  },
  {
    name: 'reconnect: an op not committed yet is resubmitted with its seq, transformed',
    steps: [
      ...start('abc', 2),
      { in: ['local', [3, '!']] },
      { in: ['disconnect'] },
      { in: ['connect'] },
      {
        in: ['server', { t: 'joined', doc: 'd', v: 3, ops: [{ v: 2, op: ['>'], sid: Z, seq: 1 }], peers: [], mode: 'rw' }],
        sends: [{ t: 'op', doc: 'd', v: 3, seq: 1, op: [4, '!'], sel: null }],
        text: '>abc!',
      },
    ],
  },
  {
    name: 'full-text re-join with pending edits rebases them; an ack of an older version drops the op the text holds',
    steps: [
      ...start('abc', 2),
      { in: ['local', [3, '!']] },
      { in: ['local', ['?']] },
      { in: ['disconnect'] },
      { in: ['connect'] },
      // The line's difference ('abc' -> 'XXabc!') counts as committed first: ours go after it.
      { in: joined(9, 'XXabc!'), sends: [{ t: 'op', doc: 'd', v: 9, seq: 1, op: [6, '!'], sel: null }], text: 'XXabc!?!' },
      // The op had been committed before (at v 4): the text holds it once.
      { in: ack(1, 4), sends: [{ t: 'op', doc: 'd', v: 9, seq: 2, op: [6, '?'], sel: null }], effects: ['change', 'ack'], text: 'XXabc!?' },
      { in: ack(2, 9), status: 'synced', version: 10 },
    ],
  },
  {
    name: 'full-text re-join with nothing pending: a line-aligned diff reaches the text',
    steps: [...start('one\ntwo\n', 1), { in: ['disconnect'] }, { in: ['connect'] }, { in: joined(5, 'one\n2\n'), effects: ['change', 'synced', 'status'], text: 'one\n2\n' }],
  },
  {
    name: 'invalid_op drops the op and the buffer, clears undo and re-joins for the full text',
    steps: [
      ...start('abc', 1),
      { in: ['local', ['bad']] },
      { in: ['local', ['more']] },
      { in: error('invalid_op', 1), sends: [{ t: 'join', doc: 'd' }], effects: ['error', 'invalid_op', 'status'], status: 'joining', pending: false },
      { in: ['undo'], sends: [], text: 'morebadabc' }, // nothing to undo
      { in: joined(1, 'abc'), text: 'abc', status: 'synced' },
    ],
  },
  {
    // The edits made while the full text is on its way are made on the view
    // that still shows the dropped ones: the resync must take those out.
    name: 'invalid_op, then an edit before the full text comes: the dropped edits leave, the new one stays',
    steps: [
      ...start('abc', 1),
      { in: ['local', ['bad']] },
      { in: ['local', ['more']] },
      { in: error('invalid_op', 1), sends: [{ t: 'join', doc: 'd' }], status: 'joining', pending: false },
      { in: ['local', [10, '!']], sends: [], text: 'morebadabc!' },
      { in: joined(1, 'abc'), text: 'abc!', pending: true },
    ],
  },
  {
    name: 'invalid_op, then a reconnect before the full text comes: the re-join still asks for the full text',
    steps: [
      ...start('abc', 1),
      { in: ['local', ['bad']] },
      { in: error('invalid_op', 1), sends: [{ t: 'join', doc: 'd' }], status: 'joining', pending: false },
      { in: ['local', [6, '!']], sends: [], text: 'badabc!' },
      { in: ['disconnect'] },
      { in: ['connect'], sends: [{ t: 'join', doc: 'd' }] },
      { in: joined(1, 'abc'), text: 'abc!', pending: true },
    ],
  },
  {
    name: 'rate_limited asks for a retry; the resend keeps the seq',
    steps: [
      ...start('', 0),
      { in: ['local', ['x']] },
      { in: error('rate_limited', 1), sends: [], effects: ['error', 'retry_later'] },
      { in: ['resend'], sends: [{ t: 'op', doc: 'd', v: 0, seq: 1, op: ['x'], sel: null }] },
    ],
  },
  {
    name: 'deleted closes the document: peers leave, timers stop, nothing more is sent',
    steps: [
      ...start('abc', 1),
      { in: presence(1, Z, [[1, 1]]), effects: ['peers'] },
      { in: error('deleted'), sends: [], effects: ['error', 'deleted', 'leave', 'stopped', 'status'], status: 'closed' },
      { in: ['local', ['x']], throws: /closed/ },
      { in: op(1, ['x'], Z), effects: [], text: 'abc' },
    ],
  },
  {
    name: 'not_found before the first sync rejects ready',
    steps: [{ in: ['connect'] }, { in: error('not_found'), effects: ['error', 'ready'], status: 'joining' }],
  },
  {
    name: 'a read-only join refuses local edits',
    steps: [{ in: ['connect'] }, { in: joined(0, 'ro', { mode: 'r' }) }, { in: ['local', ['x']], throws: /read-only/, text: 'ro' }],
  },
  {
    name: 'a document of another type: an error, ready rejected, leave',
    steps: [
      { in: ['connect'] },
      { in: ['server', { t: 'joined', doc: 'd', v: 0, type: 'tree', tree: {}, peers: [], mode: 'rw' }], sends: [{ t: 'leave', doc: 'd' }], effects: ['error', 'ready', 'stopped', 'status'], status: 'closed' },
    ],
  },
  {
    name: 'an op that does not fit is refused before anything changes, even as a retain only',
    steps: [...start('abc', 0), { in: ['local', [5]], throws: /does_not_fit/, sends: [], pending: false }, { in: ['local', [2, 'x', 4]], throws: /does_not_fit/, text: 'abc' }],
  },
  {
    name: 'the local caret follows its own insert and stays before a remote insert at it',
    steps: [
      ...start('ab', 0),
      { in: ['select', [[1, 1]]], sel: [[1, 1]] },
      { in: ['local', [1, 'x']], sel: [[2, 2]] },
      { in: op(0, [2, 'R'], Z), text: 'axbR', sel: [[2, 2]] },
    ],
  },
  {
    name: 'presence goes out only with nothing unacknowledged; the selection rides on the op; data waits for the ack',
    steps: [
      ...start('hello', 0),
      { in: ['select', [[1, 1]]], sends: [] },
      { in: ['sendPresence'], sends: [{ t: 'presence', doc: 'd', v: 0, sel: [[1, 1]] }] },
      { in: ['sendPresence'], sends: [] }, // nothing changed since
      { in: ['data', { x: 1 }] },
      { in: ['local', [5, '!']], sends: [{ t: 'op', doc: 'd', v: 0, seq: 1, op: [5, '!'], sel: [[1, 1]] }] },
      { in: ['sendPresence'], sends: [] },
      { in: ack(1, 0), effects: ['ack', 'presence_due', 'status'] },
      { in: ['sendPresence'], sends: [{ t: 'presence', doc: 'd', v: 1, sel: [[1, 1]], data: { x: 1 } }] },
    ],
  },
  {
    name: "peers' selections: moved from their version through history and pending ops, then through later edits; gone peers leave",
    steps: [
      ...start('abcdef', 0),
      { in: ['local', ['XY']] },
      { in: presence(0, Z, [[2, 4]]), effects: ['peers'], peers: { [Z]: [[4, 6]] } },
      { in: op(0, [6, 'Z'], Z, 1, [[7, 7]]), text: 'XYabcdefZ', peers: { [Z]: [[9, 9]] } },
      { in: ['local', ['_']], peers: { [Z]: [[10, 10]] } },
      { in: op(1, [1, 'q'], A, 1), peers: { [Z]: [[11, 11]] } }, // A's insert moves Z's caret
      { in: presence(2, '', null, [Z]), effects: ['leave'], peers: {} },
    ],
  },
  {
    name: "a peer's own insert at its caret moves its caret; someone else's does not",
    steps: [
      ...start('ab', 0),
      { in: ['server', { t: 'presence', doc: 'd', v: 0, peers: [{ sid: Z, user, sel: [[1, 1]] }, { sid: A, user, sel: [[1, 1]] }] }] },
      { in: op(0, [1, 'x'], Z), peers: { [Z]: [[2, 2]], [A]: [[1, 1]] } },
    ],
  },
  {
    name: 'undo and redo only own edits, transformed through remote ones',
    steps: [
      ...start('', 0),
      { in: ['local', ['hello']] },
      { in: ack(1, 0) },
      { in: op(1, ['>> '], Z) },
      { in: ['local', [8, ' world']] },
      { in: op(2, [3, 'X'], Z), text: '>> Xhello world' },
      { in: ['undo'], text: '>> Xhello' },
      { in: ['undo'], text: '>> X' },
      { in: ['undo'], effects: [], text: '>> X' },
      { in: ['redo'], text: '>> Xhello' },
      { in: ['redo'], text: '>> Xhello world' },
    ],
  },
  {
    name: 'a probe re-joins an idle document with its version, not one with an op in flight',
    steps: [...start('a', 1), { in: ['probe'], sends: [{ t: 'join', doc: 'd', v: 1 }] }, { in: joined(1, 'a'), effects: ['synced', 'status'] }, { in: ['local', ['x']] }, { in: ['probe'], sends: [] }],
  },
  {
    name: 'close sends leave once and closes',
    steps: [...start('', 0), { in: ['close'], sends: [{ t: 'leave', doc: 'd' }], effects: ['stopped', 'status'], status: 'closed' }, { in: ['close'], sends: [] }],
  },
];

function run(c: Case): void {
  const sent: ClientMessage[] = [];
  const effects: Effect<string, Op, Range[]>[] = [];
  let seq = 0;
  const st = new DocState('d', ME, textType, {
    send: (m) => {
      sent.push(m as ClientMessage);
      return true;
    },
    nextSeq: () => ++seq,
    effect: (e) => effects.push(e),
  }, { undoCaptureMs: 0 });
  c.steps.forEach((step, i) => {
    const at = `step ${i} (${JSON.stringify(step.in)})`;
    sent.length = 0;
    effects.length = 0;
    const input = step.in;
    const act = (): void => {
      switch (input[0]) {
        case 'connect':
          return st.connected();
        case 'disconnect':
          return st.disconnected();
        case 'local':
          return st.local(input[1], undefined, 'edit', i * 1000);
        case 'server':
          return st.handle(input[1]);
        case 'undo':
          st.undoLast(i * 1000);
          return;
        case 'redo':
          st.redoLast(i * 1000);
          return;
        case 'probe':
          st.probe();
          return;
        case 'resend':
          return st.resendInflight();
        case 'close':
          return st.close();
        case 'select':
          st.setSelection(input[1]);
          return;
        case 'data':
          return st.setData(input[1]);
        case 'sendPresence':
          st.sendPresence();
          return;
      }
    };
    if (step.throws !== undefined) expect(act, at).toThrow(step.throws);
    else act();
    if (step.sends !== undefined) expect(sent, at).toEqual(step.sends);
    // The unsynced count has tests of its own (state-storage.test.ts).
    if (step.effects !== undefined) expect(effects.filter((e) => e.kind !== 'unsynced').map((e) => e.kind), at).toEqual(step.effects);
    if (step.text !== undefined) expect(st.content, at).toBe(step.text);
    if (step.version !== undefined) expect(st.version, at).toBe(step.version);
    if (step.status !== undefined) expect(st.status, at).toBe(step.status);
    if (step.pending !== undefined) expect(st.hasPendingOps, at).toBe(step.pending);
    if (step.sel !== undefined) expect(st.localSelection, at).toEqual(step.sel);
    if (step.peers !== undefined) expect(Object.fromEntries(st.peers.map((p) => [p.sid, p.selection])), at).toEqual(step.peers);
  });
}

describe('DocState (pure, text type)', () => {
  for (const c of cases) it(c.name, () => run(c));

  it('reports ready once, with the first sync, and an error only before it', () => {
    const effects: Effect<string, Op, Range[]>[] = [];
    const st = new DocState('d', ME, textType, { send: () => true, nextSeq: () => 1, effect: (e) => effects.push(e) }, { undoCaptureMs: 0 });
    st.connected();
    st.handle({ t: 'joined', doc: 'd', v: 0, text: '', peers: [], mode: 'rw' });
    st.handle({ t: 'error', code: 'not_found', msg: 'gone', doc: 'd' });
    st.disconnected();
    st.connected();
    st.handle({ t: 'joined', doc: 'd', v: 0, text: '', peers: [], mode: 'rw' });
    expect(effects.filter((e) => e.kind === 'ready')).toEqual([{ kind: 'ready' }]);
  });
});

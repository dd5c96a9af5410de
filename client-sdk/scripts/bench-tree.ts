/*
 * What a TreeDoc costs in the browser on a large board: the client side of
 * the tree type on the session state machine (no network), per operation.
 *
 *   npx vite-node scripts/bench-tree.ts [objects]
 *
 * Prints one line per measure. Figures go to docs/benchmarks.md with the
 * command and the machine.
 */
import { DocState } from '../src/state.js';
import { createTreeType } from '../src/tree-type.js';
import type { TreeJSON, TreeOp } from '../src/tree/index.js';
import { time } from './bench-time.js';

const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? '10000');

function board(count: number): TreeJSON {
  const out: TreeJSON = {};
  const frames = Math.max(1, Math.floor(count / 50));
  for (let f = 0; f < frames; f++) out[`f${f}`] = { parent: '', key: `a${f.toString(36).padStart(4, '0')}`, props: { kind: 'frame', x: f * 10, y: 0, w: 400, h: 300 } };
  for (let i = frames; i < count; i++) {
    out[`s${i}`] = { parent: `f${i % frames}`, key: `a${i.toString(36).padStart(4, '0')}`, props: { kind: 'rect', x: i % 997, y: i % 991, w: 80, h: 60, fill: '#80d8ff', text: 'note text' } };
  }
  return out;
}

const json = board(n);
const frames = Math.max(1, Math.floor(n / 50));
const type = createTreeType();
let seq = 0;
const sent: TreeOp[] = [];
const st = new DocState('b', 'me-0123456789abcdef', type, {
  send: (m) => {
    if (m.t === 'op') sent.push(m.op as TreeOp);
    return true;
  },
  nextSeq: () => ++seq,
  effect: () => undefined,
}, { undoCaptureMs: 0 });
st.connected();
const t0 = performance.now();
st.handle({ t: 'joined', doc: 'b', v: 0, type: 'tree', tree: json, peers: [], mode: 'rw' } as never);
console.log(`join a ${n}-object board (decode, check, index): ${(performance.now() - t0).toFixed(1)} ms`);

const remote = (i: number): void => {
  st.handle({ t: 'op', doc: 'b', v: st.version, op: [['set', `s${frames + ((i * 7919) % (n - frames))}`, 'x', i]], sid: 'peer-0123456789abcd', seq: i + 1 } as never);
};
time(`remote set on a ${n}-object board, nothing pending`, 20000, remote);

// A local drag: each set applies at once; the op in flight is acked every 4 frames.
let acked = 0;
time(`local set (a drag frame) on a ${n}-object board`, 20000, (i) => {
  st.local([['set', 's100', 'x', i], ['set', 's100', 'y', i]], undefined, 'edit', i);
  if (i % 4 === 3 && sent.length > acked) {
    st.handle({ t: 'ack', doc: 'b', seq: acked + 1, v: st.version } as never);
    acked++;
  }
});
// Remote ops while our drag is pending: undo, apply, re-apply on every op.
st.local([['set', 's100', 'x', -1]], undefined, 'edit', 0);
st.local([['set', 's101', 'x', -1]], undefined, 'edit', 0);
time(`remote set with two own actions pending (in flight and buffered)`, 20000, remote);
console.log(`objects: ${st.content.count}, version ${st.version}`);

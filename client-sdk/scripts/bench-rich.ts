/*
 * What a RichDoc costs per operation beside a TextDoc: the client side of the
 * `rich` and `text` types on the session state machine (no network), on a
 * document of N characters in runs that alternate plain and bold (as the hot
 * scenario of scripts/hot-types.mjs makes them), per operation: a remote
 * insert with nothing pending, a local edit (acked every other op), a
 * remote insert while an own op is in flight, and the plain text read after
 * each change (what a RichDoc's presence and editors read).
 *
 *   npx vite-node scripts/bench-rich.ts [chars]
 *
 * Prints one line per measure. Figures go to docs/benchmarks.md with the
 * command and the machine.
 */
import { richText, richType } from '../src/rich-doc.js';
import { type Delta, type RichOp } from '../src/rich/op.js';
import { DocState } from '../src/state.js';
import { textType } from '../src/text-doc.js';
import type { DocType } from '../src/doctype.js';
import { time } from './bench-time.js';

const REPS = 2000;
const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? '4000');

/** N characters in runs of 1-3, every other run bold, then the final newline. */
function content(chars: number): { rich: Delta; text: string } {
  const rich: Delta = [];
  let text = '';
  let bold = false;
  for (let i = 0; i < chars; ) {
    const run = 'abcdefgh'.slice(0, 1 + (i % 3)).slice(0, chars - i);
    rich.push(bold ? { i: run, a: { bold: true } } : run);
    text += run;
    i += run.length;
    bold = !bold;
  }
  rich.push('\n');
  return { rich, text: text + '\n' };
}

function measure<C, O>(name: string, type: DocType<C, O, unknown>, start: C, edit: (pos: number, i: number) => O, read: (c: C) => number): void {
  /** A state joined at version 0 with `start`; each measure has its own, so that none inherits another's undo stack. */
  const fresh = () => {
    let seq = 0;
    const out = { sent: 0 };
    const st = new DocState<C, O, unknown>('d', 'me-0123456789abcdef', type, {
      send: (m) => {
        if (m.t === 'op') out.sent++;
        return true;
      },
      nextSeq: () => ++seq,
      effect: () => undefined,
    }, { undoCaptureMs: 0 });
    st.connected();
    st.handle({ t: 'joined', doc: 'd', v: 0, type: type.name, [type.contentKey]: start, peers: [], mode: 'rw' } as never);
    let pseq = 0;
    const remote = (i: number): void => {
      st.handle({ t: 'op', doc: 'd', v: st.version, op: edit((i * 7919) % Math.max(1, read(st.content) - 2), i), sid: 'peer-0123456789abcd', seq: ++pseq } as never);
      read(st.content);
    };
    return { st, remote, out };
  };
  const a = fresh();
  time(`${name}: remote edit, nothing pending`, REPS, a.remote);
  const b = fresh();
  let acked = 0;
  time(`${name}: local edit, acked every other op`, REPS, (i) => {
    b.st.local(edit((i * 104729) % 1000, i), undefined, 'edit', i);
    read(b.st.content);
    if (i % 2 === 1 && b.out.sent > acked) b.st.handle({ t: 'ack', doc: 'd', seq: ++acked, v: b.st.version } as never);
  });
  const c = fresh();
  c.st.local(edit(3, 0), undefined, 'edit', 0);
  time(`${name}: remote edit, one own op in flight`, REPS, c.remote);
}

const { rich, text } = content(n);
console.log(`document: ${n} characters, ${rich.length} Delta components`);
measure('text', textType as DocType<string, unknown, unknown>, text, (pos, i) => [...(pos > 0 ? [pos] : []), i % 2 === 0 ? 'x' : -1], (c) => c.length);
measure('rich', richType as DocType<Delta, unknown, unknown>, rich, (pos, i) => [...(pos > 0 ? [pos] : []), i % 4 === 0 ? { i: 'x', a: { bold: true } } : i % 2 === 0 ? 'x' : -1] as RichOp, (c) => richText(c).length); // ASCII: UTF-16 units are code points

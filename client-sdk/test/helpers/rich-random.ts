/** Random rich contents and ops (seeded), with astral characters, embeds and formats. */
import { contentOf, type Attributes, type Delta, type RichComponent, type RichOp } from '../../src/rich/index.js';

export const PIECES = ['a', 'b', ' ', '\n', 'é', '😀', '👍🏽', '中', '𝄞'];
export const ATTRS: (Attributes | undefined)[] = [undefined, { bold: true }, { italic: true, link: 'https://x' }, { heading: 1 }, { list: 'bullet' }, { size: 1.5 }];

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

export function text(r: () => number, max: number): string {
  let s = '';
  const n = 1 + Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += pick(r, PIECES);
  return s;
}

export function insert(r: () => number, nulls: boolean): RichComponent {
  let a = pick(r, ATTRS);
  if (nulls && a !== undefined && r() < 0.3) a = { ...a, bold: null };
  if (r() < 0.12) return a === undefined ? { e: { image: 'https://img/' + text(r, 2) } } : { e: { image: 'u' }, a };
  const t = text(r, 4);
  return a === undefined ? t : { i: t, a };
}

export function randomContent(r: () => number): Delta {
  const c: RichOp = [];
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) c.push(insert(r, false));
  const last = pick(r, ATTRS);
  c.push(last === undefined ? '\n' : { i: '\n', a: last });
  return contentOf(c);
}

/** A valid op on a document of `len` code points that keeps its final newline. */
export function randomOp(r: () => number, len: number): RichOp {
  const op: RichOp = [];
  let pos = 0;
  const editable = len - 1;
  const edits = Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const room = editable - pos;
    if (room > 0 && r() < 0.7) {
      const n = 1 + Math.floor(r() * room);
      const a = pick(r, ATTRS);
      op.push(a !== undefined && r() < 0.3 ? { r: n, a: r() < 0.3 ? { ...a, bold: null } : a } : n);
      pos += n;
    }
    const left = editable - pos;
    if (left > 0 && r() < 0.4) {
      const n = 1 + Math.floor(r() * Math.min(left, 4));
      op.push(-n);
      pos += n;
    } else {
      op.push(insert(r, true));
    }
  }
  if (len - pos > 0 && r() < 0.3) op.push({ r: len - pos, a: { heading: 2 } });
  return op;
}


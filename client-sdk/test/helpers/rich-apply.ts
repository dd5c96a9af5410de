/**
 * TEMPORARY, tests only: a minimal, deliberately naive `apply` of a rich op
 * to a Delta (one array entry per code point), used by the editor-mapping
 * tests until the SDK's rich OT module (`src/rich/`) lands on main. Replace
 * every import of this file with the real `apply` from `../../src/rich/` then
 * and delete it. It checks what the tests need (the op fits the document, the
 * final "\n" stays) and nothing more.
 */
import type { Attributes, Delta, Embed, RichOp } from '../../src/bindings/rich-local.js';

interface Unit {
  ch?: string;
  embed?: Embed;
  attrs: Attributes;
  /** The document's final "\n", which an op may format but never delete or insert after. */
  final?: true;
}

function units(delta: Delta): Unit[] {
  const out: Unit[] = [];
  for (const d of delta) {
    if (typeof d === 'string') for (const ch of d) out.push({ ch, attrs: {} });
    else if ('i' in d) for (const ch of d.i) out.push({ ch, attrs: { ...(d.a ?? {}) } });
    else out.push({ embed: { ...d.e }, attrs: { ...(d.a ?? {}) } });
  }
  return out;
}

function sameAttrs(a: Attributes, b: Attributes): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The canonical Delta of units (docs/protocol.md): plain strings, `{i, a}`, `{e}`, `{e, a}`, neighbours with equal attributes merged. */
function fromUnits(us: Unit[]): Delta {
  const out: Delta = [];
  for (const u of us) {
    const a = Object.keys(u.attrs).length > 0 ? u.attrs : undefined;
    if (u.embed) {
      out.push(a ? { e: u.embed, a } : { e: u.embed });
      continue;
    }
    const k = out.length - 1;
    const last = out[k];
    if (!a && typeof last === 'string') out[k] = last + (u.ch as string);
    else if (a && last !== undefined && typeof last === 'object' && 'i' in last && sameAttrs(last.a ?? {}, u.attrs)) last.i += u.ch as string;
    else out.push(a ? { i: u.ch as string, a: { ...a } } : (u.ch as string));
  }
  return out;
}

/** The Delta in the canonical form {@link fromUnits} gives (for comparisons). */
export function normalizeDelta(delta: Delta): Delta {
  return fromUnits(units(delta));
}

/** Code point length of a Delta. */
export function deltaLen(delta: Delta): number {
  return units(delta).length;
}

/** Applies `op` to `delta`; throws when it does not fit or touches the final "\n" wrongly. */
export function applyRich(delta: Delta, op: RichOp): Delta {
  const src = units(delta);
  const last0 = src[src.length - 1];
  if (!last0 || last0.ch !== '\n') throw new Error('the document must end with "\\n"');
  src[src.length - 1] = { ...last0, final: true };
  const out: Unit[] = [];
  let at = 0;
  const take = (n: number): Unit[] => {
    if (at + n > src.length) throw new Error(`op runs past the end (${at + n} > ${src.length})`);
    const s = src.slice(at, at + n);
    at += n;
    return s;
  };
  for (const c of op) {
    if (typeof c === 'number') {
      if (c > 0) for (const u of take(c)) out.push(u);
      else if (c < 0) take(-c);
      else throw new Error('zero component');
    } else if (typeof c === 'string') {
      for (const ch of c) out.push({ ch, attrs: {} });
    } else if ('i' in c) {
      for (const ch of c.i) out.push({ ch, attrs: { ...(c.a ?? {}) } });
    } else if ('e' in c) {
      out.push({ embed: { ...c.e }, attrs: { ...(c.a ?? {}) } });
    } else {
      for (const u of take(c.r)) {
        const a = { ...u.attrs };
        for (const [k, v] of Object.entries(c.a ?? {})) {
          if (v === null) delete a[k];
          else a[k] = v;
        }
        out.push({ ...u, attrs: a });
      }
    }
  }
  for (let k = at; k < src.length; k++) out.push(src[k] as Unit);
  const last = out[out.length - 1];
  if (!last?.final) throw new Error('the op deletes the final "\\n" or inserts after it');
  delete last.final;
  return fromUnits(out);
}

/**
 * The ProseMirror/Tiptap <-> rich Delta mapping: every node and mark of the
 * Tiptap StarterKit + Image schema both ways with the exact Delta spelled out,
 * the inverse property on random documents, positions, transactions to ops
 * (every edit a user can make, random sequences), ops to transactions, and
 * foreign Deltas (Quill, the API) that the schema cannot show exactly.
 */
import { Schema, type MarkType, type NodeSpec, type NodeType, type Node as PMNode } from '@tiptap/pm/model';
import { Transform } from '@tiptap/pm/transform';
import { describe, expect, it } from 'vitest';
import {
  HARD_BREAK,
  OBJECT_REPLACEMENT,
  applyOpToTransform,
  canonicalize,
  deltaLength,
  deltaToDoc,
  docToDelta,
  offsetToPos,
  posToOffset,
  transactionToOp,
} from '../src/bindings/prosemirror-mapping.js';
import type { Attributes, Delta, RichOp } from '../src/rich/index.js';
import { cpLength } from '../src/ot/unicode.js';
import { EDITS, EditorState, randomDoc, randomEdit, randomString, schema, type Rand } from './helpers/pm-random.js';
import { rng } from './helpers/random.js';
import { apply as applyRich, contentOf as normalizeDelta, deltaLength as deltaLen } from '../src/rich/index.js';

type NodeName = 'doc' | 'paragraph' | 'heading' | 'codeBlock' | 'blockquote' | 'bulletList' | 'orderedList' | 'listItem' | 'hardBreak' | 'image' | 'horizontalRule';
const N = schema.nodes as unknown as { [K in NodeName]: NodeType };
type MarkName = 'bold' | 'italic' | 'underline' | 'strike' | 'code' | 'link';
const M = schema.marks as unknown as { [K in MarkName]: MarkType };
const t = (s: string, ...marks: string[]) => schema.text(s, marks.map((m) => (m.startsWith('link:') ? M.link.create({ href: m.slice(5) }) : M[m as MarkName].create())));
const p = (...c: PMNode[]) => N.paragraph.create(null, c);
const h = (level: number, ...c: PMNode[]) => N.heading.create({ level }, c);
const code = (text: string, language: string | null = null) => N.codeBlock.create({ language }, text ? schema.text(text) : null);
const quote = (...c: PMNode[]) => N.blockquote.create(null, c);
const li = (...c: PMNode[]) => N.listItem.create(null, c);
const ul = (...items: PMNode[]) => N.bulletList.create(null, items);
const ol = (attrs: Record<string, unknown> | null, ...items: PMNode[]) => N.orderedList.create(attrs, items);
const doc = (...c: PMNode[]) => {
  const d = N.doc.create(null, c);
  d.check();
  return d;
};

/** Both directions: the document maps to exactly `delta`, and `delta` maps back to the document. */
function both(d: PMNode, delta: Delta): void {
  expect(docToDelta(d)).toEqual(delta);
  const back = deltaToDoc(schema, delta);
  expect(back.toJSON()).toEqual(d.toJSON());
  expect(back.eq(d)).toBe(true);
}

describe('ProseMirror <-> Delta: every node and mark', () => {
  it('paragraphs and plain text', () => {
    both(doc(p(t('Hello 😀'))), ['Hello 😀\n']);
    both(doc(p(), p(t('b'))), ['\nb\n']);
  });

  it('marks: bold, italic, underline, strike, code, link', () => {
    both(doc(p(t('b', 'bold'), t('i', 'italic'), t('u', 'underline'), t('s', 'strike'), t('c', 'code'), t('l', 'link:https://x.example/'))), [
      { i: 'b', a: { bold: true } },
      { i: 'i', a: { italic: true } },
      { i: 'u', a: { underline: true } },
      { i: 's', a: { strike: true } },
      { i: 'c', a: { code: true } },
      { i: 'l', a: { link: 'https://x.example/' } },
      '\n',
    ]);
    both(doc(p(t('x', 'bold', 'italic', 'underline', 'strike', 'link:/a'))), [
      { i: 'x', a: { link: '/a', bold: true, italic: true, strike: true, underline: true } },
      '\n',
    ]);
  });

  it('a link with non-default attributes keeps them as link-* keys', () => {
    const d = doc(p(schema.text('x', [M.link.create({ href: '/a', target: '_self', rel: 'noopener', class: 'c', title: 'T' })])));
    both(d, [{ i: 'x', a: { link: '/a', 'link-target': '_self', 'link-rel': 'noopener', 'link-class': 'c', 'link-title': 'T' } }, '\n']);
  });

  it('hard break is U+2028 carrying its marks', () => {
    both(doc(p(t('a'), N.hardBreak.create(), t('b'), N.hardBreak.create(null, null, [M.bold.create()]))), [
      `a${HARD_BREAK}b`,
      { i: HARD_BREAK, a: { bold: true } },
      '\n',
    ]);
  });

  it('image is an embed {image: src} with its other attributes and marks', () => {
    both(doc(p(t('a'), N.image.create({ src: 'https://i.example/a.png' }), N.image.create({ src: '/b.png', alt: 'B', width: 320, title: 'T' }, null, [M.italic.create()]))), [
      'a',
      { e: { image: 'https://i.example/a.png' } },
      { e: { image: '/b.png' }, a: { alt: 'B', title: 'T', width: 320, italic: true } },
      '\n',
    ]);
  });

  it('headings 1-3 (and 4-6)', () => {
    both(doc(h(1, t('One')), h(2, t('Two')), h(3, t('Three')), h(6, t('Six'))), [
      'One',
      { i: '\n', a: { heading: 1 } },
      'Two',
      { i: '\n', a: { heading: 2 } },
      'Three',
      { i: '\n', a: { heading: 3 } },
      'Six',
      { i: '\n', a: { heading: 6 } },
    ]);
  });

  it('code blocks: a line per line, code-block is the language or true', () => {
    both(doc(code('let a\nlet b', 'js'), code('')), [
      'let a',
      { i: '\n', a: { 'code-block': 'js' } },
      'let b',
      { i: '\n', a: { 'code-block': 'js' } },
      { i: '\n', a: { 'code-block': true } },
    ]);
    // Two adjacent code blocks of one language: the second starts with `nest: "!"`.
    both(doc(code('a'), code('b')), [
      'a',
      { i: '\n', a: { 'code-block': true } },
      'b',
      { i: '\n', a: { 'code-block': true, nest: '!' } },
    ]);
    // Different languages need nothing.
    both(doc(code('a', 'js'), code('b', 'go')), ['a', { i: '\n', a: { 'code-block': 'js' } }, 'b', { i: '\n', a: { 'code-block': 'go' } }]);
  });

  it('bullet and ordered lists, nested, with Quill keys', () => {
    both(doc(ul(li(p(t('a'))), li(p(t('b')), ol(null, li(p(t('b1'))), li(p(t('b2'))))), li(p(t('c'))))), [
      'a',
      { i: '\n', a: { list: 'bullet' } },
      'b',
      { i: '\n', a: { list: 'bullet' } },
      'b1',
      { i: '\n', a: { list: 'ordered', indent: 1 } },
      'b2',
      { i: '\n', a: { list: 'ordered', indent: 1 } },
      'c',
      { i: '\n', a: { list: 'bullet' } },
    ]);
    both(doc(ol({ start: 3, type: 'a' }, li(p(t('x'))))), ['x', { i: '\n', a: { list: 'ordered', 'list-start': 3, 'list-type': 'a' } }]);
  });

  it('blockquote, and headings inside it, with Quill keys', () => {
    both(doc(quote(p(t('a')), h(2, t('b'))), p(t('c'))), [
      'a',
      { i: '\n', a: { blockquote: true } },
      'b',
      { i: '\n', a: { heading: 2, blockquote: true } },
      'c\n',
    ]);
  });

  it('trees Quill cannot say use nest', () => {
    // A second paragraph in one list item.
    both(doc(ul(li(p(t('a')), p(t('a2'))))), ['a', { i: '\n', a: { list: 'bullet' } }, 'a2', { i: '\n', a: { nest: 'b' } }]);
    // Two adjacent lists of one kind, two adjacent blockquotes.
    both(doc(ul(li(p())), ul(li(p())), quote(p()), quote(p())), [
      { i: '\n', a: { list: 'bullet' } },
      { i: '\n', a: { nest: 'b*' } },
      { i: '\n', a: { blockquote: true } },
      { i: '\n', a: { nest: 'q+' } },
    ]);
    // A list inside a blockquote, a blockquote and a code block inside a list item.
    both(doc(quote(ul(li(p(t('a'))), li(p(t('b')))), p(t('c'))), ul(li(p(t('d')), quote(p(t('e'))), code('f')))), [
      'a',
      { i: '\n', a: { nest: 'q+b*' } },
      'b',
      { i: '\n', a: { nest: 'qb+' } },
      'c',
      { i: '\n', a: { blockquote: true } },
      'd',
      { i: '\n', a: { list: 'bullet' } },
      'e',
      { i: '\n', a: { nest: 'bq+' } },
      'f',
      { i: '\n', a: { 'code-block': true, nest: 'b' } },
    ]);
  });

  it('text alignment (Tiptap TextAlign) is align on the line', () => {
    // The attribute TextAlign adds to paragraphs and headings.
    const withAlign = (spec: NodeSpec): NodeSpec => ({ ...spec, attrs: { ...(spec.attrs ?? {}), textAlign: { default: 'left' } } });
    const aligned = new Schema({
      nodes: schema.spec.nodes.update('paragraph', withAlign(schema.spec.nodes.get('paragraph') as NodeSpec)).update('heading', withAlign(schema.spec.nodes.get('heading') as NodeSpec)),
      marks: schema.spec.marks,
    });
    const an = aligned.nodes as unknown as { [K in NodeName]: NodeType };
    const d = an.doc.create(null, [an.paragraph.create({ textAlign: 'center' }, aligned.text('c')), an.heading.create({ level: 2, textAlign: 'right' }, aligned.text('r')), an.paragraph.create(null, aligned.text('l'))]);
    const delta: Delta = ['c', { i: '\n', a: { align: 'center' } }, 'r', { i: '\n', a: { align: 'right', heading: 2 } }, 'l\n'];
    expect(docToDelta(d)).toEqual(delta);
    expect(deltaToDoc(aligned, delta).eq(d)).toBe(true);
  });

  it('the inverse holds on 2,000 random documents', () => {
    const r = rng(16);
    for (let n = 0; n < 2000; n++) {
      const d = randomDoc(r);
      const delta = docToDelta(d);
      const back = deltaToDoc(schema, delta);
      if (!back.eq(d)) expect(back.toJSON(), `doc ${n}: ${JSON.stringify(delta)}`).toEqual(d.toJSON());
      expect(deltaLen(delta)).toBe(deltaLength(d));
    }
  }, 60_000);

  it('refuses what it cannot map instead of guessing', () => {
    expect(() => docToDelta(doc(p(t('a')), N.horizontalRule.create()))).toThrow(/horizontalRule/);
    expect(() => deltaToDoc(schema, ['no final newline'])).toThrow(/end with/);
    expect(() => deltaToDoc(schema, [])).toThrow(/end with/);
  });
});

describe('positions', () => {
  it('map PM positions to code points and back on a known document', () => {
    // doc: <p>a😀b</p><ul><li><p>c</p></li></ul>
    const d = doc(p(t('a😀b')), ul(li(p(t('c')))));
    // Delta: "a😀b\n" (0..4) "c\n" (4..6)
    expect(posToOffset(d, 1)).toBe(0);
    expect(posToOffset(d, 2)).toBe(1);
    expect(posToOffset(d, 3)).toBe(1); // inside the surrogate pair: before it
    expect(posToOffset(d, 4)).toBe(2);
    expect(posToOffset(d, 5)).toBe(3);
    expect(posToOffset(d, 6)).toBe(4); // between blocks: the next line
    expect(posToOffset(d, 9)).toBe(4);
    expect(posToOffset(d, 10)).toBe(5);
    expect(posToOffset(d, d.content.size)).toBe(6);
    expect([0, 1, 2, 3, 4, 5, 6].map((o) => offsetToPos(d, o))).toEqual([1, 2, 4, 5, 9, 10, 10]);
    expect(() => offsetToPos(d, 7)).toThrow(RangeError);
  });

  it('round-trip on random documents, and point at the same character', () => {
    const r = rng(7);
    for (let n = 0; n < 300; n++) {
      const d = randomDoc(r);
      const delta = docToDelta(d);
      const chars: string[] = [];
      for (const x of delta) {
        if (typeof x === 'string') chars.push(...x);
        else if ('i' in x) chars.push(...x.i);
        else chars.push(OBJECT_REPLACEMENT);
      }
      for (let off = 0; off < chars.length; off++) {
        const pos = offsetToPos(d, off);
        expect(posToOffset(d, pos)).toBe(off);
        const ch = chars[off] as string;
        const $pos = d.resolve(pos);
        if (ch === '\n') {
          expect($pos.parent.isTextblock).toBe(true);
          if (pos !== $pos.end()) expect(d.textBetween(pos, pos + 1)).toBe('\n'); // inside a code block
        } else if (ch === OBJECT_REPLACEMENT) expect($pos.nodeAfter?.type.name).toBe('image');
        else if (ch === HARD_BREAK) expect($pos.nodeAfter?.type.name).toBe('hardBreak');
        else expect(d.textBetween(pos, pos + ch.length)).toBe(ch);
      }
    }
  }, 60_000);
});

/** Checks one PM transaction both ways; returns the op and whether the reverse was coarse. */
function checkTransaction(before: PMNode, tr: Transform, label: string): { op: RichOp; coarse: boolean } {
  const d0 = docToDelta(before);
  const d1 = docToDelta(tr.doc);
  const op = transactionToOp(tr);
  const context = `${label}: op ${JSON.stringify(op)} for steps ${JSON.stringify(tr.steps.map((s) => s.toJSON()))} on ${JSON.stringify(before.toJSON())}`;
  let applied: Delta;
  try {
    applied = applyRich(d0, op);
  } catch (e) {
    throw new Error(`${String(e)}: ${context}`);
  }
  expect(applied, context).toEqual(normalizeDelta(d1));
  // Back: the op applied to the old document as PM steps gives the new document.
  const back = new Transform(before);
  let res;
  try {
    res = applyOpToTransform(back, op, d1);
  } catch (e) {
    throw new Error(`${String(e)}: back: ${context}`);
  }
  if (!back.doc.eq(tr.doc)) expect(JSON.stringify(back.doc.toJSON()), `${label}: back: ${JSON.stringify(op)} on ${JSON.stringify(before.toJSON())}`).toEqual(JSON.stringify(tr.doc.toJSON()));
  return { op, coarse: res.coarse };
}

const isRetainOnly = (op: RichOp) => op.every((c) => (typeof c === 'number' && c > 0) || (typeof c === 'object' && 'r' in c));

describe('transactions -> ops -> transactions', () => {
  it('typing, deleting and marking give the ops a binding expects', () => {
    const d = doc(p(t('ab😀c')), p(t('d')));
    let tr = new Transform(d).insert(5, schema.text('X')); // after the emoji
    expect(checkTransaction(d, tr, 'type').op).toEqual([3, 'X']);
    tr = new Transform(d).delete(2, 5); // "b😀"
    expect(checkTransaction(d, tr, 'delete').op).toEqual([1, -2]);
    tr = new Transform(d).addMark(1, 6, M.bold.create());
    expect(checkTransaction(d, tr, 'bold').op).toEqual([{ r: 4, a: { bold: true } }]);
    tr = new Transform(d).split(3); // Enter after "ab"
    expect(checkTransaction(d, tr, 'split').op).toEqual([2, '\n']);
    tr = new Transform(d).join(7); // Backspace at the start of "d"
    expect(checkTransaction(d, tr, 'join').op).toEqual([4, -1]);
    // Deleting an empty last paragraph deletes the "\n" before it: the final "\n" is never deleted.
    const d2 = doc(p(t('a')), h(2));
    expect(checkTransaction(d2, new Transform(d2).delete(3, 5), 'last line').op).toEqual([1, -1, { r: 1, a: { heading: null } }]);
    tr = new Transform(d).setNodeMarkup(0, N.heading, { level: 2 });
    expect(checkTransaction(d, tr, 'heading').op).toEqual([4, { r: 1, a: { heading: 2 } }]);
    const range = d.resolve(1).blockRange(d.resolve(9));
    if (!range) throw new Error('no block range');
    tr = new Transform(d).wrap(range, [{ type: N.blockquote }]);
    expect(checkTransaction(d, tr, 'wrap').op).toEqual([4, { r: 1, a: { blockquote: true } }, 1, { r: 1, a: { blockquote: true } }]);
  });

  it('every kind of edit on random documents: apply(op, delta(before)) == delta(after), and back', () => {
    const r = rng(1616);
    const seen = new Map<string, number>();
    let coarse = 0;
    let fixed = 0;
    let checked = 0;
    let state = EditorState.create({ doc: randomDoc(r) });
    for (let n = 0; n < 3000; n++) {
      if (n % 25 === 0) state = EditorState.create({ doc: randomDoc(r) });
      const e = randomEdit(r, state);
      if (!e) continue;
      const before = e.tr.before;
      // What the binding's appendTransaction does: literal "\n" in a paragraph (left by replace fitting) becomes a hard break.
      const raw = e.tr.doc;
      if (canonicalize(e.tr)) {
        fixed++;
        expect(docToDelta(e.tr.doc)).toEqual(docToDelta(raw)); // the same Delta, position for position
      }
      const res = checkTransaction(before, e.tr, `edit ${n} ${e.name}`);
      if (res.coarse) coarse++;
      if (['addMark', 'removeMark', 'heading', 'paragraph', 'blockquote', 'lift', 'bulletList', 'orderedList', 'sinkListItem', 'liftListItem', 'attrStep', 'nodeMarkup'].includes(e.name) && e.tr.steps.every((s) => s.toJSON().stepType !== 'replace')) {
        // Steps that keep the content keep it in the op too: retains only.
        expect(isRetainOnly(res.op), `${e.name}: ${JSON.stringify(res.op)}`).toBe(true);
      }
      seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
      checked++;
      state = EditorState.create({ doc: e.tr.doc });
    }
    for (const name of EDITS) expect(seen.get(name) ?? 0, `edits of kind ${name}`).toBeGreaterThan(10);
    expect(checked).toBeGreaterThan(1800);
    // Replacing whole top-level blocks is the rare fallback, not the rule.
    expect(coarse / checked).toBeLessThan(0.02);
    expect(fixed / checked).toBeLessThan(0.02);
  }, 120_000);
});

// ---------------------------------------------------------------------------
// Ops from elsewhere (another editor, the API) and Deltas the schema cannot show

const LINE_ATTRS: Attributes[] = [
  {},
  {},
  { heading: 1 },
  { heading: 3 },
  { heading: 9 },
  { 'code-block': true },
  { 'code-block': 'js' },
  { list: 'bullet' },
  { list: 'ordered' },
  { list: 'bullet', indent: 1 },
  { list: 'ordered', indent: 3 },
  { list: 'checked' },
  { blockquote: true },
  { blockquote: true, heading: 2 },
  { list: 'bullet', blockquote: true },
  { nest: 'b' },
  { nest: 'q+b*' },
  { nest: 'qb+' },
  { nest: 'bq' },
  { nest: '!' },
  { nest: 'zz' },
  { align: 'center' },
  { 'list-start': 4, list: 'ordered' },
];

const CHAR_ATTRS: Attributes[] = [
  {},
  {},
  { bold: true },
  { italic: true, underline: true },
  { strike: true },
  { code: true, bold: true },
  { link: 'https://l.example/' },
  { link: '/x', 'link-target': '_self' },
  { color: '#f00' },
  { bold: false },
];

function pickOf<T>(r: Rand, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

/** A random Delta, as Quill or the API could make it: any attributes, known or not, embeds of any type. */
function foreignDelta(r: Rand): Delta {
  const out: Delta = [];
  const lines = 1 + Math.floor(r() * 6);
  for (let l = 0; l < lines; l++) {
    const parts = Math.floor(r() * 4);
    for (let k = 0; k < parts; k++) {
      const x = r();
      if (x < 0.75) {
        const a = pickOf(r, CHAR_ATTRS);
        const text = randomString(r, 1, 4) + (r() < 0.1 ? HARD_BREAK : '');
        out.push(Object.keys(a).length > 0 ? { i: text, a } : text);
      } else if (x < 0.9) out.push({ e: { image: 'https://i.example/x.png' }, a: r() < 0.5 ? { alt: 'x', bold: true } : {} });
      else out.push({ e: { video: 'https://v.example/' } });
    }
    const a = pickOf(r, LINE_ATTRS);
    out.push(Object.keys(a).length > 0 ? { i: '\n', a } : '\n');
  }
  return out;
}

/** A random op over a Delta of `len` code points, keeping its final "\n". */
function randomRichOp(r: Rand, len: number): RichOp {
  const op: RichOp = [];
  let pos = 0;
  while (pos < len - 1) {
    const x = r();
    const n = 1 + Math.floor(r() * Math.min(5, len - 1 - pos));
    if (x < 0.3) {
      op.push(n);
      pos += n;
    } else if (x < 0.45) {
      op.push(-n);
      pos += n;
    } else if (x < 0.65) {
      const a = r() < 0.5 ? pickOf(r, CHAR_ATTRS) : pickOf(r, LINE_ATTRS);
      const text = r() < 0.3 ? '\n' : randomString(r, 1, 3) + (r() < 0.2 ? '\n' : '');
      op.push(Object.keys(a).length > 0 ? { i: text, a } : text);
    } else if (x < 0.7) op.push({ e: { image: '/i.png' } });
    else {
      const a: Attributes = r() < 0.5 ? { ...pickOf(r, CHAR_ATTRS) } : { ...pickOf(r, LINE_ATTRS) };
      if (r() < 0.3) a.bold = null;
      if (r() < 0.2) a.list = null;
      if (Object.keys(a).length === 0) a.italic = true;
      op.push({ r: n, a });
      pos += n;
    }
  }
  return op;
}

function chars(delta: Delta): string[] {
  const out: string[] = [];
  for (const x of delta) {
    if (typeof x === 'string') out.push(...x);
    else if ('i' in x) out.push(...x.i);
    else out.push(x.e.image !== undefined ? 'IMG' : OBJECT_REPLACEMENT);
  }
  return out;
}

describe('foreign Deltas and remote ops', () => {
  it('any Delta maps to a valid document with every position in place, and maps stably', () => {
    const r = rng(99);
    for (let n = 0; n < 2000; n++) {
      const delta = foreignDelta(r);
      const d = deltaToDoc(schema, delta);
      d.check();
      const again = docToDelta(d);
      expect(deltaLen(again)).toBe(deltaLen(delta));
      // Character for character the same, except embeds the schema cannot show (and images in code) become U+FFFC.
      const a = chars(delta);
      const b = chars(again);
      for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) expect([a[k], b[k]]).toEqual([a[k] === 'IMG' ? 'IMG' : OBJECT_REPLACEMENT, OBJECT_REPLACEMENT]);
      // Normalising is idempotent: what came out maps to the same document.
      expect(deltaToDoc(schema, again).eq(d)).toBe(true);
    }
  }, 60_000);

  it('known cases of normalising', () => {
    // Quill list deeper than the line before allows: pulled up. Header 9: a paragraph. Unknown keys: dropped.
    const d = deltaToDoc(schema, ['a', { i: '\n', a: { list: 'bullet', indent: 2 } }, 'b', { i: '\n', a: { heading: 9, align: 'center' } }]);
    expect(docToDelta(d)).toEqual(['a', { i: '\n', a: { list: 'bullet' } }, 'b\n']);
    // A heading cannot start a list item; marks do not live in code; an unknown embed is U+FFFC.
    const d2 = deltaToDoc(schema, ['x', { i: '\n', a: { list: 'bullet', heading: 1 } }, { i: 'y', a: { bold: true } }, { e: { image: '/i.png' } }, { i: '\n', a: { 'code-block': true } }, { e: { video: 'v' } }, '\n']);
    expect(docToDelta(d2)).toEqual([
      'x',
      { i: '\n', a: { list: 'bullet' } },
      `y${OBJECT_REPLACEMENT}`,
      { i: '\n', a: { 'code-block': true } },
      `${OBJECT_REPLACEMENT}\n`,
    ]);
    // code wins over the marks it excludes.
    expect(docToDelta(deltaToDoc(schema, [{ i: 'c', a: { code: true, bold: true } }, '\n']))).toEqual([{ i: 'c', a: { code: true } }, '\n']);
  });

  it('a remote op becomes steps that give exactly the document of the new Delta', () => {
    const r = rng(4242);
    let coarse = 0;
    let direct = 0;
    let total = 0;
    for (let n = 0; n < 1200; n++) {
      const d0 = n % 2 === 0 ? docToDelta(randomDoc(r)) : foreignDelta(r);
      const pm0 = deltaToDoc(schema, d0);
      const op = randomRichOp(r, deltaLen(d0));
      const d1 = applyRich(d0, op);
      const tr = new Transform(pm0);
      let res;
      try {
        res = applyOpToTransform(tr, op, d1);
      } catch (e) {
        throw new Error(`${String(e)}: op ${n} ${JSON.stringify(op)} on ${JSON.stringify(d0)}`);
      }
      const want = deltaToDoc(schema, d1);
      if (!tr.doc.eq(want)) expect(tr.doc.toJSON(), `op ${n} ${JSON.stringify(op)} on ${JSON.stringify(d0)}`).toEqual(want.toJSON());
      if (res.coarse) coarse++;
      if (res.direct) direct++;
      total++;
    }
    expect(coarse / total).toBeLessThan(0.05);
    expect(direct).toBeGreaterThan(total / 20); // the direct path is exercised and checked too
  }, 60_000);

  it('typing and formatting from a remote peer map carets through text and mark steps', () => {
    const d = doc(p(t('hello world')), p(t('second')));
    const d0 = docToDelta(d);
    // A remote peer types at 6 and bolds "world"; a local caret at "sec|ond" (pos 17) must stay put.
    const op: RichOp = [6, 'big ', { r: 5, a: { bold: true } }];
    const tr = new Transform(d);
    const res = applyOpToTransform(tr, op, applyRich(d0, op));
    expect(res).toEqual({ steps: 2, direct: true, coarse: false });
    expect(tr.steps.map((s) => s.toJSON().stepType)).toEqual(['replace', 'addMark']);
    expect(tr.mapping.map(17)).toBe(21);
    expect(cpLength(tr.doc.textContent)).toBe(cpLength('hello big worldsecond'));
    // A heading toggle from a remote peer is a node-markup step: the caret inside stays inside.
    const tr2 = new Transform(d);
    const op2: RichOp = [11, { r: 1, a: { heading: 1 } }];
    applyOpToTransform(tr2, op2, applyRich(d0, op2));
    expect(tr2.doc.firstChild?.type.name).toBe('heading');
    expect(tr2.mapping.map(5)).toBe(5);
  });
});

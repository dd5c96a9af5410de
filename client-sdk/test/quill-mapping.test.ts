// @vitest-environment happy-dom
/**
 * Quill <-> rich op mapping: UTF-16 against code points on astral text, embeds,
 * attribute removal and renames, errors; random ops both ways checked with
 * quill-delta's own compose; and a real Quill 2 editor (in happy-dom) whose
 * user edits, mapped to rich ops, reproduce its contents.
 */
import type { MarkType, NodeType, Node as PMNode } from '@tiptap/pm/model';
import Quill from 'quill';
import QuillDelta from 'quill-delta';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EMBED_CHAR,
  deltaToQuill,
  flatText,
  opToQuill,
  quillRangeToRange,
  quillToDelta,
  quillToOp,
  rangeToQuillRange,
  quillShowable,
  type QuillOp,
} from '../src/bindings/quill-mapping.js';
import type { Attributes, Delta, RichOp } from '../src/rich/index.js';
import { deltaToDoc, docToDelta } from '../src/bindings/prosemirror-mapping.js';
import { OTError } from '../src/ot/errors.js';
import { schema } from './helpers/pm-random.js';
import { rng } from './helpers/random.js';
import { apply as applyRich, contentOf as normalizeDelta, deltaLength as deltaLen } from '../src/rich/index.js';

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

/** Quill's canonical form of a Delta (adjacent inserts with equal attributes merged). */
const canonical = (ops: readonly QuillOp[]): QuillOp[] => new QuillDelta().compose(new QuillDelta(ops as QuillDelta['ops'])).ops as QuillOp[];

describe('Quill <-> rich op: known cases', () => {
  const doc: Delta = ['a😀b', { e: { image: '/i.png' } }, { i: '👍🏽c\n', a: {} }];
  const text = flatText(doc); // "a😀b\uFFFC👍🏽c\n": UTF-16 a=0, 😀=1-2, b=3, embed=4, 👍=5-6, 🏽=7-8, c=9, \n=10

  it('flatText counts an embed as one character in both units', () => {
    expect(text).toBe(`a😀b${EMBED_CHAR}👍🏽c\n`);
    expect(flatText(deltaToQuill(doc))).toBe(text);
  });

  it('astral characters: UTF-16 retains and deletes become code points', () => {
    expect(quillToOp([{ retain: 3 }, { insert: 'X' }], text)).toEqual([2, 'X']);
    expect(quillToOp([{ retain: 1 }, { delete: 2 }], text)).toEqual([1, -1]);
    expect(quillToOp([{ retain: 5 }, { delete: 4 }], text)).toEqual([4, -2]); // 👍🏽 is 2 code points, 4 units
    expect(quillToOp([{ retain: 1 }, { retain: 2, attributes: { bold: true } }], text)).toEqual([1, { r: 1, a: { bold: true } }]);
    expect(opToQuill([2, 'X'], text)).toEqual([{ retain: 3 }, { insert: 'X' }]);
    expect(opToQuill([4, -2], text)).toEqual([{ retain: 5 }, { delete: 4 }]);
    expect(opToQuill([1, { r: 1, a: { bold: true } }], text)).toEqual([{ retain: 1 }, { retain: 2, attributes: { bold: true } }]);
    expect(opToQuill(['😀', 8], text)).toEqual([{ insert: '😀' }]); // trailing retain dropped
  });

  it('a change Quill diffed through the middle of a pair is moved back onto whole characters', () => {
    // Typing 😀 before 👍 (both start with D83D): Quill's diff keeps the shared D83D as a retain.
    expect(quillToOp([{ retain: 2 }, { insert: '\ude00\ud83d', attributes: { bold: true } }], 'b👍\n')).toEqual([1, { i: '😀', a: { bold: true } }]);
    // Deleting the second of two 😀 the same way.
    expect(quillToOp([{ retain: 1 }, { delete: 2 }], '😀😀\n')).toEqual([-1]);
    // Not a diff artefact (the units differ): refused.
    expect(() => quillToOp([{ retain: 2 }, { insert: 'x' }], 'b👍\n')).toThrow(OTError);
  });

  it('a line added after Quill\'s final "\\n" becomes one inserted before it', () => {
    const doc: Delta = ['ab', { i: '\n', a: { heading: 1 } }];
    // Quill: retain everything, insert a new last line (a bullet).
    const op = quillToOp([{ retain: 3 }, { insert: 'c' }, { insert: '\n', attributes: { list: 'bullet' } }], doc);
    expect(op).toEqual([2, { i: '\n', a: { heading: 1 } }, 'c', { r: 1, a: { list: 'bullet', heading: null } }]);
    expect(applyRich(doc, op)).toEqual(['ab', { i: '\n', a: { heading: 1 } }, 'c', { i: '\n', a: { list: 'bullet' } }]);
    // With only the text there is nothing to rewrite it with.
    expect(() => quillToOp([{ retain: 3 }, { insert: '\n' }], flatText(doc))).toThrow(/pass the document/);
    expect(() => quillToOp([{ retain: 2 }, { delete: 1 }], doc)).toThrow(/final/);
  });

  it('embeds with attributes, both ways', () => {
    const q: QuillOp[] = [{ retain: 4 }, { insert: { image: 'https://x/a.png' }, attributes: { alt: 'A', width: '120' } }];
    const op: RichOp = [3, { e: { image: 'https://x/a.png' }, a: { alt: 'A', width: '120' } }];
    expect(quillToOp(q, text)).toEqual(op);
    expect(opToQuill(op, text)).toEqual(q);
    // Retaining over an embed: one unit, one code point.
    expect(quillToOp([{ retain: 3 }, { retain: 1, attributes: { link: '/l' } }], text)).toEqual([2, { r: 1, a: { link: '/l' } }]);
  });

  it('attribute removal (null) passes through retains, not inserts', () => {
    expect(quillToOp([{ retain: 3, attributes: { bold: null, italic: true } }], text)).toEqual([{ r: 2, a: { bold: null, italic: true } }]);
    expect(opToQuill([{ r: 2, a: { bold: null } }], text)).toEqual([{ retain: 3, attributes: { bold: null } }]);
    expect(quillToOp([{ insert: 'x', attributes: { bold: null } }], text)).toEqual(['x']);
  });

  it('renames header <-> heading and code-block "plain" <-> true; other keys pass through', () => {
    expect(quillToOp([{ retain: 10 }, { retain: 1, attributes: { header: 2 } }], text)).toEqual([7, { r: 1, a: { heading: 2 } }]);
    expect(opToQuill([7, { r: 1, a: { heading: null, 'code-block': true } }], text)).toEqual([{ retain: 10 }, { retain: 1, attributes: { header: null, 'code-block': 'plain' } }]);
    expect(quillToOp([{ insert: '\n', attributes: { 'code-block': 'plain', list: 'bullet', indent: 1 } }], text)).toEqual([{ i: '\n', a: { 'code-block': true, list: 'bullet', indent: 1 } }]);
    expect(opToQuill([{ i: '\n', a: { nest: 'qb', 'code-block': 'js' } }], text)).toEqual([{ insert: '\n', attributes: { nest: 'qb', 'code-block': 'js' } }]);
    expect(quillToDelta(deltaToQuill(['T', { i: '\n', a: { heading: 1 } }]))).toEqual(['T', { i: '\n', a: { heading: 1 } }]);
    expect(deltaToQuill(['T', { i: '\n', a: { heading: 1 } }])).toEqual([{ insert: 'T' }, { insert: '\n', attributes: { header: 1 } }]);
  });

  it('refuses what a rich document cannot hold', () => {
    const kind = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(OTError);
        return (e as OTError).kind;
      }
      return 'no error';
    };
    expect(kind(() => quillToOp([{ retain: 2 }, { insert: 'x' }], text))).toBe('invalid'); // inside 😀
    expect(kind(() => quillToOp([{ retain: 1 }, { delete: 1 }], text))).toBe('invalid'); // half of 😀
    expect(kind(() => quillToOp([{ insert: '\ud83d' }], text))).toBe('invalid'); // lone surrogate
    expect(kind(() => quillToOp([{ retain: 12 }], text))).toBe('does_not_fit');
    expect(kind(() => quillToOp([{ insert: { table: { rows: 2 } } }], text))).toBe('invalid');
    expect(kind(() => quillToOp([{ retain: { image: 'x' } }], text))).toBe('invalid');
    expect(kind(() => opToQuill([20], text))).toBe('does_not_fit');
  });

  it('quillShowable turns an embed on a code line into U+FFFC, nothing else', () => {
    const d: Delta = [{ e: { image: '/a' } }, { i: 'x\n', a: { 'code-block': true } }, { e: { image: '/b' }, a: { alt: 'B' } }, '\n'];
    expect(quillShowable(d)).toEqual([{ i: EMBED_CHAR }, { i: 'x\n', a: { 'code-block': true } }, { e: { image: '/b' }, a: { alt: 'B' } }, '\n']);
    expect(quillShowable(doc)).toBe(doc);
  });

  it('selections: Quill {index, length} against code point ranges', () => {
    expect(quillRangeToRange(text, { index: 3, length: 6 })).toEqual([2, 6]);
    expect(quillRangeToRange(text, { index: 2, length: 0 })).toEqual([1, 1]); // inside 😀: before it
    expect(rangeToQuillRange(text, [6, 2])).toEqual({ index: 3, length: 6 });
    expect(rangeToQuillRange(text, [99, 99])).toEqual({ index: text.length, length: 0 });
  });
});

// ---------------------------------------------------------------------------
// Random documents, rich ops and Quill changes

const CHARS = ['a', 'b', ' ', 'é', '😀', '👍🏽', '中', '𝄞'];
const INLINE: Attributes[] = [{}, {}, { bold: true }, { italic: true, bold: true }, { link: 'https://l.example/' }, { strike: true }, { code: true }];
const LINE: Attributes[] = [{}, {}, { heading: 1 }, { heading: 2 }, { list: 'bullet' }, { list: 'ordered' }, { blockquote: true }, { 'code-block': true }];

function randomText(r: Rand, max: number): string {
  let s = '';
  const n = 1 + Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += pick(r, CHARS);
  return s;
}

function randomRichDoc(r: Rand): Delta {
  const out: Delta = [];
  const lines = 1 + Math.floor(r() * 4);
  for (let l = 0; l < lines; l++) {
    const parts = Math.floor(r() * 4);
    for (let k = 0; k < parts; k++) {
      if (r() < 0.85) {
        const a = pick(r, INLINE);
        out.push(Object.keys(a).length > 0 ? { i: randomText(r, 4), a } : { i: randomText(r, 4) });
      } else out.push({ e: { image: pick(r, ['https://i.example/a.png', '/b.png']) } });
    }
    const a = pick(r, LINE);
    out.push(Object.keys(a).length > 0 ? { i: '\n', a } : '\n');
  }
  return normalizeDelta(out);
}

/** A random rich op keeping the final "\n": Quill-shaped (inline attributes on text, line attributes on "\n"). */
function randomRichOp(r: Rand, doc: Delta): RichOp {
  const chars = [...flatText(doc)];
  const len = chars.length;
  const op: RichOp = [];
  let pos = 0;
  while (pos < len - 1) {
    const x = r();
    const n = 1 + Math.floor(r() * Math.min(4, len - 1 - pos));
    if (x < 0.3) {
      op.push(n);
      pos += n;
    } else if (x < 0.45) {
      op.push(-n);
      pos += n;
    } else if (x < 0.65) {
      const a = pick(r, INLINE);
      const t = randomText(r, 3);
      op.push(Object.keys(a).length > 0 ? { i: t, a } : t);
    } else if (x < 0.72) op.push({ i: '\n', a: { ...pick(r, LINE.slice(2)) } });
    else if (x < 0.77) op.push({ e: { image: '/new.png' }, a: r() < 0.5 ? { alt: 'new' } : {} });
    else {
      // Format n characters: line attributes on a "\n", inline ones elsewhere (removing some with null).
      if (chars[pos] === '\n') {
        const a: Attributes = { ...pick(r, LINE.slice(2)) };
        if (r() < 0.3) a.heading = null;
        op.push({ r: 1, a });
        pos += 1;
      } else {
        let k = 0;
        while (k < n && chars[pos + k] !== '\n') k++;
        const a: Attributes = { ...pick(r, INLINE.slice(2)) };
        if (r() < 0.3) a.bold = null;
        op.push({ r: k, a });
        pos += k;
      }
    }
  }
  return op;
}

/** A random Quill change (UTF-16) over `text`, never splitting a surrogate pair and keeping the final "\n". */
function randomQuillChange(r: Rand, text: string): QuillOp[] {
  const cps = [...text];
  const out: QuillOp[] = [];
  let i = 0;
  while (i < cps.length - 1) {
    const x = r();
    const n = 1 + Math.floor(r() * Math.min(4, cps.length - 1 - i));
    const units = cps.slice(i, i + n).join('').length;
    if (x < 0.3) {
      out.push({ retain: units });
      i += n;
    } else if (x < 0.45) {
      out.push({ delete: units });
      i += n;
    } else if (x < 0.65) {
      const a = pick(r, INLINE);
      out.push(Object.keys(a).length > 0 ? { insert: randomText(r, 3), attributes: { ...a } } : { insert: randomText(r, 3) });
    } else if (x < 0.7) out.push({ insert: { image: '/q.png' } });
    else {
      const a: Record<string, unknown> = { ...pick(r, [...INLINE.slice(2), { header: 1 }, { list: 'bullet' }]) };
      if (r() < 0.3) a.bold = null;
      out.push({ retain: units, attributes: a });
      i += n;
    }
  }
  return out;
}

describe('Quill <-> rich op: random', () => {
  it('a rich op as a Quill change does to Quill contents what it does to the rich document, and maps back', () => {
    const r = rng(2028);
    for (let n = 0; n < 1500; n++) {
      const doc = randomRichDoc(r);
      const op = randomRichOp(r, doc);
      const text = flatText(doc);
      const after = applyRich(doc, op);
      const q = opToQuill(op, text);
      const quillAfter = new QuillDelta(deltaToQuill(doc) as QuillDelta['ops']).compose(new QuillDelta(q as QuillDelta['ops']));
      expect(canonical(quillAfter.ops as QuillOp[]), `op ${JSON.stringify(op)} on ${JSON.stringify(doc)}`).toEqual(canonical(deltaToQuill(after)));
      expect(applyRich(doc, quillToOp(q, text))).toEqual(after);
    }
  });

  it('a Quill change as a rich op does to the rich document what quill-delta compose does', () => {
    const r = rng(1616);
    for (let n = 0; n < 1500; n++) {
      const doc = randomRichDoc(r);
      const quillDoc = new QuillDelta(deltaToQuill(doc) as QuillDelta['ops']);
      const text = flatText(doc);
      const change = randomQuillChange(r, text);
      const op = quillToOp(change, text);
      const want = quillToDelta(quillDoc.compose(new QuillDelta(change as QuillDelta['ops'])));
      expect(applyRich(doc, op), `change ${JSON.stringify(change)} on ${JSON.stringify(doc)}`).toEqual(normalizeDelta(want));
      expect(deltaLen(applyRich(doc, op))).toBe([...flatText(want)].length);
      // And back to Quill: the same change, up to Quill's canonical form.
      expect(canonical(opToQuill(op, text))).toEqual(canonical(change));
    }
  });
});

// ---------------------------------------------------------------------------
// A real Quill 2 editor

describe('a real Quill editor', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  function editor(doc: Delta): { quill: Quill; changes: { change: QuillOp[]; before: string }[] } {
    const el = document.createElement('div');
    document.body.appendChild(el);
    const quill = new Quill(el);
    quill.setContents(new QuillDelta(deltaToQuill(doc) as QuillDelta['ops']), 'silent');
    const changes: { change: QuillOp[]; before: string }[] = [];
    quill.on('text-change', (delta, old) => changes.push({ change: delta.ops as QuillOp[], before: flatText(old.ops as QuillOp[]) }));
    return { quill, changes };
  }

  /** UTF-16 offsets of `quill`'s text that do not split a surrogate pair, below its final "\n". */
  function boundaries(quill: Quill): number[] {
    const text = flatText(quill.getContents().ops as QuillOp[]);
    const out = [0];
    let u = 0;
    for (const ch of text) {
      u += ch.length;
      if (u < text.length) out.push(u);
    }
    return out;
  }

  it("the user's edits, mapped to rich ops, rebuild the editor's contents", () => {
    const r = rng(77);
    let edits = 0;
    for (let round = 0; round < 30; round++) {
      let doc = quillToDelta(deltaToQuill(randomRichDoc(r)).map((q) => (q.attributes?.['code-block'] ? { ...q, attributes: { ...q.attributes, 'code-block': 'plain' } } : q)));
      const { quill, changes } = editor(doc);
      // Quill normalises what it is given (a code line's value, an embed at a line's end); start from what it holds.
      doc = quillToDelta(quill.getContents());
      for (let k = 0; k < 12; k++) {
        const bs = boundaries(quill);
        const a = pick(r, bs);
        const b = pick(r, bs.filter((x) => x >= a));
        const x = r();
        if (x < 0.3) quill.insertText(a, randomText(r, 3), pick(r, INLINE), 'user');
        else if (x < 0.45) quill.deleteText(a, b - a, 'user');
        else if (x < 0.6) quill.formatText(a, b - a, pick(r, [{ bold: true }, { italic: true }, { bold: false }, { link: 'https://q.example/' }, { link: false }]), 'user');
        else if (x < 0.75) quill.formatLine(a, b - a, pick(r, [{ header: 2 }, { header: false }, { list: 'bullet' }, { list: 'ordered' }, { blockquote: true }, { 'code-block': true }, { list: false }]), 'user');
        else if (x < 0.85) quill.insertEmbed(a, 'image', 'https://i.example/e.png', 'user');
        else if (x < 0.95) quill.insertText(a, '\n', 'user');
        else quill.removeFormat(a, b - a, 'user');
      }
      for (const { change, before } of changes) {
        expect(before).toBe(flatText(doc));
        let op: RichOp;
        try {
          op = quillToOp(change, doc);
        } catch (e) {
          throw new Error(`${String(e)}: ${JSON.stringify(change)} on ${JSON.stringify(before)}`);
        }
        try {
          doc = applyRich(doc, op);
        } catch (e) {
          throw new Error(`${String(e)}: ${JSON.stringify(change)} on ${JSON.stringify(before)}`);
        }
        edits++;
      }
      expect(doc).toEqual(normalizeDelta(quillToDelta(quill.getContents())));
    }
    expect(edits).toBeGreaterThan(200);
  }, 90_000);

  it('rich ops from a peer, applied as Quill changes, give the rich document (what Quill can show)', () => {
    const r = rng(5);
    let resynced = 0;
    let steps = 0;
    for (let round = 0; round < 20; round++) {
      const { quill } = editor(randomRichDoc(r));
      let doc = quillToDelta(quill.getContents());
      for (let k = 0; k < 6; k++) {
        const op = randomRichOp(r, doc);
        const text = flatText(doc);
        const before = quill.getContents();
        quill.updateContents(new QuillDelta(opToQuill(op, text) as QuillDelta['ops']), 'api');
        doc = applyRich(doc, op);
        // Quill moves an embed out of a code line; the binding then shows what it can in place.
        const showable = quillShowable(doc);
        if (showable !== doc) {
          resynced++;
          quill.setContents(new QuillDelta(deltaToQuill(showable) as QuillDelta['ops']), 'api');
        }
        const shown = quillToDelta(quill.getContents());
        // Positions never move: the same text, embed for embed.
        expect(flatText(shown), `${JSON.stringify(opToQuill(op, text))} on ${JSON.stringify(before.ops)}`).toBe(flatText(showable));
        // Quill keeps what it can show; start the next op from that, as the binding does.
        doc = normalizeDelta(shown);
        steps++;
      }
    }
    expect(steps).toBe(120);
    expect(resynced).toBeGreaterThan(0); // the embed-on-a-code-line case was exercised
  }, 90_000);
});

// ---------------------------------------------------------------------------
// ProseMirror and Quill on one document

describe('a Tiptap document through Quill', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('Quill shows and gives back every format a Quill-shaped Tiptap document has', () => {
    const N = schema.nodes as unknown as Record<string, NodeType>;
    const M = schema.marks as unknown as Record<string, MarkType>;
    const t = (s: string, ...m: string[]) => schema.text(s, m.map((x) => (M[x] as MarkType).create(x === 'link' ? { href: 'https://l.example/' } : null)));
    const node = (name: string, attrs: Record<string, unknown> | null, ...c: PMNode[]) => (N[name] as NodeType).create(attrs, c);
    const pm = node(
      'doc',
      null,
      node('heading', { level: 1 }, t('Title 😀')),
      node('paragraph', null, t('b', 'bold'), t('i', 'italic'), t('u', 'underline'), t('s', 'strike'), t('c', 'code'), t('l', 'link'), t(' 👍🏽 ')),
      node('heading', { level: 2 }, t('Two')),
      node('bulletList', null, node('listItem', null, node('paragraph', null, t('a'))), node('listItem', null, node('paragraph', null, t('b')), node('orderedList', null, node('listItem', null, node('paragraph', null, t('b1')))))),
      node('blockquote', null, node('paragraph', null, t('quoted'))),
      node('codeBlock', { language: null }, schema.text('let a = 1\nlet b = 2')),
      node('paragraph', null, t('img '), (N.image as NodeType).create({ src: 'https://i.example/a.png', alt: 'A' })),
    );
    pm.check();
    const delta = docToDelta(pm);
    const el = document.createElement('div');
    document.body.appendChild(el);
    const quill = new Quill(el);
    quill.setContents(new QuillDelta(deltaToQuill(delta) as QuillDelta['ops']), 'api');
    const back = quillToDelta(quill.getContents());
    expect(normalizeDelta(back)).toEqual(normalizeDelta(delta));
    expect(deltaToDoc(schema, back).eq(pm)).toBe(true);
  });
});

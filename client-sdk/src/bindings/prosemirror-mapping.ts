/**
 * ProseMirror (and Tiptap) <-> rich Delta mapping: the pure half of the
 * ProseMirror binding. It converts a ProseMirror document to the Delta of a
 * `rich` document and back, PM positions to Delta offsets (code points) and
 * back, a PM transaction to a rich op, and a rich op to PM steps. Nothing here
 * touches the DOM or the network.
 *
 * ## The mapping
 *
 * A Delta is a flat list of lines, each ending in "\n"; ProseMirror is a tree.
 * Every textblock (paragraph, heading, code line) is one line of the Delta: its
 * inline content, then a "\n" whose attributes say what the line is and where
 * it sits in the tree. Character attributes carry the marks.
 *
 * | ProseMirror | Delta |
 * |---|---|
 * | text with marks bold, italic, underline, strike, code | `{bold: true}`, `{italic: true}`, `{underline: true}`, `{strike: true}`, `{code: true}` |
 * | link mark | `{link: href}`; a non-default `target`, `rel`, `class`, `title` as `link-target` ... |
 * | hardBreak | the character U+2028 LINE SEPARATOR (with the marks of the break) |
 * | image (inline) | `{e: {image: src}, a: {alt, title, width, height}}` (only the non-null ones), plus marks |
 * | paragraph | "\n" without a block attribute |
 * | heading level n | "\n" with `{heading: n}` |
 * | codeBlock | one line per line of code, each "\n" with `{"code-block": language or true}` |
 * | bulletList / orderedList > listItem | `{list: "bullet" or "ordered"}`, nesting depth - 1 as `indent` |
 * | blockquote | `{blockquote: true}` |
 * | orderedList start, type | `list-start`, `list-type` on the line that begins the list (when not 1 / null) |
 * | paragraph or heading `textAlign` (Tiptap TextAlign) | `{align: "center"}` etc. (when not the default) |
 * | any tree Quill's flat model cannot say | `nest` (see below), instead of `list`/`indent`/`blockquote` |
 *
 * The names are Quill's (`list`, `indent`, `blockquote`, `code-block`,
 * `bold`, `link`...) except `heading`, which the contract's own example uses
 * where Quill says `header`; the Quill mapping renames the one key.
 *
 * `list`, `indent` and `blockquote` are read as Quill reads them: every line
 * with `list` is a new list item at nesting depth `indent`; it joins the list
 * of the line before at that depth when that list has the same kind, and
 * nests in that line's item when it is one level deeper. Consecutive
 * `blockquote` lines share one blockquote; consecutive `code-block` lines with
 * one value (and the same containers) share one code block.
 *
 * What a flat Quill document cannot say (a second paragraph in one list item,
 * a list or heading inside a blockquote, a blockquote inside a list item, two
 * adjacent lists or blockquotes that are not one, two adjacent code blocks)
 * is written in one string attribute `nest`: the containers of the line from
 * the outside in, one letter each (`q` blockquote, `b` item of a bullet
 * list, `o` item of an ordered list), each followed by nothing when the line
 * continues the previous line's node there (for a list letter: the same
 * item), `+` when it starts a new one (a new blockquote, or a new item in the
 * same list) and `*` for a new list; a final `!` starts a new code block.
 * Example: `q+b*` is the first item of a new bullet list that opens a new
 * blockquote; `b` is a second paragraph in the current bullet item. `nest`
 * appears only where the Quill keys would read differently, so Quill-shaped
 * documents carry exactly Quill's attributes.
 *
 * A hard break is U+2028 rather than an embed because it has to survive every
 * Delta editor with its position intact: Quill (which has no soft break) keeps
 * an unknown character as text but drops an unknown embed, which would shift
 * every later position; in plain text U+2028 reads as what it is, a line
 * break inside a paragraph (Google Docs does the same with U+000B).
 *
 * ## Delta -> ProseMirror is total and keeps every position
 *
 * Any Delta (from Quill, the REST API, another client) maps to a valid
 * document with the same length, position for position: attributes the
 * schema cannot show are dropped (marks inside a code block, `header: 7`, an
 * unknown key), a `list` nested deeper than the line before allows is pulled
 * up, a line that starts a list item becomes a paragraph (ProseMirror's list
 * items start with one), and an embed the schema has no node for becomes the
 * character U+FFFC. Where concurrent edits leave a line two kinds, `code-block`
 * wins over `heading`, a new list item over both, and `list` over
 * `blockquote`. ProseMirror -> Delta -> ProseMirror is the identity, and the
 * Delta is in canonical form (plain strings for text without attributes).
 *
 * The image node must be inline (Tiptap: `Image.configure({ inline: true })`),
 * as Quill's is: a block image has no place in a line of text. Other block
 * leaves (horizontal rule) are not mapped yet and throw.
 * @module
 */
import type { Mark, MarkType, Node as PMNode, NodeType, Schema } from 'prosemirror-model';
import type { Step, Transform } from 'prosemirror-transform';
import { codePointToUtf16, cpLength, utf16ToCodePoint } from '../ot/unicode.js';
import type { AttrValue, Attributes, Delta, Embed, RichComponent, RichOp } from '../rich/index.js';

/** The character a hard break is in the Delta: U+2028 LINE SEPARATOR. */
export const HARD_BREAK = '\u2028';
/** The character an embed the schema cannot show becomes: U+FFFC OBJECT REPLACEMENT CHARACTER. */
export const OBJECT_REPLACEMENT = '\uFFFC';

/** Paragraph attribute keys this mapping reads and writes (on a line's closing "\n"). */
export const BLOCK_KEYS = ['heading', 'code-block', 'list', 'indent', 'blockquote', 'nest', 'list-start', 'list-type'] as const;

// ---------------------------------------------------------------------------
// Schema roles

type Kind = 'q' | 'b' | 'o';

interface MarkRole {
  type: MarkType;
  key: string;
  /** The mark attribute that is the key's value (link: href); absent: the value is `true`. */
  primary?: string;
}

interface LeafRole {
  type: NodeType;
  /** The embed's type (its one key). */
  key: string;
  /** The node attribute that is the embed's value (image: src); absent: the value is `true`. */
  primary?: string;
}

const NODE_NAMES = {
  paragraph: ['paragraph'],
  heading: ['heading'],
  codeBlock: ['codeBlock', 'code_block'],
  blockquote: ['blockquote'],
  bulletList: ['bulletList', 'bullet_list'],
  orderedList: ['orderedList', 'ordered_list'],
  listItem: ['listItem', 'list_item'],
  hardBreak: ['hardBreak', 'hard_break'],
} as const;

const MARK_NAMES: Record<string, string[]> = {
  bold: ['bold', 'strong'],
  italic: ['italic', 'em'],
  underline: ['underline'],
  strike: ['strike', 'strikethrough'],
  code: ['code'],
  link: ['link'],
};

/** What a schema's node and mark types mean in the Delta; built once per schema. */
class Roles {
  readonly paragraph: NodeType;
  readonly heading: NodeType | undefined;
  readonly codeBlock: NodeType | undefined;
  readonly blockquote: NodeType | undefined;
  readonly bulletList: NodeType | undefined;
  readonly orderedList: NodeType | undefined;
  readonly listItem: NodeType | undefined;
  readonly hardBreak: NodeType | undefined;
  /** Marks in the schema's rank order, so exclusions resolve the same way everywhere. */
  readonly marks: MarkRole[] = [];
  readonly markByType = new Map<MarkType, MarkRole>();
  readonly leaves = new Map<NodeType, LeafRole>();
  readonly leafByKey = new Map<string, LeafRole>();

  constructor(readonly schema: Schema) {
    const node = (names: readonly string[]): NodeType | undefined => {
      for (const n of names) if (schema.nodes[n]) return schema.nodes[n];
      return undefined;
    };
    const paragraph = node(NODE_NAMES.paragraph);
    if (!paragraph) throw new Error('rich mapping: the schema has no paragraph node');
    this.paragraph = paragraph;
    this.heading = node(NODE_NAMES.heading);
    this.codeBlock = node(NODE_NAMES.codeBlock);
    this.blockquote = node(NODE_NAMES.blockquote);
    this.bulletList = node(NODE_NAMES.bulletList);
    this.orderedList = node(NODE_NAMES.orderedList);
    this.listItem = node(NODE_NAMES.listItem);
    this.hardBreak = node(NODE_NAMES.hardBreak);
    const keyOf = new Map<string, string>();
    for (const [key, names] of Object.entries(MARK_NAMES)) for (const n of names) keyOf.set(n, key);
    for (const type of Object.values(schema.marks)) {
      const key = keyOf.get(type.name) ?? type.name;
      const role: MarkRole = key === 'link' && type.spec.attrs && 'href' in type.spec.attrs ? { type, key, primary: 'href' } : { type, key };
      this.marks.push(role);
      this.markByType.set(type, role);
    }
    for (const type of Object.values(schema.nodes)) {
      if (!type.isInline || !type.isLeaf || type.isText || type === this.hardBreak) continue;
      const role: LeafRole = type.name === 'image' ? { type, key: 'image', primary: 'src' } : { type, key: type.name };
      this.leaves.set(type, role);
      this.leafByKey.set(role.key, role);
    }
  }

  listKind(type: NodeType): Kind | null {
    if (type === this.bulletList) return 'b';
    if (type === this.orderedList) return 'o';
    return null;
  }
}

const rolesCache = new WeakMap<Schema, Roles>();
function rolesOf(schema: Schema): Roles {
  let r = rolesCache.get(schema);
  if (!r) {
    r = new Roles(schema);
    rolesCache.set(schema, r);
  }
  return r;
}

// ---------------------------------------------------------------------------
// Attributes

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

/** Writes the node's or mark's attributes that differ from their defaults as `prefix-name`, skipping `skip`. */
function writeExtras(out: Attributes, prefix: string, attrs: Record<string, unknown>, spec: Record<string, { default?: unknown }> | undefined, skip?: string, skip2?: string): void {
  if (!spec) return;
  for (const name of Object.keys(spec)) {
    if (name === skip || name === skip2) continue;
    const v = attrs[name];
    if (v === spec[name]?.default || !isScalar(v)) continue;
    out[`${prefix}-${name}`] = v;
  }
}

/** Reads `prefix-name` attributes back into node or mark attributes (defaults where absent or of no scalar). */
function readExtras(attrs: Attributes | undefined, prefix: string, spec: Record<string, { default?: unknown }> | undefined, skip?: string, skip2?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!spec || !attrs) return out;
  for (const name of Object.keys(spec)) {
    if (name === skip || name === skip2) continue;
    const v = attrs[`${prefix}-${name}`];
    if (v !== undefined && v !== null) out[name] = v;
  }
  return out;
}

function marksToAttrs(roles: Roles, marks: readonly Mark[], out: Attributes): void {
  for (const m of marks) {
    const role = roles.markByType.get(m.type);
    if (!role) continue;
    if (role.primary) {
      const v = m.attrs[role.primary];
      out[role.key] = isScalar(v) ? v : true;
    } else out[role.key] = true;
    writeExtras(out, role.key, m.attrs, m.type.spec.attrs, role.primary);
  }
}

/** The marks that `attrs` ask for, as a mark set (exclusions resolved in rank order). */
function attrsToMarks(roles: Roles, attrs: Attributes | undefined, parent: NodeType): readonly Mark[] {
  if (!attrs) return [];
  let set: readonly Mark[] = [];
  for (const role of roles.marks) {
    const v = attrs[role.key];
    if (v === undefined || v === null || v === false) continue;
    if (!parent.allowsMarkType(role.type)) continue;
    const a = readExtras(attrs, role.key, role.type.spec.attrs, role.primary);
    if (role.primary && v !== true) {
      // `true` is a mark whose primary attribute was not a scalar (a link without href): its default.
      if (typeof v !== 'string' && typeof v !== 'number') continue;
      a[role.primary] = v;
    }
    let mark: Mark;
    try {
      mark = role.type.create(a);
    } catch {
      continue; // a required attribute is missing: the mark cannot be shown
    }
    set = mark.addToSet(set);
  }
  return set;
}

function attrsEqual(a: Attributes | null | undefined, b: Attributes | null | undefined): boolean {
  const ka = a ? Object.keys(a) : [];
  const kb = b ? Object.keys(b) : [];
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!b || a?.[k] !== b[k]) return false;
  return true;
}

/** The attribute changes that turn `a` into `b` (`null` removes), or null when equal. */
function attrsDiff(a: Attributes | undefined, b: Attributes | undefined): Attributes | null {
  const out: Attributes = {};
  let any = false;
  if (b) {
    for (const k of Object.keys(b)) {
      if (a?.[k] !== b[k]) {
        out[k] = b[k] as AttrValue;
        any = true;
      }
    }
  }
  if (a) {
    for (const k of Object.keys(a)) {
      if (!b || !(k in b)) {
        out[k] = null;
        any = true;
      }
    }
  }
  return any ? out : null;
}

function embedEqual(a: Embed, b: Embed): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

// ---------------------------------------------------------------------------
// Line structure: the containers of a line and how they relate to the line before

/** One container of a line, relative to the previous line: '' continues its node, '+' a new node (a new item in the same list), '*' a new list. */
interface FrameSpec {
  kind: Kind;
  mark: '' | '+' | '*';
}

/** What a line's "\n" says about its block, decoded. */
interface LineShape {
  spec: FrameSpec[];
  /** 'p' paragraph, 'h' heading, 'c' code line. */
  block: 'p' | 'h' | 'c';
  level: number;
  /** The `code-block` value (language string, or true). */
  code: string | true;
  /** An explicit "new code block here" (`!` in `nest`). */
  bang: boolean;
}

function newMark(kind: Kind): '+' | '*' {
  return kind === 'q' ? '+' : '*';
}

/**
 * Settles a line's frames against the previous line's kinds: a "continue"
 * that has nothing to continue starts a new node, everything inside a new node
 * is new, and a new list item ends the frames (its first child is this line).
 */
function settle(spec: FrameSpec[], prev: readonly Kind[]): { spec: FrameSpec[]; startsItem: boolean } {
  const out: FrameSpec[] = [];
  let broken = false;
  for (let i = 0; i < spec.length; i++) {
    const f = spec[i] as FrameSpec;
    let mark: FrameSpec['mark'];
    if (broken) mark = newMark(f.kind);
    else if (prev[i] !== f.kind) mark = newMark(f.kind);
    else if (f.mark === '') mark = '';
    else mark = f.kind === 'q' ? '+' : f.mark;
    if (mark !== '') broken = true;
    out.push({ kind: f.kind, mark });
    if (f.kind !== 'q' && mark !== '') return { spec: out, startsItem: true };
  }
  return { spec: out, startsItem: false };
}

function parseNest(s: string): { spec: FrameSpec[]; bang: boolean } {
  const spec: FrameSpec[] = [];
  let bang = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === 'q' || c === 'b' || c === 'o') {
      const m = s[i + 1];
      if (m === '+' || m === '*') {
        spec.push({ kind: c, mark: m });
        i++;
      } else spec.push({ kind: c, mark: '' });
    } else if (c === '!' && i === s.length - 1) bang = true;
    else break; // not ours: read what came before
  }
  return { spec, bang };
}

function writeNest(spec: readonly FrameSpec[], bang: boolean): string {
  let s = '';
  for (const f of spec) s += f.kind + f.mark;
  return bang ? `${s}!` : s;
}

/** The frames the Quill keys (or `nest`) of a line ask for, before settling. */
function requestedSpec(attrs: Attributes | undefined, prev: readonly Kind[]): { spec: FrameSpec[]; bang: boolean } {
  if (!attrs) return { spec: [], bang: false };
  const nest = attrs.nest;
  if (typeof nest === 'string' && nest !== '') return parseNest(nest);
  const list = attrs.list;
  if (list === 'bullet' || list === 'ordered') {
    const kind: Kind = list === 'bullet' ? 'b' : 'o';
    const raw = attrs.indent;
    const indent = typeof raw === 'number' && Number.isInteger(raw) && raw > 0 ? raw : 0;
    let lists = 0;
    while (lists < prev.length && prev[lists] !== 'q') lists++;
    const depth = Math.min(indent, lists);
    const spec: FrameSpec[] = [];
    for (let i = 0; i < depth; i++) spec.push({ kind: prev[i] as Kind, mark: '' });
    spec.push({ kind, mark: depth < lists && prev[depth] === kind ? '+' : '*' });
    return { spec, bang: false };
  }
  if (attrs.blockquote === true) return { spec: [{ kind: 'q', mark: prev[0] === 'q' ? '' : '+' }], bang: false };
  return { spec: [], bang: false };
}

function headingLevel(roles: Roles, attrs: Attributes | undefined): number {
  const h = attrs?.heading;
  return roles.heading && typeof h === 'number' && Number.isInteger(h) && h >= 1 && h <= 6 ? h : 0;
}

interface PrevLine {
  kinds: Kind[];
  block: LineShape['block'];
  code: string | true;
}

/** Decodes a line's "\n" attributes against the line before. */
function decodeLine(roles: Roles, attrs: Attributes | undefined, prev: PrevLine | null): LineShape {
  const kinds = prev ? prev.kinds : [];
  const req = requestedSpec(attrs, kinds);
  const { spec, startsItem } = settle(req.spec, kinds);
  const codeAttr = attrs?.['code-block'];
  let block: LineShape['block'] = 'p';
  let level = 0;
  let code: string | true = true;
  if (roles.codeBlock && codeAttr !== undefined && codeAttr !== null && codeAttr !== false) {
    block = 'c';
    code = typeof codeAttr === 'string' ? codeAttr : true;
  } else {
    level = headingLevel(roles, attrs);
    if (level > 0) block = 'h';
  }
  if (startsItem) block = 'p'; // a list item's first child is a paragraph
  return { spec, block, level, code, bang: req.bang && block === 'c' };
}

/** True when a code line with this shape joins the previous line's code block. */
function continuesCode(shape: LineShape, prev: PrevLine | null): boolean {
  return (
    shape.block === 'c' &&
    !shape.bang &&
    prev !== null &&
    prev.block === 'c' &&
    prev.code === shape.code &&
    prev.kinds.length === shape.spec.length &&
    shape.spec.every((f) => f.mark === '')
  );
}

function sameSpec(a: readonly FrameSpec[], b: readonly FrameSpec[]): boolean {
  return a.length === b.length && a.every((f, i) => f.kind === b[i]?.kind && f.mark === b[i]?.mark);
}

// ---------------------------------------------------------------------------
// ProseMirror -> lines

interface Frame {
  kind: Kind;
  /** Position of the list or blockquote node. */
  container: number;
  /** Position of the list item (lists only). */
  item: number;
  /** The list or blockquote node. */
  node: PMNode;
}

/** One line of the Delta as it sits in a ProseMirror document. */
interface Line {
  /** The textblock. */
  block: PMNode;
  /** Position before the textblock. */
  blockPos: number;
  /** PM range of this line's content: [from, to]; `to` is where the "\n" is. */
  from: number;
  to: number;
  /** For code lines: UTF-16 offsets of this line in the code block's text. */
  textFrom: number;
  textTo: number;
  /** Delta offset of the line's first character. */
  off: number;
  /** Code points of content (without the "\n"). */
  len: number;
  /** The closing "\n"'s attributes. */
  attrs: Attributes;
  frames: Frame[];
  shape: LineShape;
  /** Index of the top-level block the line is in. */
  top: number;
}

/** A PM document read as Delta lines, with position conversions. Cached per document. */
class DocIndex {
  readonly lines: Line[] = [];
  /** Position of each top-level block, and the index of its first line. */
  readonly topPos: number[] = [];
  readonly topFirstLine: number[] = [];
  /** Delta length of the document in code points. */
  readonly length: number;

  constructor(
    readonly roles: Roles,
    readonly doc: PMNode,
  ) {
    let off = 0;
    let prev: Line | null = null;
    const visit = (node: PMNode, pos: number, frames: Frame[]): void => {
      if (node.isTextblock) {
        const isCode = node.type === roles.codeBlock || node.type.spec.code === true;
        if (isCode) {
          for (const [start, end, len] of codeLines(node)) {
            prev = this.addLine(node, pos, frames, start, end, len, off, prev, true);
            off += prev.len + 1;
          }
        } else {
          prev = this.addLine(node, pos, frames, 0, 0, inlineLength(node), off, prev, false);
          off += prev.len + 1;
        }
        return;
      }
      if (node.type === roles.blockquote) {
        const f = [...frames, { kind: 'q' as Kind, container: pos, item: -1, node }];
        node.forEach((child, o) => visit(child, pos + 1 + o, f));
        return;
      }
      const kind = roles.listKind(node.type);
      if (kind) {
        node.forEach((item, io) => {
          const itemPos = pos + 1 + io;
          if (item.type !== roles.listItem) throw new Error(`rich mapping: a ${node.type.name} holds a ${item.type.name}, not a list item`);
          const f = [...frames, { kind, container: pos, item: itemPos, node }];
          item.forEach((child, o) => visit(child, itemPos + 1 + o, f));
        });
        return;
      }
      throw new Error(`rich mapping: no Delta form for a ${node.type.name} node (images must be inline: Image.configure({ inline: true }))`);
    };
    doc.forEach((child, o) => {
      this.topPos.push(o);
      this.topFirstLine.push(this.lines.length);
      visit(child, o, []);
    });
    if (this.lines.length === 0) throw new Error('rich mapping: the document has no textblock');
    this.length = off;
  }

  private addLine(block: PMNode, blockPos: number, frames: Frame[], textFrom: number, textTo: number, len: number, off: number, prev: Line | null, code: boolean): Line {
    const roles = this.roles;
    const attrs: Attributes = {};
    // Frames relative to the previous line.
    const spec: FrameSpec[] = [];
    let broken = false;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i] as Frame;
      const p = prev?.frames[i];
      let mark: FrameSpec['mark'] = newMark(f.kind);
      if (!broken && p && p.kind === f.kind && p.container === f.container) {
        mark = f.kind === 'q' || p.item === f.item ? '' : '+';
      }
      if (mark !== '') broken = true;
      spec.push({ kind: f.kind, mark });
    }
    const level = block.type === roles.heading ? Number(block.attrs.level) : 0;
    const shape: LineShape = {
      spec,
      block: code ? 'c' : level > 0 ? 'h' : 'p',
      level,
      code: code ? (typeof block.attrs.language === 'string' && block.attrs.language !== '' ? block.attrs.language : true) : true,
      bang: false,
    };
    if (!code && block.type !== roles.paragraph && block.type !== roles.heading) {
      throw new Error(`rich mapping: no Delta form for a ${block.type.name} textblock`);
    }
    const align = block.attrs.textAlign;
    if (typeof align === 'string' && align !== block.type.spec.attrs?.textAlign?.default) attrs.align = align;
    if (shape.block === 'h') {
      attrs.heading = level;
      writeExtras(attrs, 'heading', block.attrs, block.type.spec.attrs, 'level', 'textAlign');
    } else if (shape.block === 'c') {
      attrs['code-block'] = shape.code;
      writeExtras(attrs, 'code-block', block.attrs, block.type.spec.attrs, 'language');
    }
    const prevShape: PrevLine | null = prev ? { kinds: prev.shape.spec.map((f) => f.kind), block: prev.shape.block, code: prev.shape.code } : null;
    const newCodeBlock = code && textFrom === 0;
    // Quill's keys where they read back to these frames; `nest` otherwise.
    let quill: Attributes | null = {};
    const last = spec[spec.length - 1];
    if (spec.length === 0) quill = {};
    else if (last && last.kind !== 'q' && last.mark !== '' && spec.every((f, i) => f.kind !== 'q' && (i === spec.length - 1 || f.mark === ''))) {
      quill = { list: last.kind === 'b' ? 'bullet' : 'ordered' };
      if (spec.length > 1) quill.indent = spec.length - 1;
    } else if (spec.length === 1 && last?.kind === 'q') quill = { blockquote: true };
    else quill = null;
    if (quill) {
      const decoded = decodeLine(roles, { ...attrs, ...quill }, prevShape);
      if (!sameSpec(decoded.spec, spec) || (code && continuesCode(decoded, prevShape) === newCodeBlock)) quill = null;
    }
    if (quill) Object.assign(attrs, quill);
    else {
      const trial: LineShape = { ...shape, bang: false };
      const bang = newCodeBlock && continuesCode(trial, prevShape);
      attrs.nest = writeNest(spec, bang);
      shape.bang = bang;
    }
    // Attributes of a list that starts on this line.
    const opened = spec.findIndex((f) => f.mark === '*');
    if (opened >= 0) writeExtras(attrs, 'list', (frames[opened] as Frame).node.attrs, (frames[opened] as Frame).node.type.spec.attrs);

    const from = blockPos + 1 + textFrom;
    const to = code ? blockPos + 1 + textTo : blockPos + 1 + block.content.size;
    const line: Line = { block, blockPos, from, to, textFrom, textTo, off, len, attrs, frames, shape, top: this.topPos.length - 1 };
    this.lines.push(line);
    return line;
  }

  /** Index of the line whose content range holds `pos`, or of the first line after `pos`; lines.length when none. */
  lineAtPos(pos: number): number {
    let lo = 0;
    let hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.lines[mid] as Line).to < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the line holding Delta offset `off` (its "\n" included). */
  lineAtOffset(off: number): number {
    let lo = 0;
    let hi = this.lines.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lines[mid] as Line).off <= off) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Delta offset (code points) of PM position `pos`. Between blocks: the offset of the next line. */
  posToOffset(pos: number): number {
    if (pos < 0 || pos > this.doc.content.size) throw new RangeError(`position ${pos} outside [0, ${this.doc.content.size}]`);
    const i = this.lineAtPos(pos);
    const line = this.lines[i];
    if (!line) return this.length;
    if (pos <= line.from) return line.off;
    if (line.shape.block === 'c') {
      const text = line.block.textContent;
      const u = pos - line.blockPos - 1;
      return line.off + utf16ToCodePoint(text, u) - utf16ToCodePoint(text, line.textFrom);
    }
    let off = line.off;
    let at = line.from;
    line.block.forEach((child) => {
      if (at >= pos) return;
      if (child.isText) {
        const t = child.text as string;
        off += utf16ToCodePoint(t, Math.min(pos - at, t.length));
      } else off += 1;
      at += child.nodeSize;
    });
    return off;
  }

  /** PM position of Delta offset `off` (0 to length; past the last "\n" is the end of the last line). */
  offsetToPos(off: number): number {
    if (!Number.isInteger(off) || off < 0 || off > this.length) throw new RangeError(`offset ${off} outside [0, ${this.length}]`);
    if (off === this.length) return (this.lines[this.lines.length - 1] as Line).to;
    const line = this.lines[this.lineAtOffset(off)] as Line;
    let k = off - line.off;
    if (k >= line.len) return line.to;
    if (line.shape.block === 'c') {
      const text = line.block.textContent.slice(line.textFrom, line.textTo);
      return line.from + codePointToUtf16(text, k);
    }
    let pos = line.from;
    let done = false;
    line.block.forEach((child) => {
      if (done) return;
      if (child.isText) {
        const t = child.text as string;
        const n = cpLength(t);
        if (k < n) {
          pos += codePointToUtf16(t, k);
          done = true;
          return;
        }
        k -= n;
      } else {
        if (k === 0) {
          done = true;
          return;
        }
        k -= 1;
      }
      pos += child.nodeSize;
    });
    return pos;
  }
}

// Per-node caches: ProseMirror shares unchanged nodes between document
// versions, so indexing the next version costs O(blocks), not O(characters).
const lengthCache = new WeakMap<PMNode, number>();
const codeCache = new WeakMap<PMNode, [number, number, number][]>();

/** Code points of a non-code textblock's content (an inline leaf is 1). */
function inlineLength(block: PMNode): number {
  let n = lengthCache.get(block);
  if (n === undefined) {
    n = 0;
    block.forEach((child) => {
      (n as number) += child.isText ? cpLength(child.text as string) : 1;
    });
    lengthCache.set(block, n);
  }
  return n;
}

/** A code block's lines: [UTF-16 start, UTF-16 end, code points] each. */
function codeLines(block: PMNode): [number, number, number][] {
  let lines = codeCache.get(block);
  if (!lines) {
    lines = [];
    const text = block.textContent;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const end = nl < 0 ? text.length : nl;
      lines.push([start, end, cpLength(text.slice(start, end))]);
      if (nl < 0) break;
      start = nl + 1;
    }
    codeCache.set(block, lines);
  }
  return lines;
}

const indexCache = new WeakMap<PMNode, DocIndex>();
function indexOf(doc: PMNode): DocIndex {
  let idx = indexCache.get(doc);
  if (!idx) {
    idx = new DocIndex(rolesOf(doc.type.schema), doc);
    indexCache.set(doc, idx);
  }
  return idx;
}

// ---------------------------------------------------------------------------
// Units: one code point, embed or "\n" with its attributes and PM position

interface Unit {
  /** PM position of the unit's first token ("\n": the end of the line's content). */
  pos: number;
  /** One code point or "\n"; absent for an embed. */
  ch?: string;
  embed?: Embed;
  attrs: Attributes;
}

/**
 * Text of a non-code textblock as Delta characters: a literal "\n" (which
 * ProseMirror allows in any text, and which its replace fitting leaves behind
 * when code turns into a paragraph) is a line break inside the paragraph,
 * U+2028, since in the Delta "\n" ends the line.
 */
function inlineText(s: string): string {
  return s.includes('\n') ? s.replaceAll('\n', HARD_BREAK) : s;
}

function inlineAttrs(roles: Roles, node: PMNode): Attributes {
  const a: Attributes = {};
  if (node.isText || node.type === roles.hardBreak) {
    marksToAttrs(roles, node.marks, a);
    return a;
  }
  const leaf = roles.leaves.get(node.type);
  if (leaf) writeEmbedAttrs(leaf, node, a);
  marksToAttrs(roles, node.marks, a);
  return a;
}

function writeEmbedAttrs(leaf: LeafRole, node: PMNode, out: Attributes): void {
  const spec = node.type.spec.attrs;
  if (!spec) return;
  for (const name of Object.keys(spec)) {
    if (name === leaf.primary) continue;
    const v = node.attrs[name];
    if (v !== spec[name]?.default && isScalar(v)) out[name] = v;
  }
}

function embedOf(leaf: LeafRole, node: PMNode): Embed {
  const v = leaf.primary ? node.attrs[leaf.primary] : true;
  return { [leaf.key]: isScalar(v) ? v : true };
}

function inlineNodeUnit(roles: Roles, node: PMNode, pos: number, out: Unit[]): void {
  if (node.isText) {
    const a = inlineAttrs(roles, node);
    let p = pos;
    for (const ch of inlineText(node.text as string)) {
      out.push({ pos: p, ch, attrs: a });
      p += ch.length;
    }
  } else if (node.type === roles.hardBreak) out.push({ pos, ch: HARD_BREAK, attrs: inlineAttrs(roles, node) });
  else {
    const leaf = roles.leaves.get(node.type);
    if (!leaf) throw new Error(`rich mapping: no Delta form for inline node ${node.type.name}`);
    out.push({ pos, embed: embedOf(leaf, node), attrs: inlineAttrs(roles, node) });
  }
}

function lineUnits(roles: Roles, line: Line, out: Unit[]): void {
  if (line.shape.block === 'c') {
    const text = line.block.textContent.slice(line.textFrom, line.textTo);
    let p = line.from;
    for (const ch of text) {
      out.push({ pos: p, ch, attrs: {} });
      p += ch.length;
    }
  } else {
    line.block.forEach((child, o) => inlineNodeUnit(roles, child, line.blockPos + 1 + o, out));
  }
  out.push({ pos: line.to, ch: '\n', attrs: line.attrs });
}

// ---------------------------------------------------------------------------
// Public: whole documents

/** The Delta of a ProseMirror document (see the module comment for the mapping). */
export function docToDelta(doc: PMNode): Delta {
  const idx = indexOf(doc);
  const roles = idx.roles;
  const out: Delta = [];
  // Canonical form (docs/protocol.md): text without attributes is a plain string, neighbours with equal attributes merge.
  const push = (text: string, a: Attributes): void => {
    const k = out.length - 1;
    const last = out[k];
    const plain = Object.keys(a).length === 0;
    if (plain && typeof last === 'string') out[k] = last + text;
    else if (!plain && last !== undefined && typeof last === 'object' && 'i' in last && attrsEqual(last.a ?? undefined, a)) last.i += text;
    else out.push(plain ? text : { i: text, a });
  };
  for (const line of idx.lines) {
    if (line.shape.block === 'c') {
      if (line.textTo > line.textFrom) push(line.block.textContent.slice(line.textFrom, line.textTo), {});
    } else {
      line.block.forEach((child) => {
        if (child.isText) push(inlineText(child.text as string), inlineAttrs(roles, child));
        else if (child.type === roles.hardBreak) push(HARD_BREAK, inlineAttrs(roles, child));
        else {
          const leaf = roles.leaves.get(child.type);
          if (!leaf) throw new Error(`rich mapping: no Delta form for inline node ${child.type.name}`);
          const a = inlineAttrs(roles, child);
          out.push(Object.keys(a).length > 0 ? { e: embedOf(leaf, child), a } : { e: embedOf(leaf, child) });
        }
      });
    }
    push('\n', { ...line.attrs });
  }
  return out;
}

/** A Delta insert read as (text or embed, attributes). */
function readInsert(d: unknown): { text?: string; embed?: Embed; attrs?: Attributes } {
  if (typeof d === 'string') return { text: d };
  if (d && typeof d === 'object') {
    const o = d as { i?: unknown; e?: unknown; a?: unknown };
    const attrs = o.a && typeof o.a === 'object' ? (o.a as Attributes) : undefined;
    if (typeof o.i === 'string') return attrs ? { text: o.i, attrs } : { text: o.i };
    if (o.e && typeof o.e === 'object') return attrs ? { embed: o.e as Embed, attrs } : { embed: o.e as Embed };
  }
  throw new Error(`rich mapping: ${JSON.stringify(d)} is not a Delta insert`);
}

type Piece = { text: string; attrs: Attributes | undefined } | { embed: Embed; attrs: Attributes | undefined };

interface OpenFrame {
  kind: Kind;
  container: BuilderNode;
  item: BuilderNode | null;
}

/** Where a line inside an open frame goes: its list item, or its blockquote. */
function inner(f: OpenFrame | undefined): BuilderNode {
  if (!f) throw new Error('rich mapping: internal error: no open frame');
  return f.item ?? f.container;
}

/** A node under construction (the tree is built top-down, line by line). */
class BuilderNode {
  readonly children: (BuilderNode | PMNode)[] = [];
  constructor(
    readonly type: NodeType,
    readonly attrs: Record<string, unknown> | null,
    /** Code blocks collect text. */
    public code?: string,
  ) {}
}

function build(b: BuilderNode, schema: Schema): PMNode {
  if (b.code !== undefined) return b.type.create(b.attrs, b.code === '' ? null : schema.text(b.code));
  return b.type.create(
    b.attrs,
    b.children.map((c) => (c instanceof BuilderNode ? build(c, schema) : c)),
  );
}

/**
 * Builds ProseMirror blocks from Delta inserts, line by line. It starts from
 * the state the line before left (none for a whole document), so that a
 * stretch of a document can be decoded on its own.
 */
class Decoder {
  readonly root: BuilderNode;
  /** Open frames: for each depth the blockquote, or the list and its current item. */
  private readonly open: OpenFrame[] = [];
  private lastCode: BuilderNode | null = null;
  private pieces: Piece[] = [];
  /** Lines decoded so far. */
  lines = 0;
  /** True when the first line continues a node of the line before the start (a region must then start earlier). */
  firstContinues = false;

  constructor(
    private readonly roles: Roles,
    /** The state after the last line decoded: what the next line is read against. */
    public prev: PrevLine | null,
  ) {
    this.root = new BuilderNode(roles.schema.topNodeType, null);
  }

  /** True when text or embeds wait for their line's "\n". */
  get pending(): boolean {
    return this.pieces.length > 0;
  }

  feed(d: unknown): void {
    const ins = readInsert(d);
    if (ins.embed) {
      this.pieces.push({ embed: ins.embed, attrs: ins.attrs });
      return;
    }
    const text = ins.text as string;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) {
        if (start < text.length) this.pieces.push({ text: text.slice(start), attrs: ins.attrs });
        return;
      }
      if (nl > start) this.pieces.push({ text: text.slice(start, nl), attrs: ins.attrs });
      this.endLine(ins.attrs);
      start = nl + 1;
    }
  }

  private endLine(attrs: Attributes | undefined): void {
    const roles = this.roles;
    const open = this.open;
    const shape = decodeLine(roles, attrs, this.prev);
    const cont = continuesCode(shape, this.prev);
    if (this.lines === 0) {
      // Anything but a new top-level node (a new item in the list before is in that list).
      const f = shape.spec[0];
      this.firstContinues = f ? f.mark === '' || (f.kind !== 'q' && f.mark === '+') : cont;
    }
    // Frames before the first new one continue the open containers; a new
    // item in the same list reuses that list; everything else is created.
    let brk = shape.spec.findIndex((f) => f.mark !== '');
    if (brk < 0) brk = shape.spec.length;
    brk = Math.min(brk, open.length); // a region's first line cannot continue what lies before it
    const first = shape.spec[brk];
    const reuse = first && first.kind !== 'q' && first.mark === '+' ? open[brk] : undefined;
    open.length = brk;
    for (let i = brk; i < shape.spec.length; i++) {
      const f = shape.spec[i] as FrameSpec;
      const parent = i === 0 ? this.root : inner(open[i - 1]);
      if (f.kind === 'q') {
        const q = new BuilderNode(roles.blockquote as NodeType, null);
        parent.children.push(q);
        open.push({ kind: 'q', container: q, item: null });
        continue;
      }
      const item = new BuilderNode(roles.listItem as NodeType, null);
      if (i === brk && reuse && reuse.kind === f.kind) {
        reuse.container.children.push(item);
        open.push({ kind: f.kind, container: reuse.container, item });
      } else {
        const type = (f.kind === 'b' ? roles.bulletList : roles.orderedList) as NodeType;
        const list = new BuilderNode(type, readExtras(attrs, 'list', type.spec.attrs));
        list.children.push(item);
        parent.children.push(list);
        open.push({ kind: f.kind, container: list, item });
      }
    }
    const parent = open.length === 0 ? this.root : inner(open[open.length - 1]);
    if (shape.block === 'c') {
      let text = '';
      for (const p of this.pieces) text += 'text' in p ? p.text : OBJECT_REPLACEMENT;
      if (cont && this.lastCode) this.lastCode.code += `\n${text}`;
      else {
        const type = roles.codeBlock as NodeType;
        const a = readExtras(attrs, 'code-block', type.spec.attrs, 'language');
        if (type.spec.attrs && 'language' in type.spec.attrs) a.language = shape.code === true ? null : shape.code;
        this.lastCode = new BuilderNode(type, a, text);
        parent.children.push(this.lastCode);
      }
    } else {
      this.lastCode = null;
      const type = shape.block === 'h' ? (roles.heading as NodeType) : roles.paragraph;
      const a: Record<string, unknown> = shape.block === 'h' ? { ...readExtras(attrs, 'heading', type.spec.attrs, 'level', 'textAlign'), level: shape.level } : {};
      if (typeof attrs?.align === 'string' && type.spec.attrs && 'textAlign' in type.spec.attrs) a.textAlign = attrs.align;
      parent.children.push(type.create(a, inlineNodes(roles, type, this.pieces)));
    }
    this.prev = { kinds: shape.spec.map((f) => f.kind), block: shape.block, code: shape.code };
    this.pieces = [];
    this.lines++;
  }

  /** The top-level blocks decoded. */
  blocks(): PMNode[] {
    return this.root.children.map((c) => (c instanceof BuilderNode ? build(c, this.roles.schema) : c));
  }
}

/**
 * The ProseMirror document of a Delta in `schema`. Total on every Delta that
 * ends with "\n": what the schema cannot show is dropped without moving any
 * position (see the module comment). Throws when the Delta does not end with
 * "\n" or holds something that is not an insert.
 */
export function deltaToDoc(schema: Schema, delta: Delta): PMNode {
  const dec = new Decoder(rolesOf(schema), null);
  for (const d of delta) dec.feed(d);
  if (dec.pending || dec.lines === 0) throw new Error('rich mapping: a Delta must end with "\\n"');
  return schema.topNodeType.create(null, dec.blocks());
}

function inlineNodes(roles: Roles, parent: NodeType, pieces: Piece[]): PMNode[] {
  const schema = roles.schema;
  const out: PMNode[] = [];
  for (const p of pieces) {
    const marks = attrsToMarks(roles, p.attrs, parent);
    if ('text' in p) {
      const parts = roles.hardBreak ? p.text.split(HARD_BREAK) : [p.text];
      parts.forEach((t, k) => {
        if (k > 0) out.push((roles.hardBreak as NodeType).create(null, null, marks));
        if (t !== '') out.push(schema.text(t, marks));
      });
      continue;
    }
    const keys = Object.keys(p.embed);
    const leaf = keys.length === 1 ? roles.leafByKey.get(keys[0] as string) : undefined;
    if (leaf) {
      const a: Record<string, unknown> = {};
      const spec = leaf.type.spec.attrs;
      if (spec) {
        for (const name of Object.keys(spec)) {
          const v = name === leaf.primary ? p.embed[leaf.key] : p.attrs?.[name];
          if (v !== undefined && v !== null) a[name] = v;
        }
      }
      try {
        out.push(leaf.type.create(a, null, marks));
        continue;
      } catch {
        // a required attribute is missing: fall through to the replacement character
      }
    }
    out.push(schema.text(OBJECT_REPLACEMENT, marks));
  }
  return out;
}

/**
 * Adds to `tr` the steps that make its document one the Delta says exactly:
 * every literal "\n" in a non-code textblock (ProseMirror's replace fitting
 * leaves them when code text lands in a paragraph) becomes a hard break with
 * the same marks. Both are one position wide, so no position moves. Returns
 * true when it changed anything. A binding runs it from `appendTransaction`,
 * so that remote peers, who see a hard break, see what this editor shows.
 */
export function canonicalize(tr: Transform): boolean {
  const roles = rolesOf(tr.doc.type.schema);
  const hardBreak = roles.hardBreak;
  if (!hardBreak) return false;
  const found: { pos: number; marks: readonly Mark[] }[] = [];
  tr.doc.descendants((node, pos, parent) => {
    if (node.isText) {
      if (parent && parent.type !== roles.codeBlock && parent.type.spec.code !== true) {
        const text = node.text as string;
        for (let k = text.indexOf('\n'); k >= 0; k = text.indexOf('\n', k + 1)) found.push({ pos: pos + k, marks: node.marks });
      }
      return false;
    }
    return !node.isTextblock || !(node.type === roles.codeBlock || node.type.spec.code === true);
  });
  for (const f of found) tr.replaceWith(f.pos, f.pos + 1, hardBreak.create(null, null, f.marks));
  return found.length > 0;
}

// ---------------------------------------------------------------------------
// Public: positions

/** Delta offset (code points) of ProseMirror position `pos` in `doc`. A position between blocks maps to the start of the next line. */
export function posToOffset(doc: PMNode, pos: number): number {
  return indexOf(doc).posToOffset(pos);
}

/** ProseMirror position in `doc` of Delta offset `offset` (code points, 0 to the Delta's length). */
export function offsetToPos(doc: PMNode, offset: number): number {
  return indexOf(doc).offsetToPos(offset);
}

/** Length of the document's Delta in code points (the final "\n" included). */
export function deltaLength(doc: PMNode): number {
  return indexOf(doc).length;
}

// ---------------------------------------------------------------------------
// Ops

/** Builds a canonical rich op: merged neighbours, no trailing plain retain. */
class OpBuilder {
  readonly op: RichOp = [];

  retain(n: number, attrs?: Attributes | null): void {
    if (n <= 0) return;
    const last = this.op[this.op.length - 1];
    if (!attrs) {
      if (typeof last === 'number' && last > 0) this.op[this.op.length - 1] = last + n;
      else this.op.push(n);
      return;
    }
    if (last !== undefined && typeof last === 'object' && 'r' in last && attrsEqual(last.a, attrs)) last.r += n;
    else this.op.push({ r: n, a: attrs });
  }

  delete(n: number): void {
    if (n <= 0) return;
    const last = this.op[this.op.length - 1];
    if (typeof last === 'number' && last < 0) this.op[this.op.length - 1] = last - n;
    else this.op.push(-n);
  }

  insert(text: string, attrs: Attributes): void {
    const plain = Object.keys(attrs).length === 0;
    const n = this.op.length;
    // Canonical: an insert goes before an adjacent delete.
    const at = n > 0 && typeof this.op[n - 1] === 'number' && (this.op[n - 1] as number) < 0 ? n - 1 : n;
    const last = this.op[at - 1];
    if (plain && typeof last === 'string') this.op[at - 1] = last + text;
    else if (!plain && last !== undefined && typeof last === 'object' && 'i' in last && attrsEqual(last.a, attrs)) last.i += text;
    else this.op.splice(at, 0, plain ? text : { i: text, a: { ...attrs } });
  }

  embed(e: Embed, attrs: Attributes): void {
    const n = this.op.length;
    const at = n > 0 && typeof this.op[n - 1] === 'number' && (this.op[n - 1] as number) < 0 ? n - 1 : n;
    const c: RichComponent = Object.keys(attrs).length > 0 ? { e: { ...e }, a: { ...attrs } } : { e: { ...e } };
    this.op.splice(at, 0, c);
  }

  done(): RichOp {
    while (this.op.length > 0) {
      const last = this.op[this.op.length - 1];
      if (typeof last === 'number' && last > 0) this.op.pop();
      else break;
    }
    return this.op;
  }
}

/** The range a step touches, in the document it applies to. */
function stepRange(step: Step, doc: PMNode): [number, number] {
  const s = step as unknown as { from?: unknown; to?: unknown; pos?: unknown };
  if (typeof s.from === 'number' && typeof s.to === 'number') return [s.from, s.to];
  if (typeof s.pos === 'number') {
    const n = doc.nodeAt(s.pos);
    return [s.pos, s.pos + (n ? n.nodeSize : 0)];
  }
  return [0, doc.content.size];
}

/**
 * The rich op (code points) that turns the Delta of `tr.before` into the Delta
 * of `tr.doc`, for any transform or transaction: replace, replace-around,
 * mark, attribute and node-markup steps. Content the steps keep (text that is
 * marked, lines that are wrapped, lifted or retyped) is retained, so the op
 * composes well with concurrent edits; only content the steps replace is
 * deleted and inserted. Empty when the document did not change.
 */
export function transactionToOp(tr: Transform): RichOp {
  if (!tr.docChanged) return [];
  const before = tr.before;
  const after = tr.doc;
  const A = indexOf(before);
  const B = indexOf(after);
  const roles = A.roles;
  // The changed range in the first and in the last document.
  let lo0 = Infinity;
  let hi0 = -Infinity;
  let lo1 = Infinity;
  let hi1 = -Infinity;
  tr.steps.forEach((step, i) => {
    const [from, to] = stepRange(step, tr.docs[i] as PMNode);
    const back = tr.mapping.slice(0, i).invert();
    const fwd = tr.mapping.slice(i);
    lo0 = Math.min(lo0, back.map(from, -1));
    hi0 = Math.max(hi0, back.map(to, 1));
    lo1 = Math.min(lo1, fwd.map(from, -1));
    hi1 = Math.max(hi1, fwd.map(to, 1));
  });
  const n0 = A.lines.length;
  const n1 = B.lines.length;
  // One line before the first touched: a step just past a line's close token
  // (joining list items, say) can take that line's "\n" with it.
  let L = Math.max(0, Math.min(A.lineAtPos(lo0), B.lineAtPos(lo1), n0, n1) - 1);
  for (let k = 0; k < L; k++) {
    if (!attrsEqual((A.lines[k] as Line).attrs, (B.lines[k] as Line).attrs)) {
      L = k;
      break;
    }
  }
  let t0 = 0;
  while (t0 < n0 && (A.lines[n0 - 1 - t0] as Line).from > hi0) t0++;
  let t1 = 0;
  while (t1 < n1 && (B.lines[n1 - 1 - t1] as Line).from > hi1) t1++;
  const T = Math.max(0, Math.min(t0, t1, n0 - L, n1 - L));

  const ua: Unit[] = [];
  for (let k = L; k < n0 - T; k++) lineUnits(roles, A.lines[k] as Line, ua);
  const ub: Unit[] = [];
  for (let k = L; k < n1 - T; k++) lineUnits(roles, B.lines[k] as Line, ub);
  const byPos = new Map<number, number>();
  ub.forEach((u, j) => byPos.set(u.pos, j));

  const ops = new OpBuilder();
  ops.retain(L < n0 ? (A.lines[L] as Line).off : A.length);
  let i = 0;
  let j = 0;
  const flushTo = (ai: number, bj: number): void => {
    for (; j < bj; j++) {
      const u = ub[j] as Unit;
      if (u.embed) ops.embed(u.embed, u.attrs);
      else ops.insert(u.ch as string, u.attrs);
    }
    ops.delete(ai - i);
    i = ai;
  };
  // The document's final "\n" is never deleted (the rich type forbids it):
  // when the window reaches the end, the two final "\n" pair up.
  const ends = T === 0 && ua.length > 0 && ub.length > 0;
  const lastA = ends ? ua.length - 1 : ua.length;
  const lastB = ends ? ub.length - 1 : ub.length;
  for (let k = 0; k < lastA; k++) {
    const u = ua[k] as Unit;
    // A character is kept when its token survives. A "\n" is the line's end,
    // not its close token (which node-markup and wrapping steps replace): it
    // is kept when the line's end still maps to a line end.
    const r = tr.mapping.mapResult(u.pos, 1);
    if (r.deletedAfter && u.ch !== '\n') continue;
    const m = byPos.get(r.pos);
    if (m === undefined || m < j || m >= lastB) continue;
    const v = ub[m] as Unit;
    if (u.ch !== v.ch || (u.embed && (!v.embed || !embedEqual(u.embed, v.embed)))) continue;
    flushTo(k, m);
    ops.retain(1, attrsDiff(u.attrs, v.attrs));
    i = k + 1;
    j = m + 1;
  }
  flushTo(lastA, lastB);
  if (ends) ops.retain(1, attrsDiff((ua[lastA] as Unit).attrs, (ub[lastB] as Unit).attrs));
  for (let k = 0; k < T; k++) {
    const la = A.lines[n0 - T + k] as Line;
    const lb = B.lines[n1 - T + k] as Line;
    ops.retain(la.len);
    ops.retain(1, attrsDiff(la.attrs, lb.attrs));
  }
  return ops.done();
}

/** How {@link applyOpToTransform} reached the target document. */
export interface ApplyResult {
  /** Steps added to the transform. */
  steps: number;
  /** True when every component became a text or mark step directly (no part of the document was rebuilt). */
  direct: boolean;
  /** True when it had to replace whole top-level blocks (positions inside them are not mapped). */
  coarse: boolean;
}

const SIMPLE_MARK_VALUE = (v: AttrValue): boolean => v === null || v === true || typeof v === 'string';

function stateOf(line: Line): PrevLine {
  return { kinds: line.shape.spec.map((f) => f.kind), block: line.shape.block, code: line.shape.code };
}

/** The inserts of `delta` in code points [from, to). */
function sliceDelta(delta: Delta, from: number, to: number): unknown[] {
  const out: unknown[] = [];
  let at = 0;
  for (const d of delta) {
    if (at >= to) break;
    const ins = readInsert(d);
    const n = ins.embed ? 1 : cpLength(ins.text as string);
    if (at + n > from) {
      if (ins.embed) out.push(d);
      else {
        const text = ins.text as string;
        const a = Math.max(0, from - at);
        const b = Math.min(n, to - at);
        const part = a === 0 && b === n ? text : text.slice(codePointToUtf16(text, a), codePointToUtf16(text, b));
        out.push(ins.attrs ? { i: part, a: ins.attrs } : part);
      }
    }
    at += n;
  }
  return out;
}

/**
 * Adds to `tr` the steps that apply a rich op to its document: `tr.doc` must
 * be the document the op applies to (the document of the Delta before the
 * op), and `after` the Delta after the op (the rich document's content, which
 * may hold attributes this schema cannot show). Afterwards `tr.doc` equals
 * `deltaToDoc(schema, after)`.
 *
 * Typing, deleting within a line and bold/italic/... changes become text and
 * mark steps directly, so carets and selections map through them and nothing
 * else is touched. Anything else (a new line, a line's format, a link) is
 * settled by decoding the top-level blocks the op touches from `after`: node
 * markup steps where only a textblock's type changed, and otherwise one
 * replace step over the smallest range that differs.
 */
export function applyOpToTransform(tr: Transform, op: RichOp, after: Delta): ApplyResult {
  const schema = tr.doc.type.schema;
  const roles = rolesOf(schema);
  const first = tr.steps.length;
  const idx = indexOf(tr.doc);
  const map = (pos: number, assoc = 1): number => tr.mapping.slice(first).map(pos, assoc);
  // Fast paths on the original document's positions, mapped through what was added.
  let direct = true;
  let lo = Infinity; // the op's reach in the old Delta: [lo, hi)
  let hi = -Infinity;
  let grow = 0;
  const touch = (a: number, b: number): void => {
    lo = Math.min(lo, a);
    hi = Math.max(hi, b);
  };
  let off = 0;
  for (const c of op) {
    if (typeof c === 'number') {
      if (c > 0) off += c;
      else {
        const n = -c;
        touch(off, off + n);
        grow -= n;
        const line = idx.lines[idx.lineAtOffset(off)] as Line;
        if (off + n <= line.off + line.len) tr.delete(map(idx.offsetToPos(off), 1), map(idx.offsetToPos(off + n), -1));
        else direct = false;
        off += n;
      }
      continue;
    }
    if (typeof c === 'string' || 'i' in c || 'e' in c) {
      touch(off, off);
      grow += typeof c === 'string' ? cpLength(c) : 'i' in c ? cpLength(c.i) : 1;
      const text = typeof c === 'string' ? c : 'i' in c ? c.i : null;
      const a = typeof c === 'string' ? undefined : ((c as { a?: Attributes | null }).a ?? undefined);
      const piece: Piece = text !== null ? { text, attrs: a } : { embed: (c as { e: Embed }).e, attrs: a };
      if ((text !== null && text.includes('\n')) || off > idx.length - 1) {
        direct = false;
        continue;
      }
      const pos = map(idx.offsetToPos(off), 1);
      const parent = tr.doc.resolve(pos).parent;
      const code = parent.type === roles.codeBlock || parent.type.spec.code === true;
      if (code && text !== null) tr.insert(pos, schema.text(text));
      else if (!code && parent.isTextblock) tr.insert(pos, inlineNodes(roles, parent.type, [piece]));
      else direct = false;
      continue;
    }
    // {r, a}: marks over the inline content of each line it covers.
    touch(off, off + c.r);
    const fa: Attributes = c.a ?? {};
    const keys = Object.keys(fa);
    // Only marks without attributes are certain to come out as the decoder would make them (a
    // link's extra attributes live in the Delta), and removing a mark that excludes others (code)
    // can bring back the marks it hid.
    const simple = keys.every((k) => {
      const role = roles.marks.find((m) => m.key === k);
      const v = fa[k] as AttrValue;
      if (!role || !SIMPLE_MARK_VALUE(v)) return false;
      if (v === null) return !roles.marks.some((o) => o !== role && role.type.excludes(o.type));
      return !role.primary && v === true;
    });
    if (!simple) {
      direct = false;
      off += c.r;
      continue;
    }
    let s = off;
    const end = off + c.r;
    while (s < end) {
      const line = idx.lines[idx.lineAtOffset(s)] as Line;
      const e = Math.min(end, line.off + line.len);
      if (e > s && line.shape.block !== 'c') {
        const from = map(idx.offsetToPos(s), 1);
        const to = map(idx.offsetToPos(e), -1);
        for (const role of roles.marks) {
          const v = fa[role.key];
          if (v === undefined) continue;
          if (v === null) tr.removeMark(from, to, role.type);
          else tr.addMark(from, to, role.type.create());
        }
      }
      s = line.off + line.len + 1;
    }
    off += c.r;
  }
  if (direct || lo === Infinity) return { steps: tr.steps.length - first, direct: true, coarse: false };
  const coarse = settleRegion(tr, idx, after, lo, hi, grow);
  return { steps: tr.steps.length - first, direct: false, coarse };
}

/**
 * Makes the top-level blocks of `tr.doc` that the op reached ([lo, hi) of the
 * old Delta, `grow` code points longer after it) equal to their decoding from
 * `after`, widening the region until its first line starts and the line after
 * it reads as before. Returns true when it had to replace whole blocks.
 */
function settleRegion(tr: Transform, idx: DocIndex, after: Delta, lo: number, hi: number, grow: number): boolean {
  const roles = idx.roles;
  const lines = idx.lines;
  const lastTop = idx.topPos.length - 1;
  let ci = (lines[idx.lineAtOffset(Math.min(lo, idx.length - 1))] as Line).top;
  let cj = (lines[idx.lineAtOffset(Math.min(Math.max(lo, hi - 1), idx.length - 1))] as Line).top;
  let blocks: PMNode[] = [];
  for (;;) {
    const firstLine = idx.topFirstLine[ci] as number;
    const lastLine = (cj < lastTop ? (idx.topFirstLine[cj + 1] as number) : lines.length) - 1;
    const S = (lines[firstLine] as Line).off;
    const E = (lines[lastLine] as Line).off + (lines[lastLine] as Line).len + 1;
    if (hi >= E && cj < lastTop) {
      cj++; // the op reaches the region's last "\n"
      continue;
    }
    const dec = new Decoder(roles, firstLine > 0 ? stateOf(lines[firstLine - 1] as Line) : null);
    for (const d of sliceDelta(after, S, E + grow)) dec.feed(d);
    if (dec.firstContinues && ci > 0) {
      ci--;
      continue;
    }
    const next = lines[lastLine + 1];
    if (next && cj < lastTop) {
      if (dec.pending) {
        cj++;
        continue;
      }
      const before = stateOf(lines[lastLine] as Line);
      const shape = decodeLine(roles, next.attrs, dec.prev);
      if (!sameSpec(shape.spec, next.shape.spec) || shape.block !== next.shape.block || continuesCode(shape, dec.prev) !== continuesCode(next.shape, before)) {
        cj++;
        continue;
      }
    }
    if (dec.pending || dec.lines === 0) throw new Error('rich mapping: the Delta after the op does not fit the document before it');
    blocks = dec.blocks();
    break;
  }
  // Every step so far lies inside the region, so what follows it is unchanged:
  // its end stays at a fixed distance from the end of the document.
  const from = idx.topPos[ci] as number;
  const tail = idx.doc.content.size - (cj < lastTop ? (idx.topPos[cj + 1] as number) : idx.doc.content.size);
  const regionEnd = (): number => tr.doc.content.size - tail;
  const target = roles.schema.topNodeType.create(null, blocks);
  for (let guard = 0; guard < 64; guard++) {
    const cur = tr.doc.content.cut(from, regionEnd());
    const start = cur.findDiffStart(target.content);
    if (start === null) return false;
    const a = start < cur.size ? tr.doc.nodeAt(from + start) : null;
    const b = target.nodeAt(start);
    if (a && b && a.isTextblock && b.isTextblock && a.content.eq(b.content) && (a.type !== b.type ? b.type.validContent(a.content) : !a.hasMarkup(b.type, b.attrs))) {
      tr.setNodeMarkup(from + start, b.type, b.attrs);
      continue;
    }
    const end = cur.findDiffEnd(target.content);
    if (!end) break;
    let endA = end.a;
    let endB = end.b;
    const overlap = start - Math.min(endA, endB);
    if (overlap > 0) {
      endA += overlap;
      endB += overlap;
    }
    try {
      tr.replace(from + start, from + endA, target.slice(start, endB));
    } catch {
      // fitting refused: replace the blocks below
    }
    break;
  }
  const end = regionEnd();
  if (end - from === target.content.size && tr.doc.content.cut(from, end).eq(target.content)) return false;
  tr.replaceWith(from, end, blocks);
  return true;
}

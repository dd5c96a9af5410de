/**
 * Random ProseMirror documents and edits in the schema Tiptap's StarterKit
 * (with Underline and Link) plus an inline Image gives, for the property tests
 * of the ProseMirror <-> Delta mapping.
 */
import { getSchema } from '@tiptap/core';
import Image from '@tiptap/extension-image';
import StarterKit from '@tiptap/starter-kit';
import { joinBackward, joinForward, lift, setBlockType, splitBlock, toggleMark, wrapIn, deleteSelection } from '@tiptap/pm/commands';
import type { Mark, Node as PMNode } from '@tiptap/pm/model';
import { liftListItem, sinkListItem, splitListItem, wrapInList } from '@tiptap/pm/schema-list';
import { EditorState, NodeSelection, TextSelection, type Transaction } from '@tiptap/pm/state';

/** The Tiptap schema the binding targets: StarterKit (Tiptap 3 includes Underline and Link) and an inline Image. */
export const schema = getSchema([StarterKit, Image.configure({ inline: true })]);

const N = schema.nodes;
const M = schema.marks;

export type Rand = () => number;

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const CHARS = ['a', 'b', 'c', 'd', ' ', 'é', '😀', '中', '𝄞', 'x', 'y'];

export function randomString(r: Rand, min: number, max: number): string {
  let s = '';
  const n = int(r, min, max);
  for (let i = 0; i < n; i++) s += pick(r, CHARS);
  return s;
}

function randomLink(r: Rand): Mark {
  const attrs: Record<string, unknown> = { href: pick(r, ['https://a.example/', 'https://b.example/x?y=1', '/relative']) };
  if (r() < 0.25) attrs.target = '_self';
  if (r() < 0.15) attrs.title = 'a title';
  return (M.link as NonNullable<typeof M.link>).create(attrs);
}

/** A random mark set: code alone (it excludes the others), or any of the others with an optional link. */
export function randomMarks(r: Rand): readonly Mark[] {
  if (r() < 0.4) return [];
  if (r() < 0.15) return [(M.code as NonNullable<typeof M.code>).create()];
  let set: readonly Mark[] = [];
  for (const name of ['bold', 'italic', 'underline', 'strike'] as const) if (r() < 0.35) set = (M[name] as NonNullable<(typeof M)[typeof name]>).create().addToSet(set);
  if (r() < 0.25) set = randomLink(r).addToSet(set);
  return set;
}

export function randomImage(r: Rand): PMNode {
  const attrs: Record<string, unknown> = { src: pick(r, ['https://img.example/a.png', 'https://img.example/b.jpg']) };
  if (r() < 0.5) attrs.alt = pick(r, ['a cat', 'ünïcödé 😀']);
  if (r() < 0.3) attrs.width = pick(r, [100, 320]);
  if (r() < 0.2) attrs.title = 'pic';
  return (N.image as NonNullable<typeof N.image>).create(attrs, null, randomMarks(r));
}

export function randomInline(r: Rand, max = 5): PMNode[] {
  const out: PMNode[] = [];
  const n = int(r, 0, max);
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.7) out.push(schema.text(randomString(r, 1, 6), randomMarks(r)));
    else if (x < 0.85) out.push((N.hardBreak as NonNullable<typeof N.hardBreak>).create(null, null, randomMarks(r)));
    else out.push(randomImage(r));
  }
  return out;
}

export function randomParagraph(r: Rand): PMNode {
  return (N.paragraph as NonNullable<typeof N.paragraph>).create(null, randomInline(r));
}

function randomCode(r: Rand): PMNode {
  const lines: string[] = [];
  const n = int(r, 1, 3);
  for (let i = 0; i < n; i++) lines.push(randomString(r, 0, 5));
  const text = lines.join('\n');
  return (N.codeBlock as NonNullable<typeof N.codeBlock>).create({ language: pick(r, [null, null, 'js', 'python']) }, text === '' ? null : schema.text(text));
}

export function randomBlock(r: Rand, depth: number): PMNode {
  const x = r();
  const deep = depth < 3;
  if (x < 0.35 || (!deep && x < 0.6)) return randomParagraph(r);
  if (x < 0.5 || !deep) return x < 0.8 || deep ? (N.heading as NonNullable<typeof N.heading>).create({ level: int(r, 1, 6) }, randomInline(r)) : randomCode(r);
  if (x < 0.6) return randomCode(r);
  if (x < 0.75) {
    const kids: PMNode[] = [];
    const n = int(r, 1, 3);
    for (let i = 0; i < n; i++) kids.push(randomBlock(r, depth + 1));
    return (N.blockquote as NonNullable<typeof N.blockquote>).create(null, kids);
  }
  const ordered = r() < 0.5;
  const items: PMNode[] = [];
  const n = int(r, 1, 3);
  for (let i = 0; i < n; i++) {
    const kids: PMNode[] = [randomParagraph(r)];
    const more = r() < 0.5 ? int(r, 1, 2) : 0;
    for (let k = 0; k < more; k++) kids.push(randomBlock(r, depth + 1));
    items.push((N.listItem as NonNullable<typeof N.listItem>).create(null, kids));
  }
  if (ordered) {
    const attrs: Record<string, unknown> = {};
    if (r() < 0.25) attrs.start = pick(r, [0, 3, 10]);
    if (r() < 0.15) attrs.type = 'a';
    return (N.orderedList as NonNullable<typeof N.orderedList>).create(attrs, items);
  }
  return (N.bulletList as NonNullable<typeof N.bulletList>).create(null, items);
}

/** A random valid document of 1 to `max` top-level blocks. */
export function randomDoc(r: Rand, max = 5): PMNode {
  const blocks: PMNode[] = [];
  const n = int(r, 1, max);
  for (let i = 0; i < n; i++) blocks.push(randomBlock(r, 0));
  const doc = (N.doc as NonNullable<typeof N.doc>).create(null, blocks);
  doc.check();
  return doc;
}

/**
 * True when `pos` sits between the two halves of a surrogate pair. ProseMirror
 * counts UTF-16 units and allows it; an editor's selection never does (the
 * browser keeps carets off pair middles), so the edits here avoid it too.
 */
export function midPair(doc: PMNode, pos: number): boolean {
  const $p = doc.resolve(pos);
  if (!$p.parent.inlineContent || $p.textOffset === 0) return false;
  const text = $p.parent.child($p.index()).text ?? '';
  const c = text.charCodeAt($p.textOffset);
  return c >= 0xdc00 && c <= 0xdfff;
}

function randomPos(r: Rand, doc: PMNode): number {
  let p = int(r, 0, doc.content.size);
  if (midPair(doc, p)) p--;
  return p;
}

function randomTextPos(r: Rand, doc: PMNode): number {
  const ps: number[] = [];
  doc.descendants((node, pos) => {
    if (node.isTextblock) for (let p = pos + 1; p <= pos + 1 + node.content.size; p++) if (!midPair(doc, p)) ps.push(p);
  });
  return ps.length > 0 ? pick(r, ps) : 1;
}

function select(state: EditorState, r: Rand, range: boolean): EditorState {
  const a = randomTextPos(r, state.doc);
  const b = range ? randomTextPos(r, state.doc) : a;
  const sel = TextSelection.between(state.doc.resolve(Math.min(a, b)), state.doc.resolve(Math.max(a, b)));
  return state.apply(state.tr.setSelection(sel));
}

type Command = (state: EditorState, dispatch?: (tr: Transaction) => void) => boolean;

function runCommand(state: EditorState, cmd: Command): Transaction | null {
  let out: Transaction | null = null;
  cmd(state, (tr) => {
    out = tr;
  });
  return out;
}

/** Names of the edits {@link randomEdit} makes, for coverage reports. */
export const EDITS = [
  'insertText',
  'delete',
  'addMark',
  'removeMark',
  'toggleMark',
  'heading',
  'paragraph',
  'codeBlock',
  'blockquote',
  'lift',
  'bulletList',
  'orderedList',
  'liftListItem',
  'sinkListItem',
  'splitListItem',
  'splitBlock',
  'joinBackward',
  'joinForward',
  'deleteSelection',
  'paste',
  'hardBreak',
  'image',
  'attrStep',
  'nodeMarkup',
] as const;

/**
 * A random edit of `state`'s document as a user or a program would make it:
 * editing commands (the same ones Tiptap's keymaps and toolbars run) and raw
 * transform calls. Returns null when the edit did not apply.
 */
export function randomEdit(r: Rand, state0: EditorState): { name: (typeof EDITS)[number]; tr: Transaction } | null {
  const name = pick(r, EDITS);
  const range = !['insertText', 'splitBlock', 'splitListItem', 'joinBackward', 'joinForward', 'hardBreak', 'image'].includes(name);
  const state = select(state0, r, range && r() < 0.8);
  const { from, to } = state.selection;
  const doc = state.doc;
  let tr: Transaction | null = null;
  try {
    switch (name) {
      case 'insertText':
        tr = state.tr.insertText(randomString(r, 1, 4), from, to);
        break;
      case 'delete': {
        const a = randomPos(r, doc);
        let b = Math.min(doc.content.size, a + int(r, 1, 12));
        if (midPair(doc, b)) b++;
        tr = state.tr.delete(a, b);
        break;
      }
      case 'addMark':
        tr = state.tr.addMark(from, to, pick(r, [...randomMarks(r), (M.bold as NonNullable<typeof M.bold>).create(), randomLink(r)]));
        break;
      case 'removeMark':
        tr = state.tr.removeMark(from, to, pick(r, Object.values(M)));
        break;
      case 'toggleMark':
        tr = runCommand(state, toggleMark(pick(r, Object.values(M)), pick(r, [null, { href: 'https://t.example/' }])));
        break;
      case 'heading':
        tr = runCommand(state, setBlockType(N.heading as NonNullable<typeof N.heading>, { level: int(r, 1, 3) }));
        break;
      case 'paragraph':
        tr = runCommand(state, setBlockType(N.paragraph as NonNullable<typeof N.paragraph>));
        break;
      case 'codeBlock':
        tr = runCommand(state, setBlockType(N.codeBlock as NonNullable<typeof N.codeBlock>, { language: pick(r, [null, 'js']) }));
        break;
      case 'blockquote':
        tr = runCommand(state, wrapIn(N.blockquote as NonNullable<typeof N.blockquote>));
        break;
      case 'lift':
        tr = runCommand(state, lift);
        break;
      case 'bulletList':
        tr = runCommand(state, wrapInList(N.bulletList as NonNullable<typeof N.bulletList>));
        break;
      case 'orderedList':
        tr = runCommand(state, wrapInList(N.orderedList as NonNullable<typeof N.orderedList>));
        break;
      case 'liftListItem':
        tr = runCommand(state, liftListItem(N.listItem as NonNullable<typeof N.listItem>));
        break;
      case 'sinkListItem':
        tr = runCommand(state, sinkListItem(N.listItem as NonNullable<typeof N.listItem>));
        break;
      case 'splitListItem':
        tr = runCommand(state, splitListItem(N.listItem as NonNullable<typeof N.listItem>));
        break;
      case 'splitBlock':
        tr = runCommand(state, splitBlock);
        break;
      case 'joinBackward':
        tr = runCommand(state, joinBackward);
        break;
      case 'joinForward':
        tr = runCommand(state, joinForward);
        break;
      case 'deleteSelection':
        tr = runCommand(state, deleteSelection);
        break;
      case 'paste': {
        const src = randomDoc(r, 3);
        const a = randomTextPos(r, src);
        const b = Math.max(a, randomTextPos(r, src));
        tr = state.tr.replaceSelection(src.slice(a, b));
        break;
      }
      case 'hardBreak':
        tr = state.tr.replaceSelectionWith((N.hardBreak as NonNullable<typeof N.hardBreak>).create());
        break;
      case 'image':
        tr = state.tr.replaceSelectionWith(randomImage(r));
        break;
      case 'attrStep': {
        const targets: { pos: number; node: PMNode }[] = [];
        doc.descendants((node, pos) => {
          if (['heading', 'codeBlock', 'orderedList', 'image'].includes(node.type.name)) targets.push({ pos, node });
        });
        if (targets.length === 0) return null;
        const t = pick(r, targets);
        const attr = { heading: 'level', codeBlock: 'language', orderedList: 'start', image: 'alt' }[t.node.type.name] as string;
        const value = { heading: int(r, 1, 6), codeBlock: pick(r, [null, 'go']), orderedList: int(r, 0, 5), image: pick(r, [null, 'new alt']) }[t.node.type.name];
        tr = state.tr.setNodeAttribute(t.pos, attr, value);
        break;
      }
      case 'nodeMarkup': {
        const tbs: number[] = [];
        doc.descendants((node, pos) => {
          if (node.isTextblock && node.type.name !== 'codeBlock') tbs.push(pos);
        });
        if (tbs.length === 0) return null;
        const pos = pick(r, tbs);
        const heading = r() < 0.5;
        const parent = doc.resolve(pos).parent;
        if (heading && parent.type.name === 'listItem' && doc.resolve(pos).index() === 0) return null;
        tr = state.tr.setNodeMarkup(pos, heading ? (N.heading as NonNullable<typeof N.heading>) : (N.paragraph as NonNullable<typeof N.paragraph>), heading ? { level: int(r, 1, 3) } : null);
        break;
      }
    }
  } catch {
    return null; // not applicable here (ReplaceError, a position the command refuses)
  }
  if (!tr || !(tr as Transaction).docChanged) return null;
  (tr as Transaction).doc.check();
  return { name, tr: tr as Transaction };
}

export { EditorState, NodeSelection, TextSelection };

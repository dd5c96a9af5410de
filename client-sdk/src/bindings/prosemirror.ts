/**
 * `@tandem/client/prosemirror`: ProseMirror and Tiptap support for `rich`
 * documents. Today it holds the mapping between a ProseMirror document and the
 * rich Delta (whole documents, positions, transactions and ops) that the
 * editor binding is built on; see {@link ./prosemirror-mapping.ts} for the
 * attribute keys. `prosemirror-model` and `prosemirror-transform` are optional
 * peer dependencies (Tiptap's `@tiptap/pm` brings them).
 * @module
 */
export {
  HARD_BREAK,
  OBJECT_REPLACEMENT,
  BLOCK_KEYS,
  docToDelta,
  deltaToDoc,
  posToOffset,
  offsetToPos,
  deltaLength,
  canonicalize,
  transactionToOp,
  applyOpToTransform,
  type ApplyResult,
} from './prosemirror-mapping.js';
export type { AttrValue, Attributes, Embed, Delta, DeltaInsert, RichComponent, RichOp } from '../rich/index.js';

/**
 * `@tandem/client/quill`: Quill 2 support for `rich` documents. Today it holds
 * the mapping between Quill's Delta (UTF-16, `header`) and the rich op (code
 * points, `heading`) that the editor binding is built on. Nothing here imports
 * Quill; `quill` is an optional peer dependency of the binding.
 * @module
 */
export {
  EMBED_CHAR,
  flatText,
  quillToOp,
  opToQuill,
  deltaToQuill,
  quillToDelta,
  quillRangeToRange,
  rangeToQuillRange,
  quillShowable,
  type QuillOp,
  type QuillDeltaLike,
} from './quill-mapping.js';
export type { AttrValue, Attributes, Embed, Delta, DeltaInsert, RichComponent, RichOp } from '../rich/index.js';

/**
 * The Tandem `rich` operational-transform type: text whose characters carry
 * attributes, in the shape of Quill's Delta, with paragraph attributes on the
 * paragraph's closing `"\n"` and embeds of length 1. Every position and count
 * is in Unicode code points; the UTF-16 helpers convert for editors. The same
 * rules as the Go package `rich`, pinned by the shared vectors in
 * testdata/rich-vectors.json.
 *
 * It does not build on `quill-delta`: that library counts UTF-16 units (the
 * wire counts code points), ties inserts and attributes with one priority
 * flag (Tandem ties inserts by sid and attributes by commit order), and
 * accepts object attributes and embed retains the protocol refuses.
 * @module
 */
export { RichError, type RichErrorKind } from './errors.js';
export {
  type AttrValue,
  type Attributes,
  type Embed,
  type EmbedValue,
  MAX_ATTRS,
  MAX_KEY_LENGTH,
  MAX_VALUE_BYTES,
  MAX_EMBED_BYTES,
  attrsEqual,
  composeAttrs,
  transformAttrs,
  invertAttrs,
} from './attributes.js';
export { utf8Length } from '../msgpack-size.js';
export {
  type RichComponent,
  type TextInsert,
  type FormatRetain,
  type EmbedInsert,
  type RichOp,
  type DeltaInsert,
  type Delta,
  type Order,
  MAX_COUNT,
  OBJECT_REPLACEMENT,
  validate,
  normalize,
  isCanonical,
  isNoop,
  baseLength,
  deltaLength,
  deltaText,
  contentOf,
  apply,
  compose,
  transform,
  orderBySid,
  flipOrder,
  transformPast,
  transformPair,
  invert,
  transformPosition,
  transformSelection,
  documentSize,
  opSize,
} from './op.js';
export { opToUtf16, opFromUtf16, selectionToUtf16, selectionFromUtf16 } from './utf16.js';
export { utf16ToCodePoint, codePointToUtf16, cpLength, OffsetMap } from '../ot/unicode.js';
export type { Range, Selection, Side } from '../ot/op.js';

/**
 * The Tandem `text` operational-transform type (docs/protocol.md, sections 2
 * "Text documents" and 3 "Concurrent edits"), plus UTF-16 <-> code point
 * helpers. Every position and count in this module is in Unicode code points
 * unless a function's name says UTF-16.
 *
 * Who wrote what: concurrent inserts at one position are ordered by their
 * authors' session ids ({@link sideOf}, {@link transformPast},
 * {@link transformPair}); an insert exactly at a caret leaves it before the
 * inserted text, except the author's own caret after its own insert
 * ({@link transformPosition} and {@link transformSelection} with `own`,
 * {@link transformSelectionPast}).
 * @module
 */
export { OTError, type OTErrorKind } from './errors.js';
export {
  type Component,
  type Op,
  type Range,
  type Selection,
  type Side,
  MAX_COUNT,
  validate,
  normalize,
  isCanonical,
  isNoop,
  baseLength,
  lengthDelta,
  apply,
  transform,
  compareBytewise,
  sideOf,
  transformPast,
  transformPair,
  compose,
  invert,
  transformPosition,
  transformSelection,
  transformSelectionPast,
} from './op.js';
export {
  isBmpOnly,
  isWellFormed,
  firstLoneSurrogate,
  assertWellFormed,
  cpLength,
  cpSlice,
  advanceCodePoints,
  utf16ToCodePoint,
  codePointToUtf16,
  OffsetMap,
} from './unicode.js';
export { type TextChange, opToChanges, changesToOp, diffToOp, diffLinesToOp, mapPositionUtf16 } from './changes.js';

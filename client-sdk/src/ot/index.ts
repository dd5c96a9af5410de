/**
 * The Tandem `text` operational-transform type (PROTOCOL section 1), plus
 * UTF-16 <-> code point helpers. Every position and count in this module is in
 * Unicode code points unless a function's name says UTF-16.
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
  compose,
  invert,
  transformPosition,
  transformSelection,
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
export { type TextChange, opToChanges, changesToOp, diffToOp, diffLinesToOp } from './changes.js';

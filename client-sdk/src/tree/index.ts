/**
 * The Tandem `tree` document type (docs/protocol.md, "Tree documents"):
 * objects with an id, a parent, a fractional key and properties; ops of
 * `new`, `set`, `text`, `move` and `del` actions. Pure: the content model,
 * validation, apply, transform, a client replica (rebase of pending actions),
 * fractional keys. The same rules as the Go server's package `tree`; both run
 * testdata/tree-vectors.json.
 * @module
 */
export { TreeError, type TreeErrorKind } from './errors.js';
export { DEFAULT_LIMITS, withDefaults, type TreeLimits } from './limits.js';
export { checkValue, type Value } from './value.js';
export { utf8Length } from '../msgpack-size.js';
export {
  MAX_KEY_LENGTH,
  validId,
  validKey,
  validPropName,
  validateOp,
  opSize,
  actionSize,
  type Action,
  type NewAction,
  type SetAction,
  type TextAction,
  type MoveAction,
  type DelAction,
  type TreeOp,
  type Props,
} from './op.js';
export { TreeContent, type TreeObject, type TreeJSON, type ApplyResult } from './content.js';
export { transform, transformKept, checkBase, type Since } from './transform.js';
export { TreeReplica } from './replica.js';
export { keyBetween, nKeysBetween, isFractionalKey, NoKeyBetweenError } from './keys.js';

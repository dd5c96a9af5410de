import { OTError } from '../ot/errors.js';
import { normalize, validate as validateText, type Op as TextOp } from '../ot/op.js';
import { isWellFormed } from '../ot/unicode.js';
import { TreeError } from './errors.js';
import { withDefaults, type TreeLimits } from './limits.js';
import { headerSize, intSize, strSize, utf8Length } from '../msgpack-size.js';
import { checkValue, sizeOfValue, type Value } from './value.js';

/** The properties of a new object: names to values (no nulls once validated). */
export type Props = Record<string, Value>;

/** `["new", id, parent, key, props]`: create an object; parent `""` is the top level. */
export type NewAction = ['new', string, string, string, Props];
/** `["set", id, prop, value]`: set a property; `null` removes it. */
export type SetAction = ['set', string, string, Value];
/** `["text", id, prop, textop]`: edit a string property with a text op. */
export type TextAction = ['text', string, string, TextOp];
/** `["move", id, parent, key]`: re-parent and/or re-order. */
export type MoveAction = ['move', string, string, string];
/** `["del", id]`: delete the object and everything under it. */
export type DelAction = ['del', string];
/** One step of a tree op, exactly as on the wire. */
export type Action = NewAction | SetAction | TextAction | MoveAction | DelAction;
/** A tree op: actions applied in order and committed atomically. */
export type TreeOp = Action[];

/** The longest key the server accepts. */
export const MAX_KEY_LENGTH = 64;

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const KEY = /^[0-9A-Za-z]{1,64}$/;

/** True when `s` is an object id: 1-64 characters of `[A-Za-z0-9_.:-]`. */
export function validId(s: unknown): s is string {
  return typeof s === 'string' && ID.test(s);
}

/** True when `s` is a key: 1-64 characters of `[0-9A-Za-z]`. */
export function validKey(s: unknown): s is string {
  return typeof s === 'string' && KEY.test(s);
}

/** True when `s` is a property name: 1-64 code points, no lone surrogate. */
export function validPropName(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > 128 || !isWellFormed(s)) return false;
  let n = 0;
  for (const _ of s) n++;
  return n <= 64;
}

const ARITY = { new: 5, set: 4, text: 4, move: 4, del: 2 } as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

/**
 * Validates an untrusted op (decoded from MessagePack or JSON) by the rules
 * the server applies whatever the document (the Go package `tree`'s decoders):
 * known actions with exactly their items, valid ids, parents, keys, property
 * names and values, text ops, limits of size and nesting. Returns the op in
 * the form the server stores: `null` properties of `new` left out, text ops
 * normalised. Throws {@link TreeError}.
 */
export function validateOp(op: unknown, limits?: Partial<TreeLimits>): TreeOp {
  const lim = withDefaults(limits);
  if (!Array.isArray(op)) throw new TreeError('invalid', 'op must be an array of actions');
  const out: TreeOp = [];
  for (let i = 0; i < op.length; i++) {
    try {
      out.push(validateAction(op[i], lim));
    } catch (e) {
      throw e instanceof TreeError ? e.at(i) : e;
    }
  }
  const size = opSize(out);
  if (size > lim.maxOpBytes) throw new TreeError('too_large', `op is ${size} bytes encoded, over the limit of ${lim.maxOpBytes}`);
  return out;
}

function validateAction(a: unknown, lim: TreeLimits): Action {
  if (!Array.isArray(a) || a.length === 0) throw new TreeError('invalid', 'action must be a non-empty array');
  const name: unknown = a[0];
  if (typeof name !== 'string') throw new TreeError('invalid', 'action name must be a string');
  if (!Object.hasOwn(ARITY, name)) throw new TreeError('invalid', `unknown action ${JSON.stringify(name.slice(0, 32))}`);
  const kind = name as keyof typeof ARITY;
  if (a.length !== ARITY[kind]) throw new TreeError('invalid', `${kind}: ${a.length} items, want ${ARITY[kind]}`);
  const id: unknown = a[1];
  if (!validId(id)) throw new TreeError('invalid', `${kind}: id is not 1-64 characters of [A-Za-z0-9_.:-]`);
  switch (kind) {
    case 'new':
    case 'move': {
      const parent: unknown = a[2];
      const key: unknown = a[3];
      if (parent !== '' && !validId(parent)) throw new TreeError('invalid', `${kind}: parent is neither "" nor a valid id`);
      if (!validKey(key)) throw new TreeError('invalid', `${kind}: key is not 1-64 characters of [0-9A-Za-z]`);
      if (kind === 'move') return ['move', id, parent as string, key];
      if (parent === id) throw new TreeError('invalid', `new: object ${id} cannot be its own parent`);
      const props: unknown = a[4];
      if (!isPlainObject(props)) throw new TreeError('invalid', 'new: props must be a map');
      const names = Object.keys(props);
      if (names.length > lim.maxProps) throw new TreeError('limit', `new: ${names.length} properties, over the limit of ${lim.maxProps}`);
      const clean: Props = Object.create(null) as Props;
      for (const n of names) {
        if (!validPropName(n)) throw new TreeError('invalid', 'new: property name is not 1-64 characters of UTF-8');
        const v = props[n];
        if (v === null) continue;
        checkValue(v, lim);
        clean[n] = v as Value;
      }
      return ['new', id, parent as string, key, clean];
    }
    case 'set': {
      const prop: unknown = a[2];
      if (!validPropName(prop)) throw new TreeError('invalid', 'set: property name is not 1-64 characters of UTF-8');
      const v: unknown = a[3];
      if (v !== null) checkValue(v, lim);
      return ['set', id, prop, v as Value];
    }
    case 'text': {
      const prop: unknown = a[2];
      if (!validPropName(prop)) throw new TreeError('invalid', 'text: property name is not 1-64 characters of UTF-8');
      try {
        validateText(a[3]);
      } catch (e) {
        if (e instanceof OTError) throw new TreeError('invalid', `text: bad text op: ${e.message}`);
        throw e;
      }
      return ['text', id, prop, normalize(a[3] as TextOp)];
    }
    case 'del':
      return ['del', id];
  }
}

function textOpSize(op: TextOp): number {
  let n = headerSize(op.length);
  for (const c of op) {
    if (typeof c === 'string') n += strSize(utf8Length(c));
    else n += intSize(c);
  }
  return n;
}

/** Length in bytes of an action's MessagePack encoding. */
export function actionSize(a: Action): number {
  let n = headerSize(a.length) + strSize(a[0].length) + strSize(a[1].length);
  switch (a[0]) {
    case 'new': {
      const names = Object.keys(a[4]);
      n += strSize(a[2].length) + strSize(a[3].length) + headerSize(names.length);
      for (const k of names) n += strSize(utf8Length(k)) + sizeOfValue(a[4][k] as Value);
      break;
    }
    case 'set':
      n += strSize(utf8Length(a[2])) + sizeOfValue(a[3]);
      break;
    case 'text':
      n += strSize(utf8Length(a[2])) + textOpSize(a[3]);
      break;
    case 'move':
      n += strSize(a[2].length) + strSize(a[3].length);
      break;
  }
  return n;
}

/** Length in bytes of the op's MessagePack encoding: what the op limit measures. */
export function opSize(op: TreeOp): number {
  let n = headerSize(op.length);
  for (const a of op) n += actionSize(a);
  return n;
}

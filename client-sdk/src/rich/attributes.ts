import { headerSize, intSize, strSize, utf8Length } from '../msgpack-size.js';
import { firstLoneSurrogate } from '../ot/unicode.js';
import { RichError } from './errors.js';

/**
 * An attribute value: a JSON scalar. In a retain's attributes `null` removes
 * the attribute; in an insert's it means "not set" (and is dropped).
 */
export type AttrValue = string | number | boolean | null;

/** Attribute names to values, e.g. `{bold: true, link: "https://..."}`. */
export type Attributes = { [name: string]: AttrValue };

/** An embed's value: a non-null JSON scalar. */
export type EmbedValue = string | number | boolean;

/**
 * An embed: an object with exactly one key, its type, e.g.
 * `{image: "https://example.com/a.png"}`. Its other properties (alt text,
 * width) are attributes of the embed insert.
 */
export type Embed = { [type: string]: EmbedValue };

/** Most attributes in one map: in an op component, and on one character. */
export const MAX_ATTRS = 64;
/** Longest attribute name or embed type (characters of `[A-Za-z0-9_.:-]`). */
export const MAX_KEY_LENGTH = 64;
/** Longest string attribute value, in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 8 << 10;
/** Longest string embed value, in UTF-8 bytes. */
export const MAX_EMBED_BYTES = 256 << 10;

const KEY = /^[A-Za-z0-9_.:-]{1,64}$/;

/** True when `k` is a valid attribute name or embed type. */
export function isValidKey(k: string): boolean {
  return KEY.test(k);
}

/** True for a plain object (not an array, not null). */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Checks one value; `maxBytes` bounds a string. */
export function checkValue(v: unknown, maxBytes: number, what: string, index: number): asserts v is AttrValue {
  switch (typeof v) {
    case 'string':
      if (utf8Length(v) > maxBytes) throw new RichError('too_large', `${what} is over ${maxBytes} bytes`, index);
      if (firstLoneSurrogate(v) >= 0) throw new RichError('invalid', `${what} has a lone surrogate`, index);
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new RichError('invalid', `${what} is not a finite number`, index);
      return;
    case 'boolean':
      return;
    case 'object':
      if (v === null) return;
  }
  throw new RichError('invalid', `${what} must be a string, number, boolean or null`, index);
}

/**
 * Checks an attribute map: at most {@link MAX_ATTRS} names (`too_large`),
 * valid names, scalar values (strings at most {@link MAX_VALUE_BYTES} bytes).
 */
export function checkAttributes(a: unknown, index: number): asserts a is Attributes {
  if (!isPlainObject(a)) throw new RichError('invalid', 'attributes must be an object', index);
  const keys = Object.keys(a);
  if (keys.length > MAX_ATTRS) throw new RichError('too_large', `${keys.length} attributes, over the limit of ${MAX_ATTRS}`, index);
  for (const k of keys) {
    if (!isValidKey(k)) throw new RichError('invalid', `attribute name ${JSON.stringify(k.slice(0, 80))} is not 1-64 characters of [A-Za-z0-9_.:-]`, index);
    checkValue(a[k], MAX_VALUE_BYTES, `attribute ${JSON.stringify(k)}`, index);
  }
}

/** Checks an embed: one valid type to a non-null scalar. */
export function checkEmbed(e: unknown, index: number): asserts e is Embed {
  if (!isPlainObject(e)) throw new RichError('invalid', 'embed must be an object of one type to a value', index);
  const keys = Object.keys(e);
  if (keys.length !== 1) throw new RichError('invalid', 'embed must be an object of exactly one type to a value', index);
  const t = keys[0] as string;
  if (!isValidKey(t)) throw new RichError('invalid', `embed type ${JSON.stringify(t.slice(0, 80))} is not 1-64 characters of [A-Za-z0-9_.:-]`, index);
  const v = e[t];
  if (v === null) throw new RichError('invalid', `embed ${JSON.stringify(t)} has a null value`, index);
  checkValue(v, MAX_EMBED_BYTES, `embed ${JSON.stringify(t)}`, index);
}

/** Number of names in `a` (0 for none). */
export function attrCount(a: Attributes | undefined): number {
  return a === undefined ? 0 : Object.keys(a).length;
}

/** True when `a` and `b` hold the same names and values (undefined and `{}` are equal). */
export function attrsEqual(a: Attributes | undefined, b: Attributes | undefined): boolean {
  const ka = a === undefined ? [] : Object.keys(a);
  const kb = b === undefined ? [] : Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || (a as Attributes)[k] !== (b as Attributes)[k]) return false;
  }
  return true;
}

/** `a` with its names sorted, or undefined when empty. */
export function sortedAttrs(a: Attributes | undefined): Attributes | undefined {
  if (a === undefined) return undefined;
  const keys = Object.keys(a).sort();
  if (keys.length === 0) return undefined;
  const out: Attributes = {};
  for (const k of keys) out[k] = a[k] as AttrValue;
  return out;
}

/** `a` without its null values, or undefined when nothing is left. */
export function withoutNulls(a: Attributes | undefined): Attributes | undefined {
  if (a === undefined) return undefined;
  let out: Attributes | undefined;
  for (const k of Object.keys(a)) {
    const v = a[k] as AttrValue;
    if (v !== null) (out ??= {})[k] = v;
  }
  return out;
}

/**
 * The attributes of a character that had `base` and then got `over` set on it:
 * `over`'s values replace `base`'s, a null removes the name. With `keepNull`
 * (`base` is itself a retain's settings) a null is kept, since it still has
 * to remove the name from the document.
 */
export function composeAttrs(base: Attributes | undefined, over: Attributes | undefined, keepNull: boolean): Attributes | undefined {
  if (over === undefined || attrCount(over) === 0) return attrCount(base) === 0 ? undefined : base;
  const out: Attributes = { ...base };
  for (const k of Object.keys(over)) {
    const v = over[k] as AttrValue;
    if (v === null && !keepNull) delete out[k];
    else out[k] = v;
  }
  return attrCount(out) === 0 ? undefined : out;
}

/**
 * What remains of `a`'s settings on a character that `b` also set,
 * concurrently: all of them when `a` commits after `b` (`aLater`), else those
 * whose names `b` did not set.
 */
export function transformAttrs(a: Attributes | undefined, b: Attributes | undefined, aLater: boolean): Attributes | undefined {
  if (aLater || a === undefined || b === undefined) return attrCount(a) === 0 ? undefined : a;
  let out: Attributes | undefined;
  for (const k of Object.keys(a)) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) (out ??= {})[k] = a[k] as AttrValue;
  }
  return out;
}

/**
 * The setting that undoes `set` on a character whose attributes were `base`:
 * each name gets back its value in `base`, or null when `base` lacked it;
 * names `set` did not change are left out.
 */
export function invertAttrs(set: Attributes | undefined, base: Attributes | undefined): Attributes | undefined {
  if (set === undefined) return undefined;
  let out: Attributes | undefined;
  for (const k of Object.keys(set)) {
    const v = set[k] as AttrValue;
    const had = base !== undefined && Object.prototype.hasOwnProperty.call(base, k);
    const old = had ? (base as Attributes)[k] : undefined;
    if (had && old === v) continue;
    if (had) (out ??= {})[k] = old as AttrValue;
    else if (v !== null) (out ??= {})[k] = null;
  }
  return out;
}

// MessagePack sizes, as the Go package encodes (attribute names sorted,
// integral numbers up to 2^53 as integers, others as float64).

const MAX_SAFE = 2 ** 53 - 1;

/** Size of a MessagePack value. */
export function valueSize(v: AttrValue): number {
  if (typeof v === 'string') return strSize(utf8Length(v));
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= MAX_SAFE ? intSize(v) : 9;
  return 1;
}

/** Size of an attribute map in MessagePack. */
export function attrsSize(a: Attributes): number {
  const keys = Object.keys(a);
  let n = headerSize(keys.length);
  for (const k of keys) n += strSize(k.length) + valueSize(a[k] as AttrValue);
  return n;
}

/** Size of an embed in MessagePack. */
export function embedSize(e: Embed): number {
  const t = Object.keys(e)[0] as string;
  return 1 + strSize(t.length) + valueSize(e[t] as EmbedValue);
}

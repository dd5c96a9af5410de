import { headerSize, intSize, strSize, utf8Length } from '../msgpack-size.js';
import { isWellFormed } from '../ot/unicode.js';
import { TreeError } from './errors.js';
import type { TreeLimits } from './limits.js';

/**
 * A property value: anything JSON can say. `null` in a `set` removes the
 * property; stored properties are never null. Values are shared, not copied:
 * do not mutate a value after handing it to the tree.
 */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function isPlainObject(v: object): v is Record<string, Value> {
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

/**
 * Checks that `v` is a value (see {@link Value}) nested at most
 * `limits.maxValueDepth` deep and at most `limits.maxValueBytes` encoded, and
 * returns its MessagePack size: what @msgpack/msgpack writes for it, which is
 * the Go server's canonical encoding. Throws {@link TreeError}: `invalid` for
 * what is not a value (undefined, NaN, a lone surrogate, a Date, bytes),
 * `limit` past a limit.
 */
export function checkValue(v: unknown, limits: TreeLimits): number {
  const size = valueSize(v, limits.maxValueDepth);
  if (size > limits.maxValueBytes) {
    throw new TreeError('limit', `value is ${size} bytes encoded, over the limit of ${limits.maxValueBytes}`);
  }
  return size;
}

function valueSize(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
      if (!Number.isFinite(v)) throw new TreeError('invalid', `number ${v} has no JSON form`);
      return Number.isInteger(v) && Math.abs(v) <= MAX_SAFE ? intSize(v) : 9;
    case 'string':
      if (!isWellFormed(v)) throw new TreeError('invalid', 'string holds a lone surrogate');
      return strSize(utf8Length(v));
    case 'object': {
      if (v === null) return 1;
      if (Array.isArray(v)) {
        if (v.length > 0 && depth <= 0) throw new TreeError('limit', 'value nests too deep');
        let n = headerSize(v.length);
        for (const e of v) n += valueSize(e, depth - 1);
        return n;
      }
      if (!isPlainObject(v)) throw new TreeError('invalid', `a ${Object.prototype.toString.call(v)} is not a value`);
      const keys = Object.keys(v);
      if (keys.length > 0 && depth <= 0) throw new TreeError('limit', 'value nests too deep');
      let n = headerSize(keys.length);
      for (const k of keys) {
        if (!isWellFormed(k)) throw new TreeError('invalid', 'map key holds a lone surrogate');
        n += strSize(utf8Length(k)) + valueSize(v[k], depth - 1);
      }
      return n;
    }
  }
  throw new TreeError('invalid', `${typeof v} is not a value`);
}

/** Encoded size of a value already checked (null counts 1). */
export function sizeOfValue(v: Value): number {
  return valueSize(v, Infinity);
}

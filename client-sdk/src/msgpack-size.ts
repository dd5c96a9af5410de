/**
 * Sizes of MessagePack encodings, as the Go server writes them: what the op,
 * value and document limits of the `tree` and `rich` types measure, counted
 * without encoding.
 * @module
 */

/** Number of bytes of `s` in UTF-8 (a lone surrogate counts 3, as U+FFFD would). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Size of a MessagePack string of `bytes` UTF-8 bytes, header included. */
export function strSize(bytes: number): number {
  return (bytes < 32 ? 1 : bytes <= 0xff ? 2 : bytes <= 0xffff ? 3 : 5) + bytes;
}

/** Size of a MessagePack array or map header for `n` items. */
export function headerSize(n: number): number {
  return n < 16 ? 1 : n <= 0xffff ? 3 : 5;
}

/** Size of a MessagePack integer. */
export function intSize(v: number): number {
  if (v >= -32 && v <= 0x7f) return 1;
  if (v >= -128 && v <= 0xff) return 2;
  if (v >= -32768 && v <= 0xffff) return 3;
  if (v >= -0x80000000 && v <= 0xffffffff) return 5;
  return 9;
}

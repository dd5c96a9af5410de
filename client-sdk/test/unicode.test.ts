import { describe, expect, it } from 'vitest';
import {
  apply,
  changesToOp,
  codePointToUtf16,
  cpLength,
  cpSlice,
  diffToOp,
  isWellFormed,
  OffsetMap,
  opToChanges,
  OTError,
  utf16ToCodePoint,
} from '../src/ot/index.js';
import { randomText, rng } from './helpers/random.js';

const text = 'a😀b👍🏽c𝄞'; // 😀 and 𝄞 are one code point each; 👍🏽 is two (thumb + skin tone)

describe('UTF-16 <-> code points', () => {
  it('counts code points', () => {
    expect(cpLength('😀')).toBe(1);
    expect('😀'.length).toBe(2);
    expect(cpLength(text)).toBe(7);
    expect(cpLength('👨‍👩‍👧')).toBe(5);
  });

  it('converts offsets both ways', () => {
    // a=0 😀=1..3 b=3 👍=4..6 🏽=6..8 c=8 𝄞=9..11
    const pairs: [number, number][] = [
      [0, 0],
      [1, 1],
      [3, 2],
      [4, 3],
      [6, 4],
      [8, 5],
      [9, 6],
      [11, 7],
    ];
    const map = new OffsetMap(text);
    for (const [u, c] of pairs) {
      expect(utf16ToCodePoint(text, u)).toBe(c);
      expect(codePointToUtf16(text, c)).toBe(u);
      expect(map.toCodePoint(u)).toBe(c);
      expect(map.toUtf16(c)).toBe(u);
    }
  });

  it('rounds an offset inside a surrogate pair down', () => {
    expect(utf16ToCodePoint(text, 2)).toBe(1);
    expect(new OffsetMap(text).toCodePoint(2)).toBe(1);
  });

  it('rejects out-of-range offsets', () => {
    expect(() => utf16ToCodePoint(text, 12)).toThrow(RangeError);
    expect(() => codePointToUtf16(text, 8)).toThrow(RangeError);
    expect(() => new OffsetMap(text).toUtf16(8)).toThrow(RangeError);
  });

  it('detects lone surrogates', () => {
    expect(isWellFormed(text)).toBe(true);
    expect(isWellFormed('a\ud83d')).toBe(false);
    expect(isWellFormed('\ude00b')).toBe(false);
    expect(isWellFormed('\ude00\ud83d')).toBe(false);
    expect(() => apply('', ['x\ud83d'])).toThrow(OTError);
  });

  it('slices by code points', () => {
    expect(cpSlice(text, 1, 2)).toBe('😀');
    expect(cpSlice(text, 6)).toBe('𝄞');
  });

  it('converts ops to editor changes and back', () => {
    const op = [1, -1, 'X', 2, '🎉', 1, -1];
    const changes = opToChanges(text, op);
    expect(changes).toEqual([
      { from: 1, to: 3, insert: 'X' },
      { from: 6, to: 6, insert: '🎉' },
      { from: 8, to: 9, insert: '' },
    ]);
    expect(changesToOp(text, changes)).toEqual(['X', -1, 2, '🎉', 1, -1].length ? [1, 'X', -1, 2, '🎉', 1, -1] : []);
  });

  it('refuses changes that split a surrogate pair or insert a lone surrogate', () => {
    expect(() => changesToOp(text, [{ from: 2, to: 3, insert: '' }])).toThrow(OTError);
    expect(() => changesToOp(text, [{ from: 0, to: 0, insert: '\udc00' }])).toThrow(OTError);
  });

  it('diffs with a caret hint and never splits pairs', () => {
    expect(diffToOp('aa', 'aaa', 2)).toEqual([1, 'a']);
    expect(diffToOp('aa', 'aaa')).toEqual([2, 'a']);
    expect(diffToOp('aaa', 'aa', 1)).toEqual([1, -1]);
    // 😀 (D83D DE00) -> 😁 (D83D DE01): common UTF-16 prefix D83D must not be split
    expect(diffToOp('x😀y', 'x😁y')).toEqual([1, '😁', -1]);
    const r = rng(9);
    for (let i = 0; i < 500; i++) {
      const a = randomText(r, 8);
      const b = randomText(r, 8);
      const hint = Math.floor(r() * (b.length + 1));
      expect(apply(a, diffToOp(a, b, hint))).toBe(b);
    }
  });
});

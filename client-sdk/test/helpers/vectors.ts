/* Reading the shared test vectors (testdata/*-vectors.json, run by Go too) and the error kinds they name. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { KindError } from '../../src/ot/errors.js';

/** The vectors of testdata/`file`, read by relative path from this helper. */
export function readVectors<T>(file: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../../../testdata/${file}`, import.meta.url)), 'utf8')) as T;
}

/**
 * Checks what the Go side (internal/vectortest) checks of the same file: it
 * keeps its `$comment`, it has exactly the sections the test runs, and each
 * has at least `min` vectors. A section that groups several lists (tree's
 * `keys`) is named by its lists, `keys.between`.
 */
export function expectSections(vectors: object, sections: readonly string[], min = 1): void {
  const file = vectors as Record<string, unknown>;
  expect(typeof file.$comment === 'string' && file.$comment.length > 0, '$comment').toBe(true);
  const have: string[] = [];
  for (const [key, value] of Object.entries(file)) {
    if (key === '$comment') continue;
    if (Array.isArray(value) || value === null || typeof value !== 'object') {
      have.push(key);
      continue;
    }
    for (const sub of Object.keys(value)) have.push(`${key}.${sub}`);
  }
  expect(have.sort()).toEqual([...sections].sort());
  for (const path of sections) {
    const list = path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], file);
    expect(Array.isArray(list) ? list.length : -1, path).toBeGreaterThanOrEqual(min);
  }
}

/** The kind of the document-type error (`OTError`, `RichError`, `TreeError`) `fn` throws; undefined when it throws none. */
export function errorKind(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KindError) return e.kind;
    throw e;
  }
  return undefined;
}

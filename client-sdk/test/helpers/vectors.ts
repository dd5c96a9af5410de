/* Reading the shared test vectors (testdata/*-vectors.json, run by Go too) and the error kinds they name. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KindError } from '../../src/ot/errors.js';

/** The vectors of testdata/`file`, read by relative path from this helper. */
export function readVectors<T>(file: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../../../testdata/${file}`, import.meta.url)), 'utf8')) as T;
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

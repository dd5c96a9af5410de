/**
 * The Go binary embeds the demo from server/demo/dist, which is committed so
 * that `go build` needs no npm. This rebuilds the demo from client-sdk/demo and
 * the SDK sources and checks that the committed bundle is exactly that build:
 * a change to the SDK or the demo without `npm run build:demo` fails here.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const committed = path.resolve(here, '../../server/demo/dist');

async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, full), await readFile(full));
  }
  return out;
}

describe('embedded demo bundle', () => {
  it('server/demo/dist is the current build of client-sdk/demo (run `npm run build:demo` after changing them)', async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), 'tandem-demo-'));
    try {
      await build({
        configFile: path.resolve(here, '../vite.demo.config.ts'),
        logLevel: 'silent',
        build: { outDir, emptyOutDir: true },
      });
      const want = await files(outDir);
      const got = await files(committed);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, body] of want) expect(got.get(name)?.equals(body), `${name} differs`).toBe(true);
      const total = [...want.values()].reduce((n, b) => n + b.length, 0);
      // Minified: two pages (the text demo with CodeMirror, the rich-text demo with Tiptap) share the SDK's chunk.
      expect(total).toBeLessThan(1536 * 1024); // Quill (for ?editor=quill) is a chunk of its own, loaded only there
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});

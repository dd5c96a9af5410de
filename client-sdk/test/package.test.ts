/**
 * The built package (npm test builds it first) loads in plain Node through its
 * `exports` map, as an installed package would: every entry point resolves
 * and its declared names are there.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

describe('built package', () => {
  it('every entry point imports in Node by package name, with types next to it', async () => {
    expect(existsSync(path.join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true);
    const script = `
      const m = await import('@tandem/client');
      const ot = await import('@tandem/client/ot');
      const rich = await import('@tandem/client/rich');
      const ta = await import('@tandem/client/textarea');
      const cm = await import('@tandem/client/codemirror');
      const pm = await import('@tandem/client/prosemirror');
      const quill = await import('@tandem/client/quill');
      console.log(JSON.stringify({
        main: [typeof m.Connection, typeof m.TextDoc, typeof m.ot.apply, m.SUBPROTOCOL],
        ot: [typeof ot.transform, typeof ot.diffLinesToOp, ot.cpLength('a😀')],
        rich: [typeof rich.transform, JSON.stringify(rich.apply(['a\\n'], [1, { r: 1, a: { heading: 1 } }]))],
        textarea: typeof ta.bindTextarea,
        codemirror: typeof cm.tandemCollab,
        prosemirror: [typeof pm.docToDelta, typeof pm.transactionToOp, pm.HARD_BREAK],
        quill: [typeof quill.quillToOp, quill.opToQuill([1, 'x'], '😀\\n')],
      }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    expect(JSON.parse(stdout)).toEqual({
      main: ['function', 'function', 'function', 'tandem.v1'],
      ot: ['function', 'function', 2],
      rich: ['function', '["a",{"i":"\\n","a":{"heading":1}}]'],
      textarea: 'function',
      codemirror: 'function',
      prosemirror: ['function', 'function', '\u2028'],
      quill: ['function', [{ retain: 2 }, { insert: 'x' }]],
    });
    for (const d of ['index.d.ts', 'ot/index.d.ts', 'rich/index.d.ts', 'bindings/textarea.d.ts', 'bindings/codemirror.d.ts', 'bindings/prosemirror.d.ts', 'bindings/quill.d.ts']) {
      expect(existsSync(path.join(root, 'dist', d)), d).toBe(true);
    }
  });
});

/**
 * The built package (npm test builds it first) loads in plain Node through its
 * `exports` map, as an installed package would: every entry point resolves
 * and its declared names are there, from ES modules and from a default
 * CommonJS project (`require`), with TypeScript types for both.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
      const tree = await import('@tandem/client/tree');
      const rich = await import('@tandem/client/rich');
      const ta = await import('@tandem/client/textarea');
      const cm = await import('@tandem/client/codemirror');
      const pm = await import('@tandem/client/prosemirror');
      const quill = await import('@tandem/client/quill');
      const tiptap = await import('@tandem/client/tiptap');
      console.log(JSON.stringify({
        richDoc: [typeof m.RichDoc, typeof m.Connection.prototype.openRich, typeof pm.tandemPlugin, typeof tiptap.TandemCollaboration.configure],
        main: [typeof m.Connection, typeof m.TextDoc, typeof m.ot.apply, typeof m.TandemError, typeof m.TreeDoc, typeof m.TreePresence],
        // Only the public API: not the emitter, not the frame codec.
        internal: ['Emitter', 'SUBPROTOCOL', 'PROTO_VERSION', 'encodeMessage', 'decodeFrame', 'ProtocolError', 'DocState', 'DocSession'].filter((n) => n in m),
        ot: [typeof ot.transform, typeof ot.diffLinesToOp, ot.cpLength('a😀')],
        tree: [typeof tree.TreeContent, typeof tree.transform, tree.keyBetween(null, null)],
        rich: [typeof rich.transform, JSON.stringify(rich.apply(['a\\n'], [1, { r: 1, a: { heading: 1 } }]))],
        textarea: typeof ta.bindTextarea,
        codemirror: typeof cm.tandemCollab,
        prosemirror: [typeof pm.docToDelta, typeof pm.transactionToOp, pm.HARD_BREAK],
        quill: [typeof quill.quillToOp, quill.opToQuill([1, 'x'], '😀\\n')],
      }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    expect(JSON.parse(stdout)).toEqual({
      richDoc: ['function', 'function', 'function', 'function'],
      main: ['function', 'function', 'function', 'function', 'function', 'function'],
      internal: [],
      ot: ['function', 'function', 2],
      tree: ['function', 'function', 'a0'],
      rich: ['function', '["a",{"i":"\\n","a":{"heading":1}}]'],
      textarea: 'function',
      codemirror: 'function',
      prosemirror: ['function', 'function', '\u2028'],
      quill: ['function', [{ retain: 2 }, { insert: 'x' }]],
    });
    for (const d of ['index.d.ts', 'ot/index.d.ts', 'tree/index.d.ts', 'rich/index.d.ts', 'bindings/textarea.d.ts', 'bindings/codemirror.d.ts', 'bindings/prosemirror.d.ts', 'bindings/tiptap.d.ts', 'bindings/quill.d.ts']) {
      expect(existsSync(path.join(root, 'dist', d)), d).toBe(true);
    }
  });

  it('a default CommonJS project requires every entry point, and TypeScript (node16) types it without ESM errors', async () => {
    // What `npm init -y && npm install @tandem/client` makes: no "type", so CommonJS.
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-cjs-consumer-'));
    try {
      await mkdir(path.join(dir, 'node_modules', '@tandem'), { recursive: true });
      await symlink(root, path.join(dir, 'node_modules', '@tandem', 'client'), 'dir');
      await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', main: 'index.js' }));
      const script = `
        const m = require('@tandem/client');
        const ot = require('@tandem/client/ot');
        const ta = require('@tandem/client/textarea');
        const cm = require('@tandem/client/codemirror');
        const pm = require('@tandem/client/prosemirror');
        const quill = require('@tandem/client/quill');
        const tiptap = require('@tandem/client/tiptap');
        let thrown = '';
        try { new m.Connection({ url: 'ws://127.0.0.1:1/v1/ws' }); } catch (e) { thrown = e.constructor.name; }
        console.log(JSON.stringify({
          main: [typeof m.Connection, typeof m.TextDoc, typeof m.ot.apply, typeof m.TandemError, typeof m.SharedDoc],
          internal: ['Emitter', 'SUBPROTOCOL', 'encodeMessage', 'decodeFrame'].filter((n) => n in m),
          ot: [typeof ot.transform, ot.cpLength('a😀')],
          textarea: typeof ta.bindTextarea,
          codemirror: typeof cm.tandemCollab,
          prosemirror: [typeof pm.docToDelta, typeof pm.transactionToOp, typeof pm.tandemPlugin],
          tiptap: typeof tiptap.TandemCollaboration.configure,
          quill: quill.opToQuill([1, 'x'], '😀\\n'),
          thrown,
        }));`;
      const { stdout } = await run(process.execPath, ['-e', script], { cwd: dir });
      expect(JSON.parse(stdout)).toEqual({
        main: ['function', 'function', 'function', 'function', 'function'],
        internal: [],
        ot: ['function', 2],
        textarea: 'function',
        codemirror: 'function',
        prosemirror: ['function', 'function', 'function'],
        tiptap: 'function',
        quill: [{ retain: 2 }, { insert: 'x' }],
        thrown: 'TypeError',
      });

      await writeFile(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['index.ts'] }),
      );
      await writeFile(
        path.join(dir, 'index.ts'),
        `import { Connection, TandemError, type ConnectionError, type DocChange, type Peer, type SharedDoc } from '@tandem/client';
import { cpLength } from '@tandem/client/ot';
import { tandemCollab } from '@tandem/client/codemirror';
import { opToQuill } from '@tandem/client/quill';
import { docToDelta, tandemPlugin } from '@tandem/client/prosemirror';
import { TandemCollaboration } from '@tandem/client/tiptap';
import type { RichDoc, Delta } from '@tandem/client';
declare const WS: import('@tandem/client').WebSocketConstructor;
const conn = new Connection({ url: 'ws://x/v1/ws', WebSocket: WS, connectAttempts: 3 });
conn.on('error', (e: ConnectionError) => e.httpStatus ?? e.errno);
const doc = conn.openDoc('d');
const done: Promise<void> = doc.whenSynced();
doc.on('change', (c: DocChange) => c.before.length + c.op.length);
doc.presence.setSelectionUtf16([[0, 0]]);
const peers: Peer[] = doc.presence.getPeers();
const all: SharedDoc<unknown, unknown, unknown>[] = conn.openDocs;
export const text: string = doc.text + String(peers.length + all.length);
export const n: number = cpLength('x');
const rich: RichDoc = conn.openRich('r');
rich.format(0, 1, { bold: true });
export const delta: Delta = rich.delta();
export { done, tandemCollab, TandemError, opToQuill, docToDelta, tandemPlugin, TandemCollaboration };
`,
      );
      const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const res = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(
        () => '',
        (e: { stdout?: string }) => e.stdout ?? String(e),
      );
      expect(res, 'tsc errors in a CommonJS consumer').toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The SDK's module structure: no import cycle among src/ files (type-only
 * imports included), no `_`-prefixed method that other modules could call,
 * and the pure state free of sockets, timers and emitters.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The relative imports of one file (static, `export ... from`, dynamic, type-only), resolved to files. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((s) => s.startsWith('.'))
    .map((s) => {
      const p = path.resolve(path.dirname(file), s);
      return p.endsWith('.js') ? p.slice(0, -3) + '.ts' : p.endsWith('.ts') ? p : path.join(p, 'index.ts');
    });
}

/** The import cycles of a graph, each as a list of files (Tarjan's strongly connected components). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.map((f) => path.relative(src, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('module structure', () => {
  const files = sources(src);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it('finds the modules and their imports', () => {
    expect(files.length).toBeGreaterThan(15);
    expect(graph.get(path.join(src, 'connection.ts'))).toContain(path.join(src, 'session.ts'));
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('the cycle check sees a cycle', () => {
    const a = path.join(src, 'a.ts');
    const b = path.join(src, 'b.ts');
    expect(cycles(new Map([[a, [b]], [b, [a]]]))).toEqual([['a.ts', 'b.ts']]);
  });

  it('no module imports the connection but the index', () => {
    const importers = files.filter((f) => graph.get(f)?.includes(path.join(src, 'connection.ts'))).map((f) => path.relative(src, f));
    expect(importers).toEqual(['index.ts']);
  });

  it('has no _-prefixed methods or properties other modules could call', () => {
    const found: string[] = [];
    for (const f of files) {
      const sf = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true);
      const walk = (n: ts.Node): void => {
        if (ts.isClassElement(n) && n.name !== undefined && ts.isIdentifier(n.name) && n.name.text.startsWith('_')) {
          const mods = ts.canHaveModifiers(n) ? (ts.getModifiers(n) ?? []) : [];
          if (!mods.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) found.push(`${path.relative(src, f)}: ${n.name.text}`);
        }
        ts.forEachChild(n, walk);
      };
      walk(sf);
    }
    expect(found).toEqual([]);
  });

  it('the pure state has no sockets, timers or emitters', () => {
    for (const f of ['state.ts', 'undo-stack.ts', 'doctype.ts']) {
      const text = readFileSync(path.join(src, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(text, f).not.toMatch(/setTimeout|setInterval|WebSocket|Emitter|Date\.now|\bemit\(/);
      const deps = (graph.get(path.join(src, f)) ?? []).map((d) => path.relative(src, d));
      expect(deps.filter((d) => !['doctype.ts', 'errors.ts', 'protocol.ts', 'types.ts', 'undo-stack.ts'].includes(d)), f).toEqual([]);
    }
  });
});

import { defineConfig, type Plugin } from 'vite';

/**
 * Marks dist/cjs as CommonJS: the package is `"type": "module"`, so without
 * this Node and TypeScript would read dist/cjs/*.js and its declarations as
 * ES modules.
 */
function commonjsMarker(): Plugin {
  return {
    name: 'tandem-cjs-package-json',
    generateBundle(options) {
      if (options.format !== 'cjs') return;
      this.emitFile({ type: 'asset', fileName: 'cjs/package.json', source: '{\n  "type": "commonjs"\n}\n' });
    },
  };
}

// Library build: one module per entry point, as ES modules in dist/ and as
// CommonJS in dist/cjs/ (for `require`); dependencies stay external.
export default defineConfig({
  plugins: [commonjsMarker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    minify: false,
    lib: {
      entry: {
        index: 'src/index.ts',
        ot: 'src/ot/index.ts',
        tree: 'src/tree/index.ts',
        rich: 'src/rich/index.ts',
        textarea: 'src/bindings/textarea.ts',
        codemirror: 'src/bindings/codemirror.ts',
        prosemirror: 'src/bindings/prosemirror.ts',
        tiptap: 'src/bindings/tiptap.ts',
        quill: 'src/bindings/quill.ts',
      },
    },
    rollupOptions: {
      external: [/^@msgpack\//, /^@codemirror\//, /^@tiptap\//, /^prosemirror-/, /^quill(-delta)?(\/|$)/],
      output: [
        { format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
        { format: 'cjs', exports: 'named', entryFileNames: 'cjs/[name].js', chunkFileNames: 'cjs/[name]-[hash].js' },
      ],
    },
  },
});

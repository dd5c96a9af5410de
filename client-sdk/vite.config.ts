import { defineConfig } from 'vite';

// Library build: one ES module per entry point; dependencies stay external.
export default defineConfig({
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
        rich: 'src/rich/index.ts',
        textarea: 'src/bindings/textarea.ts',
        codemirror: 'src/bindings/codemirror.ts',
        prosemirror: 'src/bindings/prosemirror.ts',
        quill: 'src/bindings/quill.ts',
      },
      formats: ['es'],
    },
    rollupOptions: {
      external: [/^@msgpack\//, /^@codemirror\//, /^@tiptap\//, /^prosemirror-/, /^quill(-delta)?(\/|$)/],
    },
  },
});

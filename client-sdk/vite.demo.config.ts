import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Builds the demo pages into ../server/demo/dist, which the Go server embeds and
// serves: the text editor at /demo/, rich text at /demo/rich/, the canvas at /demo/canvas/.
export default defineConfig({
  root: fileURLToPath(new URL('./demo', import.meta.url)),
  base: '/demo/',
  // Tiptap reads NODE_ENV: the bundle is the production one whoever builds it (vitest sets NODE_ENV=test).
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    outDir: fileURLToPath(new URL('../server/demo/dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
    rollupOptions: {
      // One page per demo: /demo/ (text), /demo/rich/ (rich text) and /demo/canvas/ (tree).
      input: {
        index: fileURLToPath(new URL('./demo/index.html', import.meta.url)),
        rich: fileURLToPath(new URL('./demo/rich/index.html', import.meta.url)),
        canvas: fileURLToPath(new URL('./demo/canvas/index.html', import.meta.url)),
      },
    },
  },
  server: {
    // `npx vite --config vite.demo.config.ts` with a local server on :8080.
    proxy: { '/v1': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});

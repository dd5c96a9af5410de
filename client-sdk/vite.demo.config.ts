import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Builds the demo page into ../server/demo/dist, which the Go server embeds and serves at /demo/.
export default defineConfig({
  root: fileURLToPath(new URL('./demo', import.meta.url)),
  base: '/demo/',
  build: {
    outDir: fileURLToPath(new URL('../server/demo/dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `npx vite --config vite.demo.config.ts` with a local server on :8080.
    proxy: { '/v1': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});

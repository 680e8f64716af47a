/**
 * Builds the console into dist/console, which src/functions/console.ts serves at /console/ (the host's
 * routePrefix is empty, see host.json). Content-hashed file names let the function cache assets for good;
 * everything is bundled from node_modules, nothing is loaded from a CDN.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/console/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/console'),
    emptyOutDir: true,
    // The page's Content-Security-Policy allows no inline script: keep every module and style in a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
});

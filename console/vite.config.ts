import { defineConfig } from 'vite';

// The console is built into console/dist and committed; the hub serves it at /console/.
// `npm run check:console` rebuilds it and fails when the committed files differ.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Chromium, Firefox and Safari all support modulepreload: no polyfill in the bundle.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 250,
  },
});

// Renderer build: `npx vite build --config renderer/vite.config.ts` -> renderer/dist (relative asset
// URLs so the same build loads from the desktop app's custom protocol and from the web server).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/** This folder as a file-system path (no Node imports here: the renderer layer rule covers this file too). */
function here(): string {
  const p = decodeURIComponent(new URL('.', import.meta.url).pathname);
  return /^\/[A-Za-z]:\//.test(p) ? p.slice(1) : p;
}

const root = here();

export default defineConfig({
  root,
  base: './',
  plugins: [react()],
  build: {
    outDir: `${root}dist`,
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
  server: { host: '127.0.0.1' },
});

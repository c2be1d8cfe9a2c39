import { defineConfig } from 'vitest/config';

/**
 * Two builds from one config:
 *  - the page (default mode): index.html (the VM page) and embed.html (two VMs in a
 *    documentation page), each with the emulator in a module Web Worker; `npm run dev`,
 *    `npm run build` → dist/, `npm run preview`.
 *  - the library (`vite build --mode lib`): src/ui/embed.ts → dist/lib/virtlite.js (ES module:
 *    `<virtlite-vm>` and `createVM`), its worker in dist/lib/assets/. Built after the page, into
 *    dist/lib, so `npm run preview` serves it at /lib/virtlite.js too.
 *
 * Headers: none are required. virtlite uses no SharedArrayBuffer, so the page does not need
 * cross-origin isolation (COOP/COEP); the worker is a same-origin module worker. Serve
 * public/kernels/* with compression if you can (the initramfs is stored uncompressed).
 */
export default defineConfig(({ mode }) => ({
  // The library finds its worker relative to itself (new URL('./assets/…', import.meta.url)).
  base: mode === 'lib' ? './' : '/',
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true },
  worker: { format: 'es' as const },
  build:
    mode === 'lib'
      ? {
          target: 'es2022',
          sourcemap: true,
          outDir: 'dist/lib',
          emptyOutDir: true,
          copyPublicDir: false,
          lib: { entry: 'src/ui/embed.ts', formats: ['es' as const], fileName: () => 'virtlite.js' },
        }
      : {
          target: 'es2022',
          sourcemap: true,
          rolldownOptions: { input: { main: 'index.html', embed: 'embed.html' } },
        },
  test: {
    include: ['src/**/*.test.ts', 'guest/**/*.test.ts', 'bench/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
  },
}));

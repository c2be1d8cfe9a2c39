import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests drive Debian's chromium package (browsers cannot be downloaded here). Each
 * test gets a fresh browser context (Playwright launches chromium with a new temporary profile,
 * i.e. a fresh user-data dir). The page and the library are served from the production build
 * (`vite build`, `vite build --mode lib`, `vite preview`).
 *
 * Boots are slow (an interpreter, about 20 MIPS): the suite boots the guest to its shell three
 * times (the page, and two VMs side by side on the embed page) and a few times to the kernel's
 * first messages; tests that boot set their own, generous timeouts.
 */
const CHROMIUM = process.env.VIRTLITE_CHROMIUM ?? '/usr/bin/chromium';
const PORT = 4173;

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: CHROMIUM,
      // Root in a container: no sandbox; no GPU; nothing that calls home on a closed network.
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--disable-quic', '--no-first-run',
      ],
    },
  },
  webServer: {
    command:
      `npx vite build --logLevel warn && npx vite build --mode lib --logLevel warn && ` +
      `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: false,
    timeout: 120_000,
  },
});

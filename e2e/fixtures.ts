/**
 * Shared Playwright fixtures: `errors` collects uncaught page errors and console errors of the
 * page, so each test can assert that the page ran cleanly.
 */
import { test as base } from '@playwright/test';

export { expect } from '@playwright/test';

/** How long a boot to the shell may take: an interpreter, on a shared 2-core CI machine. */
export const BOOT_TIMEOUT = 240_000;

export const test = base.extend<{ errors: string[] }>({
  errors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    await use(errors);
  },
});

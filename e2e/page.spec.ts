import { expect, test } from '@playwright/test';

test('the page opens, loads the default kernel and says honestly what it can do', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto('/');
  const terminal = page.locator('#terminal .xterm-rows');
  await expect(terminal).toContainText('kernel: Linux 6.1', { timeout: 30_000 });
  await expect(terminal).toContainText('cannot boot yet');
  await expect(page.locator('#status')).toHaveText(/kernel loaded/);
  expect(errors).toEqual([]);
});

test('a failed download is shown in the page, which keeps working', async ({ page }) => {
  await page.route('**/kernels/bzImage', (route) => route.fulfill({ status: 404, body: 'gone' }));
  await page.goto('/');
  await expect(page.locator('#status')).toHaveText(/download of .*bzImage failed: HTTP 404/);
  await expect(page.locator('#status')).toHaveClass(/error/);
});

import { bootVm } from '../src/testing/playwright.ts';
import { BOOT_TIMEOUT, expect, test } from './fixtures.ts';

// The page (index.html) served from the production build. One full boot to the shell, plus
// early boots (to the kernel's first messages) for the error and recovery paths.

const terminal = '#vm .xterm-rows';

test('open the page: Linux boots in a worker to a shell; type a command and read its output', async ({ page, errors }) => {
  test.setTimeout(BOOT_TIMEOUT + 120_000);
  await page.goto('/');
  // The kernel's first messages arrive within seconds; then the boot stages advance.
  await expect(page.locator(terminal)).toContainText(/\[\s*\d+\.\d+\]/, { timeout: 60_000 });
  const vm = await bootVm(page, { timeoutMs: BOOT_TIMEOUT });
  await expect(page.locator('#stage')).toHaveText('shell ready');
  await expect(page.locator('#progress-boot')).toHaveJSProperty('value', 5);

  // Type at the shell like a person: the answer appears on the terminal.
  await page.locator('#vm .xterm').click();
  await page.keyboard.type('echo $((6*7))-from-the-keyboard\n');
  await expect(page.locator(terminal)).toContainText('42-from-the-keyboard', { timeout: 30_000 });

  // The helper runs commands with their exit status.
  expect(await vm.exec('uname -m')).toEqual({ stdout: 'x86_64\n', exitCode: 0 });
  expect((await vm.exec('false')).exitCode).toBe(1);
  const missing = await vm.exec('cat /does-not-exist');
  expect(missing.exitCode).toBe(1);
  expect(missing.stdout).toContain('No such file or directory');

  // Statistics: MIPS and the boot time are shown.
  await expect(page.locator('#stats')).toContainText(/\d+\.\d MIPS/);
  await expect(page.locator('#stats')).toContainText(/boot \d+\.\d s/);

  // An idle guest leaves the worker idle: the runner sleeps until the guest's next timer or
  // input. (The idle guest still takes its timer ticks, a few percent of a core; a spinning
  // worker would be near 100 %.)
  const stats = () => page.locator('#vm').evaluate((el) => (el as HTMLElementTagNameMap['virtlite-vm']).handle!.stats());
  await page.waitForTimeout(2000);
  const before = await stats();
  await page.waitForTimeout(3000);
  const after = await stats();
  expect((after.busyMs - before.busyMs) / 3000).toBeLessThan(0.25);
  await expect(page.locator('#stats')).toContainText('(guest idle)');

  // Leaving the shell powers the machine off; the page says so.
  await page.keyboard.type('exit\n');
  await expect(page.locator('#status')).toHaveText(/the guest powered off/, { timeout: 60_000 });

  // Reset after a poweroff boots a fresh machine.
  await page.locator('#reset').click();
  await expect(page.locator('#stage')).toHaveText(/Linux kernel running|kernel probing devices|userspace|shell ready/, { timeout: 60_000 });
  expect(errors).toEqual([]);
});

test('a failed download is shown in the page, which keeps working: boot again from the settings, into a guest crash', async ({ page, errors }) => {
  test.setTimeout(240_000);
  await page.route('**/kernels/bzImage', (route) => route.fulfill({ status: 404, body: 'gone' }));
  await page.goto('/');
  await expect(page.locator('#status')).toHaveText(/download of .*bzImage failed: HTTP 404/);
  await expect(page.locator('#status')).toHaveClass(/error/);
  await expect(page.locator('#error')).toBeVisible();
  await expect(page.locator(terminal)).toContainText('error: download of');

  // The page still works: choose settings and boot.
  await page.unroute('**/kernels/bzImage');
  await page.locator('#settings-toggle').click();
  await page.locator('#memory').selectOption('128');
  // No init to run: the guest kernel panics (and, with panic=0, stays down).
  await page.locator('#cmdline').fill('console=ttyS0 panic=0 rdinit=/does-not-exist virtlite.e2e=1');
  await page.locator('#boot').click();
  await expect(page.locator('#error')).toBeHidden();
  const output = () => page.locator('#vm').evaluate((el) => (el as HTMLElementTagNameMap['virtlite-vm']).vm?.output ?? '');
  await expect.poll(output, { timeout: 60_000 }).toContain('virtlite.e2e=1');
  expect(await output()).toMatch(/Linux version 6\.1/);
  await expect.poll(output, { timeout: 60_000 }).toMatch(/Memory: \d+K\/1\d{5}K available/); // 128 MiB of RAM
  await expect(page.locator('#stage')).not.toHaveText(/downloading|kernel loaded/);
  await expect(page.locator('#stats')).toContainText(/MIPS/, { timeout: 10_000 });

  // Pause stops the guest; resume lets it go on.
  await page.locator('#pause').click();
  await expect(page.locator('#pause')).toHaveText('Resume');
  const count = () => page.locator('#vm').evaluate(async (el) => (await (el as HTMLElementTagNameMap['virtlite-vm']).handle!.stats()).instructions);
  const paused = await count();
  await page.waitForTimeout(500);
  expect(await count()).toBe(paused);
  await page.locator('#pause').click();
  await expect(page.locator('#pause')).toHaveText('Pause');

  // Reset reboots the running machine in place: the kernel starts over.
  await page.locator('#reset').click();
  await expect.poll(async () => (await output()).split('Linux version').length - 1, { timeout: 60_000 }).toBe(2);

  // The guest's crash is shown in the page.
  await expect(page.locator('#status')).toHaveText(/guest kernel panic: .*Unable to mount root fs/, { timeout: 120_000 });
  await expect(page.locator('#error')).toBeVisible();

  // The only errors are the browser's report of the 404 itself.
  expect(errors.filter((e) => !/404/.test(e))).toEqual([]);
});

test('a file that is not a kernel is refused with the reason, in the page', async ({ page, errors }) => {
  await page.route('**/kernels/bzImage', (route) => route.fulfill({ status: 200, body: 'I am not a kernel'.repeat(64) }));
  await page.goto('/');
  await expect(page.locator('#status')).toHaveText(/"HdrS" boot-protocol magic is missing/);
  await expect(page.locator('#error')).toBeVisible();
  await expect(page.locator('#reset')).toBeEnabled();
  expect(errors).toEqual([]);
});

import { bootVm } from '../src/testing/playwright.ts';
import { BOOT_TIMEOUT, expect, test } from './fixtures.ts';

// The documentation example (embed.html): two <virtlite-vm> elements boot side by side, each in
// its own worker, their eth0 cards on one BroadcastChannel ("lan0"): they ping each other; and the library build (dist/lib/virtlite.js) works on a page of its own.

test('the embed page boots two VMs side by side and runs commands in each', async ({ page, errors }) => {
  test.setTimeout(2 * BOOT_TIMEOUT);
  await page.goto('/embed.html');
  const [left, right] = await Promise.all([
    bootVm(page, { selector: '#left', timeoutMs: 2 * BOOT_TIMEOUT - 60_000 }),
    bootVm(page, { selector: '#right', timeoutMs: 2 * BOOT_TIMEOUT - 60_000 }),
  ]);
  // Two machines, each with its own memory size and command line.
  const memTotal = async (vm: typeof left) => Number(/MemTotal:\s+(\d+) kB/.exec((await vm.exec('cat /proc/meminfo')).stdout)?.[1]);
  const [leftMem, rightMem] = [await memTotal(left), await memTotal(right)];
  expect(leftMem).toBeLessThan(128 * 1024);
  expect(rightMem).toBeGreaterThan(128 * 1024);
  expect(rightMem).toBeLessThan(192 * 1024);
  expect((await right.exec('cat /proc/cmdline')).stdout).toContain('virtlite.side=right');
  expect((await left.exec('cat /proc/cmdline')).stdout).not.toContain('virtlite.side=right');
  expect(await left.exec('sh -c "exit 3"')).toEqual({ stdout: '', exitCode: 3 });

  // One network between the two workers: each has an eth0 (its own MAC) on broadcast:lan0.
  const nets = await Promise.all(['#left', '#right'].map((id) => page.locator(id).evaluate((el) => (el as HTMLElementTagNameMap['virtlite-vm']).info?.net)));
  expect(nets.map((n) => n?.name)).toEqual(['broadcast:lan0', 'broadcast:lan0']);
  expect(nets[0]!.mac).not.toBe(nets[1]!.mac);
  expect(await left.exec('ifconfig eth0 10.0.0.1 netmask 255.255.255.0 up')).toEqual({ stdout: '', exitCode: 0 });
  expect(await right.exec('ifconfig eth0 10.0.0.2 netmask 255.255.255.0 up')).toEqual({ stdout: '', exitCode: 0 });
  const ping = await left.exec('ping -c 2 -W 10 10.0.0.2', { timeoutMs: 60_000 });
  expect(ping.exitCode, ping.stdout).toBe(0);
  expect(ping.stdout).toMatch(/2 packets transmitted, 2 packets received/);
  // The right VM learnt the left one's MAC from the exchange (received frames, both ways).
  expect((await right.exec('cat /proc/net/arp')).stdout).toContain(nets[0]!.mac);

  // The page's own button runs `free -m` in both through the element API.
  await page.locator('#run').click();
  await expect(page.locator('#result')).toContainText('left (exit status 0)', { timeout: 60_000 });
  await expect(page.locator('#result')).toContainText('right (exit status 0)');
  await expect(page.locator('#result')).toContainText('Mem:');
  expect(errors).toEqual([]);
});

test('the library build registers the element and gives createVM to a page of its own', async ({ page, errors }) => {
  test.setTimeout(120_000);
  // A page that is not part of the build: only /lib/virtlite.js and its worker.
  await page.route('**/lib-test.html', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html><head><link rel="icon" href="data:,"></head><body>
        <script type="module">
          import { createVM, VirtliteVmElement } from '/lib/virtlite.js';
          window.result = (async () => {
            const { vm, ready, terminate } = createVM({ kernel: '/kernels/bzImage', initrd: null, ramSize: 64 * 1024 * 1024 });
            const info = await ready;
            await vm.waitFor('Linux version', { timeoutMs: 90000 });
            terminate();
            return { defined: customElements.get('virtlite-vm') === VirtliteVmElement, kernel: info.kernel, ramSize: info.ramSize };
          })();
        </script></body></html>`,
    }),
  );
  await page.goto('/lib-test.html');
  const result = await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result);
  expect(result).toEqual({ defined: true, kernel: expect.stringMatching(/^Linux 6\.1/), ramSize: 64 * 1024 * 1024 });
  expect(errors).toEqual([]);
});

import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestDisk } from '../guest/test-disk.ts';
import { bootVm } from '../src/testing/playwright.ts';
import { BOOT_TIMEOUT, expect, test } from './fixtures.ts';

// The page with a disk at a URL (?disk=...): the guest mounts /dev/vda (read lazily with range
// requests), writes a file and syncs; after a page reload and a second boot the file is there
// (the overlay was saved in IndexedDB when the guest flushed). Two boots to the shell.
//
// The image is served by a small HTTP server of this test (another origin than the page, so
// the worker's requests are real CORS range requests), not by page.route (which does not see
// every request of a Web Worker in Chromium).

const dir = mkdtempSync(join(tmpdir(), 'virtlite-e2e-disk-'));
const imagePath = join(dir, 'test-disk.img');
makeTestDisk(imagePath);
const image = readFileSync(imagePath);

let server: Server;
let diskUrl = '';
const requests: { method: string; range: string | undefined; status: number }[] = [];

test.beforeAll(async () => {
  server = createServer((req, res) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'Range',
      'access-control-expose-headers': 'Content-Range, Content-Length, ETag, Accept-Ranges',
    };
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    const base = { ...cors, etag: '"test-disk-1"', 'accept-ranges': 'bytes' };
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const status = req.method === 'HEAD' || !m ? 200 : 206;
    requests.push({ method: req.method ?? '', range: req.headers.range, status });
    if (req.method === 'HEAD') return void res.writeHead(200, { ...base, 'content-length': image.length }).end();
    if (!m) return void res.writeHead(200, { ...base, 'content-length': image.length }).end(image);
    const first = Number(m[1]);
    const last = Math.min(Number(m[2]), image.length - 1);
    res.writeHead(206, { ...base, 'content-range': `bytes ${first}-${last}/${image.length}`, 'content-length': last - first + 1 });
    res.end(image.subarray(first, last + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no server address');
  diskUrl = `http://127.0.0.1:${address.port}/test-disk.img`;
});

test.afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

test('a disk at a URL: the guest writes and syncs a file, the page reloads, the file is still there', async ({ page, errors }) => {
  test.setTimeout(2 * BOOT_TIMEOUT + 60_000);
  const note = `synced before the reload ${Date.now()}`;

  await page.goto(`/?disk=${encodeURIComponent(diskUrl)}`);
  let vm = await bootVm(page, { timeoutMs: BOOT_TIMEOUT });
  await expect(page.locator('#disk-name')).toContainText('test-disk.img (4.0 MiB)');
  await expect(page.locator('#disk-state')).toHaveText('changes are saved when the guest syncs');
  expect((await vm.exec('dmesg -n 1')).exitCode).toBe(0); // kernel messages off the console
  expect(await vm.exec('mount /dev/vda /mnt && cat /mnt/hello.txt')).toEqual({ stdout: 'Hello from the virtlite test disk.\n', exitCode: 0 });
  expect((await vm.exec(`echo '${note}' > /mnt/note.txt && sync`)).exitCode).toBe(0);
  await expect(page.locator('#disk-state')).toContainText(/changes saved \(\d+ blocks/);

  // Lazy: range requests only, and less than the whole image.
  expect(requests.filter((r) => r.method === 'GET').every((r) => r.status === 206)).toBe(true);
  const fetched = requests.reduce((n, r) => {
    const m = /bytes=(\d+)-(\d+)/.exec(r.range ?? '');
    return n + (m ? Number(m[2]) - Number(m[1]) + 1 : 0);
  }, 0);
  expect(fetched).toBeLessThan(image.length);

  await page.reload();
  vm = await bootVm(page, { timeoutMs: BOOT_TIMEOUT });
  await expect(page.locator('#disk-state')).toContainText(/\d+ changed blocks restored/);
  expect((await vm.exec('dmesg -n 1')).exitCode).toBe(0);
  expect(await vm.exec('mount /dev/vda /mnt && cat /mnt/note.txt')).toEqual({ stdout: `${note}\n`, exitCode: 0 });
  expect(await vm.exec('cd /mnt && sha256sum -c SHA256SUMS >/dev/null && echo sums-ok')).toEqual({ stdout: 'sums-ok\n', exitCode: 0 });
  // The image on the server never changed.
  expect(readFileSync(imagePath).equals(image)).toBe(true);
  expect(errors).toEqual([]);
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceBoot } from './reference-boot.ts';
import { makeTestDisk, testDiskFiles } from './test-disk.ts';

// The committed guest images, booted on QEMU's microvm: proves the images before virtlite's
// own CPU can run them. Each boot takes a few seconds of TCG.
const dir = mkdtempSync(join(tmpdir(), 'virtlite-ref-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([false, true])('default guest on QEMU microvm (pcie=%s)', (pcie) => {
  it('boots to the marker, runs commands with exit codes, reads the test disk, powers off', async () => {
    const disk = join(dir, `disk-${pcie}.img`);
    makeTestDisk(disk);
    const r = await referenceBoot({
      pcie,
      disk,
      timeoutMs: 90_000,
      commands: [
        'uname -m',
        'test -c /dev/ttyS0 && echo console ok',
        'grep -c processor /proc/cpuinfo',
        'mount -o ro /dev/vda /mnt && cd /mnt && sha256sum -c SHA256SUMS; cd /; umount /mnt',
        'false',
      ],
    });
    const [arch, tty, cpus, sums, no] = r.results;
    expect(arch!.output.trim()).toBe('x86_64');
    expect(tty!.output).toContain('console ok');
    expect(cpus!.output.trim()).toBe('1');
    expect(sums!.exitCode).toBe(0);
    for (const path of testDiskFiles().keys()) expect(sums!.output).toContain(`${path}: OK`);
    expect(no!.exitCode).toBe(1);
    expect(r.log).not.toMatch(/Kernel panic|Oops|BUG:|WARNING:/);
    expect(r.exitCode).toBe(0);
  }, 120_000);
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DISK_SIZE, makeTestDisk, sha256Hex, testDiskFiles, testDiskSums } from './test-disk.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtlite-disk-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function debugfsCat(image: string, path: string): Buffer {
  return execFileSync('debugfs', ['-R', `cat /${path}`, image], { stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('ext2 test disk', () => {
  it('holds every known file with its checksum, readable by e2fsprogs', () => {
    const image = join(dir, 'a.img');
    makeTestDisk(image);
    expect(readFileSync(image).length).toBe(TEST_DISK_SIZE);
    for (const [path, data] of testDiskFiles()) {
      expect(sha256Hex(debugfsCat(image, path)), path).toBe(sha256Hex(data));
    }
    expect(debugfsCat(image, 'SHA256SUMS').toString()).toBe(testDiskSums());
    execFileSync('e2fsck', ['-n', '-f', image], { stdio: 'ignore' }); // throws on a damaged fs
  });

  it('is reproducible byte for byte', () => {
    makeTestDisk(join(dir, 'b.img'));
    makeTestDisk(join(dir, 'c.img'));
    expect(sha256Hex(readFileSync(join(dir, 'b.img')))).toBe(sha256Hex(readFileSync(join(dir, 'c.img'))));
  });
});

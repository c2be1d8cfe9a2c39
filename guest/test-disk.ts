/**
 * The ext2 test disk for virtio-blk tests: a small image with known files and their SHA-256
 * sums, made at test time with mke2fs (e2fsprogs) from deterministic content. The same files
 * and sums are exported so that tests can check what the guest reads.
 *
 * Usage as a script: tsx guest/test-disk.ts OUTPUT.img
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Size of the image: small enough to make in milliseconds, big enough for a few files. */
export const TEST_DISK_SIZE = 4 * 1024 * 1024;
/** Fixed so that two runs make the same bytes (mke2fs honours E2FSPROGS_FAKE_TIME). */
const FIXED_UUID = '5ee0f1a7-0000-4000-8000-7669727466c1';
const FIXED_TIME = '1700000000';

/** Deterministic pseudo-random bytes (xorshift32), so data.bin needs no committed blob. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** The files on the disk, by path inside the file system. */
export function testDiskFiles(): Map<string, Uint8Array> {
  const text = (s: string) => new TextEncoder().encode(s);
  return new Map<string, Uint8Array>([
    ['hello.txt', text('Hello from the virtlite test disk.\n')],
    ['data.bin', pseudoRandomBytes(192 * 1024, 0x7669)],
    ['dir/nested/readme.txt', text('A file two directories down.\n')],
  ]);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Contents of SHA256SUMS on the disk, in `sha256sum -c` format. */
export function testDiskSums(): string {
  return [...testDiskFiles()].map(([path, data]) => `${sha256Hex(data)}  ${path}\n`).join('');
}

/** Writes the ext2 image to `output`. Needs mke2fs (Debian package e2fsprogs). */
export function makeTestDisk(output: string): void {
  const staging = mkdtempSync(join(tmpdir(), 'virtlite-disk-'));
  try {
    for (const [path, data] of testDiskFiles()) {
      mkdirSync(join(staging, dirname(path)), { recursive: true });
      writeFileSync(join(staging, path), data);
    }
    writeFileSync(join(staging, 'SHA256SUMS'), testDiskSums());
    rmSync(output, { force: true });
    execFileSync(
      'mke2fs',
      ['-q', '-F', '-t', 'ext2', '-b', '1024', '-L', 'virtlite-test', '-U', FIXED_UUID,
        '-E', `root_owner=0:0,hash_seed=${FIXED_UUID}`, '-d', staging, output, String(TEST_DISK_SIZE / 1024)],
      { env: { ...process.env, E2FSPROGS_FAKE_TIME: FIXED_TIME }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const output = process.argv[2];
  if (!output) {
    console.error('usage: tsx guest/test-disk.ts OUTPUT.img');
    process.exit(2);
  }
  makeTestDisk(output);
  console.log(`wrote ${output} (${TEST_DISK_SIZE} bytes, ext2)`);
}

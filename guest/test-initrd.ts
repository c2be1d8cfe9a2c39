/**
 * The default guest's initramfs plus test programs, for boot tests: builds guest/libc-test.c
 * with `gcc -static` (cached by source hash under node_modules/.cache/virtlite) and appends a
 * cpio archive holding /bin/libc-test to public/kernels/initramfs.cpio (Linux unpacks
 * concatenated archives in order).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { writeCpio } from './cpio.ts';

const root = new URL('..', import.meta.url).pathname;
const SOURCE = join(root, 'guest/libc-test.c');
const FLAGS = ['-static', '-O2', '-o'];

/** Builds (or finds in the cache) the static libc-test binary; returns its bytes. */
export function buildLibcTest(): Uint8Array {
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).update(FLAGS.join(' ')).digest('hex').slice(0, 16);
  const dir = join(root, 'node_modules/.cache/virtlite');
  const bin = join(dir, `libc-test-${hash}`);
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}.tmp`;
    const r = spawnSync('gcc', [...FLAGS, tmp, SOURCE, '-lm'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building libc-test failed (is gcc installed?):\n${r.stderr}${r.error ?? ''}`);
    renameSync(tmp, bin);
  }
  return new Uint8Array(readFileSync(bin));
}

/** The default initramfs with /bin/libc-test added. */
export function initrdWithTests(): Uint8Array {
  const base = new Uint8Array(readFileSync(join(root, 'public/kernels/initramfs.cpio')));
  const extra = writeCpio([{ name: 'bin/libc-test', mode: 0o100755, data: buildLibcTest() }]);
  const out = new Uint8Array(base.length + extra.length);
  out.set(base);
  out.set(extra, base.length);
  return out;
}

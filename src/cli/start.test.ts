import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestDisk } from '../../guest/test-disk.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'virtlite-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(args: string[], input = '') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/start.ts', ...args], { cwd: root, encoding: 'utf8', input, timeout: 170_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm start', () => {
  it('boots the default guest, runs piped commands and exits 0 when the guest powers off', () => {
    const r = start(['--verbose'], 'uname -m\necho "sum=$((40 + 2))"\npoweroff\n');
    expect(r.stderr).toMatch(/virtlite: kernel Linux 6\.1\.\d+, boot protocol 2\.1\d, 64-bit and 32-bit entry/);
    expect(r.stdout).toMatch(/Linux version 6\.1\.\d+/);
    expect(r.stdout).toContain('virtlite: boot complete, shell ready');
    // Nothing typed ahead is lost: every piped line reaches the shell whole.
    expect(r.stdout).toMatch(/# uname -m\r?\nx86_64/);
    expect(r.stdout).toContain('sum=42');
    expect(r.stdout).toContain('reboot: Power down');
    expect(r.stderr).toMatch(/guest powered off after \d+ M instructions/);
    expect(r.code).toBe(0);
  }, 180_000);

  it('stops with status 124 at --timeout', () => {
    const r = start(['--timeout', '1']);
    expect(r.stderr).toContain('timeout after 1 s');
    expect(r.code).toBe(124);
  }, 30_000);

  it('refuses a malformed kernel with a clear message and no stack trace', () => {
    const bad = join(dir, 'not-a-kernel');
    writeFileSync(bad, 'hello, I am not a kernel'.repeat(100));
    const r = start(['--kernel', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing kernel .*"HdrS" boot-protocol magic is missing/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a missing file and a bad option plainly', () => {
    const missing = start(['--kernel', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read kernel .*nope: ENOENT/);
    const bad = start(['--mem', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--mem must be/);
  });

  it('boots with --disk --disk-ro: the guest reads the image on /dev/vda and cannot write it', () => {
    const image = join(dir, 'disk.img');
    makeTestDisk(image);
    const r = start(['--disk', image, '--disk-ro'], 'mount /dev/vda /mnt; cat /mnt/hello.txt; touch /mnt/new || echo "write=$?"\npoweroff\n');
    expect(r.stdout).toContain('Hello from the virtlite test disk.');
    expect(r.stdout).toMatch(/Read-only file system[\s\S]*write=1/);
    expect(r.code).toBe(0);
  }, 180_000);

  it('refuses --disk-ro without --disk and a missing disk image', () => {
    const lonely = start(['--disk-ro']);
    expect(lonely.code).toBe(2);
    expect(lonely.stderr).toMatch(/--disk-ro needs a --disk/);
    const missing = start(['--disk', join(dir, 'no-such.img')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot open disk .*no-such\.img: ENOENT/);
  });
});

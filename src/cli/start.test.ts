import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'virtlite-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/start.ts', ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm start', () => {
  it('validates the default guest, then says it cannot boot yet (no fake boot)', () => {
    const r = start();
    expect(r.stdout).toMatch(/kernel: Linux 6\.1\.\d+, boot protocol 2\.1\d, 64-bit and 32-bit entry/);
    expect(r.stderr).toContain('cannot boot yet');
    expect(r.code).toBe(3);
  });

  it('refuses a malformed kernel with a clear message and no stack trace', () => {
    const bad = join(dir, 'not-a-kernel');
    writeFileSync(bad, 'hello, I am not a kernel'.repeat(100));
    const r = start('--kernel', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing kernel .*"HdrS" boot-protocol magic is missing/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a missing file and a bad option plainly', () => {
    const missing = start('--kernel', join(dir, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read kernel .*nope: ENOENT/);
    const bad = start('--mem', 'lots');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--mem must be/);
  });
});

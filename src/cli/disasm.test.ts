import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'virtlite-disasm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function disasm(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/disasm.ts', ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run disasm', () => {
  const file = join(dir, 'code.bin');
  // push rbp; mov rbp,rsp; sub rsp,0x10; call +0; leave; ret
  writeFileSync(file, Uint8Array.from([0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0xe8, 0, 0, 0, 0, 0xc9, 0xc3]));

  it('prints one offset/length/text line per instruction with --tsv', () => {
    const r = disasm('--bits', '64', '--tsv', file);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      '0x0\t1\tpush rbp',
      '0x1\t3\tmov rbp,rsp',
      '0x4\t4\tsub rsp,0x10',
      '0x8\t5\tcall 0xd',
      '0xd\t1\tleave',
      '0xe\t1\tret',
    ]);
  });

  it('honours --offset, --count and --bits', () => {
    const r = disasm('--bits', '32', '--tsv', file, '--offset', '4', '--count', '2');
    expect(r.stdout.trimEnd().split('\n')).toEqual(['0x4\t1\tdec eax', '0x5\t3\tsub esp,0x10']);
  });

  it('refuses bad arguments plainly', () => {
    expect(disasm('--bits', '8', file).stderr).toMatch(/--bits must be 16, 32 or 64/);
    expect(disasm('--bits', '64', join(dir, 'missing')).stderr).toMatch(/cannot read .*ENOENT/);
  });
});

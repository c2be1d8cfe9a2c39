/**
 * Assembles test programs with nasm (test-only): readable guest code for system tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Assembles `source` (nasm syntax, flat binary) placed at `origin`. */
export function assemble(source: string, origin: number): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'virtlite-asm-'));
  try {
    writeFileSync(join(dir, 'a.asm'), `org 0x${origin.toString(16)}\n${source}\n`);
    execFileSync('nasm', ['-w+error=label-orphan', '-f', 'bin', '-o', join(dir, 'a.bin'), join(dir, 'a.asm')], { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

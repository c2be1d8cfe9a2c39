/**
 * ACPICA's iasl as an independent oracle for the ACPI tables (test-only).
 *
 * - `iaslDisassemble`: `iasl -d` on a table; the result lists every error, warning, "incorrect"
 *   remark or unresolved External the disassembler reported.
 * - `iaslCompile`: compiles ASL (a DefinitionBlock) or a data-table source (`[0004] Field : value`
 *   lines) with optimizations off (`-oa`), so that the output is comparable byte for byte with
 *   our own encoder's.
 * - `sameExceptCompilerFields`: compares two tables ignoring what iasl always rewrites
 *   (checksum, Creator ID and Creator Revision).
 *
 * iasl 20200925 cannot disassemble an RSDP file (its header check wants a 4-character table
 * signature); tests compile an RSDP source instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The iasl binary, or undefined when acpica-tools is not installed. */
export function findIasl(): string | undefined {
  const r = spawnSync('iasl', ['-v'], { encoding: 'utf8' });
  return r.error ? undefined : 'iasl';
}

export interface IaslResult {
  /** Everything iasl printed. */
  readonly log: string;
  /** The .dsl (disassembly) or .aml (compilation) output, if iasl produced one. */
  readonly output: string | Uint8Array | undefined;
  /** Lines that report a problem; empty when iasl was fully satisfied. */
  readonly problems: string[];
}

const LOG_PROBLEM = /error|warning|incorrect|invalid|not contain a valid|unknown|too long/i;
const DSL_PROBLEM = /incorrect|\*\*\*\*|error|warning|^\s*External\s*\(/im;

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'virtlite-iasl-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(dir: string, args: string[]): { status: number | null; log: string } {
  const r = spawnSync('iasl', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, log: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Disassembles one table with `iasl -d`. */
export function iaslDisassemble(table: Uint8Array, name = 'table'): IaslResult & { output: string | undefined } {
  return withTempDir((dir) => {
    writeFileSync(join(dir, `${name}.dat`), table);
    const { status, log } = run(dir, ['-d', `${name}.dat`]);
    const dslPath = join(dir, `${name}.dsl`);
    const output = existsSync(dslPath) ? readFileSync(dslPath, 'utf8') : undefined;
    const problems = log.split('\n').filter((l) => LOG_PROBLEM.test(l));
    if (status !== 0) problems.push(`iasl exited with status ${status}`);
    if (output === undefined) problems.push('no disassembly produced');
    else problems.push(...output.split('\n').filter((l) => DSL_PROBLEM.test(l)));
    return { log, output, problems };
  });
}

/** Compiles ASL or data-table source with all optimizations off. */
export function iaslCompile(source: string, name = 'table'): IaslResult & { output: Uint8Array | undefined } {
  return withTempDir((dir) => {
    writeFileSync(join(dir, `${name}.asl`), source);
    const { status, log } = run(dir, ['-oa', '-p', join(dir, 'out'), `${name}.asl`]);
    const amlPath = join(dir, 'out.aml');
    const output = existsSync(amlPath) ? new Uint8Array(readFileSync(amlPath)) : undefined;
    const problems: string[] = [];
    if (status !== 0) problems.push(`iasl exited with status ${status}`);
    if (!/Compilation successful\.\s+0 Errors, 0 Warnings, 0 Remarks/.test(log)) {
      problems.push(...log.split('\n').filter((l) => LOG_PROBLEM.test(l) || /Compilation/.test(l)));
      if (problems.length === 0) problems.push('iasl did not report a clean compilation');
    }
    if (output === undefined) problems.push('no AML produced');
    return { log, output, problems };
  });
}

/** Header bytes iasl rewrites on compilation: Checksum (9) and Creator ID/Revision (28-35). */
function isCompilerField(offset: number): boolean {
  return offset === 9 || (offset >= 28 && offset < 36);
}

/**
 * Offsets where `ours` and `theirs` (iasl's compilation) differ, outside the compiler fields.
 * `allow` may excuse a difference (e.g. the End Tag checksum, which iasl leaves at 0).
 */
export function tableDifferences(
  ours: Uint8Array,
  theirs: Uint8Array,
  allow: (offset: number) => boolean = () => false,
): string[] {
  const diffs: string[] = [];
  if (ours.length !== theirs.length) diffs.push(`length ${ours.length} vs iasl ${theirs.length}`);
  const n = Math.min(ours.length, theirs.length);
  for (let i = 0; i < n; i++) {
    if (ours[i] !== theirs[i] && !isCompilerField(i) && !allow(i)) {
      diffs.push(`offset ${i}: 0x${ours[i]!.toString(16)} vs iasl 0x${theirs[i]!.toString(16)}`);
    }
  }
  return diffs;
}

/** True at the checksum byte of a resource template End Tag (0x79, checksum), which iasl zeroes. */
export function isEndTagChecksum(ours: Uint8Array, theirs: Uint8Array, offset: number): boolean {
  return offset > 0 && ours[offset - 1] === 0x79 && theirs[offset - 1] === 0x79 && theirs[offset] === 0;
}

/** The disassembly without its date line, so that it can be kept as a golden review file. */
export function stableDisassembly(dsl: string): string {
  return dsl.replace(/^( \* Disassembly of [^,\n]+),.*$/m, '$1');
}

/** The iasl version a disassembly was made with ("20200925"), if it says. */
export function disassemblerVersion(dsl: string): string | undefined {
  return /Disassembler version (\S+)/.exec(dsl)?.[1];
}

/**
 * `npm run -s disasm -- --bits 64|32|16 [--tsv] FILE [--offset N] [--count N] [--address A]`
 *
 * Disassembles raw bytes from FILE with virtlite's decoder. With --tsv it prints exactly one
 * line per instruction: `offset<TAB>length<TAB>text`, the offset in hex (0x...).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Insn } from '../emu/x86/decoder.ts';
import { disassembleOne } from '../emu/x86/disasm.ts';

const USAGE = 'usage: npm run -s disasm -- --bits 64|32|16 [--tsv] FILE [--offset N] [--count N] [--address A]';

function fail(message: string): never {
  process.stderr.write(`disasm: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseNumber(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) fail(`${what} must be a non-negative integer (decimal or 0x...)`);
  return n;
}

function main(): void {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        bits: { type: 'string' },
        tsv: { type: 'boolean' },
        offset: { type: 'string' },
        count: { type: 'string' },
        address: { type: 'string' },
      },
    });
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  const bits = Number(values.bits ?? '64');
  if (bits !== 16 && bits !== 32 && bits !== 64) fail('--bits must be 16, 32 or 64');
  if (positionals.length !== 1) fail('give exactly one FILE');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(positionals[0]!));
  } catch (e) {
    fail(`cannot read ${positionals[0]}: ${e instanceof Error && 'code' in e ? String(e.code) : String(e)}`);
  }
  const start = parseNumber(values.offset, '--offset', 0);
  const count = parseNumber(values.count, '--count', Number.MAX_SAFE_INTEGER);
  const base = values.address !== undefined ? BigInt(values.address) : 0n;
  if (start > bytes.length) fail(`--offset ${start} is past the end of the file (${bytes.length} bytes)`);

  const d = new Insn();
  const out: string[] = [];
  let offset = start;
  for (let n = 0; n < count && offset < bytes.length; n++) {
    const { length, text } = disassembleOne(bytes, offset, bits, base + BigInt(offset), d);
    const raw = Array.from(bytes.subarray(offset, offset + length), (b) => b.toString(16).padStart(2, '0')).join(' ');
    out.push(values.tsv
      ? `0x${offset.toString(16)}\t${length}\t${text}`
      : `${(base + BigInt(offset)).toString(16).padStart(8, ' ')}:  ${raw.padEnd(30)} ${text}`);
    offset += length;
    if (out.length >= 4096) {
      process.stdout.write(out.join('\n') + '\n');
      out.length = 0;
    }
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
}

main();

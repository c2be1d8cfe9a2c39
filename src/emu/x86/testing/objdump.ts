/**
 * objdump as an oracle for instruction lengths (test-only). Streams `objdump -d` output, rebuilds
 * each section's bytes from the listing, and hands every instruction to a callback together with
 * the section bytes, so the decoder under test can decode at objdump's own instruction starts.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ObjdumpInsn {
  /** Offset of the instruction in `bytes`. */
  readonly offset: number;
  readonly address: bigint;
  readonly length: number;
  readonly text: string;
}

export interface ObjdumpSection {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly insns: ObjdumpInsn[];
}

/** Intel syntax, Intel's 64-bit semantics (66 does not shrink near branches), one line per instruction. */
const COMMON = ['-d', '-z', '-w', '--insn-width=16', '-M', 'intel,intel64'];

/** Runs objdump on `file` (ELF, or raw with `raw` = the -m machine) and calls `onSection` per code section. */
export async function objdumpSections(
  file: string,
  onSection: (s: ObjdumpSection) => void,
  raw?: 'i386:x86-64' | 'i386' | 'i8086',
): Promise<void> {
  // A raw file has no code sections: -D disassembles its one data section.
  const args = raw ? [...COMMON.map((a) => (a === '-d' ? '-D' : a)), '-b', 'binary', '-m', raw, file] : [...COMMON, file];
  if (raw === 'i8086') args.splice(args.indexOf('intel,intel64'), 1, 'intel,addr16,data16');
  const child = spawn('objdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });

  let name = '';
  let chunks: number[][] = [];
  let insns: ObjdumpInsn[] = [];
  let size = 0;
  let base = -1n;
  const flush = () => {
    if (insns.length === 0) return;
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    onSection({ name, bytes, insns });
    chunks = [];
    insns = [];
    size = 0;
    base = -1n;
  };
  for await (const line of lines) {
    if (line.startsWith('Disassembly of section ')) {
      flush();
      name = line.slice('Disassembly of section '.length, -1);
      continue;
    }
    const tab = line.indexOf(':\t');
    if (tab < 0) continue;
    const fields = line.slice(tab + 2).split('\t');
    const hexBytes = fields[0]!.trim();
    if (!hexBytes) continue;
    const address = BigInt(`0x${line.slice(0, tab).trim()}`);
    if (base < 0n) base = address;
    const byteList = hexBytes.split(' ').map((h) => Number.parseInt(h, 16));
    const offset = Number(address - base);
    if (offset !== size) throw new Error(`objdump listing of ${name} is not contiguous at ${address.toString(16)}`);
    chunks.push(byteList);
    insns.push({ offset, address, length: byteList.length, text: (fields[1] ?? '').trim() });
    size += byteList.length;
  }
  flush();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`objdump failed (${code}): ${stderr}`);
}

/** objdump texts whose lengths say nothing about a real instruction. */
export function objdumpGaveUp(text: string): boolean {
  // "(bad)" anywhere (also "fs (bad)", "pextrw esp,(bad),0xc5"): objdump stopped mid-way and its
  // length is wherever it stopped. A line of prefixes alone ("data16 rex.RX") is the same.
  return text === '' || text.includes('(bad)') || text.startsWith('.byte') || PREFIXES_ONLY.test(text);
}
const PREFIXES_ONLY = /^((rex(\.[WRXB]+)?|data16|data32|addr16|addr32|lock|repz|repnz|rep|[c-gs]s|notrack|bnd|xacquire|xrelease)\s*)+$/;

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCpio } from '../../../guest/cpio.ts';
import { parseBzImage } from '../../machine/bzimage.ts';
import { DECODE_NEED_MORE, DECODE_TOO_LONG, Insn, decode } from './decoder.ts';
import { formatInsn } from './disasm.ts';
import { objdumpGaveUp, objdumpSections, type ObjdumpSection } from './testing/objdump.ts';

// The length oracle: every instruction objdump decodes in the default guest's kernel and in its
// busybox gets the same length from our decoder (objdump -M intel64: Intel's 64-bit semantics).

const KERNELS = new URL('../../../public/kernels/', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'virtlite-objdump-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Tally { checked: number; skipped: number; mismatches: string[] }

function compareSection(s: ObjdumpSection, mode: 16 | 32 | 64, tally: Tally): void {
  const d = new Insn();
  for (const insn of s.insns) {
    if (objdumpGaveUp(insn.text)) {
      tally.skipped++;
      continue;
    }
    decode(s.bytes, insn.offset, s.bytes.length - insn.offset, mode, d);
    tally.checked++;
    const length = d.status === DECODE_NEED_MORE || d.status === DECODE_TOO_LONG ? -1 : d.length;
    // objdump merges FWAIT with what follows it ("finit" = 9B DB E3, "cs f2xm1" = 2E 9B D9 F0);
    // on the CPU, FWAIT is an instruction of its own, so objdump's length says nothing here.
    if (d.op?.mnemonic === 'fwait' && insn.length > length) {
      tally.checked--;
      tally.skipped++;
      continue;
    }
    if (length !== insn.length && tally.mismatches.length < 30) {
      const raw = Array.from(s.bytes.subarray(insn.offset, insn.offset + Math.max(insn.length, length, 1)), (b) => b.toString(16).padStart(2, '0')).join(' ');
      tally.mismatches.push(`${s.name}+0x${insn.offset.toString(16)}: ${raw}: objdump ${insn.length} "${insn.text}", ours ${length} "${formatInsn(d, insn.address)}"`);
    }
  }
}

async function lengthsAgree(file: string, mode: 16 | 32 | 64, raw?: 'i386:x86-64' | 'i386' | 'i8086'): Promise<Tally> {
  const tally: Tally = { checked: 0, skipped: 0, mismatches: [] };
  await objdumpSections(file, (s) => compareSection(s, mode, tally), raw);
  return tally;
}

describe('decoder lengths agree with objdump', () => {
  it('on every instruction of the default guest kernel (vmlinux inside bzImage)', async () => {
    const kernel = parseBzImage(new Uint8Array(readFileSync(new URL('bzImage', KERNELS))));
    // The payload is an lz4 "legacy" stream followed by the 4-byte decompressed size.
    const lz4 = join(dir, 'vmlinux.lz4');
    writeFileSync(lz4, kernel.payload.subarray(0, kernel.payload.length - 4));
    const vmlinux = join(dir, 'vmlinux');
    execFileSync('lz4', ['-d', '-q', '-f', lz4, vmlinux]);
    const tally = await lengthsAgree(vmlinux, 64);
    console.log(`vmlinux: ${tally.checked} instructions compared, ${tally.skipped} objdump could not decode`);
    expect(tally.mismatches).toEqual([]);
    expect(tally.checked).toBeGreaterThan(1_000_000);
  }, 120_000);

  it('on every instruction of the guest busybox (from the committed initramfs)', async () => {
    const entries = readCpio(new Uint8Array(readFileSync(new URL('initramfs.cpio', KERNELS))));
    const busybox = entries.find((e) => e.name === 'bin/busybox');
    expect(busybox).toBeDefined();
    const path = join(dir, 'busybox');
    writeFileSync(path, busybox!.data);
    const tally = await lengthsAgree(path, 64);
    console.log(`busybox: ${tally.checked} instructions compared, ${tally.skipped} objdump could not decode`);
    expect(tally.mismatches).toEqual([]);
    expect(tally.checked).toBeGreaterThan(100_000);
  }, 120_000);
});

describe('decoder lengths agree with objdump on random bytes', () => {
  // Random byte soup, biased towards prefixes and escape bytes, decoded linearly by objdump.
  function soup(seed: number, size: number): Uint8Array {
    const out = new Uint8Array(size);
    let x = seed;
    const rand = () => {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      return x;
    };
    const hot = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x0f, 0x0f, 0x0f, 0x2e, 0x64, 0x48, 0x41, 0x4c, 0xc4, 0xc5, 0x62, 0x8f, 0xd9, 0x0f, 0x38, 0x3a];
    for (let i = 0; i < size; i++) out[i] = rand() % 4 === 0 ? hot[rand() % hot.length]! : rand() & 0xff;
    return out;
  }
  for (const [mode, machine] of [[64, 'i386:x86-64'], [32, 'i386'], [16, 'i8086']] as const) {
    it(`in ${mode}-bit mode`, async () => {
      const path = join(dir, `soup${mode}.bin`);
      writeFileSync(path, soup(0x1234 + mode, 256 * 1024));
      const tally = await lengthsAgree(path, mode, machine);
      console.log(`random ${mode}-bit: ${tally.checked} instructions compared, ${tally.skipped} objdump could not decode`);
      expect(tally.mismatches).toEqual([]);
    }, 60_000);
  }
});

import { describe, expect, it } from 'vitest';
import { CR0, RAM_OFFSET, SEGS, SEG_ATTRS, SEG_BASE, SEG_STRIDE } from '../../state-layout.ts';
import { Cpu, STOP_BUDGET, STOP_END } from '../cpu.ts';
import { SEG_DS, SEG_ES } from '../decoder.ts';
import { DF } from '../flags.ts';
import { CR0_PE } from '../mmu.ts';
import { Rng } from '../testing/differential.ts';
import { STRING_LIMIT, copyElements } from './string.ts';

// String instructions in situations the host comparison cannot reach: huge counts spread over
// several run() calls, writes into decoded code, MMIO, 16-bit addressing with segment bases.

const RAM_SIZE = 4 << 20;
const CODE = 0x1000;
const RCX = 1;
const RSI = 6;
const RDI = 7;

/** A CPU without paging (linear = physical), CPL 0, running `code` at CODE. */
function machine(code: number[], bits: 16 | 32 | 64 = 64): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM_SIZE) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM_SIZE);
  cpu.stopOnFault = true;
  cpu.i32[CR0 >> 2] = CR0_PE;
  cpu.codeBits = bits;
  // Present, writable data segments (base 0): a null segment faults outside 64-bit mode.
  for (const seg of [0, 2, 3]) cpu.i32[(SEGS + seg * SEG_STRIDE + SEG_ATTRS) >> 2] = 0xc093;
  cpu.cpl = 0;
  cpu.flushTlb(true);
  cpu.setFlags(0);
  cpu.u8.set(code, RAM_OFFSET + CODE);
  cpu.rip = BigInt(CODE);
  cpu.endLo = CODE + code.length;
  cpu.endHi = 0;
  return cpu;
}

function setSegBase(cpu: Cpu, seg: number, base: number): void {
  cpu.i32[(SEGS + seg * SEG_STRIDE + SEG_BASE) >> 2] = base;
}

describe('REP MOVS/STOS in bulk', () => {
  it('rep movsb of 1 MiB completes across several run() calls, 64 KiB per execution', () => {
    const cpu = machine([0xf3, 0xa4]); // rep movsb
    const src = 0x100000;
    const dst = 0x280000;
    const size = 1 << 20;
    const data = new Rng(5).bytes(size);
    cpu.u8.set(data, RAM_OFFSET + src);
    cpu.set64(RSI, src, 0);
    cpu.set64(RDI, dst, 0);
    cpu.set64(RCX, size, 0);
    let calls = 0;
    while (cpu.run(1) === STOP_BUDGET) {
      calls++;
      const done = calls * STRING_LIMIT;
      expect(cpu.lo(RCX)).toBe(size - done);
      expect(cpu.lo(RSI)).toBe(src + done);
      expect(cpu.lo(RDI)).toBe(dst + done);
      // Unfinished: RIP stays at the instruction; the last execution completes it.
      expect(cpu.rip).toBe(BigInt(done < size ? CODE : CODE + 2));
      expect(calls).toBeLessThanOrEqual(size / STRING_LIMIT);
    }
    expect(calls).toBe(size / STRING_LIMIT);
    expect(cpu.rip).toBe(BigInt(CODE + 2));
    expect(Buffer.compare(cpu.u8.subarray(RAM_OFFSET + dst, RAM_OFFSET + dst + size), data)).toBe(0);
    expect(cpu.u8[RAM_OFFSET + dst + size]).toBe(0);
    expect(cpu.u8[RAM_OFFSET + dst - 1]).toBe(0);
  });

  it('rep stosq backwards over 1 MiB, one run() with a large budget', () => {
    const cpu = machine([0xfd, 0xf3, 0x48, 0xab]); // std; rep stosq
    const end = 0x300000;
    cpu.set64(0, 0x11223344, 0x55667788 | 0);
    cpu.set64(RDI, end - 8, 0);
    cpu.set64(RCX, (1 << 20) / 8, 0);
    expect(cpu.run(1000)).toBe(STOP_END);
    expect(cpu.lo(RCX)).toBe(0);
    expect(cpu.lo(RDI)).toBe(end - 8 - (1 << 20));
    expect(cpu.getFlags() & DF).toBe(DF);
    const dv = cpu.dv;
    for (let a = end - (1 << 20); a < end; a += 8) {
      if (dv.getUint32(RAM_OFFSET + a, true) !== 0x11223344 || dv.getUint32(RAM_OFFSET + a + 4, true) !== 0x55667788) {
        throw new Error(`wrong qword at ${a.toString(16)}`);
      }
    }
    expect(dv.getUint32(RAM_OFFSET + end, true)).toBe(0);
    expect(dv.getUint32(RAM_OFFSET + end - (1 << 20) - 4, true)).toBe(0);
  });

  it('copyElements matches the element-by-element loop for every overlap', () => {
    const rng = new Rng(9);
    for (let t = 0; t < 3000; t++) {
      const k = [1, 2, 4, 8][rng.below(4)]!;
      const back = rng.below(2) === 1;
      const n = 1 + rng.below(t % 3 === 0 ? 600 : 12);
      const dist = rng.below(4) === 0 ? rng.below(2 * n * k + 1) - n * k : rng.below(41) - 20;
      const base = 64 + n * k + 32;
      const size = base * 2 + n * k + 64;
      const init = rng.bytes(size);
      const src = base;
      const dst = base + dist;
      const want = init.slice();
      for (let i = 0; i < n; i++) {
        const o = back ? (n - 1 - i) * k : i * k;
        const el = want.slice(src + o, src + o + k);
        want.set(el, dst + o);
      }
      const got = init.slice();
      copyElements(got, dst, src, n * k, k, back);
      if (!got.every((b, i) => b === want[i])) throw new Error(`k=${k} n=${n} dist=${dist} back=${back}`);
    }
  });
});

describe('string instructions and the rest of the machine', () => {
  it('rep stosb and rep movsb into a page with decoded code drop its instructions', () => {
    for (const code of [[0xf3, 0xaa], [0xf3, 0xa4]]) {
      const cpu = machine(code);
      cpu.set64(RSI, 0x200000, 0);
      cpu.set64(RDI, CODE + 0x800, 0);
      cpu.set64(RCX, 16, 0);
      expect(cpu.run(10)).toBe(STOP_END);
      expect(cpu.hasCode[CODE >> 12]).toBe(0);
      expect(cpu.codePages[CODE >> 12]).toBeUndefined();
    }
  });

  it('MMIO goes element by element through the bus', () => {
    const log: string[] = [];
    const mmio = RAM_SIZE + 0x1000;
    const imm32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
    const cpu = machine([
      0xf3, 0xa5, // rep movsd: RAM -> MMIO
      0xbe, ...imm32(mmio + 0x10), 0xbf, ...imm32(0x200008), 0xb9, ...imm32(3),
      0xf3, 0xa4, // rep movsb: MMIO -> RAM
      0xbf, ...imm32(mmio + 0x10), 0xb9, ...imm32(2), 0x66, 0xb8, 0x34, 0x12,
      0xf3, 0x66, 0xab, // rep stosw into MMIO
      0xbe, ...imm32(mmio + 0x10), 0xb9, ...imm32(2),
      0xf3, 0xac, // rep lodsb from MMIO
    ]);
    cpu.bus = {
      read: (addr, size) => {
        log.push(`r${size}@${(addr - mmio).toString(16)}`);
        return 0x40 + (addr & 0xff);
      },
      write: (addr, size, value) => {
        log.push(`w${size}@${(addr - mmio).toString(16)}=${value.toString(16)}`);
      },
    };
    const dv = cpu.dv;
    dv.setInt32(RAM_OFFSET + 0x200000, 0x11111111, true);
    dv.setInt32(RAM_OFFSET + 0x200004, 0x22222222, true);
    cpu.set64(RSI, 0x200000, 0);
    cpu.set64(RDI, mmio, 0);
    cpu.set64(RCX, 2, 0);
    expect(cpu.run(100)).toBe(STOP_END);
    expect(log).toEqual([
      'w4@0=11111111', 'w4@4=22222222', // rep movsd
      'r1@10', 'r1@11', 'r1@12', // rep movsb from MMIO (to RAM at 0x200008)
      'w2@10=1234', 'w2@12=1234', // rep stosw
      'r1@10', 'r1@11', // rep lodsb
    ]);
    expect(cpu.u8.subarray(RAM_OFFSET + 0x200008, RAM_OFFSET + 0x20000b)).toEqual(Uint8Array.from([0x50, 0x51, 0x52]));
    expect(cpu.lo(0) & 0xff).toBe(0x51);
  });

  it('16-bit addressing in 32-bit code: SI/DI/CX wrap at 64 KiB inside the segments', () => {
    const cpu = machine([0x67, 0xf3, 0xa4], 32); // rep movsb with SI, DI, CX
    setSegBase(cpu, SEG_DS, 0x100000);
    setSegBase(cpu, SEG_ES, 0x200800);
    for (let i = 0; i < 0x10000; i++) cpu.u8[RAM_OFFSET + 0x100000 + i] = i & 0xff;
    cpu.set64(RSI, 0x1234fffe, 0);
    cpu.set64(RDI, 0x5678fffd, 0);
    cpu.set64(RCX, 0x9abc0005, 0);
    expect(cpu.run(10)).toBe(STOP_END);
    expect(cpu.lo(RSI) >>> 0).toBe(0x12340003);
    expect(cpu.lo(RDI) >>> 0).toBe(0x56780002);
    expect(cpu.lo(RCX) >>> 0).toBe(0x9abc0000);
    const at = (off: number) => cpu.u8[RAM_OFFSET + 0x200800 + off];
    expect([at(0xfffd), at(0xfffe), at(0xffff), at(0), at(1)]).toEqual([0xfe, 0xff, 0x00, 0x01, 0x02]);
  });
});

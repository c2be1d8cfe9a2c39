import { describe, expect, it } from 'vitest';
import { Cpu, STOP_HALT } from './cpu.ts';
import { BOOT_CS, BOOT_DS, reset, startLongMode, startProtectedMode } from './start-state.ts';
import { SEG_CS, SEG_SS, segSelector } from './system.ts';
import { assemble } from './testing/asm.ts';
import { CR0, RAM_OFFSET } from '../state-layout.ts';

const RAM = 4 << 20;

function machineWithGdt(): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  const q = (at: number, lo: number, hi: number) => {
    cpu.dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
    cpu.dv.setUint32(RAM_OFFSET + at + 4, hi >>> 0, true);
  };
  q(0x1000 + BOOT_CS, 0x0000ffff, 0x00af9b00); // 64-bit code (the 64-bit boot protocol's GDT)
  q(0x1000 + BOOT_DS, 0x0000ffff, 0x00cf9300);
  q(0x1000 + 0x20, 0x0000ffff, 0x00cf9b00);
  // Identity page tables for the first 2 MiB... 4 MiB.
  q(0x2000, 0x3000 | 3, 0);
  q(0x3000, 0x4000 | 3, 0);
  q(0x4000, 0x83, 0);
  q(0x4008, 0x200083, 0);
  return cpu;
}

describe('start states', () => {
  it('reset() gives the power-on state', () => {
    const cpu = machineWithGdt();
    reset(cpu);
    expect(cpu.rip).toBe(0xfff0n);
    expect(segSelector(cpu, SEG_CS)).toBe(0xf000);
    expect(cpu.codeBits).toBe(16);
    expect(cpu.i32[CR0 >> 2]! >>> 0).toBe(0x60000010);
    expect(cpu.getFlags()).toBe(0x2);
    expect(cpu.lo(2) >> 8 & 0xf).toBe(6); // EDX: the processor signature, family 6
  });

  it('startLongMode() enters 64-bit code at the entry point with RSI set (64-bit boot protocol)', () => {
    const cpu = machineWithGdt();
    cpu.u8.set(assemble('bits 64\nmov rax, rsi\nlea rbx, [rel $]\nhlt', 0x100200), RAM_OFFSET + 0x100200);
    startLongMode(cpu, 0x100200n, 0x2000, 0x1000, 0x27, { rsi: 0x7000n });
    expect(cpu.codeBits).toBe(64);
    expect(cpu.run(10)).toBe(STOP_HALT);
    expect(cpu.lo(0)).toBe(0x7000);
    expect(cpu.lo(3)).toBe(0x100203);
    expect(segSelector(cpu, SEG_SS)).toBe(BOOT_DS);
  });

  it('startProtectedMode() enters flat 32-bit code with paging off and ESI set (32-bit boot protocol)', () => {
    const cpu = machineWithGdt();
    cpu.u8.set(assemble('bits 32\nmov eax, esi\nmov ebx, [0x1000 + 0x10]\nhlt', 0x100000), RAM_OFFSET + 0x100000);
    startProtectedMode(cpu, 0x100000, 0x1000, 0x27, { rsi: 0x7000n });
    expect(cpu.codeBits).toBe(32);
    expect(cpu.run(10)).toBe(STOP_HALT);
    expect(cpu.lo(0)).toBe(0x7000);
    expect(cpu.lo(3)).toBe(0x0000ffff);
    expect(cpu.getFlags() & 0x200).toBe(0); // interrupts off
  });
});

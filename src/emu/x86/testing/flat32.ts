/**
 * Test machine: a CPU in flat 32-bit protected mode at CPL 0 (GDT at 0x1000 with __BOOT_CS
 * 0x10 and __BOOT_DS 0x18, paging off, ESP 0x80000) with `source` (nasm, `bits 32`, then a
 * HLT) assembled at `origin` (default 1 MiB). Returns the CPU ready to run.
 */
import { Cpu } from '../cpu.ts';
import { startProtectedMode } from '../start-state.ts';
import { RAM_OFFSET } from '../../state-layout.ts';
import { assemble } from './asm.ts';

export function flat32(source: string, origin = 0x100000, ram = 4 << 20): Cpu {
  const pages = Math.ceil((RAM_OFFSET + ram) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), ram);
  const q = (at: number, lo: number, hi: number) => {
    cpu.dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
    cpu.dv.setUint32(RAM_OFFSET + at + 4, hi >>> 0, true);
  };
  q(0x1000 + 0x10, 0x0000ffff, 0x00cf9b00);
  q(0x1000 + 0x18, 0x0000ffff, 0x00cf9300);
  cpu.u8.set(assemble(`bits 32\n${source}\nhlt`, origin), RAM_OFFSET + origin);
  startProtectedMode(cpu, origin, 0x1000, 0x1f, { rsp: 0x80000n });
  return cpu;
}

/**
 * CPU start states (Intel SDM Vol. 3A, 10.1 "Initialization Overview"; Linux boot protocol,
 * Documentation/arch/x86/boot.rst "32-bit/64-bit boot protocol"):
 *
 * - reset(): the architectural power-on state (SDM Vol. 3A 9.1.1, Table 9-1): real mode at F000:FFF0 with CS.base FFFF0000, so the first fetch is at linear
 *   FFFFFFF0 (firmware on the physical bus: the CPU fetches it through Cpu.bus), EDX = the
 *   processor signature (CPUID.1:EAX), CR0 = 60000010H, 64 KiB segments.
 *
 * Not supported: the x87 power-up state (FCW 0040H; clear() leaves the x87 registers alone),
 * the INIT-only differences (INIT keeps CR0.CD/NW, the MTRRs and the x87/SSE state).
 * - startProtectedMode(): flat 32-bit protected mode, paging off, interrupts off, with the boot
 *   protocol's __BOOT_CS (0x10) and __BOOT_DS (0x18): the 32-bit entry of a bzImage.
 * - startLongMode(): 64-bit mode with paging on (the caller built the page tables and the GDT
 *   in guest memory): the 64-bit entry of a bzImage.
 */
import type { Cpu } from './cpu.ts';
import { cpuid } from './cpuid.ts';
import { CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME } from './mmu.ts';
import { ATTR_DB, ATTR_G, ATTR_L, ATTR_P, ATTR_S, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, setSegment } from './system.ts';
import {
  CR0, CR2, CR3, CR4, CR8, DR, EFER, GDTR_BASE, GDTR_LIMIT, GPR, IDTR_BASE, IDTR_LIMIT, MXCSR, SEG_LDTR_INDEX,
  SEG_TR_INDEX, XMM,
} from '../state-layout.ts';

/** Boot protocol selectors. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;

const CODE32 = ATTR_P | ATTR_S | 0xb | ATTR_DB | ATTR_G;
const CODE64 = ATTR_P | ATTR_S | 0xb | ATTR_L | ATTR_G;
const DATA = ATTR_P | ATTR_S | 0x3 | ATTR_DB | ATTR_G;

/** Clears registers, flags and system state shared by every start state. */
function clear(cpu: Cpu): void {
  const i32 = cpu.i32;
  i32.fill(0, GPR >> 2, (GPR >> 2) + 32);
  i32.fill(0, XMM >> 2, (XMM >> 2) + 64);
  i32.fill(0, DR >> 2, (DR >> 2) + 16);
  i32[(DR >> 2) + 12] = 0xffff0ff0; // DR6
  i32[(DR >> 2) + 14] = 0x400; // DR7
  i32[MXCSR >> 2] = 0x1f80;
  i32[CR2 >> 2] = 0;
  i32[(CR2 >> 2) + 1] = 0;
  i32[CR3 >> 2] = 0;
  i32[(CR3 >> 2) + 1] = 0;
  i32[CR4 >> 2] = 0;
  i32[CR8 >> 2] = 0;
  i32[EFER >> 2] = 0;
  i32[IDTR_BASE >> 2] = 0;
  i32[(IDTR_BASE >> 2) + 1] = 0;
  i32[IDTR_LIMIT >> 2] = 0xffff;
  setSegment(cpu, SEG_LDTR_INDEX, 0, 0, 0, 0xffff, 0x82);
  setSegment(cpu, SEG_TR_INDEX, 0, 0, 0, 0xffff, 0x8b);
  cpu.setFlags(0x2);
  cpu.halted = false;
  cpu.shutdown = false;
  cpu.interruptShadow = false;
  cpu.codePages = [];
  cpu.hasCode.fill(0);
}

/** The power-on/RESET state: real mode, CS:IP = F000:FFF0, EDX = the processor signature. */
export function reset(cpu: Cpu): void {
  clear(cpu);
  cpu.i32[CR0 >> 2] = 0x6000_0010; // CD, NW, ET
  cpu.i32[GDTR_BASE >> 2] = 0;
  cpu.i32[GDTR_LIMIT >> 2] = 0xffff;
  const realData = ATTR_P | ATTR_S | 0x3;
  setSegment(cpu, SEG_CS, 0xf000, 0xffff_0000 | 0, 0, 0xffff, ATTR_P | ATTR_S | 0xb);
  for (const seg of [SEG_DS, SEG_ES, SEG_SS, SEG_FS, SEG_GS]) setSegment(cpu, seg, 0, 0, 0, 0xffff, realData);
  cpu.cpl = 0;
  cpu.codeBits = 16;
  const signature = new Int32Array(4);
  cpuid(1, 0, signature);
  cpu.setReg(2, 4, signature[0]!, 0, 0); // EDX = processor signature (family, model, stepping)
  cpu.rip = 0xfff0n;
  cpu.flushTlb(true);
}

export interface EntryRegisters {
  /** RSI/ESI: the zero page (boot_params) for Linux. */
  readonly rsi?: bigint;
  readonly rsp?: bigint;
}

/** Common part of the protected-mode and long-mode entries: GDT, data segments, registers. */
function enter(cpu: Cpu, gdtBase: number, gdtLimit: number, regs: EntryRegisters): void {
  clear(cpu);
  cpu.i32[GDTR_BASE >> 2] = gdtBase;
  cpu.i32[(GDTR_BASE >> 2) + 1] = 0;
  cpu.i32[GDTR_LIMIT >> 2] = gdtLimit;
  for (const seg of [SEG_DS, SEG_ES, SEG_SS, SEG_FS, SEG_GS]) setSegment(cpu, seg, BOOT_DS, 0, 0, -1, DATA);
  cpu.cpl = 0;
  if (regs.rsi !== undefined) cpu.set64(6, Number(regs.rsi & 0xffffffffn) | 0, Number(regs.rsi >> 32n) | 0);
  if (regs.rsp !== undefined) cpu.set64(4, Number(regs.rsp & 0xffffffffn) | 0, Number(regs.rsp >> 32n) | 0);
}

/** Flat 32-bit protected mode, paging off, IF = 0, at `eip`. */
export function startProtectedMode(cpu: Cpu, eip: number, gdtBase: number, gdtLimit: number, regs: EntryRegisters = {}): void {
  enter(cpu, gdtBase, gdtLimit, regs);
  cpu.i32[CR0 >> 2] = CR0_PE | 0x10;
  setSegment(cpu, SEG_CS, BOOT_CS, 0, 0, -1, CODE32);
  cpu.rip = BigInt(eip >>> 0);
  cpu.flushTlb(true);
}

/** 64-bit mode with 4-level paging from `cr3`, IF = 0, at `rip`. */
export function startLongMode(cpu: Cpu, rip: bigint, cr3: number, gdtBase: number, gdtLimit: number, regs: EntryRegisters = {}): void {
  enter(cpu, gdtBase, gdtLimit, regs);
  cpu.i32[CR4 >> 2] = CR4_PAE;
  cpu.i32[EFER >> 2] = EFER_LME | EFER_LMA;
  cpu.i32[CR3 >> 2] = cr3;
  cpu.i32[CR0 >> 2] = CR0_PE | CR0_PG | 0x10;
  setSegment(cpu, SEG_CS, BOOT_CS, 0, 0, -1, CODE64);
  cpu.rip = rip;
  cpu.flushTlb(true);
}

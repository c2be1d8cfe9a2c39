/**
 * A bare machine for system-level CPU tests (test-only): RAM with a GDT, identity paging for long
 * mode, and nasm macros for IDT gates, so that a test is one assembled program that sets up its
 * own IDT, TSS and privilege levels and ends in HLT (or a triple fault).
 *
 * GDT (at GDT_ADDR, limit 0x6f):
 *   0x08 64-bit code DPL0, conforming     0x10 64-bit code DPL0      0x18 data DPL0
 *   0x20 32-bit code DPL0                 0x28 data DPL3             0x30 64-bit code DPL3
 *   0x38 32-bit code DPL3                 0x40 TSS at TSS_ADDR (16 bytes in long mode)
 *   0x50 32-bit code DPL0, conforming     0x58 64-bit code DPL3, conforming
 *   0x60 32-bit code DPL1                 0x68 data DPL1
 * Long mode: the first 4 MiB identity-mapped with 2 MiB user pages (PML4 at 0x2000). Protected
 * mode: no paging. The IDT is at IDT_ADDR (load it with `lidt [idtr]`; the `idtr` label is
 * appended to every program).
 */
import { Cpu } from '../cpu.ts';
import { CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE } from '../mmu.ts';
import { ATTR_DB, ATTR_L, ATTR_P, ATTR_S, SEG_CS, SEG_DS, SEG_SS, setSegment } from '../system.ts';
import { assemble } from './asm.ts';
import { CR0, CR3, CR4, EFER, GDTR_BASE, GDTR_LIMIT, RAM_OFFSET } from '../../state-layout.ts';

const RAM = 4 << 20;
export const CODE_ADDR = 0x100000;
export const GDT_ADDR = 0x1000;
export const TSS_ADDR = 0x5000;
export const IDT_ADDR = 0x6000;
const PML4 = 0x2000;
const PDPT = 0x3000;
const PD = 0x4000;

const DESCRIPTORS: readonly (readonly [selector: number, hi: number])[] = [
  [0x08, 0x00af9f00], [0x10, 0x00af9b00], [0x18, 0x00cf9300], [0x20, 0x00cf9b00],
  [0x28, 0x00cff300], [0x30, 0x00affb00], [0x38, 0x00cffb00], [0x50, 0x00cf9f00],
  [0x58, 0x00afff00], [0x60, 0x00cfbb00], [0x68, 0x00cfb300],
];

/** A CPU in long mode (CS 0x10, SS 0x18, CPL 0) or flat 32-bit protected mode (CS 0x20). */
export function systemMachine(mode: 'long' | 'protected'): Cpu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const cpu = new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  const dv = cpu.dv;
  const q = (at: number, lo: number, hi: number) => {
    dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
    dv.setUint32(RAM_OFFSET + at + 4, hi >>> 0, true);
  };
  for (const [sel, hi] of DESCRIPTORS) q(GDT_ADDR + sel, 0x0000ffff, hi);
  q(GDT_ADDR + 0x40, (TSS_ADDR << 16) | 0x67, 0x00008900); // available TSS (32- or 64-bit)
  q(GDT_ADDR + 0x48, 0, 0);
  const i32 = cpu.i32;
  i32[GDTR_BASE >> 2] = GDT_ADDR;
  i32[GDTR_LIMIT >> 2] = 0x6f;
  if (mode === 'long') {
    q(PML4, PDPT | 7, 0);
    q(PDPT, PD | 7, 0);
    q(PD, 0x87, 0);
    q(PD + 8, 0x200000 | 0x87, 0);
    i32[CR3 >> 2] = PML4;
    i32[CR4 >> 2] = CR4_PAE;
    i32[EFER >> 2] = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    i32[CR0 >> 2] = CR0_PE | CR0_PG;
    setSegment(cpu, SEG_CS, 0x10, 0, 0, -1, ATTR_P | ATTR_S | 0xb | ATTR_L);
  } else {
    i32[CR0 >> 2] = CR0_PE;
    setSegment(cpu, SEG_CS, 0x20, 0, 0, -1, ATTR_P | ATTR_S | 0xb | ATTR_DB | 0x8000);
    setSegment(cpu, SEG_DS, 0x18, 0, 0, -1, ATTR_P | ATTR_S | 0x3 | ATTR_DB | 0x8000);
  }
  setSegment(cpu, SEG_SS, 0x18, 0, 0, -1, ATTR_P | ATTR_S | 0x3 | ATTR_DB | 0x8000);
  cpu.cpl = 0;
  cpu.flushTlb(true);
  return cpu;
}

/**
 * nasm macros: `gate V, HANDLER, ATTRS, SELECTOR` writes a 16-byte (long mode) IDT entry,
 * `gate32 V, HANDLER, ATTRS, SELECTOR` an 8-byte one; ATTRS is the gate's type/DPL/P word
 * (with the IST index in bits 0-2 in long mode), e.g. 0x8e00 for a DPL-0 interrupt gate.
 * `to_user64 LABEL, RFLAGS` IRETQs to CS 0x33 / SS 0x2b with RSP 0x70000; `to_user32 LABEL,
 * EFLAGS` IRETDs to CS 0x3b / SS 0x2b with ESP 0x70000.
 */
const MACROS = `
%define ORG 0x${CODE_ADDR.toString(16)}
%macro gate 4
  mov dword [0x${IDT_ADDR.toString(16)} + %1*16], (((%2 - $$ + ORG) & 0xffff) | (%4 << 16))
  mov dword [0x${IDT_ADDR.toString(16)} + %1*16 + 4], (((%2 - $$ + ORG) & 0xffff0000) | %3)
  mov dword [0x${IDT_ADDR.toString(16)} + %1*16 + 8], 0
%endmacro
%macro gate32 4
  mov dword [0x${IDT_ADDR.toString(16)} + %1*8], (((%2 - $$ + ORG) & 0xffff) | (%4 << 16))
  mov dword [0x${IDT_ADDR.toString(16)} + %1*8 + 4], (((%2 - $$ + ORG) & 0xffff0000) | %3)
%endmacro
%macro to_user64 2
  push 0x2b
  push 0x70000
  push %2
  push 0x33
  push %1
  iretq
%endmacro
%macro to_user32 2
  push 0x2b
  push 0x70000
  push %2
  push 0x3b
  push %1
  iretd
%endmacro
`;

/** Assembles `source` (with the macros and an `idtr` label) at CODE_ADDR and points RIP there. */
export function loadProgram(cpu: Cpu, source: string, bits: 32 | 64): void {
  const idtr = bits === 64 ? `idtr:\n  dw 0xfff\n  dq ${IDT_ADDR}` : `idtr:\n  dw 0x7ff\n  dd ${IDT_ADDR}`;
  cpu.u8.set(assemble(`bits ${bits}\n${MACROS}\n${source}\n${idtr}`, CODE_ADDR), RAM_OFFSET + CODE_ADDR);
  cpu.rip = BigInt(CODE_ADDR);
}

/** A 64-bit register as an unsigned bigint. */
export function reg64(cpu: Cpu, r: number): bigint {
  return (BigInt(cpu.hi64(r) >>> 0) << 32n) | BigInt(cpu.lo(r) >>> 0);
}

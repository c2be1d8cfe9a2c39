/**
 * IRET outside protected mode proper (Intel SDM Vol. 2 IRET, Vol. 3A 20.1.4 and 20.2-20.3):
 * in real-address mode, in virtual-8086 mode (IOPL-sensitive), and IRETD from CPL 0 into
 * virtual-8086 mode. Called by ./system.ts iret(), whose snapshot restores CS, SS, CPL,
 * RFLAGS and RSP if these fault.
 *
 * Not supported: CR4.VME/PVI (IRET acting on VIF/VIP in virtual-8086 mode), IRET with NT set
 * (task return) — ./system.ts raises #GP(0) for it in protected mode.
 */
import type { Cpu } from '../cpu.ts';
import { IF, IOPL, VM } from '../flags.ts';
import { SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, checkVm86Iopl, loadRealSegment } from '../system.ts';
import { ATTENTION } from '../../state-layout.ts';

const GP = 13;

/** EFLAGS bits a real-mode IRETD may change (SDM IRET: the pop AND 257FD5H; VM VIF VIP stay). */
const IRET_REAL_WRITABLE = 0x257fd5;

/**
 * IRET in real-address mode, or in virtual-8086 mode with IOPL = 3 (#GP(0) below): pops
 * (E)IP, CS and (E)FLAGS; CS loads real-mode style. Virtual-8086 mode keeps IOPL (and VM).
 * A target beyond CS's limit is #GP(0) (jump()).
 */
export function iretReal(cpu: Cpu, size: number, old: number): void {
  const vm86 = (old & VM) !== 0;
  if (vm86) checkVm86Iopl(cpu);
  const ip = cpu.pop(size);
  const cs = cpu.pop(size) & 0xffff;
  const flags = cpu.pop(size);
  let writable = IRET_REAL_WRITABLE;
  if (vm86) writable &= ~IOPL;
  if (size === 2) writable &= 0xffff;
  loadRealSegment(cpu, SEG_CS, cs);
  cpu.setFlags((old & ~writable) | (flags & writable));
  cpu.jump(ip, 0, size);
  if ((flags & ~old & IF & writable) !== 0) cpu.i32[ATTENTION >> 2] = 1; // interrupts enabled
}

/**
 * IRETD at CPL 0 with VM set in the popped EFLAGS (SDM IRET, RETURN-TO-VIRTUAL-8086-MODE):
 * then ESP, SS, ES, DS, FS and GS are popped, every segment loads with virtual-8086 rules
 * (base = selector << 4, limit 0xFFFF, DPL 3) and the CPU continues at CPL 3, 16-bit.
 */
export function iretToVm86(cpu: Cpu, eip: number, cs: number, flags: number): void {
  if ((eip >>> 0) > 0xffff) cpu.fault(GP, 0); // beyond the VM86 code segment's limit
  const sp = cpu.pop(4);
  const values = [cpu.pop(4), cpu.pop(4), cpu.pop(4), cpu.pop(4), cpu.pop(4)]; // SS ES DS FS GS
  cpu.setFlags(flags | 0x2);
  cpu.cpl = 3;
  loadRealSegment(cpu, SEG_CS, cs);
  const segs = [SEG_SS, SEG_ES, SEG_DS, SEG_FS, SEG_GS];
  for (let k = 0; k < 5; k++) loadRealSegment(cpu, segs[k]!, values[k]! & 0xffff);
  cpu.setReg(4, 4, sp, 0, 0);
  cpu.nextLo = eip;
  cpu.nextHi = 0;
  cpu.i32[ATTENTION >> 2] = 1; // a new mode, and maybe interrupts enabled
}

/**
 * System architecture: segment descriptors, exception and interrupt delivery through the IDT,
 * IRET, and mode changes (Intel SDM Vol. 3A, chapters 3, 5 and 6).
 *
 * Delivery works in real mode (the IVT: 4-byte vectors at IDTR.base, FLAGS CS IP pushed; SDM
 * Vol. 3A 20.1.4), protected mode (32- and 16-bit gates, TSS ring-0 stack; from virtual-8086
 * mode with GS FS DS ES saved on the ring-0 stack and cleared, 20.3.1) and IA-32e mode
 * (64-bit gates, RSP0 or IST stacks, 16-byte aligned frames). A fault during delivery becomes
 * #DF; a fault while delivering #DF is a triple fault, which stops the CPU (the machine resets).
 * A handler in a conforming code segment (SDM Vol. 3A 6.12.1.1) runs at the current CPL on the
 * current stack (an IST stack still switches in IA-32e mode); a non-conforming one runs at its
 * DPL, switching stacks through the TSS when that is more privileged; a target DPL above the
 * CPL is #GP(selector). Error codes of faults raised while delivering a hardware interrupt,
 * an NMI or an exception carry the EXT bit (bit 0, SDM 6.13); those of INT n/INT3/INTO do not.
 *
 * Segment loads in real mode and virtual-8086 mode set base = selector << 4; real mode keeps
 * the limit and attributes a protected-mode load left in the descriptor cache ("unreal
 * mode"), virtual-8086 mode sets limit 0xFFFF and DPL 3. updateSegmentState() precomputes
 * the CPU's segChecks and stack16 flags after every change of a segment register or mode.
 *
 * Not supported: task gates and hardware task switches, call gates, CR4.VME/PVI (virtual
 * interrupt flags: VIF/VIP), interrupt redirection through the TSS bitmap in virtual-8086 mode.
 */
import type { Cpu } from './cpu.ts';
import { VEC_GP, VEC_NP, VEC_PF, VEC_SS, VEC_TS } from './exceptions.ts';
import { AC, IF, NT, RF, TF, VM } from './flags.ts';
import { CPU_FAULT, CR0_PE, EFER_LMA } from './mmu.ts';
import {
  ATTENTION, CR0, EFER, GDTR_BASE, GDTR_LIMIT, IDTR_BASE, IDTR_LIMIT, RFLAGS, RIP, SEGS, SEG_ATTRS, SEG_BASE, SEG_LDTR_INDEX,
  SEG_LIMIT, SEG_SELECTOR, SEG_STRIDE, SEG_TR_INDEX,
} from '../state-layout.ts';

import { SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS } from './decoder.ts';
// Segment register numbers are defined once, with the decoder (prefix 26/2E/36/3E/64/65).
export { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS } from './decoder.ts';

/** Descriptor attribute bits, as stored in SEG_ATTRS: the descriptor's bits 40-47 and 52-55. */
export const ATTR_TYPE_MASK = 0x0f;
export const ATTR_S = 0x10; // code/data (not system)
export const ATTR_DPL_SHIFT = 5;
export const ATTR_P = 0x80;
export const ATTR_L = 0x2000;
export const ATTR_DB = 0x4000;
export const ATTR_G = 0x8000;
const TYPE_CODE = 0x8;
const TYPE_CONFORMING = 0x4;
const TYPE_WRITABLE_OR_READABLE = 0x2;
/** Error-code bit 0 (SDM Vol. 3A 6.13): the fault happened delivering an event external to the program. */
const ERROR_EXT = 1;


/** Exceptions that push an error code. */
const HAS_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

function segField(seg: number, field: number): number {
  return (SEGS + seg * SEG_STRIDE + field) >> 2;
}

export function segSelector(cpu: Cpu, seg: number): number {
  return cpu.i32[segField(seg, SEG_SELECTOR)]! & 0xffff;
}

export function segAttrs(cpu: Cpu, seg: number): number {
  return cpu.i32[segField(seg, SEG_ATTRS)]!;
}

/** Sets a segment register's visible and hidden parts. */
export function setSegment(cpu: Cpu, seg: number, selector: number, baseLo: number, baseHi: number, limit: number, attrs: number): void {
  const i32 = cpu.i32;
  i32[segField(seg, SEG_SELECTOR)] = selector & 0xffff;
  i32[segField(seg, SEG_BASE)] = baseLo;
  i32[segField(seg, SEG_BASE) + 1] = baseHi;
  i32[segField(seg, SEG_LIMIT)] = limit;
  i32[segField(seg, SEG_ATTRS)] = attrs;
  if (seg === SEG_CS) {
    const before = cpu.codeBits;
    updateCodeBits(cpu);
    i32[ATTENTION >> 2] = 1; // the code segment changed: refetch
    // Links hold across a new CS in 64-bit code (no base, same decoding; the privilege is
    // part of the epoch): system calls and interrupts keep them.
    if (before !== 64 || cpu.codeBits !== 64) cpu.dropLinks();
  } else if (seg < 6) updateSegmentState(cpu);
}

/** Derives the code size from CS and EFER.LMA. */
export function updateCodeBits(cpu: Cpu): void {
  const attrs = segAttrs(cpu, SEG_CS);
  const lma = (cpu.i32[EFER >> 2]! & EFER_LMA) !== 0;
  cpu.codeBits = lma && (attrs & ATTR_L) ? 64 : attrs & ATTR_DB ? 32 : 16;
  cpu.limit4G = cpu.codeBits !== 64;
  updateSegmentState(cpu);
}

/**
 * Precomputes the CPU's segmentation flags: stack16 (SS.B = 0) and segChecks (outside 64-bit
 * code, some usable segment register is not 4 GiB expand-up, so limits must be checked).
 * Unusable (null) segments fault on use anyway and do not count.
 */
export function updateSegmentState(cpu: Cpu): void {
  const i32 = cpu.i32;
  cpu.stack16 = (i32[segField(SEG_SS, SEG_ATTRS)]! & ATTR_DB) === 0;
  let checks = false;
  if (cpu.codeBits !== 64) {
    for (let seg = 0; seg < 6; seg++) {
      const attrs = i32[segField(seg, SEG_ATTRS)]!;
      if ((attrs & ATTR_P) === 0) continue;
      if (i32[segField(seg, SEG_LIMIT)] !== -1 || (attrs & 0x1c) === 0x14) checks = true;
    }
  }
  cpu.segChecks = checks;
}

/** Real-address mode (CR0.PE = 0) or virtual-8086 mode (EFLAGS.VM = 1): segments are selector << 4. */
export function isRealOrVm86(cpu: Cpu): boolean {
  return (cpu.i32[CR0 >> 2]! & CR0_PE) === 0 || (cpu.i32[RFLAGS >> 2]! & VM) !== 0;
}

/** Virtual-8086 mode: protected mode with EFLAGS.VM = 1. */
export function isVm86(cpu: Cpu): boolean {
  return (cpu.i32[RFLAGS >> 2]! & VM) !== 0 && (cpu.i32[CR0 >> 2]! & CR0_PE) !== 0;
}

/**
 * IOPL-sensitive instructions (INT n, IRET, PUSHF, POPF; CLI/STI check CPL 3 > IOPL) in
 * virtual-8086 mode without CR4.VME: #GP(0) unless IOPL = 3 (SDM Vol. 3A 20.2.7).
 */
export function checkVm86Iopl(cpu: Cpu): void {
  const flags = cpu.i32[RFLAGS >> 2]!;
  if ((flags & VM) !== 0 && (flags & IOPL_MASK) !== IOPL_MASK && isVm86(cpu)) cpu.fault(VEC_GP, 0);
}
const IOPL_MASK = 0x3000;

/**
 * A segment load in real-address or virtual-8086 mode (SDM Vol. 3A 20.1.1, 20.2.1): base =
 * selector << 4, no descriptor. Real mode keeps the cached limit and the D/B, G and AVL bits
 * (unreal mode: a limit loaded in protected mode survives), and marks the segment present,
 * read/write (CS: execute/read) at DPL 0. Virtual-8086 mode sets limit 0xFFFF, DPL 3, 16-bit.
 */
export function loadRealSegment(cpu: Cpu, seg: number, selector: number): void {
  const vm86 = (cpu.i32[RFLAGS >> 2]! & VM) !== 0;
  const type = seg === SEG_CS ? 0xb : 0x3;
  let attrs = ATTR_P | ATTR_S | type;
  let limit = 0xffff;
  if (vm86) attrs |= 3 << ATTR_DPL_SHIFT;
  else {
    attrs |= segAttrs(cpu, seg) & (ATTR_DB | ATTR_G | 0x1000);
    limit = cpu.i32[segField(seg, SEG_LIMIT)]!;
  }
  setSegment(cpu, seg, selector, (selector & 0xffff) << 4, 0, limit, attrs);
}

/** Reads the 8-byte descriptor of a selector from the GDT or LDT; #GP(selector) if outside. */
function readDescriptor(cpu: Cpu, selector: number, vector = VEC_GP): [lo: number, hi: number, addrLo: number, addrHi: number] {
  const i32 = cpu.i32;
  const index = selector & ~7;
  let baseLo: number;
  let baseHi: number;
  let limit: number;
  if (selector & 4) {
    baseLo = i32[segField(SEG_LDTR_INDEX, SEG_BASE)]!;
    baseHi = i32[segField(SEG_LDTR_INDEX, SEG_BASE) + 1]!;
    limit = i32[segField(SEG_LDTR_INDEX, SEG_LIMIT)]!;
  } else {
    baseLo = i32[GDTR_BASE >> 2]!;
    baseHi = i32[(GDTR_BASE >> 2) + 1]!;
    limit = i32[GDTR_LIMIT >> 2]!;
  }
  if (index + 7 > limit) cpu.fault(vector, selector & ~3);
  const s = (baseLo >>> 0) + index;
  const aLo = s | 0;
  const aHi = s > 0xffffffff ? (baseHi + 1) | 0 : baseHi;
  // Descriptor tables are read with supervisor rights whatever the CPL.
  const user = cpu.userMode;
  cpu.setUserMode(false);
  try {
    const lo = cpu.read32(aLo, aHi);
    const hi = cpu.read32(aLo + 4, aHi);
    return [lo, hi, aLo, aHi];
  } finally {
    cpu.setUserMode(user);
  }
}

function descriptorBase(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
}

function descriptorLimit(lo: number, hi: number): number {
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) limit = (limit << 12) | 0xfff;
  return limit;
}

function descriptorAttrs(hi: number): number {
  return (hi >>> 8) & 0xf0ff;
}

/** Sets the accessed bit of a descriptor if it is clear (as the CPU does on a load). */
function markAccessed(cpu: Cpu, hi: number, aLo: number, aHi: number): void {
  if ((hi & 0x100) === 0) {
    const user = cpu.userMode;
    cpu.setUserMode(false);
    try {
      cpu.write32(aLo + 4, aHi, hi | 0x100);
    } finally {
      cpu.setUserMode(user);
    }
  }
}

/**
 * Loads a data or stack segment register (MOV/POP Sreg, LDS..., far transfers for SS) in
 * protected or long mode, with the SDM's checks.
 */
export function loadDataSegment(cpu: Cpu, seg: number, selector: number): void {
  if (isRealOrVm86(cpu)) return loadRealSegment(cpu, seg, selector);
  const cpl = cpu.cpl;
  if ((selector & ~3) === 0) {
    // A null selector: allowed except for SS (outside 64-bit mode, or at CPL 3).
    if (seg === SEG_SS && (cpu.codeBits !== 64 || cpl === 3 || (selector & 3) !== cpl)) cpu.fault(VEC_GP, 0);
    setSegment(cpu, seg, selector, 0, 0, 0, seg === SEG_SS ? (cpl << ATTR_DPL_SHIFT) | ATTR_DB : 0);
    return;
  }
  const [lo, hi, aLo, aHi] = readDescriptor(cpu, selector);
  const attrs = descriptorAttrs(hi);
  const dpl = (attrs >> ATTR_DPL_SHIFT) & 3;
  const rpl = selector & 3;
  const type = attrs & ATTR_TYPE_MASK;
  if (seg === SEG_SS) {
    if (rpl !== cpl || dpl !== cpl || !(attrs & ATTR_S) || (type & TYPE_CODE) || !(type & TYPE_WRITABLE_OR_READABLE)) {
      cpu.fault(VEC_GP, selector & ~3);
    }
    if (!(attrs & ATTR_P)) cpu.fault(VEC_SS, selector & ~3);
  } else {
    const code = (type & TYPE_CODE) !== 0;
    const conforming = code && (type & 4) !== 0;
    if (!(attrs & ATTR_S) || (code && !(type & TYPE_WRITABLE_OR_READABLE))) cpu.fault(VEC_GP, selector & ~3);
    if (!conforming && (rpl > dpl || cpl > dpl)) cpu.fault(VEC_GP, selector & ~3);
    if (!(attrs & ATTR_P)) cpu.fault(VEC_NP, selector & ~3);
  }
  markAccessed(cpu, hi, aLo, aHi);
  setSegment(cpu, seg, selector, descriptorBase(lo, hi), 0, descriptorLimit(lo, hi), attrs | 1);
}

/** Loads CS for a far JMP/CALL/RET/IRET to `selector` at privilege `newCpl` (no call gates). */
export function loadCodeSegment(cpu: Cpu, selector: number, newCpl: number): void {
  if (isRealOrVm86(cpu)) return loadRealSegment(cpu, SEG_CS, selector); // CPL stays (0, or 3 in VM86)
  if ((selector & ~3) === 0) cpu.fault(VEC_GP, 0);
  const [lo, hi, aLo, aHi] = readDescriptor(cpu, selector);
  const attrs = descriptorAttrs(hi);
  const type = attrs & ATTR_TYPE_MASK;
  if (!(attrs & ATTR_S) || !(type & TYPE_CODE)) cpu.fault(VEC_GP, selector & ~3);
  const dpl = (attrs >> ATTR_DPL_SHIFT) & 3;
  const conforming = (type & 4) !== 0;
  if (conforming ? dpl > newCpl : dpl !== newCpl) cpu.fault(VEC_GP, selector & ~3);
  if (!(attrs & ATTR_P)) cpu.fault(VEC_NP, selector & ~3);
  markAccessed(cpu, hi, aLo, aHi);
  setSegment(cpu, SEG_CS, (selector & ~3) | newCpl, descriptorBase(lo, hi), 0, descriptorLimit(lo, hi), attrs | 1);
  cpu.cpl = newCpl;
}

/** LTR / LLDT: system descriptors (16 bytes in long mode). */
export function loadSystemSegment(cpu: Cpu, which: number, selector: number): void {
  if ((selector & ~3) === 0) {
    if (which === SEG_TR_INDEX) cpu.fault(VEC_GP, 0);
    setSegment(cpu, which, selector, 0, 0, 0, 0);
    return;
  }
  if (selector & 4) cpu.fault(VEC_GP, selector & ~3); // must be in the GDT
  const [lo, hi, aLo, aHi] = readDescriptor(cpu, selector);
  const attrs = descriptorAttrs(hi);
  const type = attrs & ATTR_TYPE_MASK;
  // An available TSS (a 16-bit one only outside long mode) or an LDT.
  const ok = which === SEG_TR_INDEX ? type === 9 || (type === 1 && !cpu.longMode) : type === 2;
  if ((attrs & ATTR_S) || !ok) cpu.fault(VEC_GP, selector & ~3);
  if (!(attrs & ATTR_P)) cpu.fault(VEC_NP, selector & ~3);
  let baseHi = 0;
  if (cpu.longMode) {
    // 16-byte descriptor in long mode: its upper half must be inside the GDT too.
    if ((selector & ~7) + 15 > cpu.i32[GDTR_LIMIT >> 2]!) cpu.fault(VEC_GP, selector & ~3);
    baseHi = cpu.read32(aLo + 8, aHi);
  }
  if (which === SEG_TR_INDEX) {
    // Mark the TSS busy.
    cpu.write32(aLo + 4, aHi, hi | 0x200);
  }
  setSegment(cpu, which, selector, descriptorBase(lo, hi), baseHi, descriptorLimit(lo, hi), attrs | (which === SEG_TR_INDEX ? 2 : 0));
}

// ---- exceptions and interrupts ----------------------------------------------------------------

/**
 * Delivers vector `vector` through the IDT. `errorCode` < 0: none. `software`: INT n / INT3 /
 * INTO (gate DPL is checked against CPL). RIP in the state block is the return address.
 */
export function deliver(cpu: Cpu, vector: number, errorCode: number, software: boolean): void {
  try {
    if (cpu.longMode) deliverLong(cpu, vector, errorCode, software);
    else if ((cpu.i32[CR0 >> 2]! & CR0_PE) === 0) deliverReal(cpu, vector);
    else if (cpu.i32[RFLAGS >> 2]! & VM) deliverFromVm86(cpu, vector, errorCode, software);
    else deliverProtected(cpu, vector, errorCode, software);
  } catch (err) {
    // A fault while delivering an external interrupt, an NMI or an exception (not INT n, INT3,
    // INTO) sets EXT in its error code: #TS, #NP, #SS and #GP, whose codes name a selector,
    // an IDT entry or 0. (#PF has its own format; #DF's and #AC's are always 0.)
    const v = cpu.faultVector;
    if (err === CPU_FAULT && !software && v >= VEC_TS && v <= VEC_GP && cpu.faultError >= 0) cpu.faultError |= ERROR_EXT;
    throw err;
  }
}

/** From virtual-8086 mode: all or nothing (a fault puts the VM86 state back for the next event). */
function deliverFromVm86(cpu: Cpu, vector: number, errorCode: number, software: boolean): void {
  const snap = snapshotTransfer(cpu);
  const data = [SEG_ES, SEG_DS, SEG_FS, SEG_GS].map((seg) => cpu.i32.slice(segField(seg, 0), segField(seg, 0) + SEG_STRIDE / 4));
  try {
    deliverProtected(cpu, vector, errorCode, software);
  } catch (err) {
    [SEG_ES, SEG_DS, SEG_FS, SEG_GS].forEach((seg, k) => cpu.i32.set(data[k]!, segField(seg, 0)));
    restoreTransfer(cpu, snap);
    throw err;
  }
}

/**
 * Real-address mode interrupt (SDM Vol. 3A 20.1.4): the vector's 4-byte IVT entry (IP, then
 * CS) must lie within IDTR.limit (#GP otherwise); FLAGS, CS and IP are pushed as words (no
 * error code in real mode), IF, TF and AC cleared. A fault while pushing leaves SP unchanged.
 */
function deliverReal(cpu: Cpu, vector: number): void {
  const i32 = cpu.i32;
  if (vector * 4 + 3 > (i32[IDTR_LIMIT >> 2]! >>> 0)) cpu.fault(VEC_GP, 0);
  const entry = cpu.read32((i32[IDTR_BASE >> 2]! + vector * 4) | 0, 0);
  const flags = cpu.getFlags();
  const spLo = cpu.lo(4);
  const spHi = cpu.hi64(4);
  try {
    cpu.push(2, flags, 0);
    cpu.push(2, segSelector(cpu, SEG_CS), 0);
    cpu.push(2, i32[RIP >> 2]!, 0);
  } catch (err) {
    cpu.set64(4, spLo, spHi);
    throw err;
  }
  cpu.setFlags(flags & ~(IF | TF | AC));
  loadRealSegment(cpu, SEG_CS, entry >>> 16);
  i32[RIP >> 2] = entry & 0xffff;
  i32[(RIP >> 2) + 1] = 0;
}

function readIdtEntry(cpu: Cpu, vector: number, size: number): [number, number, number, number] {
  const i32 = cpu.i32;
  const limit = i32[IDTR_LIMIT >> 2]!;
  const baseLo = i32[IDTR_BASE >> 2]!;
  const baseHi = i32[(IDTR_BASE >> 2) + 1]!;
  const errIdt = vector * 8 + 2; // IDT bit; deliver() adds EXT
  if (vector * size + size - 1 > limit) cpu.fault(VEC_GP, errIdt);
  const s = (baseLo >>> 0) + vector * size;
  const aLo = s | 0;
  const aHi = s > 0xffffffff ? (baseHi + 1) | 0 : baseHi;
  const user = cpu.userMode;
  cpu.setUserMode(false);
  try {
    const w0 = cpu.read32(aLo, aHi);
    const w1 = cpu.read32(aLo + 4, aHi);
    const w2 = size === 16 ? cpu.read32(aLo + 8, aHi) : 0;
    return [w0, w1, w2, errIdt];
  } finally {
    cpu.setUserMode(user);
  }
}

function deliverLong(cpu: Cpu, vector: number, errorCode: number, software: boolean): void {
  const [w0, w1, w2, errIdt] = readIdtEntry(cpu, vector, 16);
  const type = (w1 >> 8) & 0xf;
  if (type !== 0xe && type !== 0xf) cpu.fault(VEC_GP, errIdt);
  const gateDpl = (w1 >> 13) & 3;
  const cpl = cpu.cpl;
  if (software && gateDpl < cpl) cpu.fault(VEC_GP, errIdt);
  if (!(w1 & 0x8000)) cpu.fault(VEC_NP, errIdt);
  const selector = (w0 >>> 16) & 0xffff;
  const targetLo = (w0 & 0xffff) | (w1 & 0xffff0000);
  const targetHi = w2;
  // Target code segment.
  const [dlo, dhi] = readDescriptor(cpu, selector);
  const attrs = descriptorAttrs(dhi);
  if (!(attrs & ATTR_S) || !(attrs & TYPE_CODE) || !(attrs & ATTR_L)) cpu.fault(VEC_GP, selector & ~3);
  if (!(attrs & ATTR_P)) cpu.fault(VEC_NP, selector & ~3);
  const dpl = (attrs >> ATTR_DPL_SHIFT) & 3;
  if (dpl > cpl) cpu.fault(VEC_GP, selector & ~3);
  // A conforming handler runs at the current privilege; a non-conforming one at its DPL.
  const newCpl = attrs & TYPE_CONFORMING ? cpl : dpl;
  // Old state.
  const ripLo = cpu.i32[RIP >> 2]!;
  const ripHi = cpu.i32[(RIP >> 2) + 1]!;
  const flags = cpu.getFlags();
  const oldCs = segSelector(cpu, SEG_CS);
  const oldSs = segSelector(cpu, SEG_SS);
  const oldSpLo = cpu.lo(4);
  const oldSpHi = cpu.hi64(4);
  // New stack: IST if the gate names one, else RSP0 on a privilege change, else the current one.
  const istNumber = w1 & 7; // 64-bit gate: byte 4, bits 0-2
  let spLo = oldSpLo;
  let spHi = oldSpHi;
  if (istNumber !== 0 || newCpl < cpl) {
    const off = istNumber !== 0 ? 0x24 + (istNumber - 1) * 8 : 4 + newCpl * 8;
    [spLo, spHi] = readTss64(cpu, off);
  }
  // Align to 16 and push the frame (through supervisor accesses at the new CPL).
  spLo &= ~0xf;
  const frame = [oldSs, 0, oldSpLo, oldSpHi, flags, 0, oldCs, 0, ripLo, ripHi];
  if (errorCode >= 0) frame.push(errorCode, 0);
  const previousUser = cpu.userMode;
  cpu.setUserMode(newCpl === 3);
  try {
    for (let i = 0; i < frame.length; i += 2) {
      const s = (spLo >>> 0) - 8;
      spHi = s < 0 ? (spHi - 1) | 0 : spHi;
      spLo = s | 0;
      cpu.write64(spLo, spHi, frame[i]!, frame[i + 1]!);
    }
  } catch (e) {
    cpu.setUserMode(previousUser);
    throw e;
  }
  cpu.set64(4, spLo, spHi);
  if (newCpl < cpl) setSegment(cpu, SEG_SS, newCpl, 0, 0, 0, (newCpl << ATTR_DPL_SHIFT) | ATTR_DB); // null SS at the new CPL
  setSegment(cpu, SEG_CS, (selector & ~3) | newCpl, 0, 0, descriptorLimit(dlo, dhi), attrs | 1);
  cpu.cpl = newCpl;
  let newFlags = flags & ~(TF | NT | RF | VM);
  if (type === 0xe) newFlags &= ~IF;
  cpu.setFlags(newFlags);
  cpu.i32[RIP >> 2] = targetLo;
  cpu.i32[(RIP >> 2) + 1] = targetHi;
}

/**
 * I/O permission for IN/OUT/INS/OUTS (SDM Vol. 1 19.5): allowed when CPL <= IOPL outside
 * virtual-8086 mode; otherwise
 * every port of the access must be clear in the TSS I/O permission bitmap (its offset at TSS
 * 0x66, read as a supervisor, two bytes at a time, each within the TSS limit). #GP(0) if not.
 */
export function checkIoPermission(cpu: Cpu, port: number, size: number): void {
  // Virtual-8086 mode always consults the bitmap, whatever IOPL (SDM Vol. 3A 20.2.8.1).
  if (cpu.cpl <= (cpu.getFlags() & 0x3000) >> 12 && !(cpu.i32[RFLAGS >> 2]! & VM)) return;
  const i32 = cpu.i32;
  const type = i32[segField(SEG_TR_INDEX, SEG_ATTRS)]! & 0x1f;
  // Only a 32/64-bit TSS (available or busy) has a bitmap.
  if (type !== 9 && type !== 11) cpu.fault(VEC_GP, 0);
  const limit = i32[segField(SEG_TR_INDEX, SEG_LIMIT)]! >>> 0;
  if (limit < 0x67) cpu.fault(VEC_GP, 0);
  const baseLo = i32[segField(SEG_TR_INDEX, SEG_BASE)]!;
  const baseHi = cpu.longMode ? i32[segField(SEG_TR_INDEX, SEG_BASE) + 1]! : 0;
  const read16 = (offset: number): number => {
    const s = (baseLo >>> 0) + offset;
    return cpu.read16(s | 0, s > 0xffffffff ? baseHi + 1 : baseHi);
  };
  const user = cpu.userMode;
  cpu.setUserMode(false);
  let bits: number;
  try {
    const at = read16(0x66) + (port >>> 3);
    if (at + 1 > limit) cpu.fault(VEC_GP, 0);
    bits = read16(at);
  } finally {
    cpu.setUserMode(user);
  }
  if ((bits & (((1 << size) - 1) << (port & 7))) !== 0) cpu.fault(VEC_GP, 0);
}

function readTss64(cpu: Cpu, offset: number): [number, number] {
  const i32 = cpu.i32;
  const baseLo = i32[segField(SEG_TR_INDEX, SEG_BASE)]!;
  const baseHi = i32[segField(SEG_TR_INDEX, SEG_BASE) + 1]!;
  const limit = i32[segField(SEG_TR_INDEX, SEG_LIMIT)]!;
  if (offset + 7 > limit) cpu.fault(VEC_TS, segSelector(cpu, SEG_TR_INDEX) & ~3);
  const s = (baseLo >>> 0) + offset;
  const user = cpu.userMode;
  cpu.setUserMode(false);
  try {
    const lo = cpu.read32(s | 0, s > 0xffffffff ? baseHi + 1 : baseHi);
    const hi = cpu.read32((s + 4) | 0, s + 4 > 0xffffffff ? baseHi + 1 : baseHi);
    return [lo, hi];
  } finally {
    cpu.setUserMode(user);
  }
}

function deliverProtected(cpu: Cpu, vector: number, errorCode: number, software: boolean): void {
  const [w0, w1, , errIdt] = readIdtEntry(cpu, vector, 8);
  const type = (w1 >> 8) & 0x1f;
  if (type !== 0xe && type !== 0xf && type !== 0x6 && type !== 0x7) cpu.fault(VEC_GP, errIdt);
  const gate32 = (type & 8) !== 0;
  const gateDpl = (w1 >> 13) & 3;
  const cpl = cpu.cpl;
  if (software && gateDpl < cpl) cpu.fault(VEC_GP, errIdt);
  if (!(w1 & 0x8000)) cpu.fault(VEC_NP, errIdt);
  const selector = (w0 >>> 16) & 0xffff;
  const target = gate32 ? (w0 & 0xffff) | (w1 & 0xffff0000) : w0 & 0xffff;
  const [dlo, dhi] = readDescriptor(cpu, selector);
  const attrs = descriptorAttrs(dhi);
  if (!(attrs & ATTR_S) || !(attrs & TYPE_CODE)) cpu.fault(VEC_GP, selector & ~3);
  if (!(attrs & ATTR_P)) cpu.fault(VEC_NP, selector & ~3);
  const dpl = (attrs >> ATTR_DPL_SHIFT) & 3;
  if (dpl > cpl) cpu.fault(VEC_GP, selector & ~3);
  // A conforming handler runs at the current privilege; a non-conforming one at its DPL.
  const newCpl = attrs & TYPE_CONFORMING ? cpl : dpl;
  const flags = cpu.getFlags();
  const eip = cpu.i32[RIP >> 2]!;
  const oldCs = segSelector(cpu, SEG_CS);
  const frame: number[] = [];
  const push = (v: number) => frame.push(v);
  // A fault while switching stacks or pushing the frame leaves SS, ESP and CPL as they were.
  const snap = snapshotTransfer(cpu);
  const fromVm86 = (flags & VM) !== 0;
  if (fromVm86) {
    // From virtual-8086 mode only to a non-conforming ring-0 handler (SDM Vol. 3A 20.3.1.1):
    // the VM86 data segments go on the ring-0 stack first, then the usual inner-level frame.
    if (newCpl !== 0) cpu.fault(VEC_GP, selector & ~3);
    push(segSelector(cpu, SEG_GS));
    push(segSelector(cpu, SEG_FS));
    push(segSelector(cpu, SEG_DS));
    push(segSelector(cpu, SEG_ES));
    cpu.setFlags(flags & ~VM); // the ring-0 stack segment loads with protected-mode rules
  }
  const codeBits = cpu.codeBits;
  try {
    if (newCpl < cpl) {
      // Inner stack from the 32-bit TSS: ESP at 4 + 8*dpl, SS at 8 + 8*dpl.
      const trBase = cpu.i32[segField(SEG_TR_INDEX, SEG_BASE)]!;
      const user = cpu.userMode;
      cpu.setUserMode(false);
      let newSp: number;
      let newSs: number;
      try {
        newSp = cpu.read32(trBase + 4 + dpl * 8, 0);
        newSs = cpu.read16(trBase + 8 + dpl * 8, 0);
      } finally {
        cpu.setUserMode(user);
      }
      const oldSs = segSelector(cpu, SEG_SS);
      const oldSp = cpu.lo(4);
      cpu.cpl = newCpl;
      try {
        loadDataSegment(cpu, SEG_SS, newSs);
      } catch (err) {
        // A bad stack selector in the TSS is #TS(selector), not #GP (SDM Vol. 3A 6.12.1.1).
        if (err === CPU_FAULT && cpu.faultVector === VEC_GP) cpu.faultVector = VEC_TS;
        throw err;
      }
      cpu.setReg(4, 4, newSp, 0, 0);
      push(oldSs);
      push(oldSp);
    }
    push(flags);
    push(oldCs);
    push(eip);
    if (errorCode >= 0) push(errorCode);
    const size = gate32 ? 4 : 2;
    cpu.cpl = newCpl;
    cpu.codeBits = 32; // push() uses the 32-bit stack here
    for (const v of frame) cpu.push(size, v, 0);
    cpu.codeBits = codeBits;
  } catch (err) {
    cpu.codeBits = codeBits;
    restoreTransfer(cpu, snap);
    throw err;
  }
  if (fromVm86) for (const seg of [SEG_GS, SEG_FS, SEG_DS, SEG_ES]) setSegment(cpu, seg, 0, 0, 0, 0, 0);
  setSegment(cpu, SEG_CS, (selector & ~3) | newCpl, descriptorBase(dlo, dhi), 0, descriptorLimit(dlo, dhi), attrs | 1);
  let newFlags = flags & ~(TF | NT | RF | VM);
  if ((type & 7) === 6) newFlags &= ~IF;
  cpu.setFlags(newFlags);
  cpu.i32[RIP >> 2] = target;
  cpu.i32[(RIP >> 2) + 1] = 0;
}

/**
 * CS, SS, CPL, RFLAGS and RSP, saved before a far transfer (IRET, far RET/CALL) changes them,
 * so that a fault in its later checks can put everything back: the SDM reports such faults
 * at the instruction, with nothing changed.
 */
export interface TransferSnapshot {
  readonly segs: Int32Array;
  readonly cpl: number;
  readonly flags: number;
  readonly spLo: number;
  readonly spHi: number;
}

export function snapshotTransfer(cpu: Cpu): TransferSnapshot {
  const at = (SEGS + SEG_CS * SEG_STRIDE) >> 2;
  // CS and SS are adjacent (1 and 2): one copy of both.
  return {
    segs: cpu.i32.slice(at, at + (2 * SEG_STRIDE) / 4),
    cpl: cpu.cpl,
    flags: cpu.getFlags(),
    spLo: cpu.lo(4),
    spHi: cpu.hi64(4),
  };
}

export function restoreTransfer(cpu: Cpu, snap: TransferSnapshot): void {
  cpu.i32.set(snap.segs, (SEGS + SEG_CS * SEG_STRIDE) >> 2);
  updateCodeBits(cpu);
  cpu.cpl = snap.cpl;
  cpu.setFlags(snap.flags);
  cpu.set64(4, snap.spLo, snap.spHi);
  cpu.dropLinks();
}

/** Whether an exception vector pushes an error code. */
export function hasErrorCode(vector: number): boolean {
  return HAS_ERROR_CODE.has(vector);
}

/** Contributory exceptions and page faults combine into #DF (SDM Table 6-5). */
export function isDoubleFault(first: number, second: number): boolean {
  const contributory = (v: number) => v === 0 || (v >= 10 && v <= 13);
  if (contributory(first) && contributory(second)) return true;
  if (first === VEC_PF && (contributory(second) || second === VEC_PF)) return true;
  return false;
}


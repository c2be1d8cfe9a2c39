/**
 * System instructions (Intel SDM Vol. 2 and Vol. 3A): INT n/INT3/INTO/IRET, far JMP/CALL/RET,
 * segment register loads, descriptor tables (LGDT LIDT SGDT SIDT LLDT LTR SLDT STR LAR LSL
 * VERR VERW), control and debug registers, MSRs, CPUID, RDTSC/RDTSCP, SYSCALL/SYSRET,
 * SYSENTER/SYSEXIT, SWAPGS, IN/OUT, CLTS, INVLPG, WBINVD/INVD, LMSW/SMSW, CLFLUSH.
 *
 * Real-address and virtual-8086 mode (SDM Vol. 3A ch. 20): INT n, IRET, far JMP/CALL/RET and
 * segment loads with real-mode semantics (system.ts loadRealSegment); IRET from CPL 0 with
 * EFLAGS.VM set enters virtual-8086 mode (pops ES DS FS GS too); in virtual-8086 mode INT n,
 * IRET, PUSHF/POPF (move.ts) and CLI/STI (control.ts) raise #GP(0) when IOPL < 3; LLDT LTR
 * SLDT STR LAR LSL VERR VERW SYSCALL SYSRET raise #UD in both modes.
 *
 * Not supported: call gates and task switches (IRET with NT, task gates), MONITOR/MWAIT,
 * CR4.VME/PVI virtual interrupts (VIF/VIP).
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { cpuid } from '../cpuid.ts';
import { iretReal, iretToVm86 } from './iret-real.ts';
import type { Binding } from '../exec.ts';
import { AC, IF, IOPL, NT, RF, TF, VM, ID, ARITH, DF, FIXED_1, OF, ZF } from '../flags.ts';
import {
  ACCESS_READ, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE,
} from '../mmu.ts';
import { K, type Opcode } from '../opcode-table.ts';
import {
  ATTR_DB, ATTR_DPL_SHIFT, ATTR_L, ATTR_P, ATTR_S, SEG_CS, SEG_FS, SEG_GS, SEG_SS, loadCodeSegment,
  loadDataSegment, loadRealSegment, loadSystemSegment, restoreTransfer, segAttrs, segSelector, setSegment,
  snapshotTransfer, updateCodeBits, checkIoPermission, checkVm86Iopl, isRealOrVm86,
} from '../system.ts';
import {
  ATTENTION, CR0, CR2, CR3, CR4, CR8, DR, EFER, GDTR_BASE, GDTR_LIMIT, IDTR_BASE, IDTR_LIMIT, MSR_APIC_BASE, MSR_CSTAR,
  MSR_KERNEL_GS_BASE, MSR_KVM_SYSTEM_TIME, MSR_KVM_WALL_CLOCK, MSR_LSTAR, MSR_PAT, MSR_SFMASK, MSR_STAR,
  MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP, MSR_TSC_AUX, MSR_TSC_OFFSET, RIP, SEGS, SEG_BASE, SEG_LDTR_INDEX,
  SEG_LIMIT, SEG_STRIDE, SEG_TR_INDEX,
} from '../../state-layout.ts';

const GP = 13;
const UD = 6;

function requireCpl0(cpu: Cpu): void {
  if (cpu.cpl !== 0) cpu.fault(GP, 0);
}

/** Instructions not recognised in real-address and virtual-8086 mode raise #UD there. */
function requireProtectedMode(cpu: Cpu): void {
  if (isRealOrVm86(cpu)) cpu.fault(UD);
}

function setRip(cpu: Cpu, lo: number, hi: number): void {
  cpu.nextLo = lo;
  cpu.nextHi = hi;
}

// ---- software interrupts and IRET -----------------------------------------------------------

function intN(cpu: Cpu, e: CachedInsn): void {
  if (e.aux === 0) checkVm86Iopl(cpu); // INT n (not INT3/INTO) is IOPL-sensitive in VM86: a fault here
  // The return address is the next instruction; delivery happens here, not as a fault.
  cpu.softwareIntLo = cpu.i32[RIP >> 2]!;
  cpu.softwareIntHi = cpu.i32[(RIP >> 2) + 1]!;
  cpu.i32[RIP >> 2] = cpu.nextLo;
  cpu.i32[(RIP >> 2) + 1] = cpu.nextHi;
  const vector = e.aux === 1 ? 3 : e.aux === 2 ? 4 : e.imm & 0xff;
  if (e.aux === 2 && (cpu.getFlags() & OF) === 0) return;
  if (cpu.stopOnFault) cpu.fault(vector);
  if (!cpu.raise(vector, -1, true)) {
    cpu.shutdown = true;
    cpu.i32[ATTENTION >> 2] = 1;
  }
  cpu.nextLo = cpu.i32[RIP >> 2]!;
  cpu.nextHi = cpu.i32[(RIP >> 2) + 1]!;
}

/** IRET: all or nothing (a fault restores CS, SS, CPL, RFLAGS and RSP). */
function iret(cpu: Cpu, e: CachedInsn): void {
  const snap = snapshotTransfer(cpu);
  try {
    iretInner(cpu, e);
    // IRET ends NMI blocking (SDM Vol. 3A 6.7.1), also when the NMI handler was left otherwise.
    if (cpu.nmiBlocked) {
      cpu.nmiBlocked = false;
      if (cpu.nmiPending) cpu.i32[ATTENTION >> 2] = 1;
    }
  } catch (err) {
    restoreTransfer(cpu, snap);
    throw err;
  }
}

function iretInner(cpu: Cpu, e: CachedInsn): void {
  const size = e.opsize;
  const old = cpu.getFlags();
  if (isRealOrVm86(cpu)) return iretReal(cpu, size, old);
  if (!cpu.longMode && (old & NT)) cpu.fault(GP, 0); // task return: not supported
  const spLo = cpu.lo(4);
  const spHi = cpu.hi64(4);
  const ripLo = cpu.pop(size);
  const ripHi = size === 8 ? cpu.hi : 0;
  const cs = cpu.pop(size) & 0xffff;
  const flags = cpu.pop(size);
  if (!cpu.longMode && size === 4 && (flags & VM) && cpu.cpl === 0) return iretToVm86(cpu, ripLo, cs, flags);
  const rpl = cs & 3;
  const cpl = cpu.cpl;
  if (rpl < cpl) {
    cpu.set64(4, spLo, spHi);
    cpu.fault(GP, cs & ~3);
  }
  let newSpLo = 0;
  let newSpHi = 0;
  let ss = 0;
  const outer = cpu.codeBits === 64 || rpl > cpl;
  if (outer) {
    newSpLo = cpu.pop(size);
    newSpHi = size === 8 ? cpu.hi : 0;
    ss = cpu.pop(size) & 0xffff;
  }
  try {
    loadCodeSegment(cpu, cs, rpl);
  } catch (err) {
    cpu.set64(4, spLo, spHi);
    throw err;
  }
  // Flags: IOPL only at CPL 0, IF only if CPL <= IOPL; VM/VIF/VIP are not supported.
  let writable = ARITH | TF | DF | NT | AC | ID | RF;
  if (cpl === 0) writable |= IOPL;
  if (cpl <= (old & IOPL) >> 12) writable |= IF;
  if (size === 2) writable &= 0xffff;
  cpu.setFlags((old & ~writable) | (flags & writable));
  if (outer) {
    if (cpu.codeBits === 64 || size === 8) cpu.set64(4, newSpLo, newSpHi);
    else cpu.setReg(4, 4, newSpLo, 0, 0);
    loadDataSegment(cpu, SEG_SS, ss);
  }
  if (rpl > cpl) clearDataSegmentsForOuterLevel(cpu, rpl);
  setRip(cpu, ripLo, cpu.codeBits === 64 ? ripHi : 0);
}

/** On a return to an outer level, data segments the new level may not use become null. */
function clearDataSegmentsForOuterLevel(cpu: Cpu, cpl: number): void {
  for (const seg of [0, 3, 4, 5]) {
    const attrs = segAttrs(cpu, seg);
    const dpl = (attrs >> ATTR_DPL_SHIFT) & 3;
    const conformingCode = (attrs & 0x1c) === 0x1c;
    if ((segSelector(cpu, seg) & ~3) !== 0 && !conformingCode && dpl < cpl) {
      const base = cpu.codeBits === 64 && seg >= 4;
      setSegment(cpu, seg, 0, base ? cpu.segBaseLo(seg) : 0, base ? cpu.segBaseHi(seg) : 0, 0, 0);
    }
  }
}

// ---- far transfers ----------------------------------------------------------------------------

/** JMPF/CALLF: aux bit 0 = call, bit 1 = memory operand (else Ap immediate). */
/** Far JMP/CALL: all or nothing (a fault restores CS, SS, CPL, RFLAGS and RSP). */
function farTransfer(cpu: Cpu, e: CachedInsn): void {
  const snap = snapshotTransfer(cpu);
  try {
    farTransferInner(cpu, e);
  } catch (err) {
    restoreTransfer(cpu, snap);
    throw err;
  }
}

function farTransferInner(cpu: Cpu, e: CachedInsn): void {
  const size = e.opsize;
  let offLo: number;
  let offHi = 0;
  let selector: number;
  if (e.aux & 2) {
    cpu.ea(e);
    cpu.checkEaRoom(size + 2); // offset and selector
    const aLo = cpu.eaLo;
    const aHi = cpu.eaHi;
    offLo = cpu.readEA(size === 8 ? 8 : size);
    if (size === 8) offHi = cpu.hi;
    selector = cpu.read16((aLo + size) | 0, aHi);
  } else {
    offLo = e.imm;
    selector = e.imm2 & 0xffff;
  }
  if (size === 2) offLo &= 0xffff;
  const oldCs = segSelector(cpu, SEG_CS);
  const retLo = cpu.nextLo;
  const retHi = cpu.nextHi;
  const oldBits = cpu.codeBits;
  loadCodeSegment(cpu, selector, cpu.cpl);
  // Outside 64-bit code the target must lie within the new CS (#GP(0), nothing pushed).
  if (cpu.segChecks && (offLo >>> 0) > (cpu.i32[(SEGS + SEG_CS * SEG_STRIDE + SEG_LIMIT) >> 2]! >>> 0)) cpu.fault(GP, 0);
  if (e.aux & 1) {
    const bits = cpu.codeBits;
    cpu.codeBits = oldBits; // push with the old stack size
    try {
      cpu.push(size, oldCs, 0);
      cpu.push(size, retLo, retHi);
    } finally {
      cpu.codeBits = bits;
    }
  }
  setRip(cpu, offLo, cpu.codeBits === 64 ? offHi : 0);
}

/** RETF: all or nothing (a fault restores CS, SS, CPL, RFLAGS and RSP). */
function retf(cpu: Cpu, e: CachedInsn): void {
  const snap = snapshotTransfer(cpu);
  try {
    retfInner(cpu, e);
  } catch (err) {
    restoreTransfer(cpu, snap);
    throw err;
  }
}

function retfInner(cpu: Cpu, e: CachedInsn): void {
  const size = e.opsize;
  const ripLo = cpu.pop(size);
  const ripHi = size === 8 ? cpu.hi : 0;
  const cs = cpu.pop(size) & 0xffff;
  if (isRealOrVm86(cpu)) {
    // Real-address and virtual-8086 mode: no privilege levels, no stack switch.
    loadRealSegment(cpu, SEG_CS, cs);
    cpu.jump(ripLo, 0, size);
    if (e.aux) cpu.adjustSp(e.imm & 0xffff);
    return;
  }
  const rpl = cs & 3;
  if (rpl < cpu.cpl) cpu.fault(GP, cs & ~3);
  const imm = e.aux ? e.imm & 0xffff : 0;
  const outer = rpl > cpu.cpl;
  loadCodeSegment(cpu, cs, rpl);
  if (imm) cpu.adjustSp(imm);
  if (outer) {
    const spLo = cpu.pop(size);
    const spHi = size === 8 ? cpu.hi : 0;
    const ss = cpu.pop(size) & 0xffff;
    cpu.set64(4, (spLo + imm) | 0, spHi);
    loadDataSegment(cpu, SEG_SS, ss);
    clearDataSegmentsForOuterLevel(cpu, rpl);
  }
  setRip(cpu, ripLo, cpu.codeBits === 64 ? ripHi : 0);
}

// ---- segment registers ------------------------------------------------------------------------

function movToSreg(cpu: Cpu, e: CachedInsn): void {
  const seg = e.reg & 7;
  if (seg === SEG_CS || seg > 5) cpu.fault(UD);
  loadDataSegment(cpu, seg, cpu.readE(e, 2) & 0xffff);
  if (seg === SEG_SS) cpu.setInterruptShadow();
}

function movFromSreg(cpu: Cpu, e: CachedInsn): void {
  const seg = e.reg & 7;
  if (seg > 5) cpu.fault(UD);
  const v = segSelector(cpu, seg);
  if (e.mod === 3) cpu.setReg(e.rm, e.opsize, v, 0, e.rex);
  else {
    cpu.ea(e);
    cpu.writeEA(2, v, 0);
  }
}

function pushSreg(cpu: Cpu, e: CachedInsn): void {
  cpu.push(e.opsize, segSelector(cpu, e.aux), 0);
}

function popSreg(cpu: Cpu, e: CachedInsn): void {
  const spLo = cpu.lo(4);
  const spHi = cpu.hi64(4);
  const v = cpu.pop(e.opsize) & 0xffff;
  try {
    loadDataSegment(cpu, e.aux, v);
  } catch (err) {
    cpu.set64(4, spLo, spHi);
    throw err;
  }
  if (e.aux === SEG_SS) cpu.setInterruptShadow();
}

/** LDS LES LSS LFS LGS: load offset and selector from memory. */
function loadFarPointer(cpu: Cpu, e: CachedInsn): void {
  cpu.ea(e);
  cpu.checkEaRoom(e.opsize + 2); // offset and selector
  const aLo = cpu.eaLo;
  const aHi = cpu.eaHi;
  const off = cpu.readEA(e.opsize);
  const offHi = cpu.hi;
  const selector = cpu.read16((aLo + e.opsize) | 0, aHi);
  loadDataSegment(cpu, e.aux, selector);
  cpu.setReg(e.reg, e.opsize, off, offHi, e.rex);
}

// ---- descriptor tables ------------------------------------------------------------------------

function lgdtLidt(cpu: Cpu, e: CachedInsn): void {
  requireCpl0(cpu);
  cpu.ea(e);
  cpu.checkEaRoom(cpu.codeBits === 64 ? 10 : 6);
  const aLo = cpu.eaLo;
  const aHi = cpu.eaHi;
  const limit = cpu.read16(aLo, aHi);
  let baseLo = cpu.read32((aLo + 2) | 0, aHi);
  let baseHi = 0;
  if (cpu.codeBits === 64) baseHi = cpu.read32((aLo + 6) | 0, aHi);
  else if (e.opsize === 2) baseLo &= 0xffffff;
  const isIdt = e.aux === 1;
  cpu.i32[(isIdt ? IDTR_LIMIT : GDTR_LIMIT) >> 2] = limit;
  cpu.i32[(isIdt ? IDTR_BASE : GDTR_BASE) >> 2] = baseLo;
  cpu.i32[((isIdt ? IDTR_BASE : GDTR_BASE) >> 2) + 1] = baseHi;
}

function sgdtSidt(cpu: Cpu, e: CachedInsn): void {
  cpu.ea(e);
  cpu.checkEaRoom(cpu.codeBits === 64 ? 10 : 6);
  const aLo = cpu.eaLo;
  const aHi = cpu.eaHi;
  const isIdt = e.aux === 1;
  cpu.write16(aLo, aHi, cpu.i32[(isIdt ? IDTR_LIMIT : GDTR_LIMIT) >> 2]!);
  cpu.write32((aLo + 2) | 0, aHi, cpu.i32[(isIdt ? IDTR_BASE : GDTR_BASE) >> 2]!);
  if (cpu.codeBits === 64) cpu.write32((aLo + 6) | 0, aHi, cpu.i32[((isIdt ? IDTR_BASE : GDTR_BASE) >> 2) + 1]!);
}

/** SLDT (aux 0), STR (1), LLDT (2), LTR (3). */
function group6(cpu: Cpu, e: CachedInsn): void {
  requireProtectedMode(cpu);
  const which = e.aux & 1 ? SEG_TR_INDEX : SEG_LDTR_INDEX;
  if (e.aux < 2) {
    const v = segSelector(cpu, which);
    if (e.mod === 3) cpu.setReg(e.rm, e.opsize, v, 0, e.rex);
    else {
      cpu.ea(e);
      cpu.writeEA(2, v, 0);
    }
    return;
  }
  requireCpl0(cpu);
  loadSystemSegment(cpu, which, cpu.readE(e, 2) & 0xffff);
}

/** LAR (aux 0), LSL (1), VERR (2), VERW (3): set ZF if the selector passes the checks. */
function descriptorQuery(cpu: Cpu, e: CachedInsn): void {
  requireProtectedMode(cpu);
  const selector = cpu.readE(e, 2) & 0xffff;
  const f = cpu.getFlags() & ~ZF;
  const result = probeDescriptor(cpu, selector, e.aux);
  if (result === null) {
    cpu.setFlags(f);
    return;
  }
  cpu.setFlags(f | ZF);
  if (e.aux < 2) cpu.setReg(e.reg, e.opsize, result, 0, e.rex);
}

function probeDescriptor(cpu: Cpu, selector: number, kind: number): number | null {
  if ((selector & ~3) === 0) return null;
  const table = selector & 4 ? SEG_LDTR_INDEX : -1;
  const baseLo = table < 0 ? cpu.i32[GDTR_BASE >> 2]! : cpu.i32[(SEGS + SEG_LDTR_INDEX * SEG_STRIDE + SEG_BASE) >> 2]!;
  const baseHi = table < 0 ? cpu.i32[(GDTR_BASE >> 2) + 1]! : 0;
  const limit = table < 0 ? cpu.i32[GDTR_LIMIT >> 2]! : 0xffff;
  if ((selector & ~7) + 7 > limit) return null;
  const user = cpu.userMode;
  cpu.setUserMode(false);
  let lo: number;
  let hi: number;
  try {
    lo = cpu.read32((baseLo + (selector & ~7)) | 0, baseHi);
    hi = cpu.read32((baseLo + (selector & ~7) + 4) | 0, baseHi);
  } finally {
    cpu.setUserMode(user);
  }
  const attrs = (hi >>> 8) & 0xf0ff;
  const dpl = (attrs >> 5) & 3;
  const code = (attrs & 0x18) === 0x18;
  const conforming = code && (attrs & 4) !== 0;
  if (!(attrs & ATTR_S)) {
    const type = attrs & 0xf;
    const okLar = [1, 2, 3, 9, 11, 12].includes(type);
    const okLsl = [1, 2, 3, 9, 11].includes(type);
    if (kind >= 2 || !(kind === 0 ? okLar : okLsl)) return null;
  }
  if (!conforming && (dpl < cpu.cpl || dpl < (selector & 3))) return null;
  if (kind === 2) return code && !(attrs & 2) ? null : 1; // VERR: readable
  if (kind === 3) return code || !(attrs & 2) ? null : 1; // VERW: writable data
  if (kind === 0) return hi & 0x00f0ff00;
  let lim = (lo & 0xffff) | (hi & 0xf0000);
  if (hi & 0x800000) lim = (lim << 12) | 0xfff;
  return lim;
}

// ---- control, debug and model-specific registers ----------------------------------------------

function movFromCr(cpu: Cpu, e: CachedInsn): void {
  requireCpl0(cpu);
  const i32 = cpu.i32;
  let lo: number;
  let hi = 0;
  switch (e.reg) {
    case 0: lo = i32[CR0 >> 2]!; break;
    case 2: lo = i32[CR2 >> 2]!; hi = i32[(CR2 >> 2) + 1]!; break;
    case 3: lo = i32[CR3 >> 2]!; hi = i32[(CR3 >> 2) + 1]!; break;
    case 4: lo = i32[CR4 >> 2]!; break;
    case 8: lo = i32[CR8 >> 2]!; break;
    default: return cpu.fault(UD);
  }
  cpu.setReg(e.rm, e.opsize, lo, hi, 1);
}

const CR4_ALLOWED = 0x7bc; // TSD DE PSE PAE PGE PCE OSFXSR OSXMMEXCPT

function movToCr(cpu: Cpu, e: CachedInsn): void {
  requireCpl0(cpu);
  const lo = cpu.getReg(e.rm, e.opsize, 1);
  const hi = e.opsize === 8 ? cpu.hi : 0;
  writeCr(cpu, e.reg, lo, hi);
}

export function writeCr(cpu: Cpu, cr: number, lo: number, hi: number): void {
  const i32 = cpu.i32;
  switch (cr) {
    case 0: {
      if (hi !== 0) cpu.fault(GP, 0);
      lo |= 0x10; // ET is hardwired
      if ((lo & CR0_PG) && !(lo & CR0_PE)) cpu.fault(GP, 0);
      const old = i32[CR0 >> 2]!;
      const efer = i32[EFER >> 2]!;
      if ((lo & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME)) {
        if (!(i32[CR4 >> 2]! & CR4_PAE)) cpu.fault(GP, 0);
        i32[EFER >> 2] = efer | EFER_LMA;
      } else if (!(lo & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
        if (cpu.codeBits === 64) cpu.fault(GP, 0);
        i32[EFER >> 2] = efer & ~EFER_LMA;
      }
      i32[CR0 >> 2] = lo;
      cpu.updateAlignCheck(); // CR0.AM
      if ((old ^ lo) & (CR0_PG | CR0_WP | CR0_PE)) cpu.flushTlb(true);
      updateCodeBits(cpu);
      return;
    }
    case 2: i32[CR2 >> 2] = lo; i32[(CR2 >> 2) + 1] = hi; return;
    case 3:
      i32[CR3 >> 2] = lo; // the walk masks what each paging mode uses (PAE: bits 31:5)
      i32[(CR3 >> 2) + 1] = hi;
      cpu.flushTlb(false);
      return;
    case 4: {
      if (hi !== 0 || (lo & ~CR4_ALLOWED)) cpu.fault(GP, 0);
      const old = i32[CR4 >> 2]!;
      if ((i32[EFER >> 2]! & EFER_LMA) && !(lo & CR4_PAE)) cpu.fault(GP, 0);
      i32[CR4 >> 2] = lo;
      if ((old ^ lo) & (CR4_PAE | CR4_PGE | CR4_PSE)) cpu.flushTlb(true);
      return;
    }
    case 8: i32[CR8 >> 2] = lo & 0xf; return;
    default: cpu.fault(UD);
  }
}

function movDr(cpu: Cpu, e: CachedInsn): void {
  requireCpl0(cpu);
  let n = e.reg;
  if (n > 7) cpu.fault(UD);
  if (n === 4 || n === 5) n += 2; // aliases of DR6/DR7 (CR4.DE = 0)
  const at = (DR >> 2) + 2 * n;
  if (e.aux) {
    const lo = cpu.getReg(e.rm, e.opsize, 1);
    cpu.i32[at] = lo;
    cpu.i32[at + 1] = e.opsize === 8 ? cpu.hi : 0;
  } else cpu.setReg(e.rm, e.opsize, cpu.i32[at]!, cpu.i32[at + 1]!, 1);
}

/** MSR numbers and where they live (8-byte fields of the state block). */
const MSR_FIELDS = new Map<number, number>([
  [0xc000_0081, MSR_STAR], [0xc000_0082, MSR_LSTAR], [0xc000_0083, MSR_CSTAR], [0xc000_0084, MSR_SFMASK],
  [0xc000_0102, MSR_KERNEL_GS_BASE], [0x277, MSR_PAT], [0x174, MSR_SYSENTER_CS], [0x175, MSR_SYSENTER_ESP],
  [0x176, MSR_SYSENTER_EIP], [0x1b, MSR_APIC_BASE], [0x4b56_4d00, MSR_KVM_WALL_CLOCK],
  [0x4b56_4d01, MSR_KVM_SYSTEM_TIME], [0xc000_0103, MSR_TSC_AUX],
]);
const MSR_TSC = 0x10;
const MSR_EFER = 0xc000_0080;
const MSR_FS_BASE = 0xc000_0100;
const MSR_GS_BASE = 0xc000_0101;

/** Reads an MSR into [lo, hi]; undefined for an unknown MSR. */
function readMsr(cpu: Cpu, msr: number): [number, number] | undefined {
  const i32 = cpu.i32;
  const outside = cpu.msrs?.read(msr);
  if (outside) return outside;
  switch (msr) {
    case MSR_EFER: return [i32[EFER >> 2]!, 0];
    case MSR_FS_BASE: return [cpu.segBaseLo(SEG_FS), cpu.segBaseHi(SEG_FS)];
    case MSR_GS_BASE: return [cpu.segBaseLo(SEG_GS), cpu.segBaseHi(SEG_GS)];
    case MSR_TSC: return tsc(cpu);
  }
  const field = MSR_FIELDS.get(msr);
  if (field === undefined) return undefined;
  return [i32[field >> 2]!, i32[(field >> 2) + 1]!];
}

function writeMsr(cpu: Cpu, msr: number, lo: number, hi: number): boolean {
  const i32 = cpu.i32;
  const outside = cpu.msrs?.write(msr, lo, hi);
  if (outside !== undefined) return outside;
  switch (msr) {
    case MSR_EFER: {
      const allowed = EFER_SCE | EFER_LME | EFER_NXE;
      if (hi !== 0 || (lo & ~(allowed | EFER_LMA))) return false;
      const old = i32[EFER >> 2]!;
      if ((i32[CR0 >> 2]! & CR0_PG) && ((old ^ lo) & EFER_LME)) return false;
      i32[EFER >> 2] = (lo & allowed) | (old & EFER_LMA);
      if ((old ^ lo) & EFER_NXE) cpu.flushTlb(true);
      return true;
    }
    case MSR_FS_BASE:
    case MSR_GS_BASE: {
      if (hi >> 15 !== 0 && hi >> 15 !== -1) return false;
      const seg = msr === MSR_FS_BASE ? SEG_FS : SEG_GS;
      i32[(SEGS + seg * SEG_STRIDE + SEG_BASE) >> 2] = lo;
      i32[((SEGS + seg * SEG_STRIDE + SEG_BASE) >> 2) + 1] = hi;
      return true;
    }
    case MSR_TSC: {
      // Writing the TSC sets an offset from the time source.
      const [nowLo, nowHi] = rawTsc(cpu);
      const now = nowHi * 2 ** 32 + (nowLo >>> 0);
      const offset = hi * 2 ** 32 + (lo >>> 0) - now;
      i32[MSR_TSC_OFFSET >> 2] = offset % 2 ** 32 | 0;
      i32[(MSR_TSC_OFFSET >> 2) + 1] = Math.floor(offset / 2 ** 32) | 0;
      cpu.onMsrWrite?.(msr, lo, hi);
      return true;
    }
  }
  const field = MSR_FIELDS.get(msr);
  if (field === undefined) return false;
  // Address MSRs must hold canonical addresses (#GP otherwise).
  const isAddress = msr === 0xc000_0102 || msr === 0x175 || msr === 0x176 || msr === 0xc000_0082 || msr === 0xc000_0083;
  if (isAddress && hi >> 15 !== 0 && hi >> 15 !== -1) return false;
  i32[field >> 2] = lo;
  i32[(field >> 2) + 1] = hi;
  cpu.onMsrWrite?.(msr, lo, hi);
  return true;
}

function rawTsc(cpu: Cpu): [number, number] {
  const t = Math.floor(cpu.tscSource());
  return [t % 2 ** 32 | 0, Math.floor(t / 2 ** 32) | 0];
}

/** The guest's TSC (what RDTSC returns): the time source plus the offset a TSC write set. */
export function guestTsc(cpu: Cpu): number {
  const i32 = cpu.i32;
  return Math.floor(cpu.tscSource()) + i32[(MSR_TSC_OFFSET >> 2) + 1]! * 2 ** 32 + (i32[MSR_TSC_OFFSET >> 2]! >>> 0);
}

function tsc(cpu: Cpu): [number, number] {
  const v = guestTsc(cpu);
  return [v % 2 ** 32 | 0, Math.floor(v / 2 ** 32) | 0];
}

function rdmsr(cpu: Cpu): void {
  requireCpl0(cpu);
  const v = readMsr(cpu, cpu.lo(1) >>> 0);
  if (!v) return cpu.fault(GP, 0);
  cpu.setReg(0, 4, v[0], 0, 0);
  cpu.setReg(2, 4, v[1], 0, 0);
}

function wrmsr(cpu: Cpu): void {
  requireCpl0(cpu);
  if (!writeMsr(cpu, cpu.lo(1) >>> 0, cpu.lo(0), cpu.lo(2))) cpu.fault(GP, 0);
}

function rdtsc(cpu: Cpu, e: CachedInsn): void {
  if (cpu.cpl !== 0 && (cpu.i32[CR4 >> 2]! & 4)) cpu.fault(GP, 0); // CR4.TSD
  const [lo, hi] = tsc(cpu);
  cpu.setReg(0, 4, lo, 0, 0);
  cpu.setReg(2, 4, hi, 0, 0);
  if (e.aux) cpu.setReg(1, 4, cpu.i32[MSR_TSC_AUX >> 2]!, 0, 0); // RDTSCP: ECX = TSC_AUX
}

const cpuidOut = new Int32Array(4);
function cpuidOp(cpu: Cpu): void {
  cpuid(cpu.lo(0), cpu.lo(1), cpuidOut);
  cpu.setReg(0, 4, cpuidOut[0]!, 0, 0);
  cpu.setReg(3, 4, cpuidOut[1]!, 0, 0);
  cpu.setReg(1, 4, cpuidOut[2]!, 0, 0);
  cpu.setReg(2, 4, cpuidOut[3]!, 0, 0);
}

// ---- fast system calls --------------------------------------------------------------------------

const FLAT_CODE64 = ATTR_P | ATTR_S | 0xb | ATTR_L | 0x8000; // present code, execute/read, accessed, L, G
const FLAT_CODE32 = ATTR_P | ATTR_S | 0xb | ATTR_DB | 0x8000;
const FLAT_DATA = ATTR_P | ATTR_S | 0x3 | ATTR_DB | 0x8000;

function syscall(cpu: Cpu): void {
  requireProtectedMode(cpu);
  if (!(cpu.i32[EFER >> 2]! & EFER_SCE)) cpu.fault(UD);
  const i32 = cpu.i32;
  const star = i32[(MSR_STAR >> 2) + 1]!;
  const sel = star & 0xfffc;
  cpu.set64(1, cpu.nextLo, cpu.nextHi); // RCX = return RIP
  const flags = cpu.getFlags();
  cpu.set64(11, flags & ~RF, 0); // R11 = RFLAGS
  cpu.setFlags(flags & ~i32[MSR_SFMASK >> 2]! & ~RF);
  setSegment(cpu, SEG_CS, sel, 0, 0, -1, FLAT_CODE64);
  setSegment(cpu, SEG_SS, (sel + 8) & 0xffff, 0, 0, -1, FLAT_DATA);
  cpu.cpl = 0;
  updateCodeBits(cpu);
  setRip(cpu, i32[MSR_LSTAR >> 2]!, i32[(MSR_LSTAR >> 2) + 1]!);
}

function sysret(cpu: Cpu, e: CachedInsn): void {
  requireProtectedMode(cpu);
  if (!(cpu.i32[EFER >> 2]! & EFER_SCE)) cpu.fault(UD);
  requireCpl0(cpu);
  const star = cpu.i32[(MSR_STAR >> 2) + 1]! >>> 16;
  const ripLo = cpu.lo(1);
  const ripHi = cpu.hi64(1);
  if (e.opsize === 8 && ripHi >> 15 !== 0 && ripHi >> 15 !== -1) cpu.fault(GP, 0);
  const r11 = cpu.lo(11);
  if (e.opsize === 8) setSegment(cpu, SEG_CS, ((star + 16) & 0xfffc) | 3, 0, 0, -1, FLAT_CODE64 | (3 << ATTR_DPL_SHIFT));
  else setSegment(cpu, SEG_CS, (star & 0xfffc) | 3, 0, 0, -1, FLAT_CODE32 | (3 << ATTR_DPL_SHIFT));
  setSegment(cpu, SEG_SS, ((star + 8) & 0xfffc) | 3, 0, 0, -1, FLAT_DATA | (3 << ATTR_DPL_SHIFT));
  cpu.cpl = 3;
  updateCodeBits(cpu);
  cpu.setFlags((r11 & ~(RF | VM)) | FIXED_1);
  setRip(cpu, ripLo, e.opsize === 8 ? ripHi : 0);
}

function sysenter(cpu: Cpu): void {
  const i32 = cpu.i32;
  const cs = i32[MSR_SYSENTER_CS >> 2]! & 0xfffc;
  if (!(i32[CR0 >> 2]! & CR0_PE) || cs === 0) cpu.fault(GP, 0);
  cpu.setFlags(cpu.getFlags() & ~(VM | IF | RF));
  const long = cpu.longMode;
  setSegment(cpu, SEG_CS, cs, 0, 0, -1, long ? FLAT_CODE64 : FLAT_CODE32);
  setSegment(cpu, SEG_SS, cs + 8, 0, 0, -1, FLAT_DATA);
  cpu.cpl = 0;
  updateCodeBits(cpu);
  cpu.set64(4, i32[MSR_SYSENTER_ESP >> 2]!, long ? i32[(MSR_SYSENTER_ESP >> 2) + 1]! : 0);
  setRip(cpu, i32[MSR_SYSENTER_EIP >> 2]!, long ? i32[(MSR_SYSENTER_EIP >> 2) + 1]! : 0);
}

function sysexit(cpu: Cpu, e: CachedInsn): void {
  const cs = cpu.i32[MSR_SYSENTER_CS >> 2]! & 0xfffc;
  if (!(cpu.i32[CR0 >> 2]! & CR0_PE) || cs === 0) cpu.fault(GP, 0);
  requireCpl0(cpu);
  const to64 = e.opsize === 8;
  setSegment(cpu, SEG_CS, (cs + (to64 ? 32 : 16)) | 3, 0, 0, -1, (to64 ? FLAT_CODE64 : FLAT_CODE32) | (3 << ATTR_DPL_SHIFT));
  setSegment(cpu, SEG_SS, (cs + (to64 ? 40 : 24)) | 3, 0, 0, -1, FLAT_DATA | (3 << ATTR_DPL_SHIFT));
  cpu.cpl = 3;
  updateCodeBits(cpu);
  if (to64) {
    cpu.set64(4, cpu.lo(1), cpu.hi64(1));
    setRip(cpu, cpu.lo(2), cpu.hi64(2));
  } else {
    cpu.set64(4, cpu.lo(1), 0);
    setRip(cpu, cpu.lo(2), 0);
  }
}

function swapgs(cpu: Cpu): void {
  requireCpl0(cpu);
  const i32 = cpu.i32;
  const at = (SEGS + SEG_GS * SEG_STRIDE + SEG_BASE) >> 2;
  const lo = i32[at]!;
  const hi = i32[at + 1]!;
  i32[at] = i32[MSR_KERNEL_GS_BASE >> 2]!;
  i32[at + 1] = i32[(MSR_KERNEL_GS_BASE >> 2) + 1]!;
  i32[MSR_KERNEL_GS_BASE >> 2] = lo;
  i32[(MSR_KERNEL_GS_BASE >> 2) + 1] = hi;
}

// ---- I/O and miscellany -------------------------------------------------------------------------

/** IN/OUT: aux bit 0 = out, bit 1 = port in DX (else imm8), bit 2 = byte. */
function inOut(cpu: Cpu, e: CachedInsn): void {
  const size = e.aux & 4 ? 1 : e.opsize === 2 ? 2 : 4;
  const port = e.aux & 2 ? cpu.lo(2) & 0xffff : e.imm & 0xff;
  checkIoPermission(cpu, port, size);
  if (e.aux & 1) cpu.io.write(port, size, cpu.lo(0) & (size === 4 ? -1 : (1 << (size * 8)) - 1));
  else cpu.setReg(0, size, cpu.io.read(port, size), 0, 0);
}

function privilegedNop(cpu: Cpu): void {
  requireCpl0(cpu);
}

function clts(cpu: Cpu): void {
  requireCpl0(cpu);
  cpu.i32[CR0 >> 2] = cpu.i32[CR0 >> 2]! & ~8;
}

function invlpg(cpu: Cpu, e: CachedInsn): void {
  requireCpl0(cpu);
  cpu.ea(e);
  cpu.flushPage(cpu.eaLo, cpu.eaHi);
}

function lmsw(cpu: Cpu, e: CachedInsn): void {
  requireCpl0(cpu);
  const v = cpu.readE(e, 2) & 0xf;
  const cr0 = cpu.i32[CR0 >> 2]!;
  // PE can be set but not cleared by LMSW.
  writeCr(cpu, 0, (cr0 & ~0xe) | v | (cr0 & 1), 0);
}

function smsw(cpu: Cpu, e: CachedInsn): void {
  const v = cpu.i32[CR0 >> 2]!;
  if (e.mod === 3) cpu.setReg(e.rm, e.opsize, e.opsize === 2 ? v & 0xffff : v, 0, e.rex);
  else {
    cpu.ea(e);
    cpu.writeEA(2, v & 0xffff, 0);
  }
}

function clflush(cpu: Cpu, e: CachedInsn): void {
  cpu.ea(e);
  cpu.translate(cpu.eaLo, cpu.eaHi, ACCESS_READ); // faults like a byte load; no cache to flush
}

export function bindSystem(op: Opcode): Binding | undefined {
  const m = op.mnemonic;
  const a = op.operands[0];
  const b = op.operands[1];
  if (op.map === 0) {
    switch (m) {
      case 'int': return [intN, 0];
      case 'int3': return [intN, 1];
      case 'into': return [intN, 2];
      case 'iret': return [iret, 0];
      case 'jmpf': return [farTransfer, a?.kind === K.M ? 2 : 0];
      case 'callf': return [farTransfer, 1 | (a?.kind === K.M ? 2 : 0)];
      case 'retf': return [retf, op.operands.length];
      case 'mov':
        if (a?.kind === K.S) return [movToSreg, 0];
        if (b?.kind === K.S) return [movFromSreg, 0];
        return undefined;
      case 'push': return a?.kind === K.SEG ? [pushSreg, a.reg] : undefined;
      case 'pop': return a?.kind === K.SEG ? [popSreg, a.reg] : undefined;
      case 'les': return [loadFarPointer, 0];
      case 'lds': return [loadFarPointer, 3];
      case 'in': case 'out': {
        const port = op.operands.find((o) => o.kind === K.FIXED && o.reg === 2 && o.size === 2);
        const data = op.operands.find((o) => o.kind === K.FIXED && o.reg === 0);
        return [inOut, (m === 'out' ? 1 : 0) | (port ? 2 : 0) | (data?.size === 1 ? 4 : 0)];
      }
    }
    return undefined;
  }
  if (op.map !== 1) return undefined;
  switch (m) {
    case 'sldt': return [group6, 0];
    case 'str': return [group6, 1];
    case 'lldt': return [group6, 2];
    case 'ltr': return [group6, 3];
    case 'lar': return [descriptorQuery, 0];
    case 'lsl': return [descriptorQuery, 1];
    case 'verr': return [descriptorQuery, 2];
    case 'verw': return [descriptorQuery, 3];
    case 'lgdt': return [lgdtLidt, 0];
    case 'lidt': return [lgdtLidt, 1];
    case 'sgdt': return [sgdtSidt, 0];
    case 'sidt': return [sgdtSidt, 1];
    case 'smsw': return [smsw, 0];
    case 'lmsw': return [lmsw, 0];
    case 'invlpg': return [invlpg, 0];
    case 'swapgs': return [swapgs, 0];
    case 'rdtscp': return [rdtsc, 1];
    case 'rdtsc': return [rdtsc, 0];
    case 'syscall': return [syscall, 0];
    case 'sysret': return [sysret, 0];
    case 'sysenter': return [sysenter, 0];
    case 'sysexit': return [sysexit, 0];
    case 'clts': return [clts, 0];
    case 'invd': case 'wbinvd': return [privilegedNop, 0];
    case 'wrmsr': return [wrmsr, 0];
    case 'rdmsr': return [rdmsr, 0];
    case 'cpuid': return [cpuidOp, 0];
    case 'clflush': return [clflush, 0];
    case 'push': return a?.kind === K.SEG ? [pushSreg, a.reg] : undefined;
    case 'pop': return a?.kind === K.SEG ? [popSreg, a.reg] : undefined;
    case 'lss': return [loadFarPointer, SEG_SS];
    case 'lfs': return [loadFarPointer, SEG_FS];
    case 'lgs': return [loadFarPointer, SEG_GS];
    case 'mov':
      if (a?.kind === K.C) return [movToCr, 0];
      if (b?.kind === K.C) return [movFromCr, 0];
      if (a?.kind === K.D) return [movDr, 1];
      if (b?.kind === K.D) return [movDr, 0];
      return undefined;
  }
  return undefined;
}

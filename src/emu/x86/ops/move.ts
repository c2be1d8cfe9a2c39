/**
 * Data movement: MOV (register, memory, immediate, moffs), MOVZX, MOVSX, MOVSXD, LEA, XCHG,
 * BSWAP, CBW/CWDE/CDQE, CWD/CDQ/CQO, and the stack: PUSH, POP, PUSHF, POPF, LEAVE
 * (Intel SDM Vol. 2). None of them changes the arithmetic flags except POPF. Stack accesses use
 * SP when SS.B = 0 (cpu.ts push/pop/setSp); PUSHF/POPF raise #GP(0) in virtual-8086 mode with
 * IOPL < 3.
 *
 * Not supported: CR4.VME (virtual interrupt flag handling of PUSHF/POPF in virtual-8086 mode).
 */
import { signExtend, type CachedInsn, type Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { AC, ARITH, DF, ID, IF, IOPL, NT, OF, TF } from '../flags.ts';
import { K, SZ, type Opcode } from '../opcode-table.ts';
import { ATTENTION } from '../../state-layout.ts';
import { checkVm86Iopl } from '../system.ts';

function size(e: CachedInsn, byte: number): number {
  return byte ? 1 : e.opsize;
}

/** MOV E,G / G,E / Z,imm / E,imm. aux: form | byte << 2. */
export function mov(cpu: Cpu, e: CachedInsn): void {
  const sz = size(e, e.aux & 4);
  switch (e.aux & 3) {
    case 0: { // E <- G
      const lo = cpu.getReg(e.reg, sz, e.rex);
      const hi = cpu.hi;
      if (e.mod === 3) cpu.setReg(e.rm, sz, lo, hi, e.rex);
      else {
        cpu.ea(e);
        cpu.writeEA(sz, lo, hi);
      }
      return;
    }
    case 1: { // G <- E
      const lo = cpu.readE(e, sz);
      cpu.setReg(e.reg, sz, lo, cpu.hi, e.rex);
      return;
    }
    case 2: { // Z <- imm (B0+r, B8+r)
      const r = (e.opcode & 7) | ((e.rex & 1) << 3);
      cpu.setReg(r, sz, e.imm, e.immHi, e.rex);
      return;
    }
    default: { // E <- imm (C6/C7), imm32 sign-extended for 64-bit operands
      const hi = e.imm < 0 ? -1 : 0;
      if (e.mod === 3) cpu.setReg(e.rm, sz, e.imm, hi, e.rex);
      else {
        cpu.ea(e);
        cpu.writeEA(sz, e.imm, hi);
      }
    }
  }
}

/** MOV AL/rAX <-> moffs (A0-A3). aux: 1 = store, byte << 2. */
function movMoffs(cpu: Cpu, e: CachedInsn): void {
  const sz = size(e, e.aux & 4);
  let lo = e.imm;
  let hi = e.adsize === 8 ? e.immHi : 0;
  if (e.adsize === 2) lo &= 0xffff;
  lo = cpu.linearAddress(e.seg < 0 ? 3 : e.seg, lo, hi);
  hi = cpu.hi;
  cpu.eaLo = lo;
  cpu.eaHi = hi;
  if (e.aux & 1) {
    const v = cpu.getReg(0, sz, 0);
    cpu.writeEA(sz, v, cpu.hi);
  } else {
    const v = cpu.readEA(sz);
    cpu.setReg(0, sz, v, cpu.hi, 0);
  }
}

/** MOVZX / MOVSX / MOVSXD: aux = source size | signed << 3. */
export function movExtend(cpu: Cpu, e: CachedInsn): void {
  const from = e.aux & 7;
  const signed = (e.aux & 8) !== 0;
  let v = cpu.readE(e, from);
  if (signed) v = signExtend(v, from);
  const hi = signed && v < 0 ? -1 : 0;
  cpu.setReg(e.reg, e.opsize, e.opsize === 2 ? v & 0xffff : v, hi, e.rex);
}

export function lea(cpu: Cpu, e: CachedInsn): void {
  // The effective address without a segment base, cut to the operand size.
  let lo: number;
  let hi = 0;
  if (cpu.codeBits === 64) {
    const seg = e.seg;
    e.seg = -1;
    lo = cpu.ea(e);
    hi = cpu.eaHi;
    e.seg = seg;
  } else {
    // Outside 64-bit mode: the offset alone (no segment base, limit or usability check).
    lo = cpu.eaOffset(e);
  }
  cpu.setReg(e.reg, e.opsize, e.opsize === 2 ? lo & 0xffff : lo, hi, e.rex);
}

/** XCHG E,G (memory operands are always locked) and XCHG Z,rAX. aux: 1 = Z form, byte << 2. */
function xchg(cpu: Cpu, e: CachedInsn): void {
  const sz = size(e, e.aux & 4);
  if (e.aux & 1) {
    const r = (e.opcode & 7) | ((e.rex & 1) << 3);
    const a = cpu.getReg(r, sz, e.rex);
    const aHi = cpu.hi;
    const b = cpu.getReg(0, sz, e.rex);
    cpu.setReg(r, sz, b, cpu.hi, e.rex);
    cpu.setReg(0, sz, a, aHi, e.rex);
    return;
  }
  const a = cpu.readEWrite(e, sz);
  const aHi = cpu.hi;
  const b = cpu.getReg(e.reg, sz, e.rex);
  const bHi = cpu.hi;
  cpu.writeE(e, sz, b, bHi);
  cpu.setReg(e.reg, sz, a, aHi, e.rex);
}

/** 90: NOP, or XCHG r8, rAX with REX.B (PAUSE with F3 is a NOP too). */
function nop90(cpu: Cpu, e: CachedInsn): void {
  if (e.rex & 1) {
    const a = cpu.getReg(8, e.opsize, e.rex);
    const aHi = cpu.hi;
    const b = cpu.getReg(0, e.opsize, e.rex);
    cpu.setReg(8, e.opsize, b, cpu.hi, e.rex);
    cpu.setReg(0, e.opsize, a, aHi, e.rex);
  }
}

function bswap(cpu: Cpu, e: CachedInsn): void {
  const r = (e.opcode & 7) | ((e.rex & 1) << 3);
  const swap = (v: number) => ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
  if (e.opsize === 8) {
    const lo = cpu.lo(r);
    const hi = cpu.hi64(r);
    cpu.set64(r, swap(hi), swap(lo));
  } else if (e.opsize === 4) cpu.setReg(r, 4, swap(cpu.lo(r)), 0, 0);
  else cpu.setReg(r, 2, 0, 0, 0); // BSWAP of a 16-bit register is undefined; hardware gives 0
}

/** CBW / CWDE / CDQE: sign-extend the low half of rAX into the whole. */
function cbw(cpu: Cpu, e: CachedInsn): void {
  const v = cpu.lo(0);
  switch (e.opsize) {
    case 2: cpu.setReg(0, 2, signExtend(v, 1), 0, 0); break;
    case 4: cpu.setReg(0, 4, signExtend(v, 2), 0, 0); break;
    default: cpu.set64(0, v, v < 0 ? -1 : 0);
  }
}

/** CWD / CDQ / CQO: fill rDX with the sign of rAX. */
function cwd(cpu: Cpu, e: CachedInsn): void {
  const sign = e.opsize === 8 ? cpu.hi64(0) >> 31 : signExtend(cpu.lo(0), e.opsize) >> 31;
  cpu.setReg(2, e.opsize, sign, sign, 0);
}

// ---- stack ----------------------------------------------------------------------------------

/** PUSH Z / E / imm / segment. aux: 0 Z, 1 E, 2 imm, 3 seg. */
export function push(cpu: Cpu, e: CachedInsn): void {
  const sz = e.opsize;
  let lo: number;
  let hi = 0;
  switch (e.aux) {
    case 0:
      lo = cpu.getReg((e.opcode & 7) | ((e.rex & 1) << 3), sz, e.rex);
      hi = cpu.hi;
      break;
    case 1:
      lo = cpu.readE(e, sz);
      hi = cpu.hi;
      break;
    default:
      lo = e.imm;
      hi = e.imm < 0 ? -1 : 0;
  }
  cpu.push(sz, lo, hi);
}

/** POP Z / E. aux: 0 Z, 1 E. POP into memory computes the address after RSP moves. */
export function pop(cpu: Cpu, e: CachedInsn): void {
  const sz = e.opsize;
  const spLo = cpu.lo(4);
  const spHi = cpu.hi64(4);
  const lo = cpu.pop(sz);
  const hi = cpu.hi;
  if (e.aux === 0) cpu.setReg((e.opcode & 7) | ((e.rex & 1) << 3), sz, lo, hi, e.rex);
  else if (e.mod === 3) cpu.setReg(e.rm, sz, lo, hi, e.rex);
  else {
    try {
      cpu.ea(e);
      cpu.writeEA(sz, lo, hi);
    } catch (err) {
      cpu.set64(4, spLo, spHi); // a faulting POP leaves RSP unchanged
      throw err;
    }
  }
}

function pushf(cpu: Cpu, e: CachedInsn): void {
  checkVm86Iopl(cpu);
  // VM and RF are cleared in the pushed image.
  cpu.push(e.opsize, cpu.getFlags() & ~0x30000, 0);
}

function popf(cpu: Cpu, e: CachedInsn): void {
  checkVm86Iopl(cpu);
  const v = cpu.pop(e.opsize);
  const old = cpu.getFlags();
  // What POPF may change depends on the privilege level (SDM POPF table).
  let writable = ARITH | TF | DF | OF | NT | AC | ID;
  if (cpu.cpl === 0) writable |= IOPL | IF;
  else if (cpu.cpl <= ((old & IOPL) >> 12)) writable |= IF;
  if (e.opsize === 2) writable &= 0xffff;
  const f = (old & ~writable) | (v & writable);
  cpu.setFlags(f);
  if (f & ~old & IF) cpu.i32[ATTENTION >> 2] = 1; // interrupts enabled: look for a pending one
}

function leave(cpu: Cpu, e: CachedInsn): void {
  // RSP <- RBP, then pop RBP; a fault leaves RSP as it was.
  const spLo = cpu.lo(4);
  const spHi = cpu.hi64(4);
  cpu.setSp(cpu.lo(5), cpu.hi64(5)); // SP <- BP with a 16-bit stack
  try {
    const lo = cpu.pop(e.opsize);
    cpu.setReg(5, e.opsize, lo, cpu.hi, 0);
  } catch (err) {
    cpu.set64(4, spLo, spHi);
    throw err;
  }
}

export function bindMove(op: Opcode): Binding | undefined {
  const [a, b] = op.operands;
  const byte = a?.size === SZ.B ? 4 : 0;
  if (op.map === 1) {
    switch (op.mnemonic) {
      case 'movzx': return [movExtend, b!.size === SZ.B ? 1 : 2];
      case 'movsx': return [movExtend, (b!.size === SZ.B ? 1 : 2) | 8];
      case 'bswap': return [bswap, 0];
    }
    return undefined;
  }
  if (op.map !== 0) return undefined;
  switch (op.mnemonic) {
    case 'mov':
      if (a?.kind === K.S || b?.kind === K.S) return undefined; // segment loads: not yet
      if (a?.kind === K.O || b?.kind === K.O) return [movMoffs, (a?.kind === K.O ? 1 : 0) | byte];
      if (a?.kind === K.Z) return [mov, 2 | byte];
      if (b?.kind === K.I) return [mov, 3 | byte];
      return [mov, (a?.kind === K.G ? 1 : 0) | byte];
    case 'movsxd': return [movExtend, 4 | 8];
    case 'lea': return [lea, 0];
    case 'xchg': return [xchg, (a?.kind === K.Z ? 1 : 0) | byte];
    case 'nop': return [nop90, 0];
    case 'cbw': return [cbw, 0];
    case 'cwd': return [cwd, 0];
    case 'push':
      if (a?.kind === K.SEG) return undefined;
      return [push, a?.kind === K.Z ? 0 : a?.kind === K.E ? 1 : 2];
    case 'pop':
      if (a?.kind === K.SEG) return undefined;
      return [pop, a?.kind === K.Z ? 0 : 1];
    case 'pushf': return [pushf, 0];
    case 'popf': return [popf, 0];
    case 'leave': return [leave, 0];
  }
  return undefined;
}

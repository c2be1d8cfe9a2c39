/**
 * Bit instructions and atomic exchanges: BT BTS BTR BTC (0F A3/AB/B3/BB with a register bit
 * offset, 0F BA /4-/7 with imm8), BSF BSR (0F BC/BD), POPCNT (F3 0F B8), CMPXCHG (0F B0/B1),
 * XADD (0F C0/C1), CMPXCHG8B and CMPXCHG16B (0F C7 /1, the latter with REX.W).
 * Intel SDM Vol. 2A/2B, "BT", "BTC", "BTR", "BTS", "BSF", "BSR", "POPCNT", "CMPXCHG",
 * "XADD", "CMPXCHG8B/CMPXCHG16B".
 *
 * BT* with a memory operand and a register offset: the offset is a signed 16/32/64-bit value;
 * the operand addressed is the operand-size unit at EA + (offset >> log2(width)) * size and the
 * bit is offset mod width (SDM "BT": "Bit Base, Bit Offset"). Register operands and
 * imm8 offsets take the offset mod the width.
 *
 * BSF/BSR with a zero source set ZF and leave the destination unchanged, all 64 bits of it
 * even with a 32-bit operand size (AMD documents this; the SDM says "undefined").
 *
 * Flags: BT* set CF; BSF/BSR set ZF; POPCNT clears all but ZF; CMPXCHG sets them like CMP
 * accumulator,destination; XADD like ADD; CMPXCHG8B/16B set ZF only. Flags the SDM leaves
 * undefined are produced as the host the differential tests ran on (AMD Zen 4) produces them:
 * BT* keep them; BSF/BSR clear CF OF SF AF and set PF from the index (PF = 1 for a zero source).
 *
 * Destinations are written before the flags are recorded, so a faulting write changes no flag.
 * CMPXCHG with a memory destination always writes (the old value on a mismatch), as the
 * locked read-modify-write does on hardware: a read-only page faults either way.
 *
 * Not supported: nothing in this family.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { VEC_GP } from '../exceptions.ts';
import { ARITH, CF, PARITY, PF, ZF } from '../flags.ts';
import { K, SZ, type Opcode } from '../opcode-table.ts';
import { RFLAGS } from '../../state-layout.ts';
import { ALU_ADD, ALU_CMP, alu } from './alu.ts';


/** BT*: the operation in aux bits 0-1, an imm8 offset in bit 2. */
const BT = 0;
const BTS = 1;
const BTR = 2;
const BTC = 3;
const BT_IMM = 4;
const BT_NAMES = ['bt', 'bts', 'btr', 'btc'];
/** BSF/BSR, CMPXCHG/XADD: byte operand. */
const BSR = 1;
const BYTE = 1;

function bitTest(cpu: Cpu, e: CachedInsn): void {
  const aux = e.aux;
  const sz = e.opsize;
  const width = sz * 8;
  let bit: number;
  if (aux & BT_IMM) {
    bit = e.imm & (width - 1);
    if (e.mod !== 3) cpu.ea(e);
  } else {
    const oLo = cpu.getReg(e.reg, sz, e.rex);
    const oHi = cpu.hi;
    bit = oLo & (width - 1);
    if (e.mod !== 3) {
      // Signed offset: byte displacement (offset >> log2(width)) * size.
      let dLo: number;
      let dHi: number;
      if (sz === 2) {
        dLo = (((oLo << 16) >> 16) >> 3) & ~1;
        dHi = dLo >> 31;
      } else if (sz === 4) {
        dLo = (oLo >> 3) & ~3;
        dHi = oLo >> 31;
      } else {
        dLo = ((oLo >>> 3) | (oHi << 29)) & ~7;
        dHi = oHi >> 3;
      }
      if (e.adsize !== 8) {
        // The displacement is part of the effective address, which wraps at the address size:
        // fold it into the instruction's displacement for this one computation.
        const disp = e.disp;
        e.disp = (disp + dLo) | 0;
        cpu.ea(e);
        e.disp = disp;
      } else {
        cpu.ea(e);
        const s = (cpu.eaLo >>> 0) + (dLo >>> 0);
        cpu.eaLo = s | 0;
        cpu.eaHi = (cpu.eaHi + dHi + (s > 0xffffffff ? 1 : 0)) | 0;
      }
    }
  }
  let lo: number;
  let hi = 0;
  if (e.mod === 3) lo = cpu.getReg(e.rm, sz, e.rex);
  else {
    if ((aux & 3) !== BT) cpu.probeWriteEA(sz); // read-modify-write: faults as a write
    lo = cpu.readEA(sz);
  }
  if (sz === 8) hi = cpu.hi;
  const m = 1 << (bit & 31);
  const cf = ((bit < 32 ? lo : hi) & m) !== 0 ? CF : 0;
  const op = aux & 3;
  if (op !== BT) {
    if (bit < 32) lo = op === BTS ? lo | m : op === BTR ? lo & ~m : lo ^ m;
    else hi = op === BTS ? hi | m : op === BTR ? hi & ~m : hi ^ m;
    if (e.mod === 3) cpu.setReg(e.rm, sz, lo, hi, e.rex);
    else cpu.writeEA(sz, lo, hi);
  }
  cpu.setFlags((cpu.getFlags() & ~CF) | cf);
}

/** BSF / BSR: index of the lowest / highest set bit; ZF and an unchanged destination for 0. */
function bitScan(cpu: Cpu, e: CachedInsn): void {
  const sz = e.opsize;
  const lo = cpu.readE(e, sz);
  const hi = sz === 8 ? cpu.hi : 0;
  // Undefined flags as the host (AMD Zen) sets them: CF OF SF AF clear, PF the parity of the
  // index (of 0 for a zero source).
  const f = cpu.i32[RFLAGS >> 2]! & ~ARITH; // the non-arithmetic bits are always current
  if (lo === 0 && hi === 0) {
    cpu.setFlags(f | ZF | PF);
    return;
  }
  let index: number;
  if (e.aux === BSR) index = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
  else index = lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
  cpu.setReg(e.reg, sz, index, 0, e.rex);
  cpu.setFlags(f | PARITY[index]!);
}

function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

function popcnt(cpu: Cpu, e: CachedInsn): void {
  const sz = e.opsize;
  const lo = cpu.readE(e, sz);
  const n = popcount32(lo) + (sz === 8 ? popcount32(cpu.hi) : 0);
  cpu.setReg(e.reg, sz, n, 0, e.rex);
  const f = cpu.i32[RFLAGS >> 2]! & ~ARITH; // the non-arithmetic bits are always current
  cpu.setFlags(n === 0 ? f | ZF : f);
}

/** Sum of two values of `size` bytes (the high half in cpu.hi), without touching flags. */
function add(cpu: Cpu, size: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  if (size === 8) {
    const s = (aLo >>> 0) + (bLo >>> 0);
    cpu.hi = (aHi + bHi + (s > 0xffffffff ? 1 : 0)) | 0;
    return s | 0;
  }
  cpu.hi = 0;
  const s = (aLo + bLo) | 0;
  return size === 1 ? s & 0xff : size === 2 ? s & 0xffff : s;
}

function cmpxchg(cpu: Cpu, e: CachedInsn): void {
  const sz = e.aux & BYTE ? 1 : e.opsize;
  const dLo = cpu.readEWrite(e, sz);
  const dHi = sz === 8 ? cpu.hi : 0;
  const aLo = cpu.getReg(0, sz, 0);
  const aHi = sz === 8 ? cpu.hi : 0;
  if (aLo === dLo && aHi === dHi) {
    const sLo = cpu.getReg(e.reg, sz, e.rex);
    cpu.writeE(e, sz, sLo, sz === 8 ? cpu.hi : 0);
  } else {
    if (e.mod !== 3) cpu.writeEA(sz, dLo, dHi);
    cpu.setReg(0, sz, dLo, dHi, 0);
  }
  alu(cpu, ALU_CMP, sz, aLo, aHi, dLo, dHi);
}

function xadd(cpu: Cpu, e: CachedInsn): void {
  const sz = e.aux & BYTE ? 1 : e.opsize;
  const dLo = cpu.readEWrite(e, sz);
  const dHi = sz === 8 ? cpu.hi : 0;
  const sLo = cpu.getReg(e.reg, sz, e.rex);
  const sHi = sz === 8 ? cpu.hi : 0;
  const rLo = add(cpu, sz, dLo, dHi, sLo, sHi);
  const rHi = cpu.hi;
  if (e.mod === 3) {
    // SRC = DEST, then DEST = sum (the sum wins when both name the same register).
    cpu.setReg(e.reg, sz, dLo, dHi, e.rex);
    cpu.setReg(e.rm, sz, rLo, rHi, e.rex);
  } else {
    cpu.writeEA(sz, rLo, rHi);
    cpu.setReg(e.reg, sz, dLo, dHi, e.rex);
  }
  alu(cpu, ALU_ADD, sz, dLo, dHi, sLo, sHi);
}

/** CMPXCHG8B m64 (EDX:EAX, ECX:EBX) and, with REX.W, CMPXCHG16B m128 (RDX:RAX, RCX:RBX). */
function cmpxchg8b(cpu: Cpu, e: CachedInsn): void {
  cpu.ea(e);
  let equal: boolean;
  if (e.opsize === 8 && cpu.eaLo & 15) cpu.fault(VEC_GP, 0);
  cpu.probeWriteEA(e.opsize === 8 ? 16 : 8); // always written: faults as a write
  if (e.opsize === 8) {
    // 16-byte aligned: both halves are on one page.
    const lo = cpu.eaLo;
    const hi = cpu.eaHi;
    const m0 = cpu.read64(lo, hi);
    const m1 = cpu.hi;
    const hiLo = (lo + 8) | 0;
    const hiHi = (lo >>> 0) > 0xfffffff7 ? (hi + 1) | 0 : hi;
    const m2 = cpu.read64(hiLo, hiHi);
    const m3 = cpu.hi;
    equal = m0 === cpu.lo(0) && m1 === cpu.hi64(0) && m2 === cpu.lo(2) && m3 === cpu.hi64(2);
    if (equal) {
      cpu.write64(lo, hi, cpu.lo(3), cpu.hi64(3));
      cpu.write64(hiLo, hiHi, cpu.lo(1), cpu.hi64(1));
    } else {
      cpu.write64(lo, hi, m0, m1);
      cpu.write64(hiLo, hiHi, m2, m3);
      cpu.set64(0, m0, m1);
      cpu.set64(2, m2, m3);
    }
  } else {
    const m0 = cpu.readEA(8);
    const m1 = cpu.hi;
    equal = m0 === cpu.lo(0) && m1 === cpu.lo(2);
    if (equal) cpu.writeEA(8, cpu.lo(3), cpu.lo(1));
    else {
      cpu.writeEA(8, m0, m1);
      cpu.setReg(0, 4, m0, 0, 0);
      cpu.setReg(2, 4, m1, 0, 0);
    }
  }
  const f = cpu.getFlags() & ~ZF;
  cpu.setFlags(equal ? f | ZF : f);
}

export function bindBits(op: Opcode): Binding | undefined {
  if (op.map !== 1) return undefined;
  const bt = BT_NAMES.indexOf(op.mnemonic);
  if (bt >= 0) return [bitTest, bt | (op.operands[1]?.kind === K.I ? BT_IMM : 0)];
  const byte = op.operands[0]?.size === SZ.B ? BYTE : 0;
  switch (op.mnemonic) {
    // Without BMI1/LZCNT in CPUID, F3 0F BC/BD are BSF/BSR (see opcodes-0f.ts).
    case 'bsf': case 'tzcnt': return [bitScan, 0];
    case 'bsr': case 'lzcnt': return [bitScan, BSR];
    case 'popcnt': return [popcnt, 0];
    case 'cmpxchg': return [cmpxchg, byte];
    case 'xadd': return [xadd, byte];
    case 'cmpxchg8b': return [cmpxchg8b, 0];
  }
  return undefined;
}

/**
 * Multiply and divide: MUL, IMUL (one operand F6/F7 /5, two operands 0F AF, three operands
 * 69 / 6B), DIV, IDIV (F6/F7 /4 /5 /6 /7), 8/16/32/64-bit, register or memory operand.
 * Intel SDM Vol. 2A/2B, "MUL", "IMUL", "DIV", "IDIV".
 *
 * Exact integer arithmetic on int32 halves, without allocation or bigint: 32x32 products are
 * built from 16-bit limbs (every partial product < 2^32, every sum < 2^53), 64x64 -> 128 from
 * four of those. Byte and word divisions divide exactly in doubles (|dividend| < 2^32);
 * divisors below 2^32 (every 32-bit DIV/IDIV, and most 64-bit ones) use long division by 16-bit
 * limbs (each step divides a value < 2^48, exact in doubles); 64-bit divisors of 2^32 or more
 * use restoring shift-subtract division (64 steps, about twice the cost of the limb path).
 * Signed operations work on magnitudes and fix the signs afterwards.
 *
 * #DE (divide by zero, or a quotient that does not fit the destination, including IDIV of the
 * most negative number by -1) is raised before any register is changed.
 *
 * Flags: MUL and IMUL set CF = OF (the product does not fit the low half / is not its sign
 * extension). The flags the SDM leaves undefined are produced as the host the differential
 * tests ran on (AMD Zen 4) produces them: MUL/IMUL keep SF ZF AF PF; DIV/IDIV clear SF ZF PF,
 * set AF and keep CF OF.
 *
 * Not supported: nothing in this family.
 */
import { VEC_DE, type CachedInsn, type Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { AF, CF, OF, PF, SF, ZF } from '../flags.ts';
import { SZ, type Opcode } from '../opcode-table.ts';

/** aux: operation in bits 0-1, byte operand in bit 2; IMUL with an immediate in bit 3. */
const MUL = 0;
const IMUL = 1;
const DIV = 2;
const IDIV = 3;
const BYTE = 4;
const WITH_IMM = 8;
const NAMES = ['mul', 'imul', 'div', 'idiv'];

const TWO32 = 4294967296;

/** High half of mulU32's product. */
let mHi = 0;
/** The 128-bit product of mul128 (least significant word first), int32 each. */
let p0 = 0;
let p1 = 0;
let p2 = 0;
let p3 = 0;
/** Quotient and remainder of the division helpers. */
let qLo = 0;
let qHi = 0;
let rLo = 0;
let rHi = 0;

/** Unsigned 32x32 -> 64: returns the low half (int32), the high half in mHi. */
function mulU32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mHi = (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) | 0;
  return (ll & 0xffff) | (mid << 16);
}

/** 64x64 -> 128 into p0..p3; signed when `signed` (two's complement operands). */
function mul128(aLo: number, aHi: number, bLo: number, bHi: number, signed: boolean): void {
  const l00 = mulU32(aLo, bLo);
  const h00 = mHi;
  const l01 = mulU32(aLo, bHi);
  const h01 = mHi;
  const l10 = mulU32(aHi, bLo);
  const h10 = mHi;
  const l11 = mulU32(aHi, bHi);
  const h11 = mHi;
  const s1 = (h00 >>> 0) + (l01 >>> 0) + (l10 >>> 0);
  const s2 = (h01 >>> 0) + (h10 >>> 0) + (l11 >>> 0) + Math.floor(s1 / TWO32);
  p0 = l00;
  p1 = s1 | 0;
  p2 = s2 | 0;
  p3 = ((h11 >>> 0) + Math.floor(s2 / TWO32)) | 0;
  if (signed) {
    // (a - 2^64 [a < 0]) * (b - 2^64 [b < 0]) = a*b - 2^64 (b [a < 0] + a [b < 0]) mod 2^128.
    if (aHi < 0) sub23(bLo, bHi);
    if (bHi < 0) sub23(aLo, aHi);
  }
}

/** (p3:p2) -= (hi:lo). */
function sub23(lo: number, hi: number): void {
  const s = (p2 >>> 0) - (lo >>> 0);
  p2 = s | 0;
  p3 = (p3 - hi - (s < 0 ? 1 : 0)) | 0;
}

/**
 * Long division of (rem * 2^32 + word) by d (unsigned, 0 < d < 2^32, rem < d) in two 16-bit
 * steps: returns the 32-bit quotient (int32), the remainder in rLo. Each step divides a value
 * below 2^48 exactly.
 */
function divWord(rem: number, word: number, d: number): number {
  let cur = rem * 65536 + (word >>> 16);
  const q1 = Math.floor(cur / d);
  cur = (cur - q1 * d) * 65536 + (word & 0xffff);
  const q0 = Math.floor(cur / d);
  rLo = cur - q0 * d;
  return (q1 << 16) | q0;
}

/**
 * Unsigned (n3:n2:n1:n0) / (dHi:dLo) with (n3:n2) < (dHi:dLo), so the quotient fits 64 bits:
 * quotient in qLo/qHi, remainder in rLo/rHi.
 */
function div128(n3: number, n2: number, n1: number, n0: number, dLo: number, dHi: number): void {
  if (dHi === 0) {
    // n3 = 0 and n2 < d: two words of long division by 16-bit limbs.
    const d = dLo >>> 0;
    qHi = divWord(n2 >>> 0, n1, d);
    qLo = divWord(rLo, n0, d);
    rLo |= 0;
    rHi = 0;
    return;
  }
  // Restoring shift-subtract over the 64 low bits; the remainder (< d) stays below 2^64 after
  // each subtraction, `top` is the bit shifted out of it.
  let h = n3;
  let l = n2;
  let qh = 0;
  let ql = 0;
  const du = dHi >>> 0;
  const dl = dLo >>> 0;
  for (let i = 63; i >= 0; i--) {
    const top = h >>> 31;
    h = (h << 1) | (l >>> 31);
    l = (l << 1) | (i >= 32 ? (n1 >>> (i - 32)) & 1 : (n0 >>> i) & 1);
    if (top !== 0 || (h >>> 0) > du || ((h >>> 0) === du && (l >>> 0) >= dl)) {
      const s = (l >>> 0) - dl;
      l = s | 0;
      h = (h - dHi - (s < 0 ? 1 : 0)) | 0;
      if (i >= 32) qh |= 1 << (i - 32);
      else ql |= 1 << i;
    }
  }
  qLo = ql;
  qHi = qh;
  rLo = l;
  rHi = h;
}

/** Flags after a multiplication: CF = OF = `overflow`; SF ZF AF PF kept (as the host does). */
function mulFlags(cpu: Cpu, overflow: boolean): void {
  const f = cpu.getFlags() & ~(CF | OF);
  cpu.setFlags(overflow ? f | CF | OF : f);
}

/** MUL and IMUL with one operand: rDX:rAX (AX for bytes) = rAX * E. */
function mul1(cpu: Cpu, e: CachedInsn): void {
  const signed = (e.aux & 3) === IMUL;
  const sz = e.aux & BYTE ? 1 : e.opsize;
  const sLo = cpu.readE(e, sz);
  const sHi = cpu.hi;
  switch (sz) {
    case 1: {
      const a = cpu.lo(0);
      const r = signed ? ((a << 24) >> 24) * ((sLo << 24) >> 24) : (a & 0xff) * sLo;
      cpu.setReg(0, 2, r, 0, 0);
      mulFlags(cpu, signed ? r !== (r << 24) >> 24 : r > 0xff);
      return;
    }
    case 2: {
      const a = cpu.lo(0);
      const r = signed ? ((a << 16) >> 16) * ((sLo << 16) >> 16) : (a & 0xffff) * sLo;
      cpu.setReg(0, 2, r, 0, 0);
      cpu.setReg(2, 2, r >> 16, 0, 0);
      mulFlags(cpu, signed ? r !== (r << 16) >> 16 : r > 0xffff);
      return;
    }
    case 4: {
      const a = cpu.lo(0);
      const lo = mulU32(a, sLo);
      let hi = mHi;
      if (signed) hi = (hi - (a < 0 ? sLo : 0) - (sLo < 0 ? a : 0)) | 0;
      cpu.setReg(0, 4, lo, 0, 0);
      cpu.setReg(2, 4, hi, 0, 0);
      mulFlags(cpu, signed ? hi !== lo >> 31 : hi !== 0);
      return;
    }
    default: {
      mul128(cpu.lo(0), cpu.hi64(0), sLo, sHi, signed);
      cpu.set64(0, p0, p1);
      cpu.set64(2, p2, p3);
      const ext = signed ? p1 >> 31 : 0;
      mulFlags(cpu, p2 !== ext || p3 !== ext);
    }
  }
}

/** IMUL Gv,Ev and IMUL Gv,Ev,Ib/Iz: G = E * (G or the immediate), truncated. */
function imul2(cpu: Cpu, e: CachedInsn): void {
  const sz = e.opsize;
  const aLo = cpu.readE(e, sz);
  const aHi = cpu.hi;
  let bLo: number;
  let bHi: number;
  if (e.aux & WITH_IMM) {
    bLo = e.imm; // sign-extended by the decoder
    bHi = e.imm >> 31;
  } else {
    bLo = cpu.getReg(e.reg, sz, e.rex);
    bHi = cpu.hi;
  }
  switch (sz) {
    case 2: {
      const r = ((aLo << 16) >> 16) * ((bLo << 16) >> 16);
      cpu.setReg(e.reg, 2, r, 0, 0);
      mulFlags(cpu, r !== (r << 16) >> 16);
      return;
    }
    case 4: {
      const lo = mulU32(aLo, bLo);
      const hi = (mHi - (aLo < 0 ? bLo : 0) - (bLo < 0 ? aLo : 0)) | 0;
      cpu.setReg(e.reg, 4, lo, 0, 0);
      mulFlags(cpu, hi !== lo >> 31);
      return;
    }
    default: {
      mul128(aLo, aHi, bLo, bHi, true);
      cpu.set64(e.reg, p0, p1);
      const ext = p1 >> 31;
      mulFlags(cpu, p2 !== ext || p3 !== ext);
    }
  }
}

function divide(cpu: Cpu, e: CachedInsn): void {
  const signed = (e.aux & 3) === IDIV;
  const sz = e.aux & BYTE ? 1 : e.opsize;
  const sLo = cpu.readE(e, sz);
  const sHi = cpu.hi;
  switch (sz) {
    case 1:
    case 2: {
      const a = cpu.lo(0);
      let n: number;
      let d: number;
      if (sz === 1) {
        n = signed ? (a << 16) >> 16 : a & 0xffff;
        d = signed ? (sLo << 24) >> 24 : sLo;
      } else {
        const hi = cpu.lo(2) & 0xffff;
        n = signed ? ((hi << 16) | (a & 0xffff)) : hi * 65536 + (a & 0xffff);
        d = signed ? (sLo << 16) >> 16 : sLo;
      }
      if (d === 0) cpu.fault(VEC_DE);
      // |n| < 2^32 and |d| < 2^16: the float quotient truncates to the exact one.
      const q = Math.trunc(n / d);
      const limit = sz === 1 ? 0x80 : 0x8000;
      if (signed ? q >= limit || q < -limit : q >= 2 * limit) cpu.fault(VEC_DE);
      const r = n - q * d;
      if (sz === 1) cpu.setReg(0, 2, (q & 0xff) | ((r & 0xff) << 8), 0, 0);
      else {
        cpu.setReg(0, 2, q, 0, 0);
        cpu.setReg(2, 2, r, 0, 0);
      }
      break;
    }
    case 4: {
      let nLo = cpu.lo(0);
      let nHi = cpu.lo(2);
      let d = sLo;
      const negN = signed && nHi < 0;
      const negD = signed && d < 0;
      if (negN) {
        nLo = -nLo | 0;
        nHi = (~nHi + (nLo === 0 ? 1 : 0)) | 0;
      }
      if (negD) d = -d | 0;
      const du = d >>> 0;
      if (du === 0 || nHi >>> 0 >= du) cpu.fault(VEC_DE);
      let q = divWord(nHi >>> 0, nLo, du);
      let r = rLo;
      if (signed) {
        // The magnitude must fit: up to 2^31 for a negative quotient, 2^31 - 1 otherwise.
        if (negN !== negD ? q >>> 0 > 0x80000000 : q < 0) cpu.fault(VEC_DE);
        if (negN !== negD) q = -q | 0;
        if (negN) r = -r;
      }
      cpu.setReg(0, 4, q, 0, 0);
      cpu.setReg(2, 4, r, 0, 0);
      break;
    }
    default: {
      let n0 = cpu.lo(0);
      let n1 = cpu.hi64(0);
      let n2 = cpu.lo(2);
      let n3 = cpu.hi64(2);
      let dLo = sLo;
      let dHi = sHi;
      const negN = signed && n3 < 0;
      const negD = signed && dHi < 0;
      if (negN) {
        // 128-bit two's complement: invert, add one.
        n0 = ~n0;
        n1 = ~n1;
        n2 = ~n2;
        n3 = ~n3;
        n0 = (n0 + 1) | 0;
        if (n0 === 0) {
          n1 = (n1 + 1) | 0;
          if (n1 === 0) {
            n2 = (n2 + 1) | 0;
            if (n2 === 0) n3 = (n3 + 1) | 0;
          }
        }
      }
      if (negD) {
        dLo = -dLo | 0;
        dHi = (~dHi + (dLo === 0 ? 1 : 0)) | 0;
      }
      // The quotient fits 64 bits exactly when the high half of the dividend is below d.
      if ((dLo | dHi) === 0 || n3 >>> 0 > dHi >>> 0 || (n3 === dHi && n2 >>> 0 >= dLo >>> 0)) cpu.fault(VEC_DE);
      div128(n3, n2, n1, n0, dLo, dHi);
      let ql = qLo;
      let qh = qHi;
      let rl = rLo;
      let rh = rHi;
      if (signed) {
        if (negN !== negD ? qh >>> 0 > 0x80000000 || (qh === (0x80000000 | 0) && ql !== 0) : qh < 0) cpu.fault(VEC_DE);
        if (negN !== negD) {
          ql = -ql | 0;
          qh = (~qh + (ql === 0 ? 1 : 0)) | 0;
        }
        if (negN) {
          rl = -rl | 0;
          rh = (~rh + (rl === 0 ? 1 : 0)) | 0;
        }
      }
      cpu.set64(0, ql, qh);
      cpu.set64(2, rl, rh);
    }
  }
  // Undefined flags, as the host (AMD Zen) leaves them: SF ZF PF clear, AF set, CF OF kept.
  cpu.setFlags((cpu.getFlags() & ~(SF | ZF | PF)) | AF);
}

export function bindMulDiv(op: Opcode): Binding | undefined {
  const kind = NAMES.indexOf(op.mnemonic);
  if (kind < 0) return undefined;
  if (op.map === 0 && (op.opcode === 0xf6 || op.opcode === 0xf7)) {
    const byte = op.operands[0]?.size === SZ.B ? BYTE : 0;
    return [kind === MUL || kind === IMUL ? mul1 : divide, kind | byte];
  }
  if (kind === IMUL && op.operands.length === 3) return [imul2, IMUL | WITH_IMM];
  if (kind === IMUL && op.operands.length === 2) return [imul2, IMUL];
  return undefined;
}

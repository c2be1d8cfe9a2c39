/**
 * SSE/SSE2 conversions and compares: CVTSI2SS/SD (32/64-bit sources), CVT(T)SS2SI/CVT(T)SD2SI
 * (32/64-bit destinations), CVTPS2PD CVTPD2PS CVTSS2SD CVTSD2SS, CVTDQ2PS CVT(T)PS2DQ CVTDQ2PD
 * CVT(T)PD2DQ, the MMX forms CVTPI2PS CVTPI2PD CVT(T)PS2PI CVT(T)PD2PI, CMPPS/PD/SS/SD and
 * COMISS/UCOMISS/COMISD/UCOMISD. Intel SDM Vol. 2 (each mnemonic); exceptions as in
 * sse-float-arith.ts (fpEnd) and the lane semantics in softfloat-cvt.ts.
 *
 * MMX state (Vol. 2 CVTPI2PS, CVTPS2PI...): the forms that read or write an MMX register make the
 * x87-to-MMX transition (TOP = 0, all tags valid) after the #MF check for a pending x87
 * exception (simd.ts checkMmx); CVTPI2PS/CVTPI2PD with a memory source do not touch the x87
 * state. As on the host, CVT(T)PS2PI/CVT(T)PD2PI check #MF before their memory operand and make
 * the transition after it, and the transition stays when #XM follows.
 *
 * CMPPS-family predicates are imm8[2:0] (the legacy encodings ignore imm8[7:3]). COMISS sets ZF
 * PF CF (unordered 111, less 001, equal 100, greater 000) and clears OF SF AF; with an unmasked
 * exception RFLAGS is unchanged.
 *
 * Not supported: nothing in these instructions.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { FPU_FSW } from '../../state-layout.ts';
import { MM_I, TMP_I, XMM_I, checkMmx, checkSse, copy128, loadMem, writeMm, xmmRm } from './simd.ts';
import { fp } from './softfloat.ts';
import {
  CMP_EQ, CMP_LT, CMP_SIGNALS_QNAN, CMP_TRUE, CMP_UN, cmp32, cmp64, cvt32to64, cvt64to32, f32ToInt, f64ToInt,
  int32ToFloat, int64ToFloat,
} from './softfloat-cvt.ts';
import { fpEnd, fpStart } from './sse-float-arith.ts';

/** aux bit of the float-to-integer conversions: truncate (CVTT*) instead of MXCSR.RC. */
export const CVT_TRUNCATE = 1;
const RC_ZERO = 3;

const rcOf = (e: CachedInsn): number => (e.aux & CVT_TRUNCATE ? RC_ZERO : fp.rc);

// ---- scalar integer conversions ----------------------------------------------------------------

/** CVTSI2SS (aux 0) / CVTSI2SD (aux 1) xmm, r/m32/64. */
function cvtsi2s(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const size = e.opsize === 8 ? 8 : 4;
  const lo = cpu.readE(e, size);
  const dbl = e.aux !== 0;
  if (size === 8) int64ToFloat(lo, cpu.hi, dbl);
  else int32ToFloat(lo, dbl);
  fpEnd(cpu);
  const dst = XMM_I + 4 * e.reg;
  cpu.i32[dst] = fp.lo;
  if (dbl) cpu.i32[dst + 1] = fp.hi;
}

/** CVT(T)SS2SI r32/64, xmm/m32. */
function cvtss2si(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 4, false);
  const size = e.opsize === 8 ? 8 : 4;
  f32ToInt(cpu.i32[src]!, rcOf(e), size === 8);
  fpEnd(cpu);
  cpu.setReg(e.reg, size, fp.lo, fp.hi, e.rex);
}

/** CVT(T)SD2SI r32/64, xmm/m64. */
function cvtsd2si(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 8, false);
  const size = e.opsize === 8 ? 8 : 4;
  f64ToInt(cpu.i32[src]!, cpu.i32[src + 1]!, rcOf(e), size === 8);
  fpEnd(cpu);
  cpu.setReg(e.reg, size, fp.lo, fp.hi, e.rex);
}

// ---- precision conversions ---------------------------------------------------------------------

/** CVTPS2PD xmm, xmm/m64 (aux 2 lanes) and CVTSS2SD xmm, xmm/m32 (aux 1). */
function cvtps2pd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const n = e.aux;
  const src = xmmRm(cpu, e, 4 * n, false);
  const i32 = cpu.i32;
  for (let k = 0; k < n; k++) {
    cvt32to64(i32[src + k]!);
    i32[TMP_I + 2 * k] = fp.lo;
    i32[TMP_I + 2 * k + 1] = fp.hi;
  }
  fpEnd(cpu);
  const dst = XMM_I + 4 * e.reg;
  for (let k = 0; k < 2 * n; k++) i32[dst + k] = i32[TMP_I + k]!;
}

/** CVTPD2PS xmm, xmm/m128 (aux 2: the upper half zeroed) and CVTSD2SS xmm, xmm/m64 (aux 1). */
function cvtpd2ps(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const n = e.aux;
  const src = xmmRm(cpu, e, 8 * n, n === 2);
  const i32 = cpu.i32;
  for (let k = 0; k < n; k++) {
    cvt64to32(i32[src + 2 * k]!, i32[src + 2 * k + 1]!);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  const dst = XMM_I + 4 * e.reg;
  i32[dst] = i32[TMP_I]!;
  if (n === 2) {
    i32[dst + 1] = i32[TMP_I + 1]!;
    i32[dst + 2] = 0;
    i32[dst + 3] = 0;
  }
}

// ---- packed integer conversions ----------------------------------------------------------------

/** CVTDQ2PS xmm, xmm/m128. */
function cvtdq2ps(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const i32 = cpu.i32;
  for (let k = 0; k < 4; k++) {
    int32ToFloat(i32[src + k]!, false);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  copy128(i32, XMM_I + 4 * e.reg, TMP_I);
}

/** CVT(T)PS2DQ xmm, xmm/m128. */
function cvtps2dq(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const i32 = cpu.i32;
  const rc = rcOf(e);
  for (let k = 0; k < 4; k++) {
    f32ToInt(i32[src + k]!, rc, false);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  copy128(i32, XMM_I + 4 * e.reg, TMP_I);
}

/** CVTDQ2PD xmm, xmm/m64: exact. */
function cvtdq2pd(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const src = xmmRm(cpu, e, 8, false);
  const i32 = cpu.i32;
  for (let k = 0; k < 2; k++) {
    int32ToFloat(i32[src + k]!, true);
    i32[TMP_I + 2 * k] = fp.lo;
    i32[TMP_I + 2 * k + 1] = fp.hi;
  }
  copy128(i32, XMM_I + 4 * e.reg, TMP_I);
}

/** CVT(T)PD2DQ xmm, xmm/m128: two dwords, the upper quadword zeroed. */
function cvtpd2dq(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const i32 = cpu.i32;
  const rc = rcOf(e);
  for (let k = 0; k < 2; k++) {
    f64ToInt(i32[src + 2 * k]!, i32[src + 2 * k + 1]!, rc, false);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  const dst = XMM_I + 4 * e.reg;
  i32[dst] = i32[TMP_I]!;
  i32[dst + 1] = i32[TMP_I + 1]!;
  i32[dst + 2] = 0;
  i32[dst + 3] = 0;
}

// ---- MMX forms ---------------------------------------------------------------------------------

/** The MMX source of CVTPI2PS/PD: MMX register (with the MMX transition) or m64 (without). */
function mmSource(cpu: Cpu, e: CachedInsn): number {
  if (e.mod !== 3) return loadMem(cpu, e, 8, false);
  checkMmx(cpu);
  return MM_I + 4 * (e.rm & 7);
}

/** CVTPI2PS xmm, mm/m64: two singles into the low quadword, the high one unchanged. */
function cvtpi2ps(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = mmSource(cpu, e);
  const i32 = cpu.i32;
  int32ToFloat(i32[src]!, false);
  i32[TMP_I] = fp.lo;
  int32ToFloat(i32[src + 1]!, false);
  i32[TMP_I + 1] = fp.lo;
  fpEnd(cpu);
  const dst = XMM_I + 4 * e.reg;
  i32[dst] = i32[TMP_I]!;
  i32[dst + 1] = i32[TMP_I + 1]!;
}

/** CVTPI2PD xmm, mm/m64: exact. */
function cvtpi2pd(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const src = mmSource(cpu, e);
  const i32 = cpu.i32;
  for (let k = 0; k < 2; k++) {
    int32ToFloat(i32[src + k]!, true);
    i32[TMP_I + 2 * k] = fp.lo;
    i32[TMP_I + 2 * k + 1] = fp.hi;
  }
  copy128(i32, XMM_I + 4 * e.reg, TMP_I);
}

/**
 * CVT(T)PS2PI/CVT(T)PD2PI order their checks as the host does: #MF for a pending x87 exception
 * before the memory operand (#GP for a misaligned one, #PF), the MMX transition after it.
 */
function x87PendingCheck(cpu: Cpu): void {
  if ((cpu.i32[FPU_FSW >> 2]! & FSW_ES) !== 0) cpu.fault(VEC_MF);
}
const FSW_ES = 0x80;
const VEC_MF = 16;

/** CVT(T)PS2PI mm, xmm/m64. */
function cvtps2pi(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  x87PendingCheck(cpu);
  const src = xmmRm(cpu, e, 8, false);
  checkMmx(cpu);
  const i32 = cpu.i32;
  const rc = rcOf(e);
  f32ToInt(i32[src]!, rc, false);
  const lo = fp.lo;
  f32ToInt(i32[src + 1]!, rc, false);
  fpEnd(cpu);
  writeMm(cpu, e.reg, lo, fp.lo);
}

/** CVT(T)PD2PI mm, xmm/m128. */
function cvtpd2pi(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  x87PendingCheck(cpu);
  const src = xmmRm(cpu, e, 16, true);
  checkMmx(cpu);
  const i32 = cpu.i32;
  const rc = rcOf(e);
  f64ToInt(i32[src]!, i32[src + 1]!, rc, false);
  const lo = fp.lo;
  f64ToInt(i32[src + 2]!, i32[src + 3]!, rc, false);
  fpEnd(cpu);
  writeMm(cpu, e.reg, lo, fp.lo);
}

// ---- compares ----------------------------------------------------------------------------------

/** CMPPS (aux 4) / CMPSS (aux 1) xmm, xmm/m, imm8: all-ones or zero per lane. */
function cmpps(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const n = e.aux;
  const src = xmmRm(cpu, e, 4 * n, n === 4);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const pred = e.imm & 7;
  const yes = CMP_TRUE[pred]!;
  const signals = CMP_SIGNALS_QNAN[pred]!;
  for (let k = 0; k < n; k++) i32[TMP_I + k] = cmp32(i32[dst + k]!, i32[src + k]!, signals) & yes ? -1 : 0;
  fpEnd(cpu);
  for (let k = 0; k < n; k++) i32[dst + k] = i32[TMP_I + k]!;
}

/** CMPPD (aux 4 dwords) / CMPSD (aux 2). */
function cmppd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const n = e.aux;
  const src = xmmRm(cpu, e, 4 * n, n === 4);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const pred = e.imm & 7;
  const yes = CMP_TRUE[pred]!;
  const signals = CMP_SIGNALS_QNAN[pred]!;
  for (let k = 0; k < n; k += 2) {
    const r = cmp64(i32[dst + k]!, i32[dst + k + 1]!, i32[src + k]!, i32[src + k + 1]!, signals) & yes ? -1 : 0;
    i32[TMP_I + k] = r;
    i32[TMP_I + k + 1] = r;
  }
  fpEnd(cpu);
  for (let k = 0; k < n; k++) i32[dst + k] = i32[TMP_I + k]!;
}

const CF = 0x1;
const PF = 0x4;
const AF = 0x10;
const ZF = 0x40;
const SF = 0x80;
const OF = 0x800;

/** RFLAGS for a COMISS outcome. */
function comiFlags(cpu: Cpu, outcome: number): void {
  const f = outcome === CMP_UN ? ZF | PF | CF : outcome === CMP_LT ? CF : outcome === CMP_EQ ? ZF : 0;
  cpu.setFlags((cpu.getFlags() & ~(CF | PF | AF | ZF | SF | OF)) | f);
}

/** COMISS (aux 1) / UCOMISS (aux 0) xmm, xmm/m32. */
function comiss(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 4, false);
  const outcome = cmp32(cpu.i32[XMM_I + 4 * e.reg]!, cpu.i32[src]!, e.aux !== 0);
  fpEnd(cpu);
  comiFlags(cpu, outcome);
}

/** COMISD (aux 1) / UCOMISD (aux 0) xmm, xmm/m64. */
function comisd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 8, false);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const outcome = cmp64(i32[dst]!, i32[dst + 1]!, i32[src]!, i32[src + 1]!, e.aux !== 0);
  fpEnd(cpu);
  comiFlags(cpu, outcome);
}

export {
  cmppd, cmpps, comisd, comiss, cvtdq2pd, cvtdq2ps, cvtpd2dq, cvtpd2pi, cvtpd2ps, cvtpi2pd, cvtpi2ps, cvtps2dq,
  cvtps2pd, cvtps2pi, cvtsd2si, cvtsi2s, cvtss2si,
};

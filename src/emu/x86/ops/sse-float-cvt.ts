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
import * as simd from './simd.ts';
import * as softfloat from './softfloat.ts';
import * as softfloatCvt from './softfloat-cvt.ts';
import * as sseFloatArith from './sse-float-arith.ts';
// Imported bindings bound to module constants once (a transpiled import is a getter call per use).
const { MM_I, TMP_I, XMM_I, checkMmx, loadMem, writeMm, xmmRm } = simd;
const { fp } = softfloat;
const {
  CMP_EQ, CMP_LT, CMP_SIGNALS_QNAN, CMP_TRUE, CMP_UN, cmp32, cmp64, cvt32to64, cvt64to32, f32ToInt, f64ToInt,
  int32ToFloat, int64ToFloat,
} = softfloatCvt;
const { fpEnd, fpStart } = sseFloatArith;

/** aux bit of the float-to-integer conversions: truncate (CVTT*) instead of MXCSR.RC. */
export const CVT_TRUNCATE = 1;
/** aux bits: the conversion reads an MMX register or m64 / writes an MMX register. */
export const CVT_MMX = 4;
/** aux bit of the handlers of this file: the floating-point operands or results are binary64. */
export const CVT_DOUBLE = 8;
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

/** CVT(T)SS2SI r32/64, xmm/m32 and (aux | CVT_DOUBLE) CVT(T)SD2SI r32/64, xmm/m64. */
function cvt2si(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const dbl = (e.aux & CVT_DOUBLE) !== 0;
  const src = xmmRm(cpu, e, dbl ? 8 : 4, false);
  const size = e.opsize === 8 ? 8 : 4;
  if (dbl) f64ToInt(cpu.i32[src]!, cpu.i32[src + 1]!, rcOf(e), size === 8);
  else f32ToInt(cpu.i32[src]!, rcOf(e), size === 8);
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

/** The MMX source of CVTPI2PS/PD: MMX register (with the MMX transition) or m64 (without). */
function mmSource(cpu: Cpu, e: CachedInsn): number {
  if (e.mod !== 3) return loadMem(cpu, e, 8, false);
  checkMmx(cpu);
  return MM_I + 4 * (e.rm & 7);
}

/**
 * Packed int32 to float, by aux: CVTDQ2PS xmm, xmm/m128 (0); CVTDQ2PD xmm, xmm/m64 (CVT_DOUBLE,
 * exact); CVTPI2PS xmm, mm/m64 (CVT_MMX: two singles into the low quadword, the high one
 * unchanged); CVTPI2PD xmm, mm/m64 (CVT_MMX | CVT_DOUBLE, exact).
 */
function cvtFromInt(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const dbl = (e.aux & CVT_DOUBLE) !== 0;
  const mmx = (e.aux & CVT_MMX) !== 0;
  const src = mmx ? mmSource(cpu, e) : dbl ? xmmRm(cpu, e, 8, false) : xmmRm(cpu, e, 16, true);
  const lanes = dbl || mmx ? 2 : 4;
  const i32 = cpu.i32;
  for (let k = 0; k < lanes; k++) {
    int32ToFloat(i32[src + k]!, dbl);
    if (dbl) {
      i32[TMP_I + 2 * k] = fp.lo;
      i32[TMP_I + 2 * k + 1] = fp.hi;
    } else {
      i32[TMP_I + k] = fp.lo;
    }
  }
  fpEnd(cpu);
  const dst = XMM_I + 4 * e.reg;
  const dwords = dbl ? 4 : lanes;
  for (let k = 0; k < dwords; k++) i32[dst + k] = i32[TMP_I + k]!;
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

/**
 * Packed float to int32, by aux (| CVT_TRUNCATE for the CVTT forms): CVT(T)PS2DQ xmm, xmm/m128
 * (0); CVT(T)PD2DQ xmm, xmm/m128 (CVT_DOUBLE: two dwords, the upper quadword zeroed);
 * CVT(T)PS2PI mm, xmm/m64 (CVT_MMX); CVT(T)PD2PI mm, xmm/m128 (CVT_MMX | CVT_DOUBLE).
 */
function cvtToInt(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const dbl = (e.aux & CVT_DOUBLE) !== 0;
  const mmx = (e.aux & CVT_MMX) !== 0;
  if (mmx) x87PendingCheck(cpu);
  const lanes = dbl || mmx ? 2 : 4;
  const src = dbl || !mmx ? xmmRm(cpu, e, 16, true) : xmmRm(cpu, e, 8, false);
  if (mmx) checkMmx(cpu);
  const i32 = cpu.i32;
  const rc = rcOf(e);
  for (let k = 0; k < lanes; k++) {
    if (dbl) f64ToInt(i32[src + 2 * k]!, i32[src + 2 * k + 1]!, rc, false);
    else f32ToInt(i32[src + k]!, rc, false);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  if (mmx) {
    writeMm(cpu, e.reg, i32[TMP_I]!, i32[TMP_I + 1]!);
    return;
  }
  const dst = XMM_I + 4 * e.reg;
  for (let k = 0; k < 4; k++) i32[dst + k] = k < lanes ? i32[TMP_I + k]! : 0;
}

// ---- compares ----------------------------------------------------------------------------------

/**
 * CMPPS (aux 4 dwords) / CMPSS (aux 1) xmm, xmm/m, imm8: all-ones or zero per lane; CMPPD (aux 4 |
 * CVT_DOUBLE) / CMPSD (aux 2 | CVT_DOUBLE).
 */
function cmp(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const n = e.aux & 7;
  const src = xmmRm(cpu, e, 4 * n, n === 4);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const pred = e.imm & 7;
  const yes = CMP_TRUE[pred]!;
  const signals = CMP_SIGNALS_QNAN[pred]!;
  if (e.aux & CVT_DOUBLE) {
    for (let k = 0; k < n; k += 2) {
      const r = cmp64(i32[dst + k]!, i32[dst + k + 1]!, i32[src + k]!, i32[src + k + 1]!, signals) & yes ? -1 : 0;
      i32[TMP_I + k] = r;
      i32[TMP_I + k + 1] = r;
    }
  } else {
    for (let k = 0; k < n; k++) i32[TMP_I + k] = cmp32(i32[dst + k]!, i32[src + k]!, signals) & yes ? -1 : 0;
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

/**
 * COMISS (aux 1) / UCOMISS (aux 0) xmm, xmm/m32; COMISD (aux 1 | CVT_DOUBLE) / UCOMISD
 * (aux CVT_DOUBLE) xmm, xmm/m64.
 */
function comi(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const dbl = (e.aux & CVT_DOUBLE) !== 0;
  const signals = (e.aux & 1) !== 0;
  const src = xmmRm(cpu, e, dbl ? 8 : 4, false);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const outcome = dbl
    ? cmp64(i32[dst]!, i32[dst + 1]!, i32[src]!, i32[src + 1]!, signals)
    : cmp32(i32[dst]!, i32[src]!, signals);
  fpEnd(cpu);
  comiFlags(cpu, outcome);
}

export { cmp, comi, cvt2si, cvtFromInt, cvtToInt, cvtpd2ps, cvtps2pd, cvtsi2s };

/**
 * The non-arithmetic SSE floating-point primitives on top of softfloat.ts: format conversions
 * (binary32 <-> binary64, integers <-> floating point), rounding to an integral value (ROUNDPS),
 * compares (CMPPS predicates, COMISS/UCOMISS), MIN/MAX and the RCP/RSQRT approximations.
 * Intel SDM Vol. 1 4.8.3 (NaNs), 4.9 / 11.5.2 (exceptions), Vol. 2 (CVT*, CMPPS, COMISS,
 * MINPS, MAXPS, RCPPS, RSQRTPS, ROUNDPS). Same conventions as softfloat.ts: operands are bits,
 * results in `fp.lo`/`fp.hi`, flags OR-ed into `fp.flags`, nothing allocates.
 *
 * Behaviour measured on the host (AMD Zen 4) and implemented here:
 *   - float to integer: NaN, infinities and out-of-range values give the integer indefinite
 *     (0x80000000 / 0x8000000000000000) with IE; otherwise PE when inexact. Denormal inputs do not
 *     raise DE; DAZ makes them exact zeros (no PE).
 *   - MIN/MAX: any NaN operand (QNaN too) raises IE and returns the second operand unchanged (an
 *     SNaN is not quieted); equal values (+0/-0 too) return the second operand; with DAZ a
 *     denormal operand is returned as the zero it was treated as (even beside a NaN).
 *   - CMP: IE for an SNaN, and for a QNaN with the ordered-signalling predicates LT LE NLT NLE;
 *     COMISS raises IE for any NaN, UCOMISS for an SNaN only. DE for a denormal with no NaN.
 *   - RCP/RSQRT raise nothing and ignore MXCSR. Denormal inputs count as zeros (result +-Inf),
 *     RCP of |x| >= 2^126 is a zero (its tiny result is flushed), a NaN comes back quieted.
 *
 * RCP/RSQRT results: the SDM allows a relative error up to 1.5 * 2^-12 and each vendor uses its
 * own tables. This emulator returns 1/x correctly rounded to nearest (RN24 of the exact quotient:
 * dividing in double then rounding is exact for p >= 2q + 2), and 1/sqrt(x) within one unit in
 * the last place (two double roundings, then one to binary32), well inside the bound; the
 * special cases above match the host.
 *
 * Not supported: nothing of these instructions' arithmetic.
 */
import {
  F32_DEFAULT_NAN, F32_QUIET, F64_QUIET, MXCSR_DE, MXCSR_IE, MXCSR_PE, RC_DOWN, RC_NEAREST, RC_UP,
  TWO32, daz32, daz64, f32IsDenormal, f32IsInf, f32IsNaN, f32IsSNaN, f32IsZero, f32Value, f64IsDenormal, f64IsInf,
  f64IsNaN, f64IsSNaN, f64IsZero, f64Value, fp, op64, roundPack, setF64,
} from './softfloat.ts';
import { roundSum } from './softfloat-arith.ts';

const F32 = new Float32Array(1);
const B32 = new Int32Array(F32.buffer);

/** Binary32 bits of a double that is exactly representable in binary32. */
function bitsOfExact32(v: number): number {
  F32[0] = v;
  return B32[0]!;
}

// ---- binary32 <-> binary64 ---------------------------------------------------------------------

/** CVTSS2SD: exact, except NaNs (quieted, IE for an SNaN) and DE for a denormal. */
export function cvt32to64(b: number): void {
  if (f32IsNaN(b)) {
    if (f32IsSNaN(b)) fp.flags |= MXCSR_IE;
    fp.hi = (b & 0x80000000) | 0x7ff00000 | F64_QUIET | ((b & 0x7fffff) >>> 3);
    fp.lo = b << 29;
    return;
  }
  b = daz32(b);
  if (f32IsDenormal(b)) fp.flags |= MXCSR_DE;
  setF64(f32Value(b));
}

/** CVTSD2SS: rounds per MXCSR; a NaN keeps its sign and the top of its payload. */
export function cvt64to32(lo: number, hi: number): void {
  if (f64IsNaN(lo, hi)) {
    if (f64IsSNaN(lo, hi)) fp.flags |= MXCSR_IE;
    fp.lo = (hi & 0x80000000) | 0x7f800000 | F32_QUIET | ((hi & 0xfffff) << 3) | (lo >>> 29);
    return;
  }
  daz64(lo, hi);
  lo = op64.lo;
  hi = op64.hi;
  if (f64IsInf(lo, hi) || f64IsZero(lo, hi)) {
    fp.lo = (hi & 0x80000000) | (f64IsInf(lo, hi) ? 0x7f800000 : 0);
    return;
  }
  if (f64IsDenormal(lo, hi)) fp.flags |= MXCSR_DE;
  const v = f64Value(lo, hi);
  roundPack(v < 0, Math.abs(v), 0, 0, false);
}

// ---- integers ----------------------------------------------------------------------------------

/** v (a finite double) rounded to an integral double in mode rc (x86 RC encoding). */
export function rint(v: number, rc: number): number {
  switch (rc) {
    case RC_NEAREST: {
      const f = Math.floor(v);
      const d = v - f; // exact
      if (d > 0.5 || (d === 0.5 && f % 2 !== 0)) return f + 1;
      return f;
    }
    case RC_DOWN: return Math.floor(v);
    case RC_UP: return Math.ceil(v);
    default: return Math.trunc(v);
  }
}

/**
 * Converts a value (NaN when `nan`, else the double v, infinities included) to a 32- or 64-bit
 * integer in mode rc: fp.lo (and fp.hi).
 */
function toInt(v: number, nan: boolean, rc: number, is64: boolean): void {
  let r = 0;
  let ok = !nan && v === v && v !== Infinity && v !== -Infinity;
  if (ok) {
    r = rint(v, rc);
    ok = is64 ? r >= -9223372036854775808 && r < 9223372036854775808 : r >= -2147483648 && r <= 2147483647;
  }
  if (!ok) {
    fp.flags |= MXCSR_IE;
    fp.lo = is64 ? 0 : 0x80000000 | 0;
    fp.hi = 0x80000000 | 0;
    return;
  }
  if (r !== v) fp.flags |= MXCSR_PE;
  if (!is64) {
    fp.lo = r | 0;
    fp.hi = 0;
    return;
  }
  const m = Math.abs(r);
  const h = Math.floor(m / TWO32);
  const l = (m - h * TWO32) | 0;
  if (r >= 0) {
    fp.lo = l;
    fp.hi = h | 0;
  } else if (l === 0) {
    fp.lo = 0;
    fp.hi = -h | 0;
  } else {
    fp.lo = -l | 0;
    fp.hi = ~h;
  }
}

/** CVT(T)SS2SI, CVT(T)PS2DQ, CVT(T)PS2PI lanes. */
export function f32ToInt(b: number, rc: number, is64: boolean): void {
  const nan = f32IsNaN(b);
  toInt(nan ? 0 : f32Value(daz32(b)), nan, rc, is64);
}

/** CVT(T)SD2SI, CVT(T)PD2DQ, CVT(T)PD2PI lanes. */
export function f64ToInt(lo: number, hi: number, rc: number, is64: boolean): void {
  const nan = f64IsNaN(lo, hi);
  if (nan) return toInt(0, true, rc, is64);
  daz64(lo, hi);
  toInt(f64Value(op64.lo, op64.hi), false, rc, is64);
}

/** CVTSI2SS/SD, CVTDQ2PS/PD, CVTPI2PS/PD: a signed 32-bit integer, rounded per MXCSR. */
export function int32ToFloat(i: number, dbl: boolean): void {
  if (dbl) return setF64(i);
  if (i === 0) {
    fp.lo = 0;
    return;
  }
  roundPack(i < 0, Math.abs(i), 0, 0, false);
}

/** CVTSI2SS/SD with a 64-bit source (lo, hi). */
export function int64ToFloat(lo: number, hi: number, dbl: boolean): void {
  roundSum(hi * TWO32, lo >>> 0, dbl);
}

// ---- ROUNDPS/PD/SS/SD --------------------------------------------------------------------------

/** Rounds binary32 bits to an integral value in mode rc; PE unless `quiet`. */
export function round32(b: number, rc: number, quiet: boolean): void {
  if (f32IsNaN(b)) {
    if (f32IsSNaN(b)) fp.flags |= MXCSR_IE;
    fp.lo = b | F32_QUIET;
    return;
  }
  b = daz32(b);
  if (f32IsInf(b) || f32IsZero(b)) {
    fp.lo = b;
    return;
  }
  const v = f32Value(b);
  const r = rint(v, rc);
  if (r !== v && !quiet) fp.flags |= MXCSR_PE;
  fp.lo = r === 0 ? b & 0x80000000 : bitsOfExact32(r);
}

export function round64(lo: number, hi: number, rc: number, quiet: boolean): void {
  if (f64IsNaN(lo, hi)) {
    if (f64IsSNaN(lo, hi)) fp.flags |= MXCSR_IE;
    fp.lo = lo;
    fp.hi = hi | F64_QUIET;
    return;
  }
  daz64(lo, hi);
  lo = op64.lo;
  hi = op64.hi;
  if (f64IsInf(lo, hi) || f64IsZero(lo, hi)) {
    fp.lo = lo;
    fp.hi = hi;
    return;
  }
  const v = f64Value(lo, hi);
  const r = rint(v, rc);
  if (r !== v && !quiet) fp.flags |= MXCSR_PE;
  if (r === 0) {
    fp.lo = 0;
    fp.hi = hi & 0x80000000;
  } else {
    setF64(r);
  }
}

// ---- compares ----------------------------------------------------------------------------------

/** Compare outcomes: bit 0 less, bit 1 equal, bit 2 greater, bit 3 unordered. */
export const CMP_LT = 1;
export const CMP_EQ = 2;
export const CMP_GT = 4;
export const CMP_UN = 8;

/**
 * For each CMPPS predicate (imm8[2:0]: EQ LT LE UNORD NEQ NLT NLE ORD), the outcomes that make it
 * true, and whether a QNaN operand raises IE (the signalling predicates).
 */
export const CMP_TRUE = [CMP_EQ, CMP_LT, CMP_LT | CMP_EQ, CMP_UN, CMP_LT | CMP_GT | CMP_UN, CMP_EQ | CMP_GT | CMP_UN, CMP_GT | CMP_UN, CMP_LT | CMP_EQ | CMP_GT];
export const CMP_SIGNALS_QNAN = [false, true, true, false, false, true, true, false];

/** Compares binary32 a with b; `qnanInvalid`: a QNaN raises IE as well. Returns a CMP_* outcome. */
export function cmp32(a: number, b: number, qnanInvalid: boolean): number {
  if (f32IsNaN(a) || f32IsNaN(b)) {
    if (qnanInvalid || f32IsSNaN(a) || f32IsSNaN(b)) fp.flags |= MXCSR_IE;
    return CMP_UN;
  }
  a = daz32(a);
  b = daz32(b);
  if (f32IsDenormal(a) || f32IsDenormal(b)) fp.flags |= MXCSR_DE;
  const va = f32Value(a);
  const vb = f32Value(b);
  return va < vb ? CMP_LT : va > vb ? CMP_GT : CMP_EQ;
}

export function cmp64(aLo: number, aHi: number, bLo: number, bHi: number, qnanInvalid: boolean): number {
  if (f64IsNaN(aLo, aHi) || f64IsNaN(bLo, bHi)) {
    if (qnanInvalid || f64IsSNaN(aLo, aHi) || f64IsSNaN(bLo, bHi)) fp.flags |= MXCSR_IE;
    return CMP_UN;
  }
  if (!fp.daz && (f64IsDenormal(aLo, aHi) || f64IsDenormal(bLo, bHi))) fp.flags |= MXCSR_DE;
  daz64(aLo, aHi);
  const va = f64Value(op64.lo, op64.hi);
  daz64(bLo, bHi);
  const vb = f64Value(op64.lo, op64.hi);
  return va < vb ? CMP_LT : va > vb ? CMP_GT : CMP_EQ;
}

// ---- MIN / MAX ---------------------------------------------------------------------------------

/** MINSS/MAXSS lane: the first operand if strictly less (greater), else the second. */
export function minmax32(a: number, b: number, max: boolean): void {
  a = daz32(a);
  b = daz32(b);
  if (f32IsNaN(a) || f32IsNaN(b)) {
    fp.flags |= MXCSR_IE;
    fp.lo = b;
    return;
  }
  if (f32IsDenormal(a) || f32IsDenormal(b)) fp.flags |= MXCSR_DE;
  const va = f32Value(a);
  const vb = f32Value(b);
  fp.lo = (max ? va > vb : va < vb) ? a : b;
}

export function minmax64(aLo: number, aHi: number, bLo: number, bHi: number, max: boolean): void {
  daz64(aLo, aHi);
  aLo = op64.lo;
  aHi = op64.hi;
  daz64(bLo, bHi);
  bLo = op64.lo;
  bHi = op64.hi;
  if (f64IsNaN(aLo, aHi) || f64IsNaN(bLo, bHi)) {
    fp.flags |= MXCSR_IE;
    fp.lo = bLo;
    fp.hi = bHi;
    return;
  }
  if (f64IsDenormal(aLo, aHi) || f64IsDenormal(bLo, bHi)) fp.flags |= MXCSR_DE;
  const va = f64Value(aLo, aHi);
  const vb = f64Value(bLo, bHi);
  const first = max ? va > vb : va < vb;
  fp.lo = first ? aLo : bLo;
  fp.hi = first ? aHi : bHi;
}

// ---- RCP / RSQRT -------------------------------------------------------------------------------

/** RCPSS lane: 1/x correctly rounded to nearest (see the top of the file). */
export function rcp32(b: number): void {
  if (f32IsNaN(b)) {
    fp.lo = b | F32_QUIET;
    return;
  }
  const sign = b & 0x80000000;
  const mag = b & 0x7fffffff;
  if (mag < 0x00800000) fp.lo = sign | 0x7f800000; // zeros and denormals
  else if (mag >= 0x7e800000) fp.lo = sign; // |x| >= 2^126 (infinities too): tiny, flushed
  else fp.lo = bitsOfExact32(Math.fround(1 / f32Value(b)));
}

/** RSQRTSS lane: 1/sqrt(x) within one unit in the last place. */
export function rsqrt32(b: number): void {
  if (f32IsNaN(b)) {
    fp.lo = b | F32_QUIET;
    return;
  }
  const mag = b & 0x7fffffff;
  if (mag < 0x00800000) fp.lo = (b & 0x80000000) | 0x7f800000; // +-0 and denormals: +-Inf
  else if (b < 0) fp.lo = F32_DEFAULT_NAN;
  else if (mag === 0x7f800000) fp.lo = 0;
  else fp.lo = bitsOfExact32(Math.fround(1 / Math.sqrt(f32Value(b))));
}

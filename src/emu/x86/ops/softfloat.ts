/**
 * The core of IEEE 754 binary32/binary64 arithmetic as the SSE unit does it, under MXCSR control:
 * the four rounding modes, flush-to-zero, denormals-are-zero, the six exception flags and x86's
 * NaN rules. This file holds the environment (MXCSR), the encodings and roundPack(); the
 * operations are in softfloat-arith.ts (ADD SUB MUL DIV SQRT) and softfloat-cvt.ts (the rest).
 * Intel SDM Vol. 1: 4.8.3 (NaN propagation, Table 4-7), 4.9 and 11.5 (SIMD floating-point
 * exceptions, their conditions and priority), 10.2.3 (MXCSR, FTZ, DAZ); IEEE 754-2008 clause 4
 * (rounding) and 7 (exceptions).
 *
 * How results are made correctly rounded in every mode with JavaScript doubles (which round to
 * nearest only): each operation produces q = RN53(r), the exact result r rounded to a double, and
 * the sign of r - q, exactly:
 *   - add/sub: Fast2Sum (Dekker, larger operand first) gives the exact error of a + b;
 *   - mul: the product of two binary32 values is exact in a double; binary64 operands are first
 *     scaled to [1, 2) (exact) and TwoProduct (Dekker's split) gives the exact error;
 *   - div: q = a / b, the residual a - q*b computed exactly with TwoProduct;
 *   - sqrt: q = sqrt(a), the residual a - q*q computed exactly.
 * roundPack() then rounds r to the destination format from (q, sign of r - q) alone: every
 * boundary of a narrower format (a representable value or a midpoint, at most 54 bits) is a
 * double, so it is decided by q and the error's sign without a second, double rounding.
 *
 * Exceptions as measured on the host (AMD Zen 4) and as the SDM describes them:
 *   - tininess is detected after rounding (the result rounded with an unbounded exponent is below
 *     the smallest normal), for both the UE flag and FTZ;
 *   - overflow: the result rounded with an unbounded exponent exceeds the largest finite value
 *     (so RZ of a value just above MAX is MAX, inexact, without OE);
 *   - masked UE is signalled only with PE (tiny and inexact); unmasked UE whenever tiny;
 *   - with OE or UE unmasked, PE reports whether the unbounded-exponent rounding was inexact
 *     (the IEEE "scaled result"), and the destination is left unchanged;
 *   - FTZ (with UE masked) returns a zero of the result's sign and raises UE and PE;
 *   - DAZ turns denormal inputs into zeros of the same sign before anything else (no DE);
 *   - priority within one operation: SNaN (IE) > QNaN operand > other IE or ZE > DE > OE/UE > PE.
 *
 * Values: a binary32 operand is its bits as an int32; a binary64 operand is a (lo, hi) pair of
 * int32 halves. Results go to `fp.lo` (and `fp.hi`), flags are OR-ed into `fp.flags`. Nothing
 * here allocates.
 *
 * Not supported: nothing of IEEE 754 that SSE uses; the instruction-level rules (which flags
 * fault, what is written) live in sse-float-arith.ts (fpEnd).
 */

// ---- MXCSR (Vol. 1 10.2.3, Figure 10-3) --------------------------------------------------------

export const MXCSR_IE = 0x1;
export const MXCSR_DE = 0x2;
export const MXCSR_ZE = 0x4;
export const MXCSR_OE = 0x8;
export const MXCSR_UE = 0x10;
export const MXCSR_PE = 0x20;
export const MXCSR_DAZ = 0x40;
/** Exception masks: bits 7-12, in flag order (IM DM ZM OM UM PM). */
export const MXCSR_MASK_SHIFT = 7;
export const MXCSR_RC_SHIFT = 13;
export const MXCSR_FZ = 0x8000;
/** Pre-computation exceptions (detected before the arithmetic) and post-computation ones. */
export const PRE_FLAGS = MXCSR_IE | MXCSR_DE | MXCSR_ZE;
export const POST_FLAGS = MXCSR_OE | MXCSR_UE | MXCSR_PE;

/** Rounding control (MXCSR.RC and ROUNDPS imm8[1:0]). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

/** The environment of the instruction being executed, and the result of the last operation. */
class FpEnv {
  /** Rounding mode (RC_*). */
  rc = RC_NEAREST;
  ftz = false;
  daz = false;
  /** Exception mask bits in flag positions (bit set: masked). */
  masked = 0x3f;
  /** Exception flags raised by the current instruction. */
  flags = 0;
  /** Result: binary32 bits or integer in lo; binary64 (lo, hi). */
  lo = 0;
  hi = 0;
}
export const fp = new FpEnv();

/** Starts an instruction: takes RC, FTZ, DAZ and the masks from MXCSR and clears the flags. */
export function fpBegin(mxcsr: number): void {
  fp.rc = (mxcsr >> MXCSR_RC_SHIFT) & 3;
  fp.ftz = (mxcsr & MXCSR_FZ) !== 0;
  fp.daz = (mxcsr & MXCSR_DAZ) !== 0;
  fp.masked = (mxcsr >> MXCSR_MASK_SHIFT) & 0x3f;
  fp.flags = 0;
}

// ---- bit views ---------------------------------------------------------------------------------

const F64 = new Float64Array(1);
/** The halves of F64[0] (little-endian hosts: [0] low, [1] high). */
const W = new Int32Array(F64.buffer);
const F32 = new Float32Array(1);
const B32 = new Int32Array(F32.buffer);

const TWO32 = 4294967296;
const TWO52 = 4503599627370496;
const TWO53 = 9007199254740992;
const TWO64 = 18446744073709551616;
/** 2^n for 0 <= n <= 64. */
const POW2 = new Float64Array(65);
for (let n = 0; n <= 64; n++) POW2[n] = 2 ** n;

/** The value of binary32 bits (not a NaN). */
export function f32Value(b: number): number {
  B32[0] = b;
  return F32[0]!;
}

/** The value of binary64 bits (not a NaN). */
export function f64Value(lo: number, hi: number): number {
  W[0] = lo;
  W[1] = hi;
  return F64[0]!;
}

/** Sets fp.lo/fp.hi to the bits of a double. */
export function setF64(v: number): void {
  F64[0] = v;
  fp.lo = W[0]!;
  fp.hi = W[1]!;
}

// ---- classification (binary32: bits; binary64: high half, low half) --------------------------

export const f32IsNaN = (b: number): boolean => (b & 0x7fffffff) > 0x7f800000;
export const f32IsSNaN = (b: number): boolean => f32IsNaN(b) && (b & 0x400000) === 0;
export const f32IsDenormal = (b: number): boolean => (b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0;
export const f32IsInf = (b: number): boolean => (b & 0x7fffffff) === 0x7f800000;
export const f32IsZero = (b: number): boolean => (b & 0x7fffffff) === 0;
export const F32_DEFAULT_NAN = 0xffc00000 | 0;
export const F32_QUIET = 0x400000;

export const f64IsNaN = (lo: number, hi: number): boolean => (hi & 0x7fffffff) > 0x7ff00000 || ((hi & 0x7fffffff) === 0x7ff00000 && lo !== 0);
export const f64IsSNaN = (lo: number, hi: number): boolean => f64IsNaN(lo, hi) && (hi & 0x80000) === 0;
export const f64IsDenormal = (lo: number, hi: number): boolean => (hi & 0x7ff00000) === 0 && ((hi & 0xfffff) !== 0 || lo !== 0);
export const f64IsInf = (lo: number, hi: number): boolean => (hi & 0x7fffffff) === 0x7ff00000 && lo === 0;
export const f64IsZero = (lo: number, hi: number): boolean => (hi & 0x7fffffff) === 0 && lo === 0;
export const F64_DEFAULT_NAN_HI = 0xfff80000 | 0;
export const F64_QUIET = 0x80000;

/** DAZ: a denormal binary32 input becomes a zero of its sign. */
export function daz32(b: number): number {
  return fp.daz && f32IsDenormal(b) ? b & 0x80000000 : b;
}

/** Returns the NaN of a binary32 pair per Vol. 1 Table 4-7 (first source first), quieted, with IE for an SNaN. */
export function nan32(a: number, b: number): void {
  if (f32IsSNaN(a) || f32IsSNaN(b)) fp.flags |= MXCSR_IE;
  fp.lo = (f32IsNaN(a) ? a : b) | F32_QUIET;
}

export function nan64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (f64IsSNaN(aLo, aHi) || f64IsSNaN(bLo, bHi)) fp.flags |= MXCSR_IE;
  if (f64IsNaN(aLo, aHi)) {
    fp.lo = aLo;
    fp.hi = aHi | F64_QUIET;
  } else {
    fp.lo = bLo;
    fp.hi = bHi | F64_QUIET;
  }
}

/** Invalid operation with a masked response: the default QNaN ("real indefinite"). */
export function invalid32(): void {
  fp.flags |= MXCSR_IE;
  fp.lo = F32_DEFAULT_NAN;
}

export function invalid64(): void {
  fp.flags |= MXCSR_IE;
  fp.lo = 0;
  fp.hi = F64_DEFAULT_NAN_HI;
}

// ---- rounding ----------------------------------------------------------------------------------

/** Whether directed rounding moves a magnitude of this sign away from zero. */
function roundsAway(neg: boolean): boolean {
  const rc = fp.rc;
  return rc === RC_UP ? !neg : rc === RC_DOWN ? neg : false;
}

/** Output of roundAt: the kept significand and whether anything was discarded. */
let rK = 0;
let rInexact = false;

/**
 * Rounds M * 2^k + a fraction of a unit (e1: 0 none, 1 some, strictly between 0 and 1) to
 * 53 - shift bits, in the current mode, for a magnitude of sign `neg`. Result in rK (a multiple
 * of 2^shift, divided by it) and rInexact. shift >= 1.
 */
function roundAt(M: number, e1: number, shift: number, neg: boolean): void {
  if (shift > 60) {
    rK = roundsAway(neg) ? 1 : 0;
    rInexact = true;
    return;
  }
  const unit = POW2[shift]!;
  const half = unit / 2;
  let K = Math.floor(M / unit);
  const rem = M - K * unit;
  rInexact = rem !== 0 || e1 !== 0;
  if (fp.rc === RC_NEAREST) {
    if (rem > half || (rem === half && (e1 !== 0 || K % 2 === 1))) K += 1;
  } else if (rInexact && roundsAway(neg)) {
    K += 1;
  }
  rK = K;
}

/**
 * Rounds the real r = (-1)^neg * (q + tiny) * 2^scale to binary64 (`dbl`) or binary32 and sets
 * the result and the post-computation flags. q is a positive finite double with q = RN53(|r|
 * * 2^-scale); em is the sign of |r| - q * 2^scale (0: exact). q may be subnormal only if em = 0.
 */
export function roundPack(neg: boolean, q: number, scale: number, em: number, dbl: boolean): void {
  F64[0] = q;
  let hi = W[1]!;
  let lo = W[0]!;
  let ex = (hi >>> 20) & 0x7ff;
  if (ex === 0) {
    F64[0] = q * TWO64;
    hi = W[1]!;
    lo = W[0]!;
    ex = ((hi >>> 20) & 0x7ff) - 64;
  }
  const M0 = ((hi & 0xfffff) | 0x100000) * TWO32 + (lo >>> 0);
  const x0 = ex - 1023 + scale;
  const p = dbl ? 53 : 24;
  const emin = dbl ? -1022 : -126;
  const emax = dbl ? 1023 : 127;
  const shift0 = 53 - p;
  // With |r| just below q, round from the 53-bit predecessor of q plus a positive fraction.
  let M = M0;
  let x = x0;
  let e1 = em === 0 ? 0 : 1;
  if (em < 0) {
    if (M0 === TWO52) {
      M = TWO53 - 1;
      x = x0 - 1;
    } else {
      M = M0 - 1;
    }
  }
  const masked = fp.masked;
  if (x >= emin) {
    // Normal range (before rounding): p significant bits.
    let K: number;
    let inexact: boolean;
    if (shift0 === 0) {
      if (fp.rc === RC_NEAREST) {
        K = M0; // q is already the nearest double
        x = x0;
      } else {
        K = e1 !== 0 && roundsAway(neg) ? M + 1 : M;
      }
      inexact = e1 !== 0;
    } else {
      roundAt(M, e1, shift0, neg);
      K = rK;
      inexact = rInexact;
    }
    if (K === POW2[p]) {
      K /= 2;
      x += 1;
    }
    if (x > emax) {
      // Unmasked, the instruction faults; the masked response is still left in fp.lo/hi.
      fp.flags |= (masked & MXCSR_OE) !== 0 || inexact ? MXCSR_OE | MXCSR_PE : MXCSR_OE;
      packInfOrMax(neg, dbl);
      return;
    }
    if (inexact) fp.flags |= MXCSR_PE;
    pack(neg, x + (dbl ? 1023 : 127), K - POW2[p - 1]!, dbl);
    return;
  }
  // Below the normal range before rounding: tiny unless rounding with an unbounded exponent
  // carries it up to 2^emin.
  let tiny = true;
  let inexact0: boolean;
  if (shift0 === 0) {
    inexact0 = e1 !== 0;
    if (x === emin - 1) tiny = fp.rc === RC_NEAREST ? x0 < emin : !(M === TWO53 - 1 && e1 !== 0 && roundsAway(neg));
  } else {
    roundAt(M, e1, shift0, neg);
    inexact0 = rInexact;
    if (x === emin - 1) tiny = rK !== POW2[p];
  }
  roundAt(M, e1, shift0 + (emin - x), neg);
  const K = rK;
  if (!tiny) {
    // Rounded up to the smallest normal.
    if (rInexact) fp.flags |= MXCSR_PE;
    pack(neg, 1, 0, dbl);
    return;
  }
  if ((masked & MXCSR_UE) === 0) {
    // The instruction faults; the denormal result is still left in fp.lo/hi.
    fp.flags |= inexact0 ? MXCSR_UE | MXCSR_PE : MXCSR_UE;
  } else if (fp.ftz) {
    fp.flags |= MXCSR_UE | MXCSR_PE;
    pack(neg, 0, 0, dbl);
    return;
  } else if (rInexact) {
    fp.flags |= MXCSR_UE | MXCSR_PE;
  }
  // K == 2^(p-1) is the smallest normal (exponent field 1, fraction 0): the sum does it.
  if (K === POW2[p - 1]) pack(neg, 1, 0, dbl);
  else pack(neg, 0, K, dbl);
}

/** Writes sign, biased exponent and fraction (an integer below 2^(p-1)) to fp.lo/fp.hi. */
function pack(neg: boolean, exp: number, frac: number, dbl: boolean): void {
  if (dbl) {
    const fhi = Math.floor(frac / TWO32);
    fp.hi = (neg ? 0x80000000 : 0) | (exp << 20) | fhi;
    fp.lo = (frac - fhi * TWO32) | 0;
  } else {
    fp.lo = (neg ? 0x80000000 : 0) | (exp << 23) | frac;
  }
}

/** The masked response to overflow: infinity, or the largest finite value when rounding towards zero. */
function packInfOrMax(neg: boolean, dbl: boolean): void {
  const inf = fp.rc === RC_NEAREST || roundsAway(neg);
  if (dbl) {
    fp.hi = (neg ? 0x80000000 : 0) | (inf ? 0x7ff00000 : 0x7fefffff);
    fp.lo = inf ? 0 : -1;
  } else {
    fp.lo = (neg ? 0x80000000 : 0) | (inf ? 0x7f800000 : 0x7f7fffff);
  }
}

// ---- operand helpers for the other files -------------------------------------------------------

/** Whether DAZ turns this binary64 input into a zero. */
export function dazNeeded(lo: number, hi: number): boolean {
  return fp.daz && f64IsDenormal(lo, hi);
}

/** DAZ for a binary64 operand: the result in op64 (lo, hi). */
export const op64 = { lo: 0, hi: 0 };
export function daz64(lo: number, hi: number): void {
  if (dazNeeded(lo, hi)) {
    op64.lo = 0;
    op64.hi = hi & 0x80000000;
  } else {
    op64.lo = lo;
    op64.hi = hi;
  }
}

export { TWO32, TWO64 };

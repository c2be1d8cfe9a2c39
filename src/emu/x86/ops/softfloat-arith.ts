/**
 * The arithmetic of the SSE unit: ADD SUB MUL DIV SQRT on binary32 and binary64 values, each
 * computed as q = RN53 of the exact result plus the exact sign of the error, then rounded by
 * roundPack() (softfloat.ts, which explains the method and the exception rules). Intel SDM
 * Vol. 1 4.8.3 (NaNs), 4.9.1 and 11.5.2 (exception conditions); IEEE 754-2008 5.4.1.
 *
 * Operands are checked in the SDM's priority order (Vol. 3A Table 6-8): NaNs first (IE for an
 * SNaN, the first source NaN returned quieted), then the other invalid operations (default
 * NaN) and division by zero, then DE for a denormal operand (after DAZ), then the computation.
 * binary64 operands are scaled to [1, 2) first, so that the error terms never under- or
 * overflow; a binary64 sum that overflows is recomputed from halved (exact) addends.
 *
 * Not supported: nothing of these operations.
 */
import {
  MXCSR_DE, MXCSR_ZE, RC_DOWN, TWO32, TWO64, daz32, dazNeeded, f32IsDenormal, f32IsInf, f32IsNaN, f32IsZero, f32Value,
  f64IsDenormal, f64IsInf, f64IsNaN, f64IsZero, f64Value, fp, invalid32, invalid64, nan32, nan64, roundPack,
} from './softfloat.ts';

const F64 = new Float64Array(1);
/** The halves of F64[0] (little-endian hosts: [0] low, [1] high). */
const W = new Int32Array(F64.buffer);

// ---- exact error terms -------------------------------------------------------------------------

/** Veltkamp's splitter for doubles: 2^27 + 1. */
const SPLITTER = 134217729;
/** The low part of the last twoProduct (a * b = p + twoLo exactly). */
let twoLo = 0;

/** TwoProduct (Dekker): returns p = RN(a*b) and leaves a*b - p in twoLo (exact without over/underflow). */
function twoProduct(a: number, b: number): number {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  twoLo = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  return p;
}

/**
 * Sign (-1, 0, 1) of the exact error of s = RN(a + b) relative to |s|: Fast2Sum (Dekker) with
 * the larger magnitude first, whose intermediate s - a is exact and cannot overflow (Knuth's
 * branch-free TwoSum computes s - a for either order and overflows near the largest doubles).
 */
function sumErrorSign(a: number, b: number, s: number): number {
  if (Math.abs(a) < Math.abs(b)) {
    const t = a;
    a = b;
    b = t;
  }
  const err = b - (s - a);
  if (err === 0) return 0;
  return (err > 0) === (s > 0) ? 1 : -1;
}

/** Sign of x - y - z where x - y is exact (Sterbenz): compares x - y with z. */
function residualSign(x: number, y: number, z: number): number {
  const d = x - y;
  return d > z ? 1 : d < z ? -1 : 0;
}


// ---- binary32 arithmetic -----------------------------------------------------------------------

/** The exact-zero result of a sum: -0 if both addends are -0, or in RD mode if they differ. */
function zeroSum(aNeg: boolean, bNeg: boolean): boolean {
  return aNeg === bNeg ? aNeg : fp.rc === RC_DOWN;
}

/** a + b (sub: a - b) in binary32. */
export function add32(a: number, b: number, sub: boolean): void {
  if (f32IsNaN(a) || f32IsNaN(b)) return nan32(a, b);
  a = daz32(a);
  b = daz32(b);
  if (sub) b ^= 0x80000000;
  const aInf = f32IsInf(a);
  const bInf = f32IsInf(b);
  if (aInf || bInf) {
    if (aInf && bInf && (a ^ b) < 0) return invalid32();
    if (f32IsDenormal(a) || f32IsDenormal(b)) fp.flags |= MXCSR_DE;
    fp.lo = aInf ? a : b;
    return;
  }
  if (f32IsDenormal(a) || f32IsDenormal(b)) fp.flags |= MXCSR_DE;
  const va = f32Value(a);
  const vb = f32Value(b);
  const s = va + vb;
  if (s === 0) {
    fp.lo = zeroSum(a < 0, b < 0) ? 0x80000000 | 0 : 0;
    return;
  }
  roundPack(s < 0, Math.abs(s), 0, sumErrorSign(va, vb, s), false);
}

export function mul32(a: number, b: number): void {
  if (f32IsNaN(a) || f32IsNaN(b)) return nan32(a, b);
  a = daz32(a);
  b = daz32(b);
  const sign = (a ^ b) & 0x80000000;
  const aInf = f32IsInf(a);
  const bInf = f32IsInf(b);
  if ((aInf && f32IsZero(b)) || (bInf && f32IsZero(a))) return invalid32();
  if (f32IsDenormal(a) || f32IsDenormal(b)) fp.flags |= MXCSR_DE;
  if (aInf || bInf) {
    fp.lo = sign | 0x7f800000;
    return;
  }
  if (f32IsZero(a) || f32IsZero(b)) {
    fp.lo = sign;
    return;
  }
  // The product of two 24-bit significands is exact in a double.
  roundPack(sign !== 0, Math.abs(f32Value(a) * f32Value(b)), 0, 0, false);
}

export function div32(a: number, b: number): void {
  if (f32IsNaN(a) || f32IsNaN(b)) return nan32(a, b);
  a = daz32(a);
  b = daz32(b);
  const sign = (a ^ b) & 0x80000000;
  const aInf = f32IsInf(a);
  const bInf = f32IsInf(b);
  if ((aInf && bInf) || (f32IsZero(a) && f32IsZero(b))) return invalid32();
  if (f32IsZero(b) && !aInf) {
    fp.flags |= MXCSR_ZE;
    fp.lo = sign | 0x7f800000;
    return;
  }
  if (f32IsDenormal(a) || f32IsDenormal(b)) fp.flags |= MXCSR_DE;
  if (aInf || f32IsZero(b)) {
    fp.lo = sign | 0x7f800000;
    return;
  }
  if (bInf || f32IsZero(a)) {
    fp.lo = sign;
    return;
  }
  const va = Math.abs(f32Value(a));
  const vb = Math.abs(f32Value(b));
  const q = va / vb;
  const p = twoProduct(q, vb);
  roundPack(sign !== 0, q, 0, residualSign(va, p, twoLo), false);
}

export function sqrt32(b: number): void {
  if (f32IsNaN(b)) return nan32(b, b);
  b = daz32(b);
  if (f32IsZero(b)) {
    fp.lo = b;
    return;
  }
  if (b < 0) return invalid32();
  if (f32IsDenormal(b)) fp.flags |= MXCSR_DE;
  if (f32IsInf(b)) {
    fp.lo = b;
    return;
  }
  const v = f32Value(b);
  const q = Math.sqrt(v);
  const p = twoProduct(q, q);
  roundPack(false, q, 0, residualSign(v, p, twoLo), false);
}

// ---- binary64 arithmetic -----------------------------------------------------------------------


/** decompose(): |v| = dM * 2^dE with dM in [1, 2). */
let dM = 0;
let dE = 0;
function decompose(lo: number, hi: number): void {
  let ex = (hi >>> 20) & 0x7ff;
  if (ex === 0) {
    F64[0] = Math.abs(f64Value(lo, hi)) * TWO64;
    hi = W[1]!;
    lo = W[0]!;
    ex = ((hi >>> 20) & 0x7ff) - 64;
  }
  W[0] = lo;
  W[1] = (hi & 0xfffff) | 0x3ff00000;
  dM = F64[0]!;
  dE = ex - 1023;
}

/** Operands of a binary64 operation after DAZ (module registers: no allocation). */
let aL = 0;
let aH = 0;
let bL = 0;
let bH = 0;

function loadOperands64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  aL = aLo;
  aH = aHi;
  bL = bLo;
  bH = bHi;
  if (dazNeeded(aL, aH)) {
    aL = 0;
    aH &= 0x80000000;
  }
  if (dazNeeded(bL, bH)) {
    bL = 0;
    bH &= 0x80000000;
  }
}

/** decomposeOperands(): |a| = aM * 2^aE and |b| = dM * 2^dE (the operands of loadOperands64). */
let aM = 0;
let aE = 0;
function decomposeOperands(): void {
  decompose(aL, aH);
  aM = dM;
  aE = dE;
  decompose(bL, bH);
}

function denormal64(): boolean {
  return f64IsDenormal(aL, aH) || f64IsDenormal(bL, bH);
}

export function add64(aLo: number, aHi: number, bLo: number, bHi: number, sub: boolean): void {
  if (f64IsNaN(aLo, aHi) || f64IsNaN(bLo, bHi)) return nan64(aLo, aHi, bLo, bHi);
  loadOperands64(aLo, aHi, bLo, bHi);
  if (sub) bH ^= 0x80000000;
  const aInf = f64IsInf(aL, aH);
  const bInf = f64IsInf(bL, bH);
  if (aInf || bInf) {
    if (aInf && bInf && (aH ^ bH) < 0) return invalid64();
    if (denormal64()) fp.flags |= MXCSR_DE;
    fp.lo = 0;
    fp.hi = aInf ? aH : bH;
    return;
  }
  if (denormal64()) fp.flags |= MXCSR_DE;
  const va = f64Value(aL, aH);
  const vb = f64Value(bL, bH);
  const s = va + vb;
  if (s === 0) {
    fp.lo = 0;
    fp.hi = zeroSum(aH < 0, bH < 0) ? 0x80000000 | 0 : 0;
    return;
  }
  if (s === Infinity || s === -Infinity) {
    // Both addends are at least 2^970 here: halving them is exact.
    const ha = va * 0.5;
    const hb = vb * 0.5;
    const hs = ha + hb;
    roundPack(hs < 0, Math.abs(hs), 1, sumErrorSign(ha, hb, hs), true);
    return;
  }
  roundPack(s < 0, Math.abs(s), 0, sumErrorSign(va, vb, s), true);
}

export function mul64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (f64IsNaN(aLo, aHi) || f64IsNaN(bLo, bHi)) return nan64(aLo, aHi, bLo, bHi);
  loadOperands64(aLo, aHi, bLo, bHi);
  const sign = (aH ^ bH) & 0x80000000;
  const aInf = f64IsInf(aL, aH);
  const bInf = f64IsInf(bL, bH);
  if ((aInf && f64IsZero(bL, bH)) || (bInf && f64IsZero(aL, aH))) return invalid64();
  if (denormal64()) fp.flags |= MXCSR_DE;
  fp.lo = 0;
  if (aInf || bInf) {
    fp.hi = sign | 0x7ff00000;
    return;
  }
  if (f64IsZero(aL, aH) || f64IsZero(bL, bH)) {
    fp.hi = sign;
    return;
  }
  decomposeOperands();
  const q = twoProduct(aM, dM);
  roundPack(sign !== 0, q, aE + dE, twoLo > 0 ? 1 : twoLo < 0 ? -1 : 0, true);
}

export function div64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  if (f64IsNaN(aLo, aHi) || f64IsNaN(bLo, bHi)) return nan64(aLo, aHi, bLo, bHi);
  loadOperands64(aLo, aHi, bLo, bHi);
  const sign = (aH ^ bH) & 0x80000000;
  const aInf = f64IsInf(aL, aH);
  const bInf = f64IsInf(bL, bH);
  const aZero = f64IsZero(aL, aH);
  const bZero = f64IsZero(bL, bH);
  if ((aInf && bInf) || (aZero && bZero)) return invalid64();
  fp.lo = 0;
  if (bZero && !aInf) {
    fp.flags |= MXCSR_ZE;
    fp.hi = sign | 0x7ff00000;
    return;
  }
  if (denormal64()) fp.flags |= MXCSR_DE;
  if (aInf || bZero) {
    fp.hi = sign | 0x7ff00000;
    return;
  }
  if (bInf || aZero) {
    fp.hi = sign;
    return;
  }
  decomposeOperands();
  const q = aM / dM;
  const p = twoProduct(q, dM);
  roundPack(sign !== 0, q, aE - dE, residualSign(aM, p, twoLo), true);
}

export function sqrt64(bLo: number, bHi: number): void {
  if (f64IsNaN(bLo, bHi)) return nan64(bLo, bHi, bLo, bHi);
  loadOperands64(bLo, bHi, bLo, bHi);
  if (f64IsZero(bL, bH)) {
    fp.lo = 0;
    fp.hi = bH;
    return;
  }
  if (bH < 0) return invalid64();
  if (f64IsDenormal(bL, bH)) fp.flags |= MXCSR_DE;
  if (f64IsInf(bL, bH)) {
    fp.lo = 0;
    fp.hi = bH;
    return;
  }
  decompose(bL, bH);
  let m = dM;
  let e = dE;
  if (e & 1) {
    m *= 2;
    e -= 1;
  }
  const q = Math.sqrt(m);
  const p = twoProduct(q, q);
  roundPack(false, q, e / 2, residualSign(m, p, twoLo), true);
}

export function roundSum(a: number, b: number, dbl: boolean): void {
  const s = a + b;
  if (s === 0) {
    fp.lo = 0;
    fp.hi = 0;
    return;
  }
  roundPack(s < 0, Math.abs(s), 0, sumErrorSign(a, b, s), dbl);
}


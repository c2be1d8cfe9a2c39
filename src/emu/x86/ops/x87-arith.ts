/**
 * Exact x87 arithmetic on the unpacked 80-bit form of float80.ts: add, subtract, multiply,
 * divide and square root with 64-bit significands, correctly rounded once per the control word
 * (precision control honoured: 24, 53 or 64 bits), the partial remainders FPREM/FPREM1, FRNDINT,
 * FSCALE and the comparisons (Intel SDM Vol. 1, 4.9, 8.3.5-8.3.7 and Vol. 2 instruction pages).
 *
 * This is the "small interface" of the arithmetic: arith(op, a, b) → result, remainder(),
 * roundInt(), scale(), sqrt(), compare(). Every function takes unpacked operands with their
 * classes (float80.ts unpack), leaves the result in an F80 ready for a register (`r.se()`), raises
 * exception flags into fpStatus.exc and C1 into fpStatus.c1, and returns false when an unmasked
 * pre-computation exception (IE, DE, ZE) leaves the destination unchanged.
 *
 * Special operands, in the order the hardware checks them: unsupported formats (IE, indefinite),
 * NaNs (the larger significand wins, the positive one on a tie; an SNaN raises IE and is
 * quieted), invalid combinations (∞ − ∞, 0 × ∞, 0/0, ∞/∞, √negative: IE, indefinite), then the
 * denormal-operand exception (DE), then zero divide (ZE).
 *
 * Multi-word arithmetic uses 32-bit halves held in JavaScript numbers (exact below 2^53) and
 * 16-bit limbs for the 64×64-bit product; nothing allocates.
 *
 * Not supported: nothing known; results are bit-exact with the host for every operation here.
 */
import * as float80 from './float80.ts';
import { F80 } from './float80.ts';
// Imported bindings bound to module constants once (a transpiled import is a getter call per use).
const {
  BIAS, CLS_DENORMAL, CLS_INF, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED, CLS_ZERO, EXT_EMAX, EXT_EMIN, FCW_PC_SHIFT,
  FCW_RC_SHIFT, FSW_C0, FSW_C1, FSW_C2, FSW_C3, FSW_DE, FSW_IE, FSW_PE, FSW_ZE, RC_DOWN, divRem, divRemDouble,
  divRemQuotient, divRemRoundUp, divRemTwiceMinus, fpStatus, normalize, roundPack, roundToInteger,
  setIndefinite, shiftRight,
} = float80;

export const OP_ADD = 0;
export const OP_MUL = 1;
/** a − b */
export const OP_SUB = 2;
/** a / b */
export const OP_DIV = 3;

const TWO32 = 4294967296;
const scratch = new F80();

/** Significand precision selected by FCW.PC (00: 24 bits, 10: 53, 11: 64; 01 is reserved: 64). */
export function precisionOf(fcw: number): number {
  const pc = (fcw >> FCW_PC_SHIFT) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

/** Whether the exceptions raised so far include an unmasked IE, DE or ZE. */
function blocked(fcw: number): boolean {
  return (fpStatus.exc & ~fcw & (FSW_IE | FSW_DE | FSW_ZE)) !== 0;
}

/** r = indefinite, IE raised; returns whether the result may be written (IE masked). */
function invalid(r: F80, fcw: number): boolean {
  fpStatus.exc |= FSW_IE;
  setIndefinite(r);
  return (fcw & FSW_IE) !== 0;
}

const isNaNClass = (cls: number) => cls === CLS_QNAN || cls === CLS_SNAN;

/** r = the NaN result of operands a and b (at least one a NaN, neither unsupported); IE for an SNaN. */
export function propagateNaN(a: F80, ca: number, b: F80, cb: number, r: F80): void {
  if (ca === CLS_SNAN || cb === CLS_SNAN) fpStatus.exc |= FSW_IE;
  let pick = a;
  if (!isNaNClass(ca)) pick = b;
  else if (isNaNClass(cb) && (b.hi > a.hi || (b.hi === a.hi && (b.lo > a.lo || (b.lo === a.lo && b.sign < a.sign))))) pick = b;
  r.copy(pick);
  r.hi = (r.hi | 0x40000000) >>> 0;
}

/** NaN or unsupported operands: sets r; returns 1 (write), 0 (blocked) or -1 (no NaN: go on). */
function specialOperands(a: F80, ca: number, b: F80, cb: number, fcw: number, r: F80): number {
  if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) return invalid(r, fcw) ? 1 : 0;
  if (isNaNClass(ca) || isNaNClass(cb)) {
    propagateNaN(a, ca, b, cb, r);
    return blocked(fcw) ? 0 : 1;
  }
  return -1;
}

function setZero(r: F80, sign: number): void {
  r.sign = sign;
  r.exp = 0;
  r.hi = 0;
  r.lo = 0;
}

function setInfinity(r: F80, sign: number): void {
  r.sign = sign;
  r.exp = 0x7fff;
  r.hi = 0x80000000;
  r.lo = 0;
}

/** Rounds r (normalised, with ext) for a register per the control word and precision `prec`. */
function finish(r: F80, ext: number, prec: number, fcw: number): boolean {
  roundPack(r, ext, prec, (fcw >> FCW_RC_SHIFT) & 3, EXT_EMIN, EXT_EMAX, fcw, true);
  return true;
}

/**
 * r = a op b for a register destination (FADD FSUB FSUBR FMUL FDIV FDIVR and their P, memory
 * and integer forms: precision control applies). Returns false when an unmasked IE, DE or ZE
 * leaves the destination unchanged.
 */
export function arith(op: number, a: F80, ca: number, b: F80, cb: number, fcw: number, r: F80): boolean {
  fpStatus.c1 = 0;
  const special = specialOperands(a, ca, b, cb, fcw, r);
  if (special >= 0) return special === 1;
  const prec = precisionOf(fcw);
  const rc = (fcw >> FCW_RC_SHIFT) & 3;
  const aInf = ca === CLS_INF;
  const bInf = cb === CLS_INF;
  const aZero = ca === CLS_ZERO;
  const bZero = cb === CLS_ZERO;
  if (op === OP_ADD || op === OP_SUB) {
    // Subtraction is the addition of −b. Order of checks: ∞ − ∞ (IE), then DE, then results.
    const bSign = b.sign ^ (op === OP_SUB ? 1 : 0);
    if (aInf && bInf && a.sign !== bSign) return invalid(r, fcw);
    if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) {
      fpStatus.exc |= FSW_DE;
      if (blocked(fcw)) return false;
    }
    if (aInf) {
      r.copy(a);
      return true;
    }
    if (bInf) {
      setInfinity(r, bSign);
      return true;
    }
    if (aZero && bZero) {
      // (+0) + (−0) is +0, or −0 when rounding down (IEEE 754 6.3).
      setZero(r, a.sign === bSign ? a.sign : rc === RC_DOWN ? 1 : 0);
      return true;
    }
    if (bZero || aZero) {
      // x ± 0 = x, still rounded to the precision control (and denormalised again).
      r.copy(aZero ? b : a);
      if (aZero) r.sign = bSign;
      return finish(r, 0, prec, fcw);
    }
    const ext = addFinite(a, b, bSign, r);
    if (r.hi === 0 && r.lo === 0 && ext === 0) {
      // Exact cancellation: +0, or −0 when rounding down.
      setZero(r, rc === RC_DOWN ? 1 : 0);
      return true;
    }
    return finish(r, ext, prec, fcw);
  }
  // Multiplication and division: the sign is the XOR of the signs, whatever the magnitudes.
  const sign = a.sign ^ b.sign;
  if (op === OP_MUL) {
    if ((aInf && bZero) || (aZero && bInf)) return invalid(r, fcw);
  } else if ((aInf && bInf) || (aZero && bZero)) {
    return invalid(r, fcw);
  } else if (bZero && !aInf) {
    // Zero divide (a denormal dividend raises no DE: checked on the host).
    fpStatus.exc |= FSW_ZE;
    if (blocked(fcw)) return false;
    setInfinity(r, sign);
    return true;
  }
  if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) {
    fpStatus.exc |= FSW_DE;
    if (blocked(fcw)) return false;
  }
  if (op === OP_MUL) {
    if (aInf || bInf) setInfinity(r, sign);
    else if (aZero || bZero) setZero(r, sign);
    else return finish(r, mulFinite(a, b, r, sign), prec, fcw);
    return true;
  }
  if (aInf) setInfinity(r, sign);
  else if (aZero || bInf) setZero(r, sign);
  else return finish(r, divFinite(a, b, r, sign), prec, fcw);
  return true;
}

/**
 * r = a + (−1)^bSign·|b| for finite non-zero operands; returns the extension word. An exact
 * zero leaves r.hi = r.lo = 0 and returns 0.
 */
function addFinite(a: F80, b: F80, bSign: number, r: F80): number {
  let big = a;
  let small = b;
  let bigSign = a.sign;
  let smallSign = bSign;
  if (b.exp > a.exp || (b.exp === a.exp && (b.hi > a.hi || (b.hi === a.hi && b.lo > a.lo)))) {
    big = b;
    small = a;
    bigSign = bSign;
    smallSign = a.sign;
  }
  // Align the smaller operand: 32 guard bits below its significand, anything lower sticky.
  const t = scratch;
  t.hi = small.hi;
  t.lo = small.lo;
  let ext = shiftRight(t, 0, big.exp - small.exp);
  r.sign = bigSign;
  r.exp = big.exp;
  if (bigSign === smallSign) {
    let lo = big.lo + t.lo;
    let hi = big.hi + t.hi;
    if (lo >= TWO32) {
      lo -= TWO32;
      hi++;
    }
    if (hi >= TWO32) {
      // Carry out: shift right by one, the carry becoming the integer bit.
      ext = (((lo & 1) << 31) | (ext >>> 1) | (ext & 1)) >>> 0;
      lo = (((hi % 2) << 31) | (lo >>> 1)) >>> 0;
      hi = Math.floor(hi / 2);
      r.exp++;
    }
    r.hi = hi;
    r.lo = lo;
    return ext;
  }
  // |big| − |small| over 96 bits (the small operand's sticky bit keeps the rounding right).
  let e = 0;
  let borrow = 0;
  if (ext !== 0) {
    e = TWO32 - ext;
    borrow = 1;
  }
  let lo = big.lo - t.lo - borrow;
  borrow = 0;
  if (lo < 0) {
    lo += TWO32;
    borrow = 1;
  }
  r.hi = big.hi - t.hi - borrow;
  r.lo = lo;
  if (r.hi === 0 && r.lo === 0 && e === 0) return 0;
  return normalize(r, e);
}

/** r = a × b (finite, non-zero, normalised) with the given sign; returns the extension word. */
function mulFinite(a: F80, b: F80, r: F80, sign: number): number {
  const a0 = a.lo & 0xffff, a1 = a.lo >>> 16, a2 = a.hi & 0xffff, a3 = a.hi >>> 16;
  const b0 = b.lo & 0xffff, b1 = b.lo >>> 16, b2 = b.hi & 0xffff, b3 = b.hi >>> 16;
  // Column sums of 16-bit limb products (each below 2^35: exact), with carries.
  let t = a0 * b0;
  const w0 = t % 65536;
  t = (t - w0) / 65536 + a0 * b1 + a1 * b0;
  const w1 = t % 65536;
  t = (t - w1) / 65536 + a0 * b2 + a1 * b1 + a2 * b0;
  const w2 = t % 65536;
  t = (t - w2) / 65536 + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  const w3 = t % 65536;
  t = (t - w3) / 65536 + a1 * b3 + a2 * b2 + a3 * b1;
  const w4 = t % 65536;
  t = (t - w4) / 65536 + a2 * b3 + a3 * b2;
  const w5 = t % 65536;
  t = (t - w5) / 65536 + a3 * b3;
  const w6 = t % 65536;
  const w7 = (t - w6) / 65536;
  // The 128-bit product is in [2^126, 2^128): the top 64 bits are the significand once
  // normalised, the next 32 the extension word, the lowest 32 only matter as sticky bits.
  let hi = w7 * 65536 + w6;
  let lo = w5 * 65536 + w4;
  let ext = w3 * 65536 + w2;
  let low = w1 * 65536 + w0;
  r.sign = sign;
  r.exp = a.exp + b.exp - BIAS + 1;
  if (hi < 0x80000000) {
    hi = hi * 2 + (lo >>> 31);
    lo = ((lo << 1) | (ext >>> 31)) >>> 0;
    ext = ((ext << 1) | (low >>> 31)) >>> 0;
    low = (low << 1) >>> 0;
    r.exp--;
  }
  r.hi = hi;
  r.lo = lo;
  return (ext | (low !== 0 ? 1 : 0)) >>> 0;
}

/** r = a / b (finite, non-zero, normalised) with the given sign; returns the extension word. */
function divFinite(a: F80, b: F80, r: F80, sign: number): number {
  const rem = divRem; // the running remainder (up to 33 bits here)
  rem.hi = a.hi;
  rem.lo = a.lo;
  const bh = b.hi;
  const bl = b.lo;
  r.sign = sign;
  r.exp = a.exp - b.exp + BIAS;
  // sig_a < sig_b: the quotient is below 1; double the dividend so that it starts in [1, 2).
  if (rem.hi < bh || (rem.hi === bh && rem.lo < bl)) {
    divRemDouble();
    r.exp--;
  }
  // 96 quotient bits: 64 for the significand (divRemQuotient), 32 guard bits.
  divRemQuotient(bh, bl, 63);
  r.hi = rem.qHi;
  r.lo = rem.qLo;
  divRemDouble();
  divRemQuotient(bh, bl, 31);
  return (rem.qLo | (rem.hi !== 0 || rem.lo !== 0 ? 1 : 0)) >>> 0;
}

/** FSQRT: r = √a, rounded per the control word (precision control applies). */
export function sqrt(a: F80, ca: number, fcw: number, r: F80): boolean {
  fpStatus.c1 = 0;
  const special = specialOperands(a, ca, a, ca, fcw, r);
  if (special >= 0) return special === 1;
  if (ca === CLS_ZERO) {
    r.copy(a);
    return true;
  }
  if (a.sign !== 0) return invalid(r, fcw);
  if (ca === CLS_INF) {
    r.copy(a);
    return true;
  }
  if (ca === CLS_DENORMAL) {
    fpStatus.exc |= FSW_DE;
    if (blocked(fcw)) return false;
  }
  // √(sig/2^63 · 2^k): digit-by-digit root of M = sig · 2^(67 + (k odd)), 66 root bits.
  const k = a.exp - BIAS;
  const odd = k & 1;
  const shift = 67 + odd;
  let rHi = 0; // remainder: rHi (up to 36 bits) · 2^32 + rLo
  let rLo = 0;
  let qHi = 0; // root: qHi (up to 34 bits) · 2^32 + qLo
  let qLo = 0;
  for (let j = 65; j >= 0; j--) {
    const m = 2 * j - shift; // significand bit of M's bit 2j
    const pair = (sigBit(a, m + 1) << 1) | sigBit(a, m);
    rHi = rHi * 4 + (rLo >>> 30);
    rLo = ((rLo << 2) | pair) >>> 0;
    // Trial subtraction of t = 4·root + 1.
    const tHi = qHi * 4 + (qLo >>> 30);
    const tLo = ((qLo << 2) | 1) >>> 0;
    let bit = 0;
    if (rHi > tHi || (rHi === tHi && rLo >= tLo)) {
      const l = rLo - tLo;
      rHi -= tHi + (l < 0 ? 1 : 0);
      rLo = l < 0 ? l + TWO32 : l;
      bit = 1;
    }
    qHi = qHi * 2 + (qLo >>> 31);
    qLo = ((qLo << 1) | bit) >>> 0;
  }
  r.sign = 0;
  r.exp = (k - odd) / 2 + BIAS;
  r.hi = Math.floor(qHi / 4);
  r.lo = (((qHi % 4) << 30) | (qLo >>> 2)) >>> 0;
  const ext = (((qLo & 3) << 30) | (rHi !== 0 || rLo !== 0 ? 1 : 0)) >>> 0;
  return finish(r, ext, precisionOf(fcw), fcw);
}

/** Bit m (0-63) of a's significand, 0 outside. */
function sigBit(a: F80, m: number): number {
  if (m < 0 || m > 63) return 0;
  return (m >= 32 ? a.hi >>> (m - 32) : a.lo >>> m) & 1;
}

/**
 * FPREM (nearest = false: the quotient is truncated) and FPREM1 (rounded to nearest even):
 * r = a − q·b, exactly. When the exponents differ by 64 or more only a partial remainder is
 * computed (a reduction by 2^(D−N) b with N = 32 + D mod 32, as the hardware does) and C2 is set.
 * Returns the condition bits (C2, or C0 C3 C1 = quotient bits 2 1 0); -2 when r is a NaN or the
 * indefinite (C1 and C2 are then cleared, C0 and C3 kept), or -1 when an unmasked exception
 * leaves ST(0) unchanged.
 */
export function remainder(a: F80, ca: number, b: F80, cb: number, nearest: boolean, fcw: number, r: F80): number {
  fpStatus.c1 = 0;
  const special = specialOperands(a, ca, b, cb, fcw, r);
  if (special >= 0) return special === 1 ? -2 : -1;
  if (ca === CLS_INF || cb === CLS_ZERO) return invalid(r, fcw) ? -2 : -1;
  if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) {
    fpStatus.exc |= FSW_DE;
    if (blocked(fcw)) return -1;
  }
  if (ca === CLS_ZERO || cb === CLS_INF) {
    // The quotient is 0: the result is ST(0) itself (a denormal is written back as it was).
    r.copy(a);
    if (ca !== CLS_ZERO) finish(r, 0, 64, fcw);
    return 0;
  }
  const d = a.exp - b.exp;
  let codes = 0;
  r.sign = a.sign;
  if (d < 0) {
    // |a| < |b|: the quotient is 0, or 1 for FPREM1 when |a| > |b|/2.
    if (!nearest || d < -1 || a.hi < b.hi || (a.hi === b.hi && a.lo <= b.lo)) {
      r.copy(a);
      finish(r, 0, 64, fcw);
      return 0;
    }
    // |b| − |a| = (2·sig_b − sig_a) at a's exponent (below sig_b: fits in 64 bits).
    divRemTwiceMinus(b.hi, b.lo, a.hi, a.lo);
    r.sign = a.sign ^ 1;
    r.exp = a.exp;
    r.hi = divRem.hi;
    r.lo = divRem.lo;
    finish(r, normalize(r, 0), 64, fcw);
    return FSW_C1;
  }
  const partial = d >= 64;
  const steps = partial ? 32 + (d & 31) : d;
  const rem = divRem;
  rem.hi = a.hi;
  rem.lo = a.lo;
  divRemQuotient(b.hi, b.lo, steps);
  let q = rem.qLo & 7; // the quotient's low bits
  // FPREM1: the quotient rounded to nearest even.
  if (nearest && !partial && divRemRoundUp(b.hi, b.lo, (q & 1) !== 0)) {
    r.sign ^= 1;
    q = (q + 1) & 7;
  }
  if (partial) codes = FSW_C2;
  else codes = ((q & 4) !== 0 ? FSW_C0 : 0) | ((q & 2) !== 0 ? FSW_C3 : 0) | ((q & 1) !== 0 ? FSW_C1 : 0);
  if (rem.hi === 0 && rem.lo === 0) {
    setZero(r, a.sign);
    return codes;
  }
  r.exp = b.exp + (partial ? d - steps : 0);
  r.hi = rem.hi;
  r.lo = rem.lo;
  finish(r, normalize(r, 0), 64, fcw);
  return codes;
}

/** FRNDINT: r = a rounded to an integer per FCW.RC (precision control does not apply). */
export function roundInt(a: F80, ca: number, fcw: number, r: F80): boolean {
  fpStatus.c1 = 0;
  const special = specialOperands(a, ca, a, ca, fcw, r);
  if (special >= 0) return special === 1;
  r.copy(a);
  if (ca === CLS_ZERO || ca === CLS_INF) return true;
  if (ca === CLS_DENORMAL) {
    fpStatus.exc |= FSW_DE;
    if (blocked(fcw)) return false;
  }
  if (a.exp - BIAS >= 63) return true;
  const d = roundToInteger(r, ca, (fcw >> FCW_RC_SHIFT) & 3);
  if (d > 0) {
    fpStatus.exc |= FSW_PE;
    fpStatus.c1 = d === 2 ? 1 : 0;
  }
  if (r.hi === 0 && r.lo === 0) {
    setZero(r, a.sign);
    return true;
  }
  r.exp = BIAS + 63;
  normalize(r, 0);
  return true;
}

/** FSCALE: r = a · 2^trunc(b), rounded only when the result leaves the normal range. */
export function scale(a: F80, ca: number, b: F80, cb: number, fcw: number, r: F80): boolean {
  fpStatus.c1 = 0;
  const special = specialOperands(a, ca, b, cb, fcw, r);
  if (special >= 0) return special === 1;
  if (cb === CLS_INF) {
    if (b.sign === 0 ? ca === CLS_ZERO : ca === CLS_INF) return invalid(r, fcw);
    if (ca === CLS_DENORMAL) {
      fpStatus.exc |= FSW_DE;
      if (blocked(fcw)) return false;
    }
    if (b.sign === 0) setInfinity(r, a.sign);
    else setZero(r, a.sign);
    return true;
  }
  if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) {
    fpStatus.exc |= FSW_DE;
    if (blocked(fcw)) return false;
  }
  r.copy(a);
  if (ca === CLS_ZERO || ca === CLS_INF) return true;
  // trunc(b), clamped far beyond any exponent that can still produce a finite non-zero result.
  const k = b.exp - BIAS;
  let n = 0;
  if (cb !== CLS_ZERO && k >= 0) n = k > 20 ? 1 << 20 : Math.floor(b.hi / 2 ** (31 - k));
  r.exp += b.sign !== 0 ? -n : n;
  return finish(r, 0, 64, fcw);
}

/** Comparison results. */
export const CMP_GREATER = 0;
export const CMP_LESS = 1;
export const CMP_EQUAL = 2;
export const CMP_UNORDERED = 3;

/** a vs b: CMP_* (NaNs and unsupported formats are unordered; ±0 are equal). No flags. */
export function compare(a: F80, ca: number, b: F80, cb: number): number {
  if (ca >= CLS_QNAN || cb >= CLS_QNAN) return CMP_UNORDERED;
  const sa = ca === CLS_ZERO ? 0 : a.sign !== 0 ? -1 : 1;
  const sb = cb === CLS_ZERO ? 0 : b.sign !== 0 ? -1 : 1;
  if (sa !== sb) return sa > sb ? CMP_GREATER : CMP_LESS;
  if (sa === 0) return CMP_EQUAL;
  let m = 0;
  if (a.exp !== b.exp) m = a.exp > b.exp ? 1 : -1;
  else if (a.hi !== b.hi) m = a.hi > b.hi ? 1 : -1;
  else if (a.lo !== b.lo) m = a.lo > b.lo ? 1 : -1;
  if (m === 0) return CMP_EQUAL;
  return m * sa > 0 ? CMP_GREATER : CMP_LESS;
}

/**
 * Raises the exceptions of a comparison: IE for unsupported formats and SNaNs (all NaNs unless
 * `quiet`), else DE for a denormal compared with a number.
 */
export function compareExceptions(ca: number, cb: number, quiet: boolean): void {
  if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED || ca === CLS_SNAN || cb === CLS_SNAN ||
    (!quiet && (ca === CLS_QNAN || cb === CLS_QNAN))) {
    fpStatus.exc |= FSW_IE;
  } else if ((ca === CLS_DENORMAL || cb === CLS_DENORMAL) && !isNaNClass(ca) && !isNaNClass(cb)) {
    // (no DE when the comparison is unordered anyway: checked on the host)
    fpStatus.exc |= FSW_DE;
  }
}

/**
 * The x87 80-bit extended-precision format (Intel SDM Vol. 1, 4.2.2, 4.8 and 8.2): classes, the
 * unpacked working form, the one rounding routine every x87 result goes through (precision and
 * rounding control, denormalisation, overflow and underflow with their masked and unmasked
 * responses, 4.9.1.4-4.9.1.5), and the exact conversions to and from the memory formats: single
 * and double precision, 16/32/64-bit integers and 18-digit packed BCD.
 *
 * Working form (class F80): value = (-1)^sign × (hi·2^32 + lo) / 2^63 × 2^(exp − 16383), where
 * hi and lo are the unsigned 32-bit halves of the 64-bit significand (bit 63 = the explicit
 * integer bit J). Denormal inputs are normalised by unpack (exp ≤ 0), so arithmetic only sees
 * normal numbers; roundPack() denormalises results again. Bits below the significand travel in an
 * `ext` word (32 guard bits, bit 0 sticky).
 *
 * Everything here is exact integer arithmetic on 32-bit halves: no JavaScript doubles (except in
 * toNumber/fromNumber, used by the transcendental functions), no bigint, no allocation. Raised
 * exception flags accumulate in `fpStatus.exc`; `fpStatus.c1` says whether the last rounding
 * went up in magnitude (the C1 condition bit).
 *
 * Hardware behaviour followed here (AMD Zen 4, the differential tests' host; x87.diff.test.ts):
 * - tininess is detected after rounding (with unbounded exponent), whether UE is masked or not;
 * - unmasked OE/UE with a register destination bias the exponent by ∓0x6000 (24576) and deliver
 *   the result (still out of range, as FSCALE can make it: ±∞ or ±0 with PE); with a memory
 *   destination nothing is stored and only OE/UE is raised;
 * - unnormals, pseudo-infinities and pseudo-NaNs are unsupported (invalid operands); pseudo-
 *   denormals (exponent 0, J = 1) are denormals read with the exponent of 1.
 *
 * Not supported: nothing (see x87.ts for the instruction-level gaps).
 */

/** Classes of an 80-bit value (unpack's result). */
export const CLS_ZERO = 0;
export const CLS_NORMAL = 1;
/** Denormal or pseudo-denormal (normalised in the working form). */
export const CLS_DENORMAL = 2;
export const CLS_INF = 3;
export const CLS_QNAN = 4;
export const CLS_SNAN = 5;
/** Unnormal, pseudo-infinity or pseudo-NaN: an invalid operand for every arithmetic operation. */
export const CLS_UNSUPPORTED = 6;

/**
 * FPU status word (SDM Vol. 1, Figure 8-4):
 *
 *   15 14 13-11 10  9  8  7  6  5  4  3  2  1  0
 *    B C3  TOP  C2 C1 C0 ES SF PE UE OE ZE DE IE
 *
 * The exception flags IE..PE sit at the same bit positions as their masks in the control word.
 */
export const FSW_IE = 0x0001;
export const FSW_DE = 0x0002;
export const FSW_ZE = 0x0004;
export const FSW_OE = 0x0008;
export const FSW_UE = 0x0010;
export const FSW_PE = 0x0020;
export const FSW_SF = 0x0040;
export const FSW_ES = 0x0080;
export const FSW_C0 = 0x0100;
export const FSW_C1 = 0x0200;
export const FSW_C2 = 0x0400;
export const FSW_TOP_SHIFT = 11;
export const FSW_TOP_MASK = 0x3800;
export const FSW_C3 = 0x4000;
export const FSW_B = 0x8000;
/** The six exception flags (and the six masks of the control word). */
export const FSW_EXCEPTIONS = 0x3f;

/**
 * FPU control word (SDM Vol. 1, Figure 8-6):
 *
 *   15-13 12 11-10 9-8 7 6  5  4  3  2  1  0
 *     0   X   RC   PC  0 1 PM UM OM ZM DM IM
 *
 * Bit 6 reads as 1 and bits 7, 13-15 as 0 whatever is loaded (checked on the host).
 */
export const FCW_PC_SHIFT = 8;
export const FCW_RC_SHIFT = 10;
export const FCW_WRITABLE = 0x1f3f;
export const FCW_ONES = 0x0040;
/** Rounding control values. */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

/** Exponent bias and the biased exponent ranges of the formats, all in the 80-bit bias. */
export const BIAS = 16383;
export const EXT_EMIN = 1;
export const EXT_EMAX = 0x7ffe;
export const DBL_EMIN = BIAS - 1022;
export const DBL_EMAX = BIAS + 1023;
export const SGL_EMIN = BIAS - 126;
export const SGL_EMAX = BIAS + 127;
/** Exponent bias adjustment of unmasked overflow and underflow (SDM Vol. 1, 4.9.1.4). */
export const WRAP_BIAS = 0x6000;

const TWO32 = 4294967296;

/** An unpacked value: see the file comment. hi and lo are unsigned (0 .. 2^32 − 1). */
export class F80 {
  sign = 0;
  exp = 0;
  hi = 0;
  lo = 0;

  copy(from: F80): void {
    this.sign = from.sign;
    this.exp = from.exp;
    this.hi = from.hi;
    this.lo = from.lo;
  }

  /** The sign/exponent word of the register image after roundPack (exponent 0 when J = 0). */
  se(): number {
    return (this.sign << 15) | ((this.hi & 0x80000000) !== 0 ? this.exp & 0x7fff : 0);
  }
}

/** What the operations report besides their result (module-level: nothing is allocated). */
export class FpStatus {
  /** Exception flags raised (FSW bits 0-5), accumulated until the caller clears them. */
  exc = 0;
  /** 1 when the last rounding increased the magnitude (C1), else 0. */
  c1 = 0;
  /** Memory images produced by the packers: low dword, high dword, and a 16-bit top part. */
  outLo = 0;
  outHi = 0;
  outTop = 0;
}
export const fpStatus = new FpStatus();

/**
 * The running remainder of the restoring divisions (FDIV, FPREM/FPREM1 and the argument reduction
 * of FSIN/FCOS/FPTAN): hi (up to 2^33) and lo (32 bits), both unsigned; qHi:qLo hold the quotient
 * bits of the last divRemQuotient().
 */
export class DivRem {
  hi = 0;
  lo = 0;
  qHi = 0;
  qLo = 0;
}
export const divRem = new DivRem();

/** Doubles the remainder. */
export function divRemDouble(): void {
  const r = divRem;
  r.hi = r.hi * 2 + (r.lo >>> 31);
  r.lo = (r.lo << 1) >>> 0;
}

/**
 * steps + 1 quotient bits (at most 64) of the remainder by b = bh·2^32 + bl (the remainder below
 * 2·b), into qHi:qLo, the most significant first; the remainder left is the last one (below b).
 */
export function divRemQuotient(bh: number, bl: number, steps: number): void {
  const r = divRem;
  let rh = r.hi; // in locals: this is the inner loop of FDIV and FPREM
  let rl = r.lo;
  let qh = 0;
  let ql = 0;
  for (let i = 0; ; i++) {
    let bit = 0;
    if (rh > bh || (rh === bh && rl >= bl)) {
      const l = rl - bl;
      rh -= bh + (l < 0 ? 1 : 0);
      rl = l < 0 ? l + TWO32 : l;
      bit = 1;
    }
    qh = ((qh << 1) | (ql >>> 31)) >>> 0;
    ql = ((ql << 1) | bit) >>> 0;
    if (i === steps) break;
    rh = rh * 2 + (rl >>> 31);
    rl = (rl << 1) >>> 0;
  }
  r.hi = rh;
  r.lo = rl;
  r.qHi = qh;
  r.qLo = ql;
}

/**
 * The rounding to nearest of a quotient (ties to an even one, `odd` its last bit): when 2·rem > b
 * or 2·rem = b with an odd quotient, the remainder becomes b − rem and the result is true (the
 * caller adds 1 to the quotient and flips the remainder's sign).
 */
export function divRemRoundUp(bh: number, bl: number, odd: boolean): boolean {
  const r = divRem;
  const th = r.hi * 2 + (r.lo >>> 31);
  const tl = (r.lo << 1) >>> 0;
  if (!(th > bh || (th === bh && (tl > bl || (tl === bl && odd))))) return false;
  let l = bl - r.lo;
  let h = bh - r.hi;
  if (l < 0) {
    l += TWO32;
    h--;
  }
  r.hi = h;
  r.lo = l;
  return true;
}

/** Sets the remainder to 2·b − a (for 2·b > a). */
export function divRemTwiceMinus(bh: number, bl: number, ah: number, al: number): void {
  const hi = bh * 2 + (bl >>> 31);
  const l = ((bl << 1) >>> 0) - al;
  divRem.hi = hi - ah - (l < 0 ? 1 : 0);
  divRem.lo = l < 0 ? l + TWO32 : l;
}

/** Sets x to the QNaN floating-point indefinite (0xFFFF_C000000000000000). */
export function setIndefinite(x: F80): void {
  x.sign = 1;
  x.exp = 0x7fff;
  x.hi = 0xc0000000;
  x.lo = 0;
}

/** Unpacks a register image into x (denormals normalised) and returns its class. */
export function unpack(x: F80, se: number, hi: number, lo: number): number {
  x.sign = (se >>> 15) & 1;
  const e = se & 0x7fff;
  x.exp = e;
  x.hi = hi >>> 0;
  x.lo = lo >>> 0;
  if (e === 0) {
    if (x.hi === 0 && x.lo === 0) return CLS_ZERO;
    x.exp = 1;
    normalize(x, 0);
    return CLS_DENORMAL;
  }
  if (x.hi < 0x80000000) return CLS_UNSUPPORTED;
  if (e === 0x7fff) {
    if (x.hi === 0x80000000 && x.lo === 0) return CLS_INF;
    return (x.hi & 0x40000000) !== 0 ? CLS_QNAN : CLS_SNAN;
  }
  return CLS_NORMAL;
}

/**
 * Shifts the significand of x, with the extension word below it, right by n ≥ 0 bits; returns
 * the new extension word (bits shifted past it are ORed into its bit 0).
 */
export function shiftRight(x: F80, ext: number, n: number): number {
  if (n <= 0) return ext;
  let hi = x.hi;
  let lo = x.lo;
  if (n >= 96) {
    x.hi = 0;
    x.lo = 0;
    return (hi | lo | ext) !== 0 ? 1 : 0;
  }
  while (n >= 32) {
    ext = (lo | (ext !== 0 ? 1 : 0)) >>> 0;
    lo = hi;
    hi = 0;
    n -= 32;
  }
  if (n > 0) {
    const sticky = (ext << (32 - n)) !== 0 ? 1 : 0;
    ext = ((lo << (32 - n)) | (ext >>> n) | sticky) >>> 0;
    lo = ((hi << (32 - n)) | (lo >>> n)) >>> 0;
    hi >>>= n;
  }
  x.hi = hi;
  x.lo = lo;
  return ext;
}

/** Shifts x (non-zero significand or extension) left until J is set; returns the extension word. */
export function normalize(x: F80, ext: number): number {
  while (x.hi === 0) {
    x.hi = x.lo;
    x.lo = ext;
    ext = 0;
    x.exp -= 32;
  }
  const s = Math.clz32(x.hi);
  if (s !== 0) {
    x.hi = ((x.hi << s) | (x.lo >>> (32 - s))) >>> 0;
    x.lo = ((x.lo << s) | (ext >>> (32 - s))) >>> 0;
    ext = (ext << s) >>> 0;
    x.exp -= s;
  }
  return ext;
}

/**
 * How rounding x (with `ext` below it) to `prec` bits goes: 0 exact, 1 inexact and truncated,
 * 2 inexact and incremented in magnitude.
 */
function roundDecision(x: F80, ext: number, prec: number, rc: number): number {
  let top: number; // the dropped bits just below the last kept bit
  let half: number;
  let rest: number; // lower dropped bits (only their being non-zero matters)
  let lsb: number;
  if (prec === 64) {
    top = ext >>> 0;
    half = 0x80000000;
    rest = 0;
    lsb = x.lo & 1;
  } else if (prec === 53) {
    top = x.lo & 0x7ff;
    half = 0x400;
    rest = ext;
    lsb = (x.lo >>> 11) & 1;
  } else {
    top = x.hi & 0xff;
    half = 0x80;
    rest = x.lo | ext;
    lsb = (x.hi >>> 8) & 1;
  }
  if (top === 0 && rest === 0) return 0;
  let up: boolean;
  switch (rc) {
    case RC_NEAREST: up = top > half || (top === half && (rest !== 0 || lsb !== 0)); break;
    case RC_DOWN: up = x.sign !== 0; break;
    case RC_UP: up = x.sign === 0; break;
    default: up = false;
  }
  return up ? 2 : 1;
}

/** Whether the kept `prec` bits of x are all ones (an increment carries out). */
function keptAllOnes(x: F80, prec: number): boolean {
  if (prec === 64) return x.hi === 0xffffffff && x.lo === 0xffffffff;
  if (prec === 53) return x.hi === 0xffffffff && x.lo >>> 11 === 0x1fffff;
  return x.hi >>> 8 === 0xffffff;
}

/** Drops the bits of x below `prec`, adding one unit in the last kept place when `up`. */
function applyRound(x: F80, prec: number, up: boolean): void {
  let hi = x.hi;
  let lo: number;
  if (prec === 64) lo = x.lo + (up ? 1 : 0);
  else if (prec === 53) lo = ((x.lo & 0xfffff800) >>> 0) + (up ? 0x800 : 0);
  else {
    lo = 0;
    hi = ((hi & 0xffffff00) >>> 0) + (up ? 0x100 : 0);
  }
  if (lo >= TWO32) {
    lo -= TWO32;
    hi++;
  }
  if (hi >= TWO32) {
    hi = 0x80000000;
    x.exp++;
  }
  x.hi = hi;
  x.lo = lo;
}

/**
 * Rounds x (normalised, non-zero; `ext` holds the bits below it) to `prec` significant bits (24,
 * 53 or 64) with rounding control `rc`, for a format whose normal biased exponents (in the 80-bit
 * bias) are emin..emax, as the x87 does. On return x is the result: a denormal or zero has J = 0
 * (its exponent is emin), an infinity has exp = 0x7fff. PE/UE/OE go to fpStatus.exc and C1 to
 * fpStatus.c1. `fcw` gives the OE/UE masks. Unmasked OE/UE: with `regDest` the exponent is
 * wrapped by ∓0x6000; otherwise nothing may be stored and the result is false.
 */
export function roundPack(
  x: F80, ext: number, prec: number, rc: number, emin: number, emax: number, fcw: number, regDest: boolean,
): boolean {
  const st = fpStatus;
  st.c1 = 0;
  let d: number;
  if (x.exp < emin) {
    d = roundDecision(x, ext, prec, rc);
    const tiny = x.exp < emin - 1 || !(d === 2 && keptAllOnes(x, prec));
    if ((fcw & FSW_UE) !== 0) {
      // Masked: denormalise, round, and signal underflow only when the result is inexact.
      ext = shiftRight(x, ext, emin - x.exp);
      x.exp = emin;
      d = roundDecision(x, ext, prec, rc);
      if (d !== 0) {
        st.exc |= FSW_PE | (tiny ? FSW_UE : 0);
        st.c1 = d === 2 ? 1 : 0;
        applyRound(x, prec, d === 2);
      }
      return true;
    }
    if (tiny) {
      if (!regDest) {
        st.exc |= FSW_UE;
        return false;
      }
      if (d !== 0) {
        st.exc |= FSW_PE;
        st.c1 = d === 2 ? 1 : 0;
        applyRound(x, prec, d === 2);
      }
      st.exc |= FSW_UE;
      x.exp += WRAP_BIAS;
      if (x.exp < emin) {
        // Still too small after the bias adjustment (FSCALE): a zero, as on the host.
        st.exc |= FSW_PE;
        st.c1 = 0;
        x.hi = 0;
        x.lo = 0;
      }
      return true;
    }
  }
  d = roundDecision(x, ext, prec, rc);
  let exc = 0;
  if (d !== 0) {
    exc = FSW_PE;
    st.c1 = d === 2 ? 1 : 0;
    applyRound(x, prec, d === 2);
  }
  if (x.exp > emax) {
    if ((fcw & FSW_OE) === 0) {
      if (!regDest) {
        st.c1 = 0;
        st.exc |= FSW_OE;
        return false;
      }
      st.exc |= exc | FSW_OE;
      x.exp -= WRAP_BIAS;
      if (x.exp > emax) {
        // Still too large after the bias adjustment (FSCALE): infinity whatever RC, as on the host.
        st.exc |= FSW_PE;
        st.c1 = 1;
        x.exp = 0x7fff;
        x.hi = 0x80000000;
        x.lo = 0;
      }
      return true;
    }
    exc |= FSW_OE | FSW_PE;
    const toInfinity = rc === RC_NEAREST || (rc === RC_UP && x.sign === 0) || (rc === RC_DOWN && x.sign !== 0);
    if (toInfinity) {
      x.exp = 0x7fff;
      x.hi = 0x80000000;
      x.lo = 0;
      st.c1 = 1;
    } else {
      // The largest finite number of the precision.
      x.exp = emax;
      x.hi = prec === 24 ? 0xffffff00 : 0xffffffff;
      x.lo = prec === 64 ? 0xffffffff : prec === 53 ? 0xfffff800 : 0;
      st.c1 = 0;
    }
  }
  st.exc |= exc;
  return true;
}

// ---- memory formats ---------------------------------------------------------------------------

/** Unpacks IEEE double bits (lo, hi) into x; returns the class (NaNs are left as they are). */
export function unpackDouble(x: F80, lo: number, hi: number): number {
  x.sign = hi >>> 31;
  const field = (hi >>> 20) & 0x7ff;
  x.hi = (((hi & 0xfffff) << 11) | (lo >>> 21)) >>> 0;
  x.lo = (lo << 11) >>> 0;
  if (field === 0) {
    x.exp = DBL_EMIN;
    if (x.hi === 0 && x.lo === 0) return CLS_ZERO;
    normalize(x, 0);
    return CLS_DENORMAL;
  }
  x.hi = (x.hi | 0x80000000) >>> 0;
  if (field === 0x7ff) {
    x.exp = 0x7fff;
    if (x.hi === 0x80000000 && x.lo === 0) return CLS_INF;
    return (hi & 0x80000) !== 0 ? CLS_QNAN : CLS_SNAN;
  }
  x.exp = field - 1023 + BIAS;
  return CLS_NORMAL;
}

/** Unpacks IEEE single bits into x; returns the class. */
export function unpackSingle(x: F80, bits: number): number {
  x.sign = bits >>> 31;
  const field = (bits >>> 23) & 0xff;
  x.hi = ((bits & 0x7fffff) << 8) >>> 0;
  x.lo = 0;
  if (field === 0) {
    x.exp = SGL_EMIN;
    if (x.hi === 0) return CLS_ZERO;
    normalize(x, 0);
    return CLS_DENORMAL;
  }
  x.hi = (x.hi | 0x80000000) >>> 0;
  if (field === 0xff) {
    x.exp = 0x7fff;
    if (x.hi === 0x80000000) return CLS_INF;
    return (bits & 0x400000) !== 0 ? CLS_QNAN : CLS_SNAN;
  }
  x.exp = field - 127 + BIAS;
  return CLS_NORMAL;
}

/** Unpacks a signed 64-bit integer (lo, hi) into x, exactly; returns CLS_ZERO or CLS_NORMAL. */
export function unpackInt(x: F80, lo: number, hi: number): number {
  x.sign = hi >>> 31;
  if (x.sign !== 0) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  return unpackMagnitude(x, hi, lo);
}

/** x = hi·2^32 + lo (an unsigned integer; x.sign is set by the caller), normalised; returns its class. */
function unpackMagnitude(x: F80, hi: number, lo: number): number {
  x.hi = hi >>> 0;
  x.lo = lo >>> 0;
  x.exp = BIAS + 63;
  if (x.hi === 0 && x.lo === 0) return CLS_ZERO;
  normalize(x, 0);
  return CLS_NORMAL;
}

/**
 * Converts x (class cls) to a floating-point memory format: double (`bits` 64) or single (32),
 * rounding per `rc`, as FST/FSTP m32/m64 do. The image goes to fpStatus.outLo (and outHi for a
 * double). Raises IE (SNaN: quieted; unsupported: indefinite), OE, UE, PE. Returns false when
 * nothing may be stored (an unmasked IE, OE or UE). x is clobbered.
 */
export function packFloat(x: F80, cls: number, rc: number, bits: number, fcw: number): boolean {
  const st = fpStatus;
  st.c1 = 0;
  const double = bits === 64;
  switch (cls) {
    case CLS_ZERO:
      x.exp = 0;
      x.hi = 0;
      x.lo = 0;
      break;
    case CLS_UNSUPPORTED:
      st.exc |= FSW_IE;
      if ((fcw & FSW_IE) === 0) return false;
      setIndefinite(x);
      break;
    case CLS_SNAN:
      st.exc |= FSW_IE;
      if ((fcw & FSW_IE) === 0) return false;
      x.hi = (x.hi | 0x40000000) >>> 0;
      break;
    case CLS_QNAN:
    case CLS_INF:
      break;
    default:
      if (!roundPack(x, 0, double ? 53 : 24, rc, double ? DBL_EMIN : SGL_EMIN, double ? DBL_EMAX : SGL_EMAX, fcw, false)) return false;
  }
  const normal = (x.hi & 0x80000000) !== 0;
  if (double) {
    const field = x.exp === 0x7fff ? 0x7ff : normal ? x.exp - BIAS + 1023 : 0;
    st.outHi = (x.sign << 31) | (field << 20) | ((x.hi >>> 11) & 0xfffff);
    st.outLo = (x.hi << 21) | (x.lo >>> 11);
  } else {
    const field = x.exp === 0x7fff ? 0xff : normal ? x.exp - BIAS + 127 : 0;
    st.outLo = (x.sign << 31) | (field << 23) | ((x.hi >>> 8) & 0x7fffff);
  }
  return true;
}

/** Integer indefinite of a width: the most negative integer. */
function setIntIndefinite(bits: number): void {
  fpStatus.outLo = bits === 16 ? 0x8000 : bits === 32 ? 0x80000000 | 0 : 0;
  fpStatus.outHi = bits === 64 ? 0x80000000 | 0 : 0;
}

/**
 * Rounds x (class cls) to an integer magnitude per `rc` into x.hi/x.lo (exponent ignored);
 * returns the rounding decision (0 exact, 1 truncated, 2 incremented), or -1 when |x| ≥ 2^63
 * after rounding (x.hi/x.lo then undefined) or x is not finite.
 */
export function roundToInteger(x: F80, cls: number, rc: number): number {
  if (cls === CLS_ZERO) {
    x.hi = 0;
    x.lo = 0;
    return 0;
  }
  if (cls !== CLS_NORMAL && cls !== CLS_DENORMAL) return -1;
  const k = x.exp - BIAS;
  if (k >= 63) return k === 63 && x.hi === 0x80000000 && x.lo === 0 ? 3 : -1;
  const ext = shiftRight(x, 0, 63 - k);
  const d = roundDecision(x, ext, 64, rc);
  if (d === 2) applyRound(x, 64, true);
  return d;
}

/**
 * Converts x (class cls) to a signed integer of `bits` (16, 32 or 64) rounding per `rc` (FIST,
 * FISTP; FISTTP passes RC_ZERO), into fpStatus.outLo/outHi. Out of range, NaN, infinity or an
 * unsupported value: IE and the integer indefinite (returns false if IE is unmasked: no store).
 * Inexact: PE and C1 = rounded up. x is clobbered.
 */
export function packInt(x: F80, cls: number, rc: number, bits: number, fcw: number): boolean {
  const st = fpStatus;
  st.c1 = 0;
  let d = roundToInteger(x, cls, rc);
  const neg = x.sign !== 0;
  // d = 3: exactly 2^63 (only -2^63 fits).
  let fits: boolean;
  if (d < 0) fits = false;
  else if (d === 3) fits = bits === 64 && neg;
  else if (bits === 64) fits = x.hi < 0x80000000 || (neg && x.hi === 0x80000000 && x.lo === 0);
  else {
    const limit = bits === 32 ? 0x80000000 : 0x8000;
    fits = x.hi === 0 && (x.lo < limit || (neg && x.lo === limit));
  }
  if (!fits) {
    st.exc |= FSW_IE;
    setIntIndefinite(bits);
    return (fcw & FSW_IE) !== 0;
  }
  if (d === 3) d = 0;
  if (d !== 0) {
    st.exc |= FSW_PE;
    st.c1 = d === 2 ? 1 : 0;
  }
  let lo = x.lo;
  let hi = x.hi;
  if (neg) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  st.outLo = bits === 16 ? lo & 0xffff : lo | 0;
  st.outHi = bits === 64 ? hi | 0 : 0;
  return true;
}

/**
 * Converts x to 18-digit packed BCD (FBSTP, SDM Vol. 1, 4.7): 10 bytes as outLo (bytes 0-3),
 * outHi (4-7) and outTop (8-9, the sign in bit 15), rounding per `rc`. Not finite or |x| ≥ 10^18:
 * IE and the BCD indefinite (FFFF C000 0000 0000 0000); returns false if IE is unmasked.
 */
export function packBcd(x: F80, cls: number, rc: number, fcw: number): boolean {
  const st = fpStatus;
  st.c1 = 0;
  const d = roundToInteger(x, cls, rc);
  // 10^18 = 0x0DE0B6B3_A7640000
  if (d < 0 || d === 3 || x.hi > 0x0de0b6b3 || (x.hi === 0x0de0b6b3 && x.lo >= 0xa7640000)) {
    st.exc |= FSW_IE;
    st.outLo = 0;
    st.outHi = 0xc0000000 | 0;
    st.outTop = 0xffff;
    return (fcw & FSW_IE) !== 0;
  }
  if (d !== 0) {
    st.exc |= FSW_PE;
    st.c1 = d === 2 ? 1 : 0;
  }
  // Split the magnitude into two 9-digit halves: long division by 10^9 over 16-bit limbs.
  let rem = 0;
  let q = 0;
  for (let i = 3; i >= 0; i--) {
    const limb = i >= 2 ? (x.hi >>> (16 * (i - 2))) & 0xffff : (x.lo >>> (16 * i)) & 0xffff;
    const cur = rem * 65536 + limb;
    const qd = Math.floor(cur / 1e9);
    rem = cur - qd * 1e9;
    q = q * 65536 + qd;
  }
  let lo = 0;
  let hi = 0;
  let top = 0;
  for (let i = 0; i < 18; i++) {
    const half = i < 9 ? rem : q;
    const digit = Math.floor(half / 10 ** (i % 9)) % 10;
    if (i < 8) lo |= digit << (4 * i);
    else if (i < 16) hi |= digit << (4 * (i - 8));
    else top |= digit << (4 * (i - 16));
  }
  st.outLo = lo;
  st.outHi = hi;
  st.outTop = top | (x.sign << 15);
  return true;
}

/**
 * Unpacks 18-digit packed BCD (bytes 0-3 lo, 4-7 hi, 8-9 top; sign in bit 15 of top) exactly
 * into x; returns CLS_ZERO or CLS_NORMAL. Nibbles above 9 (invalid digits, whose result the SDM
 * leaves undefined) count with their binary value in their decimal position.
 */
export function unpackBcd(x: F80, lo: number, hi: number, top: number): number {
  let low = 0;
  let high = 0;
  for (let i = 8; i >= 0; i--) {
    const dl = i < 8 ? (lo >>> (4 * i)) & 15 : hi & 15;
    const dh = i < 7 ? (hi >>> (4 * (i + 1))) & 15 : (top >>> (4 * (i - 7))) & 15;
    low = low * 10 + dl;
    high = high * 10 + dh;
  }
  // magnitude = high·10^9 + low, assembled exactly in 32-bit halves (high·10^9 < 2^64).
  const hh = Math.floor(high / 65536);
  const p = hh * 1e9; // high part, weight 2^16
  const s = (high - hh * 65536) * 1e9 + low;
  let mHi = Math.floor(p / 65536);
  let mLo = (p - mHi * 65536) * 65536 + s;
  const carry = Math.floor(mLo / TWO32);
  mHi += carry;
  mLo -= carry * TWO32;
  x.sign = (top >>> 15) & 1;
  return unpackMagnitude(x, mHi, mLo);
}

// ---- JavaScript numbers (for the transcendental functions only) --------------------------------

const numView = new DataView(new ArrayBuffer(8));

/** x as the nearest JavaScript number (x finite, non-zero, unpacked). */
export function toNumber(x: F80): number {
  let v = x.hi * TWO32 + x.lo; // one rounding to 53 bits
  let e = x.exp - BIAS - 63;
  while (e > 900) {
    v *= 2 ** 900;
    e -= 900;
  }
  while (e < -900) {
    v *= 2 ** -900;
    e += 900;
  }
  v *= 2 ** e;
  return x.sign !== 0 ? -v : v;
}

/** x = the JavaScript number v, exactly; returns its class. */
export function fromNumber(x: F80, v: number): number {
  numView.setFloat64(0, v, true);
  return unpackDouble(x, numView.getInt32(0, true), numView.getInt32(4, true));
}

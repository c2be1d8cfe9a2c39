/**
 * x87 transcendental instructions (Intel SDM Vol. 1, 8.3.9-8.3.10; Vol. 2 instruction pages):
 * FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1.
 *
 * Special operands (NaNs, infinities, zeros, out-of-range arguments, stack faults) follow the
 * SDM tables and the host, exactly. FSIN/FCOS/FSINCOS/FPTAN reduce their argument exactly as the
 * hardware does, with its 66-bit approximation of π (r = |x| − k·π66/2, computed with the exact
 * 64-bit arithmetic), so even large arguments agree with the host.
 *
 * WHERE RESULTS DIFFER FROM HARDWARE: the functions themselves are evaluated in double
 * precision (Math.sin, cos, tan, atan2, expm1, log1p on the reduced argument rounded to a
 * double) and the double result is widened exactly, while the hardware delivers 64 bits. The
 * results are within about 2^12 units in the last place of the 64-bit significand of the
 * host's (measured maximum ≈ 4850 over 16000 random arguments; the tests allow TRANS_ULPS =
 * 2^13), and C1 (rounded up) does not match. Tiny arguments, where doubles would lose
 * everything, use exact 64-bit arithmetic instead (sin x ≈ x, tan x ≈ x, cos x ≈ 1,
 * 2^x − 1 ≈ x·ln 2, log2(1 + x) ≈ x·log2 e); FYL2X takes log2(1 + (x − 1)) for x near 1 (the
 * subtraction is exact); FPATAN scales both operands alike and returns π, π/2, π/4 and 3π/4
 * rounded per RC for its exact special cases. The results are not rounded per FCW.RC (only
 * the double's own rounding to nearest applies); precision control does not apply (as on the
 * hardware). Outside the SDM's domains (F2XM1: |x| > 1, FYL2XP1: |x| ≥ 1 − √2/2) the results
 * are the mathematical ones, while the hardware's are undefined.
 *
 * Not supported: 64-bit-accurate (and RC-rounded) transcendental results.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import * as float80 from './float80.ts';
import { F80 } from './float80.ts';
import * as x87Arith from './x87-arith.ts';
import * as x87Stack from './x87-stack.ts';
// Imported bindings bound to module constants once (a transpiled import is a getter call per use).
const {
  BIAS, CLS_DENORMAL, CLS_INF, CLS_NORMAL, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED, CLS_ZERO, EXT_EMAX, EXT_EMIN,
  FCW_RC_SHIFT, FSW_C1, FSW_C2, FSW_DE, FSW_IE, FSW_PE, FSW_UE, FSW_ZE, RC_DOWN, RC_NEAREST, RC_UP, divRem,
  divRemQuotient, divRemRoundUp, divRemTwiceMinus, fpStatus, fromNumber, normalize, roundPack, setIndefinite, toNumber,
} = float80;
const { OP_DIV, OP_MUL, OP_SUB, arith, propagateNaN } = x87Arith;
const {
  I_FCW, begin, isEmpty, loadSt, pop, push, raise, replacePushChecked, setCodes, stackUnderflow, writeIndefinite,
  writeSt,
} = x87Stack;

const A = new F80();
const B = new F80();
const R = new F80();
const R2 = new F80();
const K = new F80();
const R3 = new F80();
const K2 = new F80();
const TWO32 = 4294967296;
const st = fpStatus;

const FN_SIN = 0;
const FN_COS = 1;
const FN_TAN = 2;
const FN_2XM1 = 3;

/**
 * The exact results of FPATAN, truncated to 64 bits: [sign/exponent, high, low]; each rounds up
 * to nearest (the next bits of π are 1100 0100...; of 3π/4, 1001 0011...). Rounded per RC.
 */
const PI = [0x4000, 0xc90fdaa2, 0x2168c234] as const;
const PI_2 = [0x3fff, 0xc90fdaa2, 0x2168c234] as const;
const PI_4 = [0x3ffe, 0xc90fdaa2, 0x2168c234] as const;
const PI3_4 = [0x4000, 0x96cbe3f9, 0x990e91a7] as const;
/** ln 2 and log2 e rounded to nearest (multipliers for tiny arguments). */
const LN2 = [0x3ffe, 0xb17217f7, 0xd1cf79ac] as const;
const LOG2E = [0x3fff, 0xb8aa3b29, 0x5c17f0bc] as const;

/** x = ±c rounded per the control word (c truncated, its next bits above one half); PE. */
function setConst(x: F80, c: readonly [number, number, number], sign: number, fcw: number): void {
  const rc = (fcw >> FCW_RC_SHIFT) & 3;
  const up = rc === RC_NEAREST || (rc === RC_UP && sign === 0) || (rc === RC_DOWN && sign !== 0);
  x.sign = sign;
  x.exp = c[0] & 0x7fff;
  x.hi = c[1];
  x.lo = up ? c[2] + 1 : c[2];
  st.exc |= FSW_PE;
  st.c1 = up ? 1 : 0;
}

/** Operand exceptions of a unary function; returns 1 (r set: write), 0 (blocked), -1 (go on). */
function unarySpecial(a: F80, ca: number, fcw: number, r: F80): number {
  if (ca === CLS_UNSUPPORTED || ca === CLS_INF) {
    st.exc |= FSW_IE;
    setIndefinite(r);
    return (fcw & FSW_IE) !== 0 ? 1 : 0;
  }
  if (ca === CLS_QNAN || ca === CLS_SNAN) {
    propagateNaN(a, ca, a, ca, r);
    return (st.exc & ~fcw & FSW_IE) !== 0 ? 0 : 1;
  }
  if (ca === CLS_DENORMAL) {
    st.exc |= FSW_DE;
    if ((fcw & FSW_DE) === 0) return 0;
  }
  return -1;
}

/**
 * r = a·(1 + δ) for a tiny |δ| > 0 (`dir` = +1) or a·(1 − δ) (`dir` = −1), rounded: the result
 * of a function that is x plus or minus much less than half an ulp (sin x, tan x for tiny x).
 */
function nudge(a: F80, dir: number, fcw: number, r: F80): void {
  r.copy(a);
  let ext = 1;
  if (dir < 0) {
    // (hi, lo, 0) − 1 unit of the extension word
    ext = 0xffffffff;
    if (r.lo === 0) {
      r.lo = 0xffffffff;
      r.hi--;
    } else r.lo--;
    if (r.hi < 0x80000000) ext = normalize(r, ext);
  }
  roundPack(r, ext, 64, (fcw >> FCW_RC_SHIFT) & 3, EXT_EMIN, EXT_EMAX, fcw, true);
}

/** r = 1 − δ (cos of a tiny argument), rounded. */
function nearOne(fcw: number, r: F80): void {
  K.sign = 0;
  K.exp = BIAS;
  K.hi = 0x80000000;
  K.lo = 0;
  nudge(K, -1, fcw, r);
}

/** r = c × a, exactly rounded (c a 64-bit constant, a finite). */
function mulConst(a: F80, ca: number, c: readonly [number, number, number], fcw: number, r: F80): void {
  K.sign = 0;
  K.exp = c[0];
  K.hi = c[1];
  K.lo = c[2];
  arith(OP_MUL, a, ca, K, CLS_NORMAL, fcw | 0x300, r);
  st.exc |= FSW_PE;
}

/**
 * One of FSIN, FCOS, FPTAN (the tangent), F2XM1 on a finite or special a: returns 1 (result in
 * r), 0 (unmasked exception: no change) or 2 (|a| ≥ 2^63: C2 = 1, no change).
 */
function unary(fn: number, a: F80, ca: number, fcw: number, r: F80): number {
  if (fn === FN_2XM1 && ca === CLS_INF) {
    // 2^+∞ − 1 = +∞, 2^−∞ − 1 = −1
    if (a.sign === 0) r.copy(a);
    else {
      r.sign = 1;
      r.exp = BIAS;
      r.hi = 0x80000000;
      r.lo = 0;
    }
    return 1;
  }
  const special = unarySpecial(a, ca, fcw, r);
  if (special >= 0) return special;
  if (ca === CLS_ZERO) {
    if (fn === FN_COS) {
      r.sign = 0;
      r.exp = BIAS;
      r.hi = 0x80000000;
      r.lo = 0;
    } else r.copy(a);
    return 1;
  }
  const k = a.exp - BIAS;
  if (fn !== FN_2XM1 && k >= 63) return 2;
  st.exc |= FSW_PE;
  if (k < -65 && fn === FN_2XM1) {
    mulConst(a, ca, LN2, fcw, r);
    return 1;
  }
  if (k < -33) {
    if (fn === FN_COS) nearOne(fcw, r);
    else if (fn === FN_SIN) nudge(a, -1, fcw, r);
    else if (fn === FN_TAN) nudge(a, 1, fcw, r);
    else {
      // 2^x − 1 = x·ln 2·(1 + x·ln2/2 + ...): double precision is plenty here.
      fromNumber(r, Math.expm1(toNumber(a) * Math.LN2));
    }
    return 1;
  }
  let y: number;
  if (fn === FN_2XM1) y = Math.expm1(toNumber(a) * Math.LN2);
  else {
    // x = ±(k·π66/2 + r): evaluate the function of r in the quadrant k mod 4.
    const v = reduce(a);
    const q = quadrant;
    const neg = a.sign !== 0 && fn !== FN_COS;
    if (fn === FN_TAN) y = (q & 1) === 0 ? Math.tan(v) : -1 / Math.tan(v);
    else {
      const k = fn === FN_COS ? (q + 1) & 3 : q; // cos(x) = sin(x + π/2)
      y = (k & 1) === 0 ? Math.sin(v) : Math.cos(v);
      if ((k & 2) !== 0) y = -y;
    }
    if (neg) y = -y;
  }
  if (fromNumber(r, y) === CLS_ZERO) r.sign = fn === FN_COS ? 0 : a.sign;
  return 1;
}

/** P1, the top 64 bits of π/2 (exponent 0); the hardware's π/2 is P1 + 3·2^-65 (66-bit π). */
const P1_HI = 0xc90fdaa2;
const P1_LO = 0x2168c234;
/** k mod 4 of the last reduce(). */
let quadrant = 0;

/**
 * Argument reduction as the hardware does it, exactly: r = |a| − k·π66/2 with π66 = π truncated
 * to 66 bits and k = round(|a| / P1) (0 < |a| < 2^63). Returns r as a double (relative error
 * 2^-53 whatever the cancellation) and sets `quadrant` = k mod 4.
 */
function reduce(a: F80): number {
  const d = a.exp - BIAS; // ≤ 62
  let rh = a.hi;
  let rl = a.lo;
  let kh = 0; // k in two 32-bit halves
  let kl = 0;
  let negative = false;
  if (d < -1 || (d === -1 && (rh < P1_HI || (rh === P1_HI && rl <= P1_LO)))) {
    quadrant = 0;
    K.copy(a);
    K.sign = 0;
    return toNumber(K);
  }
  const rem = divRem;
  if (d === -1) {
    // |a| in (P1/2, P1): k = 1, r1 = |a| − P1 = −(2·sig_P1 − sig_a)·2^-64
    divRemTwiceMinus(P1_HI, P1_LO, rh, rl);
    kl = 1;
    negative = true;
    K.exp = BIAS - 1;
  } else {
    // Restoring division of the significands over d + 1 quotient bits, k rounded to nearest.
    rem.hi = rh;
    rem.lo = rl;
    divRemQuotient(P1_HI, P1_LO, d);
    kh = rem.qHi;
    kl = rem.qLo;
    if (divRemRoundUp(P1_HI, P1_LO, (kl & 1) !== 0)) {
      negative = true;
      kl = (kl + 1) >>> 0;
      if (kl === 0) kh++;
    }
    K.exp = BIAS;
  }
  rh = rem.hi;
  rl = rem.lo;
  quadrant = kl & 3;
  // r1 = ±(rh, rl) at K.exp; t = 3k·2^-65; r = r1 − t (one rounding to 64 bits).
  K.sign = negative ? 1 : 0;
  K.hi = rh;
  K.lo = rl;
  const c1 = rh === 0 && rl === 0 ? CLS_ZERO : CLS_NORMAL;
  if (c1 !== CLS_ZERO) normalize(K, 0);
  let tl = kl * 3;
  let th = kh * 3 + Math.floor(tl / TWO32);
  tl %= TWO32;
  R2.sign = 0;
  R2.hi = th;
  R2.lo = tl;
  R2.exp = BIAS - 2;
  const c2 = th === 0 && tl === 0 ? CLS_ZERO : CLS_NORMAL;
  if (c2 !== CLS_ZERO) normalize(R2, 0);
  const savedExc = st.exc;
  const savedC1 = st.c1;
  arith(OP_SUB, K, c1, R2, c2, 0x37f, R3);
  st.exc = savedExc;
  st.c1 = savedC1;
  return R3.hi === 0 && R3.lo === 0 ? 0 : toNumber(R3);
}

/** FSIN (aux FN_SIN) / FCOS (FN_COS) / F2XM1 (FN_2XM1): ST(0) = f(ST(0)). */
export function transUnary(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  if (isEmpty(i32, 0)) {
    if (e.aux !== FN_2XM1) setCodes(i32, FSW_C2, 0);
    if (stackUnderflow(i32)) writeIndefinite(i32, 0);
    return;
  }
  const fcw = i32[I_FCW]!;
  const ca = loadSt(i32, 0, A);
  st.exc = 0;
  st.c1 = 0;
  const res = unary(e.aux, A, ca, fcw, R);
  raise(i32, st.exc);
  if (res === 2) {
    setCodes(i32, FSW_C2, FSW_C2);
    return;
  }
  // C2 reports the range check of FSIN/FCOS; F2XM1 leaves it alone.
  setCodes(i32, e.aux === FN_2XM1 ? FSW_C1 : FSW_C1 | FSW_C2, st.c1 !== 0 ? FSW_C1 : 0);
  if (res === 1) writeSt(i32, 0, R);
}

/** FSINCOS (aux FN_SIN: ST(0) = sin, push cos) / FPTAN (aux FN_TAN: ST(0) = tan, push 1). */
export function transPush(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  if (!replacePushChecked(i32)) {
    setCodes(i32, FSW_C2, 0);
    return;
  }
  const fcw = i32[I_FCW]!;
  const ca = loadSt(i32, 0, A);
  st.exc = 0;
  st.c1 = 0;
  const tan = e.aux === FN_TAN;
  const res = unary(tan ? FN_TAN : FN_SIN, A, ca, fcw, R);
  if (res === 2) {
    raise(i32, st.exc);
    setCodes(i32, FSW_C2, FSW_C2);
    return;
  }
  let second = 1;
  if (res === 1) {
    if (ca === CLS_QNAN || ca === CLS_SNAN || ca === CLS_UNSUPPORTED || ca === CLS_INF) R2.copy(R);
    else if (tan) {
      R2.sign = 0;
      R2.exp = BIAS;
      R2.hi = 0x80000000;
      R2.lo = 0;
    } else second = unary(FN_COS, A, ca, fcw, R2);
  }
  raise(i32, st.exc);
  setCodes(i32, FSW_C1 | FSW_C2, st.c1 !== 0 ? FSW_C1 : 0);
  if (res !== 1 || second !== 1) return;
  writeSt(i32, 0, R);
  push(i32);
  writeSt(i32, 0, R2);
}

const FN_ATAN = 0;
const FN_YL2X = 1;
const FN_YL2XP1 = 2;

/** NaN/unsupported/denormal checks of a binary function; returns 1 (r set), 0 (blocked), -1 (go on). */
function binarySpecial(y: F80, cy: number, x: F80, cx: number, fcw: number, r: F80): number {
  if (cy === CLS_UNSUPPORTED || cx === CLS_UNSUPPORTED) return invalid(fcw, r);
  if (cy === CLS_QNAN || cy === CLS_SNAN || cx === CLS_QNAN || cx === CLS_SNAN) {
    propagateNaN(y, cy, x, cx, r);
    return (st.exc & ~fcw & FSW_IE) !== 0 ? 0 : 1;
  }
  return -1;
}

function invalid(fcw: number, r: F80): number {
  st.exc |= FSW_IE;
  setIndefinite(r);
  return (fcw & FSW_IE) !== 0 ? 1 : 0;
}

function denormalCheck(cy: number, cx: number, fcw: number): boolean {
  if (cy === CLS_DENORMAL || cx === CLS_DENORMAL) {
    st.exc |= FSW_DE;
    if ((fcw & FSW_DE) === 0) return false;
  }
  return true;
}

function setSigned(r: F80, inf: boolean, sign: number): void {
  r.sign = sign;
  r.exp = inf ? 0x7fff : 0;
  r.hi = inf ? 0x80000000 : 0;
  r.lo = 0;
}

/** FPATAN: r = atan2(y, x). */
function atan2(y: F80, cy: number, x: F80, cx: number, fcw: number, r: F80): number {
  const special = binarySpecial(y, cy, x, cx, fcw, r);
  if (special >= 0) return special;
  if (!denormalCheck(cy, cx, fcw)) return 0;
  const s = y.sign;
  if (cy === CLS_ZERO || (cx === CLS_INF && cy !== CLS_INF)) {
    if (x.sign === 0) setSigned(r, false, s);
    else setConst(r, PI, s, fcw);
    return 1;
  }
  if (cy === CLS_INF) {
    if (cx === CLS_INF) setConst(r, x.sign === 0 ? PI_4 : PI3_4, s, fcw);
    else setConst(r, PI_2, s, fcw);
    return 1;
  }
  if (cx === CLS_ZERO) {
    setConst(r, PI_2, s, fcw);
    return 1;
  }
  // Both finite, non-zero: scale them alike (x's exponent to 0), then decide by y's size.
  st.exc |= FSW_PE;
  const ky = y.exp - x.exp;
  if (ky > 1100) {
    setConst(r, PI_2, s, fcw);
    return 1;
  }
  if (ky < -70) {
    if (x.sign !== 0) setConst(r, PI, s, fcw);
    else {
      // atan(y/x) = y/x·(1 − δ): the quotient at exponent 0, rescaled, nudged, rounded once.
      K.copy(y);
      K.exp = BIAS;
      K2.copy(x);
      K2.exp = BIAS;
      arith(OP_DIV, K, CLS_NORMAL, K2, CLS_NORMAL, 0x37f, R3);
      R3.exp += ky;
      nudge(R3, -1, fcw, r);
    }
    return 1;
  }
  K.copy(x);
  K.exp = BIAS;
  const xv = toNumber(K);
  K.copy(y);
  K.exp = BIAS + ky;
  fromNumber(r, Math.atan2(toNumber(K), xv));
  return 1;
}

/** log2 of a finite positive x, as a double, keeping relative precision near 1. */
function log2(x: F80, cx: number): number {
  const k = x.exp - BIAS;
  if (k === 0 || k === -1) {
    // x in [0.5, 2): x − 1 is exact (Sterbenz)
    K.sign = 0;
    K.exp = BIAS;
    K.hi = 0x80000000;
    K.lo = 0;
    arith(OP_SUB, x, cx, K, CLS_NORMAL, 0x37f, R2);
    return R2.hi === 0 && R2.lo === 0 ? 0 : Math.log1p(toNumber(R2)) / Math.LN2;
  }
  K.copy(x);
  K.exp = BIAS;
  return k + Math.log1p(toNumber(K) - 1) / Math.LN2;
}

/** FYL2X (p1 = false): r = y·log2(x); FYL2XP1: r = y·log2(x + 1). */
function ylog(y: F80, cy: number, x: F80, cx: number, p1: boolean, fcw: number, r: F80): number {
  const special = binarySpecial(y, cy, x, cx, fcw, r);
  if (special >= 0) return special;
  // The sign of log2(x) (or of log2(x + 1)): -1, 0 (x = 1, or x = ±0 for the P1 form), +1.
  let logSign: number;
  if (p1) {
    if (cx === CLS_ZERO) logSign = 0;
    else if (x.sign !== 0 && (x.exp > BIAS || (x.exp === BIAS && (x.hi !== 0x80000000 || x.lo !== 0)))) return invalid(fcw, r);
    else logSign = x.sign !== 0 ? -1 : 1;
  } else {
    if (x.sign !== 0 && cx !== CLS_ZERO) return invalid(fcw, r);
    if (cx === CLS_ZERO) logSign = -2; // log2(0) = −∞
    else if (cx === CLS_INF) logSign = 2; // log2(∞) = +∞
    else if (x.exp === BIAS && x.hi === 0x80000000 && x.lo === 0) logSign = 0;
    else logSign = x.exp >= BIAS ? 1 : -1;
  }
  const logInf = logSign === 2 || logSign === -2 || (p1 && cx === CLS_INF);
  // 0 × ∞ in either order is invalid.
  if ((cy === CLS_ZERO && logInf) || (cy === CLS_INF && logSign === 0)) return invalid(fcw, r);
  const sign = y.sign ^ (logSign < 0 ? 1 : 0);
  if (logSign === -2 && cy !== CLS_INF) {
    // y·log2(±0): zero divide, which takes precedence over DE (checked on the host).
    st.exc |= FSW_ZE;
    if ((fcw & FSW_ZE) === 0) return 0;
    setSigned(r, true, sign);
    return 1;
  }
  if (!denormalCheck(cy, cx, fcw)) return 0;
  if (logInf) {
    setSigned(r, true, sign);
    return 1;
  }
  if (cy === CLS_INF || cy === CLS_ZERO || logSign === 0) {
    setSigned(r, cy === CLS_INF, logSign === 0 ? y.sign ^ (p1 ? x.sign : 0) : sign);
    return 1;
  }
  st.exc |= FSW_PE;
  if (p1 && x.exp - BIAS < -65) {
    // log2(1 + x) = x·log2 e·(1 − x/2 + ...): x·log2 e at exponent 0, rescaled (no range limits
    // for the intermediate), then one rounding of the product.
    K2.copy(x);
    K2.exp = BIAS;
    mulConst(K2, CLS_NORMAL, LOG2E, 0x37f, R2);
    R2.exp += x.exp - BIAS;
    arith(OP_MUL, y, cy, R2, CLS_NORMAL, fcw | 0x300, r);
  } else {
    const l = p1 ? Math.log1p(toNumber(x)) / Math.LN2 : log2(x, cx);
    const cl = fromNumber(R2, l);
    arith(OP_MUL, y, cy, R2, cl, fcw | 0x300, r);
  }
  // The product stands for an inexact value: a tiny result underflows even when it came out exact.
  st.exc |= FSW_PE | ((r.hi & 0x80000000) === 0 && (fcw & FSW_UE) !== 0 ? FSW_UE : 0);
  return (st.exc & ~fcw & (FSW_IE | FSW_DE | FSW_ZE)) !== 0 ? 0 : 1;
}

/** FPATAN (aux FN_ATAN) / FYL2X / FYL2XP1: ST(1) = f(ST(1), ST(0)), pop. */
export function transBinary(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  if (isEmpty(i32, 0) || isEmpty(i32, 1)) {
    if (stackUnderflow(i32)) {
      writeIndefinite(i32, 1);
      pop(i32);
    }
    return;
  }
  const fcw = i32[I_FCW]!;
  const cx = loadSt(i32, 0, A);
  const cy = loadSt(i32, 1, B);
  st.exc = 0;
  st.c1 = 0;
  const res = e.aux === FN_ATAN ? atan2(B, cy, A, cx, fcw, R) : ylog(B, cy, A, cx, e.aux === FN_YL2XP1, fcw, R);
  raise(i32, st.exc);
  setCodes(i32, FSW_C1, st.c1 !== 0 ? FSW_C1 : 0);
  if (res !== 1) return;
  writeSt(i32, 1, R);
  pop(i32);
}

export const TRANS_AUX = { sin: FN_SIN, cos: FN_COS, tan: FN_TAN, f2xm1: FN_2XM1, atan: FN_ATAN, yl2x: FN_YL2X, yl2xp1: FN_YL2XP1 };

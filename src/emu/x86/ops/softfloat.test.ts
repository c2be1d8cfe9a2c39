import { describe, expect, it } from 'vitest';
import { Rng } from '../testing/differential.ts';
import { MXCSR_DE, MXCSR_IE, MXCSR_OE, MXCSR_PE, MXCSR_UE, MXCSR_ZE, fp, fpBegin } from './softfloat.ts';
import { add32, add64, div32, div64, mul32, mul64, sqrt32, sqrt64 } from './softfloat-arith.ts';
import { cvt64to32, f64ToInt, int64ToFloat, rcp32, rsqrt32 } from './softfloat-cvt.ts';

// The soft-float core against an independent reference: exact rational arithmetic in BigInt,
// rounded by the IEEE rules (tininess after rounding, as x86 does) in every mode, with and
// without FTZ and DAZ. The host CPU is the other reference (sse-float.diff.test.ts).

interface Fmt { p: number; emin: number; emax: number; bits: number }
const F32: Fmt = { p: 24, emin: -126, emax: 127, bits: 32 };
const F64: Fmt = { p: 53, emin: -1022, emax: 1023, bits: 64 };

/** An exactly known positive real: floor(x / 2^u) with how x compares to its halfway point. */
interface Real {
  /** floor(log2 x). */
  exp(): number;
  /** K = floor(x / 2^u); half: sign of x - (K + 1/2) 2^u; exact: x == K 2^u. */
  at(u: number): { K: bigint; half: number; exact: boolean };
}

const pow2 = (n: number) => 1n << BigInt(n);
const bitlen = (x: bigint) => x.toString(2).length;

/** n / d, scaled: x / 2^u = n * 2^-u / d. */
function rational(n: bigint, d: bigint): Real {
  const scaled = (u: number): [bigint, bigint] => (u <= 0 ? [n * pow2(-u), d] : [n, d * pow2(u)]);
  return {
    exp() {
      let e = bitlen(n) - bitlen(d);
      const [a, b] = scaled(e);
      if (a < b) e -= 1;
      return e;
    },
    at(u) {
      const [a, b] = scaled(u);
      const K = a / b;
      const r2 = 2n * (a - K * b);
      return { K, half: r2 > b ? 1 : r2 < b ? -1 : 0, exact: r2 === 0n };
    },
  };
}

function isqrt(v: bigint): bigint {
  if (v < 2n) return v;
  let x = pow2(Math.ceil(bitlen(v) / 2));
  for (;;) {
    const y = (x + v / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** sqrt(n / d). */
function squareRoot(n: bigint, d: bigint): Real {
  const r = rational(n, d);
  return {
    exp: () => Math.floor(r.exp() / 2),
    at(u) {
      // x / 2^u = sqrt(n / (d 4^u)).
      const [a, b] = u <= 0 ? [n * pow2(-2 * u), d] : [n, d * pow2(2 * u)];
      const K = isqrt(a / b);
      const lhs = 4n * a; // compare x with (K + 1/2) 2^u: 4a vs (2K+1)^2 b
      const rhs = (2n * K + 1n) ** 2n * b;
      return { K, half: lhs > rhs ? 1 : lhs < rhs ? -1 : 0, exact: K * K * b === a };
    },
  };
}

/** The reference: rounds +-x to the format (all exceptions masked). */
function reference(neg: boolean, x: Real, f: Fmt, rc: number, ftz: boolean): { bits: bigint; flags: number } {
  const away = rc === 2 ? !neg : rc === 1 ? neg : false;
  const round = (u: number) => {
    const { K, half, exact } = x.at(u);
    const up = rc === 0 ? half > 0 || (half === 0 && (K & 1n) === 1n) : !exact && away;
    return { K: up ? K + 1n : K, exact };
  };
  const sign = neg ? pow2(f.bits - 1) : 0n;
  const bias = f.emax;
  const fracBits = f.p - 1;
  const e = x.exp();
  // Unbounded exponent first: overflow and tininess are decided on it.
  let { K, exact } = round(e - fracBits);
  let e0 = e;
  if (K === pow2(f.p)) e0 += 1;
  if (e0 > f.emax) {
    const inf = rc === 0 || away;
    const mag = inf ? (pow2(f.bits - 1 - fracBits) - 1n) << BigInt(fracBits) : ((pow2(f.bits - 1 - fracBits) - 1n) << BigInt(fracBits)) - 1n;
    return { bits: sign | mag, flags: MXCSR_OE | MXCSR_PE };
  }
  if (e0 >= f.emin) {
    const k = K === pow2(f.p) ? pow2(f.p - 1) : K;
    return { bits: sign | (BigInt(e0 + bias) << BigInt(fracBits)) | (k - pow2(fracBits)), flags: exact ? 0 : MXCSR_PE };
  }
  ({ K, exact } = round(f.emin - fracBits));
  if (ftz) return { bits: sign, flags: MXCSR_UE | MXCSR_PE };
  return { bits: sign | K, flags: exact ? 0 : MXCSR_UE | MXCSR_PE };
}

/** Exact value of finite nonzero bits as (negative, n, d). */
function valueOf(bits: bigint, f: Fmt): { neg: boolean; n: bigint; d: bigint } {
  const fracBits = BigInt(f.p - 1);
  const neg = (bits >> BigInt(f.bits - 1)) !== 0n;
  const ex = Number((bits >> fracBits) & (pow2(f.bits - f.p) - 1n));
  const frac = bits & (pow2(f.p - 1) - 1n);
  const m = ex === 0 ? frac : frac | pow2(f.p - 1);
  const e = (ex === 0 ? 1 : ex) - f.emax - (f.p - 1);
  return e >= 0 ? { neg, n: m * pow2(e), d: 1n } : { neg, n: m, d: pow2(-e) };
}

const isFiniteNonzero = (bits: bigint, f: Fmt) => {
  const mag = bits & (pow2(f.bits - 1) - 1n);
  return mag !== 0n && mag < ((pow2(f.bits - f.p) - 1n) << BigInt(f.p - 1));
};
const isDenormal = (bits: bigint, f: Fmt) => {
  const mag = bits & (pow2(f.bits - 1) - 1n);
  return mag !== 0n && mag < pow2(f.p - 1);
};

/** Edge-biased random finite operands. */
function operand(rng: Rng, f: Fmt): bigint {
  const frac = () => (f.bits === 32 ? BigInt(rng.u32() & 0x7fffff) : (BigInt(rng.u32() & 0xfffff) << 32n) | BigInt(rng.u32()));
  const expMax = 2 ** (f.bits - f.p) - 2;
  const sign = BigInt(rng.below(2)) << BigInt(f.bits - 1);
  let ex: number;
  switch (rng.below(5)) {
    case 0: ex = rng.below(expMax + 1); break;
    case 1: ex = rng.below(3); break; // denormals and the smallest normals
    case 2: ex = expMax - rng.below(3); break;
    default: ex = f.emax - 8 + rng.below(16);
  }
  let m = frac();
  if (rng.below(4) === 0) m = rng.below(2) ? pow2(f.p - 1) - 1n - BigInt(rng.below(3)) : BigInt(rng.below(3));
  return sign | (BigInt(ex) << BigInt(f.p - 1)) | m;
}

type Op = 'add' | 'sub' | 'mul' | 'div' | 'sqrt';

function run(op: Op, f: Fmt, a: bigint, b: bigint): { bits: bigint; flags: number } {
  const lo = (v: bigint) => Number(v & 0xffffffffn) | 0;
  const hi = (v: bigint) => Number(v >> 32n) | 0;
  if (f === F32) {
    const x = lo(a);
    const y = lo(b);
    if (op === 'add' || op === 'sub') add32(x, y, op === 'sub');
    else if (op === 'mul') mul32(x, y);
    else if (op === 'div') div32(x, y);
    else sqrt32(y);
    return { bits: BigInt(fp.lo >>> 0), flags: fp.flags };
  }
  if (op === 'add' || op === 'sub') add64(lo(a), hi(a), lo(b), hi(b), op === 'sub');
  else if (op === 'mul') mul64(lo(a), hi(a), lo(b), hi(b));
  else if (op === 'div') div64(lo(a), hi(a), lo(b), hi(b));
  else sqrt64(lo(b), hi(b));
  return { bits: (BigInt(fp.hi >>> 0) << 32n) | BigInt(fp.lo >>> 0), flags: fp.flags };
}

/** The expected result of a op b, or undefined when it is zero (covered elsewhere). */
function expected(op: Op, f: Fmt, a: bigint, b: bigint, rc: number, ftz: boolean): { bits: bigint; flags: number } | undefined {
  const A = valueOf(a, f);
  const B = valueOf(b, f);
  let neg: boolean;
  let x: Real;
  if (op === 'add' || op === 'sub') {
    const bn = op === 'sub' ? !B.neg : B.neg;
    const d = A.d > B.d ? A.d : B.d;
    const n = (A.neg ? -1n : 1n) * A.n * (d / A.d) + (bn ? -1n : 1n) * B.n * (d / B.d);
    if (n === 0n) return undefined;
    neg = n < 0n;
    x = rational(neg ? -n : n, d);
  } else if (op === 'mul') {
    neg = A.neg !== B.neg;
    x = rational(A.n * B.n, A.d * B.d);
  } else if (op === 'div') {
    neg = A.neg !== B.neg;
    x = rational(A.n * B.d, A.d * B.n);
  } else {
    if (B.neg) return undefined;
    neg = false;
    x = squareRoot(B.n, B.d);
  }
  return reference(neg, x, f, rc, ftz);
}

describe('soft-float arithmetic is correctly rounded in every mode', () => {
  for (const f of [F32, F64]) {
    for (const op of ['add', 'sub', 'mul', 'div', 'sqrt'] as const) {
      it(`${op} binary${f.bits}`, () => {
        const rng = new Rng(f.bits * 31 + op.length * 7 + op.charCodeAt(0));
        let checked = 0;
        for (let i = 0; i < 4000; i++) {
          const a = operand(rng, f);
          const b = op === 'add' || op === 'sub' ? (rng.below(3) === 0 ? a ^ BigInt(rng.below(4)) : operand(rng, f)) : operand(rng, f);
          const rc = rng.below(4);
          const ftz = rng.below(4) === 0;
          const daz = rng.below(8) === 0;
          if (!isFiniteNonzero(a, f) || !isFiniteNonzero(b, f) || (daz && (isDenormal(a, f) || isDenormal(b, f)))) continue;
          const want = expected(op, f, a, b, rc, ftz);
          if (!want) continue;
          const den = op === 'sqrt' ? isDenormal(b, f) : isDenormal(a, f) || isDenormal(b, f);
          fpBegin(0x1f80 | (rc << 13) | (ftz ? 0x8000 : 0) | (daz ? 0x40 : 0));
          const got = run(op, f, a, b);
          const wantFlags = want.flags | (den ? MXCSR_DE : 0);
          if (got.bits !== want.bits || got.flags !== wantFlags) {
            expect(`${op} ${a.toString(16)} ${b.toString(16)} rc=${rc} ftz=${ftz}: ${got.bits.toString(16)} flags ${got.flags}`)
              .toBe(`${op} ${a.toString(16)} ${b.toString(16)} rc=${rc} ftz=${ftz}: ${want.bits.toString(16)} flags ${wantFlags}`);
          }
          checked++;
        }
        expect(checked).toBeGreaterThan(op === 'sqrt' ? 1500 : 2000);
      });
    }
  }
});

describe('soft-float special cases', () => {
  const f32 = (x: number) => x | 0;
  const flagsOf = (mxcsr: number, fn: () => void) => {
    fpBegin(mxcsr);
    fn();
    return { lo: fp.lo >>> 0, flags: fp.flags };
  };

  it('detects tininess after rounding (host: AMD Zen 4)', () => {
    // (1 - 2^-23)(1 + 2^-23) 2^-126 = (1 - 2^-46) 2^-126 rounds to 2^-126: not tiny in RN.
    expect(flagsOf(0x1f80, () => mul32(0x3f7ffffe, 0x00800001))).toEqual({ lo: 0x00800000, flags: MXCSR_PE });
    expect(flagsOf(0x9f80, () => mul32(0x3f7ffffe, 0x00800001))).toEqual({ lo: 0x00800000, flags: MXCSR_PE });
    expect(flagsOf(0x7f80, () => mul32(0x3f7ffffe, 0x00800001))).toEqual({ lo: 0x007fffff, flags: MXCSR_UE | MXCSR_PE });
    // Exact tiny results: no flag when masked, UE alone when unmasked, zero with UE PE under FTZ.
    expect(flagsOf(0x1f80, () => mul32(0x3f000000, 0x00800000))).toEqual({ lo: 0x00400000, flags: 0 });
    expect(flagsOf(0x1780, () => mul32(0x3f000000, 0x00800000)).flags).toBe(MXCSR_UE);
    expect(flagsOf(0x9f80, () => mul32(0x3f000000, 0x00800000))).toEqual({ lo: 0, flags: MXCSR_UE | MXCSR_PE });
    // Unmasked underflow: PE only if the scaled (unbounded-exponent) result is inexact.
    expect(flagsOf(0x1780, () => mul32(0x00400001, 0x3f000000)).flags).toBe(MXCSR_DE | MXCSR_UE);
  });

  it('detects overflow after rounding in the current mode', () => {
    // MAX + half an ulp: RN overflows, RZ and RD stay at MAX (inexact), RU overflows.
    expect(flagsOf(0x1f80, () => add32(0x7f7fffff, 0x73000000, false))).toEqual({ lo: 0x7f800000, flags: MXCSR_OE | MXCSR_PE });
    expect(flagsOf(0x7f80, () => add32(0x7f7fffff, 0x73000000, false))).toEqual({ lo: 0x7f7fffff, flags: MXCSR_PE });
    expect(flagsOf(0x3f80, () => add32(0x7f7fffff, 0x73000000, false))).toEqual({ lo: 0x7f7fffff, flags: MXCSR_PE });
    expect(flagsOf(0x5f80, () => add32(0x7f7fffff, 0x73000000, false))).toEqual({ lo: 0x7f800000, flags: MXCSR_OE | MXCSR_PE });
    // Unmasked: PE reports the scaled result's exactness (MAX + MAX is exact at 24 bits).
    expect(flagsOf(0x1b80, () => add32(0x7f7fffff, 0x7f7fffff, false)).flags).toBe(MXCSR_OE);
    expect(flagsOf(0x1b80, () => mul32(0x7f7fffff, 0x7f7fffff)).flags).toBe(MXCSR_OE | MXCSR_PE);
    // The binary64 sum that overflows in RN but not in RZ.
    fpBegin(0x7f80);
    add64(-1, 0x7fefffff, 0, 0x7c900000, false);
    expect([fp.lo, fp.hi >>> 0, fp.flags]).toEqual([-1, 0x7fefffff, MXCSR_PE]);
  });

  it('propagates NaNs: the first source, quieted; invalid operations give the default NaN', () => {
    expect(flagsOf(0x1f80, () => add32(0x7fa00000, 0x7fc00001, false))).toEqual({ lo: 0x7fe00000, flags: MXCSR_IE });
    expect(flagsOf(0x1f80, () => add32(0x3f800000, 0xffa00001, false))).toEqual({ lo: 0xffe00001, flags: MXCSR_IE });
    expect(flagsOf(0x1f80, () => add32(0x7fc00000, 0x00000001, false))).toEqual({ lo: 0x7fc00000, flags: 0 });
    expect(flagsOf(0x1f80, () => mul32(0x7f800000, f32(0x80000000)))).toEqual({ lo: 0xffc00000, flags: MXCSR_IE });
    expect(flagsOf(0x1f80, () => sqrt32(f32(0x80000001)))).toEqual({ lo: 0xffc00000, flags: MXCSR_IE });
    expect(flagsOf(0x1f80, () => div32(0x00000001, 0))).toEqual({ lo: 0x7f800000, flags: MXCSR_ZE });
    expect(flagsOf(0x1f80, () => div32(0x3f800000, 0x00000001))).toEqual({ lo: 0x7f800000, flags: MXCSR_DE | MXCSR_OE | MXCSR_PE });
    expect(flagsOf(0x1f80, () => add32(0x00000001, 0x7f800000, false))).toEqual({ lo: 0x7f800000, flags: MXCSR_DE });
  });

  it('signs exact zero sums by the rounding mode', () => {
    expect(flagsOf(0x1f80, () => add32(0x3f800000, 0x3f800000 | 0x80000000, false)).lo).toBe(0);
    expect(flagsOf(0x3f80, () => add32(0x3f800000, 0x3f800000 | 0x80000000, false)).lo).toBe(0x80000000);
    expect(flagsOf(0x1f80, () => add32(f32(0x80000000), f32(0x80000000), false)).lo).toBe(0x80000000);
    expect(flagsOf(0x1fc0, () => add32(f32(0x80000001), 0, false)).lo).toBe(0); // DAZ: -0 + +0
  });

  it('converts binary64 to binary32 and integers to floating point', () => {
    expect(flagsOf(0x1f80, () => cvt64to32(1, 0))).toEqual({ lo: 0, flags: MXCSR_DE | MXCSR_UE | MXCSR_PE });
    expect(flagsOf(0x5f80, () => cvt64to32(1, 0))).toEqual({ lo: 1, flags: MXCSR_DE | MXCSR_UE | MXCSR_PE });
    expect(flagsOf(0x1fc0, () => cvt64to32(1, 0))).toEqual({ lo: 0, flags: 0 });
    expect(flagsOf(0x1f80, () => cvt64to32(1, 0x7ff40000))).toEqual({ lo: 0x7fe00000, flags: MXCSR_IE });
    // 2^63 - 1 to binary32: 2^63 in RN and RU, the largest float below in RZ/RD.
    expect(flagsOf(0x1f80, () => int64ToFloat(-1, 0x7fffffff, false))).toEqual({ lo: 0x5f000000, flags: MXCSR_PE });
    expect(flagsOf(0x7f80, () => int64ToFloat(-1, 0x7fffffff, false))).toEqual({ lo: 0x5effffff, flags: MXCSR_PE });
    expect(flagsOf(0x1f80, () => int64ToFloat(0, 0x80000000 | 0, false))).toEqual({ lo: 0xdf000000, flags: 0 });
  });

  it('converts to integers with the integer indefinite for NaN and overflow', () => {
    const cvt = (lo: number, hi: number, rc: number, is64: boolean) => {
      fpBegin(0x1f80);
      f64ToInt(lo, hi, rc, is64);
      return [fp.lo >>> 0, is64 ? fp.hi >>> 0 : 0, fp.flags];
    };
    expect(cvt(0, 0x41e00000, 0, false)).toEqual([0x80000000, 0, MXCSR_IE]); // 2^31
    expect(cvt(0x100000, 0xc1e00000 | 0, 3, false)).toEqual([0x80000000, 0, MXCSR_PE]); // -2^31 - 0.5 truncated
    expect(cvt(0x100000, 0xc1e00000 | 0, 0, false)).toEqual([0x80000000, 0, MXCSR_PE]); // -2^31 - 0.5: tie to even
    expect(cvt(0x100000, 0xc1e00000 | 0, 1, false)).toEqual([0x80000000, 0, MXCSR_IE]); // ... rounded down
    expect(cvt(0x200000, 0xc1e00000 | 0, 3, false)).toEqual([0x80000000, 0, MXCSR_IE]); // -2^31 - 1
    expect(cvt(0, 0x43e00000, 0, true)).toEqual([0, 0x80000000, MXCSR_IE]); // 2^63
    expect(cvt(-1, 0x43dfffff, 0, true)).toEqual([0xfffffc00, 0x7fffffff, 0]);
    expect(cvt(0, 0x3ff80000, 0, true)).toEqual([2, 0, MXCSR_PE]); // 1.5 -> 2
    expect(cvt(0, 0x40040000, 0, true)).toEqual([2, 0, MXCSR_PE]); // 2.5 -> 2
    expect(cvt(0, 0xc0040000 | 0, 1, true)).toEqual([0xfffffffd, 0xffffffff, MXCSR_PE]); // -2.5 down -> -3
    expect(cvt(0, 0x7ff80000, 0, true)).toEqual([0, 0x80000000, MXCSR_IE]);
  });

  it('RCP and RSQRT stay within the documented error and follow the host on special inputs', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 20000; i++) {
      const b = ((rng.below(2) << 31) | ((1 + rng.below(252)) << 23) | (rng.u32() & 0x7fffff));
      fpBegin(0x1f80);
      rcp32(b);
      const x = new Float32Array(new Int32Array([b]).buffer)[0]!;
      const r = new Float32Array(new Int32Array([fp.lo]).buffer)[0]!;
      expect(Math.abs(r * x - 1)).toBeLessThanOrEqual(1.5 * 2 ** -12);
      if (b > 0) {
        rsqrt32(b);
        const s = new Float32Array(new Int32Array([fp.lo]).buffer)[0]!;
        expect(Math.abs(s * Math.sqrt(x) - 1)).toBeLessThanOrEqual(1.5 * 2 ** -12);
      }
      expect(fp.flags).toBe(0);
    }
    const rcp = (b: number) => (rcp32(b), fp.lo >>> 0);
    const rsq = (b: number) => (rsqrt32(b), fp.lo >>> 0);
    expect([rcp(0x00000001), rcp(0x7e800000), rcp(0x7e7fffff), rcp(0xff800000 | 0), rcp(0x7fa00001)])
      .toEqual([0x7f800000, 0, 0x00800001, 0x80000000, 0x7fe00001]);
    expect([rsq(0x80000001 | 0), rsq(0xbf800000 | 0), rsq(0x7f800000)]).toEqual([0xff800000, 0xffc00000, 0]);
  });
});

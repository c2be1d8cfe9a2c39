import { describe, expect, it } from 'vitest';
import { Rng } from '../testing/differential.ts';
import * as ref from '../testing/float80-reference.ts';
import { UserMachine } from '../testing/user64.ts';
import { NATIVE_DATA_ADDR, x87Init } from '../../testing/native.ts';
import {
  CLS_DENORMAL, CLS_INF, CLS_NORMAL, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED, CLS_ZERO, EXT_EMAX, EXT_EMIN, F80, FSW_IE,
  FSW_OE, FSW_PE, FSW_UE, fpStatus, fromNumber, packBcd, packFloat, packInt, roundPack, toNumber, unpack, unpackBcd,
  unpackDouble, unpackInt, unpackSingle,
} from './float80.ts';

// The 80-bit format core against a BigInt reference model (testing/float80-reference.ts), and
// FLD m80 / FSTP m80 through the interpreter for every class of bit pattern.

const J = 1n << 63n;
const x = new F80();
const img = (v: F80): [number, bigint] => [v.se(), (BigInt(v.hi) << 32n) | BigInt(v.lo)];
const load = (se: number, sig: bigint) => unpack(x, se, Number(sig >> 32n), Number(sig & 0xffffffffn));
const u64 = (rng: Rng) => (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
const ALL_MASKED = 0x37f;

/** Random finite non-zero 80-bit images: normals over the whole range, denormals, short significands. */
function randomFinite(rng: Rng): [number, bigint] {
  const sign = rng.below(2) << 15;
  switch (rng.below(4)) {
    case 0: return [sign | (1 + rng.below(0x7ffe)), J | u64(rng)];
    case 1: return [sign, (u64(rng) >> BigInt(rng.below(64))) | 1n];
    case 2: return [sign | (rng.below(2) ? 1 + rng.below(80) : 0x7ffe - rng.below(80)), J | u64(rng)];
    default: return [sign | (16383 - 1100 + rng.below(2200)), J | (u64(rng) & ~((1n << BigInt(rng.below(64))) - 1n))];
  }
}

describe('80-bit classes', () => {
  it('unpack classifies every encoding as the SDM (Vol. 1, Table 8-3) and the host do', () => {
    const cases: [number, bigint, number][] = [
      [0x0000, 0n, CLS_ZERO], [0x8000, 0n, CLS_ZERO],
      [0x0000, 1n, CLS_DENORMAL], [0x8000, J - 1n, CLS_DENORMAL],
      [0x0000, J, CLS_DENORMAL], [0x0000, J | 5n, CLS_DENORMAL], // pseudo-denormals
      [0x0001, J, CLS_NORMAL], [0x3fff, J, CLS_NORMAL], [0xfffe, ~0n & ((1n << 64n) - 1n), CLS_NORMAL],
      [0x7fff, J, CLS_INF], [0xffff, J, CLS_INF],
      [0x7fff, J | (1n << 62n), CLS_QNAN], [0xffff, J | (1n << 62n) | 1n, CLS_QNAN],
      [0x7fff, J | 1n, CLS_SNAN], [0x7fff, J | (1n << 61n), CLS_SNAN],
      [0x3fff, J - 1n, CLS_UNSUPPORTED], [0x0001, 0n, CLS_UNSUPPORTED], // unnormals
      [0x7fff, 0n, CLS_UNSUPPORTED], [0x7fff, 1n << 62n, CLS_UNSUPPORTED], [0x7fff, 1n, CLS_UNSUPPORTED], // pseudo-∞/NaN
    ];
    for (const [se, sig, cls] of cases) expect([se.toString(16), sig.toString(16), load(se, sig)]).toEqual([se.toString(16), sig.toString(16), cls]);
  });

  it('unpack normalises denormals and pseudo-denormals to their exact value', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 500; i++) {
      const [se, sig] = [rng.below(2) << 15, u64(rng) >> BigInt(rng.below(64))];
      if (sig === 0n) continue;
      load(se, sig);
      const e = ref.exactOf(se, sig);
      // x = (hi·2^32 + lo)·2^(exp − 16383 − 63), normalised
      expect(x.hi >>> 31).toBe(1);
      const m = (BigInt(x.hi) << 32n) | BigInt(x.lo);
      const shift = x.exp - 16383 - 63 - e.e;
      expect(shift <= 0 ? m : m << BigInt(shift)).toBe(shift <= 0 ? e.m << BigInt(-shift) : e.m);
    }
  });

  it('roundPack to the register format is the identity on every finite value', () => {
    const rng = new Rng(12);
    for (let i = 0; i < 2000; i++) {
      const [se, sig] = randomFinite(rng);
      load(se, sig);
      fpStatus.exc = 0;
      roundPack(x, 0, 64, ref.RN, EXT_EMIN, EXT_EMAX, ALL_MASKED, true);
      const exp = se & 0x7fff;
      // Canonical form: a pseudo-denormal becomes the normal with exponent 1.
      const want: [number, bigint] = exp === 0 && sig >= J ? [(se & 0x8000) | 1, sig] : [se, sig];
      expect(img(x)).toEqual(want);
      expect(fpStatus.exc).toBe(0);
    }
  });
});

describe('precision control and rounding (roundPack)', () => {
  it('matches the reference for 24/53/64-bit precision, every rounding mode, at the range edges', () => {
    const rng = new Rng(13);
    for (let i = 0; i < 4000; i++) {
      // A value with 96 significant bits (guard bits and a sticky word below the 64-bit significand).
      const [se, sig] = randomFinite(rng);
      const extra = BigInt(rng.u32() >>> rng.below(33)) & 0xffffffffn;
      const e0 = ref.exactOf(se, sig);
      const exact: ref.Exact = { sign: e0.sign, m: (e0.m << 32n) | extra, e: e0.e - 32 };
      if (exact.m === 0n) continue;
      // roundPack wants a normalised significand: unpack, then shift the extension in.
      load(se, sig);
      const lz = 64 - ((BigInt(x.hi) << 32n) | BigInt(x.lo)).toString(2).length; // 0 after unpack
      expect(lz).toBe(0);
      const shift = x.exp - 16383 - 63 - e0.e; // ≤ 0: how far unpack shifted a denormal left
      let full = (((BigInt(x.hi) << 32n) | BigInt(x.lo)) << 32n) | (extra << BigInt(-shift));
      const ext = Number(full & 0xffffffffn);
      full >>= 32n;
      x.hi = Number(full >> 32n);
      x.lo = Number(full & 0xffffffffn);
      const prec = [24, 53, 64][rng.below(3)]!;
      const rc = rng.below(4);
      fpStatus.exc = 0;
      roundPack(x, ext, prec, rc, EXT_EMIN, EXT_EMAX, ALL_MASKED, true);
      const r = ref.round(exact, prec, rc, -16382, 16383);
      expect({ img: img(x), exc: fpStatus.exc, c1: fpStatus.c1 }).toEqual({ img: ref.toF80(r), exc: r.exc, c1: r.c1 });
    }
  });

  it('detects tininess after rounding (as the host does)', () => {
    // 2^-16382·(1 − 2^-126): rounds to the smallest normal, so no underflow; PE and C1.
    load(0x0000, J - 1n);
    x.hi = 0xffffffff;
    x.lo = 0xffffffff;
    x.exp = 0;
    fpStatus.exc = 0;
    roundPack(x, 0xfffffffe, 64, ref.RN, EXT_EMIN, EXT_EMAX, ALL_MASKED, true);
    expect(img(x)).toEqual([0x0001, J]);
    expect(fpStatus.exc).toBe(FSW_PE);
    expect(fpStatus.c1).toBe(1);
  });

  it('unmasked overflow and underflow wrap the exponent by 24576 for a register, store nothing for memory', () => {
    load(0x7ffe, J);
    x.exp += 10;
    fpStatus.exc = 0;
    expect(roundPack(x, 0, 64, ref.RN, EXT_EMIN, EXT_EMAX, ALL_MASKED & ~FSW_OE, true)).toBe(true);
    expect(img(x)).toEqual([0x7ffe + 10 - 0x6000, J]);
    expect(fpStatus.exc).toBe(FSW_OE);
    load(0x0001, J | 1n);
    x.exp -= 100;
    fpStatus.exc = 0;
    expect(roundPack(x, 0, 64, ref.RN, EXT_EMIN, EXT_EMAX, ALL_MASKED & ~FSW_UE, true)).toBe(true);
    expect(img(x)).toEqual([1 - 100 + 0x6000, J | 1n]);
    expect(fpStatus.exc).toBe(FSW_UE);
    load(0x7ffe, J);
    fpStatus.exc = 0;
    expect(packFloat(x, CLS_NORMAL, ref.RN, 64, ALL_MASKED & ~FSW_OE)).toBe(false);
    expect(fpStatus.exc).toBe(FSW_OE);
  });
});

describe('double and single precision', () => {
  const dv = new DataView(new ArrayBuffer(8));
  const doubleBits = (v: number) => {
    dv.setFloat64(0, v, true);
    return [dv.getInt32(0, true), dv.getInt32(4, true)] as const;
  };

  it('a double widens exactly and narrows back to the same bits (every class; SNaN quieted with IE)', () => {
    const rng = new Rng(14);
    const specials = [0, -0, 5e-324, -2.2250738585072009e-308, 2.2250738585072014e-308, 1.7976931348623157e308, Infinity, -Infinity, NaN, 1, -1.5];
    for (let i = 0; i < 3000; i++) {
      let lo: number;
      let hi: number;
      if (i < specials.length) [lo, hi] = doubleBits(specials[i]!);
      else {
        lo = rng.u32() | 0;
        hi = rng.u32() | 0;
      }
      const cls = unpackDouble(x, lo, hi);
      fpStatus.exc = 0;
      const isSnan = cls === CLS_SNAN;
      expect(packFloat(x, cls, rng.below(4), 64, ALL_MASKED)).toBe(true);
      expect([fpStatus.outLo, fpStatus.outHi]).toEqual([lo, isSnan ? hi | 0x80000 : hi]);
      expect(fpStatus.exc).toBe(isSnan ? FSW_IE : 0);
    }
  });

  it('a single widens exactly (the value a double holds)', () => {
    const rng = new Rng(15);
    const f = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < 3000; i++) {
      const bits = rng.u32();
      f.setUint32(0, bits, true);
      const v = f.getFloat32(0, true);
      const cls = unpackSingle(x, bits);
      if (cls === CLS_QNAN || cls === CLS_SNAN) {
        expect(x.hi).toBe((((bits & 0x7fffff) << 8) | 0x80000000) >>> 0);
        continue;
      }
      if (cls === CLS_ZERO) expect(Object.is(v, x.sign ? -0 : 0)).toBe(true);
      else if (cls === CLS_INF) expect(v).toBe(x.sign ? -Infinity : Infinity);
      else expect(toNumber(x)).toBe(v);
    }
  });

  it('80-bit values narrow to double and single per RC, with overflow, underflow and denormals', () => {
    const rng = new Rng(16);
    for (let i = 0; i < 4000; i++) {
      let [se, sig] = randomFinite(rng);
      if (rng.below(2)) se = (se & 0x8000) | (16383 - 160 + rng.below(320)); // near the single/double ranges
      if (rng.below(3) === 0) se = (se & 0x8000) | (16383 + (rng.below(2) ? -1 : 1) * (1000 + rng.below(80)));
      if ((se & 0x7fff) !== 0) sig |= J;
      const rc = rng.below(4);
      const e = ref.exactOf(se, sig);
      for (const bits of [64, 32]) {
        const cls = load(se, sig);
        fpStatus.exc = 0;
        packFloat(x, cls, rc, bits, ALL_MASKED);
        const r = bits === 64 ? ref.round(e, 53, rc, -1022, 1023) : ref.round(e, 24, rc, -126, 127);
        const got = bits === 64 ? (BigInt(fpStatus.outHi >>> 0) << 32n) | BigInt(fpStatus.outLo >>> 0) : fpStatus.outLo >>> 0;
        const want = bits === 64 ? ref.toDouble(r) : ref.toSingle(r);
        expect({ se, sig, bits, rc, got: got.toString(16), exc: fpStatus.exc, c1: fpStatus.c1 })
          .toEqual({ se, sig, bits, rc, got: want.toString(16), exc: r.exc, c1: r.c1 });
      }
    }
  });

  it('unsupported formats narrow to the indefinite with IE; nothing when IE is unmasked', () => {
    load(0x3fff, 5n);
    fpStatus.exc = 0;
    expect(packFloat(x, CLS_UNSUPPORTED, ref.RN, 64, ALL_MASKED)).toBe(true);
    expect([fpStatus.outLo, fpStatus.outHi >>> 0]).toEqual([0, 0xfff80000]);
    expect(packFloat(x, CLS_UNSUPPORTED, ref.RN, 32, ALL_MASKED & ~FSW_IE)).toBe(false);
    expect(fpStatus.exc).toBe(FSW_IE);
  });

  it('toNumber/fromNumber convert exactly within the double range', () => {
    const rng = new Rng(17);
    for (let i = 0; i < 1000; i++) {
      const v = (rng.u32() - 2 ** 31) * 2 ** (rng.below(200) - 100);
      if (v === 0) continue;
      fromNumber(x, v);
      expect(toNumber(x)).toBe(v);
    }
  });
});

describe('integers and packed BCD', () => {
  it('64-bit integers load exactly', () => {
    const rng = new Rng(18);
    const edges = [0n, 1n, -1n, (1n << 63n) - 1n, -(1n << 63n), 1n << 53n, (1n << 53n) + 1n];
    for (let i = 0; i < 2000; i++) {
      const v = i < edges.length ? edges[i]! : BigInt.asIntN(64, u64(rng) >> BigInt(rng.below(64)));
      const u = BigInt.asUintN(64, v);
      const cls = unpackInt(x, Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0);
      if (v === 0n) {
        expect(cls).toBe(CLS_ZERO);
        continue;
      }
      const m = (BigInt(x.hi) << 32n) | BigInt(x.lo);
      const e = x.exp - 16383 - 63;
      const mag = e >= 0 ? m << BigInt(e) : m >> BigInt(-e);
      expect(x.sign ? -mag : mag).toBe(v);
    }
  });

  it('stores round per RC (FISTTP: toward zero); out of range gives the integer indefinite and IE', () => {
    const rng = new Rng(19);
    for (let i = 0; i < 4000; i++) {
      const bits = [16, 32, 64][rng.below(3)]!;
      // magnitudes around the integer limits and around halves
      const [se0, sig0] = randomFinite(rng);
      const se = (se0 & 0x8000) | (16383 - 2 + rng.below(bits + 4));
      const sig = sig0 | J;
      const rc = rng.below(4);
      const cls = load(se, sig);
      fpStatus.exc = 0;
      packInt(x, cls, rc, bits, ALL_MASKED);
      const e = ref.exactOf(se, sig);
      // reference: round to an integer
      const scale = -e.e;
      let q = scale > 0 ? e.m >> BigInt(scale) : e.m << BigInt(-scale);
      const rem = scale > 0 ? e.m - (q << BigInt(scale)) : 0n;
      const half = scale > 0 ? 1n << BigInt(scale - 1) : 0n;
      let up = false;
      if (rem !== 0n) {
        if (rc === ref.RN) up = rem > half || (rem === half && (q & 1n) === 1n);
        else if (rc === ref.RD) up = e.sign === 1;
        else if (rc === ref.RU) up = e.sign === 0;
      }
      if (up) q += 1n;
      const v = e.sign ? -q : q;
      const limit = 1n << BigInt(bits - 1);
      const got = bits === 64 ? BigInt.asIntN(64, (BigInt(fpStatus.outHi >>> 0) << 32n) | BigInt(fpStatus.outLo >>> 0))
        : BigInt.asIntN(bits, BigInt(fpStatus.outLo >>> 0));
      if (v >= limit || v < -limit) {
        expect({ got, exc: fpStatus.exc }).toEqual({ got: -limit, exc: FSW_IE });
      } else {
        expect({ se, sig, rc, bits, got, exc: fpStatus.exc, c1: fpStatus.c1 })
          .toEqual({ se, sig, rc, bits, got: v, exc: rem !== 0n ? FSW_PE : 0, c1: up ? 1 : 0 });
      }
    }
  });

  it('NaN, infinity and unsupported values store the integer indefinite with IE', () => {
    for (const [se, sig] of [[0x7fff, J], [0xffff, J | (1n << 62n)], [0x7fff, J | 1n], [0x4000, 1n]] as const) {
      const cls = load(se, sig);
      fpStatus.exc = 0;
      expect(packInt(x, cls, ref.RN, 32, ALL_MASKED)).toBe(true);
      expect([fpStatus.outLo >>> 0, fpStatus.exc]).toEqual([0x80000000, FSW_IE]);
    }
  });

  it('packed BCD round-trips every 18-digit value; 10^18 and beyond are the BCD indefinite', () => {
    const rng = new Rng(20);
    for (let i = 0; i < 2000; i++) {
      const digits = 1 + rng.below(18);
      let v = 0n;
      for (let d = 0; d < digits; d++) v = v * 10n + BigInt(rng.below(10));
      const neg = rng.below(2);
      const u = BigInt.asUintN(64, neg ? -v : v);
      const cls = unpackInt(x, Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0);
      if (v === 0n) x.sign = neg;
      fpStatus.exc = 0;
      expect(packBcd(x, cls, ref.RN, ALL_MASKED)).toBe(true);
      const text = v.toString().padStart(18, '0');
      const lo = fpStatus.outLo >>> 0;
      const hi = fpStatus.outHi >>> 0;
      const top = fpStatus.outTop;
      const nibbles = (top & 0xff).toString(16).padStart(2, '0') + hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
      expect(nibbles).toBe(text);
      expect(top >> 15).toBe(neg);
      expect(unpackBcd(x, lo | 0, hi | 0, top)).toBe(v === 0n ? CLS_ZERO : CLS_NORMAL);
      const m = (BigInt(x.hi) << 32n) | BigInt(x.lo);
      const e = x.exp - 16383 - 63;
      if (v !== 0n) expect(e >= 0 ? m << BigInt(e) : m >> BigInt(-e)).toBe(v);
      expect(x.sign).toBe(neg);
    }
    unpackInt(x, 0xa7640000 | 0, 0x0de0b6b3); // 10^18
    fpStatus.exc = 0;
    packBcd(x, CLS_NORMAL, ref.RN, ALL_MASKED);
    expect([fpStatus.outLo, fpStatus.outHi >>> 0, fpStatus.outTop, fpStatus.exc]).toEqual([0, 0xc0000000, 0xffff, FSW_IE]);
  });
});

describe('FLD m80 / FSTP m80 in the interpreter', () => {
  it('round-trip every bit pattern, unnormals and pseudo-NaNs included, without exceptions', () => {
    const m = new UserMachine();
    const rng = new Rng(21);
    // fld tword [rdi]; fstp tword [rdi+16]; fnstsw ax
    const code = Uint8Array.from([0xdb, 0x2f, 0xdb, 0x7f, 0x10, 0xdf, 0xe0]);
    for (let i = 0; i < 300; i++) {
      const data = new Uint8Array(32);
      const dv = new DataView(data.buffer);
      const exps = [0, 0x7fff, 1 + rng.below(0x7ffe)];
      dv.setBigUint64(0, u64(rng) >> BigInt(rng.below(3) * 20), true);
      dv.setUint16(8, exps[rng.below(3)]! | (rng.below(2) << 15), true);
      const gpr = Array.from({ length: 16 }, () => 0n);
      gpr[7] = NATIVE_DATA_ADDR;
      gpr[4] = NATIVE_DATA_ADDR + 0x8000n;
      const r = m.run({ code, data, state: { gpr, rflags: 0n, xmm: new Uint8Array(256), mxcsr: 0x1f80, x87: x87Init() } });
      expect(r.fault).toBeNull();
      expect(r.data.subarray(16, 26)).toEqual(data.subarray(0, 10));
      expect(r.state.gpr[0]! & 0xffffn).toBe(0n); // no flag, TOP back to 0
    }
  });
});

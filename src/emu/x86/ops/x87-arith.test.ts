import { describe, expect, it } from 'vitest';
import { Rng } from '../testing/differential.ts';
import * as ref from '../testing/float80-reference.ts';
import { CLS_NORMAL, F80, FSW_DE, FSW_IE, FSW_PE, FSW_ZE, fpStatus, unpack } from './float80.ts';
import {
  CMP_EQUAL, CMP_GREATER, CMP_LESS, CMP_UNORDERED, OP_ADD, OP_DIV, OP_MUL, OP_SUB, arith, compare, remainder, roundInt,
  scale, sqrt,
} from './x87-arith.ts';

// The exact x87 arithmetic against the BigInt reference (testing/float80-reference.ts): every
// operation, rounding mode and precision control setting, over the whole exponent range.

const J = 1n << 63n;
const a = new F80();
const b = new F80();
const r = new F80();
const u64 = (rng: Rng) => (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
const img = (v: F80): [number, bigint] => [v.se(), (BigInt(v.hi) << 32n) | BigInt(v.lo)];
const load = (x: F80, v: [number, bigint]) => unpack(x, v[0], Number(v[1] >> 32n), Number(v[1] & 0xffffffffn));
const PC = [[0x000, 24], [0x200, 53], [0x300, 64]] as const;

/** Random finite non-zero operands: related exponents (cancellation, exact sums) or anywhere. */
function operand(rng: Rng, near?: number): [number, bigint] {
  const sign = rng.below(2) << 15;
  const pick = rng.below(10);
  if (pick === 0) return [sign, (u64(rng) >> BigInt(rng.below(64))) | 1n]; // denormal
  const exp = near !== undefined && pick < 6 ? Math.min(0x7ffe, Math.max(1, near + rng.below(140) - 70)) : 1 + rng.below(0x7ffe);
  const short = rng.below(3) === 0 ? ~((1n << BigInt(rng.below(64))) - 1n) : -1n;
  return [sign | exp, J | (u64(rng) & short)];
}

describe('x87 arithmetic against the BigInt reference', () => {
  it('FADD FSUB FMUL FDIV: every rounding mode and precision, denormals, overflow, underflow', () => {
    const rng = new Rng(31);
    for (let i = 0; i < 6000; i++) {
      const op = rng.below(4);
      const va = operand(rng);
      const vb = operand(rng, op === OP_MUL || op === OP_DIV ? 16383 + rng.below(2000) - 1000 : va[0] & 0x7fff);
      const [pcBits, prec] = PC[rng.below(3)]!;
      const rc = rng.below(4);
      const fcw = 0x7f | pcBits | (rc << 10);
      const ca = load(a, va);
      const cb = load(b, vb);
      fpStatus.exc = 0;
      expect(arith(op, a, ca, b, cb, fcw, r)).toBe(true);
      const ea = ref.exactOf(...va);
      const eb = ref.exactOf(...vb);
      const exact = op === OP_ADD ? ref.add(ea, eb) : op === OP_SUB ? ref.add(ea, { ...eb, sign: eb.sign ^ 1 })
        : op === OP_MUL ? ref.mul(ea, eb) : ref.div(ea, eb);
      const denormal = (va[0] & 0x7fff) === 0 || (vb[0] & 0x7fff) === 0 ? FSW_DE : 0;
      const what = { op, va, vb, prec, rc };
      if (exact === null) {
        expect({ ...what, img: img(r), exc: fpStatus.exc }).toEqual({ ...what, img: [rc === ref.RD ? 0x8000 : 0, 0n], exc: denormal });
        continue;
      }
      const want = ref.round(exact, prec, rc, -16382, 16383);
      expect({ ...what, img: img(r), exc: fpStatus.exc, c1: fpStatus.c1 })
        .toEqual({ ...what, img: ref.toF80(want), exc: want.exc | denormal, c1: want.c1 });
    }
  });

  it('FSQRT is correctly rounded in every precision and rounding mode', () => {
    const rng = new Rng(32);
    for (let i = 0; i < 2000; i++) {
      const va = operand(rng);
      va[0] &= 0x7fff;
      const [pcBits, prec] = PC[rng.below(3)]!;
      const rc = rng.below(4);
      const ca = load(a, va);
      fpStatus.exc = 0;
      expect(sqrt(a, ca, 0x7f | pcBits | (rc << 10), r)).toBe(true);
      const want = ref.round(ref.sqrt(ref.exactOf(...va)), prec, rc, -16382, 16383);
      expect({ va, img: img(r), exc: fpStatus.exc & ~FSW_DE, c1: fpStatus.c1 }).toEqual({ va, img: ref.toF80(want), exc: want.exc, c1: want.c1 });
    }
  });

  it('FPREM and FPREM1 give the exact remainder and the low quotient bits (partial beyond 2^63)', () => {
    const rng = new Rng(33);
    for (let i = 0; i < 3000; i++) {
      const vb = operand(rng);
      vb[0] = (vb[0] & 0x8000) | (1000 + rng.below(20000));
      vb[1] |= J;
      const va = operand(rng);
      va[0] = (va[0] & 0x8000) | Math.max(1, (vb[0] & 0x7fff) + rng.below(100) - 10);
      va[1] |= J;
      const nearest = rng.below(2) === 1;
      const ca = load(a, va);
      const cb = load(b, vb);
      fpStatus.exc = 0;
      const codes = remainder(a, ca, b, cb, nearest, 0x37f, r);
      const ea = ref.exactOf(...va);
      const eb = ref.exactOf(...vb);
      const d = (va[0] & 0x7fff) - (vb[0] & 0x7fff);
      // The divisor of a partial remainder is b·2^(d − N), N = 32 + d mod 32.
      const shift = d >= 64 ? d - (32 + (d & 31)) : 0;
      const e = Math.min(ea.e, eb.e + shift);
      const A = ea.m << BigInt(ea.e - e);
      const B = eb.m << BigInt(eb.e + shift - e);
      let q = A / B;
      let rem = A - q * B; // truncated quotient, remainder ≥ 0
      let flip = false;
      if (nearest && d < 64 && (2n * rem > B || (2n * rem === B && (q & 1n) === 1n))) {
        q += 1n;
        rem = B - rem;
        flip = true;
      }
      const sign = ea.sign ^ (flip ? 1 : 0);
      const want = rem === 0n ? [ea.sign << 15, 0n] : ref.toF80(ref.round({ sign, m: rem, e }, 64, ref.RN, -16382, 16383));
      const wantCodes = d >= 64 ? 0x400 : (Number(q & 4n) ? 0x100 : 0) | (Number(q & 2n) ? 0x4000 : 0) | (Number(q & 1n) ? 0x200 : 0);
      expect({ va, vb, nearest, img: img(r), codes, pe: fpStatus.exc & FSW_PE }).toEqual({ va, vb, nearest, img: want, codes: wantCodes, pe: 0 });
    }
  });

  it('FRNDINT rounds per RC; FSCALE scales by trunc(ST1)', () => {
    const rng = new Rng(34);
    for (let i = 0; i < 2000; i++) {
      const va = operand(rng);
      va[0] = (va[0] & 0x8000) | (16383 - 3 + rng.below(70));
      va[1] |= J;
      const rc = rng.below(4);
      const ca = load(a, va);
      fpStatus.exc = 0;
      roundInt(a, ca, 0x37f | (rc << 10), r);
      const e = ref.exactOf(...va);
      const E = e.m.toString(2).length - 1 + e.e;
      const got = ref.round(e, Math.max(E, 0) + 1, rc, 0, 16383); // the last kept bit is 2^0
      const want = got.q === 0n ? [va[0] & 0x8000, 0n] : ref.toF80(got);
      expect({ va, rc, img: img(r), exc: fpStatus.exc }).toEqual({ va, rc, img: want, exc: got.exc & FSW_PE });
      const n = rng.below(400) - 200;
      load(b, [n < 0 ? 0xc000 : 0x4000, 0n]);
      b.exp = 16383 + 20;
      b.hi = Math.abs(n) * 2 ** 11 >>> 0;
      b.lo = 0;
      if (n === 0) continue;
      while (b.hi < 0x80000000) {
        b.hi *= 2;
        b.exp--;
      }
      const vs = operand(rng);
      const cs = load(a, vs);
      fpStatus.exc = 0;
      scale(a, cs, b, CLS_NORMAL, 0x37f, r);
      const es = ref.exactOf(...vs);
      const ws = ref.round({ ...es, e: es.e + n }, 64, ref.RN, -16382, 16383);
      expect({ vs, n, img: img(r) }).toEqual({ vs, n, img: ref.toF80(ws) });
    }
  });
});

describe('special operands', () => {
  const INF: [number, bigint] = [0x7fff, J];
  const NINF: [number, bigint] = [0xffff, J];
  const ZERO: [number, bigint] = [0, 0n];
  const ONE: [number, bigint] = [0x3fff, J];
  const QNAN = (s: number, p: bigint): [number, bigint] => [s | 0x7fff, J | (1n << 62n) | p];
  const SNAN = (s: number, p: bigint): [number, bigint] => [s | 0x7fff, J | p];
  const INDEFINITE: [number, bigint] = [0xffff, J | (1n << 62n)];
  const run = (op: number, va: [number, bigint], vb: [number, bigint], fcw = 0x37f) => {
    const ca = load(a, va);
    const cb = load(b, vb);
    fpStatus.exc = 0;
    const ok = arith(op, a, ca, b, cb, fcw, r);
    return { ok, img: img(r), exc: fpStatus.exc };
  };

  it('invalid operations give the indefinite with IE; unmasked IE leaves the destination', () => {
    expect(run(OP_SUB, INF, INF)).toEqual({ ok: true, img: INDEFINITE, exc: FSW_IE });
    expect(run(OP_ADD, INF, NINF)).toEqual({ ok: true, img: INDEFINITE, exc: FSW_IE });
    expect(run(OP_MUL, ZERO, INF)).toEqual({ ok: true, img: INDEFINITE, exc: FSW_IE });
    expect(run(OP_DIV, ZERO, ZERO)).toEqual({ ok: true, img: INDEFINITE, exc: FSW_IE });
    expect(run(OP_DIV, INF, NINF)).toEqual({ ok: true, img: INDEFINITE, exc: FSW_IE });
    expect(run(OP_ADD, [0x3fff, 5n], ONE)).toEqual({ ok: true, img: INDEFINITE, exc: FSW_IE }); // unnormal
    expect(run(OP_SUB, INF, INF, 0x37e).ok).toBe(false);
  });

  it('zero divide gives a signed infinity with ZE (no DE for a denormal dividend)', () => {
    expect(run(OP_DIV, [0x8000 | 0x3fff, J], ZERO)).toEqual({ ok: true, img: NINF, exc: FSW_ZE });
    expect(run(OP_DIV, [0, 5n], [0x8000, 0n])).toEqual({ ok: true, img: NINF, exc: FSW_ZE });
    expect(run(OP_DIV, ONE, ZERO, 0x37b).ok).toBe(false);
  });

  it('NaNs: the larger significand wins, the positive one on a tie, SNaNs are quieted with IE', () => {
    expect(run(OP_ADD, QNAN(0x8000, 1n), QNAN(0, 1n))).toEqual({ ok: true, img: QNAN(0, 1n), exc: 0 });
    expect(run(OP_ADD, QNAN(0, 1n), QNAN(0x8000, 1n))).toEqual({ ok: true, img: QNAN(0, 1n), exc: 0 });
    expect(run(OP_MUL, QNAN(0, 1n), QNAN(0x8000, 2n))).toEqual({ ok: true, img: QNAN(0x8000, 2n), exc: 0 });
    expect(run(OP_MUL, SNAN(0, 1n << 61n), ONE)).toEqual({ ok: true, img: QNAN(0, 1n << 61n), exc: FSW_IE });
    expect(run(OP_DIV, SNAN(0, (1n << 62n) - 1n), QNAN(0x8000, 0n))).toEqual({ ok: true, img: QNAN(0x8000, 0n), exc: FSW_IE });
    expect(run(OP_SUB, ONE, SNAN(0x8000, 7n), 0x37e)).toEqual({ ok: false, img: expect.anything(), exc: FSW_IE });
  });

  it('signed zeros follow the rounding mode for exact cancellation', () => {
    expect(run(OP_SUB, ONE, ONE).img).toEqual([0, 0n]);
    expect(run(OP_SUB, ONE, ONE, 0x77f).img).toEqual([0x8000, 0n]);
    expect(run(OP_ADD, [0x8000, 0n], [0x8000, 0n]).img).toEqual([0x8000, 0n]);
    expect(run(OP_ADD, [0x8000, 0n], ZERO).img).toEqual([0, 0n]);
  });

  it('compare orders numbers, ±0 equal, NaNs and unsupported formats unordered', () => {
    const cmp = (va: [number, bigint], vb: [number, bigint]) => compare(a, load(a, va), b, load(b, vb));
    expect(cmp(ONE, ZERO)).toBe(CMP_GREATER);
    expect(cmp([0xbfff, J], ZERO)).toBe(CMP_LESS);
    expect(cmp(ZERO, [0x8000, 0n])).toBe(CMP_EQUAL);
    expect(cmp(NINF, [0xfffe, J])).toBe(CMP_LESS);
    expect(cmp([0, 1n], [0, 2n])).toBe(CMP_LESS);
    expect(cmp([0x8000, 1n], [0x8000, 2n])).toBe(CMP_GREATER);
    expect(cmp(QNAN(0, 0n), ONE)).toBe(CMP_UNORDERED);
    expect(cmp(ONE, [0x3fff, 1n])).toBe(CMP_UNORDERED);
  });
});

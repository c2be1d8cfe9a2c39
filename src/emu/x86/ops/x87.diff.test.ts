import { describe, expect, it } from 'vitest';
import { NATIVE_CODE_ADDR, NATIVE_DATA_ADDR, nativeAvailable } from '../../testing/native.ts';
import { assemble } from '../testing/asm.ts';
import { Rng, describeBytes, differential, type DiffCase } from '../testing/differential.ts';
import { TRANS_ULPS, randomF80 } from '../testing/fuzz-x87.ts';
import { UserMachine } from '../testing/user64.ts';

// The x87 FPU against the host CPU: data transfer in every format, every arithmetic form, the
// comparisons, stack faults, the environment images, #MF delivery and the transcendental
// functions. Results must be bit-exact (status word included) except the transcendentals,
// which are compared within TRANS_ULPS units of the 64-bit significand with C1 masked.

const J = 1n << 63n;
const DATA = NATIVE_DATA_ADDR + 0x100n;
const FSW_C1 = 0x200;
type F80 = readonly [number, bigint];

interface Options {
  st?: readonly F80[];
  /** Registers in use, by ST index (default: those given in `st`). */
  inUse?: number;
  top?: number;
  fcw?: number;
  fsw?: number;
  rflags?: number;
  mem?: Uint8Array;
  bits?: 32 | 64;
  fswMask?: number;
  stUlps?: number;
}

/** A case: the bytes with [rdi] = DATA, ST(i) = st[i], TOP random unless given. */
function x87Case(rng: Rng, code: Uint8Array, o: Options): DiffCase {
  const top = o.top ?? rng.below(8);
  // ES and B follow the flags and masks on the host (FXRSTOR derives them too).
  const fcw = o.fcw ?? 0x37f;
  let fsw = (o.fsw ?? 0) & ~0x8080;
  if ((fsw & ~fcw & 0x3f) !== 0) fsw |= 0x8080;
  const st = new Uint8Array(80);
  const dv = new DataView(st.buffer);
  for (let i = 0; i < 8; i++) {
    const v = o.st?.[i] ?? randomF80(rng);
    dv.setBigUint64(i * 10, v[1], true);
    dv.setUint16(i * 10 + 8, v[0], true);
  }
  const inUse = o.inUse ?? (1 << (o.st?.length ?? 0)) - 1;
  const ftw = ((inUse << top) | (inUse >> (8 - top))) & 0xff;
  const gpr = Array.from({ length: 16 }, () => 0n);
  gpr[4] = NATIVE_DATA_ADDR + 0x8000n;
  gpr[7] = DATA;
  const data = new Uint8Array(0x100 + 0x100);
  if (o.mem) data.set(o.mem, 0x100);
  return {
    code,
    bits: o.bits,
    what: describeBytes(code, o.bits ?? 64),
    state: {
      gpr, rflags: BigInt(o.rflags ?? 0), xmm: new Uint8Array(256), mxcsr: 0x1f80,
      x87: { fcw, fsw: fsw | (top << 11), ftw, st },
    },
    data,
    fswMask: o.fswMask,
    stUlps: o.stUlps,
  };
}

/** ModRM for [rdi] (memory) or ST(i). */
const memRdi = (reg: number) => (reg << 3) | 7;
const regSt = (reg: number, i: number) => 0xc0 | (reg << 3) | i;
const bytes = (...b: number[]) => Uint8Array.from(b);

/** A control word with rounding control rc, precision pc, and exceptions masked except `unmask`. */
const fcwOf = (rc: number, pc = 3, unmask = 0) => (0x7f & ~unmask) | (pc << 8) | (rc << 10);

/** Edge 80-bit values of every class. */
const EDGES: readonly F80[] = [
  [0, 0n], [0x8000, 0n], [0, 1n], [0x8000, J - 1n], [0, J | 3n], [1, J], [0x3fff, J], [0xbfff, J | 1n],
  [0x3ffe, (1n << 64n) - 1n], [0x7ffe, (1n << 64n) - 1n], [0xfffe, J], [0x7fff, J], [0xffff, J],
  [0x7fff, J | (1n << 62n)], [0xffff, J | (1n << 62n) | 5n], [0x7fff, J | 1n], [0xffff, J | (1n << 61n)],
  [0x3fff, 0x4000000000000000n], [0x7fff, 0n], [0x7fff, 1n << 62n], [0x401d, J | (1n << 40n)],
  [0x403e, (1n << 64n) - 1n], [0xc03e, J], [0x403d, J | 1n], [0x3ffe, J], [0xbffe, J | (1n << 62n)],
  [0x3fbf, J], [0x4000, 0xc90fdaa22168c235n], [0x3c00, J | 0x800n], [0x43ff, J | 0x800n], [0x3f80, J | 0x80n],
];

function pickValue(rng: Rng): F80 {
  return rng.below(3) === 0 ? EDGES[rng.below(EDGES.length)]! : randomF80(rng);
}

const check = (cases: DiffCase[]) => expect(differential(cases)).toEqual([]);

describe.runIf(nativeAvailable())('x87 instructions agree with the host CPU', () => {
  it('FLD m32/m64/m80, FILD m16/m32/m64 and FBLD of edge values, then FSTP m80', () => {
    const rng = new Rng(41);
    const cases: DiffCase[] = [];
    // opcode, ModRM.reg, operand bytes
    const loads: [number, number, number][] = [[0xd9, 0, 4], [0xdd, 0, 8], [0xdb, 5, 10], [0xdf, 0, 2], [0xdb, 0, 4], [0xdf, 5, 8], [0xdf, 4, 10]];
    const specials32 = [0, 0x80000000, 1, 0x807fffff, 0x00800000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00001, 0x7f800001, 0xffbfffff, 0x3f800000];
    for (let n = 0; n < 1200; n++) {
      const [op, reg, size] = loads[n % loads.length]!;
      const mem = new Uint8Array(16);
      const dv = new DataView(mem.buffer);
      if (size === 10 && reg === 4) {
        for (let i = 0; i < 9; i++) mem[i] = rng.below(10) | (rng.below(10) << 4); // valid BCD digits
        mem[9] = rng.below(2) << 7;
      } else if (size === 10) {
        const v = pickValue(rng);
        dv.setBigUint64(0, v[1], true);
        dv.setUint16(8, v[0], true);
      } else if (size === 4 && op === 0xd9 && rng.below(2)) {
        dv.setUint32(0, specials32[rng.below(specials32.length)]!, true);
      } else {
        for (let i = 0; i < size; i++) mem[i] = rng.below(256) >> (rng.below(4) === 0 ? 7 : 0);
        if (rng.below(4) === 0) mem[size - 1] = rng.below(2) ? 0x7f : 0xff; // exponents at the top
      }
      // fld; fstp tword [rdi+16] (the stored image shows every bit of the loaded value)
      const code = bytes(op, memRdi(reg), 0xdb, 0x7f, 0x10);
      cases.push(x87Case(rng, code, { mem, st: [], inUse: rng.below(8) === 0 ? 0x80 : 0, fcw: fcwOf(rng.below(4), 3, rng.below(4) === 0 ? 3 : 0) }));
    }
    check(cases);
  });

  it('FST/FSTP m32/m64/m80, FIST/FISTP/FISTTP m16/m32/m64 and FBSTP of every class in every rounding mode', () => {
    const rng = new Rng(42);
    const stores: [number, number][] = [
      [0xd9, 2], [0xd9, 3], [0xdd, 2], [0xdd, 3], [0xdb, 7], [0xdf, 2], [0xdf, 3], [0xdb, 2], [0xdb, 3], [0xdf, 7],
      [0xdf, 1], [0xdb, 1], [0xdd, 1], [0xdf, 6],
    ];
    const cases: DiffCase[] = [];
    for (let n = 0; n < 2000; n++) {
      const [op, reg] = stores[n % stores.length]!;
      let v = pickValue(rng);
      if (op !== 0xd9 && op !== 0xdd && rng.below(2)) {
        // integer-sized magnitudes: around the 16/32/64-bit limits and 10^18
        const e = 16383 + [14, 15, 30, 31, 62, 63, 59, 0, -1][rng.below(9)]!;
        v = [(rng.below(2) << 15) | e, J | ((BigInt(rng.u32()) << 32n | BigInt(rng.u32())) >> BigInt(rng.below(64)))];
      }
      const unmask = rng.below(4) === 0 ? [1, 8, 0x10, 0x20][rng.below(4)]! : 0;
      cases.push(x87Case(rng, bytes(op, memRdi(reg)), { st: [v], inUse: rng.below(10) === 0 ? 0 : 1, fcw: fcwOf(rng.below(4), 3, unmask) }));
    }
    check(cases);
  });

  it('constants in every rounding mode and precision', () => {
    const rng = new Rng(43);
    const cases: DiffCase[] = [];
    for (let k = 0xe8; k <= 0xee; k++) {
      for (let rc = 0; rc < 4; rc++) {
        for (const pc of [0, 2, 3]) cases.push(x87Case(rng, bytes(0xd9, k), { st: [], fcw: fcwOf(rc, pc) }));
      }
      cases.push(x87Case(rng, bytes(0xd9, k), { st: [], inUse: 0x80 })); // stack overflow
    }
    check(cases);
  });

  it('FADD FSUB FSUBR FMUL FDIV FDIVR in every form: ST(i), P, m32, m64, m16 and m32 integers', () => {
    const rng = new Rng(44);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 4000; n++) {
      const op = [0, 1, 4, 5, 6, 7][rng.below(6)]!;
      const form = rng.below(7);
      const i = rng.below(8);
      let code: Uint8Array;
      const mem = new Uint8Array(8);
      const dv = new DataView(mem.buffer);
      switch (form) {
        case 0: code = bytes(0xd8, regSt(op, i)); break; // ST(0), ST(i)
        case 1: code = bytes(0xdc, regSt(op, i)); break; // ST(i), ST(0)
        case 2: code = bytes(0xde, regSt(op, i)); break; // ST(i), ST(0) and pop
        case 3: code = bytes(0xd8, memRdi(op)); dv.setFloat32(0, (rng.u32() - 2 ** 31) / 2 ** rng.below(40), true); break;
        case 4: code = bytes(0xdc, memRdi(op)); dv.setFloat64(0, (rng.u32() - 2 ** 31) * 2 ** (rng.below(100) - 50), true); break;
        case 5: code = bytes(0xde, memRdi(op)); dv.setInt16(0, rng.u32() >> rng.below(16), true); break;
        default: code = bytes(0xda, memRdi(op)); dv.setInt32(0, rng.u32() >> rng.below(32), true);
      }
      if (form >= 3 && rng.below(5) === 0) mem.set(rng.bytes(8));
      // Related operands make exact results, cancellation and rounding ties likely.
      const a = pickValue(rng);
      const b: F80 = rng.below(3) === 0 ? [(a[0] & 0x7fff) + rng.below(70) - 35 | (rng.below(2) << 15), J | (a[1] >> BigInt(rng.below(3)))] : pickValue(rng);
      const st: F80[] = [a];
      for (let k = 1; k < 8; k++) st.push(k === i ? b : pickValue(rng));
      const pc = [3, 3, 2, 0][rng.below(4)]!;
      const unmask = rng.below(5) === 0 ? rng.below(64) : 0;
      cases.push(x87Case(rng, code, { st, inUse: rng.below(12) === 0 ? rng.below(256) : 0xff, fcw: fcwOf(rng.below(4), pc, unmask), mem }));
    }
    check(cases);
  });

  it('compares: FCOM FCOMP FCOMPP FUCOM FUCOMP FUCOMPP FICOM FICOMP FTST, FCOMI FCOMIP FUCOMI FUCOMIP', () => {
    const rng = new Rng(45);
    const forms: number[][] = [
      [0xd8, 0xd0], [0xd8, 0xd8], [0xde, 0xd9], [0xdd, 0xe0], [0xdd, 0xe8], [0xda, 0xe9], [0xdb, 0xf0], [0xdb, 0xe8],
      [0xdf, 0xf0], [0xdf, 0xe8], [0xd9, 0xe4], [0xd8, 0x17], [0xd8, 0x1f], [0xdc, 0x17], [0xdc, 0x1f], [0xde, 0x17],
      [0xda, 0x1f],
    ];
    const cases: DiffCase[] = [];
    for (let n = 0; n < 2000; n++) {
      const f = forms[n % forms.length]!;
      const i = f[1]! >= 0xc0 && f[1] !== 0xd9 && f[1] !== 0xe9 && f[1] !== 0xe4 ? rng.below(8) : 0;
      const code = bytes(f[0]!, f[1]! | i);
      const a = pickValue(rng);
      const st: F80[] = [a];
      for (let k = 1; k < 8; k++) st.push(rng.below(3) === 0 ? a : rng.below(2) ? [a[0] ^ 0x8000, a[1]] : pickValue(rng));
      const mem = rng.bytes(8);
      cases.push(x87Case(rng, code, {
        st, inUse: rng.below(10) === 0 ? rng.below(256) : 0xff, mem, rflags: rng.u32() & 0x8d5,
        fcw: fcwOf(0, 3, rng.below(4) === 0 ? 3 : 0), fsw: rng.u32() & 0x4700,
      }));
    }
    check(cases);
  });

  it('FXAM on every class (and empty), FCHS, FABS, FXCH, FCMOVcc, FFREE, FINCSTP, FDECSTP, FNOP', () => {
    const rng = new Rng(46);
    const cases: DiffCase[] = [];
    for (const v of EDGES) {
      for (const inUse of [1, 0]) cases.push(x87Case(rng, bytes(0xd9, 0xe5), { st: [v], inUse, fsw: rng.u32() & 0x4700 }));
    }
    const others = [[0xd9, 0xe0], [0xd9, 0xe1], [0xd9, 0xc8], [0xda, 0xc0], [0xda, 0xc8], [0xda, 0xd0], [0xda, 0xd8],
      [0xdb, 0xc0], [0xdb, 0xc8], [0xdb, 0xd0], [0xdb, 0xd8], [0xdd, 0xc0], [0xd9, 0xf7], [0xd9, 0xf6], [0xd9, 0xd0]];
    for (let n = 0; n < 600; n++) {
      const [op, m] = others[n % others.length]!;
      const code = bytes(op!, m! === 0xe0 || m! === 0xe1 || m! >= 0xf6 || m! === 0xd0 ? m! : m! | rng.below(8));
      cases.push(x87Case(rng, code, { inUse: rng.below(4) === 0 ? rng.below(256) : 0xff, rflags: rng.u32() & 0x8d5, fsw: rng.u32() & 0x4700, fcw: fcwOf(0, 3, rng.below(4) === 0 ? 1 : 0) }));
    }
    check(cases);
  });

  it('stack overflow and underflow, masked and unmasked, in every kind of instruction', () => {
    const rng = new Rng(47);
    const codes = [
      [0xd9, 0xc1], [0xd9, 0x07], [0xdd, 0x07], [0xdf, 0x07], [0xd9, 0xe8], [0xd9, 0xeb], [0xd8, 0xc1], [0xde, 0xc1],
      [0xdc, 0x07], [0xd9, 0x17], [0xdd, 0x1f], [0xdb, 0x1f], [0xdf, 0x37], [0xdd, 0xd9], [0xd9, 0xc9], [0xd9, 0xfb],
      [0xd9, 0xf2], [0xd9, 0xf4], [0xd9, 0xf3], [0xd9, 0xf8], [0xd9, 0xfd], [0xd9, 0xfa], [0xd9, 0xfc], [0xd8, 0xd1],
      [0xde, 0xd9], [0xdb, 0xf1], [0xdf, 0xe9], [0xd9, 0xe0], [0xd9, 0xe4], [0xd9, 0xfe], [0xd9, 0xf0], [0xd9, 0xf1],
    ];
    const cases: DiffCase[] = [];
    for (let n = 0; n < 1200; n++) {
      const [op, m] = codes[n % codes.length]!;
      const inUse = [0, 0xff, 0x01, 0x02, 0x80, 0x7f, 0xfe][rng.below(7)]!;
      const st = Array.from({ length: 8 }, () => EDGES[1 + rng.below(12)]!);
      const trans = op === 0xd9 && [0xfe, 0xfb, 0xf2, 0xf3, 0xf0, 0xf1].includes(m!);
      if (m === 0xf0) st[0] = [0x3ffe, J]; // F2XM1's domain is [-1, 1]
      cases.push(x87Case(rng, bytes(op!, m!), {
        st, inUse, mem: rng.bytes(16), fcw: fcwOf(rng.below(4), 3, rng.below(2)), fsw: rng.u32() & 0x4700,
        stUlps: trans ? TRANS_ULPS : undefined, fswMask: trans ? 0xffff & ~FSW_C1 : undefined,
      }));
    }
    check(cases);
  });

  it('FRNDINT in each rounding mode, FSQRT, FSCALE and FXTRACT', () => {
    const rng = new Rng(48);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 1600; n++) {
      const k = n % 4;
      const code = bytes(0xd9, [0xfc, 0xfa, 0xfd, 0xf4][k]!);
      let a = pickValue(rng);
      if (k === 0 && rng.below(2)) a = [(a[0] & 0x8000) | (16383 - 2 + rng.below(68)), a[1] | J];
      let b = pickValue(rng);
      if (k === 2 && rng.below(2)) {
        const s = rng.below(40000);
        b = [(rng.below(2) << 15) | (16383 + 15), BigInt(s) << 48n | (rng.below(2) ? 0n : BigInt(rng.u32()))];
        if (b[1] < J) b = [b[0], b[1] | J];
      }
      const unmask = rng.below(4) === 0 ? [2, 8, 0x10, 0x20][rng.below(4)]! : 0;
      cases.push(x87Case(rng, code, { st: [a, b], inUse: rng.below(8) === 0 ? 0xff : 3, fcw: fcwOf(rng.below(4), [3, 2, 0][rng.below(3)]!, unmask) }));
    }
    check(cases);
  });

  it('FPREM and FPREM1: quotient bits in C0 C3 C1, partial remainders (C2) beyond 63 bits', () => {
    const rng = new Rng(49);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 1000; n++) {
      const b = pickValue(rng);
      const e = b[0] & 0x7fff;
      const a: F80 = rng.below(4) === 0 ? pickValue(rng)
        : [(rng.below(2) << 15) | Math.min(0x7ffe, Math.max(1, e + rng.below(200) - 10)), J | (BigInt(rng.u32()) << 32n) | BigInt(rng.u32())];
      cases.push(x87Case(rng, bytes(0xd9, rng.below(2) ? 0xf8 : 0xf5), { st: [a, b], fsw: rng.u32() & 0x4700, fcw: fcwOf(rng.below(4), 3, rng.below(6) === 0 ? 3 : 0) }));
    }
    check(cases);
  });

  it('FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1 within TRANS_ULPS (C1 masked)', () => {
    const rng = new Rng(50);
    const cases: DiffCase[] = [];
    const d = (x: number): F80 => {
      const v = new DataView(new ArrayBuffer(8));
      v.setFloat64(0, x);
      const bits = v.getBigUint64(0);
      const exp = Number((bits >> 52n) & 0x7ffn);
      if (exp === 0) return [Number(bits >> 63n) << 15, 0n];
      return [(Number(bits >> 63n) << 15) | (exp - 1023 + 16383), J | ((bits & ((1n << 52n) - 1n)) << 11n) | BigInt(rng.below(2048))];
    };
    const u = () => rng.u32() / 2 ** 32;
    const s = () => (rng.below(2) ? -1 : 1);
    for (let n = 0; n < 1600; n++) {
      const k = n % 8;
      const code = bytes(0xd9, [0xfe, 0xff, 0xfb, 0xf2, 0xf3, 0xf0, 0xf1, 0xf9][k]!);
      let st: F80[];
      switch (k) {
        case 4: st = [d(s() * u() * 2 ** (rng.below(60) - 30)), d(s() * u() * 2 ** (rng.below(60) - 30))]; break;
        case 5: st = [d(s() * u() ** (1 + rng.below(6)))]; break;
        case 6: st = [d(rng.below(3) ? 2 ** (rng.below(100) - 50) * (0.5 + u()) : 1 + s() * u() * 2 ** -rng.below(50)), d(s() * 8 * u())]; break;
        case 7: st = [d(s() * 0.29 * u() ** (1 + rng.below(6))), d(s() * 8 * u())]; break;
        default: st = [d(s() * (0.5 + u()) * 2 ** (rng.below(95) - 30))]; // up to 2^64: out of range too
      }
      // Special operands (for F2XM1 and FYL2XP1 only those outside the finite non-zero numbers,
      // whose domains are bounded: the hardware result is undefined beyond them).
      if (rng.below(10) === 0) {
        const v = EDGES[rng.below(EDGES.length)]!;
        const e = v[0] & 0x7fff;
        if ((k !== 5 && k !== 7) || e === 0 || e === 0x7fff) st[0] = v;
      }
      cases.push(x87Case(rng, code, { st, inUse: rng.below(12) === 0 ? 0xff : k === 4 || k >= 6 ? 3 : 1, fcw: fcwOf(rng.below(4)), stUlps: TRANS_ULPS, fswMask: 0xffff & ~FSW_C1 }));
    }
    check(cases);
  });
});

describe.runIf(nativeAvailable())('x87 control instructions and exceptions agree with the host CPU', () => {
  const rng = new Rng(51);
  const asm = (src: string, bits: 32 | 64 = 64) =>
    assemble(`bits ${bits}\n${bits === 32 ? src.replace(/\brdi\b/g, 'edi') : src}`, Number(NATIVE_CODE_ADDR));
  /** Zeroes the FIP/FCS/FOP/FDP/FDS fields of an image at [rdi] (not compared: see x87-stack.ts). */
  const zeroPointers = (size16: boolean, base = 0) => (size16
    ? [6, 8, 10, 12].map((o) => `mov word [rdi+${base + o}], 0`)
    : [12, 16, 20, 24].map((o) => `mov dword [rdi+${base + o}], 0`)).join('\n');

  it('FNSTENV/FLDENV and FNSAVE/FRSTOR images in both operand sizes, in 64-bit and 32-bit code', () => {
    const cases: DiffCase[] = [];
    for (const bits of [64, 32] as const) {
      for (const size16 of [false, true]) {
        const o16 = size16 ? 'o16 ' : '';
        const progs = [
          `${o16}fnstenv [rdi]\n${zeroPointers(size16)}`,
          `${o16}fnsave [rdi]\n${zeroPointers(size16)}`,
          `${o16}fnsave [rdi]\n${o16}frstor [rdi]\n${zeroPointers(size16)}`,
          `${o16}fnstenv [rdi]\n${o16}fldenv [rdi+128]\nfnstsw ax`,
          `${o16}frstor [rdi+128]\n${o16}fnsave [rdi]\n${zeroPointers(size16)}`,
          `fld1\nfldpi\nfdivp st1, st0\n${o16}fnstenv [rdi]\n${zeroPointers(size16)}\nfnstcw [rdi+64]`,
        ];
        for (const p of progs) {
          const code = asm(p, bits);
          for (let n = 0; n < 12; n++) {
            // an image at [rdi+128] for FLDENV/FRSTOR: random control word, status word, tags, registers
            const mem = new Uint8Array(256);
            const dv = new DataView(mem.buffer);
            const w = size16 ? 2 : 4;
            dv.setUint16(128, 0x40 | (rng.u32() & 0xf3f), true);
            dv.setUint16(128 + w, rng.u32() & 0xff7f, true);
            dv.setUint16(128 + 2 * w, rng.u32() & 0xffff, true);
            for (let i = 0; i < 8; i++) {
              const v = pickValue(rng);
              dv.setBigUint64(128 + 7 * w + 10 * i, v[1], true);
              dv.setUint16(128 + 7 * w + 10 * i + 8, v[0], true);
            }
            const st = Array.from({ length: 8 }, () => pickValue(rng));
            cases.push(x87Case(rng, code, { st, inUse: rng.below(256), mem, bits, fcw: fcwOf(rng.below(4), rng.below(4), rng.below(3) === 0 ? 0x3f : 0), fsw: rng.u32() & 0x473f }));
          }
        }
      }
    }
    check(cases);
  });

  it('#MF: an unmasked exception is delivered by the next waiting instruction or FWAIT, not by FN* ones', () => {
    const progs = [
      'fld1\nfldz\nfdivp st1, st0\nfwait', // ZE unmasked -> #MF at FWAIT
      'fld1\nfldz\nfdivp st1, st0\nfld1', // ... at the next x87 instruction
      'fld1\nfldz\nfdivp st1, st0\nfnstsw ax\nfnstcw [rdi]\nfnstenv [rdi+16]\nfnclex\nfwait\nfld1', // FN* do not wait
      'fld1\nfldz\nfdivp st1, st0\nfninit\nfwait\nfldpi',
      'fld1\nfldz\nfdivp st1, st0\nfnsave [rdi]\nfwait',
      'fldz\nfsqrt\nfchs\nfsqrt\nfwait', // IE
      'fld tword [rdi+64]\nfstp dword [rdi]\nwait', // OE/UE to memory: nothing stored, no pop
      'fld tword [rdi+64]\nfmul st0, st0\nfwait',
      'fld tword [rdi+64]\nfld1\nfxch\nfcomp\nfwait', // DE or IE in a comparison
      'fnstsw ax\nfwait', // a pending exception loaded with the state
      'mov word [rdi], 0x0360\nfldcw [rdi]\nfwait', // unmasking a pending flag
    ];
    // The emulator raises #MF at FWAIT (offset 6) for a zero divide with ZE unmasked...
    const m = new UserMachine();
    const zd = x87Case(rng, asm(progs[0]!), { st: [], inUse: 0, fcw: fcwOf(0, 3, 0x04) });
    expect(m.run(zd).fault).toMatchObject({ vector: 16, ripOffset: 6 });
    // ... and not when it is masked.
    expect(m.run(x87Case(rng, asm(progs[0]!), { st: [], inUse: 0 })).fault).toBeNull();
    const cases: DiffCase[] = [zd];
    for (const p of progs) {
      const code = asm(p);
      for (let n = 0; n < 10; n++) {
        const mem = new Uint8Array(128);
        const v = EDGES[rng.below(EDGES.length)]!;
        const dv = new DataView(mem.buffer);
        dv.setBigUint64(64, v[1], true);
        dv.setUint16(72, v[0], true);
        const fcw = fcwOf(rng.below(4), 3, [0x3f, 0x04, 0x01, 0x02, 0x08, 0x10, 0x20][rng.below(7)]!);
        const flags = rng.below(3) === 0 ? rng.u32() & 0x3f : 0;
        const fsw = flags | ((flags & ~fcw & 0x3f) !== 0 ? 0x8080 : 0);
        cases.push(x87Case(rng, code, { st: [], inUse: 0, mem, fcw, fsw }));
      }
    }
    check(cases);
  });

  it('memory operands that run past the data window fault (#PF) before changing anything', () => {
    // [rdi] is `back` bytes before the end of the window; the next page is unmapped.
    const progs: [string, number][] = [
      ['fstp tword [rdi]', 4], ['fld tword [rdi]', 6], ['fst qword [rdi]', 4], ['fistp qword [rdi]', 1],
      ['fist dword [rdi]', 2], ['fbstp [rdi]', 8], ['fbld [rdi]', 9], ['fnstenv [rdi]', 20], ['o16 fnstenv [rdi]', 10],
      ['fldenv [rdi]', 27], ['fnsave [rdi]', 100], ['frstor [rdi]', 60], ['fadd qword [rdi]', 4], ['fnstsw [rdi]', 1],
    ];
    const cases: DiffCase[] = [];
    for (const [p, back] of progs) {
      const code = asm(p);
      for (let n = 0; n < 4; n++) {
        const c = x87Case(rng, code, { inUse: 0x0f, fcw: fcwOf(rng.below(4)) });
        const data = new Uint8Array(0x10000);
        data.set(rng.bytes(256), 0x10000 - 256);
        c.state.gpr[7] = NATIVE_DATA_ADDR + 0x10000n - BigInt(back);
        cases.push({ ...c, data });
      }
    }
    check(cases);
  });

  it('FNINIT FNCLEX FLDCW FNSTCW FNSTSW (m16 and AX) with every control word bit', () => {
    const progs = ['fninit', 'fnclex', 'fldcw [rdi]\nfnstcw [rdi+2]', 'fnstsw [rdi]', 'fnstsw ax', 'fldcw [rdi]\nfnstsw ax'];
    const cases: DiffCase[] = [];
    for (const p of progs) {
      const code = asm(p);
      for (let n = 0; n < 40; n++) {
        const fcw = fcwOf(rng.below(4), rng.below(4), rng.below(2) ? 0 : rng.below(64));
        const flags = rng.u32() & 0x3f;
        cases.push(x87Case(rng, code, {
          inUse: rng.below(256), mem: bytes(rng.below(256), rng.below(256)), fcw,
          fsw: (rng.u32() & 0x4700) | flags | ((flags & ~fcw & 0x3f) !== 0 ? 0x8080 : 0),
        }));
      }
    }
    check(cases);
  });
});

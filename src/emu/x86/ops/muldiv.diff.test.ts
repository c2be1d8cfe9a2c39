import { describe, expect, it } from 'vitest';
import { NATIVE_DATA_ADDR, nativeAvailable } from '../../testing/native.ts';
import { Rng, differential, type DiffCase, hostIsZen, describeBytes } from '../testing/differential.ts';

// MUL IMUL DIV IDIV against the host CPU: every form (F6/F7 /4-/7, 0F AF, 69, 6B), 8/16/32/64-bit,
// register and memory operands, random and edge operands, dividends built around the quotient
// limits so that both in-range divisions and #DE (zero divisor, quotient overflow, most negative
// / -1) occur often. MUL/IMUL: only CF and OF are defined. DIV/IDIV: no flag is defined.
// A second suite compares every flag on the kind of host muldiv.ts reproduces (AMD family 19h).
//
// Host findings (AMD EPYC, Zen 4):
// - MUL/IMUL leave SF ZF AF PF unchanged (only CF = OF are written).
// - DIV/IDIV (when they do not fault): SF ZF PF cleared, AF set, CF and OF unchanged.
// - #DE leaves every register and flag as it was; IDIV's quotient may be the most negative
//   value (-128 / -32768 / -2^31 / -2^63) without a fault.

const DATA_OFF = 0x100;
const DATA_PTR = NATIVE_DATA_ADDR + BigInt(DATA_OFF);
const STACK = NATIVE_DATA_ADDR + 0x8000n;
const M64 = (1n << 64n) - 1n;
const CF_OF = 0x801;
const ALL = 0xcd5;


/** One encoded instruction with its operand layout. */
interface Form {
  code: Uint8Array;
  size: number; // operand size in bytes
  rex: number;
  memory: boolean;
  disp: number;
  reg: number;
  rm: number;
}

/** [66|REX.W] [REX] opcode ModRM [disp8] [imm]: register or [rdi+disp8] operand. */
function encode(rng: Rng, opcode: number[], regField: number | undefined, immBytes: number, byte: boolean): Form {
  const prefixes: number[] = [];
  const sel = byte ? 0 : rng.below(3); // 0: default, 1: 66, 2: REX.W
  if (sel === 1) prefixes.push(0x66);
  let rex = sel === 2 ? 0x48 : 0;
  const memory = rng.below(3) === 0;
  let reg = regField ?? rng.below(8);
  let rm = memory ? 7 : rng.below(8);
  if (regField === undefined && rng.below(2)) rex |= 0x44;
  if (!memory && rng.below(2)) rex |= 0x41;
  if (rex === 0 && rng.below(4) === 0) rex = 0x40;
  if (rex) prefixes.push(rex);
  if (rex & 4) reg |= 8;
  const modrm = (memory ? 0x40 : 0xc0) | ((reg & 7) << 3) | rm;
  if (rex & 1) rm |= 8;
  const code = [...prefixes, ...opcode, modrm];
  const disp = memory ? rng.below(0x80) : 0;
  if (memory) code.push(disp);
  const imm = immBytes < 0 ? (sel === 1 ? 2 : 4) : immBytes;
  for (let i = 0; i < imm; i++) code.push(rng.below(256));
  const size = byte ? 1 : sel === 1 ? 2 : sel === 2 ? 8 : 4;
  return { code: Uint8Array.from(code), size, rex, memory, disp, reg, rm };
}

/** Writes the low `size` bytes of a register (AH..BH for byte registers 4-7 without REX). */
function setReg(gpr: bigint[], r: number, size: number, rex: number, v: bigint): void {
  const bits = BigInt(size * 8);
  const m = (1n << bits) - 1n;
  if (size === 1 && rex === 0 && r >= 4 && r < 8) {
    gpr[r - 4] = (gpr[r - 4]! & ~0xff00n) | ((v & 0xffn) << 8n);
  } else gpr[r] = (gpr[r]! & ~m) | (v & m);
}

/** Sets the E operand (register or memory at [rdi+disp]). */
function setE(f: Form, gpr: bigint[], data: Uint8Array, v: bigint): void {
  if (!f.memory) return setReg(gpr, f.rm, f.size, f.rex, v);
  for (let i = 0; i < f.size; i++) data[DATA_OFF + f.disp + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

/** Random and edge values of `bits` bits (unsigned representation). */
function operand(rng: Rng, bits: number): bigint {
  const w = BigInt(bits);
  const m = (1n << w) - 1n;
  const edges = [0n, 1n, 2n, 3n, 7n, 10n, m, m - 1n, 1n << (w - 1n), (1n << (w - 1n)) - 1n, (1n << (w - 1n)) + 1n, 1n << (w / 2n)];
  switch (rng.below(4)) {
    case 0: return edges[rng.below(edges.length)]!;
    case 1: return BigInt(rng.below(1000));
    case 2: return (m - BigInt(rng.below(1000))) & m; // small negative
    default: return rng.value() & m;
  }
}

function baseState(rng: Rng, f: Form): { gpr: bigint[]; data: Uint8Array } {
  const gpr = Array.from({ length: 16 }, () => rng.value());
  gpr[4] = STACK;
  if (f.memory) gpr[7] = DATA_PTR;
  return { gpr, data: rng.bytes(DATA_OFF + 0x100) };
}

function makeCase(rng: Rng, f: Form, gpr: bigint[], data: Uint8Array, flagMask: number): DiffCase {
  return {
    code: f.code,
    what: describeBytes(f.code),
    state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: new Uint8Array(256), mxcsr: 0x1f80 },
    data,
    flagMask,
  };
}

/** MUL/IMUL one-operand (ext 4/5) with rAX and E from random and edge values. */
function mulCase(rng: Rng, ext: number, byte: boolean, mask = CF_OF): DiffCase {
  const f = encode(rng, [byte ? 0xf6 : 0xf7], ext, 0, byte);
  const { gpr, data } = baseState(rng, f);
  if (rng.below(2)) setReg(gpr, 0, f.size, 0, operand(rng, f.size * 8));
  if (rng.below(2)) setE(f, gpr, data, operand(rng, f.size * 8));
  return makeCase(rng, f, gpr, data, mask);
}

/** IMUL Gv,Ev / Gv,Ev,Iz / Gv,Ev,Ib. */
function imulCase(rng: Rng, opcode: number[], immBytes: number, mask = CF_OF): DiffCase {
  const f = encode(rng, opcode, undefined, immBytes, false);
  const { gpr, data } = baseState(rng, f);
  // (Not when G is RDI, the base of the memory operand.)
  if (rng.below(2) && !(f.memory && f.reg === 7)) setReg(gpr, f.reg, f.size, f.rex, operand(rng, f.size * 8));
  if (rng.below(2)) setE(f, gpr, data, operand(rng, f.size * 8));
  return makeCase(rng, f, gpr, data, mask);
}

const toSigned = (v: bigint, bits: number) => BigInt.asIntN(bits, v);

/**
 * DIV/IDIV (ext 6/7): the divisor is random or an edge value; the dividend is random, or
 * quotient * divisor + remainder for a quotient at or just beyond the limits of the width.
 */
function divCase(rng: Rng, ext: number, byte: boolean, mask = 0): DiffCase {
  const f = encode(rng, [byte ? 0xf6 : 0xf7], ext, 0, byte);
  const { gpr, data } = baseState(rng, f);
  const w = f.size * 8;
  const W = BigInt(w);
  const signed = ext === 7;
  let d = rng.below(8) === 0 ? 0n : operand(rng, w);
  if (rng.below(6) === 0) d = (1n << W) - 1n; // -1
  const dv = signed ? toSigned(d, w) : d;
  let n: bigint;
  if (rng.below(6) === 0 || dv === 0n) {
    n = (rng.value() << 64n) | rng.value();
  } else {
    const max = signed ? (1n << (W - 1n)) - 1n : (1n << W) - 1n;
    const min = signed ? -(1n << (W - 1n)) : 0n;
    const qs = [max, min, max + 1n, min - 1n, 0n, 1n, -1n, max - 1n, min + 1n];
    let q = rng.below(3) ? qs[rng.below(qs.length)]! : (signed ? toSigned(rng.value(), w) : rng.value() & max);
    if (!signed && q < 0n) q = 0n;
    const ad = dv < 0n ? -dv : dv;
    let r = rng.below(3) === 0 ? 0n : rng.below(2) ? ad - 1n : (rng.value() % ad);
    if (signed && (q * dv < 0n || (q * dv === 0n && rng.below(2)))) r = -r;
    n = q * dv + r;
  }
  n &= (1n << (2n * W)) - 1n;
  if (byte) setReg(gpr, 0, 2, 0, n);
  else {
    setReg(gpr, 0, f.size, 0, n & ((1n << W) - 1n));
    setReg(gpr, 2, f.size, 0, n >> W);
  }
  setE(f, gpr, data, d);
  return makeCase(rng, f, gpr, data, mask);
}

/** AMD family 19h (Zen 3/4): the hosts whose undefined-flag choices muldiv.ts reproduces. */

describe.runIf(nativeAvailable())('MUL IMUL DIV IDIV agree with the host CPU', () => {
  it('MUL and one-operand IMUL, 8/16/32/64-bit', () => {
    const rng = new Rng(11);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 400; n++) {
      for (const ext of [4, 5]) {
        cases.push(mulCase(rng, ext, true));
        cases.push(mulCase(rng, ext, false));
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('IMUL Gv,Ev and IMUL Gv,Ev,Iz/Ib', () => {
    const rng = new Rng(12);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 400; n++) {
      cases.push(imulCase(rng, [0x0f, 0xaf], 0));
      cases.push(imulCase(rng, [0x69], -1));
      cases.push(imulCase(rng, [0x6b], 1));
    }
    expect(differential(cases)).toEqual([]);
  });

  it('DIV and IDIV, quotients at the limits, #DE before any register changes', () => {
    const rng = new Rng(13);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 600; n++) {
      for (const ext of [6, 7]) {
        cases.push(divCase(rng, ext, true));
        cases.push(divCase(rng, ext, false));
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('64-bit DIV/IDIV with wide divisors (the shift-subtract path) and fixed edges', () => {
    const rng = new Rng(14);
    const cases: DiffCase[] = [];
    const edges = [0n, 1n, 2n, M64, M64 - 1n, 1n << 63n, (1n << 63n) - 1n, (1n << 63n) + 1n, 1n << 32n, (1n << 32n) - 1n, (1n << 32n) + 1n];
    // Fixed: every edge dividend (RDX:RAX from edge halves) by every edge divisor, both ops, register form.
    for (const ext of [6, 7]) {
      for (const d of edges) {
        for (const hi of edges) {
          for (const lo of [0n, 1n, M64, 1n << 63n, 0x1234_5678_9abc_def0n]) {
            const code = Uint8Array.from([0x48, 0xf7, 0xc0 | (ext << 3) | 3]); // div/idiv rbx
            const gpr = Array.from({ length: 16 }, () => rng.value());
            gpr[0] = lo;
            gpr[2] = hi;
            gpr[3] = d;
            gpr[4] = STACK;
            cases.push({ code, what: describeBytes(code), state: { gpr, rflags: 0n, xmm: new Uint8Array(256), mxcsr: 0x1f80 }, data: new Uint8Array(0), flagMask: 0 });
          }
        }
      }
    }
    // Random divisors >= 2^32 with RDX below the divisor (in range) or random.
    for (let n = 0; n < 800; n++) {
      const ext = 6 + (n & 1);
      const code = Uint8Array.from([0x48, 0xf7, 0xc0 | (ext << 3) | 3]);
      const gpr = Array.from({ length: 16 }, () => rng.value());
      const d = rng.value() | (1n << BigInt(32 + rng.below(32)));
      gpr[3] = d;
      gpr[4] = STACK;
      if (ext === 6) gpr[2] = rng.below(4) ? rng.value() % d : rng.value();
      else {
        // |RDX:RAX| < |d| * 2^63: a signed 128-bit dividend whose quotient mostly fits.
        const sd = toSigned(d, 64);
        const q = toSigned(rng.value(), 64) >> BigInt(rng.below(64));
        const ad = sd < 0n ? -sd : sd;
        const nn = (q * sd + (rng.value() % ad) * (q * sd < 0n ? -1n : 1n)) & ((1n << 128n) - 1n);
        gpr[0] = nn & M64;
        gpr[2] = nn >> 64n;
      }
      cases.push({ code, what: describeBytes(code), state: { gpr, rflags: 0n, xmm: new Uint8Array(256), mxcsr: 0x1f80 }, data: new Uint8Array(0), flagMask: 0 });
    }
    expect(differential(cases)).toEqual([]);
  });
});

describe.runIf(nativeAvailable() && hostIsZen())('undefined flags match this AMD host', () => {
  it('MUL IMUL DIV IDIV, every flag compared', () => {
    const rng = new Rng(15);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 150; n++) {
      for (const byte of [true, false]) {
        cases.push(mulCase(rng, 4, byte, ALL), mulCase(rng, 5, byte, ALL));
        cases.push(divCase(rng, 6, byte, ALL), divCase(rng, 7, byte, ALL));
      }
      cases.push(imulCase(rng, [0x0f, 0xaf], 0, ALL), imulCase(rng, [0x69], -1, ALL), imulCase(rng, [0x6b], 1, ALL));
    }
    expect(differential(cases)).toEqual([]);
  });
});

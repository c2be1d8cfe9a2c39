import { describe, expect, it } from 'vitest';
import { NATIVE_DATA_ADDR, nativeAvailable } from '../../testing/native.ts';
import { Rng, differential, type DiffCase, hostIsZen, describeBytes } from '../testing/differential.ts';

// Bit instructions and atomic exchanges against the host CPU: BT BTS BTR BTC (register and imm8
// offsets; memory operands with signed register offsets reaching far before and after the
// operand), BSF BSR (zero sources: ZF and the destination left alone), POPCNT, CMPXCHG, XADD,
// CMPXCHG8B, CMPXCHG16B (alignment #GP), 8/16/32/64-bit, with and without LOCK; BT* also with
// a 67 prefix ([edi+disp8], junk in RDI bits 63:32).
// Masks: BT* define CF only, BSF/BSR ZF only; the others define all six arithmetic flags.
// A second suite compares every flag on the kind of host bits.ts reproduces (AMD family 19h).
//
// Host findings (AMD EPYC, Zen 4):
// - BSF/BSR with a zero source leave the whole 64-bit destination alone, 32-bit operand size
//   included (no zero-extension); ZF = 1, PF = 1, CF OF SF AF = 0. With a nonzero source:
//   ZF = 0, PF = parity of the index, CF OF SF AF = 0.
// - BT BTS BTR BTC change only CF.
// - CMPXCHG r/m32: on a match EAX is not written (RAX bits 63:32 survive) and the destination
//   is (zero-extended); on a mismatch EAX is written (zero-extended) and a register
//   destination is not (its bits 63:32 survive). CMPXCHG8B likewise: a mismatch
//   zero-extends RAX and RDX, a match leaves them alone.

/** The memory operand's base (RDI): near the start of the data window, or in its middle for
 * BT* offsets that reach far before or after it. */
const NEAR = 0x100;
const FAR = 0x8000;
const STACK = NATIVE_DATA_ADDR + 0xf000n;
const M64 = (1n << 64n) - 1n;
const ALL = 0xcd5;
const CF = 0x1;
const ZF = 0x40;


interface Form {
  code: Uint8Array;
  size: number;
  rex: number;
  memory: boolean;
  disp: number;
  reg: number;
  rm: number;
  base: number; // data-window offset of RDI for memory operands
  addr32: boolean; // 67 prefix: RDI bits 63:32 are ignored
}

interface EncodeOptions {
  regField?: number; // ModRM.reg fixed (group), else random with REX.R
  imm?: number; // imm8 bytes
  byte?: boolean;
  memory?: boolean; // forced; else one in three
  lock?: boolean; // F0 with memory operands, half of the time
  mandatory?: number; // F3 (POPCNT)
  /** RDI is the memory base: keep ModRM.reg off it (the G operand is written or used as offset). */
  regNotRdi?: boolean;
  far?: boolean; // RDI in the middle of the window
  adsize?: boolean; // 67 prefix with memory operands, one time in four: [edi+disp8]
}

/** [F0] [66] [F3] [REX] opcode ModRM [disp8] [imm8]; register or [rdi+disp8] E operand. */
function encode(rng: Rng, opcode: number[], o: EncodeOptions = {}): Form {
  const prefixes: number[] = [];
  const sel = o.byte ? 0 : rng.below(3); // 0: default, 1: 66, 2: REX.W
  const memory = o.memory ?? rng.below(3) === 0;
  if (o.lock && memory && rng.below(2)) prefixes.push(0xf0);
  const addr32 = memory && o.adsize === true && rng.below(4) === 0;
  if (addr32) prefixes.push(0x67);
  if (sel === 1) prefixes.push(0x66);
  if (o.mandatory !== undefined) prefixes.push(o.mandatory);
  let rex = sel === 2 ? 0x48 : 0;
  let reg = o.regField ?? rng.below(8);
  let rm = memory ? 7 : rng.below(8);
  if (o.regField === undefined && rng.below(2)) rex |= 0x44;
  if (!memory && rng.below(2)) rex |= 0x41;
  if (rex === 0 && rng.below(4) === 0) rex = 0x40;
  if (memory && o.regNotRdi && reg === 7 && (rex & 4) === 0) reg = rng.below(7);
  if (rex) prefixes.push(rex);
  if (rex & 4) reg |= 8;
  const modrm = (memory ? 0x40 : 0xc0) | ((reg & 7) << 3) | rm;
  if (rex & 1) rm |= 8;
  const code = [...prefixes, ...opcode, modrm];
  const disp = memory ? rng.below(0x80) : 0;
  if (memory) code.push(disp);
  for (let i = 0; i < (o.imm ?? 0); i++) code.push(rng.below(256));
  const size = o.byte ? 1 : sel === 1 ? 2 : sel === 2 ? 8 : 4;
  return { code: Uint8Array.from(code), size, rex, memory, disp, reg, rm, base: o.far ? FAR : NEAR, addr32 };
}

function setReg(gpr: bigint[], r: number, size: number, rex: number, v: bigint): void {
  const m = (1n << BigInt(size * 8)) - 1n;
  if (size === 1 && rex === 0 && r >= 4 && r < 8) gpr[r - 4] = (gpr[r - 4]! & ~0xff00n) | ((v & 0xffn) << 8n);
  else gpr[r] = (gpr[r]! & ~m) | (v & m);
}

function getReg(gpr: bigint[], r: number, size: number, rex: number): bigint {
  if (size === 1 && rex === 0 && r >= 4 && r < 8) return (gpr[r - 4]! >> 8n) & 0xffn;
  return gpr[r]! & ((1n << BigInt(size * 8)) - 1n);
}

function poke(data: Uint8Array, at: number, size: number, v: bigint): void {
  for (let i = 0; i < size; i++) data[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

function peek(data: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[at + i]!);
  return v;
}

function setE(f: Form, gpr: bigint[], data: Uint8Array, v: bigint): void {
  if (f.memory) poke(data, f.base + f.disp, f.size, v);
  else setReg(gpr, f.rm, f.size, f.rex, v);
}

function getE(f: Form, gpr: bigint[], data: Uint8Array): bigint {
  return f.memory ? peek(data, f.base + f.disp, f.size) : getReg(gpr, f.rm, f.size, f.rex);
}

/** Random and edge values of `bits` bits, zero and single bits often. */
function operand(rng: Rng, bits: number): bigint {
  const w = BigInt(bits);
  const m = (1n << w) - 1n;
  switch (rng.below(5)) {
    case 0: return 0n;
    case 1: return 1n << BigInt(rng.below(bits));
    case 2: return [1n, m, 1n << (w - 1n), (1n << (w - 1n)) - 1n, m - 1n][rng.below(5)]!;
    case 3: return (rng.value() & m) >> BigInt(rng.below(bits)); // few high bits
    default: return rng.value() & m;
  }
}

/** Random registers (RDI the memory base) and data: random bytes around the base. */
function baseState(rng: Rng, f: Form): { gpr: bigint[]; data: Uint8Array } {
  const gpr = Array.from({ length: 16 }, () => rng.value());
  gpr[4] = STACK;
  if (f.memory) gpr[7] = NATIVE_DATA_ADDR + BigInt(f.base) + (f.addr32 ? rng.value() << 32n & M64 : 0n);
  const data = new Uint8Array(f.base + 0x100);
  data.set(rng.bytes(0x100), f.base);
  return { gpr, data };
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

/**
 * BT* Ev,Gv (0F A3/AB/B3/BB): register offsets, small (edges, a few operands either way) or,
 * with `far`, up to 28 KiB before or after RDI (the middle of the window).
 */
function btRegCase(rng: Rng, opcode: number, memory: boolean, far: boolean, strict = false): DiffCase {
  const f = encode(rng, [0x0f, opcode], { memory, far, lock: opcode !== 0xa3, regNotRdi: true, adsize: true });
  let { gpr, data } = baseState(rng, f);
  const w = f.size * 8;
  // Offsets in bits; memory targets stay inside the window.
  let off: number;
  if (far) off = rng.below(2) ? rng.below(0x7000 * 8) : -rng.below(0x7000 * 8);
  else if (rng.below(2)) off = rng.below(4 * w) - 2 * w;
  else off = [0, 1, w - 1, w, w + 1, -1, -w, -w - 1, 2 * w - 1][rng.below(9)]!;
  if (w === 16) off = (off << 16) >> 16; // a 16-bit offset reaches +-4 KiB
  // Junk above the operand size must be ignored.
  const value = w === 64 ? BigInt(off) & M64 : (rng.value() & ~((1n << BigInt(w)) - 1n)) | (BigInt(off) & ((1n << BigInt(w)) - 1n));
  gpr[f.reg] = value; // the G register holds the offset
  if (memory) {
    const target = f.base + f.disp + Math.floor(off / w) * (w / 8);
    if (target + 16 > data.length) {
      const grown = new Uint8Array(target + 16);
      grown.set(data);
      data = grown;
    }
    data.set(rng.bytes(24), target - 8);
  }
  return makeCase(rng, f, gpr, data, strict ? ALL : CF);
}

/** BT* Ev,Ib (0F BA /4-/7). */
function btImmCase(rng: Rng, ext: number, strict = false): DiffCase {
  const f = encode(rng, [0x0f, 0xba], { regField: ext, imm: 1, lock: ext !== 4, adsize: true });
  const { gpr, data } = baseState(rng, f);
  if (rng.below(2)) setE(f, gpr, data, operand(rng, f.size * 8));
  return makeCase(rng, f, gpr, data, strict ? ALL : CF);
}

/** BSF/BSR Gv,Ev and POPCNT Gv,Ev. */
function scanCase(rng: Rng, opcode: number, popcnt: boolean, strict = false): DiffCase {
  const f = encode(rng, [0x0f, opcode], { mandatory: popcnt ? 0xf3 : undefined });
  const { gpr, data } = baseState(rng, f);
  setE(f, gpr, data, operand(rng, f.size * 8));
  return makeCase(rng, f, gpr, data, popcnt || strict ? ALL : ZF);
}

/** CMPXCHG Eb/Ev,Gb/Gv: the accumulator equals the destination half of the time. */
function cmpxchgCase(rng: Rng, byte: boolean): DiffCase {
  const f = encode(rng, [0x0f, byte ? 0xb0 : 0xb1], { byte, lock: true });
  const { gpr, data } = baseState(rng, f);
  if (rng.below(2)) setE(f, gpr, data, operand(rng, f.size * 8));
  if (rng.below(2)) setReg(gpr, 0, f.size, 0, getE(f, gpr, data));
  return makeCase(rng, f, gpr, data, ALL);
}

/** XADD Eb/Ev,Gb/Gv. */
function xaddCase(rng: Rng, byte: boolean): DiffCase {
  const f = encode(rng, [0x0f, byte ? 0xc0 : 0xc1], { byte, lock: true, regNotRdi: true });
  const { gpr, data } = baseState(rng, f);
  if (rng.below(2)) setE(f, gpr, data, operand(rng, f.size * 8));
  if (rng.below(2)) setReg(gpr, f.reg, f.size, f.rex, operand(rng, f.size * 8));
  return makeCase(rng, f, gpr, data, ALL);
}

/** CMPXCHG8B / CMPXCHG16B [rdi+disp8]: aligned mostly, equal half of the time. */
function cmpxchg8bCase(rng: Rng, wide: boolean): DiffCase {
  const prefixes: number[] = [];
  if (rng.below(2)) prefixes.push(0xf0);
  if (!wide && rng.below(8) === 0) prefixes.push(0x66);
  if (wide) prefixes.push(0x48 | rng.below(8));
  else if (rng.below(2)) prefixes.push(0x40 | rng.below(8)); // REX without W: still 8B
  const disp = rng.below(4) ? rng.below(8) * 16 : rng.below(0x80);
  const rexB = (prefixes.at(-1)! & 0xf0) === 0x40 ? prefixes.at(-1)! & 1 : 0;
  const code = Uint8Array.from([...prefixes, 0x0f, 0xc7, 0x4f, disp]);
  const gpr = Array.from({ length: 16 }, () => rng.value());
  gpr[4] = STACK;
  gpr[7 | (rexB << 3)] = NATIVE_DATA_ADDR + BigInt(NEAR);
  const data = new Uint8Array(NEAR + 0x100);
  data.set(rng.bytes(0x100), NEAR);
  const n = wide ? 8 : 4;
  if (rng.below(2)) {
    // Make RDX:RAX (EDX:EAX) equal the memory operand.
    const lo = peek(data, NEAR + disp, n);
    const hi = peek(data, NEAR + disp + n, n);
    setReg(gpr, 0, n, 0, lo);
    setReg(gpr, 2, n, 0, hi);
  }
  return { code, what: describeBytes(code), state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: new Uint8Array(256), mxcsr: 0x1f80 }, data, flagMask: ALL };
}

/** AMD family 19h (Zen 3/4): the hosts whose undefined-flag choices bits.ts reproduces. */

describe.runIf(nativeAvailable())('bit instructions and atomic exchanges agree with the host CPU', () => {
  it('BT BTS BTR BTC with register offsets (register and far-reaching memory operands)', () => {
    const rng = new Rng(21);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 250; n++) {
      for (const opcode of [0xa3, 0xab, 0xb3, 0xbb]) {
        cases.push(btRegCase(rng, opcode, false, false));
        cases.push(btRegCase(rng, opcode, true, false));
        cases.push(btRegCase(rng, opcode, true, n % 2 === 0));
      }
    }
    expect(differential(cases)).toEqual([]);
  });

  it('BT BTS BTR BTC with imm8 offsets', () => {
    const rng = new Rng(22);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 300; n++) for (const ext of [4, 5, 6, 7]) cases.push(btImmCase(rng, ext));
    expect(differential(cases)).toEqual([]);
  });

  it('BSF BSR POPCNT', () => {
    const rng = new Rng(23);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 500; n++) {
      cases.push(scanCase(rng, 0xbc, false));
      cases.push(scanCase(rng, 0xbd, false));
      cases.push(scanCase(rng, 0xb8, true));
    }
    expect(differential(cases)).toEqual([]);
  });

  it('CMPXCHG and XADD', () => {
    const rng = new Rng(24);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 400; n++) {
      cases.push(cmpxchgCase(rng, true));
      cases.push(cmpxchgCase(rng, false));
      cases.push(xaddCase(rng, true));
      cases.push(xaddCase(rng, false));
    }
    expect(differential(cases)).toEqual([]);
  });

  it('CMPXCHG8B and CMPXCHG16B (#GP on a misaligned 16-byte operand)', () => {
    const rng = new Rng(25);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 400; n++) {
      cases.push(cmpxchg8bCase(rng, false));
      cases.push(cmpxchg8bCase(rng, true));
    }
    expect(differential(cases)).toEqual([]);
  });
});

describe.runIf(nativeAvailable() && hostIsZen())('undefined flags match this AMD host', () => {
  it('BT BTS BTR BTC BSF BSR, every flag compared', () => {
    const rng = new Rng(26);
    const cases: DiffCase[] = [];
    for (let n = 0; n < 100; n++) {
      for (const opcode of [0xa3, 0xab, 0xb3, 0xbb]) {
        cases.push(btRegCase(rng, opcode, false, false, true));
        cases.push(btRegCase(rng, opcode, true, n % 4 === 0, true));
      }
      for (const ext of [4, 5, 6, 7]) cases.push(btImmCase(rng, ext, true));
      for (let k = 0; k < 3; k++) {
        cases.push(scanCase(rng, 0xbc, false, true));
        cases.push(scanCase(rng, 0xbd, false, true));
      }
    }
    expect(differential(cases)).toEqual([]);
  });
});

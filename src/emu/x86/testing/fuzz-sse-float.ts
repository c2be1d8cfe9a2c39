/**
 * Random-case setup of the `sse-float` fuzz family (test-only; see SIMD_SETUP in fuzz.ts): SSE,
 * SSE2, SSE3 and SSE4.1 floating-point arithmetic, compares and conversions.
 *
 * XMM registers and the memory operand area are filled lane by lane in the instruction's source
 * format (binary32, binary64 or int32) from edge values: signed zeros, the smallest and largest
 * denormals and normals, infinities, QNaNs and SNaNs with payloads, values at rounding
 * boundaries (1 + ulp, 2^-24 next to 1.0, halves for the integer conversions), the int32/int64
 * limits and their neighbours as floating-point values, binary32 limits as binary64 values
 * (CVTSD2SS overflow and underflow), values of nearby exponents (cancellation, inexact sums) and
 * random bit patterns. Registers are copied onto each other now and then (equal operands).
 * MXCSR: random rounding mode, FTZ and DAZ, random sticky flags, all exceptions masked three
 * times in four and a random set of them unmasked otherwise (#XM). Integer sources (CVTSI2SS,
 * CVTDQ2PS, CVTPI2PS) get int32/int64 limits, 2^24 and 2^53 neighbours. The x87 TOP and tags are
 * random (the MMX forms reset them). Memory operands are 16-byte aligned three times in four.
 * RCP/RSQRT results are compared within the SDM's error bound (DiffCase.xmmUlps32).
 */
import { Insn, decode } from '../decoder.ts';
import type { Opcode } from '../opcode-table.ts';
import { describeBytes, type DiffCase, type Rng } from './differential.ts';

/** The mnemonics of the family (everything ops/sse-float.ts binds). */
export const SSE_FLOAT_MNEMONICS: readonly string[] = [
  ...['add', 'sub', 'mul', 'div', 'min', 'max', 'sqrt'].flatMap((s) => [`${s}ps`, `${s}pd`, `${s}ss`, `${s}sd`]),
  'rcpps', 'rcpss', 'rsqrtps', 'rsqrtss', 'cmpps', 'cmppd', 'cmpss', 'cmpsd', 'comiss', 'ucomiss', 'comisd', 'ucomisd',
  'cvtsi2ss', 'cvtsi2sd', 'cvtss2si', 'cvttss2si', 'cvtsd2si', 'cvttsd2si', 'cvtps2pd', 'cvtpd2ps', 'cvtss2sd',
  'cvtsd2ss', 'cvtdq2ps', 'cvtps2dq', 'cvttps2dq', 'cvtdq2pd', 'cvtpd2dq', 'cvttpd2dq', 'cvtpi2ps', 'cvtpi2pd',
  'cvtps2pi', 'cvttps2pi', 'cvtpd2pi', 'cvttpd2pi', 'addsubps', 'addsubpd', 'haddps', 'haddpd', 'hsubps', 'hsubpd',
  'movsldup', 'movshdup', 'movddup', 'roundps', 'roundpd', 'roundss', 'roundsd', 'dpps', 'dppd', 'blendps',
  'blendpd', 'blendvps', 'blendvpd',
];

/**
 * RCP/RSQRT: each side within 1.5 * 2^-12 relative error of the true value, i.e. at most 6144
 * binary32 units in the last place; the emulator is within one, so the two within 6145.
 */
export const RCP_ULPS = 6145;

const F32_EDGES = [
  0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x807fffff, 0x00400000, 0x00800000, 0x80800000, 0x00800001, 0x7f7fffff,
  0xff7fffff, 0x7f000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0x7fa00000, 0x7f800001,
  0xffa5a5a5, 0x3f800000, 0xbf800000, 0x3f800001, 0x3f7fffff, 0x3f7ffffe, 0x33800000, 0x33800001, 0x34000000,
  0xb3800000, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000, 0xc0200000, 0x4b800000, 0x4b800001, 0x4b000000,
  0x4f000000, 0x4effffff, 0xcf000000, 0xcf000001, 0x5f000000, 0x5effffff, 0xdf000000, 0xdf000001, 0x7e800000,
  0x7e7fffff, 0x0c000000, 0x40400000,
];

const F64_EDGES: readonly bigint[] = [
  0n, 0x8000000000000000n, 1n, 0x8000000000000001n, 0x000fffffffffffffn, 0x800fffffffffffffn, 0x0008000000000000n,
  0x0010000000000000n, 0x8010000000000000n, 0x0010000000000001n, 0x7fefffffffffffffn, 0xffefffffffffffffn,
  0x7fe0000000000000n, 0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 0xfff8000000000000n,
  0x7ff8123456789abcn, 0x7ff4000000000000n, 0x7ff0000000000001n, 0xfff5a5a5a5a5a5a5n, 0x3ff0000000000000n,
  0xbff0000000000000n, 0x3ff0000000000001n, 0x3fefffffffffffffn, 0x3ca0000000000000n, 0x3ca0000000000001n,
  0x3fe0000000000000n, 0xbfe0000000000000n, 0x3ff8000000000000n, 0x4004000000000000n, 0xc004000000000000n,
  0x41e0000000000000n, 0x41dfffffffc00000n, 0x41dfffffffe00000n, 0xc1e0000000000000n, 0xc1e0000000100000n,
  0xc1e0000000200000n, 0x43e0000000000000n, 0x43dfffffffffffffn, 0xc3e0000000000000n, 0xc3e0000000000001n,
  0x4340000000000000n, 0x4340000000000001n, 0x47efffffe0000000n, 0x47efffffefffffffn, 0x47effffff0000000n,
  0xc7effffff0000001n, 0x3810000000000000n, 0x380fffffffffffffn, 0x36a0000000000000n, 0x3690000000000000n,
  0x36a8000000000000n, 0x3690000000000001n, 0x3fd5555555555555n,
];

const I32_EDGES = [
  0, 1, -1, 2, 0x1000000, 0x1000001, 0x1000003, -0x1000001, 0x7fffffff, -0x80000000, -0x7fffffff, 0x7fffffc0,
  0x7fffffbf, 0x7fffff80, 0x40000001, 12345,
];

const I64_EDGES: readonly bigint[] = [
  0n, 1n, 0xffffffffffffffffn, 0x20000000000001n, 0x20000000000003n, 0x7fffffffffffffffn, 0x8000000000000000n,
  0x8000000000000001n, 0x7ffffffffffffc00n, 0x7ffffffffffffbffn, 0xffffffff80000000n, 0x1000001n, 0x4000000000000001n,
  0xffe0000000000001n,
];

type MutableCase = { -readonly [K in keyof DiffCase]: DiffCase[K] };
type Format = 'f32' | 'f64' | 'i32';

/** The format of an instruction's floating-point (or integer) sources. */
function sourceFormat(mnemonic: string): Format {
  if (/^cvt(dq|pi|si)2/.test(mnemonic)) return 'i32';
  if (/^cvtt?(ps|ss)2/.test(mnemonic)) return 'f32';
  if (/^cvtt?(pd|sd)2/.test(mnemonic) || /(pd|sd)$/.test(mnemonic)) return 'f64';
  return 'f32';
}

function f32Lane(rng: Rng): number {
  if (rng.below(12) === 0) return (rng.below(2) << 31) >>> 0; // zeros (ZE, exact results)
  switch (rng.below(6)) {
    case 0: case 1: return F32_EDGES[rng.below(F32_EDGES.length)]! >>> 0;
    case 2: return rng.u32();
    case 3: // a normal value of a nearby exponent (ordinary rounding and cancellation)
      return ((rng.below(2) << 31) | ((120 + rng.below(16)) << 23) | (rng.u32() & 0x7fffff)) >>> 0;
    case 4: // an integral-ish value of moderate size (conversions and ROUND)
      return ((rng.below(2) << 31) | ((126 + rng.below(34)) << 23) | (rng.u32() & (rng.below(2) ? 0x7fffff : 0x7ff000))) >>> 0;
    default: // an extreme exponent (overflow, underflow, denormal results)
      return ((rng.below(2) << 31) | ((rng.below(2) ? rng.below(24) : 230 + rng.below(25)) << 23) | (rng.u32() & 0x7fffff)) >>> 0;
  }
}

function f64Lane(rng: Rng): bigint {
  const random52 = () => (BigInt(rng.u32() & 0xfffff) << 32n) | BigInt(rng.u32());
  const sign = () => BigInt(rng.below(2)) << 63n;
  if (rng.below(12) === 0) return sign();
  switch (rng.below(6)) {
    case 0: case 1: return F64_EDGES[rng.below(F64_EDGES.length)]!;
    case 2: return (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
    case 3: return sign() | (BigInt(1016 + rng.below(16)) << 52n) | random52();
    case 4: // binary32-range values (CVTSD2SS) and moderate integers
      return sign() | (BigInt(rng.below(2) ? 1023 + rng.below(66) : 874 + rng.below(20)) << 52n) | (random52() & (rng.below(2) ? 0xfffffffffffffn : 0xffffffe000000n));
    default: return sign() | (BigInt(rng.below(2) ? rng.below(60) : 1990 + rng.below(57)) << 52n) | random52();
  }
}

/** Fills 16 bytes with lanes of the format (or, now and then, of another one). */
function fill(rng: Rng, b: Uint8Array, format: Format): void {
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  const pick = rng.below(10);
  const f: Format = pick === 0 ? 'f32' : pick === 1 ? 'f64' : format;
  for (let i = 0; i < 16; i += f === 'f64' ? 8 : 4) {
    if (f === 'f64') dv.setBigUint64(i, f64Lane(rng), true);
    else if (f === 'i32') dv.setInt32(i, rng.below(2) ? I32_EDGES[rng.below(I32_EDGES.length)]! : rng.u32() | 0, true);
    else dv.setUint32(i, f32Lane(rng), true);
  }
}

/** A random MXCSR (see the file comment). */
function randomMxcsr(rng: Rng): number {
  let m = rng.below(4) << 13;
  if (rng.below(4) === 0) m |= 0x8000; // FTZ
  if (rng.below(4) === 0) m |= 0x40; // DAZ
  if (rng.below(2)) m |= rng.u32() & 0x3f; // sticky flags
  m |= rng.below(4) === 0 ? (rng.u32() & 0x1f80) : 0x1f80;
  return m;
}

/** The SIMD_SETUP hook of the family. */
export function sseFloatSetup(rng: Rng, op: Opcode, c: MutableCase): void {
  const format = sourceFormat(op.mnemonic);
  const xmm = c.state.xmm;
  for (let r = 0; r < 16; r++) fill(rng, xmm.subarray(r * 16, r * 16 + 16), format);
  for (let k = rng.below(4); k > 0; k--) {
    const to = rng.below(16) * 16;
    const from = rng.below(16) * 16;
    xmm.set(xmm.slice(from, from + 16), to);
  }
  c.state.mxcsr = randomMxcsr(rng);
  // MMX registers: int32 pairs (CVTPI2PS/PD sources); random TOP and tags.
  const x87 = c.state.x87!;
  const st = new DataView(x87.st.buffer, x87.st.byteOffset);
  for (let i = 0; i < 8; i++) {
    st.setInt32(i * 10, I32_EDGES[rng.below(I32_EDGES.length)]!, true);
    st.setInt32(i * 10 + 4, rng.below(2) ? I32_EDGES[rng.below(I32_EDGES.length)]! : rng.u32() | 0, true);
  }
  x87.fsw = rng.below(8) << 11;
  x87.ftw = rng.u32() & 0xff;
  if (rng.below(32) === 0) {
    // An unmasked x87 invalid-operation exception pending: the MMX forms raise #MF.
    x87.fcw = 0x37e;
    x87.fsw |= 0x8081;
  }
  const data = new Uint8Array(c.data);
  for (let at = 0x400; at < 0x500; at += 16) fill(rng, data.subarray(at, at + 16), format);
  c.data = data;
  // Integer sources in general registers.
  if (op.mnemonic === 'cvtsi2ss' || op.mnemonic === 'cvtsi2sd') {
    const gpr = [...c.state.gpr];
    for (let r = 0; r < 16; r++) {
      if (r === 4 || r === 7 || rng.below(2)) continue;
      gpr[r] = rng.below(2) ? I64_EDGES[rng.below(I64_EDGES.length)]! : BigInt.asUintN(64, BigInt(I32_EDGES[rng.below(I32_EDGES.length)]!));
    }
    c.state = { ...c.state, gpr };
    if (rng.below(2)) for (let at = 0x400; at < 0x500; at += 8) new DataView(data.buffer).setBigUint64(at, I64_EDGES[rng.below(I64_EDGES.length)]!, true);
  }
  if (/^rcp|^rsqrt/.test(op.mnemonic)) c.xmmUlps32 = RCP_ULPS;
  // Align a [rdi + disp8] operand to 16 bytes three times in four.
  const d = new Insn();
  decode(c.code, 0, c.code.length, c.bits === 32 ? 32 : 64, d);
  if (d.isMemory && rng.below(4) !== 0) {
    const code = new Uint8Array(c.code);
    const at = code.length - 1 - op.immediates.length;
    code[at] = code[at]! & 0x70;
    c.code = code;
    c.what = `${op.encoding} (${op.mnemonic}${c.bits === 32 ? ', 32-bit' : ''}): ${describeBytes(code, c.bits === 32 ? 32 : 64)}`;
  }
}

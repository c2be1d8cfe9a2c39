/**
 * Random-case setup of the `x87` fuzz family (test-only; see SIMD_SETUP in fuzz.ts): every
 * D8-DF instruction and FWAIT.
 *
 * The instruction bytes are rebuilt here (the generic generator knows nothing of exact ModRM
 * bytes such as D9 E0 or of register-only x87 forms): optional REX (no B/X bits for memory
 * forms) and, now and then, 66 (which selects the 16-bit FNSTENV/FLDENV/FNSAVE/FRSTOR images);
 * memory operands are [rdi + disp8] and get a value of the operand's format.
 *
 * x87 state: random TOP; registers in use three times in four (sometimes all, to provoke stack
 * overflow, sometimes only ST(0)/ST(1)); values of every class (short significands that make
 * results exact in double precision, full 64-bit significands, small integers, zeros,
 * denormals, pseudo-denormals, unnormals, infinities, quiet/signalling NaNs with payloads,
 * pseudo-NaNs, exponents at the overflow/underflow edges); FCW with random rounding and
 * precision control and, one case in five, random unmasked exceptions; FSW with random
 * condition bits and masked sticky flags (rarely a pending unmasked one: #MF on the next
 * waiting instruction). Transcendental operands stay in the SDM's domains and the results are
 * compared within TRANS_ULPS, with C1 (rounding direction) masked. FNSTENV/FNSAVE are followed
 * by stores that zero the FIP/FCS/FOP/FDP/FDS fields of the image (not compared).
 */
import { K, SZ, type Opcode } from '../opcode-table.ts';
import { describeBytes, type DiffCase, type Rng } from './differential.ts';

/** The mnemonics of the family (everything ops/x87.ts binds). */
export const X87_MNEMONICS: readonly string[] = [
  'fld', 'fst', 'fstp', 'fild', 'fist', 'fistp', 'fisttp', 'fbld', 'fbstp', 'fxch', 'fcmovb', 'fcmove', 'fcmovbe',
  'fcmovu', 'fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu', 'fadd', 'faddp', 'fiadd', 'fsub', 'fsubp', 'fisub', 'fsubr',
  'fsubrp', 'fisubr', 'fmul', 'fmulp', 'fimul', 'fdiv', 'fdivp', 'fidiv', 'fdivr', 'fdivrp', 'fidivr', 'fprem',
  'fprem1', 'fabs', 'fchs', 'frndint', 'fscale', 'fsqrt', 'fxtract', 'fcom', 'fcomp', 'fcompp', 'fucom', 'fucomp',
  'fucompp', 'ficom', 'ficomp', 'fcomi', 'fcomip', 'fucomi', 'fucomip', 'ftst', 'fxam', 'fsin', 'fcos', 'fsincos',
  'fptan', 'fpatan', 'f2xm1', 'fyl2x', 'fyl2xp1', 'fld1', 'fldz', 'fldpi', 'fldl2e', 'fldln2', 'fldl2t', 'fldlg2',
  'fincstp', 'fdecstp', 'ffree', 'fninit', 'fnclex', 'fldcw', 'fnstcw', 'fnstsw', 'fnstenv', 'fldenv',
  'fnsave', 'frstor', 'fnop', 'fwait',
];

/**
 * Transcendental results: the emulator evaluates in double precision after an exact argument
 * reduction, the host to about one 64-bit ulp; they were measured up to ~4850 units of the
 * 64-bit significand apart (x87-trans.ts). Compared within 2^13.
 */
export const TRANS_ULPS = 1 << 13;
const TRANSCENDENTAL = new Set(['fsin', 'fcos', 'fsincos', 'fptan', 'fpatan', 'f2xm1', 'fyl2x', 'fyl2xp1']);
const FSW_C1 = 0x200;

type MutableCase = { -readonly [K in keyof DiffCase]: DiffCase[K] };
/** Memory operand formats. */
type Format = 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64' | 'bcd' | 'cw' | 'env' | 'none';

const BIAS = 16383;
/** Data window offset of [rdi] (fuzz.ts DATA_PTR). */
const DATA_OFFSET = 0x400;

function u64(rng: Rng): bigint {
  return (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
}

/** A random 80-bit value [sign/exponent, significand] of a random class. */
export function randomF80(rng: Rng): [number, bigint] {
  const sign = rng.below(2) << 15;
  const J = 1n << 63n;
  const pick = rng.below(100);
  let se: number;
  let sig: bigint;
  if (pick < 25) {
    // short significand (exact in double precision), moderate exponent
    se = BIAS - 40 + rng.below(80);
    sig = J | (u64(rng) & 0x7fff_ffff_ffff_f800n & (rng.below(2) ? 0x7fff_ff00_0000_0000n : -1n));
  } else if (pick < 45) {
    se = BIAS - 70 + rng.below(140);
    sig = J | u64(rng);
  } else if (pick < 55) {
    // small integers and halves
    const v = BigInt(rng.below(4) === 0 ? rng.below(1 << 20) + 1 : rng.below(64) + 1);
    const shift = 63n - BigInt(v.toString(2).length - 1);
    se = BIAS + v.toString(2).length - 1 - rng.below(3);
    sig = v << shift;
  } else if (pick < 60) {
    se = 0;
    sig = 0n;
  } else if (pick < 65) {
    se = 0;
    sig = rng.below(8) === 0 ? J | u64(rng) : u64(rng) >> BigInt(rng.below(64));
    if (sig === 0n) sig = 1n;
  } else if (pick < 69) {
    se = 0x7fff;
    sig = J;
  } else if (pick < 74) {
    se = 0x7fff;
    sig = J | (1n << 62n) | (rng.below(2) ? u64(rng) & ((1n << 62n) - 1n) : 0n);
  } else if (pick < 77) {
    se = 0x7fff;
    sig = J | (u64(rng) & ((1n << 62n) - 1n)) | 1n;
  } else if (pick < 80) {
    // unsupported: unnormal, pseudo-infinity, pseudo-NaN
    se = rng.below(2) ? 1 + rng.below(0x7ffe) : 0x7fff;
    sig = u64(rng) >> 1n;
  } else if (pick < 90) {
    // near the ends of the exponent range
    se = rng.below(2) ? 0x7ffe - rng.below(40) : 1 + rng.below(70);
    sig = J | (rng.below(2) ? u64(rng) : u64(rng) & 0x7fff_ffff_ffff_f800n);
  } else {
    // next to powers of two
    se = BIAS - 20 + rng.below(40);
    sig = [J, J | 1n, (1n << 64n) - 1n, (1n << 64n) - 2n, J | (1n << 11n), (1n << 64n) - (1n << 11n)][rng.below(6)]!;
  }
  return [sign | se, sig];
}

function put80(b: Uint8Array, at: number, v: [number, bigint]): void {
  const dv = new DataView(b.buffer, b.byteOffset);
  dv.setBigUint64(at, v[1], true);
  dv.setUint16(at + 8, v[0], true);
}

const F32_EDGES = [0, 0x80000000, 1, 0x807fffff, 0x00800000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc12345,
  0x7fa00000, 0x3f800000, 0xbf800000, 0x3f7fffff, 0x3fc00000, 0x4b000001, 0x4f000000, 0xcf000000];
const F64_EDGES = [0n, 0x8000000000000000n, 1n, 0x000fffffffffffffn, 0x0010000000000000n, 0x7fefffffffffffffn,
  0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 0xfff8123456789abcn, 0x7ff4000000000000n,
  0x3ff0000000000000n, 0xbff0000000000000n, 0x3fefffffffffffffn, 0x43e0000000000000n, 0xc3e0000000000000n,
  0x41e0000000000000n, 0x3fd5555555555555n];

/** Writes a random memory operand of `fmt` at `at`. */
function randomOperand(rng: Rng, fmt: Format, data: Uint8Array, at: number): void {
  const dv = new DataView(data.buffer, data.byteOffset);
  const edge = rng.below(3) === 0;
  switch (fmt) {
    case 'f32':
      if (edge) dv.setUint32(at, F32_EDGES[rng.below(F32_EDGES.length)]!, true);
      else dv.setFloat32(at, (rng.below(2) ? -1 : 1) * (rng.u32() / 2 ** 32) * 2 ** (rng.below(80) - 40), true);
      break;
    case 'f64':
      if (edge) dv.setBigUint64(at, F64_EDGES[rng.below(F64_EDGES.length)]!, true);
      else if (rng.below(2)) dv.setFloat64(at, (rng.below(2) ? -1 : 1) * (rng.u32() / 2 ** 20) * 2 ** (rng.below(80) - 40), true);
      else dv.setBigUint64(at, u64(rng), true);
      break;
    case 'i16': dv.setInt16(at, edge ? [0, 1, -1, 32767, -32768][rng.below(5)]! : rng.u32(), true); break;
    case 'i32': dv.setInt32(at, edge ? [0, 1, -1, 0x7fffffff, -0x80000000, 0x1000001][rng.below(6)]! : rng.u32() >> rng.below(32), true); break;
    case 'i64': dv.setBigUint64(at, edge ? [0n, 1n, (1n << 64n) - 1n, (1n << 63n) - 1n, 1n << 63n][rng.below(5)]! : u64(rng) >> BigInt(rng.below(64)), true); break;
    case 'f80': put80(data, at, randomF80(rng)); break;
    case 'bcd': {
      // valid digits only (the SDM leaves invalid ones undefined)
      const digits = 1 + rng.below(18);
      for (let i = 0; i < 9; i++) {
        const d = (k: number) => (k < digits ? rng.below(10) : 0);
        data[at + i] = d(2 * i) | (d(2 * i + 1) << 4);
      }
      data[at + 9] = rng.below(2) << 7;
      break;
    }
    case 'cw': dv.setUint16(at, randomFcw(rng), true); break;
    default:
  }
}

/** A control word: random RC and PC; exceptions masked four times in five. */
function randomFcw(rng: Rng): number {
  const masks = rng.below(5) === 0 ? rng.u32() & 0x3f : 0x3f;
  return 0x40 | masks | ([3, 3, 3, 2, 0, 1][rng.below(6)]! << 8) | (rng.below(4) << 10);
}

/** A status word for a control word: TOP, random C0-C3, masked sticky flags (rarely a pending one). */
function randomFsw(rng: Rng, fcw: number, top: number): number {
  let flags = rng.u32() & 0x3f & (rng.below(20) === 0 ? 0x3f : fcw);
  if (rng.below(4) !== 0) flags = 0;
  let fsw = (top << 11) | (rng.u32() & 0x4700) | flags;
  if ((flags & ~fcw & 0x3f) !== 0) fsw |= 0x8080;
  return fsw;
}

/** The operand format of an x87 memory instruction. */
function formatOf(op: Opcode): Format {
  const m = op.operands[0];
  if (!m || m.kind !== K.M) return 'none';
  const n = op.mnemonic;
  if (n === 'fbld' || n === 'fbstp') return 'bcd';
  if (m.size === SZ.ENV) return 'env';
  if (n === 'fldcw' || n === 'fnstcw' || n === 'fnstsw') return 'cw';
  if (n.startsWith('fi')) return m.size === SZ.W ? 'i16' : m.size === SZ.D ? 'i32' : 'i64';
  return m.size === SZ.D ? 'f32' : m.size === SZ.Q ? 'f64' : 'f80';
}

const unit = (rng: Rng) => rng.u32() / 2 ** 32;

/** Sets ST(i) (in the image `st`) to the double x with its low 11 significand bits random. */
function setFromDouble(rng: Rng, st: Uint8Array, i: number, x: number): void {
  const dv = new DataView(st.buffer, st.byteOffset);
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x);
  const bits = b.getBigUint64(0);
  const e = Number((bits >> 52n) & 0x7ffn);
  const sign = Number(bits >> 63n) << 15;
  if (e === 0) {
    dv.setBigUint64(i * 10, 0n, true);
    dv.setUint16(i * 10 + 8, sign, true);
    return;
  }
  dv.setBigUint64(i * 10, (1n << 63n) | ((bits & ((1n << 52n) - 1n)) << 11n) | BigInt(rng.below(2048)), true);
  dv.setUint16(i * 10 + 8, sign | (e - 1023 + BIAS), true);
}

/** Transcendental operands within the SDM's domains (the hardware leaves the rest undefined). */
function shapeTranscendental(rng: Rng, n: string, st: Uint8Array): void {
  // One case in five keeps the random classes (NaNs, infinities, denormals...), except finite
  // non-zero operands outside the domains of F2XM1 (|x| ≤ 1) and FYL2XP1 (|x| < 1 − √2/2).
  const exp = new DataView(st.buffer, st.byteOffset).getUint16(8, true) & 0x7fff;
  const outside = (n === 'f2xm1' || n === 'fyl2xp1') && exp !== 0 && exp !== 0x7fff && exp >= BIAS - 2;
  if (rng.below(5) === 0 && !outside) return;
  const sgn = () => (rng.below(2) ? -1 : 1);
  const y = () => sgn() * 2 ** (rng.below(40) - 20) * (0.5 + unit(rng));
  switch (n) {
    case 'f2xm1': setFromDouble(rng, st, 0, sgn() * unit(rng) ** (1 + rng.below(8))); break;
    case 'fyl2xp1': setFromDouble(rng, st, 0, sgn() * 0.29 * unit(rng) ** (1 + rng.below(8))); setFromDouble(rng, st, 1, y()); break;
    case 'fyl2x':
      setFromDouble(rng, st, 0, rng.below(4) === 0 ? 1 + sgn() * unit(rng) * 2 ** -rng.below(40) : 2 ** (rng.below(80) - 40) * (0.5 + unit(rng)));
      setFromDouble(rng, st, 1, y());
      break;
    case 'fpatan': setFromDouble(rng, st, 0, y()); setFromDouble(rng, st, 1, y()); break;
    default: setFromDouble(rng, st, 0, sgn() * 2 ** (rng.below(90) - 30) * (0.5 + unit(rng)));
  }
}

/** The ModRM byte (or -1) and memory-ness an entry's encoding requires. */
function encodingOf(op: Opcode): { exact: number; reg: number; mem: boolean } {
  const tokens = op.encoding.split(' ');
  const exact = tokens.length === 2 && /^[0-9A-F]{2}$/.test(tokens[1]!) ? Number.parseInt(tokens[1]!, 16) : -1;
  const group = /\/([0-7])/.exec(op.encoding);
  return { exact, reg: group ? Number(group[1]) : 0, mem: tokens.includes('mem') };
}

/** SIMD_SETUP hook of the x87 family: see the file comment. */
export function x87Setup(rng: Rng, op: Opcode, c: MutableCase): void {
  const name = op.mnemonic;
  const { exact, reg, mem } = encodingOf(op);
  const fmt = formatOf(op);
  // ---- bytes
  const bytes: number[] = [];
  if (fmt === 'env' ? rng.below(3) === 0 : rng.below(12) === 0) bytes.push(0x66);
  const bits = c.bits ?? 64;
  const rex = bits === 32 ? 0 : [0, 0, 0, 0x40, 0x48, 0x44, 0x4c, 0x41, 0x49][rng.below(mem ? 7 : 9)]!;
  if (rex) bytes.push(rex);
  bytes.push(op.opcode);
  const disp = fmt === 'env' ? rng.below(0x40) : rng.below(0x70);
  if (op.opcode !== 0x9b) {
    if (exact >= 0) bytes.push(exact);
    else if (mem) bytes.push(0x40 | (reg << 3) | 7, disp);
    else bytes.push(0xc0 | (reg << 3) | rng.below(8));
  }
  const size16 = bytes[0] === 0x66 && (rex & 8) === 0; // REX.W overrides 66
  if (name === 'fnstenv' || name === 'fnsave') {
    // Zero the instruction/data pointer fields of the image: mov dword/word [rdi + d], 0.
    for (const off of size16 ? [6, 8, 10, 12] : [12, 16, 20, 24]) {
      if (size16) bytes.push(0x66, 0xc7, 0x47, disp + off, 0, 0);
      else bytes.push(0xc7, 0x47, disp + off, 0, 0, 0, 0);
    }
  }
  c.code = Uint8Array.from(bytes);
  c.what = `${op.encoding} (${name}${bits === 32 ? ', 32-bit' : ''}): ${describeBytes(c.code, bits)}`;
  // ---- x87 state
  const fcw = rng.below(3) === 0 ? 0x37f : randomFcw(rng);
  const top = rng.below(8);
  const st = new Uint8Array(80);
  for (let i = 0; i < 8; i++) put80(st, i * 10, randomF80(rng));
  if (rng.below(6) === 0) st.copyWithin(0, 10 * (1 + rng.below(7)), 10 * (2 + rng.below(7))); // equal operands
  const layout = rng.below(20);
  let inUse: number; // by ST index
  if (layout < 12) {
    inUse = 0;
    for (let i = 0; i < 8; i++) if (rng.below(5) !== 0) inUse |= 1 << i;
  } else if (layout < 15) inUse = 0xff;
  else if (layout < 18) inUse = rng.below(2) ? 0x03 : 0x01;
  else inUse = rng.u32() & 0xff;
  if (TRANSCENDENTAL.has(name)) {
    shapeTranscendental(rng, name, st);
    if (rng.below(5) !== 0) inUse |= 3;
    c.stUlps = TRANS_ULPS;
    c.fswMask = 0xffff & ~FSW_C1;
  }
  const ftw = ((inUse << top) | (inUse >> (8 - top))) & 0xff;
  c.state = { ...c.state, x87: { fcw, fsw: randomFsw(rng, fcw, top), ftw, st } };
  // ---- memory operand
  const data = new Uint8Array(c.data);
  const at = DATA_OFFSET + disp;
  if (fmt === 'env') randomImage(rng, data, at, size16);
  else randomOperand(rng, fmt, data, at);
  c.data = data;
}

/** A random FLDENV/FRSTOR image: sane control and status words, random tags and registers. */
function randomImage(rng: Rng, data: Uint8Array, at: number, size16: boolean): void {
  const dv = new DataView(data.buffer, data.byteOffset);
  const fcw = randomFcw(rng) | (rng.below(4) === 0 ? rng.u32() & 0xe080 : 0);
  const fsw = randomFsw(rng, fcw, rng.below(8));
  const tw = rng.below(3) === 0 ? 0xffff & rng.u32() : 0;
  const w = size16 ? 2 : 4;
  const put = (k: number, v: number) => (size16 ? dv.setUint16(at + k * w, v, true) : dv.setUint32(at + k * w, v, true));
  put(0, fcw);
  put(1, fsw);
  put(2, tw | (rng.below(2) ? 0 : 0x5555 & rng.u32()));
  for (let i = 0; i < 8; i++) put80(data, at + 7 * w + 10 * i, randomF80(rng));
}

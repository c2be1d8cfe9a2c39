/**
 * Lane arithmetic of the MMX and SSE2 integer instructions, written once for both register
 * widths: every operation works on `n` dwords (2 for an MMX register, 4 for an XMM register)
 * at Int32 indexes `d` (destination and first source) and `s` (second source) of the CPU state
 * memory, as laid out by simd.ts. Intel SDM Vol. 2, the instruction pages of PADDB ... PXOR,
 * and Vol. 1 chapter 9 (MMX) / 11 (SSE2) for saturation and wrap-around rules.
 *
 * Bytes and words are accessed through typed-array views over the same memory (`V`, refreshed
 * by `views(cpu)` at the start of each handler; the CPU's memory never changes). The generic
 * handlers of the two-operand and shift-by-immediate forms live here too, next to the lane
 * table they dispatch through. Operations
 * whose result lane i depends only on lane i of both sources work in place (d may equal s);
 * the others build their result in the TMP_I scratch and copy it (sse-int-shuffle.ts).
 *
 * This file: logic, add/subtract (wrapping, signed and unsigned saturation, 64-bit), the
 * multiplies (PMULLW PMULHW PMULHUW PMULUDQ PMADDWD), PSADBW, PAVGB/W, PMIN/PMAX of SSE2,
 * compares, and the element shifts (by register and by immediate, PSLLDQ/PSRLDQ).
 *
 * Not supported: nothing in these instructions (they raise no SIMD floating-point exceptions).
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { VEC_UD } from '../exceptions.ts';
import { MM_I, SRC_I, TMP_I, XMM_I, checkMmx, checkSse, loadMem, mmxFaults } from './simd.ts';

// Imported bindings are re-read on every use (a getter call under tsx): the hot handlers below
// use module-local copies.
const I_XMM = XMM_I;
const I_MM = MM_I;
const I_SRC = SRC_I;
const I_TMP = TMP_I;

/** A lane operation: destination/first source at `d`, second source at `s`, `n` dwords wide. */
export type Lane = (d: number, s: number, n: number, imm: number) => void;
/** An element shift of the register at `d` by `count` (0-255; anything above the width clears). */
export type Shift = (d: number, n: number, count: number) => void;

/** Typed-array views over the CPU state memory (see the file comment). */
export const V = {
  buf: undefined as ArrayBufferLike | undefined,
  u8: new Uint8Array(0) as Uint8Array<ArrayBufferLike>,
  i8: new Int8Array(0) as Int8Array<ArrayBufferLike>,
  u16: new Uint16Array(0) as Uint16Array<ArrayBufferLike>,
  i16: new Int16Array(0) as Int16Array<ArrayBufferLike>,
  i32: new Int32Array(0) as Int32Array<ArrayBufferLike>,
};

/** Points the views at the CPU's memory (a no-op after the first call for a given CPU). */
export function views(cpu: Cpu): void {
  const buf = cpu.u8.buffer;
  if (buf === V.buf) return;
  V.buf = buf;
  V.u8 = new Uint8Array(buf);
  V.i8 = new Int8Array(buf);
  V.u16 = new Uint16Array(buf);
  V.i16 = new Int16Array(buf);
  V.i32 = new Int32Array(buf);
}

/**
 * Lane and shift functions by the index the binder (sse-int.ts) puts in `aux` bits 0-7; aux
 * bits 8-12 hold the width of the memory operand in bytes, bit 13 its 16-byte alignment.
 */
export const LANES: Lane[] = [];
export const SHIFTS: Shift[] = [];
export const MEM_SHIFT = 8;
const MEM_MASK = 31;
export const ALIGNED = 1 << 13;

/** Marks MMX register data at `at` written: the x87 sign/exponent field becomes all ones. */
export function mmWritten(cpu: Cpu, at: number): void {
  cpu.i32[at + 2] = cpu.i32[at + 2]! | 0xffff;
}

/** Reads a `bytes`-wide memory source into SRC_I (2 bytes: PMOVSXBQ/PMOVZXBQ/... Ww). */
function loadSource(cpu: Cpu, e: CachedInsn, bytes: number, aligned: boolean): number {
  if (bytes !== 2) return loadMem(cpu, e, bytes, aligned);
  const i32 = cpu.i32;
  cpu.ea(e);
  i32[I_SRC] = cpu.readEA(2);
  i32[I_SRC + 1] = 0;
  i32[I_SRC + 2] = 0;
  i32[I_SRC + 3] = 0;
  return I_SRC;
}

/** MMX two-operand form: MMreg op= MMrm/mem (2 dwords). */
export function mmxOp(cpu: Cpu, e: CachedInsn): void {
  const a = e.aux;
  let s: number;
  if (e.mod === 3) {
    checkMmx(cpu);
    s = I_MM + 4 * (e.rm & 7);
  } else {
    mmxFaults(cpu);
    s = loadMem(cpu, e, (a >> MEM_SHIFT) & MEM_MASK, false);
    checkMmx(cpu);
  }
  if (cpu.u8.buffer !== V.buf) views(cpu);
  const d = I_MM + 4 * (e.reg & 7);
  LANES[a & 0xff]!(d, s, 2, e.imm & 0xff);
  mmWritten(cpu, d);
}

/** XMM two-operand form: XMMreg op= XMMrm/mem (4 dwords). */
export function xmmOp(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const a = e.aux;
  const s = e.mod === 3 ? I_XMM + 4 * e.rm : loadSource(cpu, e, (a >> MEM_SHIFT) & MEM_MASK, (a & ALIGNED) !== 0);
  if (cpu.u8.buffer !== V.buf) views(cpu);
  LANES[a & 0xff]!(I_XMM + 4 * e.reg, s, 4, e.imm & 0xff);
}

/** XMM form with a memory-only operand (MOVNTDQA Vx, Mx): a register operand is #UD. */
export function xmmMemOnly(cpu: Cpu, e: CachedInsn): void {
  if (e.mod === 3) cpu.fault(VEC_UD);
  xmmOp(cpu, e);
}

/** Shift by immediate, MMX: the N operand is the destination. */
export function mmxShiftImm(cpu: Cpu, e: CachedInsn): void {
  checkMmx(cpu);
  if (cpu.u8.buffer !== V.buf) views(cpu);
  const d = I_MM + 4 * (e.rm & 7);
  SHIFTS[e.aux]!(d, 2, e.imm & 0xff);
  mmWritten(cpu, d);
}

/** Shift by immediate, XMM: the U operand is the destination. */
export function xmmShiftImm(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  if (cpu.u8.buffer !== V.buf) views(cpu);
  SHIFTS[e.aux]!(I_XMM + 4 * e.rm, 4, e.imm & 0xff);
}

export function sat8s(x: number): number {
  return x > 127 ? 127 : x < -128 ? -128 : x;
}
export function sat8u(x: number): number {
  return x > 255 ? 255 : x < 0 ? 0 : x;
}
export function sat16s(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}
export function sat16u(x: number): number {
  return x > 65535 ? 65535 : x < 0 ? 0 : x;
}

/** Copies `n` dwords from the TMP_I scratch to `d`. */
export function fromTmp(d: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = a[I_TMP + i]!;
}

/** High half of the last mul32(); the function returns the low half. */
export let mulHi = 0;

/** The 64-bit product of two 32-bit values (signed or unsigned) as (low, mulHi). */
export function mul32(a: number, b: number, signed: boolean): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  let hi = aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16);
  // Two's complement correction: a signed factor below zero is the unsigned one minus 2^32.
  if (signed) hi -= (a < 0 ? b >>> 0 : 0) + (b < 0 ? a >>> 0 : 0);
  mulHi = hi | 0;
  return ((mid << 16) | (ll & 0xffff)) | 0;
}

// ---- logic ----------------------------------------------------------------------------------

export function pand(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = a[d + i]! & a[s + i]!;
}
export function pandn(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = ~a[d + i]! & a[s + i]!;
}
export function por(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = a[d + i]! | a[s + i]!;
}
export function pxor(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = a[d + i]! ^ a[s + i]!;
}

// ---- add and subtract -----------------------------------------------------------------------

/** Bytes in parallel inside each dword: the low 7 bits add, the top bits by XOR (no carries out). */
export function paddb(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) {
    const x = a[d + i]!;
    const y = a[s + i]!;
    a[d + i] = ((x & 0x7f7f7f7f) + (y & 0x7f7f7f7f)) ^ ((x ^ y) & 0x80808080);
  }
}
/** x - y bytewise: (x | 0x80) - (y & 0x7f) borrows inside each byte only. */
export function psubb(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) {
    const x = a[d + i]!;
    const y = a[s + i]!;
    a[d + i] = ((x | 0x80808080) - (y & 0x7f7f7f7f)) ^ ((x ^ ~y) & 0x80808080);
  }
}
export function paddw(d: number, s: number, n: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = w[p + i]! + w[q + i]!;
}
export function psubw(d: number, s: number, n: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = w[p + i]! - w[q + i]!;
}
export function paddd(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = (a[d + i]! + a[s + i]!) | 0;
}
export function psubd(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = (a[d + i]! - a[s + i]!) | 0;
}
export function paddq(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i += 2) {
    const lo = (a[d + i]! >>> 0) + (a[s + i]! >>> 0);
    a[d + i] = lo | 0;
    a[d + i + 1] = (a[d + i + 1]! + a[s + i + 1]! + (lo > 0xffffffff ? 1 : 0)) | 0;
  }
}
export function psubq(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i += 2) {
    const x = a[d + i]!;
    const y = a[s + i]!;
    a[d + i] = (x - y) | 0;
    a[d + i + 1] = (a[d + i + 1]! - a[s + i + 1]! - ((x >>> 0) < (y >>> 0) ? 1 : 0)) | 0;
  }
}
export function paddsb(d: number, s: number, n: number): void {
  const b = V.i8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) b[p + i] = sat8s(b[p + i]! + b[q + i]!);
}
export function psubsb(d: number, s: number, n: number): void {
  const b = V.i8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) b[p + i] = sat8s(b[p + i]! - b[q + i]!);
}
export function paddsw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = sat16s(w[p + i]! + w[q + i]!);
}
export function psubsw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = sat16s(w[p + i]! - w[q + i]!);
}
export function paddusb(d: number, s: number, n: number): void {
  const b = V.u8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) b[p + i] = sat8u(b[p + i]! + b[q + i]!);
}
export function psubusb(d: number, s: number, n: number): void {
  const b = V.u8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) b[p + i] = sat8u(b[p + i]! - b[q + i]!);
}
export function paddusw(d: number, s: number, n: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = sat16u(w[p + i]! + w[q + i]!);
}
export function psubusw(d: number, s: number, n: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = sat16u(w[p + i]! - w[q + i]!);
}

// ---- multiply -------------------------------------------------------------------------------

export function pmullw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = Math.imul(w[p + i]!, w[q + i]!);
}
/** High 16 bits of the signed product (at most 2^30 in magnitude: exact in a double). */
export function pmulhw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = (w[p + i]! * w[q + i]!) >> 16;
}
export function pmulhuw(d: number, s: number, n: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = (w[p + i]! * w[q + i]!) >>> 16;
}
/** The even dwords, multiplied unsigned into full quadwords. */
export function pmuludq(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i += 2) {
    a[d + i] = mul32(a[d + i]!, a[s + i]!, false);
    a[d + i + 1] = mulHi;
  }
}
/** Pairs of signed word products summed into dwords (0x8000 * 0x8000 * 2 wraps to 0x80000000). */
export function pmaddwd(d: number, s: number, n: number): void {
  const a = V.i32;
  const w = V.i16;
  for (let i = 0; i < n; i++) {
    const p = (d + i) * 2;
    const q = (s + i) * 2;
    a[d + i] = (w[p]! * w[q]! + w[p + 1]! * w[q + 1]!) | 0;
  }
}
/** Sum of absolute byte differences per quadword, in the low word of that quadword. */
export function psadbw(d: number, s: number, n: number): void {
  const a = V.i32;
  const b = V.u8;
  for (let i = 0; i < n; i += 2) {
    let sum = 0;
    for (let k = 0, p = (d + i) * 4, q = (s + i) * 4; k < 8; k++) {
      const x = b[p + k]! - b[q + k]!;
      sum += x < 0 ? -x : x;
    }
    a[d + i] = sum;
    a[d + i + 1] = 0;
  }
}

// ---- average, minimum, maximum --------------------------------------------------------------

export function pavgb(d: number, s: number, n: number): void {
  const b = V.u8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) b[p + i] = (b[p + i]! + b[q + i]! + 1) >> 1;
}
export function pavgw(d: number, s: number, n: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = (w[p + i]! + w[q + i]! + 1) >> 1;
}
export function pminub(d: number, s: number, n: number): void {
  const b = V.u8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) if (b[q + i]! < b[p + i]!) b[p + i] = b[q + i]!;
}
export function pmaxub(d: number, s: number, n: number): void {
  const b = V.u8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) if (b[q + i]! > b[p + i]!) b[p + i] = b[q + i]!;
}
export function pminsw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) if (w[q + i]! < w[p + i]!) w[p + i] = w[q + i]!;
}
export function pmaxsw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) if (w[q + i]! > w[p + i]!) w[p + i] = w[q + i]!;
}

// ---- compare --------------------------------------------------------------------------------

/**
 * Bytewise equality inside each dword (the hot instruction of glibc's string functions): a byte
 * of x ^ y is zero exactly when ((b & 0x7f) + 0x7f) | b has its top bit clear.
 */
export function pcmpeqb(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) {
    const x = a[d + i]! ^ a[s + i]!;
    const equal = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080;
    a[d + i] = ((equal >>> 7) * 0xff) | 0;
  }
}
export function pcmpeqw(d: number, s: number, n: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = w[p + i] === w[q + i] ? 0xffff : 0;
}
export function pcmpeqd(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = a[d + i] === a[s + i] ? -1 : 0;
}
export function pcmpgtb(d: number, s: number, n: number): void {
  const b = V.i8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) b[p + i] = b[p + i]! > b[q + i]! ? -1 : 0;
}
export function pcmpgtw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = w[p + i]! > w[q + i]! ? -1 : 0;
}
export function pcmpgtd(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = a[d + i]! > a[s + i]! ? -1 : 0;
}

// ---- shifts ---------------------------------------------------------------------------------

export function srlW(d: number, n: number, c: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2; i < 2 * n; i++) w[p + i] = c > 15 ? 0 : w[p + i]! >>> c;
}
export function sraW(d: number, n: number, c: number): void {
  const w = V.i16;
  const k = c > 15 ? 15 : c;
  for (let i = 0, p = d * 2; i < 2 * n; i++) w[p + i] = w[p + i]! >> k;
}
export function sllW(d: number, n: number, c: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2; i < 2 * n; i++) w[p + i] = c > 15 ? 0 : w[p + i]! << c;
}
export function srlD(d: number, n: number, c: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = c > 31 ? 0 : a[d + i]! >>> c;
}
export function sraD(d: number, n: number, c: number): void {
  const a = V.i32;
  const k = c > 31 ? 31 : c;
  for (let i = 0; i < n; i++) a[d + i] = a[d + i]! >> k;
}
export function sllD(d: number, n: number, c: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = c > 31 ? 0 : a[d + i]! << c;
}
export function srlQ(d: number, n: number, c: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i += 2) {
    const lo = a[d + i]!;
    const hi = a[d + i + 1]!;
    if (c > 63) {
      a[d + i] = 0;
      a[d + i + 1] = 0;
    } else if (c >= 32) {
      a[d + i] = hi >>> (c - 32);
      a[d + i + 1] = 0;
    } else if (c > 0) {
      a[d + i] = (lo >>> c) | (hi << (32 - c));
      a[d + i + 1] = hi >>> c;
    }
  }
}
export function sllQ(d: number, n: number, c: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i += 2) {
    const lo = a[d + i]!;
    const hi = a[d + i + 1]!;
    if (c > 63) {
      a[d + i] = 0;
      a[d + i + 1] = 0;
    } else if (c >= 32) {
      a[d + i] = 0;
      a[d + i + 1] = lo << (c - 32);
    } else if (c > 0) {
      a[d + i] = lo << c;
      a[d + i + 1] = (hi << c) | (lo >>> (32 - c));
    }
  }
}
/** PSRLDQ: the whole register right by `c` bytes (XMM only). */
export function srlDQ(d: number, n: number, c: number): void {
  const b = V.u8;
  const p = d * 4;
  const len = 4 * n;
  for (let i = 0; i < len; i++) b[p + i] = i + c < len ? b[p + i + c]! : 0;
}
/** PSLLDQ: the whole register left by `c` bytes (XMM only). */
export function sllDQ(d: number, n: number, c: number): void {
  const b = V.u8;
  const p = d * 4;
  for (let i = 4 * n - 1; i >= 0; i--) b[p + i] = i >= c ? b[p + i - c]! : 0;
}

/** The count of a shift by register: the low 64 bits of the source, unsigned (>= 255 clamps). */
function count(s: number): number {
  const a = V.i32;
  const lo = a[s]!;
  return a[s + 1] !== 0 || lo >>> 0 > 255 ? 255 : lo;
}
export function psrlw(d: number, s: number, n: number): void {
  srlW(d, n, count(s));
}
export function psraw(d: number, s: number, n: number): void {
  sraW(d, n, count(s));
}
export function psllw(d: number, s: number, n: number): void {
  sllW(d, n, count(s));
}
export function psrld(d: number, s: number, n: number): void {
  srlD(d, n, count(s));
}
export function psrad(d: number, s: number, n: number): void {
  sraD(d, n, count(s));
}
export function pslld(d: number, s: number, n: number): void {
  sllD(d, n, count(s));
}
export function psrlq(d: number, s: number, n: number): void {
  srlQ(d, n, count(s));
}
export function psllq(d: number, s: number, n: number): void {
  sllQ(d, n, count(s));
}

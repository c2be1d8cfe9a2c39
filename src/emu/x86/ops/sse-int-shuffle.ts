/**
 * Data rearrangement of the MMX/SSE2/SSSE3/SSE4.1 integer instructions and the bit moves of
 * the SSE float shuffles: PACKSSWB PACKSSDW PACKUSWB PACKUSDW, PUNPCKL/H BW WD DQ QDQ,
 * UNPCKL/HPS/PD, PSHUFW PSHUFD PSHUFHW PSHUFLW, SHUFPS SHUFPD, PALIGNR, PSHUFB, PBLENDW,
 * PBLENDVB, INSERTPS, PMOVSX and PMOVZX. Intel SDM Vol. 2, the pages of each instruction.
 *
 * Lane functions as in sse-int-lanes.ts: `n` dwords (2 MMX, 4 XMM) at `d` (destination and
 * first source) and `s` (second source). A result lane here depends on other lanes, so results
 * are built in the TMP_I scratch and then copied, which keeps `d === s` (same register) right.
 *
 * Not supported: nothing in these instructions.
 */
import { SRC_I, TMP_I, XMM_I } from './simd.ts';
import { V, fromTmp, sat16s, sat16u, sat8s, sat8u } from './sse-int-lanes.ts';

// Module-local copies of state indexes (an imported binding is re-read on every use).
const I_TMP = TMP_I;
const I_XMM = XMM_I;
const I_SRC = SRC_I;

const T8 = I_TMP * 4;
const T16 = I_TMP * 2;

// ---- pack -----------------------------------------------------------------------------------

/** Signed words of d then s, saturated to signed bytes. */
export function packsswb(d: number, s: number, n: number): void {
  const w = V.i16;
  const b = V.i8;
  const k = 2 * n;
  for (let i = 0; i < k; i++) {
    b[T8 + i] = sat8s(w[d * 2 + i]!);
    b[T8 + k + i] = sat8s(w[s * 2 + i]!);
  }
  fromTmp(d, n);
}
/** Signed words of d then s, saturated to unsigned bytes. */
export function packuswb(d: number, s: number, n: number): void {
  const w = V.i16;
  const b = V.u8;
  const k = 2 * n;
  for (let i = 0; i < k; i++) {
    b[T8 + i] = sat8u(w[d * 2 + i]!);
    b[T8 + k + i] = sat8u(w[s * 2 + i]!);
  }
  fromTmp(d, n);
}
/** Signed dwords of d then s, saturated to signed words. */
export function packssdw(d: number, s: number, n: number): void {
  const a = V.i32;
  const w = V.i16;
  for (let i = 0; i < n; i++) {
    w[T16 + i] = sat16s(a[d + i]!);
    w[T16 + n + i] = sat16s(a[s + i]!);
  }
  fromTmp(d, n);
}
/** Signed dwords of d then s, saturated to unsigned words (SSE4.1). */
export function packusdw(d: number, s: number, n: number): void {
  const a = V.i32;
  const w = V.u16;
  for (let i = 0; i < n; i++) {
    w[T16 + i] = sat16u(a[d + i]!);
    w[T16 + n + i] = sat16u(a[s + i]!);
  }
  fromTmp(d, n);
}

// ---- unpack (interleave) --------------------------------------------------------------------

function unpackBytes(d: number, s: number, n: number, from: number): void {
  const b = V.u8;
  for (let i = 0; i < 2 * n; i++) {
    b[T8 + 2 * i] = b[d * 4 + from + i]!;
    b[T8 + 2 * i + 1] = b[s * 4 + from + i]!;
  }
  fromTmp(d, n);
}
function unpackWords(d: number, s: number, n: number, from: number): void {
  const w = V.u16;
  for (let i = 0; i < n; i++) {
    w[T16 + 2 * i] = w[d * 2 + from + i]!;
    w[T16 + 2 * i + 1] = w[s * 2 + from + i]!;
  }
  fromTmp(d, n);
}
function unpackDwords(d: number, s: number, n: number, from: number): void {
  const a = V.i32;
  for (let i = 0; i < n / 2; i++) {
    a[I_TMP + 2 * i] = a[d + from + i]!;
    a[I_TMP + 2 * i + 1] = a[s + from + i]!;
  }
  fromTmp(d, n);
}
export function punpcklbw(d: number, s: number, n: number): void {
  unpackBytes(d, s, n, 0);
}
export function punpckhbw(d: number, s: number, n: number): void {
  unpackBytes(d, s, n, 2 * n);
}
export function punpcklwd(d: number, s: number, n: number): void {
  unpackWords(d, s, n, 0);
}
export function punpckhwd(d: number, s: number, n: number): void {
  unpackWords(d, s, n, n);
}
/** Also UNPCKLPS. */
export function punpckldq(d: number, s: number, n: number): void {
  unpackDwords(d, s, n, 0);
}
/** Also UNPCKHPS. */
export function punpckhdq(d: number, s: number, n: number): void {
  unpackDwords(d, s, n, n / 2);
}
/** XMM only; also UNPCKLPD: [d.q0, s.q0]. */
export function punpcklqdq(d: number, s: number): void {
  const a = V.i32;
  a[d + 2] = a[s]!;
  a[d + 3] = a[s + 1]!;
}
/** XMM only; also UNPCKHPD: [d.q1, s.q1]. */
export function punpckhqdq(d: number, s: number): void {
  const a = V.i32;
  a[d] = a[d + 2]!;
  a[d + 1] = a[d + 3]!;
  a[d + 2] = a[s + 2]!;
  a[d + 3] = a[s + 3]!;
}

// ---- shuffle --------------------------------------------------------------------------------

/** PSHUFW (MMX): word i of the result is source word imm[2i+1:2i]. */
export function pshufw(d: number, s: number, _n: number, imm: number): void {
  const w = V.u16;
  for (let i = 0; i < 4; i++) w[T16 + i] = w[s * 2 + ((imm >> (2 * i)) & 3)]!;
  fromTmp(d, 2);
}
export function pshufd(d: number, s: number, _n: number, imm: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i++) a[I_TMP + i] = a[s + ((imm >> (2 * i)) & 3)]!;
  fromTmp(d, 4);
}
/** PSHUFLW: the low four words shuffled, the high quadword copied. */
export function pshuflw(d: number, s: number, _n: number, imm: number): void {
  const w = V.u16;
  const a = V.i32;
  for (let i = 0; i < 4; i++) w[T16 + i] = w[s * 2 + ((imm >> (2 * i)) & 3)]!;
  a[I_TMP + 2] = a[s + 2]!;
  a[I_TMP + 3] = a[s + 3]!;
  fromTmp(d, 4);
}
/** PSHUFHW: the high four words shuffled, the low quadword copied. */
export function pshufhw(d: number, s: number, _n: number, imm: number): void {
  const w = V.u16;
  const a = V.i32;
  for (let i = 0; i < 4; i++) w[T16 + 4 + i] = w[s * 2 + 4 + ((imm >> (2 * i)) & 3)]!;
  a[I_TMP] = a[s]!;
  a[I_TMP + 1] = a[s + 1]!;
  fromTmp(d, 4);
}
/** SHUFPS: two dwords chosen from d, then two from s. */
export function shufps(d: number, s: number, _n: number, imm: number): void {
  const a = V.i32;
  a[I_TMP] = a[d + (imm & 3)]!;
  a[I_TMP + 1] = a[d + ((imm >> 2) & 3)]!;
  a[I_TMP + 2] = a[s + ((imm >> 4) & 3)]!;
  a[I_TMP + 3] = a[s + ((imm >> 6) & 3)]!;
  fromTmp(d, 4);
}
/** SHUFPD: a quadword of d (imm bit 0), then one of s (imm bit 1). */
export function shufpd(d: number, s: number, _n: number, imm: number): void {
  const a = V.i32;
  const x = d + 2 * (imm & 1);
  const y = s + 2 * ((imm >> 1) & 1);
  a[I_TMP] = a[x]!;
  a[I_TMP + 1] = a[x + 1]!;
  a[I_TMP + 2] = a[y]!;
  a[I_TMP + 3] = a[y + 1]!;
  fromTmp(d, 4);
}
/** PALIGNR: d:s (d high) shifted right by imm bytes, the low half kept (zeros past the end). */
export function palignr(d: number, s: number, n: number, imm: number): void {
  const b = V.u8;
  const len = 4 * n;
  for (let i = 0; i < len; i++) {
    const k = i + imm;
    b[T8 + i] = k < len ? b[s * 4 + k]! : k < 2 * len ? b[d * 4 + k - len]! : 0;
  }
  fromTmp(d, n);
}
/** PSHUFB: byte i = 0 if s[i] bit 7, else d[s[i] mod width]. */
export function pshufb(d: number, s: number, n: number): void {
  const b = V.u8;
  const mask = 4 * n - 1;
  for (let i = 0; i < 4 * n; i++) {
    const sel = b[s * 4 + i]!;
    b[T8 + i] = sel & 0x80 ? 0 : b[d * 4 + (sel & mask)]!;
  }
  fromTmp(d, n);
}

// ---- blend and insert -----------------------------------------------------------------------

/** PBLENDW: word i from s where imm bit i is set. */
export function pblendw(d: number, s: number, _n: number, imm: number): void {
  const w = V.u16;
  for (let i = 0; i < 8; i++) if ((imm >> i) & 1) w[d * 2 + i] = w[s * 2 + i]!;
}
/** PBLENDVB: byte i from s where bit 7 of XMM0 byte i is set. */
export function pblendvb(d: number, s: number): void {
  const b = V.u8;
  for (let i = 0; i < 16; i++) if (b[I_XMM * 4 + i]! & 0x80) b[d * 4 + i] = b[s * 4 + i]!;
}
/**
 * INSERTPS: a dword of s (imm[7:6]; a memory source is the one loaded dword) into dword
 * imm[5:4] of d, then the dwords in imm[3:0] cleared.
 */
export function insertps(d: number, s: number, _n: number, imm: number): void {
  const a = V.i32;
  a[d + ((imm >> 4) & 3)] = a[s === I_SRC ? s : s + ((imm >> 6) & 3)]!;
  for (let i = 0; i < 4; i++) if ((imm >> i) & 1) a[d + i] = 0;
}

// ---- sign and zero extension (SSE4.1) -------------------------------------------------------
// The source is the low bytes of s; the destination is written from the top element down so
// that a source in the destination register is read before it is overwritten.

export function pmovsxbw(d: number, s: number): void {
  const to = V.i16;
  const from = V.i8;
  for (let i = 7; i >= 0; i--) to[d * 2 + i] = from[s * 4 + i]!;
}
export function pmovzxbw(d: number, s: number): void {
  const to = V.u16;
  const from = V.u8;
  for (let i = 7; i >= 0; i--) to[d * 2 + i] = from[s * 4 + i]!;
}
export function pmovsxbd(d: number, s: number): void {
  const to = V.i32;
  const from = V.i8;
  for (let i = 3; i >= 0; i--) to[d + i] = from[s * 4 + i]!;
}
export function pmovzxbd(d: number, s: number): void {
  const to = V.i32;
  const from = V.u8;
  for (let i = 3; i >= 0; i--) to[d + i] = from[s * 4 + i]!;
}
export function pmovsxwd(d: number, s: number): void {
  const to = V.i32;
  const from = V.i16;
  for (let i = 3; i >= 0; i--) to[d + i] = from[s * 2 + i]!;
}
export function pmovzxwd(d: number, s: number): void {
  const to = V.i32;
  const from = V.u16;
  for (let i = 3; i >= 0; i--) to[d + i] = from[s * 2 + i]!;
}
function toQwords(d: number, x0: number, x1: number, signed: boolean): void {
  const a = V.i32;
  a[d] = x0;
  a[d + 1] = signed ? x0 >> 31 : 0;
  a[d + 2] = x1;
  a[d + 3] = signed ? x1 >> 31 : 0;
}
export function pmovsxbq(d: number, s: number): void {
  toQwords(d, V.i8[s * 4]!, V.i8[s * 4 + 1]!, true);
}
export function pmovzxbq(d: number, s: number): void {
  toQwords(d, V.u8[s * 4]!, V.u8[s * 4 + 1]!, false);
}
export function pmovsxwq(d: number, s: number): void {
  toQwords(d, V.i16[s * 2]!, V.i16[s * 2 + 1]!, true);
}
export function pmovzxwq(d: number, s: number): void {
  toQwords(d, V.u16[s * 2]!, V.u16[s * 2 + 1]!, false);
}
export function pmovsxdq(d: number, s: number): void {
  toQwords(d, V.i32[s]!, V.i32[s + 1]!, true);
}
export function pmovzxdq(d: number, s: number): void {
  toQwords(d, V.i32[s]!, V.i32[s + 1]!, false);
}

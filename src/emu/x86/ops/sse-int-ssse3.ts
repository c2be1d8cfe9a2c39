/**
 * Lane arithmetic of SSSE3 (PHADDW PHADDD PHADDSW PHSUBW PHSUBD PHSUBSW PMADDUBSW PMULHRSW
 * PSIGNB/W/D PABSB/W/D, in MMX and XMM forms) and SSE4.1 (PMINSB PMINSD PMINUW PMINUD, the
 * PMAX twins, PMULLD PMULDQ PCMPEQQ PHMINPOSUW MPSADBW) and SSE4.2 PCMPGTQ.
 * Intel SDM Vol. 2, the page of each instruction.
 *
 * Lane functions as in sse-int-lanes.ts: `n` dwords (2 MMX, 4 XMM) at `d` and `s`.
 *
 * Not supported: nothing in these instructions.
 */
import { TMP_I } from './simd.ts';
import { V, fromTmp, mul32, mulHi, sat16s } from './sse-int-lanes.ts';

// Module-local copies of state indexes (an imported binding is re-read on every use).
const I_TMP = TMP_I;

const T16 = I_TMP * 2;

// ---- horizontal add and subtract (SSSE3) ----------------------------------------------------
// The result's low half comes from pairs of d, its high half from pairs of s.

function hWords(d: number, s: number, n: number, sub: boolean, saturate: boolean): void {
  const w = V.i16;
  for (let i = 0; i < n; i++) {
    const p = d * 2 + 2 * i;
    const q = s * 2 + 2 * i;
    const x = sub ? w[p]! - w[p + 1]! : w[p]! + w[p + 1]!;
    const y = sub ? w[q]! - w[q + 1]! : w[q]! + w[q + 1]!;
    w[T16 + i] = saturate ? sat16s(x) : x;
    w[T16 + n + i] = saturate ? sat16s(y) : y;
  }
  fromTmp(d, n);
}
function hDwords(d: number, s: number, n: number, sub: boolean): void {
  const a = V.i32;
  const h = n / 2;
  for (let i = 0; i < h; i++) {
    a[I_TMP + i] = sub ? a[d + 2 * i]! - a[d + 2 * i + 1]! : a[d + 2 * i]! + a[d + 2 * i + 1]!;
    a[I_TMP + h + i] = sub ? a[s + 2 * i]! - a[s + 2 * i + 1]! : a[s + 2 * i]! + a[s + 2 * i + 1]!;
  }
  fromTmp(d, n);
}
export function phaddw(d: number, s: number, n: number): void {
  hWords(d, s, n, false, false);
}
export function phaddsw(d: number, s: number, n: number): void {
  hWords(d, s, n, false, true);
}
export function phsubw(d: number, s: number, n: number): void {
  hWords(d, s, n, true, false);
}
export function phsubsw(d: number, s: number, n: number): void {
  hWords(d, s, n, true, true);
}
export function phaddd(d: number, s: number, n: number): void {
  hDwords(d, s, n, false);
}
export function phsubd(d: number, s: number, n: number): void {
  hDwords(d, s, n, true);
}

// ---- multiply (SSSE3) -----------------------------------------------------------------------

/** Unsigned bytes of d times signed bytes of s, adjacent products summed with saturation. */
export function pmaddubsw(d: number, s: number, n: number): void {
  const u = V.u8;
  const b = V.i8;
  const w = V.i16;
  for (let i = 0; i < 2 * n; i++) {
    const p = d * 4 + 2 * i;
    const q = s * 4 + 2 * i;
    w[d * 2 + i] = sat16s(u[p]! * b[q]! + u[p + 1]! * b[q + 1]!);
  }
}
/** Signed word products, rounded to bits 30:15 ((x >> 14) + 1) >> 1. */
export function pmulhrsw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) w[p + i] = (((w[p + i]! * w[q + i]!) >> 14) + 1) >> 1;
}

// ---- sign and absolute value (SSSE3) --------------------------------------------------------

export function psignb(d: number, s: number, n: number): void {
  const b = V.i8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) {
    const c = b[q + i]!;
    if (c <= 0) b[p + i] = c === 0 ? 0 : -b[p + i]!;
  }
}
export function psignw(d: number, s: number, n: number): void {
  const w = V.i16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) {
    const c = w[q + i]!;
    if (c <= 0) w[p + i] = c === 0 ? 0 : -w[p + i]!;
  }
}
export function psignd(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) {
    const c = a[s + i]!;
    if (c <= 0) a[d + i] = c === 0 ? 0 : -a[d + i]! | 0;
  }
}
/** |s| per element, as unsigned (|-128| = 0x80). */
export function pabsb(d: number, s: number, n: number): void {
  const from = V.i8;
  const to = V.u8;
  for (let i = 0, p = d * 4, q = s * 4; i < 4 * n; i++) {
    const x = from[q + i]!;
    to[p + i] = x < 0 ? -x : x;
  }
}
export function pabsw(d: number, s: number, n: number): void {
  const from = V.i16;
  const to = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 2 * n; i++) {
    const x = from[q + i]!;
    to[p + i] = x < 0 ? -x : x;
  }
}
export function pabsd(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) {
    const x = a[s + i]!;
    a[d + i] = x < 0 ? -x | 0 : x;
  }
}

// ---- minimum and maximum (SSE4.1) -----------------------------------------------------------

export function pminsb(d: number, s: number): void {
  const b = V.i8;
  for (let i = 0, p = d * 4, q = s * 4; i < 16; i++) if (b[q + i]! < b[p + i]!) b[p + i] = b[q + i]!;
}
export function pmaxsb(d: number, s: number): void {
  const b = V.i8;
  for (let i = 0, p = d * 4, q = s * 4; i < 16; i++) if (b[q + i]! > b[p + i]!) b[p + i] = b[q + i]!;
}
export function pminuw(d: number, s: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 8; i++) if (w[q + i]! < w[p + i]!) w[p + i] = w[q + i]!;
}
export function pmaxuw(d: number, s: number): void {
  const w = V.u16;
  for (let i = 0, p = d * 2, q = s * 2; i < 8; i++) if (w[q + i]! > w[p + i]!) w[p + i] = w[q + i]!;
}
export function pminsd(d: number, s: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i++) if (a[s + i]! < a[d + i]!) a[d + i] = a[s + i]!;
}
export function pmaxsd(d: number, s: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i++) if (a[s + i]! > a[d + i]!) a[d + i] = a[s + i]!;
}
export function pminud(d: number, s: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i++) if (a[s + i]! >>> 0 < a[d + i]! >>> 0) a[d + i] = a[s + i]!;
}
export function pmaxud(d: number, s: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i++) if (a[s + i]! >>> 0 > a[d + i]! >>> 0) a[d + i] = a[s + i]!;
}

// ---- multiply and compare (SSE4.1, SSE4.2) --------------------------------------------------

export function pmulld(d: number, s: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i++) a[d + i] = Math.imul(a[d + i]!, a[s + i]!);
}
/** Dwords 0 and 2, multiplied signed into full quadwords. */
export function pmuldq(d: number, s: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i += 2) {
    a[d + i] = mul32(a[d + i]!, a[s + i]!, true);
    a[d + i + 1] = mulHi;
  }
}
export function pcmpeqq(d: number, s: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i += 2) {
    const r = a[d + i] === a[s + i] && a[d + i + 1] === a[s + i + 1] ? -1 : 0;
    a[d + i] = r;
    a[d + i + 1] = r;
  }
}
/** Signed quadword greater-than: the high dwords signed, then the low dwords unsigned. */
export function pcmpgtq(d: number, s: number): void {
  const a = V.i32;
  for (let i = 0; i < 4; i += 2) {
    const xh = a[d + i + 1]!;
    const yh = a[s + i + 1]!;
    const r = xh !== yh ? xh > yh : a[d + i]! >>> 0 > a[s + i]! >>> 0;
    a[d + i] = r ? -1 : 0;
    a[d + i + 1] = r ? -1 : 0;
  }
}

// ---- SSE4.1 specials ------------------------------------------------------------------------

/** PHMINPOSUW: the smallest unsigned word of s in word 0, its (first) index in word 1, zeros above. */
export function phminposuw(d: number, s: number): void {
  const w = V.u16;
  let min = w[s * 2]!;
  let at = 0;
  for (let i = 1; i < 8; i++) {
    const x = w[s * 2 + i]!;
    if (x < min) {
      min = x;
      at = i;
    }
  }
  const a = V.i32;
  a[d] = min | (at << 16);
  a[d + 1] = 0;
  a[d + 2] = 0;
  a[d + 3] = 0;
}
/**
 * MPSADBW: eight sums of absolute differences between the 4-byte block of s at imm[1:0] * 4
 * and the overlapping 4-byte windows of d starting at imm[2] * 4 + i.
 */
export function mpsadbw(d: number, s: number, _n: number, imm: number): void {
  const b = V.u8;
  const w = V.u16;
  const p = d * 4 + ((imm >> 2) & 1) * 4;
  const q = s * 4 + (imm & 3) * 4;
  for (let i = 0; i < 8; i++) {
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      const x = b[p + i + k]! - b[q + k]!;
      sum += x < 0 ? -x : x;
    }
    w[T16 + i] = sum;
  }
  fromTmp(d, 4);
}
/** A plain copy of the source (MOVNTDQA: a load; the hint has no effect here). */
export function copy(d: number, s: number, n: number): void {
  const a = V.i32;
  for (let i = 0; i < n; i++) a[d + i] = a[s + i]!;
}

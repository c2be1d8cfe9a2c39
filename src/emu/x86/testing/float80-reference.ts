/**
 * A slow, obviously-correct BigInt model of IEEE rounding for the x87 unit tests (test-only):
 * exact values are (-1)^sign · m · 2^e with a bigint m (plus a sticky fraction for quotients and
 * square roots), rounded once to a precision and exponent range per rounding control, with
 * tininess detected after rounding, and the masked overflow/underflow responses (Intel SDM
 * Vol. 1, 4.8.4 and 4.9.1.4-4.9.1.5). Results are 80-bit register images or IEEE bit patterns.
 */

export const RN = 0;
export const RD = 1;
export const RU = 2;
export const RZ = 3;

export const PE = 0x20;
export const UE = 0x10;
export const OE = 0x08;

/** An exact value: (-1)^sign · (m + (sticky ? a fraction in (0, 1) : 0)) · 2^e. */
export interface Exact {
  sign: number;
  m: bigint;
  e: number;
  sticky?: boolean;
}

/** A rounded result: (-1)^sign · q · 2^lsb (q = 0 for zero), or infinity; flags and C1. */
export interface Rounded {
  sign: number;
  q: bigint;
  lsb: number;
  inf: boolean;
  exc: number;
  c1: number;
}

const bitLength = (m: bigint) => m.toString(2).length;

/** Rounds m·2^e (with the sticky fraction) to a multiple of 2^lsbExp; returns [q, inexact, up]. */
function roundAt(x: Exact, lsbExp: number, rc: number): [bigint, boolean, boolean] {
  const sh = x.e - lsbExp;
  let q: bigint;
  let rem = 0n;
  let half = 0n;
  if (sh >= 0) {
    if (x.sticky) throw new Error('reference: a sticky value needs guard bits below the rounding point');
    q = x.m << BigInt(sh);
  } else {
    q = x.m >> BigInt(-sh);
    rem = x.m - (q << BigInt(-sh));
    half = 1n << BigInt(-sh - 1);
  }
  const inexact = rem !== 0n || x.sticky === true;
  let up = false;
  if (inexact) {
    if (rc === RN) up = rem > half || (rem === half && (x.sticky === true || (q & 1n) === 1n));
    else if (rc === RD) up = x.sign === 1;
    else if (rc === RU) up = x.sign === 0;
  }
  return [up ? q + 1n : q, inexact, up];
}

/**
 * Rounds x (m > 0) to `prec` significant bits for a format with unbiased normal exponents
 * emin..emax (denormals below emin), all exceptions masked.
 */
export function round(x: Exact, prec: number, rc: number, emin: number, emax: number): Rounded {
  const E = bitLength(x.m) - 1 + x.e;
  const [qU] = roundAt(x, E - prec + 1, rc);
  const tiny = E < emin && !(E === emin - 1 && qU === 1n << BigInt(prec));
  const lsb = Math.max(E, emin) - prec + 1;
  const [q, inexact, up] = roundAt(x, lsb, rc);
  let exc = inexact ? PE | (tiny ? UE : 0) : 0;
  if (q !== 0n && bitLength(q) - 1 + lsb > emax) {
    exc = OE | PE;
    const toInf = rc === RN || (rc === RU && x.sign === 0) || (rc === RD && x.sign === 1);
    if (toInf) return { sign: x.sign, q: 0n, lsb: 0, inf: true, exc, c1: 1 };
    return { sign: x.sign, q: (1n << BigInt(prec)) - 1n, lsb: emax - prec + 1, inf: false, exc, c1: 0 };
  }
  return { sign: x.sign, q, lsb, inf: false, exc, c1: up ? 1 : 0 };
}

/** The 80-bit register image [sign/exponent, significand] of a rounded result. */
export function toF80(r: Rounded): [number, bigint] {
  if (r.inf) return [(r.sign << 15) | 0x7fff, 1n << 63n];
  if (r.q === 0n) return [r.sign << 15, 0n];
  const n = bitLength(r.q);
  const exp = n - 1 + r.lsb; // unbiased
  if (exp < -16382) return [r.sign << 15, r.q << BigInt(r.lsb + 16445)]; // denormal
  return [(r.sign << 15) | (exp + 16383), r.q << BigInt(64 - n)];
}

/** IEEE double bits of a rounded result (rounded with prec 53, emin -1022, emax 1023). */
export function toDouble(r: Rounded): bigint {
  const s = BigInt(r.sign) << 63n;
  if (r.inf) return s | (0x7ffn << 52n);
  if (r.q === 0n) return s;
  const n = bitLength(r.q);
  const exp = n - 1 + r.lsb;
  if (exp < -1022) return s | (r.q << BigInt(r.lsb + 1074));
  return s | (BigInt(exp + 1023) << 52n) | ((r.q << BigInt(53 - n)) & ((1n << 52n) - 1n));
}

/** IEEE single bits of a rounded result (rounded with prec 24, emin -126, emax 127). */
export function toSingle(r: Rounded): number {
  const s = r.sign << 31;
  if (r.inf) return (s | (0xff << 23)) >>> 0;
  if (r.q === 0n) return s >>> 0;
  const n = bitLength(r.q);
  const exp = n - 1 + r.lsb;
  if (exp < -126) return (s | Number(r.q << BigInt(r.lsb + 149))) >>> 0;
  return (s | ((exp + 127) << 23) | Number((r.q << BigInt(24 - n)) & 0x7fffffn)) >>> 0;
}

/** The exact value of a finite non-zero 80-bit register image (denormals and unnormals too). */
export function exactOf(se: number, sig: bigint): Exact {
  const exp = se & 0x7fff;
  return { sign: (se >> 15) & 1, m: sig, e: Math.max(exp, 1) - 16383 - 63 };
}

/** a + b, a · b, a / b (with guard bits and a sticky fraction), √a: exact values for the reference. */
export function add(a: Exact, b: Exact): Exact | null {
  const e = Math.min(a.e, b.e);
  const va = (a.sign ? -a.m : a.m) << BigInt(a.e - e);
  const vb = (b.sign ? -b.m : b.m) << BigInt(b.e - e);
  const v = va + vb;
  if (v === 0n) return null;
  return { sign: v < 0n ? 1 : 0, m: v < 0n ? -v : v, e };
}

export function mul(a: Exact, b: Exact): Exact {
  return { sign: a.sign ^ b.sign, m: a.m * b.m, e: a.e + b.e };
}

export function div(a: Exact, b: Exact): Exact {
  const k = 200; // quotient bits far beyond any precision
  const num = a.m << BigInt(k);
  const q = num / b.m;
  return { sign: a.sign ^ b.sign, m: q, e: a.e - b.e - k, sticky: num % b.m !== 0n };
}

export function sqrt(a: Exact): Exact {
  // √(m·2^e): make the exponent even and add 200 guard bits.
  let m = a.m;
  let e = a.e;
  if ((e & 1) !== 0) {
    m <<= 1n;
    e -= 1;
  }
  m <<= 400n;
  e -= 400;
  // Newton iterations from above to the integer square root
  let r = 1n << BigInt(Math.ceil(bitLength(m) / 2));
  for (;;) {
    const next = (r + m / r) >> 1n;
    if (next >= r) break;
    r = next;
  }
  while (r * r > m) r--;
  while ((r + 1n) * (r + 1n) <= m) r++;
  return { sign: 0, m: r, e: e / 2, sticky: r * r !== m };
}

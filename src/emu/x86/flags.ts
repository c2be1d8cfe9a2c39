/**
 * RFLAGS bits and the lazy arithmetic flags (Intel SDM Vol. 1, 3.4.3 "EFLAGS Register").
 *
 * ALU instructions do not compute CF PF AF ZF SF OF. They record the operation, its size and
 * its operands and result in the state block (LAZY_*); the flags are derived only when read.
 * The representation is shared with the JIT: LAZY_OP says how to read the other fields, and
 * the high halves of LAZY_RES/DST/SRC are valid only when LAZY_SIZE is 8.
 */

export const CF = 0x0001;
export const PF = 0x0004;
export const AF = 0x0010;
export const ZF = 0x0040;
export const SF = 0x0080;
export const TF = 0x0100;
export const IF = 0x0200;
export const DF = 0x0400;
export const OF = 0x0800;
export const IOPL = 0x3000;
export const NT = 0x4000;
export const RF = 0x10000;
export const VM = 0x20000;
export const AC = 0x40000;
export const VIF = 0x80000;
export const VIP = 0x100000;
export const ID = 0x200000;
/** Bit 1 always reads as 1. */
export const FIXED_1 = 0x0002;
/** The six arithmetic flags the lazy machinery owns. */
export const ARITH = CF | PF | AF | ZF | SF | OF;

/** LAZY_OP values. NONE: RFLAGS holds the arithmetic flags. */
export const LAZY_NONE = 0;
export const LAZY_ADD = 1; // also ADC (LAZY_AUX = carry in)
export const LAZY_SUB = 2; // also SBB and CMP (LAZY_AUX = borrow in)
export const LAZY_LOGIC = 3; // AND OR XOR TEST: CF = OF = 0
export const LAZY_INC = 4; // CF from LAZY_AUX
export const LAZY_DEC = 5; // CF from LAZY_AUX

/** Parity of the low byte: PF is set for an even number of one bits. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let b = i; b; b >>= 1) bits += b & 1;
  PARITY[i] = bits % 2 === 0 ? PF : 0;
}

/**
 * The arithmetic flags of a lazy state. Operands of 1, 2 and 4 bytes are in `*Lo` (masked to
 * the size, as unsigned); 8-byte operands use `*Hi` too.
 */
export function lazyFlags(
  op: number, size: number, aux: number,
  resLo: number, resHi: number, dstLo: number, dstHi: number, srcLo: number, srcHi: number,
): number {
  // Sign of a value: bit 7/15/31 of lo, or bit 31 of hi for 8 bytes.
  const signShift = size === 8 ? 31 : size * 8 - 1;
  const res = size === 8 ? resHi : resLo;
  const dst = size === 8 ? dstHi : dstLo;
  const src = size === 8 ? srcHi : srcLo;
  let f = PARITY[resLo & 0xff]!;
  if (((res >>> signShift) & 1) !== 0) f |= SF;
  if (resLo === 0 && (size !== 8 || resHi === 0)) f |= ZF;
  switch (op) {
    case LAZY_ADD: {
      // CF: the result wrapped below dst (or equals it with a carry in).
      const below = ult(resLo, resHi, dstLo, dstHi, size);
      const equal = resLo === dstLo && (size !== 8 || resHi === dstHi);
      if (below || (aux !== 0 && equal)) f |= CF;
      if ((((dst ^ res) & (src ^ res)) >>> signShift) & 1) f |= OF;
      if ((dstLo ^ srcLo ^ resLo) & 0x10) f |= AF;
      break;
    }
    case LAZY_SUB: {
      const below = ult(dstLo, dstHi, srcLo, srcHi, size);
      const equal = dstLo === srcLo && (size !== 8 || dstHi === srcHi);
      if (below || (aux !== 0 && equal)) f |= CF;
      if ((((dst ^ src) & (dst ^ res)) >>> signShift) & 1) f |= OF;
      if ((dstLo ^ srcLo ^ resLo) & 0x10) f |= AF;
      break;
    }
    case LAZY_LOGIC:
      break;
    case LAZY_INC:
      f |= aux & CF;
      if ((resLo & 0xf) === 0) f |= AF;
      // Overflow: the result is the smallest negative number.
      if (((res >>> signShift) & 1) !== 0 && (((res - 1) >>> signShift) & 1) === 0 && (size !== 8 || resLo === 0)) f |= OF;
      break;
    case LAZY_DEC:
      f |= aux & CF;
      if ((resLo & 0xf) === 0xf) f |= AF;
      // Overflow: the result is the largest positive number.
      if (((res >>> signShift) & 1) === 0 && (((res + 1) >>> signShift) & 1) !== 0 && (size !== 8 || resLo === -1)) f |= OF;
      break;
  }
  return f;
}

/** Unsigned a < b for (lo, hi) values of `size` bytes (lo holds the whole value below 8). */
function ult(aLo: number, aHi: number, bLo: number, bHi: number, size: number): boolean {
  if (size === 8 && aHi !== bHi) return aHi >>> 0 < bHi >>> 0;
  return aLo >>> 0 < bLo >>> 0;
}

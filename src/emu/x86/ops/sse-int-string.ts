/**
 * SSE4.2 string and text instructions: PCMPESTRI PCMPESTRM PCMPISTRI PCMPISTRM (66 0F 3A 60-63)
 * and CRC32 (F2 0F 38 F0/F1). Intel SDM Vol. 2B, "PCMPESTRI" ... and section 4.1 "Imm8 Control
 * Byte Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM"; "CRC32".
 *
 * PCMPxSTRx: imm8 picks the element format (bits 1:0: unsigned/signed bytes/words), the
 * aggregation (3:2: equal any, ranges, equal each, equal ordered), the polarity (5:4) and the
 * output (6: least/most significant index, or bit/element mask). xmm1 is operand A (the set,
 * the ranges, the needle), xmm2/m128 operand B (the text). Lengths are explicit (|EAX| and
 * |EDX|, |RAX| |RDX| with REX.W, saturated at the element count) or implicit (up to the first
 * zero element). Comparisons with invalid elements are forced as SDM Table 4-7 says. The
 * memory operand need not be aligned (checked on the host). Flags: CF = result non-zero,
 * ZF = B shorter than the register, SF = A shorter, OF = result bit 0, AF = PF = 0. The index
 * forms write ECX (zero-extended to RCX, with or without REX.W, as the host does); the mask
 * forms write XMM0.
 *
 * CRC32: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of the 1, 2, 4 or 8 source
 * bytes, accumulated on the low 32 bits of the destination, zero-extended to 64 bits. No
 * pre- or post-inversion (software does that).
 *
 * Not supported: nothing in these instructions.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { ARITH, CF, OF, SF, ZF } from '../flags.ts';
import { RFLAGS } from '../../state-layout.ts';
import { XMM_I, checkSse, loadMem } from './simd.ts';
import { V, views } from './sse-int-lanes.ts';

// Module-local copies of state indexes (an imported binding is re-read on every use).
const I_XMM = XMM_I;

/** aux bits of the PCMPxSTRx handler. */
export const STR_EXPLICIT = 1;
export const STR_MASK = 2;

/** The elements of operands A and B, unpacked once per instruction. */
const ELEM_A = new Int32Array(16);
const ELEM_B = new Int32Array(16);

/**
 * Unpacks the `ub` elements of the register at dword index r (format imm[1:0]) into `out` and
 * returns the implicit length: the index of the first zero element, or `ub`.
 */
function unpack(r: number, fmt: number, ub: number, out: Int32Array): number {
  switch (fmt) {
    case 0: { const v = V.u8; for (let j = 0; j < 16; j++) out[j] = v[r * 4 + j]!; break; }
    case 1: { const v = V.u16; for (let j = 0; j < 8; j++) out[j] = v[r * 2 + j]!; break; }
    case 2: { const v = V.i8; for (let j = 0; j < 16; j++) out[j] = v[r * 4 + j]!; break; }
    default: { const v = V.i16; for (let j = 0; j < 8; j++) out[j] = v[r * 2 + j]!; }
  }
  for (let j = 0; j < ub; j++) if (out[j] === 0) return j;
  return ub;
}

/** Explicit length: |register| (64-bit with REX.W, else 32-bit) saturated at the element count. */
function explicitLength(cpu: Cpu, reg: number, wide: boolean, ub: number): number {
  const lo = cpu.lo(reg);
  const hi = wide ? cpu.hi64(reg) : lo >> 31;
  let magnitude: number;
  if (hi === 0) magnitude = lo >>> 0;
  else if (hi === -1) magnitude = lo === 0 ? 0x100000000 : 0x100000000 - (lo >>> 0);
  else magnitude = ub;
  return magnitude > ub ? ub : magnitude;
}

/**
 * IntRes1 of SDM 4.1.4: bit j set when text element j (of B, length lb) matches per the
 * aggregation `agg`, with A (length la) as the set, ranges or needle.
 */
function aggregate(agg: number, la: number, lb: number, ub: number): number {
  const a = ELEM_A;
  const b = ELEM_B;
  let res = 0;
  switch (agg) {
    case 0: // equal any: B[j] is one of A[0..la)
      for (let j = 0; j < lb; j++) {
        const x = b[j]!;
        for (let i = 0; i < la; i++) {
          if (a[i] === x) {
            res |= 1 << j;
            break;
          }
        }
      }
      break;
    case 1: // ranges: A[i] <= B[j] <= A[i + 1] for an even i with both ends valid
      for (let j = 0; j < lb; j++) {
        const x = b[j]!;
        for (let i = 0; i + 1 < la; i += 2) {
          if (x >= a[i]! && x <= a[i + 1]!) {
            res |= 1 << j;
            break;
          }
        }
      }
      break;
    case 2: // equal each: A[i] = B[i]; both invalid is a match, one invalid is not
      for (let i = 0; i < ub; i++) {
        const va = i < la;
        const vb = i < lb;
        if (va && vb ? a[i] === b[i] : !va && !vb) res |= 1 << i;
      }
      break;
    default: // equal ordered: A (the needle) occurs in B at j; an invalid needle element matches
      for (let j = 0; j < ub; j++) {
        let match = true;
        for (let i = 0, k = j; k < ub && i < la; i++, k++) {
          if (k >= lb || a[i] !== b[k]) {
            match = false;
            break;
          }
        }
        if (match) res |= 1 << j;
      }
  }
  return res;
}

/** PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM (aux: STR_EXPLICIT, STR_MASK). */
export function pcmpstr(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const b = e.mod === 3 ? I_XMM + 4 * e.rm : loadMem(cpu, e, 16, false);
  views(cpu);
  const a = I_XMM + 4 * e.reg;
  const imm = e.imm & 0xff;
  const fmt = imm & 3;
  const ub = imm & 1 ? 8 : 16;
  let la = unpack(a, fmt, ub, ELEM_A);
  let lb = unpack(b, fmt, ub, ELEM_B);
  if (e.aux & STR_EXPLICIT) {
    la = explicitLength(cpu, 0, e.opsize === 8, ub);
    lb = explicitLength(cpu, 2, e.opsize === 8, ub);
  }
  let res = aggregate((imm >> 2) & 3, la, lb, ub);
  // Polarity: 01 negates every bit, 11 only those of valid B elements.
  const polarity = (imm >> 4) & 3;
  if (polarity === 1) res ^= (1 << ub) - 1;
  else if (polarity === 3) res ^= (1 << lb) - 1;
  const i32 = cpu.i32;
  if (e.aux & STR_MASK) {
    if (imm & 0x40) {
      // Element mask: all ones in each selected byte or word.
      const u8 = V.u8;
      const u16 = V.u16;
      for (let j = 0; j < ub; j++) {
        const on = (res >> j) & 1;
        if (ub === 16) u8[I_XMM * 4 + j] = on ? 0xff : 0;
        else u16[I_XMM * 2 + j] = on ? 0xffff : 0;
      }
    } else {
      i32[I_XMM] = res;
      i32[I_XMM + 1] = 0;
      i32[I_XMM + 2] = 0;
      i32[I_XMM + 3] = 0;
    }
  } else {
    let index = ub;
    if (res !== 0) index = imm & 0x40 ? 31 - Math.clz32(res) : 31 - Math.clz32(res & -res);
    cpu.setReg(1, 4, index, 0, 0);
  }
  let f = i32[RFLAGS >> 2]! & ~ARITH;
  if (res !== 0) f |= CF;
  if (lb < ub) f |= ZF;
  if (la < ub) f |= SF;
  if (res & 1) f |= OF;
  cpu.setFlags(f);
}

/** CRC-32C byte table (reflected polynomial 0x82F63B78). */
const CRC32C = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC32C[i] = c;
}

function crcBytes(crc: number, v: number, bytes: number): number {
  for (let k = 0; k < bytes; k++) crc = CRC32C[(crc ^ (v >>> (8 * k))) & 0xff]! ^ (crc >>> 8);
  return crc;
}

/** CRC32 Gy, Eb (aux 1) or Gy, Ev (aux 0: 2, 4 or 8 bytes by operand size). */
export function crc32(cpu: Cpu, e: CachedInsn): void {
  const size = e.aux === 1 ? 1 : e.opsize;
  const lo = cpu.readE(e, size);
  const hi = cpu.hi;
  let crc = crcBytes(cpu.lo(e.reg), lo, size > 4 ? 4 : size);
  if (size === 8) crc = crcBytes(crc, hi, 4);
  cpu.setReg(e.reg, 4, crc, 0, e.rex);
}

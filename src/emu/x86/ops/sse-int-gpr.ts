/**
 * MMX/SSE integer instructions that touch general registers, flags or memory directly:
 * PMOVMSKB, PEXTRW and PINSRW (0F C5/C4, MMX and XMM), the SSE4.1 PEXTRB/W/D/Q, EXTRACTPS,
 * PINSRB/D/Q and PTEST, and MASKMOVQ/MASKMOVDQU. Intel SDM Vol. 2, the page of each.
 *
 * MMX forms with a memory source check for #UD/#NM/#MF first, read memory, and only then
 * make the x87-to-MMX transition (TOP = 0, all tags valid): the host leaves TOP and the tags
 * unchanged when the read faults, and raises a pending #MF before a #PF. MASKMOVQ, a store,
 * makes the transition first: the host shows it done when the store faults.
 *
 * MASKMOVQ/MASKMOVDQU store the bytes of the source whose mask byte has bit 7 set to
 * DS:rDI (a segment override applies; the address size picks DI/EDI/RDI). All or nothing:
 * the whole 8/16-byte range is checked for writing first, whatever the mask, as the host does
 * (AMD Zen 4 faults on an unwritable range even with an all-zero mask).
 *
 * Register destinations are zero-extended (a 32-bit write), PEXTRQ with REX.W writes 64 bits.
 *
 * Not supported: the non-temporal hint of MASKMOV* (stores are ordinary stores).
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { SEG_DS } from '../decoder.ts';
import { ARITH, CF, ZF } from '../flags.ts';
import { ACCESS_WRITE } from '../mmu.ts';
import { RFLAGS } from '../../state-layout.ts';
import { MM_I, XMM_I, checkMmx, checkSse, mmxFaults, xmmRm } from './simd.ts';
import { V, mmWritten, views } from './sse-int-lanes.ts';

// Module-local copies of state indexes (an imported binding is re-read on every use).
const I_XMM = XMM_I;
const I_MM = MM_I;

/** aux of the forms below that exist as MMX (NP) and XMM (66) encodings. */
export const FORM_MMX = 1;

/** PMOVMSKB Gd, N/U: bit 7 of each source byte into a mask, zero-extended. */
export function pmovmskb(cpu: Cpu, e: CachedInsn): void {
  let r: number;
  let n: number;
  if (e.aux === FORM_MMX) {
    checkMmx(cpu);
    r = I_MM + 4 * (e.rm & 7);
    n = 2;
  } else {
    checkSse(cpu);
    r = I_XMM + 4 * e.rm;
    n = 4;
  }
  const i32 = cpu.i32;
  let mask = 0;
  for (let i = 0; i < n; i++) {
    const x = i32[r + i]!;
    mask |= (((x >>> 7) & 1) | ((x >>> 14) & 2) | ((x >>> 21) & 4) | ((x >>> 28) & 8)) << (4 * i);
  }
  cpu.setReg(e.reg, 4, mask, 0, 0);
}

/** PEXTRW Gd, N/U, Ib (0F C5): word imm mod 4 (MMX) or mod 8, zero-extended. */
export function pextrwReg(cpu: Cpu, e: CachedInsn): void {
  let at: number;
  if (e.aux === FORM_MMX) {
    checkMmx(cpu);
    at = (I_MM + 4 * (e.rm & 7)) * 2 + (e.imm & 3);
  } else {
    checkSse(cpu);
    at = (I_XMM + 4 * e.rm) * 2 + (e.imm & 7);
  }
  views(cpu);
  cpu.setReg(e.reg, 4, V.u16[at]!, 0, 0);
}

/** PINSRW P/V, Ry/Mw, Ib (0F C4): the low word of a register or a memory word. */
export function pinsrw(cpu: Cpu, e: CachedInsn): void {
  const mmx = e.aux === FORM_MMX;
  if (mmx) mmxFaults(cpu);
  else checkSse(cpu);
  const value = cpu.readE(e, 2);
  views(cpu);
  if (mmx) {
    checkMmx(cpu);
    const d = I_MM + 4 * (e.reg & 7);
    V.u16[d * 2 + (e.imm & 3)] = value;
    mmWritten(cpu, d);
  } else {
    V.u16[(I_XMM + 4 * e.reg) * 2 + (e.imm & 7)] = value;
  }
}

/** aux of PEXTR*: the element size; PEXTRD becomes PEXTRQ with REX.W, EXTRACTPS does not. */
export const EXTR_B = 1;
export const EXTR_W = 2;
export const EXTR_D = 4;
export const EXTR_PS = 3;

/** PEXTRB/W/D/Q, EXTRACTPS E, V, Ib: to a register (zero-extended) or memory (element size). */
export function pextr(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  views(cpu);
  const src = I_XMM + 4 * e.reg;
  const imm = e.imm;
  let size = e.aux === EXTR_PS ? 4 : e.aux;
  if (size === 4 && e.aux === EXTR_D && e.opsize === 8) size = 8;
  let lo: number;
  let hi = 0;
  switch (size) {
    case 1: lo = V.u8[src * 4 + (imm & 15)]!; break;
    case 2: lo = V.u16[src * 2 + (imm & 7)]!; break;
    case 4: lo = V.i32[src + (imm & 3)]!; break;
    default:
      lo = V.i32[src + 2 * (imm & 1)]!;
      hi = V.i32[src + 2 * (imm & 1) + 1]!;
  }
  if (e.mod === 3) {
    cpu.setReg(e.rm, size === 8 ? 8 : 4, lo, hi, 0);
  } else {
    cpu.ea(e);
    cpu.writeEA(size, lo, hi);
  }
}

/** aux of PINSR*: the element size (PINSRD becomes PINSRQ with REX.W). */
export const INS_B = 1;
export const INS_D = 4;

/** PINSRB/D/Q V, E, Ib: the low byte of r32 or a memory byte; a dword or (REX.W) quadword. */
export function pinsr(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const size = e.aux === INS_D && e.opsize === 8 ? 8 : e.aux;
  let lo: number;
  let hi = 0;
  if (e.mod === 3) {
    lo = cpu.lo(e.rm); // PINSRB reads r32: no AH..BH encodings
    hi = cpu.hi64(e.rm);
  } else {
    cpu.ea(e);
    lo = cpu.readEA(size);
    hi = cpu.hi;
  }
  views(cpu);
  const d = I_XMM + 4 * e.reg;
  const imm = e.imm;
  if (size === 1) {
    V.u8[d * 4 + (imm & 15)] = lo;
  } else if (size === 4) {
    V.i32[d + (imm & 3)] = lo;
  } else {
    V.i32[d + 2 * (imm & 1)] = lo;
    V.i32[d + 2 * (imm & 1) + 1] = hi;
  }
}

/** PTEST V, W: ZF = (d AND s) = 0, CF = (NOT d AND s) = 0, the other arithmetic flags 0. */
export function ptest(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const s = xmmRm(cpu, e, 16, true);
  const d = I_XMM + 4 * e.reg;
  const i32 = cpu.i32;
  let and = 0;
  let andn = 0;
  for (let i = 0; i < 4; i++) {
    and |= i32[d + i]! & i32[s + i]!;
    andn |= ~i32[d + i]! & i32[s + i]!;
  }
  let f = i32[RFLAGS >> 2]! & ~ARITH;
  if (and === 0) f |= ZF;
  if (andn === 0) f |= CF;
  cpu.setFlags(f);
}

/** MASKMOVQ P, N / MASKMOVDQU V, U: byte-masked store of reg to DS:rDI (see the file comment). */
export function maskmov(cpu: Cpu, e: CachedInsn): void {
  const mmx = e.aux === FORM_MMX;
  if (mmx) checkMmx(cpu); // the host makes the transition even when the store faults
  else checkSse(cpu);
  views(cpu);
  const src = (mmx ? I_MM + 4 * (e.reg & 7) : I_XMM + 4 * e.reg) * 4;
  const mask = (mmx ? I_MM + 4 * (e.rm & 7) : I_XMM + 4 * e.rm) * 4;
  const bytes = mmx ? 8 : 16;
  let lo = cpu.lo(7);
  let hi = cpu.hi64(7);
  if (e.adsize !== 8) {
    hi = 0;
    if (e.adsize === 2) lo &= 0xffff;
  }
  lo = cpu.linearAddress(e.seg < 0 ? SEG_DS : e.seg, lo, hi);
  hi = cpu.hi;
  const long = cpu.codeBits === 64;
  const lastLo = (lo + bytes - 1) | 0;
  const lastHi = long && (lastLo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
  cpu.translate(lo, hi, ACCESS_WRITE);
  if ((lastLo & ~0xfff) !== (lo & ~0xfff)) cpu.translate(lastLo, lastHi, ACCESS_WRITE);
  const u8 = V.u8;
  for (let i = 0; i < bytes; i++) {
    if ((u8[mask + i]! & 0x80) === 0) continue;
    const a = (lo + i) | 0;
    cpu.write8(a, long && (a >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, u8[src + i]!);
  }
}

/**
 * x87 control instructions (Intel SDM Vol. 1, 8.1.10 and 8.3.12; Vol. 2 FSTENV/FSAVE pages):
 * FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW (m16 and AX), FNSTENV/FLDENV, FNSAVE/FRSTOR, FWAIT.
 *
 * The environment image (protected mode, also used in 64-bit mode; Vol. 1 Figures 8-9, 8-10):
 *
 *   32-bit operand size (28 bytes)              16-bit operand size (14 bytes)
 *   +0  FCW            (upper 16 bits: 0xFFFF)   +0  FCW
 *   +4  FSW            (upper 16 bits: 0xFFFF)   +2  FSW
 *   +8  tag word       (upper 16 bits: 0xFFFF)   +4  tag word
 *   +12 FIP bits 31-0                            +6  FIP bits 15-0
 *   +16 FCS | FOP << 16 (bits 27-31: 0)          +8  FCS
 *   +20 FDP bits 31-0                            +10 FDP bits 15-0
 *   +24 FDS            (upper 16 bits: 0xFFFF)   +12 FDS
 *
 * FNSAVE/FRSTOR add ST(0)..ST(7), 10 bytes each, after the environment. The tag word holds two
 * bits per physical register R7..R0 (00 valid, 01 zero, 10 special: NaN, infinity, denormal or
 * unsupported, 11 empty); the state keeps only the abridged form (in use or not), so the full
 * tags are derived from the register contents, and a loaded tag other than 11 means "in use".
 * FLDCW/FLDENV/FNSTENV recompute ES and B from the flags and the (new) masks; FNSTENV then
 * masks every exception. FNINIT/FNCLEX/FNSTCW/FNSTSW/FNSTENV/FNSAVE do not wait (no #MF).
 *
 * Not supported: the real-mode and virtual-8086 image layouts (the CPU has no real mode).
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { VEC_NM } from '../exceptions.ts';
import { CR0_MP, CR0_NE, CR0_TS } from '../mmu.ts';
import { CR0, FPU_FCS, FPU_FDP, FPU_FDS, FPU_FIP, FPU_FOP } from '../../state-layout.ts';
import * as float80 from './float80.ts';
import * as simd from './simd.ts';
import * as x87Stack from './x87-stack.ts';
// Imported bindings bound to module constants once (a transpiled import is a getter call per use).
const { FCW_ONES, FCW_WRITABLE, FSW_EXCEPTIONS, FSW_TOP_SHIFT } = float80;
const { checkWait, checkX87 } = simd;
const { I_FCW, I_FSW, I_TAGS, controlMem, regAt, updateSummary } = x87Stack;

const I_CR0 = CR0 >> 2;
const NE = CR0_NE;
const MP_TS = CR0_MP | CR0_TS;
const I_FOP = FPU_FOP >> 2;
const I_FIP = FPU_FIP >> 2;
const I_FDP = FPU_FDP >> 2;
const I_FCS = FPU_FCS >> 2;
const I_FDS = FPU_FDS >> 2;
/** FCW after FNINIT: all exceptions masked, 64-bit precision, round to nearest. */
const FCW_INIT = 0x037f;
const TAG_VALID = 0;
const TAG_ZERO = 1;
const TAG_SPECIAL = 2;
const TAG_EMPTY = 3;

/** Image scratch for FLDENV/FRSTOR: 7 environment fields, then 8 × (low, high, sign/exponent). */
const image = new Int32Array(7 + 24);

/** FNINIT's state (also the end of FNSAVE). */
function init(i32: Int32Array): void {
  i32[I_FCW] = FCW_INIT;
  i32[I_FSW] = 0;
  i32[I_TAGS] = 0;
  i32[I_FOP] = 0;
  i32[I_FIP] = i32[I_FIP + 1] = 0;
  i32[I_FDP] = i32[I_FDP + 1] = 0;
  i32[I_FCS] = 0;
  i32[I_FDS] = 0;
}

/** FNINIT. */
export function fninit(cpu: Cpu): void {
  checkX87(cpu);
  init(cpu.i32);
}

/** FNCLEX: clears the exception flags, SF, ES and B. */
export function fnclex(cpu: Cpu): void {
  checkX87(cpu);
  cpu.i32[I_FSW] = cpu.i32[I_FSW]! & 0x7f00;
}

/** FLDCW m16 (waits). */
export function fldcw(cpu: Cpu, e: CachedInsn): void {
  const lo = controlMem(cpu, e, true);
  const v = cpu.read16(lo, cpu.eaHi);
  const i32 = cpu.i32;
  i32[I_FCW] = (v & FCW_WRITABLE) | FCW_ONES;
  updateSummary(i32);
}

/** FNSTCW m16. */
export function fnstcw(cpu: Cpu, e: CachedInsn): void {
  const lo = controlMem(cpu, e, false);
  cpu.write16(lo, cpu.eaHi, cpu.i32[I_FCW]!);
}

/** FNSTSW m16. */
export function fnstswMem(cpu: Cpu, e: CachedInsn): void {
  const lo = controlMem(cpu, e, false);
  cpu.write16(lo, cpu.eaHi, cpu.i32[I_FSW]!);
}

/** FNSTSW AX. */
export function fnstswAx(cpu: Cpu): void {
  checkX87(cpu);
  cpu.setReg(0, 2, cpu.i32[I_FSW]!, 0, 0);
}

/**
 * FWAIT: #NM when CR0.MP and TS are both set, then #MF for a pending unmasked exception (only
 * with CR0.NE, like every waiting instruction: see x87-stack.ts).
 */
export function fwait(cpu: Cpu): void {
  if ((cpu.i32[I_CR0]! & NE) !== 0) checkWait(cpu);
  else if ((cpu.i32[I_CR0]! & MP_TS) === MP_TS) cpu.fault(VEC_NM);
}

/** The full tag word derived from the register contents and the abridged tags. */
export function fullTagWord(i32: Int32Array): number {
  const tags = i32[I_TAGS]!;
  let tw = 0;
  for (let r = 0; r < 8; r++) {
    let tag = TAG_EMPTY;
    if (((tags >> r) & 1) !== 0) {
      const at = regAt(r);
      const exp = i32[at + 2]! & 0x7fff;
      const hi = i32[at + 1]!;
      if (exp === 0) tag = hi === 0 && i32[at] === 0 ? TAG_ZERO : TAG_SPECIAL;
      else if (exp === 0x7fff || hi >= 0) tag = TAG_SPECIAL; // NaN, infinity, or J = 0 (unnormal)
      else tag = TAG_VALID;
    }
    tw |= tag << (2 * r);
  }
  return tw;
}

/** Writes the environment at (lo, hi) in the format of operand size `size16`; returns its length. */
function storeEnv(cpu: Cpu, lo: number, hi: number, size16: boolean): number {
  const i32 = cpu.i32;
  const fcw = i32[I_FCW]! & 0xffff;
  const fsw = i32[I_FSW]! & 0xffff;
  const tw = fullTagWord(i32);
  if (size16) {
    cpu.write16(lo, hi, fcw);
    cpu.write16(at(lo, 2), hiAt(lo, hi, 2), fsw);
    cpu.write16(at(lo, 4), hiAt(lo, hi, 4), tw);
    cpu.write16(at(lo, 6), hiAt(lo, hi, 6), i32[I_FIP]!);
    cpu.write16(at(lo, 8), hiAt(lo, hi, 8), i32[I_FCS]!);
    cpu.write16(at(lo, 10), hiAt(lo, hi, 10), i32[I_FDP]!);
    cpu.write16(at(lo, 12), hiAt(lo, hi, 12), i32[I_FDS]!);
    return 14;
  }
  cpu.write32(lo, hi, fcw | 0xffff0000);
  cpu.write32(at(lo, 4), hiAt(lo, hi, 4), fsw | 0xffff0000);
  cpu.write32(at(lo, 8), hiAt(lo, hi, 8), tw | 0xffff0000);
  cpu.write32(at(lo, 12), hiAt(lo, hi, 12), i32[I_FIP]!);
  cpu.write32(at(lo, 16), hiAt(lo, hi, 16), (i32[I_FCS]! & 0xffff) | ((i32[I_FOP]! & 0x7ff) << 16));
  cpu.write32(at(lo, 20), hiAt(lo, hi, 20), i32[I_FDP]!);
  cpu.write32(at(lo, 24), hiAt(lo, hi, 24), (i32[I_FDS]! & 0xffff) | 0xffff0000);
  return 28;
}

/** Low half of the address (lo, hi) + off. */
function at(lo: number, off: number): number {
  return (lo + off) | 0;
}

/** High half of the address (lo, hi) + off. */
function hiAt(lo: number, hi: number, off: number): number {
  return (lo >>> 0) + off > 0xffffffff ? (hi + 1) | 0 : hi;
}

/** Reads an environment image into `image` (no state change); returns its length. */
function readEnv(cpu: Cpu, lo: number, hi: number, size16: boolean): number {
  const step = size16 ? 2 : 4;
  for (let k = 0; k < 7; k++) {
    const a = at(lo, k * step);
    const ah = hiAt(lo, hi, k * step);
    image[k] = size16 ? cpu.read16(a, ah) : cpu.read32(a, ah);
  }
  return 7 * step;
}

/** Loads the environment fields read by readEnv. */
function loadEnv(i32: Int32Array, size16: boolean): void {
  i32[I_FCW] = (image[0]! & FCW_WRITABLE) | FCW_ONES;
  i32[I_FSW] = image[1]! & 0xffff;
  const tw = image[2]!;
  let tags = 0;
  for (let r = 0; r < 8; r++) if (((tw >> (2 * r)) & 3) !== TAG_EMPTY) tags |= 1 << r;
  i32[I_TAGS] = tags;
  i32[I_FIP] = size16 ? image[3]! & 0xffff : image[3]!;
  i32[I_FIP + 1] = 0;
  i32[I_FCS] = image[4]! & 0xffff;
  i32[I_FOP] = size16 ? 0 : (image[4]! >>> 16) & 0x7ff;
  i32[I_FDP] = size16 ? image[5]! & 0xffff : image[5]!;
  i32[I_FDP + 1] = 0;
  i32[I_FDS] = image[6]! & 0xffff;
  updateSummary(i32);
}

/** FNSTENV m14/28: stores the environment, then masks all exceptions. */
export function fnstenv(cpu: Cpu, e: CachedInsn): void {
  const lo = controlMem(cpu, e, false);
  const size16 = e.opsize === 2;
  cpu.probeWriteEA(size16 ? 14 : 28);
  storeEnv(cpu, lo, cpu.eaHi, size16);
  const i32 = cpu.i32;
  i32[I_FCW] = i32[I_FCW]! | FSW_EXCEPTIONS;
  updateSummary(i32);
}

/** FLDENV m14/28 (waits). */
export function fldenv(cpu: Cpu, e: CachedInsn): void {
  const lo = controlMem(cpu, e, true);
  const size16 = e.opsize === 2;
  readEnv(cpu, lo, cpu.eaHi, size16);
  loadEnv(cpu.i32, size16);
}

/** FNSAVE m94/108: environment and ST(0)..ST(7), then FNINIT. */
export function fnsave(cpu: Cpu, e: CachedInsn): void {
  const lo = controlMem(cpu, e, false);
  const hi = cpu.eaHi;
  const size16 = e.opsize === 2;
  cpu.probeWriteEA(size16 ? 94 : 108);
  const base = storeEnv(cpu, lo, hi, size16);
  const i32 = cpu.i32;
  const top = (i32[I_FSW]! >> FSW_TOP_SHIFT) & 7;
  for (let i = 0; i < 8; i++) {
    const r = regAt(top + i);
    const a = at(lo, base + 10 * i);
    const ah = hiAt(lo, hi, base + 10 * i);
    // Five words: the registers sit at 10-byte steps, so alignment checking (#AC) sees only
    // the image's own 2/4-byte alignment (SDM Vol. 3A Table 6-7), checked by the environment.
    for (let w = 0; w < 5; w++) cpu.write16(at(a, 2 * w), hiAt(a, ah, 2 * w), i32[r + (w >> 1)]! >> (16 * (w & 1)));
  }
  init(i32);
}

/** FRSTOR m94/108 (waits): environment and ST(0)..ST(7), all read before anything changes. */
export function frstor(cpu: Cpu, e: CachedInsn): void {
  const lo = controlMem(cpu, e, true);
  const hi = cpu.eaHi;
  const size16 = e.opsize === 2;
  const base = readEnv(cpu, lo, hi, size16);
  for (let i = 0; i < 8; i++) {
    const a = at(lo, base + 10 * i);
    const ah = hiAt(lo, hi, base + 10 * i);
    // Words, as FNSAVE writes them (alignment checking sees 2-byte pieces).
    image[7 + 3 * i] = cpu.read16(a, ah) | (cpu.read16(at(a, 2), hiAt(a, ah, 2)) << 16);
    image[8 + 3 * i] = cpu.read16(at(a, 4), hiAt(a, ah, 4)) | (cpu.read16(at(a, 6), hiAt(a, ah, 6)) << 16);
    image[9 + 3 * i] = cpu.read16(at(a, 8), hiAt(a, ah, 8));
  }
  const i32 = cpu.i32;
  loadEnv(i32, size16);
  const top = (i32[I_FSW]! >> FSW_TOP_SHIFT) & 7;
  for (let i = 0; i < 8; i++) {
    const r = regAt(top + i);
    i32[r] = image[7 + 3 * i]!;
    i32[r + 1] = image[8 + 3 * i]!;
    i32[r + 2] = image[9 + 3 * i]!;
  }
}

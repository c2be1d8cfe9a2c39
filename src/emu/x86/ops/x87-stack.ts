/**
 * The x87 register stack and status bookkeeping shared by the x87 handlers (Intel SDM Vol. 1,
 * 8.1 "x87 FPU execution environment", 8.5 "x87 FPU floating-point exception conditions", 8.7
 * "handling x87 FPU exceptions in software").
 *
 * State (src/emu/state-layout.ts): R0-R7 in FPU_REGS (16-byte slots: significand low and high
 * dwords, then the sign/exponent word), FCW, FSW (TOP in bits 11-13), the abridged tag byte
 * FPU_TAGS (bit i set: R_i in use) and the last-instruction pointers FPU_FOP/FIP/FDP/FCS/FDS.
 * ST(i) is R[(TOP + i) & 7].
 *
 * Exceptions: raise() sets flags in FSW, and ES and B when any flag is unmasked; the *next*
 * waiting x87 instruction (or FWAIT) then raises #MF (vector 16) when CR0.NE is set (begin()).
 * Stack faults are IE + SF with C1 = 1 for overflow and 0 for underflow.
 *
 * Not supported: CR0.NE = 0 (legacy FERR#/IGNNE# reporting through IRQ 13): a pending exception
 * is then never reported.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { VEC_MF } from '../exceptions.ts';
import { CR0_NE } from '../mmu.ts';
import {
  CR0, FPU_FCS, FPU_FCW, FPU_FDP, FPU_FDS, FPU_FIP, FPU_FOP, FPU_FSW, FPU_TAGS, RIP, SEG_SELECTOR, SEG_STRIDE, SEGS,
} from '../../state-layout.ts';
import * as float80 from './float80.ts';
import { F80 } from './float80.ts';
import * as simd from './simd.ts';
// Imported bindings bound to module constants once (a transpiled import is a getter call per use).
const {
  FSW_B, FSW_C1, FSW_ES, FSW_EXCEPTIONS, FSW_IE, FSW_SF, FSW_TOP_MASK, FSW_TOP_SHIFT, setIndefinite, unpack,
} = float80;
const { MM_I, checkX87 } = simd;

export const I_FCW = FPU_FCW >> 2;
export const I_FSW = FPU_FSW >> 2;
export const I_TAGS = FPU_TAGS >> 2;
const I_FOP = FPU_FOP >> 2;
const I_FIP = FPU_FIP >> 2;
const I_FDP = FPU_FDP >> 2;
const I_FCS = FPU_FCS >> 2;
const I_FDS = FPU_FDS >> 2;
const I_RIP = RIP >> 2;
const I_CR0 = CR0 >> 2;
const NE = CR0_NE;
const MF = VEC_MF;
const SEG_CS = 1;
const SEG_SS = 2;
const SEG_DS = 3;
/** Int32 index of segment register 0's selector, and the stride between segment registers. */
const I_SEL0 = (SEGS + SEG_SELECTOR) >> 2;
const I_SEG_STRIDE = SEG_STRIDE >> 2;

/** Physical register number of ST(i). */
export function physOf(i32: Int32Array, i: number): number {
  return ((i32[I_FSW]! >> FSW_TOP_SHIFT) + i) & 7;
}

/** Int32 index of ST(i)'s slot: +0 significand low, +1 significand high, +2 sign/exponent. */
export function stAt(i32: Int32Array, i: number): number {
  return MM_I + 4 * physOf(i32, i);
}

/** Int32 index of physical register R_r's slot. */
export function regAt(r: number): number {
  return MM_I + 4 * (r & 7);
}

export function isEmpty(i32: Int32Array, i: number): boolean {
  return ((i32[I_TAGS]! >> physOf(i32, i)) & 1) === 0;
}

/** Unpacks ST(i) into x and returns its class (the register must be in use). */
export function loadSt(i32: Int32Array, i: number, x: F80): number {
  const at = stAt(i32, i);
  return unpack(x, i32[at + 2]! & 0xffff, i32[at + 1]!, i32[at]!);
}

/** ST(i) = x (as rounded by roundPack or an exact result); the register becomes in use. */
export function writeSt(i32: Int32Array, i: number, x: F80): void {
  writeRaw(i32, i, x.se(), x.hi, x.lo);
}

/** ST(i) = the register image (se, hi, lo); the register becomes in use. */
export function writeRaw(i32: Int32Array, i: number, se: number, hi: number, lo: number): void {
  const r = physOf(i32, i);
  const at = MM_I + 4 * r;
  i32[at] = lo;
  i32[at + 1] = hi;
  i32[at + 2] = se & 0xffff;
  i32[I_TAGS] = i32[I_TAGS]! | (1 << r);
}

const indefinite = new F80();
setIndefinite(indefinite);

/** ST(i) = the QNaN indefinite (the masked response to an invalid operation). */
export function writeIndefinite(i32: Int32Array, i: number): void {
  writeSt(i32, i, indefinite);
}

/** TOP − 1 (the caller then writes ST(0)). */
export function push(i32: Int32Array): void {
  const fsw = i32[I_FSW]!;
  i32[I_FSW] = (fsw & ~FSW_TOP_MASK) | ((fsw - (1 << FSW_TOP_SHIFT)) & FSW_TOP_MASK);
}

/** Marks ST(0) empty and increments TOP. */
export function pop(i32: Int32Array): void {
  const fsw = i32[I_FSW]!;
  i32[I_TAGS] = i32[I_TAGS]! & ~(1 << ((fsw >> FSW_TOP_SHIFT) & 7));
  i32[I_FSW] = (fsw & ~FSW_TOP_MASK) | ((fsw + (1 << FSW_TOP_SHIFT)) & FSW_TOP_MASK);
}

/** Sets exception flags (FSW bits 0-6); ES and B follow when one of them is unmasked. */
export function raise(i32: Int32Array, flags: number): void {
  let fsw = i32[I_FSW]! | flags;
  if ((fsw & ~i32[I_FCW]! & FSW_EXCEPTIONS) !== 0) fsw |= FSW_ES | FSW_B;
  i32[I_FSW] = fsw;
}

/** ES and B recomputed from the flags and masks (FLDCW, FLDENV, FNSTENV). */
export function updateSummary(i32: Int32Array): void {
  const fsw = i32[I_FSW]! & ~(FSW_ES | FSW_B);
  i32[I_FSW] = (fsw & ~i32[I_FCW]! & FSW_EXCEPTIONS) !== 0 ? fsw | FSW_ES | FSW_B : fsw;
}

/** Sets the condition bits selected by `mask` to `bits`. */
export function setCodes(i32: Int32Array, mask: number, bits: number): void {
  i32[I_FSW] = (i32[I_FSW]! & ~mask) | bits;
}

export function setC1(i32: Int32Array, c1: number): void {
  i32[I_FSW] = c1 !== 0 ? i32[I_FSW]! | FSW_C1 : i32[I_FSW]! & ~FSW_C1;
}

/** Whether IE is masked (the masked response then writes indefinite values). */
export function invalidMasked(i32: Int32Array): boolean {
  return (i32[I_FCW]! & FSW_IE) !== 0;
}

/** Stack underflow (an operand register is empty): IE + SF, C1 = 0. Returns whether masked. */
export function stackUnderflow(i32: Int32Array): boolean {
  setC1(i32, 0);
  raise(i32, FSW_IE | FSW_SF);
  return invalidMasked(i32);
}

/** Stack overflow (a push onto a register in use): IE + SF, C1 = 1. Returns whether masked. */
export function stackOverflow(i32: Int32Array): boolean {
  setC1(i32, 1);
  raise(i32, FSW_IE | FSW_SF);
  return invalidMasked(i32);
}

/**
 * A push: ST(7), the register that becomes ST(0), must be empty. On overflow the masked response
 * pushes the indefinite; returns false when the caller must not write ST(0) (overflow).
 */
export function pushChecked(i32: Int32Array): boolean {
  if (!isEmpty(i32, 7)) {
    if (stackOverflow(i32)) {
      push(i32);
      writeIndefinite(i32, 0);
    }
    return false;
  }
  push(i32);
  return true;
}

/**
 * The stack check of FXTRACT, FSINCOS and FPTAN (ST(0) is replaced, then a second result is
 * pushed): ST(0) must be in use and ST(7) empty. On underflow or overflow the masked response
 * writes the indefinite to ST(0) and pushes another; returns false when the caller must stop.
 */
export function replacePushChecked(i32: Int32Array): boolean {
  const empty = isEmpty(i32, 0);
  if (!empty && isEmpty(i32, 7)) return true;
  if (empty ? stackUnderflow(i32) : stackOverflow(i32)) {
    writeIndefinite(i32, 0);
    push(i32);
    writeIndefinite(i32, 0);
  }
  return false;
}

/**
 * The start of every waiting x87 instruction: #NM (CR0.EM or TS), then #MF when an unmasked
 * exception is pending (FSW.ES) and CR0.NE is set.
 */
export function checkPending(cpu: Cpu): void {
  checkX87(cpu);
  const i32 = cpu.i32;
  if ((i32[I_FSW]! & FSW_ES) !== 0 && (i32[I_CR0]! & NE) !== 0) cpu.fault(MF);
}

/**
 * The start of a waiting non-control instruction: the checks, then FOP (low 3 bits of the opcode
 * and the ModRM byte), FIP (linear address of the instruction) and FCS.
 */
export function begin(cpu: Cpu, e: CachedInsn): void {
  checkPending(cpu);
  const i32 = cpu.i32;
  i32[I_FOP] = ((e.opcode & 7) << 8) | (e.modrm & 0xff);
  let lo = i32[I_RIP]!;
  let hi = i32[I_RIP + 1]!;
  if (cpu.codeBits !== 64) {
    lo = (lo + cpu.segBaseLo(SEG_CS)) | 0;
    hi = 0;
  }
  i32[I_FIP] = lo;
  i32[I_FIP + 1] = hi;
  i32[I_FCS] = i32[I_SEL0 + SEG_CS * I_SEG_STRIDE]! & 0xffff;
}

/**
 * begin() for an instruction with a memory operand: also computes the effective address (left in
 * cpu.eaLo/eaHi, low half returned) and records it as FDP with its segment's selector as FDS.
 */
export function beginMem(cpu: Cpu, e: CachedInsn): number {
  begin(cpu, e);
  const lo = cpu.ea(e);
  const i32 = cpu.i32;
  i32[I_FDP] = lo;
  i32[I_FDP + 1] = cpu.eaHi;
  const seg = e.seg >= 0 ? e.seg : e.base === 4 || e.base === 5 ? SEG_SS : SEG_DS;
  i32[I_FDS] = i32[I_SEL0 + seg * I_SEG_STRIDE]! & 0xffff;
  return lo;
}

/** The effective address of an x87 instruction with a control-type memory operand (no FDP). */
export function controlMem(cpu: Cpu, e: CachedInsn, waiting: boolean): number {
  if (waiting) checkPending(cpu);
  else checkX87(cpu);
  return cpu.ea(e);
}

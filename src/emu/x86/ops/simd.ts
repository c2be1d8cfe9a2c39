/**
 * Shared machinery of the MMX, SSE and x87 families: the register files in the state memory,
 * the #UD/#NM/#MF checks of Intel SDM Vol. 3A 13.1 (CR0.EM/TS/MP, CR4.OSFXSR/OSXMMEXCPT) and
 * Vol. 1 9.5 (MMX state transitions), and operand access for the ModRM forms W/U/Q/N (register
 * or memory) without allocation.
 *
 * Operands are addressed by Int32 index into `cpu.i32`: an XMM register is 4 consecutive
 * dwords (`xmmIndex(r)`), an MMX register 2 (`mmIndex(r)`, the significand of x87 register
 * R_r). A memory source is loaded into the scratch area (SIMD_SCRATCH) and handled like a
 * register; the handler never sees the difference. Lane arithmetic works on those dwords
 * (bytes and words through shifts, or a Uint8Array/DataView over the same memory).
 *
 * Alignment checking (#AC, CR0.AM + EFLAGS.AC at CPL 3): operands of 8 bytes or less are
 * checked by the MMU accessors at their natural alignment; 16-byte operands never raise #AC
 * (SDM Vol. 2, exception classes 4 and 5: "an unaligned memory reference of 8 Bytes or less"),
 * so loadMem/storeMem move a 16-byte operand that is not 8-aligned byte by byte while checking
 * is on. (AMD processors check 16-byte unaligned SSE operands as well.)
 *
 * Not supported: nothing here; each family's file lists its own gaps.
 */
import type { Cpu, CachedInsn } from '../cpu.ts';
import { ACCESS_WRITE, CR0_EM, CR0_MP, CR0_TS, CR4_OSFXSR } from '../mmu.ts';
import { CR0, CR4, FPU_FSW, FPU_REGS, FPU_TAGS, SIMD_SCRATCH, XMM } from '../../state-layout.ts';

/** Int32 index of XMM0's first dword; XMMr starts at XMM_I + 4r. */
export const XMM_I = XMM >> 2;
/** Int32 index of R0's significand (MM0); MMr starts at MM_I + 4r (16-byte x87 slots). */
export const MM_I = FPU_REGS >> 2;
/** Scratch operands: SRC_I (a loaded memory source, 4 dwords), TMP_I and TMP2_I (results). */
export const SRC_I = SIMD_SCRATCH >> 2;
export const TMP_I = SRC_I + 4;
export const TMP2_I = SRC_I + 8;

const VEC_UD = 6;
const VEC_NM = 7;
const VEC_GP = 13;
const VEC_MF = 16;
/** FSW.ES: an unmasked x87 exception is pending. */
const FSW_ES = 0x80;
// Module-local copies of the imported constants the checks read on every SIMD/x87
// instruction (an imported binding can cost a getter call per use, e.g. under tsx).
const I_CR0 = CR0 >> 2;
const I_CR4 = CR4 >> 2;
const I_FSW = FPU_FSW >> 2;
const I_TAGS = FPU_TAGS >> 2;
const EM = CR0_EM;
const EM_TS = CR0_EM | CR0_TS;
const MP_TS = CR0_MP | CR0_TS;
const OSFXSR = CR4_OSFXSR;

export function xmmIndex(r: number): number {
  return XMM_I + 4 * r;
}

/** MMX registers ignore REX: MM0-7 only. */
export function mmIndex(r: number): number {
  return MM_I + 4 * (r & 7);
}

/** SSE instruction checks: #UD if CR0.EM or not CR4.OSFXSR, then #NM if CR0.TS. */
export function checkSse(cpu: Cpu): void {
  const i32 = cpu.i32;
  const cr0 = i32[I_CR0]!;
  if ((cr0 & EM_TS) === 0 && (i32[I_CR4]! & OSFXSR) !== 0) return;
  if ((cr0 & EM) !== 0 || (i32[I_CR4]! & OSFXSR) === 0) cpu.fault(VEC_UD);
  cpu.fault(VEC_NM);
}

/**
 * x87 instruction checks (Vol. 3A Table 2-2): #NM if CR0.EM or CR0.TS. The pending-exception
 * check (#MF) is the x87 family's business: it depends on the instruction (FN* forms skip it).
 */
export function checkX87(cpu: Cpu): void {
  if ((cpu.i32[I_CR0]! & EM_TS) !== 0) cpu.fault(VEC_NM);
}

/** WAIT/FWAIT: #NM only if both CR0.MP and CR0.TS are set; then #MF for a pending exception. */
export function checkWait(cpu: Cpu): void {
  if ((cpu.i32[I_CR0]! & MP_TS) === MP_TS) cpu.fault(VEC_NM);
  if ((cpu.i32[I_FSW]! & FSW_ES) !== 0) cpu.fault(VEC_MF);
}

/**
 * MMX instruction checks (Vol. 3A Table 12-1 / 13-1): #UD if CR0.EM, #NM if CR0.TS, #MF if an
 * unmasked x87 exception is pending. Then the x87-to-MMX transition (Vol. 1 9.5.1): TOP = 0 and
 * every register tagged valid. EMMS calls checkMmx() and then empties the tags.
 */
export function checkMmx(cpu: Cpu): void {
  mmxFaults(cpu);
  const i32 = cpu.i32;
  i32[I_FSW] = i32[I_FSW]! & ~0x3800;
  i32[I_TAGS] = 0xff;
}

/**
 * The fault checks of checkMmx() without the x87-to-MMX transition, for forms that access
 * memory before the transition: on hardware a faulting access leaves TOP and the tags alone,
 * and a pending #MF wins over the #PF. Such forms call checkMmx() after the access.
 */
export function mmxFaults(cpu: Cpu): void {
  const i32 = cpu.i32;
  const cr0 = i32[I_CR0]!;
  if ((cr0 & EM_TS) !== 0) cpu.fault((cr0 & EM) !== 0 ? VEC_UD : VEC_NM);
  if ((i32[I_FSW]! & FSW_ES) !== 0) cpu.fault(VEC_MF);
}

/** Writes MMr = (lo, hi): the significand of R_r, with the sign/exponent field set to all ones. */
export function writeMm(cpu: Cpu, r: number, lo: number, hi: number): void {
  const i32 = cpu.i32;
  const at = MM_I + 4 * (r & 7);
  i32[at] = lo;
  i32[at + 1] = hi;
  i32[at + 2] = i32[at + 2]! | 0xffff;
}

/** The address one past (lo, hi) + 8 as a (lo, hi) pair: the high half of a 16-byte access. */
function plus8Hi(lo: number, hi: number): number {
  return (lo >>> 0) > 0xfffffff7 ? (hi + 1) | 0 : hi;
}

/**
 * Reads `bytes` (4, 8 or 16) from memory at the instruction's effective address into SRC_I
 * (zero-filling the rest of the 16 bytes) and returns SRC_I. `aligned`: 16-byte operands of
 * the aligned forms raise #GP(0) when misaligned (MOVAPS, MOVDQA, most packed arithmetic).
 */
export function loadMem(cpu: Cpu, e: CachedInsn, bytes: number, aligned: boolean): number {
  const lo = cpu.ea(e);
  if (cpu.segChecks) cpu.checkEaRoom(bytes); // the whole operand inside the segment
  const hi = cpu.eaHi;
  if (aligned && (lo & 15) !== 0) cpu.fault(VEC_GP, 0);
  const i32 = cpu.i32;
  if (bytes === 16) {
    if ((lo & 7) !== 0 && cpu.alignCheck) return loadBytes16(cpu, lo, hi);
    const a = cpu.read64(lo, hi);
    const b = cpu.hi;
    const c = cpu.read64((lo + 8) | 0, plus8Hi(lo, hi));
    i32[SRC_I + 3] = cpu.hi;
    i32[SRC_I + 2] = c;
    i32[SRC_I] = a;
    i32[SRC_I + 1] = b;
  } else if (bytes === 8) {
    i32[SRC_I] = cpu.read64(lo, hi);
    i32[SRC_I + 1] = cpu.hi;
    i32[SRC_I + 2] = 0;
    i32[SRC_I + 3] = 0;
  } else {
    i32[SRC_I] = cpu.read32(lo, hi);
    i32[SRC_I + 1] = 0;
    i32[SRC_I + 2] = 0;
    i32[SRC_I + 3] = 0;
  }
  return SRC_I;
}

/** A 16-byte load without alignment checks (byte accesses are never misaligned) into SRC_I. */
function loadBytes16(cpu: Cpu, lo: number, hi: number): number {
  const i32 = cpu.i32;
  for (let k = 0; k < 4; k++) {
    let v = 0;
    for (let b = 0; b < 4; b++) {
      const a = (lo + 4 * k + b) | 0;
      v |= cpu.read8(a, (a >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi) << (8 * b);
    }
    i32[SRC_I + k] = v;
  }
  return SRC_I;
}

/** A 16-byte store of the dwords at `from` without alignment checks (both pages already checked). */
function storeBytes16(cpu: Cpu, lo: number, hi: number, from: number): void {
  const i32 = cpu.i32;
  for (let k = 0; k < 16; k++) {
    const a = (lo + k) | 0;
    cpu.write8(a, (a >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, i32[from + (k >> 2)]! >> (8 * (k & 3)));
  }
}

/** The W/U operand of an SSE instruction: XMM rm, or `bytes` of memory loaded into SRC_I. */
export function xmmRm(cpu: Cpu, e: CachedInsn, bytes: number, aligned: boolean): number {
  return e.mod === 3 ? XMM_I + 4 * e.rm : loadMem(cpu, e, bytes, aligned);
}

/** The Q/N operand of an MMX instruction: MM rm (REX.B ignored), or 8 bytes of memory in SRC_I. */
export function mmRm(cpu: Cpu, e: CachedInsn): number {
  return e.mod === 3 ? MM_I + 4 * (e.rm & 7) : loadMem(cpu, e, 8, false);
}

/**
 * Writes `bytes` (4, 8 or 16) from dwords at `from` to memory at the effective address. All or
 * nothing: a 16-byte store that crosses a page checks the second page before writing.
 */
export function storeMem(cpu: Cpu, e: CachedInsn, from: number, bytes: number, aligned: boolean): void {
  const lo = cpu.ea(e);
  if (cpu.segChecks) cpu.checkEaRoom(bytes); // the whole operand inside the segment
  const hi = cpu.eaHi;
  if (aligned && (lo & 15) !== 0) cpu.fault(VEC_GP, 0);
  const i32 = cpu.i32;
  if (bytes === 16) {
    const lo2 = (lo + 8) | 0;
    const hi2 = plus8Hi(lo, hi);
    if ((lo & 0xfff) > 0xff0) cpu.translate((lo2 + 7) | 0, (lo2 >>> 0) > 0xfffffff8 ? hi2 + 1 : hi2, ACCESS_WRITE);
    if ((lo & 7) !== 0 && cpu.alignCheck) {
      storeBytes16(cpu, lo, hi, from);
      return;
    }
    cpu.write64(lo, hi, i32[from]!, i32[from + 1]!);
    cpu.write64(lo2, hi2, i32[from + 2]!, i32[from + 3]!);
  } else if (bytes === 8) {
    cpu.write64(lo, hi, i32[from]!, i32[from + 1]!);
  } else {
    cpu.write32(lo, hi, i32[from]!);
  }
}

/** Copies 4 dwords. */
export function copy128(i32: Int32Array, to: number, from: number): void {
  i32[to] = i32[from]!;
  i32[to + 1] = i32[from + 1]!;
  i32[to + 2] = i32[from + 2]!;
  i32[to + 3] = i32[from + 3]!;
}

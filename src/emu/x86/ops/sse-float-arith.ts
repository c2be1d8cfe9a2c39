/**
 * SSE/SSE2/SSE3/SSE4.1 floating-point arithmetic handlers: ADD SUB MUL DIV SQRT MIN MAX (PS PD SS
 * SD), RCP/RSQRT (PS SS), ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD, DPPS/DPPD, ROUNDPS/PD/SS/SD, and the
 * float moves and blends MOVSLDUP MOVSHDUP MOVDDUP BLENDPS/PD BLENDVPS/PD.
 * Intel SDM Vol. 2 (each mnemonic), Vol. 1 11.5.1 (how packed operations raise exceptions).
 *
 * Every lane is computed into the scratch TMP_I first (softfloat.ts), OR-ing its flags; fpEnd()
 * then applies Vol. 1 11.5.1: if a pre-computation exception (IE DE ZE) of any lane is unmasked,
 * only the pre-computation flags are set and #XM is raised; otherwise all flags are set and an
 * unmasked post-computation exception (OE UE PE) raises #XM. #XM is #UD when CR4.OSXMMEXCPT is
 * clear (Vol. 3A 6.15, interrupt 19). A faulting instruction leaves its destination unchanged.
 * 128-bit memory operands must be 16-byte aligned (#GP(0)); scalar and 64-bit ones need not be.
 *
 * DPPS/DPPD compute as the SDM pseudocode: masked products (a masked-out lane is +0.0), then the
 * pairwise sums, each rounded per MXCSR. As on the host, each step (the products, the first sums,
 * the last sum) is a packed operation of its own: its flags are set and an unmasked exception
 * faults before the next step; the intermediate values are operands like any other (a denormal
 * product raises DE in the sum, or is a zero under DAZ).
 *
 * Not supported: nothing in these instructions (RCP/RSQRT precision: see softfloat-cvt.ts).
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { CR4_OSXMMEXCPT } from '../mmu.ts';
import { CR4, MXCSR } from '../../state-layout.ts';
import { TMP_I, XMM_I, checkSse, copy128, xmmRm } from './simd.ts';
import { PRE_FLAGS, fp, fpBegin } from './softfloat.ts';
import { add32, add64, div32, div64, mul32, mul64, sqrt32, sqrt64 } from './softfloat-arith.ts';
import { minmax32, minmax64, rcp32, round32, round64, rsqrt32 } from './softfloat-cvt.ts';

const VEC_UD = 6;
const VEC_XM = 19;

/**
 * Ends the arithmetic of an instruction (see the top of the file): sets the MXCSR flags and
 * raises #XM/#UD for an unmasked exception; returns only if the results may be stored.
 */
export function fpEnd(cpu: Cpu): void {
  const f = fp.flags;
  if (f === 0) return;
  const i32 = cpu.i32;
  const unmasked = f & ~fp.masked;
  if ((unmasked & PRE_FLAGS) !== 0) {
    i32[MXCSR >> 2] = i32[MXCSR >> 2]! | (f & PRE_FLAGS);
    simdFault(cpu);
  }
  i32[MXCSR >> 2] = i32[MXCSR >> 2]! | f;
  if (unmasked !== 0) simdFault(cpu);
}

function simdFault(cpu: Cpu): never {
  return cpu.fault((cpu.i32[CR4 >> 2]! & CR4_OSXMMEXCPT) !== 0 ? VEC_XM : VEC_UD);
}

/**
 * Ends one step of a multi-step instruction (DPPS/DPPD): like fpEnd, and the flags start over.
 * The host checks after each step: an unmasked exception of the products faults before the sums.
 */
function fpStep(cpu: Cpu): void {
  fpEnd(cpu);
  fp.flags = 0;
}

/** Starts a floating-point instruction: the SSE checks and the MXCSR environment. */
export function fpStart(cpu: Cpu): void {
  checkSse(cpu);
  fpBegin(cpu.i32[MXCSR >> 2]!);
}

// ---- lane operations (aux of the arithmetic entries) --------------------------------------------

export const OP_ADD = 0;
export const OP_SUB = 1;
export const OP_MUL = 2;
export const OP_DIV = 3;
export const OP_MIN = 4;
export const OP_MAX = 5;
export const OP_SQRT = 6;
export const OP_RCP = 7;
export const OP_RSQRT = 8;

/** One binary32 lane: a op b (unary operations use b). */
function lane32(op: number, a: number, b: number): void {
  switch (op) {
    case OP_ADD: return add32(a, b, false);
    case OP_SUB: return add32(a, b, true);
    case OP_MUL: return mul32(a, b);
    case OP_DIV: return div32(a, b);
    case OP_MIN: return minmax32(a, b, false);
    case OP_MAX: return minmax32(a, b, true);
    case OP_SQRT: return sqrt32(b);
    case OP_RCP: return rcp32(b);
    default: return rsqrt32(b);
  }
}

/** One binary64 lane. */
function lane64(op: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  switch (op) {
    case OP_ADD: return add64(aLo, aHi, bLo, bHi, false);
    case OP_SUB: return add64(aLo, aHi, bLo, bHi, true);
    case OP_MUL: return mul64(aLo, aHi, bLo, bHi);
    case OP_DIV: return div64(aLo, aHi, bLo, bHi);
    case OP_MIN: return minmax64(aLo, aHi, bLo, bHi, false);
    case OP_MAX: return minmax64(aLo, aHi, bLo, bHi, true);
    default: return sqrt64(bLo, bHi);
  }
}

/** ADDPS SUBPS MULPS DIVPS MINPS MAXPS SQRTPS RCPPS RSQRTPS xmm, xmm/m128. */
function arithPs(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  for (let k = 0; k < 4; k++) {
    lane32(e.aux, i32[dst + k]!, i32[src + k]!);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  copy128(i32, dst, TMP_I);
}

/** The PD forms. */
function arithPd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  for (let k = 0; k < 4; k += 2) {
    lane64(e.aux, i32[dst + k]!, i32[dst + k + 1]!, i32[src + k]!, i32[src + k + 1]!);
    i32[TMP_I + k] = fp.lo;
    i32[TMP_I + k + 1] = fp.hi;
  }
  fpEnd(cpu);
  copy128(i32, dst, TMP_I);
}

/** The SS forms: lane 0 only, the other lanes of the destination unchanged. */
function arithSs(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 4, false);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  lane32(e.aux, i32[dst]!, i32[src]!);
  fpEnd(cpu);
  i32[dst] = fp.lo;
}

/** The SD forms. */
function arithSd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 8, false);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  lane64(e.aux, i32[dst]!, i32[dst + 1]!, i32[src]!, i32[src + 1]!);
  fpEnd(cpu);
  i32[dst] = fp.lo;
  i32[dst + 1] = fp.hi;
}

// ---- SSE3 --------------------------------------------------------------------------------------

/** ADDSUBPS: even lanes subtract, odd lanes add. */
function addsubps(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  for (let k = 0; k < 4; k++) {
    add32(i32[dst + k]!, i32[src + k]!, (k & 1) === 0);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  copy128(i32, dst, TMP_I);
}

function addsubpd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  for (let k = 0; k < 4; k += 2) {
    add64(i32[dst + k]!, i32[dst + k + 1]!, i32[src + k]!, i32[src + k + 1]!, k === 0);
    i32[TMP_I + k] = fp.lo;
    i32[TMP_I + k + 1] = fp.hi;
  }
  fpEnd(cpu);
  copy128(i32, dst, TMP_I);
}

/** HADDPS/HSUBPS (aux 1: subtract): [d0 op d1, d2 op d3, s0 op s1, s2 op s3]. */
function hops(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const sub = e.aux !== 0;
  for (let k = 0; k < 4; k++) {
    const from = (k < 2 ? dst : src) + 2 * (k & 1);
    add32(i32[from]!, i32[from + 1]!, sub);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  copy128(i32, dst, TMP_I);
}

/** HADDPD/HSUBPD: [d0 op d1, s0 op s1]. */
function hopd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const sub = e.aux !== 0;
  for (let k = 0; k < 4; k += 2) {
    const from = k === 0 ? dst : src;
    add64(i32[from]!, i32[from + 1]!, i32[from + 2]!, i32[from + 3]!, sub);
    i32[TMP_I + k] = fp.lo;
    i32[TMP_I + k + 1] = fp.hi;
  }
  fpEnd(cpu);
  copy128(i32, dst, TMP_I);
}

/** MOVSLDUP (aux 0) / MOVSHDUP (aux 1): each even (odd) source dword twice. */
function movdup32(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const a = i32[src + e.aux]!;
  const b = i32[src + 2 + e.aux]!;
  i32[dst] = a;
  i32[dst + 1] = a;
  i32[dst + 2] = b;
  i32[dst + 3] = b;
}

/** MOVDDUP xmm, xmm/m64: the low quadword twice. */
function movddup(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const src = xmmRm(cpu, e, 8, false);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const lo = i32[src]!;
  const hi = i32[src + 1]!;
  i32[dst] = lo;
  i32[dst + 1] = hi;
  i32[dst + 2] = lo;
  i32[dst + 3] = hi;
}

// ---- SSE4.1 ------------------------------------------------------------------------------------

/** BLENDPS (aux 1) / BLENDPD (aux 2): imm8 bit i selects source lane i (of aux dwords). */
function blendImm(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const width = e.aux;
  for (let k = 0; k < 4; k++) if ((e.imm >> ((k / width) | 0)) & 1) i32[dst + k] = i32[src + k]!;
}

/** Selections of blendVar, read before the destination (possibly XMM0) is written. */
const BLEND_SEL = new Uint8Array(4);

/** BLENDVPS (aux 1) / BLENDVPD (aux 2): the sign bit of each XMM0 lane selects the source lane. */
function blendVar(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const width = e.aux;
  // Dword k belongs to the lane whose top dword is k | (width - 1).
  for (let k = 0; k < 4; k++) BLEND_SEL[k] = i32[XMM_I + (k | (width - 1))]! < 0 ? 1 : 0;
  for (let k = 0; k < 4; k++) if (BLEND_SEL[k]) i32[dst + k] = i32[src + k]!;
}

/** ROUNDPS (aux 4 lanes) / ROUNDSS (aux 1): imm8[2] MXCSR.RC else imm8[1:0]; imm8[3] no PE. */
function roundPs(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const n = e.aux;
  const src = xmmRm(cpu, e, n * 4, n === 4);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const imm = e.imm;
  const rc = imm & 4 ? fp.rc : imm & 3;
  for (let k = 0; k < n; k++) {
    round32(i32[src + k]!, rc, (imm & 8) !== 0);
    i32[TMP_I + k] = fp.lo;
  }
  fpEnd(cpu);
  for (let k = 0; k < n; k++) i32[dst + k] = i32[TMP_I + k]!;
}

/** ROUNDPD (aux 4 dwords) / ROUNDSD (aux 2). */
function roundPd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const n = e.aux;
  const src = xmmRm(cpu, e, n * 4, n === 4);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const imm = e.imm;
  const rc = imm & 4 ? fp.rc : imm & 3;
  for (let k = 0; k < n; k += 2) {
    round64(i32[src + k]!, i32[src + k + 1]!, rc, (imm & 8) !== 0);
    i32[TMP_I + k] = fp.lo;
    i32[TMP_I + k + 1] = fp.hi;
  }
  fpEnd(cpu);
  for (let k = 0; k < n; k++) i32[dst + k] = i32[TMP_I + k]!;
}

/** DPPS: imm8[7:4] selects the products summed, imm8[3:0] the lanes that receive the sum. */
function dpps(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const imm = e.imm;
  for (let k = 0; k < 4; k++) {
    if ((imm >> (4 + k)) & 1) {
      mul32(i32[dst + k]!, i32[src + k]!);
      i32[TMP_I + k] = fp.lo;
    } else {
      i32[TMP_I + k] = 0;
    }
  }
  fpStep(cpu);
  add32(i32[TMP_I]!, i32[TMP_I + 1]!, false);
  const lo = fp.lo;
  add32(i32[TMP_I + 2]!, i32[TMP_I + 3]!, false);
  const hi = fp.lo;
  fpStep(cpu);
  add32(lo, hi, false);
  const sum = fp.lo;
  fpEnd(cpu);
  for (let k = 0; k < 4; k++) i32[dst + k] = (imm >> k) & 1 ? sum : 0;
}

/** DPPD: imm8[5:4] selects the products, imm8[1:0] the lanes that receive the sum. */
function dppd(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const imm = e.imm;
  for (let k = 0; k < 4; k += 2) {
    if ((imm >> (4 + k / 2)) & 1) {
      mul64(i32[dst + k]!, i32[dst + k + 1]!, i32[src + k]!, i32[src + k + 1]!);
      i32[TMP_I + k] = fp.lo;
      i32[TMP_I + k + 1] = fp.hi;
    } else {
      i32[TMP_I + k] = 0;
      i32[TMP_I + k + 1] = 0;
    }
  }
  fpStep(cpu);
  add64(i32[TMP_I]!, i32[TMP_I + 1]!, i32[TMP_I + 2]!, i32[TMP_I + 3]!, false);
  const lo = fp.lo;
  const hi = fp.hi;
  fpEnd(cpu);
  for (let k = 0; k < 4; k += 2) {
    const on = (imm >> (k / 2)) & 1;
    i32[dst + k] = on ? lo : 0;
    i32[dst + k + 1] = on ? hi : 0;
  }
}

export {
  addsubpd, addsubps, arithPd, arithPs, arithSd, arithSs, blendImm, blendVar, dppd, dpps, hopd, hops, movddup,
  movdup32, roundPd, roundPs,
};

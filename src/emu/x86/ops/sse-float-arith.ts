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
import * as simd from './simd.ts';
import * as softfloat from './softfloat.ts';
import * as softfloatArith from './softfloat-arith.ts';
import * as softfloatCvt from './softfloat-cvt.ts';
// Imported bindings bound to module constants once (a transpiled import is a getter call per use).
const { TMP_I, XMM_I, checkSse, copy128, xmmRm } = simd;
const { PRE_FLAGS, fp, fpBegin } = softfloat;
const { add32, add64, div32, div64, mul32, mul64, sqrt32, sqrt64 } = softfloatArith;
const { minmax32, minmax64, rcp32, round32, round64, rsqrt32 } = softfloatCvt;

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

/** aux bits of the arithmetic, pair and round entries: binary64 lanes (PD/SD) instead of binary32. */
export const F_DOUBLE = 0x20;
/** aux bit of the arithmetic entries: the scalar form (SS/SD: lane 0 only, the other lanes unchanged). */
export const ARITH_SCALAR = 0x10;
const OP_MASK = 0xf;

/**
 * ADDPS SUBPS MULPS DIVPS MINPS MAXPS SQRTPS RCPPS RSQRTPS xmm, xmm/m128 (aux: the lane operation),
 * the PD forms (| F_DOUBLE) and the SS/SD forms (| ARITH_SCALAR).
 */
function arith(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const aux = e.aux;
  const op = aux & OP_MASK;
  const dbl = (aux & F_DOUBLE) !== 0;
  const n = aux & ARITH_SCALAR ? (dbl ? 2 : 1) : 4; // dwords
  const src = xmmRm(cpu, e, 4 * n, n === 4);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  if (dbl) {
    for (let k = 0; k < n; k += 2) {
      lane64(op, i32[dst + k]!, i32[dst + k + 1]!, i32[src + k]!, i32[src + k + 1]!);
      i32[TMP_I + k] = fp.lo;
      i32[TMP_I + k + 1] = fp.hi;
    }
  } else {
    for (let k = 0; k < n; k++) {
      lane32(op, i32[dst + k]!, i32[src + k]!);
      i32[TMP_I + k] = fp.lo;
    }
  }
  fpEnd(cpu);
  for (let k = 0; k < n; k++) i32[dst + k] = i32[TMP_I + k]!;
}

// ---- SSE3 --------------------------------------------------------------------------------------

/** aux of the SSE3 pair operations (hop), with F_DOUBLE for the PD forms. */
export const HOP_ADD = 0;
export const HOP_SUB = 1;
export const HOP_ADDSUB = 2;
const HOP_MODE = 3;

/**
 * HADDPS (aux HOP_ADD) / HSUBPS (HOP_SUB): [d0 op d1, d2 op d3, s0 op s1, s2 op s3];
 * ADDSUBPS (HOP_ADDSUB): [d0 - s0, d1 + s1, d2 - s2, d3 + s3]. With F_DOUBLE, HADDPD/HSUBPD:
 * [d0 op d1, s0 op s1] and ADDSUBPD: [d0 - s0, d1 + s1].
 */
function hop(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const mode = e.aux & HOP_MODE;
  const sub = mode === HOP_SUB;
  if (e.aux & F_DOUBLE) {
    for (let k = 0; k < 4; k += 2) {
      if (mode === HOP_ADDSUB) {
        add64(i32[dst + k]!, i32[dst + k + 1]!, i32[src + k]!, i32[src + k + 1]!, k === 0);
      } else {
        const from = k === 0 ? dst : src;
        add64(i32[from]!, i32[from + 1]!, i32[from + 2]!, i32[from + 3]!, sub);
      }
      i32[TMP_I + k] = fp.lo;
      i32[TMP_I + k + 1] = fp.hi;
    }
  } else {
    for (let k = 0; k < 4; k++) {
      if (mode === HOP_ADDSUB) {
        add32(i32[dst + k]!, i32[src + k]!, (k & 1) === 0);
      } else {
        const from = (k < 2 ? dst : src) + 2 * (k & 1);
        add32(i32[from]!, i32[from + 1]!, sub);
      }
      i32[TMP_I + k] = fp.lo;
    }
  }
  fpEnd(cpu);
  copy128(i32, dst, TMP_I);
}

/** aux of movdup: the source dword of each result dword. */
export const DUP_LOW = 0; // MOVSLDUP: s0 s0 s2 s2
export const DUP_HIGH = 4; // MOVSHDUP: s1 s1 s3 s3
export const DUP_QUAD = 8; // MOVDDUP xmm, xmm/m64: s0 s1 s0 s1
const DUP_PICK = Uint8Array.of(0, 0, 2, 2, 1, 1, 3, 3, 0, 1, 0, 1);

/** MOVSLDUP / MOVSHDUP xmm, xmm/m128 and MOVDDUP xmm, xmm/m64 (aux: the row of DUP_PICK). */
function movdup(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const row = e.aux;
  const src = row === DUP_QUAD ? xmmRm(cpu, e, 8, false) : xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  // All four read before the destination (possibly the source) is written.
  const a = i32[src + DUP_PICK[row]!]!;
  const b = i32[src + DUP_PICK[row + 1]!]!;
  const c = i32[src + DUP_PICK[row + 2]!]!;
  const d = i32[src + DUP_PICK[row + 3]!]!;
  i32[dst] = a;
  i32[dst + 1] = b;
  i32[dst + 2] = c;
  i32[dst + 3] = d;
}

// ---- SSE4.1 ------------------------------------------------------------------------------------

/** aux bit of blend: the selector is XMM0 (BLENDVPS/PD) instead of imm8 (BLENDPS/PD). */
export const BLEND_VAR = 0x10;

/** Selections of blend, read before the destination (possibly XMM0) is written. */
const BLEND_SEL = new Uint8Array(4);

/**
 * BLENDPS (aux 1) / BLENDPD (aux 2): imm8 bit i selects source lane i (of aux dwords);
 * BLENDVPS/BLENDVPD (| BLEND_VAR): the sign bit of each XMM0 lane selects the source lane.
 */
function blend(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const src = xmmRm(cpu, e, 16, true);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const width = e.aux & 3;
  if (e.aux & BLEND_VAR) {
    // Dword k belongs to the lane whose top dword is k | (width - 1).
    for (let k = 0; k < 4; k++) BLEND_SEL[k] = i32[XMM_I + (k | (width - 1))]! < 0 ? 1 : 0;
  } else {
    for (let k = 0; k < 4; k++) BLEND_SEL[k] = (e.imm >> ((k / width) | 0)) & 1;
  }
  for (let k = 0; k < 4; k++) if (BLEND_SEL[k]) i32[dst + k] = i32[src + k]!;
}

/**
 * ROUNDPS (aux 4 dwords) / ROUNDSS (aux 1), ROUNDPD (aux 4 | F_DOUBLE) / ROUNDSD (2 | F_DOUBLE):
 * imm8[2] MXCSR.RC else imm8[1:0]; imm8[3] no PE.
 */
function round(cpu: Cpu, e: CachedInsn): void {
  fpStart(cpu);
  const n = e.aux & 7;
  const src = xmmRm(cpu, e, n * 4, n === 4);
  const dst = XMM_I + 4 * e.reg;
  const i32 = cpu.i32;
  const imm = e.imm;
  const rc = imm & 4 ? fp.rc : imm & 3;
  const quiet = (imm & 8) !== 0;
  if (e.aux & F_DOUBLE) {
    for (let k = 0; k < n; k += 2) {
      round64(i32[src + k]!, i32[src + k + 1]!, rc, quiet);
      i32[TMP_I + k] = fp.lo;
      i32[TMP_I + k + 1] = fp.hi;
    }
  } else {
    for (let k = 0; k < n; k++) {
      round32(i32[src + k]!, rc, quiet);
      i32[TMP_I + k] = fp.lo;
    }
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

export { arith, blend, dppd, dpps, hop, movdup, round };

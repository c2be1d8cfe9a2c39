/**
 * SSE, SSE2, SSE3 and SSE4.1 floating-point instructions: the binder. It claims the table entries
 * of the floating-point arithmetic, compares, conversions, the SSE3 horizontal and duplicate
 * operations and the SSE4.1 ROUND/DP/BLEND forms, and gives each its handler with a bind-time
 * parameter (the lane operation, the lane count, truncation...).
 *   - sse-float-arith.ts: arithmetic, MIN/MAX, RCP/RSQRT, SSE3, SSE4.1, and fpEnd() (the MXCSR
 *     flags and #XM rules of Intel SDM Vol. 1 11.5);
 *   - sse-float-cvt.ts: conversions and compares;
 *   - softfloat.ts, softfloat-cvt.ts: the IEEE arithmetic under MXCSR control.
 *
 * With this family the CPU implements the floating-point part of SSE (CPUID.1:EDX[25]), SSE2
 * (EDX[26]), SSE3 (ECX[0], with MOVSLDUP/MOVSHDUP/MOVDDUP; LDDQU is in sse-move.ts) and SSE4.1
 * (ECX[19]: ROUNDPS/PD/SS/SD, DPPS/DPPD, BLENDPS/PD, BLENDVPS/PD).
 *
 * Not supported: the VEX encodings (AVX), which the decoder does not accept.
 */
import type { Binding } from '../exec.ts';
import { MAP_0F, MAP_0F38, MAP_0F3A, PFX_66, PFX_F2, PFX_F3, PFX_NP, type Opcode } from '../opcode-table.ts';
import {
  ARITH_SCALAR, BLEND_VAR, DUP_HIGH, DUP_LOW, DUP_QUAD, F_DOUBLE, HOP_ADD, HOP_ADDSUB, HOP_SUB, OP_ADD, OP_DIV, OP_MAX,
  OP_MIN, OP_MUL, OP_RCP, OP_RSQRT, OP_SQRT, OP_SUB, arith, blend, dppd, dpps, hop, movdup, round,
} from './sse-float-arith.ts';
import {
  CVT_DOUBLE, CVT_MMX, CVT_TRUNCATE, cmp, comi, cvt2si, cvtFromInt, cvtToInt, cvtpd2ps, cvtps2pd, cvtsi2s,
} from './sse-float-cvt.ts';

/** Lane operations of the 0F 51-5F arithmetic rows, by mnemonic stem. */
const ARITH: Record<string, number> = {
  add: OP_ADD, sub: OP_SUB, mul: OP_MUL, div: OP_DIV, min: OP_MIN, max: OP_MAX, sqrt: OP_SQRT, rcp: OP_RCP,
  rsqrt: OP_RSQRT,
};

function bindArith(op: Opcode): Binding | undefined {
  const m = /^(add|sub|mul|div|min|max|sqrt|rcp|rsqrt)(ps|pd|ss|sd)$/.exec(op.mnemonic);
  if (!m) return undefined;
  const code = ARITH[m[1]!]!;
  switch (m[2]) {
    case 'ps': return [arith, code];
    case 'pd': return [arith, code | F_DOUBLE];
    case 'ss': return [arith, code | ARITH_SCALAR];
    default: return [arith, code | ARITH_SCALAR | F_DOUBLE];
  }
}

function bindTwoByte(op: Opcode): Binding | undefined {
  const arith = bindArith(op);
  if (arith) return arith;
  switch (op.mnemonic) {
    case 'cmpps': return [cmp, 4];
    case 'cmpss': return [cmp, 1];
    case 'cmppd': return [cmp, 4 | CVT_DOUBLE];
    case 'cmpsd': return op.prefix === PFX_F2 ? [cmp, 2 | CVT_DOUBLE] : undefined;
    case 'comiss': return [comi, 1];
    case 'ucomiss': return [comi, 0];
    case 'comisd': return [comi, 1 | CVT_DOUBLE];
    case 'ucomisd': return [comi, CVT_DOUBLE];
    case 'cvtsi2ss': return [cvtsi2s, 0];
    case 'cvtsi2sd': return [cvtsi2s, 1];
    case 'cvtss2si': return [cvt2si, 0];
    case 'cvttss2si': return [cvt2si, CVT_TRUNCATE];
    case 'cvtsd2si': return [cvt2si, CVT_DOUBLE];
    case 'cvttsd2si': return [cvt2si, CVT_DOUBLE | CVT_TRUNCATE];
    case 'cvtps2pd': return [cvtps2pd, 2];
    case 'cvtss2sd': return [cvtps2pd, 1];
    case 'cvtpd2ps': return [cvtpd2ps, 2];
    case 'cvtsd2ss': return [cvtpd2ps, 1];
    case 'cvtdq2ps': return [cvtFromInt, 0];
    case 'cvtdq2pd': return [cvtFromInt, CVT_DOUBLE];
    case 'cvtpi2ps': return [cvtFromInt, CVT_MMX];
    case 'cvtpi2pd': return [cvtFromInt, CVT_MMX | CVT_DOUBLE];
    case 'cvtps2dq': return [cvtToInt, 0];
    case 'cvttps2dq': return [cvtToInt, CVT_TRUNCATE];
    case 'cvtpd2dq': return [cvtToInt, CVT_DOUBLE];
    case 'cvttpd2dq': return [cvtToInt, CVT_DOUBLE | CVT_TRUNCATE];
    case 'cvtps2pi': return [cvtToInt, CVT_MMX];
    case 'cvttps2pi': return [cvtToInt, CVT_MMX | CVT_TRUNCATE];
    case 'cvtpd2pi': return [cvtToInt, CVT_MMX | CVT_DOUBLE];
    case 'cvttpd2pi': return [cvtToInt, CVT_MMX | CVT_DOUBLE | CVT_TRUNCATE];
    case 'addsubps': return [hop, HOP_ADDSUB];
    case 'addsubpd': return [hop, HOP_ADDSUB | F_DOUBLE];
    case 'haddps': return [hop, HOP_ADD];
    case 'hsubps': return [hop, HOP_SUB];
    case 'haddpd': return [hop, HOP_ADD | F_DOUBLE];
    case 'hsubpd': return [hop, HOP_SUB | F_DOUBLE];
    case 'movsldup': return op.prefix === PFX_F3 ? [movdup, DUP_LOW] : undefined;
    case 'movshdup': return op.prefix === PFX_F3 ? [movdup, DUP_HIGH] : undefined;
    case 'movddup': return op.prefix === PFX_F2 ? [movdup, DUP_QUAD] : undefined;
  }
  return undefined;
}

function bindSse41(op: Opcode): Binding | undefined {
  if (op.prefix !== PFX_66) return undefined;
  switch (op.mnemonic) {
    case 'roundps': return [round, 4];
    case 'roundss': return [round, 1];
    case 'roundpd': return [round, 4 | F_DOUBLE];
    case 'roundsd': return [round, 2 | F_DOUBLE];
    case 'dpps': return [dpps, 0];
    case 'dppd': return [dppd, 0];
    case 'blendps': return [blend, 1];
    case 'blendpd': return [blend, 2];
    case 'blendvps': return [blend, 1 | BLEND_VAR];
    case 'blendvpd': return [blend, 2 | BLEND_VAR];
  }
  return undefined;
}

export function bindSseFloat(op: Opcode): Binding | undefined {
  if (op.map === MAP_0F) return op.prefix === PFX_NP || op.prefix === PFX_66 || op.prefix === PFX_F3 || op.prefix === PFX_F2 ? bindTwoByte(op) : undefined;
  if (op.map === MAP_0F38 || op.map === MAP_0F3A) return bindSse41(op);
  return undefined;
}

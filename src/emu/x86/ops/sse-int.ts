/**
 * MMX, SSE2, SSSE3, SSE4.1 and SSE4.2 integer instructions, and the bit-moving SSE float
 * shuffles (SHUFPS SHUFPD UNPCKL/HPS/PD): the binder and the generic operand handlers.
 * Intel SDM Vol. 2 (each instruction's page), Vol. 1 chapters 9-12 (MMX, SSE, SSE2, SSE3+),
 * Vol. 3A 13.1 and Table 12-1 (the #UD/#NM/#MF checks, done by simd.ts).
 *
 * Each operation is written once over `n` dwords (sse-int-lanes.ts, -shuffle.ts, -ssse3.ts):
 * the MMX form (NP, Pq,Qq) runs it on 2 dwords with checkMmx(), the XMM form (66, Vx,Wx) on 4
 * with checkSse(). The binder gives each entry a generic handler (sse-int-lanes.ts) and, in
 * `aux`, the index of its lane function (bits 0-7), the width of its memory operand in bytes
 * (bits 8-12) and whether that operand must be 16-byte aligned (bit 13).
 *
 * Memory operands: 128-bit operands of the legacy SSE encodings must be 16-byte aligned (#GP(0))
 * except for PCMPESTRx/PCMPISTRx (sse-int-string.ts); narrower ones (PMOVSX/ZX Wq/Wd/Ww, INSERTPS Md) need not be.
 * MMX operands are 8 bytes, but PUNPCKLBW/WD/DQ mm, m32 read only 4 (as the host does). An MMX
 * form with a memory operand makes the x87-to-MMX transition after the read (sse-int-gpr.ts).
 * MMX results set the x87 sign/exponent field of the register to all ones.
 *
 * Entries of other families are left alone: MOVD/MOVQ/MOVDQA/MOVDQU/MOVNT*, EMMS, LDDQU,
 * MOVQ2DQ/MOVDQ2Q and the ps/pd logic are in sse-move.ts; POPCNT in bits.ts.
 *
 * Not supported: nothing in the instructions bound here (MOVNTDQA's non-temporal hint is
 * ignored; it is an ordinary aligned load).
 */
import type { Binding, Handler } from '../exec.ts';
import { K, SZ, type Opcode } from '../opcode-table.ts';
import * as L from './sse-int-lanes.ts';
import {
  ALIGNED, LANES, MEM_SHIFT, SHIFTS, mmxOp, mmxShiftImm, xmmMemOnly, xmmOp, xmmShiftImm, type Lane, type Shift,
} from './sse-int-lanes.ts';
import * as S from './sse-int-shuffle.ts';
import * as X from './sse-int-ssse3.ts';
import {
  EXTR_B, EXTR_D, EXTR_PS, EXTR_W, FORM_MMX, INS_B, INS_D, maskmov, pextr, pextrwReg, pinsr, pinsrw, pmovmskb, ptest,
} from './sse-int-gpr.ts';
import { STR_EXPLICIT, STR_MASK, crc32, pcmpstr } from './sse-int-string.ts';

/** Two-operand forms (P,Q / V,W, optionally with Ib or XMM0) by mnemonic. */
const LANE_OPS: Record<string, Lane> = {
  // SSE2 / MMX
  pand: L.pand, pandn: L.pandn, por: L.por, pxor: L.pxor,
  paddb: L.paddb, paddw: L.paddw, paddd: L.paddd, paddq: L.paddq,
  psubb: L.psubb, psubw: L.psubw, psubd: L.psubd, psubq: L.psubq,
  paddsb: L.paddsb, paddsw: L.paddsw, psubsb: L.psubsb, psubsw: L.psubsw,
  paddusb: L.paddusb, paddusw: L.paddusw, psubusb: L.psubusb, psubusw: L.psubusw,
  pmullw: L.pmullw, pmulhw: L.pmulhw, pmulhuw: L.pmulhuw, pmuludq: L.pmuludq, pmaddwd: L.pmaddwd,
  psadbw: L.psadbw, pavgb: L.pavgb, pavgw: L.pavgw,
  pminub: L.pminub, pmaxub: L.pmaxub, pminsw: L.pminsw, pmaxsw: L.pmaxsw,
  pcmpeqb: L.pcmpeqb, pcmpeqw: L.pcmpeqw, pcmpeqd: L.pcmpeqd,
  pcmpgtb: L.pcmpgtb, pcmpgtw: L.pcmpgtw, pcmpgtd: L.pcmpgtd,
  psrlw: L.psrlw, psraw: L.psraw, psllw: L.psllw, psrld: L.psrld, psrad: L.psrad, pslld: L.pslld,
  psrlq: L.psrlq, psllq: L.psllq,
  packsswb: S.packsswb, packssdw: S.packssdw, packuswb: S.packuswb,
  punpcklbw: S.punpcklbw, punpcklwd: S.punpcklwd, punpckldq: S.punpckldq, punpcklqdq: S.punpcklqdq,
  punpckhbw: S.punpckhbw, punpckhwd: S.punpckhwd, punpckhdq: S.punpckhdq, punpckhqdq: S.punpckhqdq,
  pshufw: S.pshufw, pshufd: S.pshufd, pshufhw: S.pshufhw, pshuflw: S.pshuflw,
  // SSE / SSE2 float shuffles (bit movement only)
  shufps: S.shufps, shufpd: S.shufpd,
  unpcklps: S.punpckldq, unpckhps: S.punpckhdq, unpcklpd: S.punpcklqdq, unpckhpd: S.punpckhqdq,
  // SSSE3
  pshufb: S.pshufb, palignr: S.palignr,
  phaddw: X.phaddw, phaddd: X.phaddd, phaddsw: X.phaddsw, phsubw: X.phsubw, phsubd: X.phsubd, phsubsw: X.phsubsw,
  pmaddubsw: X.pmaddubsw, pmulhrsw: X.pmulhrsw, psignb: X.psignb, psignw: X.psignw, psignd: X.psignd,
  pabsb: X.pabsb, pabsw: X.pabsw, pabsd: X.pabsd,
  // SSE4.1 / SSE4.2
  pminsb: X.pminsb, pminsd: X.pminsd, pminuw: X.pminuw, pminud: X.pminud,
  pmaxsb: X.pmaxsb, pmaxsd: X.pmaxsd, pmaxuw: X.pmaxuw, pmaxud: X.pmaxud,
  pmulld: X.pmulld, pmuldq: X.pmuldq, pcmpeqq: X.pcmpeqq, pcmpgtq: X.pcmpgtq, packusdw: S.packusdw,
  phminposuw: X.phminposuw, mpsadbw: X.mpsadbw, pblendw: S.pblendw, pblendvb: S.pblendvb,
  insertps: S.insertps, movntdqa: X.copy,
  pmovsxbw: S.pmovsxbw, pmovsxbd: S.pmovsxbd, pmovsxbq: S.pmovsxbq,
  pmovsxwd: S.pmovsxwd, pmovsxwq: S.pmovsxwq, pmovsxdq: S.pmovsxdq,
  pmovzxbw: S.pmovzxbw, pmovzxbd: S.pmovzxbd, pmovzxbq: S.pmovzxbq,
  pmovzxwd: S.pmovzxwd, pmovzxwq: S.pmovzxwq, pmovzxdq: S.pmovzxdq,
};

/** Shifts by immediate (N/U, Ib: the register operand is the destination). */
const SHIFT_IMM: Record<string, Shift> = {
  psrlw: L.srlW, psraw: L.sraW, psllw: L.sllW, psrld: L.srlD, psrad: L.sraD, pslld: L.sllD,
  psrlq: L.srlQ, psllq: L.sllQ, psrldq: L.srlDQ, pslldq: L.sllDQ,
};

for (const f of Object.values(LANE_OPS)) if (!LANES.includes(f)) LANES.push(f);
for (const f of Object.values(SHIFT_IMM)) if (!SHIFTS.includes(f)) SHIFTS.push(f);
if (LANES.length > 256) throw new Error('sse-int: more lane functions than aux bits 0-7 can index');

/** Bytes of a memory operand of the given size code (0 for none). */
function memBytes(size: number): number {
  switch (size) {
    case SZ.W: return 2;
    case SZ.D: return 4;
    case SZ.Q: return 8;
    case SZ.DQ: return 16;
    default: return 0;
  }
}

/** Entries handled by a dedicated handler: mnemonic -> [handler, aux for XMM, aux for MMX]. */
const SPECIAL: Record<string, readonly [Handler, number, number]> = {
  pmovmskb: [pmovmskb, 0, FORM_MMX],
  pinsrw: [pinsrw, 0, FORM_MMX],
  maskmovq: [maskmov, 0, FORM_MMX],
  maskmovdqu: [maskmov, 0, FORM_MMX],
  pextrb: [pextr, EXTR_B, EXTR_B],
  pextrd: [pextr, EXTR_D, EXTR_D],
  extractps: [pextr, EXTR_PS, EXTR_PS],
  pinsrb: [pinsr, INS_B, INS_B],
  pinsrd: [pinsr, INS_D, INS_D],
  ptest: [ptest, 0, 0],
  pcmpestri: [pcmpstr, STR_EXPLICIT, 0],
  pcmpestrm: [pcmpstr, STR_EXPLICIT | STR_MASK, 0],
  pcmpistri: [pcmpstr, 0, 0],
  pcmpistrm: [pcmpstr, STR_MASK, 0],
};

export function bindSseInt(op: Opcode): Binding | undefined {
  const m = op.mnemonic;
  const first = op.operands[0]?.kind;
  const mmx = op.operands.some((o) => o.kind === K.P || o.kind === K.Q || o.kind === K.N);
  if (m === 'crc32') return [crc32, op.operands[1]?.size === SZ.B ? 1 : 0];
  if (m === 'pextrw') {
    // 0F C5 (Gd, N/U, Ib) or SSE4.1 66 0F 3A 15 (Ed, Vx, Ib).
    if (first === K.G) return [pextrwReg, mmx ? FORM_MMX : 0];
    return [pextr, EXTR_W];
  }
  const special = SPECIAL[m];
  if (special) return [special[0], mmx ? special[2] : special[1]];
  if (first === K.N || first === K.U) {
    const shift = SHIFT_IMM[m];
    if (!shift) return undefined;
    return [first === K.N ? mmxShiftImm : xmmShiftImm, SHIFTS.indexOf(shift)];
  }
  const lane = LANE_OPS[m];
  if (!lane || (first !== K.P && first !== K.V)) return undefined;
  const src = op.operands[1]!;
  const id = LANES.indexOf(lane);
  if (mmx) {
    // MMX PUNPCKL* read a 32-bit memory operand (SDM: "mm, mm/m32").
    const bytes = m.startsWith('punpckl') ? 4 : 8;
    return [mmxOp, id | (bytes << MEM_SHIFT)];
  }
  const bytes = memBytes(src.size);
  const aligned = bytes === 16 ? ALIGNED : 0;
  return [src.kind === K.M ? xmmMemOnly : xmmOp, id | (bytes << MEM_SHIFT) | aligned];
}

/**
 * Fast forms of the commonest decodings: the 32- and 64-bit register forms of the ALU
 * instructions, TEST, INC and DEC, MOV between registers, to and from memory and from an immediate,
 * LEA and MOVZX/MOVSX/MOVSXD with 64-bit addressing, PUSH/POP of a register, and relative
 * CALL and RET in 64-bit code. They are chosen per decoded instruction when it is
 * bound (exec.ts `bindHandler`), with the operand registers folded into `aux`, so that the
 * instructions a kernel runs most skip the generic handlers' size, form and REX branches.
 *
 * Same semantics as the generic handlers of ./alu.ts and ./move.ts, written a second time
 * for speed: `fast.test.ts` runs every fast form against its generic handler on random
 * states, and the differential suite runs them against the host CPU (it executes through
 * the same binding).
 *
 * Not covered (the generic handler runs): ADC/SBB, 8- and 16-bit operands, memory operands
 * of the ALU other than sources and CMP/TEST, memory operands outside 64-bit code or with
 * 32-bit addressing, and the stack and branches outside 64-bit code.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import type { Binding, Handler } from '../exec.ts';
import { BASE_RIP, SEG_FS, SEG_GS, type Insn } from '../decoder.ts';
import { LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SUB } from '../flags.ts';
import { GPR, LAZY_AUX, LAZY_DST, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC, SEGS, SEG_BASE, SEG_STRIDE } from '../../state-layout.ts';
import { ALU_ADD, ALU_AND, ALU_CMP, ALU_OR, ALU_SUB, ALU_XOR, aluAI, aluEG, aluEI, aluGE, incDec, test } from './alu.ts';
import { lea, mov, movExtend, pop, push } from './move.ts';
import { callRel, ret } from './control.ts';

// Literal Int32 indexes and values (imported bindings cost a load per use on the hot path).
const I_GPR = 0;
const I_LAZY_OP = 35;
const I_LAZY_SIZE = 36;
const I_LAZY_AUX = 37;
const I_LAZY_RES = 38;
const I_LAZY_DST = 40;
const I_LAZY_SRC = 42;
const OP_ADD = 0;
const OP_OR = 1;
const OP_AND = 4;
const OP_SUB = 5;
const OP_XOR = 6;
const OP_CMP = 7;
/** TEST: AND without writing the destination. */
const OP_TEST = 8;
const K_ADD = 1;
const K_SUB = 2;
const K_LOGIC = 3;
const K_INC = 4;
const K_DEC = 5;
const VEC_SS = 12;
const VEC_GP = 13;
/** Int32 indexes of the FS and GS bases. */
const I_FS_BASE = 70;
const I_GS_BASE = 76;
/** aux bit of the [base + disp] forms: the operand is SS-relative. */
const SS_RELATIVE = 1 << 4;
/** aux bit of LEA and MOVZX/MOVSX: a 64-bit destination. */
const WIDE = 1 << 5;
if (I_GPR !== GPR >> 2 || I_LAZY_OP !== LAZY_OP >> 2 || I_LAZY_SIZE !== LAZY_SIZE >> 2 || I_LAZY_AUX !== LAZY_AUX >> 2 ||
  I_LAZY_RES !== LAZY_RES >> 2 || I_LAZY_DST !== LAZY_DST >> 2 || I_LAZY_SRC !== LAZY_SRC >> 2 ||
  OP_ADD !== ALU_ADD || OP_OR !== ALU_OR || OP_AND !== ALU_AND || OP_SUB !== ALU_SUB || OP_XOR !== ALU_XOR || OP_CMP !== ALU_CMP ||
  K_ADD !== LAZY_ADD || K_SUB !== LAZY_SUB || K_LOGIC !== LAZY_LOGIC || K_INC !== LAZY_INC || K_DEC !== LAZY_DEC ||
  I_FS_BASE !== (SEGS + SEG_FS * SEG_STRIDE + SEG_BASE) >> 2 || I_GS_BASE !== (SEGS + SEG_GS * SEG_STRIDE + SEG_BASE) >> 2) {
  throw new Error('fast.ts: the literal constants no longer match their definitions');
}

// aux layout: bits 0-3 the operation, bits 8-12 and 16-20 the Int32 indexes of the
// destination and source registers' low halves (2 × register number).
const dstOf = (aux: number): number => (aux >>> 8) & 31;
const srcOf = (aux: number): number => (aux >>> 16) & 31;

/** Records a 64-bit arithmetic result for the lazy flags, as Cpu.lazy does. */
function record64(i32: Int32Array, kind: number, cin: number, rLo: number, rHi: number, dLo: number, dHi: number, sLo: number, sHi: number): void {
  i32[I_LAZY_OP] = kind;
  i32[I_LAZY_SIZE] = 8;
  i32[I_LAZY_AUX] = cin;
  i32[I_LAZY_RES] = rLo;
  i32[I_LAZY_RES + 1] = rHi;
  i32[I_LAZY_DST] = dLo;
  i32[I_LAZY_DST + 1] = dHi;
  i32[I_LAZY_SRC] = sLo;
  i32[I_LAZY_SRC + 1] = sHi;
}

/** The same for a 32-bit result (the high halves are not read for size 4). */
function record32(i32: Int32Array, kind: number, cin: number, r: number, dv: number, s: number): void {
  i32[I_LAZY_OP] = kind;
  i32[I_LAZY_SIZE] = 4;
  i32[I_LAZY_AUX] = cin;
  i32[I_LAZY_RES] = r;
  i32[I_LAZY_DST] = dv;
  i32[I_LAZY_SRC] = s;
}

/**
 * 64-bit (dLo, dHi) op= (sLo, sHi): the lazy flags as ./alu.ts records them, and the result in
 * the register whose low half is at Int32 index d (not for CMP and TEST).
 */
function alu64(i32: Int32Array, op: number, d: number, dLo: number, dHi: number, sLo: number, sHi: number): void {
  let rLo: number;
  let rHi: number;
  if (op === OP_ADD) {
    const s = (dLo >>> 0) + (sLo >>> 0);
    rLo = s | 0;
    rHi = (dHi + sHi + (s > 0xffffffff ? 1 : 0)) | 0;
    record64(i32, K_ADD, 0, rLo, rHi, dLo, dHi, sLo, sHi);
  } else if (op === OP_SUB || op === OP_CMP) {
    const s = (dLo >>> 0) - (sLo >>> 0);
    rLo = s | 0;
    rHi = (dHi - sHi - (s < 0 ? 1 : 0)) | 0;
    record64(i32, K_SUB, 0, rLo, rHi, dLo, dHi, sLo, sHi);
  } else {
    if (op === OP_OR) {
      rLo = dLo | sLo;
      rHi = dHi | sHi;
    } else if (op === OP_XOR) {
      rLo = dLo ^ sLo;
      rHi = dHi ^ sHi;
    } else {
      rLo = dLo & sLo;
      rHi = dHi & sHi;
    }
    // Logic results need only the result (CF = OF = 0), as Cpu.lazyLogic records them.
    i32[I_LAZY_OP] = K_LOGIC;
    i32[I_LAZY_SIZE] = 8;
    i32[I_LAZY_RES] = rLo;
    i32[I_LAZY_RES + 1] = rHi;
  }
  if (op !== OP_CMP && op !== OP_TEST) {
    i32[d] = rLo;
    i32[d + 1] = rHi;
  }
}

/** 32-bit dv op= s, like alu64 (a written destination is zero-extended to 64 bits). */
function alu32(i32: Int32Array, op: number, d: number, dv: number, s: number): void {
  let r: number;
  if (op === OP_ADD || op === OP_SUB || op === OP_CMP) {
    r = op === OP_ADD ? (dv + s) | 0 : (dv - s) | 0;
    record32(i32, op === OP_ADD ? K_ADD : K_SUB, 0, r, dv, s);
  } else {
    r = op === OP_OR ? dv | s : op === OP_XOR ? dv ^ s : dv & s;
    i32[I_LAZY_OP] = K_LOGIC;
    i32[I_LAZY_SIZE] = 4;
    i32[I_LAZY_RES] = r;
  }
  if (op !== OP_CMP && op !== OP_TEST) {
    i32[d] = r;
    i32[d + 1] = 0;
  }
}

/** INC/DEC of a 64-bit register (aux bit 0: DEC): CF is kept, as ./alu.ts records it. */
function incDec64(cpu: Cpu, e: CachedInsn): void {
  const cf = cpu.getCF();
  const i32 = cpu.i32;
  const aux = e.aux;
  const d = dstOf(aux);
  const dLo = i32[d]!;
  const dHi = i32[d + 1]!;
  const dec = (aux & 1) !== 0;
  const s = (dLo >>> 0) + (dec ? -1 : 1);
  const rLo = s | 0;
  const rHi = (dHi + (s > 0xffffffff ? 1 : s < 0 ? -1 : 0)) | 0;
  record64(i32, dec ? K_DEC : K_INC, cf, rLo, rHi, dLo, dHi, 1, 0);
  i32[d] = rLo;
  i32[d + 1] = rHi;
}

function incDec32(cpu: Cpu, e: CachedInsn): void {
  const cf = cpu.getCF();
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  const dv = i32[d]!;
  const dec = (e.aux & 1) !== 0;
  const r = (dv + (dec ? -1 : 1)) | 0;
  record32(i32, dec ? K_DEC : K_INC, cf, r, dv, 1);
  i32[d] = r;
  i32[d + 1] = 0;
}

function aluRR64(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const aux = e.aux;
  const s = srcOf(aux);
  const d = dstOf(aux);
  alu64(i32, aux & 15, d, i32[d]!, i32[d + 1]!, i32[s]!, i32[s + 1]!);
}

function aluRI64(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const imm = e.imm;
  const d = dstOf(e.aux);
  alu64(i32, e.aux & 15, d, i32[d]!, i32[d + 1]!, imm, imm < 0 ? -1 : 0);
}

function aluRR32(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const aux = e.aux;
  const d = dstOf(aux);
  alu32(i32, aux & 15, d, i32[d]!, i32[srcOf(aux)]!);
}

function aluRI32(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  alu32(i32, e.aux & 15, d, i32[d]!, e.imm);
}

function movRR64(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  const s = srcOf(e.aux);
  i32[d] = i32[s]!;
  i32[d + 1] = i32[s + 1]!;
}

function movRR32(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  i32[d] = i32[srcOf(e.aux)]!;
  i32[d + 1] = 0;
}

/** MOV r64, imm64 (B8+r with REX.W). */
function movRI64(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  i32[d] = e.imm;
  i32[d + 1] = e.immHi;
}

/** MOV r64, imm32 (C7 /0 with REX.W: sign-extended). */
function movRIs64(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  i32[d] = e.imm;
  i32[d + 1] = e.imm < 0 ? -1 : 0;
}

function movRI32(cpu: Cpu, e: CachedInsn): void {
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  i32[d] = e.imm;
  i32[d + 1] = 0;
}

/** The offset of a memory operand with 64-bit addressing: base (a register or RIP) + index << scale + disp (high half in cpu.hi). */
function offset64(cpu: Cpu, e: CachedInsn): number {
  const i32 = cpu.i32;
  let lo = e.disp;
  let hi = lo < 0 ? -1 : 0;
  const b = e.base;
  if (b >= 0) {
    let bLo: number;
    let bHi: number;
    if (b === BASE_RIP) {
      bLo = cpu.nextLo;
      bHi = cpu.nextHi;
    } else {
      bLo = i32[2 * b]!;
      bHi = i32[2 * b + 1]!;
    }
    const s = (bLo >>> 0) + (lo >>> 0);
    lo = s | 0;
    hi = (bHi + hi + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  const x = e.index;
  if (x >= 0) {
    let xLo = i32[2 * x]!;
    let xHi = i32[2 * x + 1]!;
    const sc = e.scale;
    if (sc !== 0) {
      xHi = (xHi << sc) | (xLo >>> (32 - sc));
      xLo <<= sc;
    }
    const s = (lo >>> 0) + (xLo >>> 0);
    lo = s | 0;
    hi = (hi + xHi + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  cpu.hi = hi;
  return lo;
}

/**
 * The linear address of a memory operand in 64-bit code with 64-bit addressing: the offset
 * plus the FS or GS base with that override (the other segments have none). What Cpu.ea
 * computes, eaLo/eaHi included. aux bit 4: the operand is SS-relative (RSP/RBP base, no
 * override), so a non-canonical address is #SS.
 */
function ea64(cpu: Cpu, e: CachedInsn): number {
  let lo = offset64(cpu, e);
  let hi = cpu.hi;
  const i32 = cpu.i32;
  const seg = e.seg;
  if (seg === SEG_FS || seg === SEG_GS) {
    const at = seg === SEG_FS ? I_FS_BASE : I_GS_BASE;
    const s = (lo >>> 0) + (i32[at]! >>> 0);
    lo = s | 0;
    hi = (hi + i32[at + 1]! + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  cpu.eaLo = lo;
  cpu.eaHi = hi;
  cpu.nonCanonicalVector = (e.aux & SS_RELATIVE) !== 0 ? VEC_SS : VEC_GP;
  return lo;
}

function load64B(cpu: Cpu, e: CachedInsn): void {
  const lo = cpu.read64(ea64(cpu, e), cpu.eaHi);
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  i32[d] = lo;
  i32[d + 1] = cpu.hi;
}

function load32B(cpu: Cpu, e: CachedInsn): void {
  const v = cpu.read32(ea64(cpu, e), cpu.eaHi);
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  i32[d] = v;
  i32[d + 1] = 0;
}

function store64B(cpu: Cpu, e: CachedInsn): void {
  const lo = ea64(cpu, e);
  const s = srcOf(e.aux);
  cpu.write64(lo, cpu.eaHi, cpu.i32[s]!, cpu.i32[s + 1]!);
}

function store32B(cpu: Cpu, e: CachedInsn): void {
  const lo = ea64(cpu, e);
  cpu.write32(lo, cpu.eaHi, cpu.i32[srcOf(e.aux)]!);
}

/** G op= [mem] (no ADC/SBB): the source read from memory. */
function aluRM64(cpu: Cpu, e: CachedInsn): void {
  const lo = cpu.read64(ea64(cpu, e), cpu.eaHi);
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  alu64(i32, e.aux & 15, d, i32[d]!, i32[d + 1]!, lo, cpu.hi);
}

function aluRM32(cpu: Cpu, e: CachedInsn): void {
  const v = cpu.read32(ea64(cpu, e), cpu.eaHi);
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  alu32(i32, e.aux & 15, d, i32[d]!, v);
}

/** CMP/TEST [mem], imm32 (nothing written). */
function cmpMI64(cpu: Cpu, e: CachedInsn): void {
  const lo = cpu.read64(ea64(cpu, e), cpu.eaHi);
  const imm = e.imm;
  alu64(cpu.i32, e.aux & 15, 0, lo, cpu.hi, imm, imm < 0 ? -1 : 0);
}

function cmpMI32(cpu: Cpu, e: CachedInsn): void {
  const v = cpu.read32(ea64(cpu, e), cpu.eaHi);
  alu32(cpu.i32, e.aux & 15, 0, v, e.imm);
}

/** LEA with 64-bit addressing (aux bit 5: a 64-bit destination, else the low 32 bits). */
function lea64(cpu: Cpu, e: CachedInsn): void {
  const lo = offset64(cpu, e);
  const i32 = cpu.i32;
  const d = dstOf(e.aux);
  i32[d] = lo;
  i32[d + 1] = (e.aux & WIDE) !== 0 ? cpu.hi : 0;
}

/**
 * MOVZX/MOVSX/MOVSXD to a 32- or 64-bit register from a register or a 64-bit-addressed
 * operand. aux: source size | signed << 3 | WIDE (64-bit destination).
 */
function movExtend64(cpu: Cpu, e: CachedInsn): void {
  const aux = e.aux;
  const from = aux & 7;
  let v: number;
  if (e.mod === 3) v = cpu.getReg(e.rm, from, e.rex);
  else {
    const lo = ea64(cpu, e);
    v = from === 1 ? cpu.read8(lo, cpu.eaHi) : from === 2 ? cpu.read16(lo, cpu.eaHi) : cpu.read32(lo, cpu.eaHi);
  }
  let hi = 0;
  if ((aux & 8) !== 0) {
    v = from === 1 ? (v << 24) >> 24 : from === 2 ? (v << 16) >> 16 : v | 0;
    if ((aux & WIDE) !== 0) hi = v >> 31;
  }
  const i32 = cpu.i32;
  const d = dstOf(aux);
  i32[d] = v;
  i32[d + 1] = hi;
}

/** MOV [mem], imm32 (C7 /0; sign-extended for a 64-bit operand). */
function storeImm64(cpu: Cpu, e: CachedInsn): void {
  const lo = ea64(cpu, e);
  cpu.write64(lo, cpu.eaHi, e.imm, e.imm < 0 ? -1 : 0);
}

function storeImm32(cpu: Cpu, e: CachedInsn): void {
  const lo = ea64(cpu, e);
  cpu.write32(lo, cpu.eaHi, e.imm);
}

/** Pushes a qword in 64-bit code; RSP changes only once the write succeeded. */
function pushQword(cpu: Cpu, vLo: number, vHi: number): void {
  const i32 = cpu.i32;
  const spLo = i32[8]!;
  const spHi = i32[9]!;
  const nLo = (spLo - 8) | 0;
  const nHi = (spLo >>> 0) < 8 ? (spHi - 1) | 0 : spHi;
  cpu.nonCanonicalVector = VEC_SS;
  cpu.write64(nLo, nHi, vLo, vHi);
  i32[8] = nLo;
  i32[9] = nHi;
}

/** Reads the qword at RSP in 64-bit code (high half in cpu.hi); dropTop() then releases it. */
function readTop(cpu: Cpu): number {
  cpu.nonCanonicalVector = VEC_SS;
  return cpu.read64(cpu.i32[8]!, cpu.i32[9]!);
}

function dropTop(i32: Int32Array): void {
  const s = (i32[8]! >>> 0) + 8;
  i32[9] = s > 0xffffffff ? (i32[9]! + 1) | 0 : i32[9]!;
  i32[8] = s | 0;
}

/** PUSH r64 in 64-bit code. */
function push64(cpu: Cpu, e: CachedInsn): void {
  const s = srcOf(e.aux);
  pushQword(cpu, cpu.i32[s]!, cpu.i32[s + 1]!);
}

/** POP r64 in 64-bit code (POP RSP loads the popped value). */
function pop64(cpu: Cpu, e: CachedInsn): void {
  const lo = readTop(cpu);
  const hi = cpu.hi;
  const i32 = cpu.i32;
  dropTop(i32);
  const d = dstOf(e.aux);
  i32[d] = lo;
  i32[d + 1] = hi;
}

/** CALL rel32 in 64-bit code: the target is checked before the return address is pushed. */
function callRel64(cpu: Cpu, e: CachedInsn): void {
  const retLo = cpu.nextLo;
  const retHi = cpu.nextHi;
  cpu.jumpRelative(e.imm, 8);
  pushQword(cpu, retLo, retHi);
}

/** RET in 64-bit code: a non-canonical return address is #GP(0) with RSP unchanged. */
function ret64(cpu: Cpu): void {
  const lo = readTop(cpu);
  const hi = cpu.hi;
  if (hi >> 15 !== 0 && hi >> 15 !== -1) cpu.fault(VEC_GP, 0);
  dropTop(cpu.i32);
  cpu.nextLo = lo;
  cpu.nextHi = hi;
}

const regs = (d: number, s: number): number => (2 * d) << 8 | (2 * s) << 16;

/** A memory operand ea64 computes: 64-bit code and addressing. */
function mem64(e: Insn): boolean {
  return e.mode === 64 && e.adsize === 8;
}

function ssRelative(e: Insn): number {
  return e.seg < 0 && (e.base === 4 || e.base === 5) ? SS_RELATIVE : 0;
}

/**
 * The fast form of a decoded instruction bound to `handler` with `aux`, or undefined.
 * The generic aux layouts are ./alu.ts's (operation | form << 3 | byte << 5; TEST: form << 3
 * | byte << 5) and ./move.ts's (MOV: form | byte << 2; PUSH/POP: operand kind).
 */
export function fastForm(e: Insn, handler: Handler, aux: number): Binding | undefined {
  const size = e.opsize;
  if (size !== 4 && size !== 8) return undefined;
  const reg = e.mod === 3;
  if (handler === aluEG || handler === aluGE || handler === aluEI || handler === aluAI || handler === test) {
    if (aux & 32) return undefined; // byte operands
    const isTest = handler === test;
    const op = isTest ? OP_TEST : aux & 7;
    if (op === 2 || op === 3) return undefined; // ADC, SBB
    const form = (aux >> 3) & 3;
    const rr = size === 8 ? aluRR64 : aluRR32;
    const ri = size === 8 ? aluRI64 : aluRI32;
    if (form === 2) return [ri, op | regs(0, 0)]; // AL/rAX, imm
    if (!reg) {
      if (!mem64(e)) return undefined;
      if (form === 1) return [size === 8 ? aluRM64 : aluRM32, op | regs(e.reg, 0) | ssRelative(e)];
      if (form === 3 && (op === OP_CMP || op === OP_TEST)) return [size === 8 ? cmpMI64 : cmpMI32, op | ssRelative(e)];
      return undefined;
    }
    if (form === 3) return [ri, op | regs(e.rm, 0)]; // E, imm
    if (form === 0) return [rr, op | regs(e.rm, e.reg)]; // E op= G (TEST E, G)
    return [rr, op | regs(e.reg, e.rm)]; // G op= E
  }
  if (handler === incDec && (aux & 32) === 0) {
    // aux: DEC in bit 0; bit 1: the 40+r/48+r form (outside 64-bit code), else FE/FF /0 /1.
    const r = (aux & 2) !== 0 ? e.opcode & 7 : reg ? e.rm : -1;
    if (r < 0) return undefined;
    return [size === 8 ? incDec64 : incDec32, (aux & 1) | regs(r, 0)];
  }
  if (handler === mov) {
    if (aux & 4) return undefined; // byte operands
    switch (aux & 3) {
      case 0: // E <- G
        if (reg) return [size === 8 ? movRR64 : movRR32, regs(e.rm, e.reg)];
        if (mem64(e)) return [size === 8 ? store64B : store32B, regs(0, e.reg) | ssRelative(e)];
        return undefined; // outside 64-bit code: segment limits and bases (readEA/writeEA)
      case 1: // G <- E
        if (reg) return [size === 8 ? movRR64 : movRR32, regs(e.reg, e.rm)];
        if (mem64(e)) return [size === 8 ? load64B : load32B, regs(e.reg, 0) | ssRelative(e)];
        return undefined;
      case 2: // B8+r
        return [size === 8 ? movRI64 : movRI32, regs((e.opcode & 7) | ((e.rex & 1) << 3), 0)];
      default: // C7 /0
        if (!reg) return mem64(e) ? [size === 8 ? storeImm64 : storeImm32, ssRelative(e)] : undefined;
        return [size === 8 ? movRIs64 : movRI32, regs(e.rm, 0)];
    }
  }
  if (handler === lea && !reg && mem64(e)) return [lea64, regs(e.reg, 0) | (size === 8 ? WIDE : 0)];
  if (handler === movExtend && (reg || mem64(e))) return [movExtend64, (aux & 15) | regs(e.reg, 0) | (size === 8 ? WIDE : 0) | ssRelative(e)];
  if (e.mode === 64) {
    if (handler === callRel && size === 8) return [callRel64, 0];
    if (handler === ret && size === 8 && aux === 0) return [ret64, 0];
  }
  if (e.mode === 64 && size === 8 && aux === 0 && (handler === push || handler === pop)) {
    const r = (e.opcode & 7) | ((e.rex & 1) << 3);
    return handler === push ? [push64, regs(0, r)] : [pop64, regs(r, 0)];
  }
  return undefined;
}

/**
 * Integer ALU: ADD OR ADC SBB AND SUB XOR CMP in all forms, INC DEC NEG NOT TEST
 * (Intel SDM Vol. 2). Flags are lazy (../flags.ts): each operation records its operands.
 *
 * Operand values: 1- and 2-byte values are unsigned and masked; 4-byte values are int32;
 * 8-byte values are (lo, hi) pairs with the high half passed separately.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_SUB } from '../flags.ts';
import { K, SZ, type Opcode } from '../opcode-table.ts';

export const ALU_ADD = 0;
export const ALU_OR = 1;
export const ALU_ADC = 2;
export const ALU_SBB = 3;
export const ALU_AND = 4;
export const ALU_SUB = 5;
export const ALU_XOR = 6;
export const ALU_CMP = 7;
const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];

/** Operand forms, in aux bits 3-4. */
const FORM_EG = 0; // E op= G
const FORM_GE = 1; // G op= E
const FORM_AI = 2; // AL/rAX op= imm
const FORM_EI = 3; // E op= imm
const BYTE = 1 << 5;

/** Operand size of an instruction whose operands are byte-sized or not. */
function size(e: CachedInsn): number {
  return e.aux & BYTE ? 1 : e.opsize;
}

function mask(value: number, size: number): number {
  return size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value;
}

/**
 * dst op src for `size` bytes; records the flags; returns the result (high half in cpu.hi).
 */
export function alu(cpu: Cpu, op: number, size: number, dLo: number, dHi: number, sLo: number, sHi: number): number {
  let rLo: number;
  let rHi = 0;
  switch (op) {
    case ALU_ADD:
    case ALU_ADC: {
      const cin = op === ALU_ADC ? cpu.getCF() : 0;
      if (size === 8) {
        const s = (dLo >>> 0) + (sLo >>> 0) + cin;
        rLo = s | 0;
        rHi = (dHi + sHi + (s > 0xffffffff ? 1 : 0)) | 0;
      } else rLo = mask((dLo + sLo + cin) | 0, size);
      cpu.lazy(LAZY_ADD, size, cin, rLo, rHi, dLo, dHi, sLo, sHi);
      break;
    }
    case ALU_SUB:
    case ALU_SBB:
    case ALU_CMP: {
      const cin = op === ALU_SBB ? cpu.getCF() : 0;
      if (size === 8) {
        const s = (dLo >>> 0) - (sLo >>> 0) - cin;
        rLo = s | 0;
        rHi = (dHi - sHi - (s < 0 ? 1 : 0)) | 0;
      } else rLo = mask((dLo - sLo - cin) | 0, size);
      cpu.lazy(LAZY_SUB, size, cin, rLo, rHi, dLo, dHi, sLo, sHi);
      break;
    }
    case ALU_AND:
      rLo = dLo & sLo;
      rHi = dHi & sHi;
      cpu.lazyLogic(size, rLo, rHi);
      break;
    case ALU_OR:
      rLo = dLo | sLo;
      rHi = dHi | sHi;
      cpu.lazyLogic(size, rLo, rHi);
      break;
    default: // XOR
      rLo = dLo ^ sLo;
      rHi = dHi ^ sHi;
      cpu.lazyLogic(size, rLo, rHi);
  }
  cpu.hi = rHi;
  return rLo;
}

/** Immediate operand as a value of `size` bytes (sign-extended from its encoding). */
function immediate(e: CachedInsn, size: number): number {
  return mask(e.imm, size);
}

// One handler per operand form (no per-instruction switch on the form).

/** E op= G (00 01 08 09 ...). */
export function aluEG(cpu: Cpu, e: CachedInsn): void {
  const op = e.aux & 7;
  const sz = size(e);
  const dLo = op === ALU_CMP ? cpu.readE(e, sz) : cpu.readEWrite(e, sz);
  const dHi = cpu.hi;
  const sLo = cpu.getReg(e.reg, sz, e.rex);
  const rLo = alu(cpu, op, sz, dLo, dHi, sLo, cpu.hi);
  if (op !== ALU_CMP) cpu.writeE(e, sz, rLo, cpu.hi);
}

/** G op= E (02 03 0A 0B ...). */
export function aluGE(cpu: Cpu, e: CachedInsn): void {
  const op = e.aux & 7;
  const sz = size(e);
  const sLo = cpu.readE(e, sz);
  const sHi = cpu.hi;
  const dLo = cpu.getReg(e.reg, sz, e.rex);
  const rLo = alu(cpu, op, sz, dLo, cpu.hi, sLo, sHi);
  if (op !== ALU_CMP) cpu.setReg(e.reg, sz, rLo, cpu.hi, e.rex);
}

/** AL/rAX op= imm (04 05 0C 0D ...). */
export function aluAI(cpu: Cpu, e: CachedInsn): void {
  const op = e.aux & 7;
  const sz = size(e);
  const dLo = cpu.getReg(0, sz, e.rex);
  const rLo = alu(cpu, op, sz, dLo, cpu.hi, immediate(e, sz), e.imm < 0 ? -1 : 0);
  if (op !== ALU_CMP) cpu.setReg(0, sz, rLo, cpu.hi, e.rex);
}

/** E op= imm (80 81 83). */
export function aluEI(cpu: Cpu, e: CachedInsn): void {
  const op = e.aux & 7;
  const sz = size(e);
  const dLo = op === ALU_CMP ? cpu.readE(e, sz) : cpu.readEWrite(e, sz);
  const rLo = alu(cpu, op, sz, dLo, cpu.hi, immediate(e, sz), e.imm < 0 ? -1 : 0);
  if (op !== ALU_CMP) cpu.writeE(e, sz, rLo, cpu.hi);
}

const ALU_FORMS = [aluEG, aluGE, aluAI, aluEI];

export function test(cpu: Cpu, e: CachedInsn): void {
  const sz = size(e);
  const form = (e.aux >> 3) & 3;
  let aLo: number;
  let aHi: number;
  let bLo: number;
  let bHi: number;
  if (form === FORM_AI) {
    aLo = cpu.getReg(0, sz, e.rex);
    aHi = cpu.hi;
  } else {
    aLo = cpu.readE(e, sz);
    aHi = cpu.hi;
  }
  if (form === FORM_EG) {
    bLo = cpu.getReg(e.reg, sz, e.rex);
    bHi = cpu.hi;
  } else {
    bLo = immediate(e, sz);
    bHi = e.imm < 0 ? -1 : 0;
  }
  cpu.lazyLogic(sz, aLo & bLo, aHi & bHi);
}

export function incDec(cpu: Cpu, e: CachedInsn): void {
  const sz = size(e);
  const dec = (e.aux & 1) !== 0;
  const viaOpcode = (e.aux & 2) !== 0; // 40+r / 48+r outside 64-bit mode
  const r = viaOpcode ? e.opcode & 7 : -1;
  const dLo = r >= 0 ? cpu.getReg(r, sz, 0) : cpu.readEWrite(e, sz);
  const dHi = cpu.hi;
  const cf = cpu.getCF();
  let rLo: number;
  let rHi = 0;
  if (sz === 8) {
    const s = (dLo >>> 0) + (dec ? -1 : 1);
    rLo = s | 0;
    rHi = (dHi + (s > 0xffffffff ? 1 : s < 0 ? -1 : 0)) | 0;
  } else rLo = mask((dLo + (dec ? -1 : 1)) | 0, sz);
  cpu.lazy(dec ? LAZY_DEC : LAZY_INC, sz, cf, rLo, rHi, dLo, dHi, 1, 0);
  if (r >= 0) cpu.setReg(r, sz, rLo, rHi, 0);
  else cpu.writeE(e, sz, rLo, rHi);
}

function neg(cpu: Cpu, e: CachedInsn): void {
  const sz = size(e);
  const vLo = cpu.readEWrite(e, sz);
  const vHi = cpu.hi;
  const rLo = alu(cpu, ALU_SUB, sz, 0, 0, vLo, vHi);
  cpu.writeE(e, sz, rLo, cpu.hi);
}

function not(cpu: Cpu, e: CachedInsn): void {
  const sz = size(e);
  const vLo = cpu.readEWrite(e, sz);
  cpu.writeE(e, sz, mask(~vLo, sz), ~cpu.hi);
}

function isByte(op: Opcode): boolean {
  return op.operands[0]?.size === SZ.B;
}

export function bindAlu(op: Opcode): Binding | undefined {
  if (op.map !== 0) return undefined;
  const byte = isByte(op) ? BYTE : 0;
  const aluIndex = ALU_NAMES.indexOf(op.mnemonic);
  const [a, b] = op.operands;
  const form = a?.kind === K.FIXED ? FORM_AI : b?.kind === K.G ? FORM_EG : a?.kind === K.G ? FORM_GE : FORM_EI;
  if (aluIndex >= 0) return [ALU_FORMS[form]!, aluIndex | (form << 3) | byte];
  switch (op.mnemonic) {
    case 'test': return [test, (form << 3) | byte];
    case 'inc': return [incDec, (a?.kind === K.Z ? 2 : 0) | byte];
    case 'dec': return [incDec, 1 | (a?.kind === K.Z ? 2 : 0) | byte];
    case 'neg': return [neg, byte];
    case 'not': return [not, byte];
  }
  return undefined;
}

/**
 * Control flow and flag instructions: Jcc, JMP, CALL, RET (near), LOOP/LOOPcc, JrCXZ, SETcc,
 * CMOVcc, CLC/STC/CMC/CLD/STD/CLI/STI (with the STI interrupt shadow), LAHF/SAHF, HLT, UD2,
 * hint NOPs and ENDBR (Intel SDM Vol. 2). Far transfers and INT n are in ./system.ts. CLI/STI
 * need CPL <= IOPL (in virtual-8086 mode: IOPL = 3), else #GP(0).
 *
 * Not supported: CR4.VME/PVI (CLI/STI acting on VIF).
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { AF, CF, DF, IF, IOPL, PF, SF, ZF } from '../flags.ts';
import { K, type Opcode } from '../opcode-table.ts';

function jcc(cpu: Cpu, e: CachedInsn): void {
  if (cpu.cond(e.aux)) cpu.jumpRelative(e.imm, e.opsize);
}

function jmpRel(cpu: Cpu, e: CachedInsn): void {
  cpu.jumpRelative(e.imm, e.opsize);
}

function jmpE(cpu: Cpu, e: CachedInsn): void {
  const lo = cpu.readE(e, e.opsize);
  cpu.jump(lo, cpu.hi, e.opsize);
}

export function callRel(cpu: Cpu, e: CachedInsn): void {
  const retLo = cpu.nextLo;
  const retHi = cpu.nextHi;
  cpu.jumpRelative(e.imm, e.opsize); // checks the target before anything is pushed
  cpu.push(e.opsize, retLo, retHi);
}

function callE(cpu: Cpu, e: CachedInsn): void {
  const lo = cpu.readE(e, e.opsize);
  const hi = cpu.hi;
  const retLo = cpu.nextLo;
  const retHi = cpu.nextHi;
  cpu.jump(lo, hi, e.opsize);
  cpu.push(e.opsize, retLo, retHi);
}

export function ret(cpu: Cpu, e: CachedInsn): void {
  const spLo = cpu.lo(4);
  const spHi = cpu.hi64(4);
  const lo = cpu.pop(e.opsize);
  try {
    cpu.jump(lo, cpu.hi, e.opsize);
  } catch (err) {
    cpu.set64(4, spLo, spHi);
    throw err;
  }
  if (e.aux) {
    // RET imm16: release that many more bytes of stack.
    cpu.adjustSp(e.imm & 0xffff);
  }
}

/** LOOP (aux 2), LOOPE (1), LOOPNE (0), JrCXZ (3): the counter is rCX at the address size. */
function loop(cpu: Cpu, e: CachedInsn): void {
  const ad = e.adsize;
  let count: number;
  let countHi = 0;
  if (ad === 8) {
    count = cpu.lo(1);
    countHi = cpu.hi64(1);
  } else count = ad === 4 ? cpu.lo(1) : cpu.lo(1) & 0xffff;
  if (e.aux === 3) {
    if (count === 0 && countHi === 0) cpu.jumpRelative(e.imm, e.opsize);
    return;
  }
  // Decrement without touching flags.
  if (ad === 8) {
    countHi = (count === 0 ? countHi - 1 : countHi) | 0;
    count = (count - 1) | 0;
    cpu.set64(1, count, countHi);
  } else {
    count = ad === 4 ? (count - 1) | 0 : (count - 1) & 0xffff;
    cpu.setReg(1, ad, count, 0, 0);
  }
  let take = count !== 0 || countHi !== 0;
  if (e.aux === 1) take &&= (cpu.getFlags() & ZF) !== 0;
  else if (e.aux === 0) take &&= (cpu.getFlags() & ZF) === 0;
  if (take) cpu.jumpRelative(e.imm, e.opsize);
}

function setcc(cpu: Cpu, e: CachedInsn): void {
  const v = cpu.cond(e.aux) ? 1 : 0;
  if (e.mod === 3) cpu.setReg(e.rm, 1, v, 0, e.rex);
  else {
    cpu.ea(e);
    cpu.writeEA(1, v, 0);
  }
}

function cmovcc(cpu: Cpu, e: CachedInsn): void {
  // The source is read (and may fault) even when the condition is false; a 32-bit
  // destination is zero-extended either way.
  const lo = cpu.readE(e, e.opsize);
  const hi = cpu.hi;
  if (cpu.cond(e.aux)) cpu.setReg(e.reg, e.opsize, lo, hi, e.rex);
  else if (e.opsize === 4) cpu.setReg(e.reg, 4, cpu.lo(e.reg), 0, e.rex);
}

/** CLC STC CMC CLD STD CLI STI (aux = which). */
function flagOp(cpu: Cpu, e: CachedInsn): void {
  const f = cpu.getFlags();
  switch (e.aux) {
    case 0: cpu.setFlags(f & ~CF); return;
    case 1: cpu.setFlags(f | CF); return;
    case 2: cpu.setFlags(f ^ CF); return;
    case 3: cpu.setFlags(f & ~DF); return;
    case 4: cpu.setFlags(f | DF); return;
    default:
      // CLI / STI need CPL <= IOPL (no virtual-interrupt extensions).
      if (cpu.cpl > (f & IOPL) >> 12) cpu.fault(13, 0);
      if (e.aux === 6 && (f & IF) === 0) cpu.setInterruptShadow(); // STI: one more instruction first
      cpu.setFlags(e.aux === 5 ? f & ~IF : f | IF);
  }
}

function lahf(cpu: Cpu): void {
  cpu.setReg(4, 1, cpu.getFlags() & 0xff, 0, 0); // AH (register 4 without REX)
}

function sahf(cpu: Cpu): void {
  const ah = (cpu.lo(0) >> 8) & (SF | ZF | AF | PF | CF);
  cpu.setFlags((cpu.getFlags() & ~(SF | ZF | AF | PF | CF)) | ah);
}

function hlt(cpu: Cpu): void {
  if (cpu.cpl !== 0) cpu.fault(13, 0);
  cpu.halted = true;
}

function ud(cpu: Cpu): void {
  cpu.fault(6);
}

function nop(): void {}

const FLAG_OPS = ['clc', 'stc', 'cmc', 'cld', 'std', 'cli', 'sti'];

export function bindControl(op: Opcode): Binding | undefined {
  const m = op.mnemonic;
  const cc = conditionOf(m);
  if (m.startsWith('set') && cc >= 0) return [setcc, cc];
  if (m.startsWith('cmov') && cc >= 0) return [cmovcc, cc];
  if (m.startsWith('j') && cc >= 0 && op.operands[0]?.kind === K.J) return [jcc, cc];
  switch (m) {
    case 'jmp': return op.operands[0]?.kind === K.J ? [jmpRel, 0] : [jmpE, 0];
    case 'call': return op.operands[0]?.kind === K.J ? [callRel, 0] : [callE, 0];
    case 'ret': return [ret, op.operands.length];
    case 'loopne': return [loop, 0];
    case 'loope': return [loop, 1];
    case 'loop': return [loop, 2];
    case 'jrcxz': return [loop, 3];
    case 'lahf': return [lahf, 0];
    case 'sahf': return [sahf, 0];
    case 'hlt': return [hlt, 0];
    case 'ud2': case 'ud1': case 'ud0': return [ud, 0];
    case 'endbr64': case 'endbr32': case 'prefetch': case 'prefetchw': case 'prefetchnta':
    case 'prefetcht0': case 'prefetcht1': case 'prefetcht2': case 'lfence': case 'mfence': case 'sfence':
      return [nop, 0];
    case 'nop': return op.map === 1 ? [nop, 0] : undefined;
  }
  const flag = FLAG_OPS.indexOf(m);
  if (flag >= 0) return [flagOp, flag];
  return undefined;
}

const CC_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

function conditionOf(mnemonic: string): number {
  for (const prefix of ['set', 'cmov', 'j']) {
    if (mnemonic.startsWith(prefix)) {
      const i = CC_NAMES.indexOf(mnemonic.slice(prefix.length));
      if (i >= 0) return i;
    }
  }
  return -1;
}

/**
 * The rest of the integer set: ENTER, XLAT, INT1, and the instructions that exist only
 * outside 64-bit mode: PUSHA/POPA, the BCD adjustments (DAA DAS AAA AAS AAM AAD), ARPL, SALC,
 * BOUND
 * (Intel SDM Vol. 2). INS/OUTS are here too: port I/O through the CPU's IoBus, element by
 * element, with REP.
 *
 * Not supported: nothing in this family.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { AF, ARITH, CF, DF, IOPL, PARITY, SF, ZF } from '../flags.ts';
import { PREFIX_REP, PREFIX_REPNE } from '../decoder.ts';
import type { Opcode } from '../opcode-table.ts';
import { CR0, RIP } from '../../state-layout.ts';
import { SEG_ES, SEG_SS, checkIoPermission, isRealOrVm86 } from '../system.ts';
import { ACCESS_WRITE } from '../mmu.ts';
import { VEC_UD } from '../exceptions.ts';

/** ENTER imm16, imm8: make a stack frame with `level` nesting levels. */
function enter(cpu: Cpu, e: CachedInsn): void {
  const size = e.opsize;
  const frameSize = e.imm & 0xffff;
  const level = e.imm2 & 0x1f;
  const spLo = cpu.lo(4);
  const spHi = cpu.hi64(4);
  const bpLo = cpu.lo(5);
  const bpHi = cpu.hi64(5);
  try {
    cpu.push(size, bpLo, bpHi);
    const frameLo = cpu.lo(4);
    const frameHi = cpu.hi64(4);
    if (level > 0) {
      // Copy level-1 frame pointers from the caller's display, then push the new frame pointer.
      let ptrLo = bpLo;
      let ptrHi = bpHi;
      for (let i = 1; i < level; i++) {
        const s = (ptrLo >>> 0) - size;
        ptrHi = s < 0 ? (ptrHi - 1) | 0 : ptrHi;
        ptrLo = s | 0;
        let v: number;
        if (cpu.codeBits === 64) v = size === 8 ? cpu.read64(ptrLo, ptrHi) : cpu.read16(ptrLo, ptrHi);
        else {
          // SS-relative, with a 16-bit frame pointer (BP) on a 16-bit stack.
          const at = cpu.linearAddress(SEG_SS, cpu.stack16 ? ptrLo & 0xffff : ptrLo, 0);
          v = size === 4 ? cpu.read32(at, 0) : cpu.read16(at, 0);
        }
        cpu.push(size, v, size === 8 ? cpu.hi : 0);
      }
      cpu.push(size, frameLo, frameHi);
    }
    // rBP = frame; rSP -= frameSize. The processor checks that the new top of stack can be
    // written (the host faults there, with a write #PF, even when nothing is stored).
    const s = (cpu.lo(4) >>> 0) - frameSize;
    const newHi = s < 0 ? (cpu.hi64(4) - 1) | 0 : cpu.hi64(4);
    if (frameSize !== 0) {
      cpu.nonCanonicalVector = 12;
      if (cpu.codeBits === 64) cpu.translate(s | 0, newHi, ACCESS_WRITE);
      else cpu.translate(cpu.linearAddress(SEG_SS, cpu.stack16 ? s & 0xffff : s | 0, 0), 0, ACCESS_WRITE);
    }
    cpu.setReg(5, size, frameLo, frameHi, 0);
    cpu.setSp(s | 0, newHi);
  } catch (err) {
    cpu.set64(4, spLo, spHi);
    cpu.set64(5, bpLo, bpHi);
    throw err;
  }
}

/** XLAT: AL = [rBX + AL] (DS or the override). */
function xlat(cpu: Cpu, e: CachedInsn): void {
  const disp = e.disp;
  const base = e.base;
  const index = e.index;
  // Reuse the effective-address machinery: base rBX, displacement AL.
  e.base = 3;
  e.index = -1;
  e.disp = cpu.lo(0) & 0xff;
  try {
    cpu.ea(e);
  } finally {
    e.base = base;
    e.index = index;
    e.disp = disp;
  }
  cpu.setReg(0, 1, cpu.readEA(1), 0, 0);
}

/** INT1 (ICEBP): a #DB trap, reported after the instruction. */
function int1(cpu: Cpu): void {
  cpu.i32[RIP >> 2] = cpu.nextLo;
  cpu.i32[(RIP >> 2) + 1] = cpu.nextHi;
  cpu.fault(1);
}

/** PUSHA/PUSHAD (aux 0) and POPA/POPAD (aux 1). */
function pushaPopa(cpu: Cpu, e: CachedInsn): void {
  const size = e.opsize;
  const sp = cpu.lo(4);
  if (e.aux === 0) {
    const values = [cpu.lo(0), cpu.lo(1), cpu.lo(2), cpu.lo(3), sp, cpu.lo(5), cpu.lo(6), cpu.lo(7)];
    try {
      for (const v of values) cpu.push(size, v, 0);
    } catch (err) {
      cpu.setReg(4, 4, sp, 0, 0);
      throw err;
    }
    return;
  }
  const values: number[] = [];
  try {
    for (let i = 0; i < 8; i++) values.push(cpu.pop(size));
  } catch (err) {
    cpu.setReg(4, 4, sp, 0, 0);
    throw err;
  }
  // DI SI BP (SP skipped) BX DX CX AX
  const order = [7, 6, 5, -1, 3, 2, 1, 0];
  for (let i = 0; i < 8; i++) if (order[i]! >= 0) cpu.setReg(order[i]!, size, values[i]!, 0, 0);
}

/** DAA (0) DAS (1) AAA (2) AAS (3). */
function bcdAdjust(cpu: Cpu, e: CachedInsn): void {
  const f = cpu.getFlags();
  let al = cpu.lo(0) & 0xff;
  const oldAl = al;
  const oldCf = f & CF;
  let cf = 0;
  let af = 0;
  switch (e.aux) {
    case 0: // DAA
    case 1: { // DAS
      const sub = e.aux === 1;
      if ((al & 0xf) > 9 || f & AF) {
        al = sub ? (al - 6) & 0xff : (al + 6) & 0xff;
        cf = oldCf | (sub ? (oldAl < 6 ? 1 : 0) : (oldAl + 6 > 0xff ? 1 : 0));
        af = AF;
      }
      if (oldAl > 0x99 || oldCf) {
        al = sub ? (al - 0x60) & 0xff : (al + 0x60) & 0xff;
        cf = 1;
      }
      cpu.setReg(0, 1, al, 0, 0);
      cpu.setFlags((f & ~ARITH) | cf | af | (al === 0 ? ZF : 0) | (al & 0x80 ? SF : 0) | PARITY[al]!);
      return;
    }
    default: { // AAA / AAS
      let ax = cpu.lo(0) & 0xffff;
      if ((al & 0xf) > 9 || f & AF) {
        // AAA: AX += 0x106. AAS: AX -= 6 (borrowing from AH), then AH -= 1.
        ax = e.aux === 2 ? (ax + 0x106) & 0xffff : (ax - 6 - 0x100) & 0xffff;
        cf = 1;
        af = AF;
      }
      ax = (ax & 0xff0f);
      cpu.setReg(0, 2, ax, 0, 0);
      cpu.setFlags((f & ~(CF | AF)) | cf | af);
    }
  }
}

/** AAM imm8 (aux 0, #DE for 0) and AAD imm8 (aux 1). */
function aamAad(cpu: Cpu, e: CachedInsn): void {
  const base = e.imm & 0xff;
  const ax = cpu.lo(0) & 0xffff;
  let al: number;
  if (e.aux === 0) {
    if (base === 0) cpu.fault(0);
    al = (ax & 0xff) % base;
    cpu.setReg(0, 2, (Math.floor((ax & 0xff) / base) << 8) | al, 0, 0);
  } else {
    al = ((ax & 0xff) + (ax >> 8) * base) & 0xff;
    cpu.setReg(0, 2, al, 0, 0);
  }
  const f = cpu.getFlags() & ~ARITH;
  cpu.setFlags(f | (al === 0 ? ZF : 0) | (al & 0x80 ? SF : 0) | PARITY[al]!);
}

/** ARPL Ew, Gw: raise the RPL of a selector to that of another. */
function arpl(cpu: Cpu, e: CachedInsn): void {
  if (isRealOrVm86(cpu)) cpu.fault(VEC_UD); // a protected-mode instruction
  const dst = cpu.readEWrite(e, 2);
  const src = cpu.getReg(e.reg, 2, 0);
  const f = cpu.getFlags() & ~ZF;
  if ((dst & 3) < (src & 3)) {
    cpu.writeE(e, 2, (dst & ~3) | (src & 3), 0);
    cpu.setFlags(f | ZF);
  } else cpu.setFlags(f);
}

/** BOUND Gv, Ma: #BR unless lower <= index <= upper (signed; the pair is in memory). */
function bound(cpu: Cpu, e: CachedInsn): void {
  const size = e.opsize === 2 ? 2 : 4;
  cpu.ea(e);
  const lo = cpu.eaLo;
  const sign = (v: number) => (size === 2 ? (v << 16) >> 16 : v | 0);
  const lower = sign(size === 2 ? cpu.read16(lo, 0) : cpu.read32(lo, 0));
  const upper = sign(size === 2 ? cpu.read16((lo + 2) | 0, 0) : cpu.read32((lo + 4) | 0, 0));
  const index = sign(cpu.getReg(e.reg, size, 0));
  if (index < lower || index > upper) cpu.fault(5);
}

/** SALC: AL = CF ? 0xFF : 0. */
function salc(cpu: Cpu): void {
  cpu.setReg(0, 1, cpu.getCF() ? 0xff : 0, 0, 0);
}

/** INS (aux 0) / OUTS (aux 1), byte (aux & 2) or word/dword, with REP. */
function insOuts(cpu: Cpu, e: CachedInsn): void {
  const size = e.aux & 2 ? 1 : e.opsize === 2 ? 2 : 4;
  checkIoPermission(cpu, cpu.lo(2) & 0xffff, size);
  const rep = (e.prefixes & (PREFIX_REP | PREFIX_REPNE)) !== 0;
  const ad = e.adsize;
  const step = cpu.getFlags() & DF ? -size : size;
  const port = cpu.lo(2) & 0xffff;
  const out = (e.aux & 1) !== 0;
  const regIndex = out ? 6 : 7;
  for (let n = 0; n < 4096; n++) {
    if (rep) {
      const count = ad === 8 ? cpu.lo(1) | cpu.hi64(1) : ad === 4 ? cpu.lo(1) : cpu.lo(1) & 0xffff;
      if (count === 0) return;
    }
    // Address: ES:rDI for INS; DS (or override):rSI for OUTS.
    const off = cpu.lo(regIndex);
    const offHi = ad === 8 ? cpu.hi64(regIndex) : 0;
    const offset = ad === 2 ? off & 0xffff : off;
    const seg = out ? (e.seg >= 0 ? e.seg : 3) : SEG_ES;
    const lo = cpu.linearAddress(seg, offset, offHi);
    const hi = cpu.hi;
    if (out) {
      const v = size === 1 ? cpu.read8(lo, hi) : size === 2 ? cpu.read16(lo, hi) : cpu.read32(lo, hi);
      cpu.io.write(port, size, v);
    } else {
      // Check the destination before reading the port (a port read may have side effects).
      cpu.translate(lo, hi, 1);
      const v = cpu.io.read(port, size);
      if (size === 1) cpu.write8(lo, hi, v);
      else if (size === 2) cpu.write16(lo, hi, v);
      else cpu.write32(lo, hi, v);
    }
    advance(cpu, regIndex, step, ad);
    if (!rep) return;
    advance(cpu, 1, -1, ad);
  }
  // More to do: run the instruction again (keeps one execution bounded).
  cpu.nextLo = cpu.i32[RIP >> 2]!;
  cpu.nextHi = cpu.i32[(RIP >> 2) + 1]!;
}

function advance(cpu: Cpu, r: number, delta: number, ad: number): void {
  if (ad === 8) {
    const s = (cpu.lo(r) >>> 0) + delta;
    cpu.set64(r, s | 0, (cpu.hi64(r) + (s > 0xffffffff ? 1 : s < 0 ? -1 : 0)) | 0);
  } else cpu.setReg(r, ad, (cpu.lo(r) + delta) | 0, 0, 0);
}

export function bindLegacy(op: Opcode): Binding | undefined {
  if (op.map !== 0) return undefined;
  switch (op.mnemonic) {
    case 'enter': return [enter, 0];
    case 'xlat': return [xlat, 0];
    case 'int1': return [int1, 0];
    case 'pusha': return [pushaPopa, 0];
    case 'popa': return [pushaPopa, 1];
    case 'daa': return [bcdAdjust, 0];
    case 'das': return [bcdAdjust, 1];
    case 'aaa': return [bcdAdjust, 2];
    case 'aas': return [bcdAdjust, 3];
    case 'aam': return [aamAad, 0];
    case 'aad': return [aamAad, 1];
    case 'arpl': return [arpl, 0];
    case 'salc': return [salc, 0];
    case 'bound': return [bound, 0];
    case 'ins': return [insOuts, op.operands[0]!.size === 1 ? 2 : 0];
    case 'outs': return [insOuts, 1 | (op.operands[1]!.size === 1 ? 2 : 0)];
  }
  return undefined;
}

/**
 * SSE/SSE2 data movement, logic and state: MOVUPS/MOVAPS/MOVUPD/MOVAPD/MOVDQU/MOVDQA/LDDQU,
 * the non-temporal stores (MOVNTPS/PD/DQ, MOVNTI, MOVNTQ), MOVSS/MOVSD, MOVLPS/MOVHPS/MOVLPD/
 * MOVHPD/MOVHLPS/MOVLHPS, MOVD/MOVQ in all MMX and XMM forms, MOVQ2DQ/MOVDQ2Q, MOVMSKPS/PD,
 * ANDPS/ANDNPS/ORPS/XORPS (and PD), EMMS, LDMXCSR/STMXCSR, FXSAVE/FXRSTOR.
 * Intel SDM Vol. 2 (each mnemonic), Vol. 1 10.5.1 (the FXSAVE image, Table 10-2/10-3),
 * Vol. 1 9.5 (MMX state transitions).
 *
 * Aligned forms (MOVAPS, MOVDQA, MOVNT*, and the 128-bit memory operands of the logic ops) raise
 * #GP(0) for a misaligned 16-byte memory operand. Stores are all or nothing (simd.ts storeMem).
 *
 * FXSAVE writes bytes 0-287 (32-bit forms) or 0-415 (64-bit mode: XMM8-15 too); the reserved and
 * available bytes 416-511 are left untouched, as hardware does. The ST slots' six padding bytes
 * are written as zero. MXCSR_MASK is 0xFFFF (DAZ supported). With REX.W (FXSAVE64) FIP and FDP
 * are 64-bit; otherwise FIP/FCS and FDP/FDS are stored as 32-bit offsets with selectors.
 * FXRSTOR raises #GP(0) for reserved MXCSR bits before changing anything.
 *
 * Not supported: nothing in this family.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { ACCESS_WRITE, CR0_EM, CR0_TS } from '../mmu.ts';
import { K, PFX_66, PFX_F2, PFX_F3, PFX_NP, SZ, type Opcode } from '../opcode-table.ts';
import {
  CR0, FPU_FCS, FPU_FCW, FPU_FDP, FPU_FDS, FPU_FIP, FPU_FOP, FPU_FSW, FPU_REGS, FPU_TAGS, MXCSR, XMM,
} from '../../state-layout.ts';
import { FCW_ONES, FCW_WRITABLE } from './float80.ts';
import { updateSummary } from './x87-stack.ts';
import { MM_I, XMM_I, checkMmx, checkSse, copy128, loadMem, mmRm, mmxFaults, storeMem, writeMm, xmmRm } from './simd.ts';

/** MXCSR bits that may be set (FZ RC PM UM OM ZM DM IM DAZ PE UE OE ZE DE IE). */
export const MXCSR_MASK = 0xffff;

// ---- 128-bit moves ---------------------------------------------------------------------------

/** aux bit: the memory operand must be 16-byte aligned. */
const ALIGNED = 1;

/** MOVUPS/MOVAPS/MOVDQU/MOVDQA/LDDQU xmm, xmm/m128. */
function movLoad128(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const from = xmmRm(cpu, e, 16, (e.aux & ALIGNED) !== 0);
  copy128(cpu.i32, XMM_I + 4 * e.reg, from);
}

/** MOVUPS/MOVAPS/MOVDQU/MOVDQA/MOVNT* xmm/m128, xmm. */
function movStore128(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const from = XMM_I + 4 * e.reg;
  if (e.mod === 3) copy128(cpu.i32, XMM_I + 4 * e.rm, from);
  else storeMem(cpu, e, from, 16, (e.aux & ALIGNED) !== 0);
}

// ---- scalar and half moves -------------------------------------------------------------------

/** MOVSS/MOVSD xmm, xmm/m (aux: 1 dword or 2): a load zeroes the rest, a register move merges. */
function movScalarLoad(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const i32 = cpu.i32;
  const to = XMM_I + 4 * e.reg;
  const n = e.aux;
  if (e.mod === 3) {
    const from = XMM_I + 4 * e.rm;
    for (let k = 0; k < n; k++) i32[to + k] = i32[from + k]!;
  } else {
    copy128(i32, to, loadMem(cpu, e, n * 4, false));
  }
}

/** MOVSS/MOVSD xmm/m, xmm. */
function movScalarStore(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const i32 = cpu.i32;
  const from = XMM_I + 4 * e.reg;
  if (e.mod === 3) {
    const to = XMM_I + 4 * e.rm;
    for (let k = 0; k < e.aux; k++) i32[to + k] = i32[from + k]!;
  } else {
    storeMem(cpu, e, from, e.aux * 4, false);
  }
}

/** aux of the half moves: which half of the destination (0 low, 2 high) and of the source. */
const HALF_DST_HIGH = 2;
const HALF_SRC_HIGH = 4;

/**
 * MOVLPS/MOVLPD/MOVHPS/MOVHPD xmm, m64; MOVHLPS/MOVLHPS xmm, xmm: 8 bytes into one half of the
 * destination, the other half unchanged.
 */
function movHalfLoad(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const i32 = cpu.i32;
  const aux = e.aux;
  let from: number;
  if (e.mod === 3) from = XMM_I + 4 * e.rm + (aux & HALF_SRC_HIGH ? 2 : 0);
  else from = loadMem(cpu, e, 8, false);
  const to = XMM_I + 4 * e.reg + (aux & HALF_DST_HIGH ? 2 : 0);
  const lo = i32[from]!;
  i32[to + 1] = i32[from + 1]!;
  i32[to] = lo;
}

/** MOVLPS/MOVLPD/MOVHPS/MOVHPD m64, xmm. */
function movHalfStore(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  storeMem(cpu, e, XMM_I + 4 * e.reg + (e.aux & HALF_SRC_HIGH ? 2 : 0), 8, false);
}

// ---- MOVD / MOVQ -------------------------------------------------------------------------------

/** MOVD/MOVQ xmm, r/m32/64: zero-extends into the XMM register. */
function movdToXmm(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const i32 = cpu.i32;
  const size = e.opsize === 8 ? 8 : 4;
  const lo = cpu.readE(e, size);
  const hi = size === 8 ? cpu.hi : 0;
  const to = XMM_I + 4 * e.reg;
  i32[to] = lo;
  i32[to + 1] = hi;
  i32[to + 2] = 0;
  i32[to + 3] = 0;
}

/** MOVD/MOVQ r/m32/64, xmm. */
function movdFromXmm(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const from = XMM_I + 4 * e.reg;
  writeE(cpu, e, e.opsize === 8 ? 8 : 4, cpu.i32[from]!, cpu.i32[from + 1]!);
}

// MMX forms with a memory operand check for faults first and switch to the MMX state only after
// the access succeeded (a faulting access leaves TOP and the tags alone, as on hardware).

/** MOVD/MOVQ mm, r/m32/64. */
function movdToMm(cpu: Cpu, e: CachedInsn): void {
  mmxFaults(cpu);
  const size = e.opsize === 8 ? 8 : 4;
  const lo = cpu.readE(e, size);
  const hi = size === 8 ? cpu.hi : 0;
  checkMmx(cpu);
  writeMm(cpu, e.reg, lo, hi);
}

/** MOVD/MOVQ r/m32/64, mm. */
function movdFromMm(cpu: Cpu, e: CachedInsn): void {
  mmxFaults(cpu);
  const from = MM_I + 4 * (e.reg & 7);
  writeE(cpu, e, e.opsize === 8 ? 8 : 4, cpu.i32[from]!, cpu.i32[from + 1]!);
  checkMmx(cpu);
}

/** Writes a 4- or 8-byte value to the E operand (a 32-bit register write zero-extends). */
function writeE(cpu: Cpu, e: CachedInsn, size: number, lo: number, hi: number): void {
  if (e.mod === 3) cpu.setReg(e.rm, size, lo, hi, e.rex);
  else {
    cpu.ea(e);
    cpu.writeEA(size, lo, hi);
  }
}

/** MOVQ mm, mm/m64. */
function movqMmLoad(cpu: Cpu, e: CachedInsn): void {
  mmxFaults(cpu);
  const from = mmRm(cpu, e);
  checkMmx(cpu);
  writeMm(cpu, e.reg, cpu.i32[from]!, cpu.i32[from + 1]!);
}

/** MOVQ mm/m64, mm; MOVNTQ m64, mm. */
function movqMmStore(cpu: Cpu, e: CachedInsn): void {
  mmxFaults(cpu);
  const from = MM_I + 4 * (e.reg & 7);
  if (e.mod !== 3) storeMem(cpu, e, from, 8, false);
  checkMmx(cpu);
  if (e.mod === 3) writeMm(cpu, e.rm, cpu.i32[from]!, cpu.i32[from + 1]!);
}

/** MOVQ xmm, xmm/m64 (F3 0F 7E): the low quadword, the high one zeroed. */
function movqXmmLoad(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const i32 = cpu.i32;
  const from = xmmRm(cpu, e, 8, false);
  const to = XMM_I + 4 * e.reg;
  i32[to] = i32[from]!;
  i32[to + 1] = i32[from + 1]!;
  i32[to + 2] = 0;
  i32[to + 3] = 0;
}

/** MOVQ xmm/m64, xmm (66 0F D6): a register destination gets its high quadword zeroed. */
function movqXmmStore(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const i32 = cpu.i32;
  const from = XMM_I + 4 * e.reg;
  if (e.mod === 3) {
    const to = XMM_I + 4 * e.rm;
    i32[to] = i32[from]!;
    i32[to + 1] = i32[from + 1]!;
    i32[to + 2] = 0;
    i32[to + 3] = 0;
  } else {
    storeMem(cpu, e, from, 8, false);
  }
}

/** MOVQ2DQ xmm, mm. */
function movq2dq(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  checkMmx(cpu);
  const i32 = cpu.i32;
  const from = MM_I + 4 * (e.rm & 7);
  const to = XMM_I + 4 * e.reg;
  i32[to] = i32[from]!;
  i32[to + 1] = i32[from + 1]!;
  i32[to + 2] = 0;
  i32[to + 3] = 0;
}

/** MOVDQ2Q mm, xmm. */
function movdq2q(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  checkMmx(cpu);
  const from = XMM_I + 4 * e.rm;
  writeMm(cpu, e.reg, cpu.i32[from]!, cpu.i32[from + 1]!);
}

/** MOVNTI m32/64, r32/64. */
function movnti(cpu: Cpu, e: CachedInsn): void {
  const size = e.opsize === 8 ? 8 : 4;
  const lo = cpu.getReg(e.reg, size, e.rex);
  const hi = cpu.hi;
  cpu.ea(e);
  cpu.writeEA(size, lo, size === 8 ? hi : 0);
}

// ---- masks and logic --------------------------------------------------------------------------

/** MOVMSKPS (aux 4 lanes of 32 bits) / MOVMSKPD (aux 2 lanes of 64 bits) r32/64, xmm. */
function movmsk(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const i32 = cpu.i32;
  const from = XMM_I + 4 * e.rm;
  let m: number;
  if (e.aux === 4) {
    m = (i32[from]! >>> 31) | ((i32[from + 1]! >>> 31) << 1) | ((i32[from + 2]! >>> 31) << 2) | ((i32[from + 3]! >>> 31) << 3);
  } else {
    m = (i32[from + 1]! >>> 31) | ((i32[from + 3]! >>> 31) << 1);
  }
  cpu.setReg(e.reg, e.opsize === 8 ? 8 : 4, m, 0, e.rex);
}

const LOGIC_AND = 0;
const LOGIC_ANDN = 1;
const LOGIC_OR = 2;
const LOGIC_XOR = 3;

/** ANDPS/ANDNPS/ORPS/XORPS and the PD twins: bitwise on 128 bits (aligned memory operand). */
function logic(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const i32 = cpu.i32;
  const from = xmmRm(cpu, e, 16, true);
  const to = XMM_I + 4 * e.reg;
  for (let k = 0; k < 4; k++) {
    const a = i32[to + k]!;
    const b = i32[from + k]!;
    switch (e.aux) {
      case LOGIC_AND: i32[to + k] = a & b; break;
      case LOGIC_ANDN: i32[to + k] = ~a & b; break;
      case LOGIC_OR: i32[to + k] = a | b; break;
      default: i32[to + k] = a ^ b;
    }
  }
}

/** EMMS: all x87 registers empty (after the MMX checks). */
function emms(cpu: Cpu): void {
  checkMmx(cpu);
  cpu.i32[FPU_TAGS >> 2] = 0;
}

// ---- MXCSR and FXSAVE/FXRSTOR -----------------------------------------------------------------

function ldmxcsr(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  const v = cpu.readE(e, 4);
  if ((v & ~MXCSR_MASK) !== 0) cpu.fault(13, 0);
  cpu.i32[MXCSR >> 2] = v;
}

function stmxcsr(cpu: Cpu, e: CachedInsn): void {
  checkSse(cpu);
  cpu.ea(e);
  cpu.writeEA(4, cpu.i32[MXCSR >> 2]!, 0);
}

/** FXSAVE/FXRSTOR: #NM if CR0.EM or CR0.TS; #GP(0) if the area is not 16-byte aligned. */
function fxCheck(cpu: Cpu, e: CachedInsn): number {
  if ((cpu.i32[CR0 >> 2]! & (CR0_EM | CR0_TS)) !== 0) cpu.fault(7);
  const lo = cpu.ea(e);
  if ((lo & 15) !== 0) cpu.fault(13, 0);
  return lo;
}

/** The linear address base + off (off < 512) as lo, high half in `hiOut[0]`. */
function at(lo: number, hi: number, off: number): [number, number] {
  const s = (lo >>> 0) + off;
  return [s | 0, s > 0xffffffff ? hi + 1 : hi];
}

/** Bytes FXSAVE writes: the legacy area and 8 or 16 XMM registers. */
function fxBytes(cpu: Cpu): number {
  return cpu.codeBits === 64 ? 416 : 288;
}

function fxsave(cpu: Cpu, e: CachedInsn): void {
  const lo = fxCheck(cpu, e);
  const hi = cpu.eaHi;
  const n = fxBytes(cpu);
  // All or nothing: both ends of the area are writable before the first byte is written.
  cpu.translate(lo, hi, ACCESS_WRITE);
  const [lastLo, lastHi] = at(lo, hi, n - 1);
  cpu.translate(lastLo, lastHi, ACCESS_WRITE);
  const i32 = cpu.i32;
  const w32 = (off: number, v: number) => {
    const [a, b] = at(lo, hi, off);
    cpu.write32(a, b, v);
  };
  const fsw = i32[FPU_FSW >> 2]! & 0xffff;
  w32(0, (i32[FPU_FCW >> 2]! & 0xffff) | (fsw << 16));
  w32(4, (i32[FPU_TAGS >> 2]! & 0xff) | ((i32[FPU_FOP >> 2]! & 0x7ff) << 16));
  if (e.rex & 8) {
    w32(8, i32[FPU_FIP >> 2]!);
    w32(12, i32[(FPU_FIP >> 2) + 1]!);
    w32(16, i32[FPU_FDP >> 2]!);
    w32(20, i32[(FPU_FDP >> 2) + 1]!);
  } else {
    w32(8, i32[FPU_FIP >> 2]!);
    w32(12, i32[FPU_FCS >> 2]! & 0xffff);
    w32(16, i32[FPU_FDP >> 2]!);
    w32(20, i32[FPU_FDS >> 2]! & 0xffff);
  }
  w32(24, i32[MXCSR >> 2]!);
  w32(28, MXCSR_MASK);
  const top = (fsw >> 11) & 7;
  for (let i = 0; i < 8; i++) {
    const r = (FPU_REGS >> 2) + 4 * ((top + i) & 7);
    w32(32 + 16 * i, i32[r]!);
    w32(36 + 16 * i, i32[r + 1]!);
    w32(40 + 16 * i, i32[r + 2]! & 0xffff);
    w32(44 + 16 * i, 0);
  }
  for (let off = 160; off < n; off += 4) w32(off, i32[(XMM + off - 160) >> 2]!);
}

function fxrstor(cpu: Cpu, e: CachedInsn): void {
  const lo = fxCheck(cpu, e);
  const hi = cpu.eaHi;
  const n = fxBytes(cpu);
  const r32 = (off: number) => {
    const [a, b] = at(lo, hi, off);
    return cpu.read32(a, b);
  };
  // Read everything first: a fault or a bad MXCSR leaves the state unchanged.
  const img = new Int32Array(n >> 2);
  for (let off = 0; off < n; off += 4) img[off >> 2] = r32(off);
  const mxcsr = img[6]!;
  if ((mxcsr & ~MXCSR_MASK) !== 0) cpu.fault(13, 0);
  const i32 = cpu.i32;
  const fsw = img[0]! >>> 16;
  // As the host does: FCW's reserved bits read back as the hardware fixes them, and the
  // summary bits ES/B follow the restored exception flags and masks.
  i32[FPU_FCW >> 2] = (img[0]! & FCW_WRITABLE) | FCW_ONES;
  i32[FPU_FSW >> 2] = fsw;
  updateSummary(i32);
  i32[FPU_TAGS >> 2] = img[1]! & 0xff;
  i32[FPU_FOP >> 2] = (img[1]! >>> 16) & 0x7ff;
  if (e.rex & 8) {
    i32[FPU_FIP >> 2] = img[2]!;
    i32[(FPU_FIP >> 2) + 1] = img[3]!;
    i32[FPU_FDP >> 2] = img[4]!;
    i32[(FPU_FDP >> 2) + 1] = img[5]!;
  } else {
    i32[FPU_FIP >> 2] = img[2]!;
    i32[(FPU_FIP >> 2) + 1] = 0;
    i32[FPU_FCS >> 2] = img[3]! & 0xffff;
    i32[FPU_FDP >> 2] = img[4]!;
    i32[(FPU_FDP >> 2) + 1] = 0;
    i32[FPU_FDS >> 2] = img[5]! & 0xffff;
  }
  i32[MXCSR >> 2] = mxcsr;
  const top = (fsw >> 11) & 7;
  for (let i = 0; i < 8; i++) {
    const r = (FPU_REGS >> 2) + 4 * ((top + i) & 7);
    i32[r] = img[8 + 4 * i]!;
    i32[r + 1] = img[9 + 4 * i]!;
    i32[r + 2] = img[10 + 4 * i]! & 0xffff;
    i32[r + 3] = 0;
  }
  for (let off = 160; off < n; off += 4) i32[(XMM + off - 160) >> 2] = img[off >> 2]!;
}

// ---- binding ----------------------------------------------------------------------------------

const isMmx = (op: Opcode, i: number) => {
  const k = op.operands[i]?.kind;
  return k === K.P || k === K.Q || k === K.N;
};

export function bindSseMove(op: Opcode): Binding | undefined {
  if (op.map !== 1) return undefined;
  const o0 = op.operands[0];
  const storeForm = o0 !== undefined && (o0.kind === K.W || o0.kind === K.M);
  switch (op.mnemonic) {
    case 'movups': case 'movupd': case 'movdqu': case 'lddqu':
      return storeForm ? [movStore128, 0] : [movLoad128, 0];
    case 'movaps': case 'movapd': case 'movdqa':
      return storeForm ? [movStore128, ALIGNED] : [movLoad128, ALIGNED];
    case 'movntps': case 'movntpd': case 'movntdq':
      return [movStore128, ALIGNED];
    case 'movss': return storeForm ? [movScalarStore, 1] : [movScalarLoad, 1];
    case 'movsd': return op.prefix === PFX_F2 ? (storeForm ? [movScalarStore, 2] : [movScalarLoad, 2]) : undefined;
    case 'movlps': case 'movlpd': return storeForm ? [movHalfStore, 0] : [movHalfLoad, 0];
    case 'movhps': case 'movhpd': return storeForm ? [movHalfStore, HALF_SRC_HIGH] : [movHalfLoad, HALF_DST_HIGH];
    case 'movhlps': return [movHalfLoad, HALF_SRC_HIGH];
    case 'movlhps': return [movHalfLoad, HALF_DST_HIGH];
    case 'movd':
      if (op.prefix === PFX_NP) return isMmx(op, 0) ? [movdToMm, 0] : [movdFromMm, 0];
      return op.operands[0]?.kind === K.V ? [movdToXmm, 0] : [movdFromXmm, 0];
    case 'movq':
      if (op.prefix === PFX_NP) return isMmx(op, 0) && op.operands[0]?.kind === K.P ? [movqMmLoad, 0] : [movqMmStore, 0];
      if (op.prefix === PFX_F3) return [movqXmmLoad, 0];
      if (op.prefix === PFX_66) return [movqXmmStore, 0];
      return undefined;
    case 'movntq': return [movqMmStore, 0];
    case 'movq2dq': return [movq2dq, 0];
    case 'movdq2q': return [movdq2q, 0];
    case 'movnti': return [movnti, 0];
    case 'movmskps': return [movmsk, 4];
    case 'movmskpd': return [movmsk, 2];
    case 'andps': case 'andpd': return [logic, LOGIC_AND];
    case 'andnps': case 'andnpd': return [logic, LOGIC_ANDN];
    case 'orps': case 'orpd': return [logic, LOGIC_OR];
    case 'xorps': case 'xorpd': return [logic, LOGIC_XOR];
    case 'emms': return [emms, 0];
    case 'ldmxcsr': return [ldmxcsr, 0];
    case 'stmxcsr': return [stmxcsr, 0];
    case 'fxsave': return [fxsave, 0];
    case 'fxrstor': return [fxrstor, 0];
  }
  return undefined;
}

void SZ;

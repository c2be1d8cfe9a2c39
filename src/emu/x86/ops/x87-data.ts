/**
 * x87 data transfer (Intel SDM Vol. 1, 8.3.3 and Vol. 2 instruction pages): FLD/FST/FSTP of
 * 32/64/80-bit floats, FILD/FIST/FISTP/FISTTP of 16/32/64-bit integers, FBLD/FBSTP (packed
 * BCD), FLD ST(i), FST/FSTP ST(i), the constants (FLD1 FLDZ FLDPI FLDL2E FLDL2T FLDLG2
 * FLDLN2), FXCH, FCMOVcc, FFREE, FINCSTP, FDECSTP.
 *
 * Memory is read before any state changes and written before the status word, TOP and tags
 * are updated, so an instruction that faults on its memory operand leaves the FPU unchanged.
 * Responses checked on the host: FLD m80 loads every bit pattern without an exception; FLD
 * m32/m64 raises IE for an SNaN (quieted; unmasked: nothing pushed) and DE for a denormal
 * (loaded even when DE is unmasked); stores with an unmasked IE/OE/UE store nothing and do not
 * pop; masked stack faults write the indefinite of the destination format.
 *
 * Not supported: FBLD of invalid BCD digits (nibbles above 9; the SDM leaves the result
 * undefined) is computed positionally, which matches the host only while the value stays
 * below 2^60 (the host's results beyond are not positional).
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import * as float80 from './float80.ts';
import { F80 } from './float80.ts';
import * as x87Stack from './x87-stack.ts';
// Imported bindings bound to module constants once (a transpiled import is a getter call per use).
const {
  CLS_DENORMAL, CLS_SNAN, FCW_RC_SHIFT, FSW_DE, FSW_IE, FSW_SF, FSW_TOP_MASK, FSW_TOP_SHIFT, RC_NEAREST, RC_UP,
  RC_ZERO, fpStatus, packBcd, packFloat, packInt, unpack, unpackBcd, unpackDouble, unpackInt, unpackSingle,
} = float80;
const {
  I_FCW, I_FSW, I_TAGS, begin, beginMem, isEmpty, physOf, pop, push, pushChecked, raise, setC1, stAt, stackOverflow,
  stackUnderflow, writeIndefinite, writeRaw, writeSt,
} = x87Stack;

/** Memory operand formats (bind-time aux values). */
export const FMT_F32 = 0;
export const FMT_F64 = 1;
export const FMT_F80 = 2;
export const FMT_I16 = 3;
export const FMT_I32 = 4;
export const FMT_I64 = 5;
export const FMT_BCD = 6;
export const FMT_MASK = 7;
/** aux flags of the stores. */
export const AUX_POP = 1 << 6;
export const AUX_CHOP = 1 << 8;

const A = new F80();
const st = fpStatus;
/** The raw image of the last FMT_F80 / FMT_BCD memory operand read by loadOperand. */
let rawLo = 0;
let rawHi = 0;
let rawTop = 0;

/** The address (lo, hi) + 8, high half (10-byte operands). */
function hiPlus8(lo: number, hi: number): number {
  return (lo >>> 0) > 0xfffffff7 ? (hi + 1) | 0 : hi;
}

/**
 * Reads the memory operand of format `fmt` at cpu.eaLo/eaHi into x and returns its class (for
 * 80-bit and BCD operands the raw image is also kept in rawLo/rawHi/rawTop).
 */
export function loadOperand(cpu: Cpu, fmt: number, x: F80): number {
  const lo = cpu.eaLo;
  const hi = cpu.eaHi;
  switch (fmt) {
    case FMT_F32:
      return unpackSingle(x, cpu.read32(lo, hi));
    case FMT_F64: {
      const l = cpu.read64(lo, hi);
      return unpackDouble(x, l, cpu.hi);
    }
    case FMT_I16: {
      const v = (cpu.read16(lo, hi) << 16) >> 16;
      return unpackInt(x, v, v >> 31);
    }
    case FMT_I32: {
      const v = cpu.read32(lo, hi);
      return unpackInt(x, v, v >> 31);
    }
    case FMT_I64: {
      const l = cpu.read64(lo, hi);
      return unpackInt(x, l, cpu.hi);
    }
    default: {
      rawLo = cpu.read64(lo, hi);
      rawHi = cpu.hi;
      rawTop = cpu.read16((lo + 8) | 0, hiPlus8(lo, hi));
      return fmt === FMT_BCD ? unpackBcd(x, rawLo, rawHi, rawTop) : 0;
    }
  }
}

/** FLD/FILD/FBLD m: push the memory operand (aux: format). */
export function fldMem(cpu: Cpu, e: CachedInsn): void {
  beginMem(cpu, e);
  const fmt = e.aux;
  const cls = loadOperand(cpu, fmt, A);
  const i32 = cpu.i32;
  if (!isEmpty(i32, 7)) {
    if (stackOverflow(i32)) {
      push(i32);
      writeIndefinite(i32, 0);
    }
    return;
  }
  setC1(i32, 0);
  if (fmt === FMT_F80) {
    push(i32);
    writeRaw(i32, 0, rawTop, rawHi, rawLo);
    return;
  }
  if (fmt === FMT_F32 || fmt === FMT_F64) {
    if (cls === CLS_SNAN) {
      raise(i32, FSW_IE);
      if ((i32[I_FCW]! & FSW_IE) === 0) return;
      A.hi = (A.hi | 0x40000000) >>> 0;
    } else if (cls === CLS_DENORMAL) {
      raise(i32, FSW_DE);
    }
  }
  push(i32);
  writeSt(i32, 0, A);
}

/** FLD ST(i). */
export function fldSt(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const i = e.modrm & 7;
  // An empty source is reported (C1 = 0) before a full stack (C1 = 1), as on the host.
  const empty = isEmpty(i32, i);
  if (empty || !isEmpty(i32, 7)) {
    if (empty ? stackUnderflow(i32) : stackOverflow(i32)) {
      push(i32);
      writeIndefinite(i32, 0);
    }
    return;
  }
  const at = stAt(i32, i);
  const lo = i32[at]!;
  const hi = i32[at + 1]!;
  const se = i32[at + 2]!;
  setC1(i32, 0);
  push(i32);
  writeRaw(i32, 0, se, hi, lo);
}

/**
 * The 80-bit constants: sign/exponent, significand truncated to 64 bits (high, low), and whether
 * the bits beyond round up to nearest. The hardware rounds its internal 66-bit constants per
 * FCW.RC (precision control does not apply); these values were checked on the host.
 */
const CONSTANTS: readonly (readonly [se: number, hi: number, lo: number, nearestUp: boolean])[] = [
  [0x3fff, 0x80000000, 0x00000000, false], // 1
  [0x4000, 0xd49a784b, 0xcd1b8afe, false], // log2(10)
  [0x3fff, 0xb8aa3b29, 0x5c17f0bb, true], // log2(e)
  [0x4000, 0xc90fdaa2, 0x2168c234, true], // pi
  [0x3ffd, 0x9a209a84, 0xfbcff798, true], // log10(2)
  [0x3ffe, 0xb17217f7, 0xd1cf79ab, true], // ln(2)
  [0x0000, 0x00000000, 0x00000000, false], // +0
];
/** Irrational constants (all but 1 and 0) round up in RC = up, and to nearest where marked. */
const EXACT_CONSTANTS = 0b1000001;

/** FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ (aux: index into CONSTANTS). */
export function fldConst(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  if (!pushChecked(i32)) return;
  const c = CONSTANTS[e.aux]!;
  const rc = (i32[I_FCW]! >> FCW_RC_SHIFT) & 3;
  const up = ((EXACT_CONSTANTS >> e.aux) & 1) === 0 && (rc === RC_UP || (rc === RC_NEAREST && c[3]));
  setC1(i32, 0);
  writeRaw(i32, 0, c[0], c[1], up ? c[2] + 1 : c[2]);
}

/** Sets st.outLo/outHi/outTop to the indefinite of a memory format (masked invalid responses). */
function indefiniteOf(fmt: number): void {
  st.outLo = 0;
  st.outHi = 0;
  st.outTop = 0;
  switch (fmt) {
    case FMT_F32: st.outLo = 0xffc00000 | 0; break;
    case FMT_F64: st.outHi = 0xfff80000 | 0; break;
    case FMT_F80: st.outHi = 0xc0000000 | 0; st.outTop = 0xffff; break;
    case FMT_I16: st.outLo = 0x8000; break;
    case FMT_I32: st.outLo = 0x80000000 | 0; break;
    case FMT_I64: st.outHi = 0x80000000 | 0; break;
    default: st.outHi = 0xc0000000 | 0; st.outTop = 0xffff; // BCD
  }
}

/**
 * FST/FSTP/FIST/FISTP/FISTTP/FBSTP m (aux: format | AUX_POP | AUX_CHOP): converts ST(0) per
 * FCW.RC (FISTTP truncates), writes memory, then updates the status word and pops.
 */
export function fstMem(cpu: Cpu, e: CachedInsn): void {
  beginMem(cpu, e);
  const i32 = cpu.i32;
  const fcw = i32[I_FCW]!;
  const fmt = e.aux & FMT_MASK;
  st.exc = 0;
  st.c1 = 0;
  let store: boolean;
  if (isEmpty(i32, 0)) {
    st.exc = FSW_IE | FSW_SF;
    store = (fcw & FSW_IE) !== 0;
    indefiniteOf(fmt);
  } else {
    const at = stAt(i32, 0);
    const se = i32[at + 2]! & 0xffff;
    const cls = unpack(A, se, i32[at + 1]!, i32[at]!);
    const rc = (e.aux & AUX_CHOP) !== 0 ? RC_ZERO : (fcw >> FCW_RC_SHIFT) & 3;
    switch (fmt) {
      case FMT_F32: store = packFloat(A, cls, rc, 32, fcw); break;
      case FMT_F64: store = packFloat(A, cls, rc, 64, fcw); break;
      case FMT_I16: store = packInt(A, cls, rc, 16, fcw); break;
      case FMT_I32: store = packInt(A, cls, rc, 32, fcw); break;
      case FMT_I64: store = packInt(A, cls, rc, 64, fcw); break;
      case FMT_BCD: store = packBcd(A, cls, rc, fcw); break;
      default:
        store = true;
        st.outLo = i32[at]!;
        st.outHi = i32[at + 1]!;
        st.outTop = se;
    }
  }
  if (store) {
    const lo = cpu.eaLo;
    const hi = cpu.eaHi;
    switch (fmt) {
      case FMT_F32: case FMT_I32: cpu.write32(lo, hi, st.outLo); break;
      case FMT_I16: cpu.write16(lo, hi, st.outLo); break;
      case FMT_F64: case FMT_I64: cpu.write64(lo, hi, st.outLo, st.outHi); break;
      default:
        cpu.probeWriteEA(10);
        cpu.write64(lo, hi, st.outLo, st.outHi);
        cpu.write16((lo + 8) | 0, hiPlus8(lo, hi), st.outTop);
    }
  }
  raise(i32, st.exc);
  setC1(i32, (e.aux & AUX_CHOP) !== 0 ? 0 : st.c1);
  if (store && (e.aux & AUX_POP) !== 0) pop(i32);
}

/** FST/FSTP ST(i) (aux: AUX_POP): a raw copy, no exceptions but stack underflow. */
export function fstSt(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const i = e.modrm & 7;
  if (isEmpty(i32, 0)) {
    if (!stackUnderflow(i32)) return;
    writeIndefinite(i32, i);
  } else {
    const at = stAt(i32, 0);
    writeRaw(i32, i, i32[at + 2]!, i32[at + 1]!, i32[at]!);
    setC1(i32, 0);
  }
  if ((e.aux & AUX_POP) !== 0) pop(i32);
}

/** FXCH ST(i): empty operands become the indefinite first (masked underflow). C1 = 0. */
export function fxch(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const i = e.modrm & 7;
  if (isEmpty(i32, 0) || isEmpty(i32, i)) {
    if (!stackUnderflow(i32)) return;
    if (isEmpty(i32, 0)) writeIndefinite(i32, 0);
    if (isEmpty(i32, i)) writeIndefinite(i32, i);
  }
  const a = stAt(i32, 0);
  const b = stAt(i32, i);
  for (let k = 0; k < 3; k++) {
    const t = i32[a + k]!;
    i32[a + k] = i32[b + k]!;
    i32[b + k] = t;
  }
  setC1(i32, 0);
}

/** FCMOVcc ST(0), ST(i) (aux: the condition code of Jcc). Empty operands: underflow whatever the condition. */
export function fcmov(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const i = e.modrm & 7;
  if (isEmpty(i32, 0) || isEmpty(i32, i)) {
    if (stackUnderflow(i32)) writeIndefinite(i32, 0);
    return;
  }
  if (!cpu.cond(e.aux)) return;
  const at = stAt(i32, i);
  writeRaw(i32, 0, i32[at + 2]!, i32[at + 1]!, i32[at]!);
}

/** FFREE ST(i): tags the register empty; C1 = 0 (as on the host). */
export function ffree(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  i32[I_TAGS] = i32[I_TAGS]! & ~(1 << physOf(i32, e.modrm & 7));
  setC1(i32, 0);
}

/** FINCSTP (aux 1) / FDECSTP (aux -1): TOP ± 1, tags unchanged, C1 = 0. */
export function fincdecstp(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const fsw = i32[I_FSW]!;
  i32[I_FSW] = (fsw & ~FSW_TOP_MASK) | ((fsw + (e.aux << FSW_TOP_SHIFT)) & FSW_TOP_MASK);
  setC1(i32, 0);
}

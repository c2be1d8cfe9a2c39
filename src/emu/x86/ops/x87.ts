/**
 * The x87 FPU (Intel SDM Vol. 1 chapter 8; Vol. 2 instruction pages; Vol. 3A 2.5 CR0.NE/EM/TS,
 * 13.1): the binder for the D8-DF escape and FWAIT, and the arithmetic, comparison and
 * miscellaneous handlers (FADD FSUB FSUBR FMUL FDIV FDIVR in register, P, memory and integer
 * forms; FCOM FCOMP FCOMPP FUCOM FUCOMP FUCOMPP FICOM FICOMP FCOMI FCOMIP FUCOMI FUCOMIP FTST
 * FXAM; FCHS FABS FSQRT FRNDINT FSCALE FXTRACT FPREM FPREM1 FNOP).
 *
 * The family's files:
 *   float80.ts    the 80-bit format, rounding, conversions to and from memory formats (exact)
 *   x87-arith.ts  exact arithmetic: the interface every computation goes through
 *   x87-stack.ts  register stack, status word, exception flags, #MF, FIP/FDP/FOP bookkeeping
 *   x87-data.ts   loads, stores, constants, FXCH, FCMOVcc, FFREE, FINCSTP, FDECSTP
 *   x87-env.ts    FNINIT FNCLEX FLDCW FNSTCW FNSTSW FNSTENV FLDENV FNSAVE FRSTOR FWAIT
 *   x87-trans.ts  FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1
 *
 * Accuracy. Conversions, loads, stores, FADD/FSUB/FMUL/FDIV/FSQRT (in every precision-control
 * setting: 24, 53 and 64 bits; the reserved PC = 01 behaves as 64 bits, as on the host),
 * FPREM/FPREM1, FRNDINT, FSCALE, FXTRACT and the comparisons are computed exactly with 64-bit
 * significands and rounded once per FCW.RC: bit-exact with the host (flags and C1 included) in
 * every differential test and fuzz run, and with a BigInt reference model (x87-arith.test.ts).
 * Where results differ from hardware in the last bits: the transcendental instructions, which
 * evaluate in double precision after an exact argument reduction (within ~2^12 ulps of the
 * 64-bit significand; C1 differs; see x87-trans.ts). The arithmetic sits behind the small
 * interface of x87-arith.ts (arith, sqrt, remainder, roundInt, scale, compare on unpacked
 * operands), so a different implementation can replace it without touching the handlers.
 *
 * Exceptions: the flags, the masked responses (QNaN indefinite 0xFFFF_C000000000000000, integer
 * and BCD indefinites, ±∞ for zero divide, denormalised or wrapped results) and the unmasked
 * ones (destination and stack unchanged for IE/DE/ZE; exponent wrapped by 24576 for OE/UE to a
 * register, nothing stored to memory) as observed on the host. An unmasked exception sets ES/B;
 * the next waiting x87 instruction or FWAIT raises #MF (vector 16) when CR0.NE is set.
 *
 * Not supported: x87 exception reporting with CR0.NE = 0 (FERR#/IRQ 13: never reported);
 * 64-bit-accurate transcendental results; the undocumented aliases the opcode table lacks
 * (FSTP1/FSTP8/FSTP9 DD/DF reg, FCOM2/FCOMP3/FCOMP5 DC/DE reg, FXCH4/FXCH7, FFREEP DF C0+i,
 * FENI/FDISI/FSETPM DB E0/E1/E4): they execute as #UD here.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { K, MAP_1, SZ, type Opcode } from '../opcode-table.ts';
import * as float80 from './float80.ts';
import { F80 } from './float80.ts';
import * as x87Arith from './x87-arith.ts';
import * as x87Data from './x87-data.ts';
import { fldcw, fldenv, fnclex, fninit, fnsave, fnstcw, fnstenv, fnstswAx, fnstswMem, frstor, fwait } from './x87-env.ts';
import * as x87Stack from './x87-stack.ts';
import { TRANS_AUX, transBinary, transPush, transUnary } from './x87-trans.ts';
// Imported bindings bound to module constants once (a transpiled import is a getter call per use).
const {
  BIAS, CLS_DENORMAL, CLS_INF, CLS_NORMAL, CLS_QNAN, CLS_SNAN, CLS_UNSUPPORTED, CLS_ZERO, FSW_C0, FSW_C1, FSW_C2,
  FSW_C3, FSW_DE, FSW_IE, FSW_ZE, fpStatus, normalize, setIndefinite, unpack,
} = float80;
const {
  CMP_UNORDERED, OP_ADD, OP_DIV, OP_MUL, OP_SUB, arith, compare, compareExceptions, propagateNaN, remainder, roundInt,
  scale, sqrt,
} = x87Arith;
const {
  AUX_CHOP, AUX_POP, FMT_BCD, FMT_F32, FMT_F64, FMT_F80, FMT_I16, FMT_I32, FMT_I64, fcmov, ffree, fincdecstp,
  fldConst, fldMem, fldSt, fstMem, fstSt, fxch, loadOperand,
} = x87Data;
const {
  I_FCW, begin, beginMem, isEmpty, loadSt, pop, push, raise, replacePushChecked, setC1, setCodes, stAt,
  stackUnderflow, writeIndefinite, writeSt,
} = x87Stack;

const A = new F80();
const B = new F80();
const R = new F80();
const st = fpStatus;

// ---- arithmetic -------------------------------------------------------------------------------

/** Arithmetic aux: bits 0-1 the operation (OP_*), then flags, then the memory format. */
const AUX_REV = 1 << 2;
const AUX_DST_I = 1 << 3;
const AUX_APOP = 1 << 4;
const FMT_SHIFT = 5;

/** Writes R to ST(dst) (and pops) unless an unmasked pre-computation exception blocked it. */
function complete(i32: Int32Array, ok: boolean, dst: number, doPop: boolean): void {
  raise(i32, st.exc);
  setC1(i32, ok ? st.c1 : 0);
  if (!ok) return;
  writeSt(i32, dst, R);
  if (doPop) pop(i32);
}

/** FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR ST(0), ST(i) and ST(i), ST(0), and the P forms. */
function arithReg(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const aux = e.aux;
  const i = e.modrm & 7;
  const dst = (aux & AUX_DST_I) !== 0 ? i : 0;
  const src = dst === 0 ? i : 0;
  const doPop = (aux & AUX_APOP) !== 0;
  if (isEmpty(i32, 0) || isEmpty(i32, i)) {
    if (stackUnderflow(i32)) {
      writeIndefinite(i32, dst);
      if (doPop) pop(i32);
    }
    return;
  }
  const rev = (aux & AUX_REV) !== 0;
  const ca = loadSt(i32, rev ? src : dst, A);
  const cb = loadSt(i32, rev ? dst : src, B);
  st.exc = 0;
  complete(i32, arith(aux & 3, A, ca, B, cb, i32[I_FCW]!, R), dst, doPop);
}

/** The memory forms: ST(0) = ST(0) op m32/m64 float or m16/m32 integer (reversed: m op ST(0)). */
function arithMem(cpu: Cpu, e: CachedInsn): void {
  beginMem(cpu, e);
  const aux = e.aux;
  const cb = loadOperand(cpu, aux >> FMT_SHIFT, B);
  const i32 = cpu.i32;
  if (isEmpty(i32, 0)) {
    if (stackUnderflow(i32)) writeIndefinite(i32, 0);
    return;
  }
  const ca = loadSt(i32, 0, A);
  const fcw = i32[I_FCW]!;
  st.exc = 0;
  const ok = (aux & AUX_REV) !== 0 ? arith(aux & 3, B, cb, A, ca, fcw, R) : arith(aux & 3, A, ca, B, cb, fcw, R);
  complete(i32, ok, 0, false);
}

// ---- comparisons ------------------------------------------------------------------------------

/** Compare aux: bits 0-1 pops (0-2), then flags, then the memory format. */
const AUX_QUIET = 1 << 2;
const AUX_ZERO = 1 << 3;
const AUX_EFLAGS = 1 << 4;
const CODES = FSW_C0 | FSW_C2 | FSW_C3;
/** C3 C2 C0 and ZF PF CF for greater, less, equal, unordered. */
const CMP_CODES = [0, FSW_C0, FSW_C3, FSW_C0 | FSW_C2 | FSW_C3];
const CMP_FLAGS = [0, 0x01, 0x40, 0x45];
/** OF SF ZF AF PF CF: what FCOMI writes. */
const COMI_FLAGS = 0x8d5;

/** Sets the result of a comparison (condition codes or EFLAGS) and pops `pops` times when allowed. */
function compareResult(cpu: Cpu, cmp: number, aux: number, allowPop: boolean): void {
  const i32 = cpu.i32;
  if ((aux & AUX_EFLAGS) !== 0) {
    cpu.setFlags((cpu.getFlags() & ~COMI_FLAGS) | CMP_FLAGS[cmp]!); // (C1 is kept: checked on the host)
  } else {
    setCodes(i32, CODES | FSW_C1, CMP_CODES[cmp]!);
  }
  if (allowPop) for (let n = aux & 3; n > 0; n--) pop(i32);
}

/** Compares ST(0) with the operand in B (class cb) and completes the instruction. */
function compareWith(cpu: Cpu, cb: number, aux: number): void {
  const i32 = cpu.i32;
  const ca = loadSt(i32, 0, A);
  st.exc = 0;
  compareExceptions(ca, cb, (aux & AUX_QUIET) !== 0);
  raise(i32, st.exc);
  compareResult(cpu, compare(A, ca, B, cb), aux, (st.exc & ~i32[I_FCW]! & (FSW_IE | FSW_DE)) === 0);
}

/** Stack underflow of a comparison: unordered even when IE is unmasked; pops only when masked. */
function compareUnderflow(cpu: Cpu, aux: number): void {
  compareResult(cpu, CMP_UNORDERED, aux, stackUnderflow(cpu.i32));
}

/** FCOM/FCOMP/FUCOM/FUCOMP ST(i), FCOMPP/FUCOMPP, FCOMI/FCOMIP/FUCOMI/FUCOMIP, FTST. */
function compareReg(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const aux = e.aux;
  const i = (aux & AUX_ZERO) !== 0 ? 0 : e.modrm & 7;
  if (isEmpty(i32, 0) || isEmpty(i32, i)) {
    compareUnderflow(cpu, aux);
    return;
  }
  let cb = CLS_ZERO;
  if ((aux & AUX_ZERO) !== 0) {
    B.sign = 0;
    B.exp = 0;
    B.hi = 0;
    B.lo = 0;
  } else cb = loadSt(i32, i, B);
  compareWith(cpu, cb, aux);
}

/** FCOM/FCOMP m32/m64, FICOM/FICOMP m16/m32. */
function compareMem(cpu: Cpu, e: CachedInsn): void {
  beginMem(cpu, e);
  const cb = loadOperand(cpu, e.aux >> FMT_SHIFT, B);
  if (isEmpty(cpu.i32, 0)) {
    compareUnderflow(cpu, e.aux);
    return;
  }
  compareWith(cpu, cb, e.aux);
}

/** FXAM: C3 C2 C0 classify ST(0) (empty too), C1 = its sign. */
function fxam(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const at = stAt(i32, 0);
  const se = i32[at + 2]! & 0xffff;
  let codes: number;
  if (isEmpty(i32, 0)) codes = FSW_C3 | FSW_C0;
  else {
    switch (unpack(A, se, i32[at + 1]!, i32[at]!)) {
      case CLS_ZERO: codes = FSW_C3; break;
      case CLS_DENORMAL: codes = FSW_C3 | FSW_C2; break;
      case CLS_NORMAL: codes = FSW_C2; break;
      case CLS_INF: codes = FSW_C2 | FSW_C0; break;
      case CLS_QNAN: case CLS_SNAN: codes = FSW_C0; break;
      default: codes = 0; // unsupported
    }
  }
  setCodes(i32, CODES | FSW_C1, codes | ((se & 0x8000) !== 0 ? FSW_C1 : 0));
}

// ---- one-operand and miscellaneous --------------------------------------------------------

/** FCHS (aux 0) and FABS (aux 1): the sign bit only, no exceptions but stack underflow. */
function signOp(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  if (isEmpty(i32, 0)) {
    if (stackUnderflow(i32)) writeIndefinite(i32, 0);
    return;
  }
  const at = stAt(i32, 0) + 2;
  i32[at] = e.aux === 0 ? i32[at]! ^ 0x8000 : i32[at]! & 0x7fff;
  setC1(i32, 0);
}

const UN_SQRT = 0;
const UN_RNDINT = 1;
const BI_SCALE = 2;
const BI_PREM = 3;
const BI_PREM1 = 4;

/** FSQRT, FRNDINT (ST(0) = f(ST(0))), FSCALE, FPREM, FPREM1 (ST(0) = f(ST(0), ST(1))). */
function computeSt0(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  const kind = e.aux;
  const binary = kind >= BI_SCALE;
  const prem = kind >= BI_PREM;
  if (isEmpty(i32, 0) || (binary && isEmpty(i32, 1))) {
    if (prem) setCodes(i32, FSW_C2, 0);
    if (stackUnderflow(i32)) writeIndefinite(i32, 0);
    return;
  }
  const fcw = i32[I_FCW]!;
  const ca = loadSt(i32, 0, A);
  const cb = binary ? loadSt(i32, 1, B) : 0;
  st.exc = 0;
  let ok: boolean;
  switch (kind) {
    case UN_SQRT: ok = sqrt(A, ca, fcw, R); break;
    case UN_RNDINT: ok = roundInt(A, ca, fcw, R); break;
    case BI_SCALE: ok = scale(A, ca, B, cb, fcw, R); break;
    default: {
      const codes = remainder(A, ca, B, cb, kind === BI_PREM1, fcw, R);
      raise(i32, st.exc);
      // A NaN, the indefinite, or blocked by an unmasked exception: C1 = C2 = 0, C0 and C3 kept.
      if (codes < 0) setCodes(i32, FSW_C1 | FSW_C2, 0);
      else setCodes(i32, CODES | FSW_C1, codes);
      if (codes !== -1) writeSt(i32, 0, R);
      return;
    }
  }
  complete(i32, ok, 0, false);
}

/** FXTRACT: ST(0) = its exponent (unbiased, as a number), then push its significand. */
function fxtract(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
  const i32 = cpu.i32;
  if (!replacePushChecked(i32)) return;
  const fcw = i32[I_FCW]!;
  const ca = loadSt(i32, 0, A);
  st.exc = 0;
  setC1(i32, 0);
  if (ca === CLS_UNSUPPORTED || ca === CLS_QNAN || ca === CLS_SNAN) {
    if (ca === CLS_UNSUPPORTED) {
      st.exc |= FSW_IE;
      setIndefinite(R);
    } else propagateNaN(A, ca, A, ca, R);
    raise(i32, st.exc);
    if ((st.exc & ~fcw & FSW_IE) !== 0) return;
    B.copy(R);
  } else if (ca === CLS_ZERO) {
    // ZE: the exponent of 0 is −∞; the significand is the zero itself.
    raise(i32, FSW_ZE);
    if ((fcw & FSW_ZE) === 0) return;
    R.sign = 1;
    R.exp = 0x7fff;
    R.hi = 0x80000000;
    R.lo = 0;
    B.copy(A);
  } else if (ca === CLS_INF) {
    R.copy(A);
    R.sign = 0;
    B.copy(A);
  } else {
    if (ca === CLS_DENORMAL) {
      raise(i32, FSW_DE);
      if ((fcw & FSW_DE) === 0) return;
    }
    // Exponent as an exact integer value.
    const k = A.exp - BIAS;
    R.sign = k < 0 ? 1 : 0;
    R.hi = Math.abs(k);
    R.lo = 0;
    R.exp = BIAS + 31;
    if (k !== 0) normalize(R, 0);
    else R.exp = 0;
    B.copy(A);
    B.exp = BIAS;
  }
  writeSt(i32, 0, R);
  push(i32);
  writeSt(i32, 0, B);
}

/** FNOP: a waiting instruction that does nothing else. */
function fnop(cpu: Cpu, e: CachedInsn): void {
  begin(cpu, e);
}

// ---- binding ----------------------------------------------------------------------------------

const ARITH: Record<string, number> = {
  fadd: OP_ADD, fmul: OP_MUL, fsub: OP_SUB, fsubr: OP_SUB | AUX_REV, fdiv: OP_DIV, fdivr: OP_DIV | AUX_REV,
};
const COMPARE: Record<string, number> = {
  fcom: 0, fcomp: 1, fcompp: 2, fucom: AUX_QUIET, fucomp: AUX_QUIET | 1, fucompp: AUX_QUIET | 2, ficom: 0, ficomp: 1,
  fcomi: AUX_EFLAGS, fcomip: AUX_EFLAGS | 1, fucomi: AUX_EFLAGS | AUX_QUIET, fucomip: AUX_EFLAGS | AUX_QUIET | 1,
  ftst: AUX_ZERO,
};
const CONSTANT_NAMES = ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz'];
/** FCMOVcc conditions as Jcc condition codes (B E BE P and their negations). */
const FCMOV: Record<string, number> = {
  fcmovb: 2, fcmovnb: 3, fcmove: 4, fcmovne: 5, fcmovbe: 6, fcmovnbe: 7, fcmovu: 10, fcmovnu: 11,
};
const SIMPLE: Record<string, Binding> = {
  fninit: [fninit, 0], fnclex: [fnclex, 0], fldcw: [fldcw, 0], fnstcw: [fnstcw, 0], fldenv: [fldenv, 0],
  fnstenv: [fnstenv, 0], fnsave: [fnsave, 0], frstor: [frstor, 0], fxch: [fxch, 0], ffree: [ffree, 0],
  fincstp: [fincdecstp, 1], fdecstp: [fincdecstp, -1], fnop: [fnop, 0], fxam: [fxam, 0], fchs: [signOp, 0],
  fabs: [signOp, 1], fsqrt: [computeSt0, UN_SQRT], frndint: [computeSt0, UN_RNDINT], fscale: [computeSt0, BI_SCALE],
  fprem: [computeSt0, BI_PREM], fprem1: [computeSt0, BI_PREM1], fxtract: [fxtract, 0],
  fsin: [transUnary, TRANS_AUX.sin], fcos: [transUnary, TRANS_AUX.cos], f2xm1: [transUnary, TRANS_AUX.f2xm1],
  fsincos: [transPush, TRANS_AUX.sin], fptan: [transPush, TRANS_AUX.tan], fpatan: [transBinary, TRANS_AUX.atan],
  fyl2x: [transBinary, TRANS_AUX.yl2x], fyl2xp1: [transBinary, TRANS_AUX.yl2xp1],
};

/** The memory format of an x87 memory operand from the mnemonic and the operand size. */
function memFormat(name: string, size: number): number {
  if (name === 'fbld' || name === 'fbstp') return FMT_BCD;
  if (name.startsWith('fi')) return size === SZ.W ? FMT_I16 : size === SZ.D ? FMT_I32 : FMT_I64;
  return size === SZ.D ? FMT_F32 : size === SZ.Q ? FMT_F64 : FMT_F80;
}

/** The arithmetic aux of a mnemonic (FI* integer and *P popping variants), or undefined. */
function arithAux(name: string): number | undefined {
  const integer = name.startsWith('fi') ? ARITH[`f${name.slice(2)}`] : undefined;
  if (integer !== undefined) return integer;
  const popped = name.endsWith('p') ? ARITH[name.slice(0, -1)] : undefined;
  if (popped !== undefined) return popped | AUX_APOP;
  return ARITH[name];
}

export function bindX87(op: Opcode): Binding | undefined {
  if (op.map !== MAP_1) return undefined;
  if (op.opcode === 0x9b) return [fwait, 0];
  if (op.opcode < 0xd8 || op.opcode > 0xdf) return undefined;
  const name = op.mnemonic;
  const first = op.operands[0];
  const mem = first !== undefined && first.kind === K.M;
  const fmt = mem ? memFormat(name, first.size) : 0;
  const simple = SIMPLE[name];
  if (simple) return simple;
  const constant = CONSTANT_NAMES.indexOf(name);
  if (constant >= 0) return [fldConst, constant];
  const cc = FCMOV[name];
  if (cc !== undefined) return [fcmov, cc];
  const arithmetic = arithAux(name);
  if (arithmetic !== undefined) {
    if (mem) return [arithMem, arithmetic | (fmt << FMT_SHIFT)];
    return [arithReg, arithmetic | (first?.kind === K.STI ? AUX_DST_I : 0)];
  }
  const cmp = COMPARE[name];
  if (cmp !== undefined) return mem ? [compareMem, cmp | (fmt << FMT_SHIFT)] : [compareReg, cmp];
  switch (name) {
    case 'fld': return mem ? [fldMem, fmt] : [fldSt, 0];
    case 'fild': case 'fbld': return [fldMem, fmt];
    case 'fst': return mem ? [fstMem, fmt] : [fstSt, 0];
    case 'fstp': return mem ? [fstMem, fmt | AUX_POP] : [fstSt, AUX_POP];
    case 'fist': return [fstMem, fmt];
    case 'fistp': case 'fbstp': return [fstMem, fmt | AUX_POP];
    case 'fisttp': return [fstMem, fmt | AUX_POP | AUX_CHOP];
    case 'fnstsw': return mem ? [fnstswMem, 0] : [fnstswAx, 0];
  }
  return undefined;
}


/**
 * Shifts and rotates: group 2 (ROL ROR RCL RCR SHL SHR SAL SAR; C0 C1 D0 D1 D2 D3; /6 is the
 * undocumented alias of SHL) and the double shifts SHLD SHRD (0F A4/A5/AC/AD), byte and
 * 16/32/64-bit operands, register or memory, count from imm8, 1 or CL.
 * Intel SDM Vol. 2B, "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD".
 *
 * Flags are computed eagerly (setFlags). The count is masked to 5 bits (6 with a 64-bit operand);
 * RCL/RCR of 8/16-bit operands then rotate by count mod 9 / mod 17. A masked count of 0 changes
 * no flag and leaves the value unchanged, but it is still written back: a 32-bit register
 * destination is zero-extended to 64 bits, as on the host (memory gets the same bytes again).
 *
 * Where the SDM says "undefined", this file does what the host the differential test was
 * proven on does (AMD Zen 4, family 19h; other CPUs, Intel's in particular, may differ, so
 * shift.diff.test.ts checks these only on such a host):
 * - OF for counts other than 1: the count-1 rule applied to the last 1-bit step;
 * - AF is set by SHL SHR SAR SHLD SHRD with a nonzero count (rotates leave it alone);
 * - SHL/SHR of 8/16-bit operands by >= the width: CF is the last bit shifted out (0 beyond);
 * - 16-bit SHLD/SHRD by 17..31: see apply().
 *
 * Values are (lo, hi) int32 pairs throughout; byte/word/dword operands have hi = 0.
 * Not supported: nothing in this family.
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import type { Binding } from '../exec.ts';
import { AF, CF, OF, PARITY, PF, SF, ZF } from '../flags.ts';
import { K, SZ, type Opcode } from '../opcode-table.ts';
import { RFLAGS } from '../../state-layout.ts';

const I_RFLAGS = RFLAGS >> 2;

/** Operations, in aux bits 0-3: the group-2 ModRM.reg value, then the double shifts. */
const ROL = 0;
const ROR = 1;
const RCL = 2;
const RCR = 3;
const SHL = 4;
const SHR = 5;
const SAL = 6;
const SAR = 7;
const SHLD = 8; // then SHRD = 9
const NAMES = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar', 'shld', 'shrd'];

/** Count source, in aux bits 4-5. */
const COUNT_IMM = 0;
const COUNT_ONE = 1;
const COUNT_CL = 2;
const BYTE = 1 << 6;

/** The high half of the last pair helper's result (no allocation). */
let H = 0;

/** (lo, hi) << n for n >= 0 (0 from 64 on). */
function shl(lo: number, hi: number, n: number): number {
  if (n === 0) {
    H = hi;
    return lo;
  }
  if (n < 32) {
    H = (hi << n) | (lo >>> (32 - n));
    return lo << n;
  }
  H = n < 64 ? lo << (n - 32) : 0;
  return 0;
}

/** (lo, hi) >>> n for n >= 0 (0 from 64 on). */
function shr(lo: number, hi: number, n: number): number {
  if (n === 0) {
    H = hi;
    return lo;
  }
  if (n < 32) {
    H = hi >>> n;
    return (lo >>> n) | (hi << (32 - n));
  }
  H = 0;
  return n < 64 ? hi >>> (n - 32) : 0;
}

/** (lo, hi) >> n, arithmetic, for 1 <= n <= 63. */
function sar(lo: number, hi: number, n: number): number {
  if (n < 32) {
    H = hi >> n;
    return (lo >>> n) | (hi << (32 - n));
  }
  H = hi >> 31;
  return hi >> (n - 32);
}

/** Bit i of (lo, hi); 0 outside 0..63. */
function bit(lo: number, hi: number, i: number): number {
  if (i < 0 || i > 63) return 0;
  return i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
}

/** The low `w` bits of lo (w <= 32). */
function maskLo(lo: number, w: number): number {
  return w === 8 ? lo & 0xff : w === 16 ? lo & 0xffff : lo | 0;
}

/** SF ZF PF of a result of `w` bits. */
function szp(lo: number, hi: number, w: number): number {
  let f = PARITY[lo & 0xff]!;
  if (lo === 0 && hi === 0) f |= ZF;
  if (bit(lo, hi, w - 1)) f |= SF;
  return f;
}

/**
 * Applies operation `op` with masked count `n` (> 0) to the `w`-bit value (lo, hi), source
 * (sLo, sHi) for the double shifts; sets the flags; returns the result (high half in H).
 */
function apply(cpu: Cpu, op: number, w: number, lo: number, hi: number, n: number, sLo: number, sHi: number): number {
  // Shifts write all six arithmetic flags: only the rotates need the old ones (computing the
  // lazy flags costs more than the shift itself).
  const old = op <= RCR ? cpu.getFlags() : cpu.i32[I_RFLAGS]!;
  const msb = w - 1;
  let rLo: number;
  let rHi: number;
  let cf = 0;
  let of: number;
  let rot = false;
  switch (op) {
    case ROL:
    case ROR: {
      const k = n % w;
      if (op === ROL) {
        rLo = shl(lo, hi, k);
        rHi = H;
        rLo |= shr(lo, hi, w - k);
        rHi |= H;
      } else {
        rLo = shr(lo, hi, k);
        rHi = H;
        rLo |= shl(lo, hi, w - k);
        rHi |= H;
      }
      rot = true;
      break;
    }
    case RCL:
    case RCR: {
      const k = w === 8 ? n % 9 : w === 16 ? n % 17 : n;
      const cin = old & CF;
      if (k === 0) {
        rLo = lo;
        rHi = hi;
      } else if (op === RCL) {
        rLo = shl(lo, hi, k);
        rHi = H;
        rLo |= shr(lo, hi, w + 1 - k);
        rHi |= H;
        if (cin) {
          rLo |= shl(1, 0, k - 1);
          rHi |= H;
        }
      } else {
        rLo = shr(lo, hi, k);
        rHi = H;
        rLo |= shl(lo, hi, w + 1 - k);
        rHi |= H;
        if (cin) {
          rLo |= shl(1, 0, w - k);
          rHi |= H;
        }
      }
      cf = k === 0 ? cin : bit(lo, hi, op === RCL ? w - k : k - 1);
      rot = true;
      break;
    }
    case SHL:
    case SAL:
      rLo = shl(lo, hi, n);
      rHi = H;
      cf = bit(lo, hi, w - n);
      break;
    case SHR:
      rLo = shr(lo, hi, n);
      rHi = H;
      cf = bit(lo, hi, n - 1);
      break;
    case SAR: {
      // Sign-extend to 64 bits first, so that counts beyond the width fill with the sign.
      let xLo = lo;
      let xHi = hi;
      if (w === 8) xLo = (lo << 24) >> 24;
      else if (w === 16) xLo = (lo << 16) >> 16;
      if (w < 64) xHi = xLo >> 31;
      rLo = sar(xLo, xHi, n);
      rHi = H;
      cf = bit(xLo, xHi, n - 1);
      break;
    }
    default: { // SHLD SHRD
      // 16-bit by 17..31 (undefined in the SDM): the host shifts dest:src:src (SHLD) or
      // src:src:dest (SHRD), i.e. rotates src by count-16; CF is 0 then (bit 16-n / n-1 of dest).
      const wide = n > w;
      const k = wide ? n - w : n;
      const xLo = wide ? sLo : lo;
      const xHi = wide ? sHi : hi;
      if (op === SHLD) {
        rLo = shl(xLo, xHi, k);
        rHi = H;
        rLo |= shr(sLo, sHi, w - k);
        cf = bit(lo, hi, w - n);
      } else {
        rLo = shr(xLo, xHi, k);
        rHi = H;
        rLo |= shl(sLo, sHi, w - k);
        cf = bit(lo, hi, n - 1);
      }
      rHi |= H;
      break;
    }
  }
  rLo = maskLo(rLo, w > 32 ? 32 : w);
  rHi = w === 64 ? rHi | 0 : 0;
  let f: number;
  if (rot) {
    if (op === ROL) cf = rLo & 1;
    else if (op === ROR) cf = bit(rLo, rHi, msb);
    // RCL/ROL: MSB(result) XOR CF; RCR/ROR: the two top bits of the result differ.
    of = op === ROL || op === RCL ? bit(rLo, rHi, msb) ^ cf : bit(rLo, rHi, msb) ^ bit(rLo, rHi, msb - 1);
    f = (old & ~(CF | OF)) | cf | (of ? OF : 0);
  } else {
    // OF: the sign change of the last 1-bit step (the SDM's rule for count 1; the host's for
    // all counts): left, MSB(result) XOR CF; right, the top two bits of the result differ.
    // (For left shifts the MSB is taken from the shifted destination alone: 16-bit SHLD by 16.)
    of = op === SAR ? 0 : op === SHL || op === SAL || op === SHLD
      ? bit(lo, hi, msb - n) ^ cf : bit(rLo, rHi, msb) ^ bit(rLo, rHi, msb - 1);
    f = (old & ~(CF | OF | AF | SF | ZF | PF)) | szp(rLo, rHi, w) | cf | (of ? OF : 0) | AF;
  }
  cpu.setFlags(f);
  H = rHi;
  return rLo;
}

function shift(cpu: Cpu, e: CachedInsn): void {
  const aux = e.aux;
  const sz = aux & BYTE ? 1 : e.opsize;
  const op = aux & 15;
  const src = (aux >> 4) & 3;
  let n = src === COUNT_ONE ? 1 : src === COUNT_CL ? cpu.lo(1) : e.imm;
  n &= sz === 8 ? 63 : 31;
  let lo = cpu.readEWrite(e, sz);
  let hi = sz === 8 ? cpu.hi : 0;
  if (n !== 0) {
    let sLo = 0;
    let sHi = 0;
    if (op >= SHLD) {
      sLo = cpu.getReg(e.reg, sz, e.rex);
      sHi = sz === 8 ? cpu.hi : 0;
    }
    lo = apply(cpu, op, sz * 8, lo, hi, n, sLo, sHi);
    hi = H;
  }
  cpu.writeE(e, sz, lo, hi);
}

export function bindShift(op: Opcode): Binding | undefined {
  const index = NAMES.indexOf(op.mnemonic);
  if (index < 0 || op.map !== (index >= SHLD ? 1 : 0)) return undefined;
  const count = op.operands[index >= SHLD ? 2 : 1];
  const src = count?.kind === K.ONE ? COUNT_ONE : count?.kind === K.FIXED ? COUNT_CL : COUNT_IMM;
  return [shift, index | (src << 4) | (op.operands[0]?.size === SZ.B ? BYTE : 0)];
}

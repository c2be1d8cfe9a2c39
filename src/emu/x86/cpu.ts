/**
 * The x86-64 interpreter core: register file, lazy flags, effective addresses, stack, and the
 * fetch-decode-execute loop with a cache of decoded instructions per physical page.
 *
 * All guest-visible state lives in the VM's WebAssembly.Memory at the offsets of
 * src/emu/state-layout.ts. 64-bit values are (lo, hi) int32 pairs; a function that produces
 * one returns the low half and leaves the high half in `this.hi` (no allocation).
 *
 * Instruction semantics live in ./ops/*, one family per file, bound to table entries by
 * ./exec.ts. The JIT (later) calls the same handlers.
 *
 * Segmentation outside 64-bit mode (Intel SDM Vol. 3A 5.3): every linear address goes through
 * linearAddress(), which checks the offset against the segment's limit (expand-up, or
 * expand-down with the B bit) and records how many bytes past it the segment still allows, so
 * that readEA/writeEA check the access's last byte (#GP(0), #SS(0) for SS). The checks run only
 * while `segChecks` is set: precomputed (system.ts updateSegmentState) whenever a segment
 * register, CR0, EFLAGS.VM or the code size changes, false in 64-bit code and when every
 * segment is 4 GiB expand-up (flat 32-bit code). Stacks are 16-bit (SP, wrapping at 64 KiB)
 * when SS.B = 0 (`stack16`). Instruction fetch checks CS's limit; fetches from outside RAM
 * (a ROM at the reset vector) go through the physical bus, decoded afresh each time.
 *
 * Not supported: limit checks on the later bytes of x87 memory operands and of the SIMD
 * operands that do not go through loadMem/storeMem (only their first byte is checked, see
 * checkEaRoom; string instructions check every element), writes to a read-only data segment or reads of an execute-only
 * code segment (segment type checks on access), instruction links into MMIO-fetched code are
 * not invalidated when the device's contents change (ROM is assumed constant).
 */
import {
  BASE_RIP, DECODE_NEED_MORE, DECODE_OK, DECODE_TOO_LONG, Insn, SEG_DS, SEG_FS, SEG_GS, SEG_SS, decode,
} from './decoder.ts';
import { AC, ARITH, FIXED_1, IF, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_NONE, LAZY_SUB, TF, lazyFlags } from './flags.ts';
import { deliver, hasErrorCode, isDoubleFault } from './system.ts';
import { VEC_DF, VEC_GP, VEC_SS, VEC_UD } from './exceptions.ts';
import { ACCESS_EXEC, ACCESS_WRITE, CPU_FAULT, EFER_LMA, Mmu } from './mmu.ts';
import {
  ATTENTION, CODE_BITS, CPL, DR, EFER, GPR, LAZY_AUX, LAZY_DST, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC, RAM_OFFSET,
  RFLAGS, RIP, SEGS, SEG_ATTRS, SEG_BASE, SEG_LIMIT, SEG_STRIDE,
} from '../state-layout.ts';
import { bindHandler, type Handler } from './exec.ts';

export { VEC_DE, VEC_DB, VEC_BP, VEC_UD, VEC_NM, VEC_DF, VEC_TS, VEC_NP, VEC_SS } from './exceptions.ts';

/** A decoded instruction in the cache, with its bound semantics. */
export class CachedInsn extends Insn {
  exec: Handler = raiseUD;
  /** Handler parameter chosen at bind time (ALU operation, condition code, ...). */
  aux = 0;
  /**
   * Threaded links (valid while `Mmu.codeEpoch` is unchanged): the instruction that ran after
   * this one when execution fell through, and the one that ran after it when it branched (to
   * the linear address branchLo/branchHi). Following a link skips the TLB and cache lookup.
   */
  next: CachedInsn | undefined = undefined;
  nextEpoch = -1;
  /**
   * The instruction crosses into another page: cached in its first page's list, and valid
   * while its second linear page still maps to the physical page `page2` and that page's code
   * generation is still `gen2` (no write to it since the decode). Links to it follow the epoch
   * rules of every instruction (the second page counts as a code page for SMC and INVLPG).
   */
  crossPage = false;
  page2 = 0;
  gen2 = 0;
  branch: CachedInsn | undefined = undefined;
  branchEpoch = -1;
  branchLo = 0;
  branchHi = 0;
}

/** The interrupt controller as the CPU sees it (the LAPIC, or a test double). */
export interface InterruptController {
  /** A maskable interrupt is ready for delivery (checked when IF = 1). */
  hasInterrupt(): boolean;
  /** Takes the highest-priority pending interrupt and returns its vector. */
  acknowledge(): number;
}

/**
 * MSRs kept by the machine rather than the CPU (the LAPIC's APIC_BASE and TSC deadline). The
 * handler is asked first: a read returns [lo, hi], a write true (done) or false (#GP); both
 * return undefined for an MSR that is not the handler's, which the CPU then handles itself.
 */
export interface MsrHandler {
  read(msr: number): [number, number] | undefined;
  write(msr: number, lo: number, hi: number): boolean | undefined;
}

/** The I/O port space as the CPU sees it. */
export interface IoBus {
  read(port: number, size: number): number;
  write(port: number, size: number, value: number): void;
}

const UNMAPPED_IO: IoBus = {
  read: (_port, size) => (size === 4 ? -1 : (1 << (size * 8)) - 1),
  write: () => {},
};

/** Why run() returned. */
export const STOP_BUDGET = 0;
export const STOP_HALT = 1;
export const STOP_FAULT = 2;
export const STOP_END = 3;
/** A triple fault: the machine must reset. */
export const STOP_SHUTDOWN = 4;
/** An emulator bug (a host exception inside an instruction): see Cpu.internalError. */
export const STOP_INTERNAL_ERROR = 5;

/** Results of Cpu.attention() and Cpu.exception() besides the STOP_* reasons. */
const BOUNDARY_RUN = -1;
const BOUNDARY_DELIVERED = -2;

const SIZE_MASK = [0, 0xff, 0xffff, 0, -1];
/** Size of the branch-target cache (Cpu.targetInsn) minus one. */
const TARGET_MASK = 4095;
/** DR6.BS: the debug exception was a single-step trap. */
const DR6_BS = 1 << 14;

// Int32 indexes of the hottest state fields as literals, so that V8 folds them into the
// code (imported bindings are loaded on every use). Checked against state-layout.ts below.
const I_GPR = 0;
const I_RIP = 32;
const I_RFLAGS = 34;
const I_LAZY_OP = 35;
const I_LAZY_SIZE = 36;
const I_LAZY_AUX = 37;
const I_LAZY_RES = 38;
const I_LAZY_DST = 40;
const I_LAZY_SRC = 42;
const I_CODE_BITS = 123;
const I_ATTENTION = 217;
const I_CS_LIMIT = (SEGS + SEG_STRIDE + SEG_LIMIT) >> 2;
if (I_GPR !== GPR >> 2 || I_RIP !== RIP >> 2 || I_RFLAGS !== RFLAGS >> 2 || I_LAZY_OP !== LAZY_OP >> 2 || I_LAZY_SIZE !== LAZY_SIZE >> 2 ||
  I_LAZY_AUX !== LAZY_AUX >> 2 || I_LAZY_RES !== LAZY_RES >> 2 || I_LAZY_DST !== LAZY_DST >> 2 ||
  I_LAZY_SRC !== LAZY_SRC >> 2 || I_CODE_BITS !== CODE_BITS >> 2 || I_ATTENTION !== ATTENTION >> 2) {
  throw new Error('cpu.ts: the literal state indexes no longer match state-layout.ts');
}

export class Cpu extends Mmu {
  /** RIP of the instruction after the current one (branches overwrite it). */
  nextLo = 0;
  nextHi = 0;
  /** Linear address computed by ea(). */
  eaLo = 0;
  eaHi = 0;
  /**
   * Outside 64-bit mode, some segment register is not flat (limit below 4 GiB, or expand-down):
   * linearAddress() and the accesses after it check segment limits. Kept by system.ts
   * (updateSegmentState); false in 64-bit code.
   */
  segChecks = false;
  /** SS.B = 0: the stack pointer is SP (16 bits) outside 64-bit mode. Kept with segChecks. */
  stack16 = false;
  /** While segChecks: bytes the segment allows past the first byte of the last linearAddress(). */
  eaRoom = 0;
  /** While segChecks: the exception of a limit violation there (#SS for SS, else #GP). */
  eaLimitVector = 13;
  private isHalted = false;
  /** HLT executed: the CPU waits for an interrupt (setting it raises the attention word). */
  get halted(): boolean {
    return this.isHalted;
  }
  set halted(value: boolean) {
    this.isHalted = value;
    if (value) this.i32[I_ATTENTION] = 1;
  }
  /** A triple fault happened: the machine must reset (run() returns STOP_SHUTDOWN). */
  shutdown = false;
  /** Set when run() stopped on a host exception (an emulator bug), with RIP at the instruction. */
  internalError: Error | undefined = undefined;
  /** Set by run(): the exception that stopped it (STOP_FAULT). */
  stopVector = -1;
  stopError = -1;
  /** Optional RIP at which run() stops (tests: the end of the code under test). */
  endLo = -1;
  endHi = -1;
  /** Instructions executed since creation. */
  instructions = 0;
  /** Tests: stop run() at the first exception instead of delivering it through the IDT. */
  stopOnFault = false;
  /** Maskable interrupts come from here. */
  interrupts: InterruptController | null = null;
  /** Set for one instruction after STI, MOV SS and POP SS: interrupts wait. */
  interruptShadow = false;
  /** I/O ports (IN/OUT). Unmapped ports read all ones. */
  io: IoBus = UNMAPPED_IO;
  /** Time source of the TSC, in ticks (default: a nominal 1 GHz from the host clock). */
  tscSource: () => number = () => performance.now() * 1e6;
  /** MSRs kept outside the CPU (see MsrHandler). */
  msrs: MsrHandler | undefined = undefined;
  /** An NMI is waiting for delivery (see nmi()). */
  nmiPending = false;
  /** An NMI handler is running: further NMIs wait until the next IRET. */
  nmiBlocked = false;
  /** Called after a WRMSR the CPU stored (the machine watches kvmclock and APIC MSRs). */
  onMsrWrite: ((msr: number, lo: number, hi: number) => void) | undefined = undefined;

  private readonly fetchBuf = new Uint8Array(32);

  /**
   * Decoded instructions by linear address, direct-mapped, valid while `codeEpoch` is the one
   * recorded (the rules of the links): where a link does not lead (a RET or an indirect branch
   * to another target than last time, the first instruction after an interrupt), this saves
   * the TLB and page-cache lookups of fetch().
   */
  private readonly targetInsn: (CachedInsn | undefined)[] = new Array<CachedInsn | undefined>(TARGET_MASK + 1).fill(undefined);
  private readonly targetLo = new Int32Array(TARGET_MASK + 1);
  private readonly targetHi = new Int32Array(TARGET_MASK + 1);
  private readonly targetEpoch = new Int32Array(TARGET_MASK + 1).fill(-1);

  /** Raises the NMI input (edge): delivered at the next instruction boundary, wakes HLT. */
  nmi(): void {
    this.nmiPending = true;
    this.i32[I_ATTENTION] = 1;
  }

  /** Holds off interrupts until after the next instruction (STI, MOV SS, POP SS). */
  setInterruptShadow(): void {
    this.interruptShadow = true;
    this.i32[ATTENTION >> 2] = 1;
  }

  // ---- registers ----------------------------------------------------------------------------

  /** Low and high 32 bits of a 64-bit register. */
  lo(r: number): number {
    return this.i32[I_GPR + 2 * r]!;
  }
  hi64(r: number): number {
    return this.i32[I_GPR + 2 * r + 1]!;
  }
  set64(r: number, lo: number, hi: number): void {
    this.i32[I_GPR + 2 * r] = lo;
    this.i32[I_GPR + 2 * r + 1] = hi;
  }

  /** Reads a register of `size` bytes (1: with REX rules for AH..BH). 8 bytes: high half in this.hi. */
  getReg(r: number, size: number, rex: number): number {
    const i32 = this.i32;
    const at = I_GPR + 2 * r;
    if (size === 8) {
      this.hi = i32[at + 1]!;
      return i32[at]!;
    }
    if (size === 4) return i32[at]!;
    if (size === 2) return i32[at]! & 0xffff;
    if (rex === 0 && r >= 4 && r < 8) return (i32[at - 8]! >>> 8) & 0xff; // AH CH DH BH
    return i32[at]! & 0xff;
  }

  /** Writes a register of `size` bytes: 4 zero-extends to 64 bits, 1 and 2 merge. */
  setReg(r: number, size: number, lo: number, hi: number, rex: number): void {
    const i32 = this.i32;
    const at = I_GPR + 2 * r;
    if (size === 8) {
      i32[at] = lo;
      i32[at + 1] = hi;
    } else if (size === 4) {
      i32[at] = lo;
      i32[at + 1] = 0;
    } else if (size === 2) {
      i32[at] = (i32[at]! & ~0xffff) | (lo & 0xffff);
    } else if (rex === 0 && r >= 4 && r < 8) {
      i32[at - 8] = (i32[at - 8]! & ~0xff00) | ((lo & 0xff) << 8); // AH CH DH BH
    } else {
      i32[at] = (i32[at]! & ~0xff) | (lo & 0xff);
    }
  }

  get rip(): bigint {
    return (BigInt(this.i32[(RIP >> 2) + 1]! >>> 0) << 32n) | BigInt(this.i32[RIP >> 2]! >>> 0);
  }
  set rip(v: bigint) {
    this.i32[RIP >> 2] = Number(v & 0xffffffffn) | 0;
    this.i32[(RIP >> 2) + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
  }

  /** Code size of the current code segment: 16, 32 or 64. */
  get codeBits(): 16 | 32 | 64 {
    return this.i32[I_CODE_BITS] as 16 | 32 | 64;
  }
  set codeBits(bits: 16 | 32 | 64) {
    this.i32[CODE_BITS >> 2] = bits;
  }
  get cpl(): number {
    return this.i32[CPL >> 2]!;
  }
  set cpl(level: number) {
    this.i32[CPL >> 2] = level;
    this.setUserMode(level === 3);
  }
  get longMode(): boolean {
    return (this.i32[EFER >> 2]! & EFER_LMA) !== 0;
  }

  segBaseLo(seg: number): number {
    return this.i32[(SEGS + seg * SEG_STRIDE + SEG_BASE) >> 2]!;
  }
  segBaseHi(seg: number): number {
    return this.i32[((SEGS + seg * SEG_STRIDE + SEG_BASE) >> 2) + 1]!;
  }

  // ---- flags --------------------------------------------------------------------------------

  /** RFLAGS with the arithmetic flags computed. */
  getFlags(): number {
    const i32 = this.i32;
    const op = i32[I_LAZY_OP]!;
    let f = i32[I_RFLAGS]!;
    if (op !== LAZY_NONE) {
      f = (f & ~ARITH) | lazyFlags(
        op, i32[I_LAZY_SIZE]!, i32[I_LAZY_AUX]!, i32[I_LAZY_RES]!, i32[I_LAZY_RES + 1]!,
        i32[I_LAZY_DST]!, i32[I_LAZY_DST + 1]!, i32[I_LAZY_SRC]!, i32[I_LAZY_SRC + 1]!,
      );
    }
    return f | FIXED_1;
  }

  /** CF alone (1 or 0), without computing the other flags (INC/DEC, ADC/SBB, RCL/RCR...). */
  getCF(): number {
    const i32 = this.i32;
    const op = i32[I_LAZY_OP]!;
    switch (op) {
      case LAZY_NONE: return i32[I_RFLAGS]! & 1;
      case LAZY_LOGIC: return 0;
      case LAZY_INC: case LAZY_DEC: return i32[I_LAZY_AUX]! & 1;
    }
    // ADD: the result wrapped below dst; SUB: dst below src (or equal, with a carry in).
    const size = i32[I_LAZY_SIZE]!;
    const cin = i32[I_LAZY_AUX]!;
    let aLo: number;
    let bLo: number;
    let aHi = 0;
    let bHi = 0;
    if (op === LAZY_ADD) {
      aLo = i32[I_LAZY_RES]!;
      bLo = i32[I_LAZY_DST]!;
      if (size === 8) {
        aHi = i32[I_LAZY_RES + 1]!;
        bHi = i32[I_LAZY_DST + 1]!;
      }
    } else {
      aLo = i32[I_LAZY_DST]!;
      bLo = i32[I_LAZY_SRC]!;
      if (size === 8) {
        aHi = i32[I_LAZY_DST + 1]!;
        bHi = i32[I_LAZY_SRC + 1]!;
      }
    }
    if (aHi !== bHi) return aHi >>> 0 < bHi >>> 0 ? 1 : 0;
    if (aLo !== bLo) return aLo >>> 0 < bLo >>> 0 ? 1 : 0;
    return cin !== 0 ? 1 : 0;
  }

  /** Replaces RFLAGS (all bits given) and drops the lazy state. */
  setFlags(f: number): void {
    const acFlipped = (f ^ this.i32[I_RFLAGS]!) & AC;
    this.i32[I_RFLAGS] = f | FIXED_1;
    this.i32[I_LAZY_OP] = LAZY_NONE;
    if ((f & TF) !== 0) this.i32[I_ATTENTION] = 1; // single-stepping: see run()
    if (acFlipped !== 0) this.updateAlignCheck(); // EFLAGS.AC: alignment checking (mmu.ts)
  }

  /** TF was set when the current instruction started: a #DB trap follows it. */
  private singleStep = false;

  /** Records the flags of a logic operation (AND OR XOR TEST): only the result matters. */
  lazyLogic(size: number, rLo: number, rHi: number): void {
    const i32 = this.i32;
    i32[I_LAZY_OP] = LAZY_LOGIC;
    i32[I_LAZY_SIZE] = size;
    i32[I_LAZY_RES] = rLo;
    if (size === 8) i32[I_LAZY_RES + 1] = rHi;
  }

  /** Records a lazy flag computation (see flags.ts for what each field means). */
  lazy(op: number, size: number, aux: number, rLo: number, rHi: number, dLo: number, dHi: number, sLo: number, sHi: number): void {
    const i32 = this.i32;
    i32[I_LAZY_OP] = op;
    i32[I_LAZY_SIZE] = size;
    i32[I_LAZY_AUX] = aux;
    i32[I_LAZY_RES] = rLo;
    i32[I_LAZY_DST] = dLo;
    i32[I_LAZY_SRC] = sLo;
    // The high halves matter only for 64-bit operations (every reader checks the size).
    if (size === 8) {
      i32[I_LAZY_RES + 1] = rHi;
      i32[I_LAZY_DST + 1] = dHi;
      i32[I_LAZY_SRC + 1] = sHi;
    }
  }

  /** The condition `cc` (0-15: O NO B AE E NE BE A S NS P NP L GE LE G). */
  cond(cc: number): boolean {
    const i32 = this.i32;
    const op = i32[I_LAZY_OP]!;
    // Fast paths: the conditions that follow CMP/SUB and TEST/AND/OR/XOR, read straight from
    // the lazy operands without computing all six flags.
    if ((op === LAZY_SUB && i32[I_LAZY_AUX] === 0) || op === LAZY_LOGIC) {
      const kind = cc >> 1;
      if (kind !== 5 && kind !== 0) {
        const size = i32[I_LAZY_SIZE]!;
        const resLo = i32[I_LAZY_RES]!;
        const resHi = size === 8 ? i32[I_LAZY_RES + 1]! : 0;
        const zero = resLo === 0 && resHi === 0;
        const shift = size === 8 ? 31 : size * 8 - 1;
        const sign = ((size === 8 ? resHi : resLo) >>> shift) & 1;
        let r: boolean;
        if (op === LAZY_LOGIC) {
          // CF = OF = 0
          switch (kind) {
            case 1: r = false; break; // B
            case 2: case 3: r = zero; break; // E, BE
            case 4: case 6: r = sign !== 0; break; // S, L (SF != 0)
            default: r = zero || sign !== 0; // LE
          }
        } else {
          const dLo = i32[I_LAZY_DST]!;
          const sLo = i32[I_LAZY_SRC]!;
          let below: boolean;
          let less: boolean;
          if (size === 8) {
            const dHi = i32[I_LAZY_DST + 1]!;
            const sHi = i32[I_LAZY_SRC + 1]!;
            below = dHi !== sHi ? dHi >>> 0 < sHi >>> 0 : dLo >>> 0 < sLo >>> 0;
            less = dHi !== sHi ? dHi < sHi : dLo >>> 0 < sLo >>> 0;
          } else {
            below = dLo >>> 0 < sLo >>> 0;
            const up = 32 - size * 8;
            less = size === 4 ? dLo < sLo : (dLo << up) >> up < (sLo << up) >> up;
          }
          switch (kind) {
            case 1: r = below; break; // B
            case 2: r = zero; break; // E
            case 3: r = below || zero; break; // BE
            case 4: r = sign !== 0; break; // S
            case 6: r = less; break; // L
            default: r = less || zero; // LE
          }
        }
        return (cc & 1) === 0 ? r : !r;
      }
    }
    const f = this.getFlags();
    let r: boolean;
    switch (cc >> 1) {
      case 0: r = (f & 0x800) !== 0; break; // O
      case 1: r = (f & 0x1) !== 0; break; // B
      case 2: r = (f & 0x40) !== 0; break; // E
      case 3: r = (f & 0x41) !== 0; break; // BE
      case 4: r = (f & 0x80) !== 0; break; // S
      case 5: r = (f & 0x4) !== 0; break; // P
      case 6: r = ((f >> 7) & 1) !== ((f >> 11) & 1); break; // L: SF != OF
      default: r = (f & 0x40) !== 0 || ((f >> 7) & 1) !== ((f >> 11) & 1); // LE
    }
    return (cc & 1) === 0 ? r : !r;
  }

  // ---- addresses ----------------------------------------------------------------------------

  /** The linear address of the instruction's memory operand: in eaLo/eaHi, and returned (lo). */
  ea(e: Insn): number {
    let lo = e.disp;
    let hi = lo < 0 ? -1 : 0;
    const ad = e.adsize;
    if (e.base === BASE_RIP) {
      const s = (this.nextLo >>> 0) + (lo >>> 0);
      lo = s | 0;
      hi = (this.nextHi + hi + (s > 0xffffffff ? 1 : 0)) | 0;
    } else if (e.base >= 0) {
      const s = (this.i32[I_GPR + 2 * e.base]! >>> 0) + (lo >>> 0);
      lo = s | 0;
      hi = (this.i32[I_GPR + 2 * e.base + 1]! + hi + (s > 0xffffffff ? 1 : 0)) | 0;
    }
    if (e.index >= 0) {
      let iLo = this.i32[I_GPR + 2 * e.index]!;
      let iHi = this.i32[I_GPR + 2 * e.index + 1]!;
      const sc = e.scale;
      if (sc) {
        iHi = (iHi << sc) | (iLo >>> (32 - sc));
        iLo <<= sc;
      }
      const s = (lo >>> 0) + (iLo >>> 0);
      lo = s | 0;
      hi = (hi + iHi + (s > 0xffffffff ? 1 : 0)) | 0;
    }
    if (ad !== 8) {
      hi = 0;
      if (ad === 2) lo &= 0xffff;
    }
    let seg = e.seg;
    this.nonCanonicalVector = seg < 0 && (e.base === 4 || e.base === 5) ? VEC_SS : 13;
    if (seg < 0) seg = e.base === 4 || e.base === 5 ? SEG_SS : SEG_DS;
    lo = this.linearAddress(seg, lo, hi);
    hi = this.hi;
    this.eaLo = lo;
    this.eaHi = hi;
    return lo;
  }

  /**
   * The effective address (offset) of a memory operand outside 64-bit mode, without a segment:
   * LEA, which accesses nothing (no limit or unusable-segment fault). 16-bit addresses wrap.
   */
  eaOffset(e: Insn): number {
    let lo = e.disp;
    if (e.base >= 0) lo = (lo + this.i32[I_GPR + 2 * e.base]!) | 0;
    if (e.index >= 0) lo = (lo + (this.i32[I_GPR + 2 * e.index]! << e.scale)) | 0;
    return e.adsize === 2 ? lo & 0xffff : lo;
  }

  /**
   * The linear address of offset (lo, hi) in segment `seg` (high half in this.hi): in 64-bit
   * mode only FS and GS have a base; elsewhere every segment does and addresses are 32 bits.
   */
  linearAddress(seg: number, lo: number, hi: number): number {
    if (this.i32[I_CODE_BITS] === 64) {
      if (seg === SEG_FS || seg === SEG_GS) {
        const s = (lo >>> 0) + (this.segBaseLo(seg) >>> 0);
        this.hi = (hi + this.segBaseHi(seg) + (s > 0xffffffff ? 1 : 0)) | 0;
        return s | 0;
      }
      this.hi = hi;
      return lo;
    }
    // A segment loaded with a null selector is unusable (attributes 0): #GP(0), #SS for SS.
    if ((this.i32[(SEGS + seg * SEG_STRIDE + SEG_ATTRS) >> 2]! & 0x80) === 0) this.fault(seg === SEG_SS ? VEC_SS : VEC_GP, 0);
    this.hi = 0;
    if (this.segChecks) this.checkSegmentLimit(seg, lo);
    return (lo + this.segBaseLo(seg)) | 0;
  }

  /**
   * The first byte at `offset` must lie inside segment `seg` (SDM Vol. 3A 5.3): at or below
   * the limit when expanding up; above it, and at most 0xFFFF (B = 0) or 0xFFFFFFFF (B = 1),
   * when expanding down. Records the room left after that byte for checkEaRoom(). A
   * violation is #SS(0) for SS, #GP(0) for the others.
   */
  private checkSegmentLimit(seg: number, offset: number): void {
    const at = (SEGS + seg * SEG_STRIDE) >> 2;
    const limit = this.i32[at + (SEG_LIMIT >> 2)]! >>> 0;
    const attrs = this.i32[at + (SEG_ATTRS >> 2)]!;
    const off = offset >>> 0;
    const vector = seg === SEG_SS ? VEC_SS : VEC_GP;
    this.eaLimitVector = vector;
    if ((attrs & 0x1c) === 0x14) {
      // Expand-down data segment: valid offsets are limit+1 .. the upper bound.
      const upper = (attrs & 0x4000) !== 0 ? 0xffffffff : 0xffff;
      if (off <= limit || off > upper) this.fault(vector, 0);
      this.eaRoom = upper - off;
    } else {
      if (off > limit) this.fault(vector, 0);
      this.eaRoom = limit - off;
    }
  }

  /**
   * While segment checks are on: an access of `size` bytes at the last linearAddress() must
   * end inside the segment (also a 16-bit segment's wrap at 0xFFFF: an access straddling the
   * limit faults, as on the 386 and later). Called by readEA/writeEA; instructions that read
   * more than one operand at that address call it with the whole size.
   */
  checkEaRoom(size: number): void {
    if (this.segChecks && size - 1 > this.eaRoom) this.fault(this.eaLimitVector, 0);
  }

  /** Reads `size` bytes at eaLo/eaHi (8: high half in this.hi). */
  readEA(size: number): number {
    if (this.segChecks) this.checkEaRoom(size);
    switch (size) {
      case 1: return this.read8(this.eaLo, this.eaHi);
      case 2: return this.read16(this.eaLo, this.eaHi);
      case 4: return this.read32(this.eaLo, this.eaHi);
      default: return this.read64(this.eaLo, this.eaHi);
    }
  }

  writeEA(size: number, lo: number, hi: number): void {
    if (this.segChecks) this.checkEaRoom(size);
    switch (size) {
      case 1: this.write8(this.eaLo, this.eaHi, lo); return;
      case 2: this.write16(this.eaLo, this.eaHi, lo); return;
      case 4: this.write32(this.eaLo, this.eaHi, lo); return;
      default: this.write64(this.eaLo, this.eaHi, lo, hi);
    }
  }

  /** Reads the E operand (register or memory). For memory, eaLo/eaHi stay set for a write-back. */
  readE(e: Insn, size: number): number {
    if (e.mod === 3) return this.getReg(e.rm, size, e.rex);
    this.ea(e);
    return this.readEA(size);
  }

  /**
   * Reads the E operand of a read-modify-write instruction: a memory operand is checked for
   * writing first, as the hardware does (a #PF reports a write even though the read comes first).
   */
  readEWrite(e: Insn, size: number): number {
    if (e.mod === 3) return this.getReg(e.rm, size, e.rex);
    this.ea(e);
    this.probeWriteEA(size);
    return this.readEA(size);
  }

  /** Checks that `size` bytes at eaLo/eaHi can be written (faults like the write would). */
  probeWriteEA(size: number): void {
    if (this.segChecks) this.checkEaRoom(size); // segment limit faults come first
    if (this.alignCheck) this.checkAlignment(this.eaLo, size); // #AC before #PF
    const lastLo = (this.eaLo + size - 1) | 0;
    this.translate(this.eaLo, this.eaHi, ACCESS_WRITE);
    if ((lastLo & ~0xfff) !== (this.eaLo & ~0xfff)) {
      this.translate(lastLo, (lastLo >>> 0) < (this.eaLo >>> 0) ? (this.eaHi + 1) | 0 : this.eaHi, ACCESS_WRITE);
    }
  }

  /** Writes the E operand; for memory, at the address the last readE/ea computed. */
  writeE(e: Insn, size: number, lo: number, hi: number): void {
    if (e.mod === 3) this.setReg(e.rm, size, lo, hi, e.rex);
    else this.writeEA(size, lo, hi);
  }

  // ---- stack --------------------------------------------------------------------------------

  /** Pushes `size` bytes (2, 4 or 8). Faults leave RSP unchanged. */
  push(size: number, lo: number, hi: number): void {
    this.nonCanonicalVector = VEC_SS;
    const spLo = this.lo(4);
    const spHi = this.hi64(4);
    if (this.codeBits === 64) {
      const nLo = (spLo - size) | 0;
      const nHi = (spLo >>> 0) < size ? (spHi - 1) | 0 : spHi;
      this.eaLo = nLo;
      this.eaHi = nHi;
      this.writeEA(size, lo, hi);
      this.set64(4, nLo, nHi);
    } else this.pushLegacy(size, lo, hi, spLo);
  }

  /** push() outside 64-bit mode: SS-relative, ESP or (SS.B = 0) SP wrapping at 64 KiB. */
  private pushLegacy(size: number, lo: number, hi: number, spLo: number): void {
    if (this.stack16) {
      // 16-bit stack: the rest of ESP is kept.
      const n = (spLo - size) & 0xffff;
      this.eaLo = this.linearAddress(SEG_SS, n, 0);
      this.eaHi = 0;
      this.writeEA(size, lo, hi);
      this.setReg(4, 2, n, 0, 0);
    } else {
      const n = (spLo - size) | 0;
      this.eaLo = this.segChecks ? this.linearAddress(SEG_SS, n, 0) : (n + this.segBaseLo(SEG_SS)) | 0;
      this.eaHi = 0;
      this.writeEA(size, lo, hi);
      this.setReg(4, 4, n, 0, 0);
    }
  }

  /** Pops `size` bytes (8: high half in this.hi). */
  pop(size: number): number {
    this.nonCanonicalVector = VEC_SS;
    const spLo = this.lo(4);
    const spHi = this.hi64(4);
    if (this.codeBits === 64) {
      this.eaLo = spLo;
      this.eaHi = spHi;
      const v = this.readEA(size);
      const s = (spLo >>> 0) + size;
      this.set64(4, s | 0, s > 0xffffffff ? (spHi + 1) | 0 : spHi);
      return v;
    }
    return this.popLegacy(size, spLo);
  }

  /** pop() outside 64-bit mode: SS-relative, ESP or (SS.B = 0) SP wrapping at 64 KiB. */
  private popLegacy(size: number, spLo: number): number {
    if (this.stack16) {
      this.eaLo = this.linearAddress(SEG_SS, spLo & 0xffff, 0);
      this.eaHi = 0;
      const v = this.readEA(size);
      this.setReg(4, 2, (spLo + size) & 0xffff, 0, 0);
      return v;
    }
    this.eaLo = this.segChecks ? this.linearAddress(SEG_SS, spLo, 0) : (spLo + this.segBaseLo(SEG_SS)) | 0;
    this.eaHi = 0;
    const v = this.readEA(size);
    this.setReg(4, 4, (spLo + size) | 0, 0, 0);
    return v;
  }

  /** Moves the stack pointer by `delta` bytes (RSP, ESP or SP by the mode and SS.B). */
  adjustSp(delta: number): void {
    const spLo = this.lo(4);
    if (this.codeBits === 64) {
      const s = (spLo >>> 0) + delta;
      this.set64(4, s | 0, (this.hi64(4) + (s < 0 ? -1 : s > 0xffffffff ? 1 : 0)) | 0);
    } else if (this.stack16) this.setReg(4, 2, (spLo + delta) & 0xffff, 0, 0);
    else this.setReg(4, 4, (spLo + delta) | 0, 0, 0);
  }

  /** Sets the stack pointer (outside 64-bit mode: SP alone when SS.B = 0, else ESP). */
  setSp(lo: number, hi: number): void {
    if (this.codeBits === 64) this.set64(4, lo, hi);
    else if (this.stack16) this.setReg(4, 2, lo & 0xffff, 0, 0);
    else this.setReg(4, 4, lo, 0, 0);
  }

  /** Jumps to (lo, hi), truncated to the operand size outside 64-bit code. */
  jump(lo: number, hi: number, size: number): void {
    if (size === 8) {
      if (hi >> 15 !== 0 && hi >> 15 !== -1) this.fault(13, 0); // non-canonical target: #GP at the branch
      this.nextLo = lo;
      this.nextHi = hi;
    } else {
      this.nextLo = size === 2 ? lo & 0xffff : lo;
      this.nextHi = 0;
      if (this.segChecks) this.checkBranchTarget();
    }
  }

  /** Outside 64-bit mode a branch target beyond CS's limit faults at the branch (#GP(0)). */
  private checkBranchTarget(): void {
    if ((this.nextLo >>> 0) > (this.i32[I_CS_LIMIT]! >>> 0)) this.fault(13, 0);
  }

  /** Adds a signed displacement to the next RIP (relative branches). */
  jumpRelative(disp: number, size: number): void {
    const s = (this.nextLo >>> 0) + (disp >>> 0);
    const lo = s | 0;
    const hi = (this.nextHi + (disp < 0 ? -1 : 0) + (s > 0xffffffff ? 1 : 0)) | 0;
    this.jump(lo, hi, this.codeBits === 64 ? 8 : size);
  }

  // ---- the loop -----------------------------------------------------------------------------

  /** Fetches and decodes the instruction at RIP (cached by physical address). */
  private fetch(ripLo: number, ripHi: number): CachedInsn {
    let linLo = ripLo;
    let linHi = ripHi;
    if (this.codeBits !== 64) {
      // CS limit (SDM Vol. 3A 5.3): the first byte here, the last one once the length is known.
      if (this.segChecks && (ripLo >>> 0) > (this.i32[I_CS_LIMIT]! >>> 0)) this.fault(13, 0);
      linLo = (ripLo + this.segBaseLo(1)) | 0;
      linHi = 0;
    }
    const phys = this.translate(linLo, linHi, ACCESS_EXEC);
    this.noteExecPage(linLo, linHi);
    const page = Math.floor(phys / 4096);
    const off = phys & 0xfff;
    const bits = this.codeBits;
    const cached = this.codePages[page] as (CachedInsn | undefined)[] | undefined;
    const hit = cached?.[off];
    if (hit !== undefined && hit.mode === bits && (!hit.crossPage || this.secondPageValid(hit, linLo, linHi, off))) {
      if (this.segChecks) this.checkCodeLimit(ripLo, hit.length);
      return hit;
    }
    if (phys >= this.ramSize) return this.fetchFromBus(ripLo, linLo, linHi, bits);
    // Decode from the page; on NEED_MORE fetch the next page through the MMU (which may fault).
    // Decoded straight into the new cache entry (decode() overwrites every field).
    const d = new CachedInsn();
    let crossing = false;
    decode(this.u8, RAM_OFFSET + phys, 4096 - off, bits, d);
    if (d.status === DECODE_NEED_MORE) {
      const first = 4096 - off;
      const buf = this.fetchBuf;
      buf.set(this.u8.subarray(RAM_OFFSET + phys, RAM_OFFSET + phys + first));
      const nLo = (linLo + first) | 0;
      const nHi = (linLo >>> 0) + first > 0xffffffff ? (linHi + 1) | 0 : linHi;
      const phys2 = this.translate(nLo, nHi, ACCESS_EXEC);
      if (phys2 >= this.ramSize) this.fault(13, 0);
      buf.set(this.u8.subarray(RAM_OFFSET + phys2, RAM_OFFSET + phys2 + 16), first);
      decode(buf, 0, first + 16, bits, d);
      this.noteExecPage(nLo, nHi);
      const page2 = Math.floor(phys2 / 4096);
      d.crossPage = true;
      d.page2 = page2;
      d.gen2 = this.codeGen[page2]!;
      crossing = true;
    }
    if (d.status === DECODE_TOO_LONG) this.fault(13, 0);
    const e = d;
    if (d.status !== DECODE_OK) {
      e.exec = raiseUD;
    } else {
      const [handler, aux] = bindHandler(e);
      e.exec = handler;
      e.aux = aux;
    }
    const list = (this.codePages[page] ??= []) as (CachedInsn | undefined)[];
    list[off] = e;
    this.hasCode[page] = 1;
    if (crossing) this.hasCode[e.page2] = 1; // a write to the second page must be seen too
    if (this.segChecks) this.checkCodeLimit(ripLo, e.length);
    return e;
  }

  /** The instruction at `ripLo` of `length` bytes must end inside CS (#GP(0) otherwise). */
  private checkCodeLimit(ripLo: number, length: number): void {
    if (this.codeBits !== 64 && (ripLo >>> 0) + length - 1 > (this.i32[I_CS_LIMIT]! >>> 0)) this.fault(13, 0);
  }

  /**
   * Fetches an instruction from outside RAM (a ROM or other device on the physical bus, such
   * as firmware at the reset vector FFFFFFF0): its bytes are read through the bus, one at a
   * time through the MMU, and decoded afresh each time (never cached: a device's contents are
   * not tracked). Unmapped addresses read as all ones (FF FF ...: #UD), as on a PC.
   */
  private fetchFromBus(ripLo: number, linLo: number, linHi: number, bits: 16 | 32 | 64): CachedInsn {
    const buf = this.fetchBuf;
    const e = new CachedInsn();
    // The bytes up to the end of the page first; the next page only if the decoder needs it.
    const first = Math.min(16, 4096 - (linLo & 0xfff));
    for (let n = first, from = 0; ; n = 16) {
      for (let i = from; i < n; i++) {
        const s = (linLo >>> 0) + i;
        const lo = bits === 64 ? s | 0 : (linLo + i) | 0;
        const hi = bits === 64 && s > 0xffffffff ? (linHi + 1) | 0 : linHi;
        buf[i] = this.physRead8(this.translate(lo, hi, ACCESS_EXEC));
      }
      decode(buf, 0, n, bits, e);
      if (e.status !== DECODE_NEED_MORE || n === 16) break;
      from = n;
    }
    if (e.status === DECODE_TOO_LONG) this.fault(13, 0);
    if (e.status !== DECODE_OK) e.exec = raiseUD;
    else {
      const [handler, aux] = bindHandler(e);
      e.exec = handler;
      e.aux = aux;
    }
    if (this.segChecks) this.checkCodeLimit(ripLo, e.length);
    return e;
  }

  /**
   * A cached instruction that crosses pages is still what the bytes say: its second page
   * translates (which may fault, as fetching it would) to the same physical page, unwritten
   * since the decode.
   */
  private secondPageValid(e: CachedInsn, linLo: number, linHi: number, off: number): boolean {
    const first = 4096 - off;
    const nLo = (linLo + first) | 0;
    const nHi = (linLo >>> 0) + first > 0xffffffff ? (linHi + 1) | 0 : linHi;
    const phys2 = this.translate(nLo, nHi, ACCESS_EXEC);
    this.noteExecPage(nLo, nHi);
    return phys2 < this.ramSize && Math.floor(phys2 / 4096) === e.page2 && this.codeGen[e.page2] === e.gen2;
  }

  /** Executes up to `budget` instructions. Returns a STOP_* reason. */
  run(budget: number): number {
    const i32 = this.i32;
    let executed = 0;
    // The instruction to run next when a link says so (no fetch needed).
    let e: CachedInsn | undefined;
    // The previous instruction and how it left (to link it to what runs next).
    let previous: CachedInsn | undefined;
    let previousFell = false;
    const endLo = this.endLo;
    const endHi = this.endHi;
    let long = i32[I_CODE_BITS] === 64;
    // No try/finally around the loop: its exits stay on paths the optimiser has seen.
    let stop = STOP_BUDGET;
    // RIP of the next instruction, kept in locals: only exec (through nextLo/nextHi), the
    // attention boundary and exception delivery change it, and those paths reload it.
    let ripLo = i32[I_RIP]!;
    let ripHi = i32[I_RIP + 1]!;
    while (executed < budget) {
      if (ripLo === endLo && ripHi === endHi) {
        stop = STOP_END;
        break;
      }
      if (i32[I_ATTENTION] !== 0) {
        e = undefined;
        previous = undefined;
        long = i32[I_CODE_BITS] === 64; // modes change only with the attention word raised
        const next = this.attention();
        ripLo = i32[I_RIP]!;
        ripHi = i32[I_RIP + 1]!;
        if (next === BOUNDARY_DELIVERED) continue;
        if (next !== BOUNDARY_RUN) {
          stop = next;
          break;
        }
      }
      try {
        if (e === undefined) {
          // The target cache first (returns and indirect branches whose link points elsewhere).
          const slot = (ripLo ^ (ripLo >>> 10)) & TARGET_MASK;
          const cached = this.targetInsn[slot];
          if (cached !== undefined && this.targetLo[slot] === ripLo && this.targetHi[slot] === ripHi && this.targetEpoch[slot] === this.codeEpoch) {
            e = cached;
          } else {
            e = this.fetch(ripLo, ripHi);
            this.targetInsn[slot] = e;
            this.targetLo[slot] = ripLo;
            this.targetHi[slot] = ripHi;
            this.targetEpoch[slot] = this.codeEpoch;
          }
          if (previous !== undefined) {
            if (previousFell) {
              previous.next = e;
              previous.nextEpoch = this.codeEpoch;
            } else {
              previous.branch = e;
              previous.branchEpoch = this.codeEpoch;
              previous.branchLo = ripLo;
              previous.branchHi = ripHi;
            }
          }
        }
        const s = (ripLo >>> 0) + e.length;
        const fallLo = s | 0;
        this.nextLo = fallLo;
        this.nextHi = !long ? 0 : s > 0xffffffff ? (ripHi + 1) | 0 : ripHi;
        this.nonCanonicalVector = 13; // #SS only while an access is SS-relative
        e.exec(this, e);
        const nextLo = this.nextLo;
        const nextHi = this.nextHi;
        i32[I_RIP] = nextLo;
        i32[I_RIP + 1] = nextHi;
        ripLo = nextLo;
        ripHi = nextHi;
        executed++;
        // Follow a link when it is still valid (no code written, no translation changed).
        const epoch = this.codeEpoch;
        previous = e;
        if (nextLo === fallLo) {
          previousFell = true;
          e = e.nextEpoch === epoch ? e.next : undefined;
        } else {
          previousFell = false;
          e = e.branchEpoch === epoch && e.branchLo === nextLo && e.branchHi === nextHi ? e.branch : undefined;
        }
      } catch (err) {
        e = undefined;
        previous = undefined;
        executed++;
        const next = this.exception(err);
        ripLo = i32[I_RIP]!;
        ripHi = i32[I_RIP + 1]!;
        if (next !== BOUNDARY_RUN) {
          if (next === STOP_INTERNAL_ERROR) executed--; // the instruction did not run
          stop = next;
          break;
        }
      }
    }
    this.instructions += executed;
    return stop;
  }

  /**
   * The instruction boundary with the attention word raised: single-step trap, interrupt
   * shadow, NMI, maskable interrupts, shutdown and HLT. Returns BOUNDARY_RUN (execute the
   * next instruction), BOUNDARY_DELIVERED (an event was delivered: look again) or a STOP_*
   * reason. Kept out of run() so that its rarely taken paths never deoptimise the loop.
   */
  private attention(): number {
    const i32 = this.i32;
    i32[I_ATTENTION] = 0;
    if (this.singleStep && !this.interruptShadow) {
      // Single-step trap (SDM Vol. 3B 18.3.1.4): TF was set when the instruction that
      // just completed started. #DB with DR6.BS, RIP after that instruction. It comes
      // before external interrupts; delivery clears TF, so the handler is not stepped.
      // After MOV SS/POP SS (the shadow) it waits one more instruction.
      this.singleStep = false;
      i32[(DR >> 2) + 12] = i32[(DR >> 2) + 12]! | DR6_BS;
      if (this.stopOnFault) {
        this.stopVector = 1;
        this.stopError = -1;
        return STOP_FAULT;
      }
      if (!this.raiseOrShutdown(1, -1, false)) return STOP_SHUTDOWN;
      i32[I_ATTENTION] = 1;
      return BOUNDARY_DELIVERED;
    }
    if (this.interruptShadow) {
      this.interruptShadow = false;
      i32[I_ATTENTION] = 1; // look again after the next instruction
    } else if (this.nmiPending && !this.nmiBlocked) {
      // NMI: not masked by IF, blocked until the handler's IRET (SDM Vol. 3A 6.7.1).
      this.nmiPending = false;
      this.nmiBlocked = true;
      this.halted = false;
      return this.raiseOrShutdown(2, -1, true) ? BOUNDARY_DELIVERED : STOP_SHUTDOWN;
    } else if (this.interrupts?.hasInterrupt() && (this.getFlags() & IF) !== 0) {
      this.halted = false;
      return this.raiseOrShutdown(this.interrupts.acknowledge(), -1, true) ? BOUNDARY_DELIVERED : STOP_SHUTDOWN;
    }
    if (this.shutdown) return STOP_SHUTDOWN;
    if (this.isHalted) {
      i32[I_ATTENTION] = 1; // still halted: look again next time
      return STOP_HALT;
    }
    if ((i32[I_RFLAGS]! & TF) !== 0 && !this.interruptShadow) {
      // The next instruction runs with TF set: trap after it (the attention word stays
      // raised while single-stepping, so this boundary check runs after every step).
      this.singleStep = true;
      i32[I_ATTENTION] = 1;
    }
    return BOUNDARY_RUN;
  }

  /**
   * An exception thrown by the current instruction: delivered through the IDT (BOUNDARY_RUN),
   * or a STOP_* reason (tests' stopOnFault, a triple fault, an emulator bug).
   */
  private exception(err: unknown): number {
    if (err !== CPU_FAULT) {
      // An emulator bug must not take the host down: stop with a clear report.
      this.internalError = err instanceof Error ? err : new Error(String(err));
      return STOP_INTERNAL_ERROR;
    }
    this.singleStep = false; // the instruction did not complete: no single-step trap
    if (this.stopOnFault) {
      this.stopVector = this.faultVector;
      this.stopError = this.faultError;
      return STOP_FAULT;
    }
    return this.raiseOrShutdown(this.faultVector, this.faultError, false) ? BOUNDARY_RUN : STOP_SHUTDOWN;
  }

  /** raise() for an event at an instruction boundary; a triple fault marks the CPU shut down. */
  private raiseOrShutdown(vector: number, errorCode: number, external: boolean): boolean {
    if (this.raise(vector, errorCode, false, external)) return true;
    this.shutdown = true;
    return false;
  }

  /**
   * Delivers an exception or interrupt through the IDT, escalating to #DF and to a triple
   * fault (returns false: shutdown) as the SDM says. RIP in the state block is the return address.
   */
  raise(vector: number, errorCode: number, software: boolean, external = false): boolean {
    // INT n and external interrupts are benign first events (SDM Table 6-4): a fault while
    // delivering them is handled on its own, never as #DF; they push no error code.
    let benign = software || external;
    for (;;) {
      try {
        deliver(this, vector, hasErrorCode(vector) && !benign ? Math.max(errorCode, 0) : -1, software);
        return true;
      } catch (err) {
        if (err !== CPU_FAULT) throw err;
        if (vector === VEC_DF) return false; // triple fault
        const second = this.faultVector;
        if (software) {
          // The fault belongs to the INT instruction itself: report it there.
          this.i32[I_RIP] = this.softwareIntLo;
          this.i32[I_RIP + 1] = this.softwareIntHi;
        }
        if (!benign && isDoubleFault(vector, second)) {
          vector = VEC_DF;
          errorCode = 0;
        } else {
          vector = second; // the second exception is handled instead
          errorCode = this.faultError;
        }
        software = false;
        benign = false;
      }
    }
  }

  /** RIP of the INT n instruction being delivered (for a fault during its delivery). */
  softwareIntLo = 0;
  softwareIntHi = 0;
}

function raiseUD(cpu: Cpu): void {
  cpu.fault(VEC_UD);
}

/** Sign-extends the low `size` bytes of a value to int32 (size 1, 2 or 4). */
export function signExtend(value: number, size: number): number {
  return size === 1 ? (value << 24) >> 24 : size === 2 ? (value << 16) >> 16 : value | 0;
}

export function sizeMask(size: number): number {
  return SIZE_MASK[size]!;
}

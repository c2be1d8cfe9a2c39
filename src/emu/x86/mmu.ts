/**
 * Guest memory as the CPU sees it: physical RAM inside the VM's WebAssembly.Memory, MMIO
 * callbacks for the rest, paging (32-bit, PAE and 4-level long mode; Intel SDM Vol. 3A, chapter 4)
 * and a direct-mapped software TLB (STYLE.md point 8).
 *
 * Linear addresses travel as (lo, hi) int32 pairs. A TLB entry caches one 4 KiB linear page with
 * the permissions of the whole walk; the fast path of every access is a tag compare and a
 * DataView load or store. Pages holding decoded instructions are tracked so that a write to
 * one drops its decoded code (self-modifying code).
 *
 * Alignment checking (SDM Vol. 3A 6.15, #AC): while CR0.AM, EFLAGS.AC and CPL 3 are all set
 * (`alignCheck`), the inline fast paths are switched off (their TLB masks are zero) and every
 * 16/32/64-bit access checks its natural alignment in the slow path before translating; at CPL
 * 0-2, where the kernel runs, the fast paths are unchanged. An instruction whose operand is made
 * of several pieces checks each piece at its own size, which gives the SDM's Table 6-7 rules
 * (a 48-bit far pointer: 4; an 80-bit x87 value: 8; SGDT's limit and base: 2 and 4/8).
 *
 * Not supported yet (segment limits are checked in cpu.ts, before translation): PCID, protection keys, SMEP/SMAP, 1 GiB pages above
 * the RAM size, RAM above 4 GiB.
 */
import {
  CR0, CR3, CR4, EFER, RAM_OFFSET, TLB_ENTRIES, TLB_FLAGS, TLB_PHYS, TLB_TAG_HI, TLB_TAG_LO, CR2, ATTENTION, RFLAGS,
} from '../state-layout.ts';

import { VEC_AC, VEC_GP, VEC_PF } from './exceptions.ts';
import { AC } from './flags.ts';

/** CR0, CR4 and EFER bits the MMU reads. */
export const CR0_PE = 1 << 0;
/** Monitor coprocessor: WAIT/FWAIT raise #NM when TS is set. */
export const CR0_MP = 1 << 1;
/** Emulation: x87 and MMX instructions raise #NM, SSE instructions #UD. */
export const CR0_EM = 1 << 2;
/** Task switched: the first x87/MMX/SSE instruction raises #NM (lazy FPU switching). */
export const CR0_TS = 1 << 3;
/** Numeric error: unmasked x87 exceptions are reported as #MF (else through FERR#/IRQ 13). */
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
/** Alignment mask: with EFLAGS.AC at CPL 3, misaligned data accesses raise #AC(0). */
export const CR0_AM = 1 << 18;
export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
/** The OS supports FXSAVE/FXRSTOR: SSE instructions are enabled (else #UD). */
export const CR4_OSFXSR = 1 << 9;
/** The OS handles #XM: unmasked SIMD floating-point exceptions raise #XM (else #UD). */
export const CR4_OSXMMEXCPT = 1 << 10;
export const EFER_SCE = 1 << 0;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

/** Page-table entry bits. */
const PTE_P = 1;
const PTE_RW = 2;
const PTE_US = 4;
const PTE_A = 0x20;
const PTE_D = 0x40;
const PTE_PS = 0x80;
const PTE_G = 0x100;

/** TLB entry flags: which accesses may use the entry without a walk. */
export const TLB_READ = 1;
export const TLB_WRITE = 2;
export const TLB_EXEC = 4;
export const TLB_USER_READ = 8;
export const TLB_USER_WRITE = 16;
export const TLB_USER_EXEC = 32;
export const TLB_GLOBAL = 64;
/** Bits 7-8: the entry is a 4 KiB piece of a larger page (1: 2 MiB, 2: 1 GiB, 3: 4 MiB). */
const TLB_LARGE_SHIFT = 7;
const TLB_LARGE_MASK = 3 << TLB_LARGE_SHIFT;
const LARGE_PAGE_SHIFTS = [12, 21, 30, 22];
/** Capacity of Mmu's list of distinct large pages in the TLB. */
const LARGE_PAGES_MAX = 64;

/** Access kinds for translate(). */
export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXEC = 2;

/** #PF error-code bits (SDM Vol. 3A, 4.7). */
export const PF_PRESENT = 1;
export const PF_WRITE = 2;
export const PF_USER = 4;
export const PF_RSVD = 8;
export const PF_FETCH = 16;

export { VEC_GP, VEC_PF } from './exceptions.ts';

// Int32 indexes of the TLB arrays as literals (folded by V8 into the fast paths), checked
// against state-layout.ts at load.
const T_TAG_LO = 0x4000;
const T_TAG_HI = 0x5000;
const T_PHYS = 0x6000;
const T_FLAGS = 0x7000;
const T_MASK = 4095;
if (T_TAG_LO !== TLB_TAG_LO >> 2 || T_TAG_HI !== TLB_TAG_HI >> 2 || T_PHYS !== TLB_PHYS >> 2 ||
  T_FLAGS !== TLB_FLAGS >> 2 || T_MASK !== TLB_ENTRIES - 1) {
  throw new Error('mmu.ts: the literal TLB indexes no longer match state-layout.ts');
}

/** Size - 1 of Mmu.execPages. */
export const EXEC_PAGE_MASK = 4095;

/** Mmu.execPages slot states. */
const EXEC_SLOT_EMPTY = 0;
const EXEC_SLOT_ONE = 1;
const EXEC_SLOT_MANY = 2;

/** Thrown (the one instance) when an instruction raises an exception; see Cpu.fault. */
export const CPU_FAULT = { fault: true };

/** MMIO and unmapped physical addresses. */
export interface PhysBus {
  read(addr: number, size: number): number;
  write(addr: number, size: number, value: number): void;
}

const UNMAPPED: PhysBus = {
  read: (_addr, size) => (size >= 4 ? -1 : (1 << (size * 8)) - 1),
  write: () => {},
};

export class Mmu {
  readonly memory: WebAssembly.Memory;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly dv: DataView;
  readonly ramSize: number;
  bus: PhysBus = UNMAPPED;

  /**
   * Exception for a non-canonical address: #GP, or #SS while the access is relative to SS
   * (push, pop, and memory operands based on RSP or RBP). Set by the CPU before the access.
   */
  nonCanonicalVector = VEC_GP;
  /**
   * Outside 64-bit mode, segments end at 4 GiB (flat segments: limit 0xFFFFFFFF); an access
   * that runs past it faults (#GP, or #SS for stack accesses) instead of wrapping.
   */
  limit4G = false;

  /** Exception raised by the last fault (vector, error code or -1). */
  faultVector = 0;
  faultError = -1;

  /**
   * Advanced (dropLinks) whenever decoded code or the way linear addresses reach it may have
   * changed (a code page written, a TLB flush, a new code segment outside 64-bit code): links
   * between decoded instructions made under another epoch are not followed. Bit 0 is the
   * privilege (1 at CPL 3; setUserMode): a link made in the kernel is never followed in user
   * mode, where its target might not be executable, so that a privilege change needs no new
   * epoch and kernel and user links both survive system calls and interrupts.
   */
  codeEpoch = 0;

  /** Makes every instruction link stale (and the CPU loop look at its attention word). */
  dropLinks(): void {
    this.i32[ATTENTION >> 2] = 1;
    this.codeEpoch = (this.codeEpoch + 2) | 0;
  }

  /** Decoded instructions by physical page, and which pages have any (SMC detection). */
  codePages: (unknown[] | undefined)[] = [];
  readonly hasCode: Uint8Array;
  /** Per physical page: how many times its decoded code was dropped (instructions that cross pages check it). */
  readonly codeGen: Uint32Array;

  /** Current access masks (depend on CPL). */
  readMask = TLB_READ;
  writeMask = TLB_WRITE;
  execMask = TLB_EXEC;
  userMode = false;
  /**
   * Alignment checking is on (CR0.AM, EFLAGS.AC, CPL 3; see updateAlignCheck): the inline
   * fast paths of read32/read64/write32/write64 use these masks, zero while it is on, so that
   * every data access reaches the slow path and its alignment check.
   */
  alignCheck = false;
  fastReadMask = TLB_READ;
  fastWriteMask = TLB_WRITE;

  constructor(memory: WebAssembly.Memory, ramSize: number) {
    this.memory = memory;
    if (memory.buffer.byteLength < RAM_OFFSET + ramSize) throw new RangeError('WebAssembly.Memory too small for the RAM');
    this.u8 = new Uint8Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    this.dv = new DataView(memory.buffer);
    this.ramSize = ramSize;
    this.hasCode = new Uint8Array(Math.ceil(ramSize / 4096));
    this.codeGen = new Uint32Array(Math.ceil(ramSize / 4096));
    this.flushTlb(true);
  }

  /** Sets which TLB permission bits reads, writes and fetches need (CPL 3 or not). */
  setUserMode(user: boolean): void {
    this.userMode = user;
    this.codeEpoch = (this.codeEpoch & ~1) | (user ? 1 : 0);
    this.readMask = user ? TLB_USER_READ : TLB_READ;
    this.writeMask = user ? TLB_USER_WRITE : TLB_WRITE;
    this.execMask = user ? TLB_USER_EXEC : TLB_EXEC;
    this.updateAlignCheck();
  }

  /**
   * Recomputes `alignCheck` from CR0.AM, EFLAGS.AC and the privilege (SDM Vol. 3A 6.15). Called
   * when any of them changes: setUserMode (CPL), MOV CR0, and setFlags when AC flips. Supervisor
   * accesses made at CPL 3 (descriptor tables, the TSS) run with setUserMode(false): unchecked.
   */
  updateAlignCheck(): void {
    const i32 = this.i32;
    const on = this.userMode && (i32[CR0 >> 2]! & CR0_AM) !== 0 && (i32[RFLAGS >> 2]! & AC) !== 0;
    this.alignCheck = on;
    this.fastReadMask = on ? 0 : this.readMask;
    this.fastWriteMask = on ? 0 : this.writeMask;
  }

  /**
   * #AC(0) if alignment checking is on and a `size`-byte operand at lo is misaligned, for checks
   * made before the access itself (a read-modify-write probes its operand for writing first,
   * and #AC comes before #PF). Sizes as probed: 2, 4, 8; 10 (an 80-bit x87 value: 8); 14/94
   * and 28/108 (x87 environment and FSAVE images: 2 and 4); larger operands are not checked.
   */
  checkAlignment(lo: number, size: number): void {
    const mask = size <= 8 ? size - 1 : size === 10 ? 7 : size === 28 || size === 108 ? 3 : size === 14 || size === 94 ? 1 : 0;
    if ((lo & mask) !== 0 && this.alignCheck) this.misaligned();
  }

  /** A misaligned access while `alignCheck` is set: #AC(0) (after making sure it still applies). */
  private misaligned(): void {
    this.updateAlignCheck();
    if (this.alignCheck) this.fault(VEC_AC, 0);
  }

  // ---- TLB -------------------------------------------------------------------------------

  /**
   * Linear pages code was fetched from, hashed (page & EXEC_PAGE_MASK): instruction links
   * depend only on their translations, so INVLPG of any other page keeps every link (Linux
   * INVLPGs data pages by the tens of thousands while it boots). A slot is EXEC_SLOT_EMPTY,
   * EXEC_SLOT_ONE (the page in execTagLo/execTagHi) or EXEC_SLOT_MANY (several pages share
   * it: any INVLPG hashing there counts). The exact tags matter: kernel text alone fills
   * half of the slots, and hashed-only hits made one INVLPG in eight drop every link.
   */
  readonly execPages = new Uint8Array(EXEC_PAGE_MASK + 1);
  private readonly execTagLo = new Int32Array(EXEC_PAGE_MASK + 1);
  private readonly execTagHi = new Int32Array(EXEC_PAGE_MASK + 1);

  /** Records that code is fetched from the linear page holding (lo, hi). */
  noteExecPage(lo: number, hi: number): void {
    const slot = (lo >>> 12) & EXEC_PAGE_MASK;
    const state = this.execPages[slot]!;
    if (state === EXEC_SLOT_EMPTY) {
      this.execPages[slot] = EXEC_SLOT_ONE;
      this.execTagLo[slot] = lo >>> 12;
      this.execTagHi[slot] = hi;
    } else if (state === EXEC_SLOT_ONE && (this.execTagLo[slot] !== lo >>> 12 || this.execTagHi[slot] !== hi)) {
      this.execPages[slot] = EXEC_SLOT_MANY;
    }
  }

  /** Whether code may have been fetched from the linear page holding (lo, hi). */
  private isExecPage(lo: number, hi: number): boolean {
    const slot = (lo >>> 12) & EXEC_PAGE_MASK;
    const state = this.execPages[slot]!;
    return state === EXEC_SLOT_MANY ||
      (state === EXEC_SLOT_ONE && this.execTagLo[slot] === lo >>> 12 && this.execTagHi[slot] === hi);
  }

  /** Drops every entry (or every non-global one). */
  flushTlb(includingGlobal: boolean): void {
    const i32 = this.i32;
    this.execPages.fill(EXEC_SLOT_EMPTY);
    this.dropLinks(); // instruction links assume unchanged translations
    const tag = TLB_TAG_LO >> 2;
    const flags = TLB_FLAGS >> 2;
    for (let i = 0; i < TLB_ENTRIES; i++) {
      if (includingGlobal || (i32[flags + i]! & TLB_GLOBAL) === 0) i32[tag + i] = -1;
    }
    this.compactLargeSlots();
  }

  /**
   * TLB slots that may hold a piece of a large page (each listed once), so that INVLPG visits
   * only those instead of the whole TLB. Slots whose entry is gone or no longer large are
   * dropped from the list when it is walked.
   */
  private readonly largeSlots = new Int32Array(TLB_ENTRIES);
  private readonly largeListed = new Uint8Array(TLB_ENTRIES);
  private largeCount = 0;

  private compactLargeSlots(): void {
    const i32 = this.i32;
    let n = 0;
    for (let k = 0; k < this.largeCount; k++) {
      const i = this.largeSlots[k]!;
      if (i32[T_TAG_LO + i] !== -1 && (i32[T_FLAGS + i]! & TLB_LARGE_MASK) !== 0) this.largeSlots[n++] = i;
      else this.largeListed[i] = 0;
    }
    this.largeCount = n;
    if (n === 0) {
      this.largePageCount = 0;
      this.largePagesOverflow = false;
    }
  }

  /**
   * The distinct large pages whose pieces may be in the TLB (a superset: entries leave only
   * when no piece is left at all), so that INVLPG of an address outside all of them skips the
   * slot scan: Linux INVLPGs 4 KiB pages by the tens of thousands while hundreds of
   * large-page pieces sit in the TLB. Up to LARGE_PAGES_MAX; beyond that every INVLPG scans.
   */
  private readonly largePageTag = new Int32Array(LARGE_PAGES_MAX);
  private readonly largePageHi = new Int32Array(LARGE_PAGES_MAX);
  private readonly largePageShift = new Int32Array(LARGE_PAGES_MAX);
  private largePageCount = 0;
  private largePagesOverflow = false;

  private noteLargePage(lo: number, hi: number, shift: number): void {
    const tag = lo >>> shift;
    for (let k = 0; k < this.largePageCount; k++) {
      if (this.largePageTag[k] === tag && this.largePageHi[k] === hi && this.largePageShift[k] === shift) return;
    }
    if (this.largePageCount === LARGE_PAGES_MAX) {
      this.largePagesOverflow = true;
      return;
    }
    this.largePageTag[this.largePageCount] = tag;
    this.largePageHi[this.largePageCount] = hi;
    this.largePageShift[this.largePageCount++] = shift;
  }

  /** Whether (lo, hi) may lie in a large page with pieces in the TLB. */
  private inLargePage(lo: number, hi: number): boolean {
    if (this.largePagesOverflow) return true;
    for (let k = 0; k < this.largePageCount; k++) {
      if (this.largePageHi[k] === hi && lo >>> this.largePageShift[k]! === this.largePageTag[k]) return true;
    }
    return false;
  }

  /** Size code of the page the current walk ends in (see TLB_LARGE_SHIFT). */
  private walkSize = 0;

  /** INVLPG: drops the translation of the page holding (lo, hi), a large page included. */
  flushPage(lo: number, hi: number): void {
    const i32 = this.i32;
    if (this.isExecPage(lo, hi)) {
      // A page code came from: links into it may now be stale.
      this.dropLinks();
    }
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    if (i32[T_TAG_LO + idx] === lo >>> 12 && i32[T_TAG_HI + idx] === hi) i32[T_TAG_LO + idx] = -1;
    if (this.largeCount === 0 || !this.inLargePage(lo, hi)) return;
    // A large page is cached as 4 KiB pieces in many slots: drop every piece of a large page
    // that contains this address (the listed slots are the only candidates).
    let droppedLarge = false;
    for (let k = 0; k < this.largeCount; k++) {
      const i = this.largeSlots[k]!;
      const size = (i32[T_FLAGS + i]! & TLB_LARGE_MASK) >>> TLB_LARGE_SHIFT;
      if (size === 0 || i32[T_TAG_LO + i] === -1 || i32[T_TAG_HI + i] !== hi) continue;
      const shift = LARGE_PAGE_SHIFTS[size]!;
      if (i32[T_TAG_LO + i]! >>> (shift - 12) === lo >>> shift) {
        i32[T_TAG_LO + i] = -1;
        droppedLarge = true;
      }
    }
    this.compactLargeSlots();
    if (droppedLarge) {
      // Code elsewhere in the large page may have been fetched through it: drop every link.
      this.dropLinks();
    }
  }

  /** Physical address of linear (lo, hi) for an access, or -1 when the TLB has no usable entry. */
  private tlbLookup(lo: number, hi: number, mask: number): number {
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    const i32 = this.i32;
    if (i32[(TLB_TAG_LO >> 2) + idx] === lo >>> 12 && i32[(TLB_TAG_HI >> 2) + idx] === hi &&
      (i32[(TLB_FLAGS >> 2) + idx]! & mask) !== 0) {
      return (i32[(TLB_PHYS >> 2) + idx]! | (lo & 0xfff)) >>> 0;
    }
    return -1;
  }

  /** Translates a linear address (walking the page tables on a TLB miss). Faults with #PF / #GP. */
  translate(lo: number, hi: number, access: number): number {
    const mask = access === ACCESS_READ ? this.readMask : access === ACCESS_WRITE ? this.writeMask : this.execMask;
    const hit = this.tlbLookup(lo, hi, mask);
    if (hit >= 0) return hit;
    return this.walk(lo, hi, access);
  }

  private walk(lo: number, hi: number, access: number): number {
    const i32 = this.i32;
    const cr0 = i32[CR0 >> 2]!;
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    if ((cr0 & CR0_PG) === 0) {
      // No paging: linear = physical (32 bits outside long mode).
      this.fillTlb(idx, lo, hi, lo & ~0xfff, 0x3f);
      return lo >>> 0;
    }
    const cr4 = i32[CR4 >> 2]!;
    const efer = i32[EFER >> 2]!;
    const longMode = (efer & EFER_LMA) !== 0;
    this.walkSize = 0;
    if (longMode && (hi >> 15 !== 0 && hi >> 15 !== -1)) this.fault(this.nonCanonicalVector, 0);
    const nxe = (efer & EFER_NXE) !== 0;
    const write = access === ACCESS_WRITE;
    const user = this.userMode;
    let rw = true;
    let us = true;
    let nx = false;
    let global = false;
    let phys: number;
    let pteAddr: number;
    let pte: number;
    const errBase = (write ? PF_WRITE : 0) | (user ? PF_USER : 0) | (access === ACCESS_EXEC && nxe && (cr4 & CR4_PAE) !== 0 ? PF_FETCH : 0);
    const pf = (present: boolean, rsvd = false): never => {
      this.i32[CR2 >> 2] = lo;
      this.i32[(CR2 >> 2) + 1] = hi;
      return this.fault(VEC_PF, errBase | (present ? PF_PRESENT : 0) | (rsvd ? PF_RSVD : 0));
    };
    if (cr4 & CR4_PAE) {
      // PAE or 4-level: 8-byte entries; the high halves carry NX and address bits 32+.
      const cr3 = i32[CR3 >> 2]! & ~0xfff;
      const levels = longMode ? 4 : 3;
      let table = longMode ? cr3 : (i32[CR3 >> 2]! & ~0x1f);
      const shifts = [39, 30, 21, 12];
      for (let level = 4 - levels; level < 4; level++) {
        const shift = shifts[level]!;
        let index: number;
        if (level === 0) index = (hi >>> 7) & 0x1ff; // bits 47:39
        else if (level === 1) index = levels === 3 ? (lo >>> 30) & 3 : ((hi & 0x7f) << 2) | (lo >>> 30); // bits 38:30
        else index = (lo >>> shift) & 0x1ff;
        pteAddr = (table + index * 8) >>> 0;
        pte = this.physRead32(pteAddr);
        const pteHi = this.physRead32(pteAddr + 4);
        if ((pte & PTE_P) === 0) return pf(false);
        const isPdpte3 = levels === 3 && level === 1;
        if (!isPdpte3) {
          if ((pte & PTE_RW) === 0) rw = false;
          if ((pte & PTE_US) === 0) us = false;
          if (nxe && pteHi < 0) nx = true;
          if ((pte & PTE_A) === 0) this.physWrite32(pteAddr, pte | PTE_A);
        }
        const large = (pte & PTE_PS) !== 0 && (level === 2 || (level === 1 && longMode));
        if (level === 3 || large) {
          const pageShift = level === 3 ? 12 : level === 2 ? 21 : 30;
          const frameMask = ~((1 << pageShift) - 1 >>> 0) | 0;
          // Address bits 32-51 come from the high half (no RAM there in this version: MMIO/unmapped).
          // Below 4 GiB the address is the uint32 alone: unboxed-integer arithmetic keeps it a
          // small integer, not a heap number (one would reach the decoder through fetch() and turn
          // CachedInsn.length into a boxed double field, read on every instruction).
          const frame = ((pte & frameMask) | (lo & ((1 << pageShift) - 1) & ~0xfff)) >>> 0;
          phys = (pteHi & 0xfffff) === 0 ? frame : (pteHi & 0xfffff) * 0x1_0000_0000 + frame;
          global = (pte & PTE_G) !== 0 && (cr4 & CR4_PGE) !== 0;
          this.walkSize = level === 3 ? 0 : level === 2 ? 1 : 2;
          return this.finishWalk(idx, lo, hi, access, phys, pteAddr, pte, rw, us, nx, global, cr0, errBase, pf);
        }
        table = (pte & ~0xfff) >>> 0;
      }
      throw new Error('unreachable');
    }
    // 32-bit paging: 4-byte entries, 4 MiB pages with CR4.PSE.
    const pdeAddr = ((i32[CR3 >> 2]! & ~0xfff) + ((lo >>> 22) << 2)) >>> 0;
    const pde = this.physRead32(pdeAddr);
    if ((pde & PTE_P) === 0) return pf(false);
    rw = (pde & PTE_RW) !== 0;
    us = (pde & PTE_US) !== 0;
    if ((pde & PTE_A) === 0) this.physWrite32(pdeAddr, pde | PTE_A);
    if ((pde & PTE_PS) && (cr4 & CR4_PSE)) {
      phys = ((pde & 0xffc00000) | (lo & 0x3ff000)) >>> 0;
      global = (pde & PTE_G) !== 0 && (cr4 & CR4_PGE) !== 0;
      this.walkSize = 3;
      return this.finishWalk(idx, lo, hi, access, phys, pdeAddr, pde, rw, us, false, global, cr0, errBase, pf);
    }
    pteAddr = ((pde & ~0xfff) + (((lo >>> 12) & 0x3ff) << 2)) >>> 0;
    pte = this.physRead32(pteAddr);
    if ((pte & PTE_P) === 0) return pf(false);
    if ((pte & PTE_RW) === 0) rw = false;
    if ((pte & PTE_US) === 0) us = false;
    if ((pte & PTE_A) === 0) this.physWrite32(pteAddr, pte | PTE_A);
    global = (pte & PTE_G) !== 0 && (cr4 & CR4_PGE) !== 0;
    return this.finishWalk(idx, lo, hi, access, (pte & ~0xfff) >>> 0, pteAddr, pte, rw, us, false, global, cr0, errBase, pf);
  }

  /** Permission checks on the final entry, A/D bits, and the TLB fill. */
  private finishWalk(
    idx: number, lo: number, hi: number, access: number, physPage: number, pteAddr: number, pte: number,
    rw: boolean, us: boolean, nx: boolean, global: boolean, cr0: number, _err: number, pf: (p: boolean) => never,
  ): number {
    const user = this.userMode;
    const wp = (cr0 & CR0_WP) !== 0;
    if (user && !us) pf(true);
    if (access === ACCESS_WRITE && !rw && (user || wp)) pf(true);
    if (access === ACCESS_EXEC && nx) pf(true);
    let dirty = (pte & PTE_D) !== 0;
    if (access === ACCESS_WRITE && !dirty) {
      this.physWrite32(pteAddr, pte | PTE_A | PTE_D);
      dirty = true;
    }
    // Only RAM pages enter the TLB; MMIO goes the slow way every time.
    if (physPage < this.ramSize) {
      let flags = TLB_READ | (nx ? 0 : TLB_EXEC);
      if (dirty && (rw || !wp)) flags |= TLB_WRITE;
      if (us) {
        flags |= TLB_USER_READ | (nx ? 0 : TLB_USER_EXEC);
        if (dirty && rw) flags |= TLB_USER_WRITE;
      }
      if (global) flags |= TLB_GLOBAL;
      if (this.walkSize !== 0) flags |= this.walkSize << TLB_LARGE_SHIFT;
      this.fillTlb(idx, lo, hi, physPage, flags);
      if (this.walkSize !== 0) {
        this.noteLargePage(lo, hi, LARGE_PAGE_SHIFTS[this.walkSize]!);
        if (!this.largeListed[idx]) {
          this.largeListed[idx] = 1;
          this.largeSlots[this.largeCount++] = idx;
        }
      }
    }
    return physPage + (lo & 0xfff);
  }

  private fillTlb(idx: number, lo: number, hi: number, physPage: number, flags: number): void {
    if (physPage >>> 0 >= this.ramSize) return;
    const i32 = this.i32;
    i32[(TLB_TAG_LO >> 2) + idx] = lo >>> 12;
    i32[(TLB_TAG_HI >> 2) + idx] = hi;
    i32[(TLB_PHYS >> 2) + idx] = physPage;
    i32[(TLB_FLAGS >> 2) + idx] = flags;
  }

  /** Raises an exception: records it and unwinds to the CPU loop. */
  fault(vector: number, error = -1): never {
    this.faultVector = vector;
    this.faultError = error;
    throw CPU_FAULT;
  }

  // ---- physical accesses -------------------------------------------------------------------

  physRead8(addr: number): number {
    return addr < this.ramSize ? this.u8[RAM_OFFSET + addr]! : this.bus.read(addr, 1) & 0xff;
  }

  physRead32(addr: number): number {
    if (addr + 4 <= this.ramSize) return this.dv.getInt32(RAM_OFFSET + addr, true);
    return this.bus.read(addr, 4) | 0;
  }

  physWrite8(addr: number, value: number): void {
    if (addr < this.ramSize) {
      this.u8[RAM_OFFSET + addr] = value;
      if (this.hasCode[addr >>> 12]) this.codeWritten(addr >>> 12);
    } else this.bus.write(addr, 1, value & 0xff);
  }

  physWrite32(addr: number, value: number): void {
    if (addr + 4 <= this.ramSize) {
      this.dv.setInt32(RAM_OFFSET + addr, value, true);
      if (this.hasCode[addr >>> 12] || this.hasCode[(addr + 3) >>> 12]) {
        this.codeWritten(addr >>> 12);
        this.codeWritten((addr + 3) >>> 12);
      }
    } else this.bus.write(addr, 4, value);
  }

  /** A page with decoded instructions was written: drop them (and tell the loop). */
  codeWritten(page: number): void {
    if (!this.hasCode[page]) return;
    this.hasCode[page] = 0;
    this.codeGen[page] = this.codeGen[page]! + 1; // instructions crossing into it are stale
    this.codePages[page] = undefined;
    this.dropLinks();
  }

  // ---- linear accesses ----------------------------------------------------------------------

  read8(lo: number, hi: number): number {
    const p = this.translate(lo, hi, ACCESS_READ);
    return p < this.ramSize ? this.u8[RAM_OFFSET + p]! : this.bus.read(p, 1) & 0xff;
  }

  /** Faults when `size` bytes at lo would run past 4 GiB outside 64-bit mode. */
  private checkLimit4G(lo: number, size: number): void {
    if (this.limit4G && (lo >>> 0) + size - 1 > 0xffffffff) this.fault(this.nonCanonicalVector, 0);
  }

  read16(lo: number, hi: number): number {
    if ((lo & 1) !== 0 && this.alignCheck) this.misaligned();
    if ((lo & 0xfff) > 0xffe) this.checkLimit4G(lo, 2);
    if ((lo & 0xfff) > 0xffe) return this.read8(lo, hi) | (this.read8(lo + 1, lo === -1 ? hi + 1 : hi) << 8);
    const p = this.translate(lo, hi, ACCESS_READ);
    return p + 2 <= this.ramSize ? this.dv.getUint16(RAM_OFFSET + p, true) : this.bus.read(p, 2) & 0xffff;
  }

  read32(lo: number, hi: number): number {
    // Fast path: a TLB hit inside one page (TLB entries only ever map RAM).
    const i32 = this.i32;
    const idx = (lo >>> 12) & T_MASK;
    if ((lo & 0xfff) <= 0xffc && i32[T_TAG_LO + idx] === lo >>> 12 && i32[T_TAG_HI + idx] === hi &&
      (i32[T_FLAGS + idx]! & this.fastReadMask) !== 0) {
      return this.dv.getInt32(RAM_OFFSET + ((i32[T_PHYS + idx]! | (lo & 0xfff)) >>> 0), true);
    }
    if ((lo & 3) !== 0 && this.alignCheck) this.misaligned();
    if ((lo & 0xfff) > 0xffc) this.checkLimit4G(lo, 4);
    if ((lo & 0xfff) > 0xffc) return this.read16(lo, hi) | (this.read16(lo + 2, (lo >>> 0) > 0xfffffffd ? hi + 1 : hi) << 16);
    const p = this.translate(lo, hi, ACCESS_READ);
    return p + 4 <= this.ramSize ? this.dv.getInt32(RAM_OFFSET + p, true) : this.bus.read(p, 4) | 0;
  }

  /** 64-bit read: returns the low half, the high half in `this.hi`. */
  hi = 0;
  read64(lo: number, hi: number): number {
    const i32 = this.i32;
    const idx = (lo >>> 12) & T_MASK;
    if ((lo & 0xfff) <= 0xff8 && i32[T_TAG_LO + idx] === lo >>> 12 && i32[T_TAG_HI + idx] === hi &&
      (i32[T_FLAGS + idx]! & this.fastReadMask) !== 0) {
      const at = RAM_OFFSET + ((i32[T_PHYS + idx]! | (lo & 0xfff)) >>> 0);
      this.hi = this.dv.getInt32(at + 4, true);
      return this.dv.getInt32(at, true);
    }
    if ((lo & 7) !== 0 && this.alignCheck) this.misaligned();
    if ((lo & 0xfff) > 0xff8) this.checkLimit4G(lo, 8);
    const low = this.read32(lo, hi);
    this.hi = this.read32(lo + 4, (lo >>> 0) > 0xfffffffb ? hi + 1 : hi);
    return low;
  }

  write8(lo: number, hi: number, value: number): void {
    const p = this.translate(lo, hi, ACCESS_WRITE);
    this.physWrite8(p, value);
  }

  write16(lo: number, hi: number, value: number): void {
    if ((lo & 1) !== 0 && this.alignCheck) this.misaligned();
    if ((lo & 0xfff) > 0xffe) {
      this.checkLimit4G(lo, 2);
      // Check both pages before writing either (an instruction writes all or nothing).
      this.translate(lo + 1, lo === -1 ? hi + 1 : hi, ACCESS_WRITE);
      this.write8(lo, hi, value);
      this.write8(lo + 1, lo === -1 ? hi + 1 : hi, value >> 8);
      return;
    }
    const p = this.translate(lo, hi, ACCESS_WRITE);
    if (p + 2 <= this.ramSize) {
      this.dv.setUint16(RAM_OFFSET + p, value, true);
      if (this.hasCode[p >>> 12]) this.codeWritten(p >>> 12);
    } else this.bus.write(p, 2, value & 0xffff);
  }

  write32(lo: number, hi: number, value: number): void {
    const i32 = this.i32;
    const idx = (lo >>> 12) & T_MASK;
    if ((lo & 0xfff) <= 0xffc && i32[T_TAG_LO + idx] === lo >>> 12 && i32[T_TAG_HI + idx] === hi &&
      (i32[T_FLAGS + idx]! & this.fastWriteMask) !== 0) {
      const p = (i32[T_PHYS + idx]! | (lo & 0xfff)) >>> 0;
      this.dv.setInt32(RAM_OFFSET + p, value, true);
      if (this.hasCode[p >>> 12]) this.codeWritten(p >>> 12);
      return;
    }
    if ((lo & 3) !== 0 && this.alignCheck) this.misaligned();
    if ((lo & 0xfff) > 0xffc) {
      this.checkLimit4G(lo, 4);
      const hi2 = (lo >>> 0) > 0xfffffffc ? hi + 1 : hi;
      this.translate(lo + 3, hi2, ACCESS_WRITE);
      for (let k = 0; k < 4; k++) this.write8(lo + k, (lo >>> 0) + k > 0xffffffff ? hi + 1 : hi, value >> (8 * k));
      return;
    }
    const p = this.translate(lo, hi, ACCESS_WRITE);
    this.physWrite32(p, value);
  }

  write64(lo: number, hi: number, vLo: number, vHi: number): void {
    const i32 = this.i32;
    const idx = (lo >>> 12) & T_MASK;
    if ((lo & 0xfff) <= 0xff8 && i32[T_TAG_LO + idx] === lo >>> 12 && i32[T_TAG_HI + idx] === hi &&
      (i32[T_FLAGS + idx]! & this.fastWriteMask) !== 0) {
      const p = (i32[T_PHYS + idx]! | (lo & 0xfff)) >>> 0;
      this.dv.setInt32(RAM_OFFSET + p, vLo, true);
      this.dv.setInt32(RAM_OFFSET + p + 4, vHi, true);
      if (this.hasCode[p >>> 12]) this.codeWritten(p >>> 12);
      return;
    }
    if ((lo & 7) !== 0 && this.alignCheck) this.misaligned();
    const hi2 = (lo >>> 0) > 0xfffffffb ? hi + 1 : hi;
    if ((lo & 0xfff) > 0xff8) {
      this.checkLimit4G(lo, 8);
      this.translate(lo, hi, ACCESS_WRITE);
      this.translate(lo + 7, (lo >>> 0) > 0xfffffff8 ? hi + 1 : hi, ACCESS_WRITE);
    }
    this.write32(lo, hi, vLo);
    this.write32(lo + 4, hi2, vHi);
  }
}

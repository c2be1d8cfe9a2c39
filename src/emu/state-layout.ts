/**
 * The CPU-state layout: byte offsets of every piece of guest-visible CPU state inside the VM's
 * one WebAssembly.Memory (STYLE.md point 7). The interpreter reads them through typed-array
 * views; the JIT will emit loads and stores with the same constants.
 *
 * Memory map of the WebAssembly.Memory:
 *
 *   0x00000 .. 0x01000  CPU state (this file)
 *   0x10000 .. 0x20000  software TLB (4 arrays of TLB_ENTRIES x i32)
 *   RAM_OFFSET ..       guest physical RAM
 *
 * 64-bit values are stored little-endian as two 32-bit halves: the low half at the offset, the
 * high half at offset + 4. JavaScript code handles them as (lo, hi) pairs of int32 numbers
 * (never bigint on the hot path); wasm code as i64.
 */

let cursor = 0;
const names = new Map<string, [number, number]>();

function field(name: string, size: number, align = Math.min(size, 8)): number {
  cursor = Math.ceil(cursor / align) * align;
  const offset = cursor;
  names.set(name, [offset, size]);
  cursor += size;
  return offset;
}

/** 16 general registers, 8 bytes each, in SDM order (RAX RCX RDX RBX RSP RBP RSI RDI R8..R15). */
export const GPR = field('gpr', 16 * 8);
export const RIP = field('rip', 8);
/** RFLAGS without the six arithmetic flags while lazy flags are pending (see flags.ts). */
export const RFLAGS = field('rflags', 4);
/** Lazy arithmetic flags: the operation, its size in bytes, result and operands (64-bit each). */
export const LAZY_OP = field('lazy.op', 4);
export const LAZY_SIZE = field('lazy.size', 4);
export const LAZY_AUX = field('lazy.aux', 4); // carry-in of ADC/SBB, CF kept by INC/DEC
export const LAZY_RES = field('lazy.res', 8);
export const LAZY_DST = field('lazy.dst', 8);
export const LAZY_SRC = field('lazy.src', 8);

/** Segment registers ES CS SS DS FS GS, then LDTR and TR: selector, base (64), limit, attributes. */
export const SEG_STRIDE = 24;
export const SEG_SELECTOR = 0;
export const SEG_BASE = 8;
export const SEG_LIMIT = 16;
export const SEG_ATTRS = 20;
export const SEGS = field('segs', 8 * SEG_STRIDE);
export const SEG_LDTR_INDEX = 6;
export const SEG_TR_INDEX = 7;
export const GDTR_BASE = field('gdtr.base', 8);
export const GDTR_LIMIT = field('gdtr.limit', 4);
export const IDTR_LIMIT = field('idtr.limit', 4);
export const IDTR_BASE = field('idtr.base', 8);

export const CR0 = field('cr0', 4);
export const CR4 = field('cr4', 4);
export const CR2 = field('cr2', 8);
export const CR3 = field('cr3', 8);
export const CR8 = field('cr8', 4);
export const EFER = field('efer', 4);
export const DR = field('dr0-7', 8 * 8);
/** Current privilege level (0-3) and the code size (16, 32 or 64). */
export const CPL = field('cpl', 4);
export const CODE_BITS = field('code.bits', 4);

/** MSRs of MACHINE.md, 8 bytes each. */
export const MSR_STAR = field('msr.star', 8);
export const MSR_LSTAR = field('msr.lstar', 8);
export const MSR_CSTAR = field('msr.cstar', 8);
export const MSR_SFMASK = field('msr.sfmask', 8);
export const MSR_KERNEL_GS_BASE = field('msr.kernel_gs_base', 8);
export const MSR_TSC_OFFSET = field('msr.tsc_offset', 8);
export const MSR_PAT = field('msr.pat', 8);
export const MSR_SYSENTER_CS = field('msr.sysenter_cs', 8);
export const MSR_SYSENTER_ESP = field('msr.sysenter_esp', 8);
export const MSR_SYSENTER_EIP = field('msr.sysenter_eip', 8);
export const MSR_APIC_BASE = field('msr.apic_base', 8);
export const MSR_KVM_WALL_CLOCK = field('msr.kvm_wall_clock', 8);
export const MSR_KVM_SYSTEM_TIME = field('msr.kvm_system_time', 8);
export const MSR_TSC_AUX = field('msr.tsc_aux', 8);

/** SSE state: XMM0-15 (16 bytes each) and MXCSR. */
export const XMM = field('xmm', 16 * 16, 16);
export const MXCSR = field('mxcsr', 4);

/**
 * Set non-zero by anything that needs the CPU loop's attention at the next instruction
 * boundary (interrupt raised, code page written, pause request). Compiled code polls it at
 * block exits.
 */
export const ATTENTION = field('attention', 4);

/**
 * x87 FPU state (Intel SDM Vol. 1, 8.1). The eight physical registers R0-R7, 16 bytes each:
 * bytes 0-7 the 64-bit significand (with the explicit integer bit 63), bytes 8-9 the sign (bit
 * 15) and the 15-bit biased exponent, bytes 10-15 unused. ST(i) is R[(TOP + i) & 7]. The MMX
 * register MMi is the significand of R_i; an MMX write also sets R_i's bytes 8-9 to 0xFFFF.
 */
export const FPU_REGS = field('fpu.regs', 8 * 16, 16);
/** Control word (FCW). */
export const FPU_FCW = field('fpu.fcw', 4);
/** Status word (FSW) including TOP in bits 11-13. */
export const FPU_FSW = field('fpu.fsw', 4);
/**
 * Abridged tag byte, as FXSAVE stores it: bit i set when R_i is not empty. The full 2-bit tags
 * (valid, zero, special) are derived from the register contents (FSTENV, FSAVE).
 */
export const FPU_TAGS = field('fpu.tags', 4);
/** Last x87 opcode (11 bits), instruction pointer and data pointer (with their selectors). */
export const FPU_FOP = field('fpu.fop', 4);
export const FPU_FIP = field('fpu.fip', 8);
export const FPU_FDP = field('fpu.fdp', 8);
export const FPU_FCS = field('fpu.fcs', 4);
export const FPU_FDS = field('fpu.fds', 4);
/** Scratch space for SIMD operands (two 16-byte operands and a result), never guest-visible. */
export const SIMD_SCRATCH = field('simd.scratch', 64, 16);

/** Bytes used by the CPU state; the block is 4 KiB. */
export const STATE_END = cursor;
export const STATE_SIZE = 0x1000;

/** Software TLB: direct-mapped, indexed by linear page number modulo TLB_ENTRIES. */
export const TLB_ENTRIES = 4096;
export const TLB_BASE = 0x10000;
/** linear address bits 12..31 of the cached page, or -1 when the entry is empty */
export const TLB_TAG_LO = TLB_BASE;
/** linear address bits 32..63 */
export const TLB_TAG_HI = TLB_BASE + TLB_ENTRIES * 4;
/** physical page address (bits 12..31; guest RAM is below 4 GiB in this version) */
export const TLB_PHYS = TLB_BASE + TLB_ENTRIES * 8;
/** permission bits (mmu.ts TLB_* flags) */
export const TLB_FLAGS = TLB_BASE + TLB_ENTRIES * 12;
export const TLB_END = TLB_BASE + TLB_ENTRIES * 16;

/** Guest physical RAM starts here in the WebAssembly.Memory. */
export const RAM_OFFSET = 0x100000;

/** The fields by name, for the layout test and for debugging dumps. */
export function stateFields(): ReadonlyMap<string, readonly [offset: number, size: number]> {
  return names;
}

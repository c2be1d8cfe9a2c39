/**
 * Runs a native-harness case (src/emu/testing/native.ts) in the emulator: a 64-bit CPL-3
 * process whose page tables map the same code and data windows at the same linear addresses,
 * so that the final state can be compared with what the host CPU produced.
 *
 * Segments are those of a Linux x86-64 process: CS 0x33 (64-bit) and SS 0x2b for 64-bit cases;
 * for 32-bit cases (`bits: 32`) CS 0x23 (32-bit code, D = 1, L = 0: compatibility mode, with
 * EFER.LMA and 4-level paging unchanged) and SS = DS = ES = 0x2b (32-bit flat data), all DPL 3;
 * FS and GS are null there, as in the 64-bit host process. A GDT with Linux's user and kernel
 * descriptors (entries 1-6 and the CPU-number entry 15, limit 0x7f) is mapped supervisor-only in
 * the kernel half, so that segment loads (POP ES, LES, far transfers) check against the same
 * descriptors as on the host; there is no LDT.
 */
import { Cpu, STOP_END, STOP_FAULT } from '../cpu.ts';
import { CR0_AM, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE } from '../mmu.ts';
import {
  CR0, CR2, CR3, CR4, EFER, FPU_FCW, FPU_FDP, FPU_FIP, FPU_FOP, FPU_FSW, FPU_REGS, FPU_TAGS, GDTR_BASE, GDTR_LIMIT, GPR,
  MXCSR, RAM_OFFSET, SEG_LDTR_INDEX, XMM,
} from '../../state-layout.ts';
import {
  NATIVE_CODE_ADDR, NATIVE_CODE_SIZE, NATIVE_DATA_ADDR, NATIVE_DATA_SIZE, NATIVE_USER32_CS, NATIVE_USER_CS,
  NATIVE_USER_DS, x87Init, type NativeCase, type X86UserState, type X87UserState,
} from '../../testing/native.ts';
import { IF } from '../flags.ts';
import {
  ATTR_DB, ATTR_DPL_SHIFT, ATTR_G, ATTR_L, ATTR_P, ATTR_S, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS, setSegment,
} from '../system.ts';

const RAM_SIZE = 1 << 20;
const PML4 = 0x1000;
const PDPT = 0x2000;
const PD = 0x3000;
const PT_DATA = 0x4000;
const PT_CODE = 0x5000;
const PHYS_DATA = 0x10000;
const PHYS_CODE = 0x20000;
const PTE_USER_RW = 0x7; // present, writable, user
const PTE_KERNEL_RW = 0x3; // present, writable, supervisor only
const NX_HI = 0x8000_0000;
// The GDT, in the kernel half where Linux keeps it (the CPU entry area): user accesses there
// fault with a present page on the host as well (the harness comparison masks that P bit).
const GDT_LINEAR = 0xffff_fe00_0000_1000n;
const PDPT_K = 0x6000;
const PD_K = 0x7000;
const PT_K = 0x8000;
const PHYS_GDT = 0x9000;
const GDT_LIMIT = 16 * 8 - 1;
/**
 * Linux x86-64's GDT (arch/x86/kernel/cpu/common.c): entry -> descriptor bits 32-63 with base
 * 0 and limit 0xfffff (flags and access byte as GDT_ENTRY_INIT builds them, accessed bits set).
 */
const GDT_ENTRIES: readonly (readonly [index: number, lo: number, hi: number])[] = [
  [1, 0x0000_ffff, 0x00cf_9b00], // __KERNEL32_CS
  [2, 0x0000_ffff, 0x00af_9b00], // __KERNEL_CS
  [3, 0x0000_ffff, 0x00cf_9300], // __KERNEL_DS
  [4, 0x0000_ffff, 0x00cf_fb00], // __USER32_CS (0x23)
  [5, 0x0000_ffff, 0x00cf_f300], // __USER_DS (0x2b)
  [6, 0x0000_ffff, 0x00af_fb00], // __USER_CS (0x33)
  [15, 0x0000_0000, 0x0040_f500], // CPU number (in the limit; here CPU 0): read-only, expand-down
];
const USER_CODE32 = ATTR_P | ATTR_S | 0xb | ATTR_DB | ATTR_G | (3 << ATTR_DPL_SHIFT);
const USER_CODE64 = ATTR_P | ATTR_S | 0xb | ATTR_L | ATTR_G | (3 << ATTR_DPL_SHIFT);
const USER_DATA = ATTR_P | ATTR_S | 0x3 | ATTR_DB | ATTR_G | (3 << ATTR_DPL_SHIFT);

export interface EmulatedResult {
  state: X86UserState;
  /** The data window after the run (NATIVE_DATA_SIZE bytes). */
  data: Uint8Array;
  /** `address`: CR2 for a #PF (as the native fault's `address`), else 0. */
  fault: { vector: number; errorCode: number; ripOffset: number; address?: bigint } | null;
}

/** A CPU with the harness's address space; reused across cases (reset() before each). */
export class UserMachine {
  readonly cpu: Cpu;
  private readonly memory: WebAssembly.Memory;

  constructor() {
    const pages = Math.ceil((RAM_OFFSET + RAM_SIZE) / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.cpu = new Cpu(this.memory, RAM_SIZE);
    this.cpu.stopOnFault = true;
    const dv = this.cpu.dv;
    const pte = (at: number, lo: number, hi = 0) => {
      dv.setInt32(RAM_OFFSET + at, lo, true);
      dv.setInt32(RAM_OFFSET + at + 4, hi, true);
    };
    pte(PML4, PDPT | PTE_USER_RW);
    pte(PDPT, PD | PTE_USER_RW);
    pte(PD + Number(NATIVE_DATA_ADDR >> 21n) * 8, PT_DATA | PTE_USER_RW);
    pte(PD + Number(NATIVE_CODE_ADDR >> 21n) * 8, PT_CODE | PTE_USER_RW);
    for (let i = 0; i < NATIVE_DATA_SIZE / 4096; i++) pte(PT_DATA + i * 8, (PHYS_DATA + i * 4096) | PTE_USER_RW, NX_HI);
    for (let i = 0; i < NATIVE_CODE_SIZE / 4096; i++) pte(PT_CODE + i * 8, (PHYS_CODE + i * 4096) | PTE_USER_RW);
    const idx = (shift: bigint) => Number((GDT_LINEAR >> shift) & 0x1ffn);
    pte(PML4 + idx(39n) * 8, PDPT_K | PTE_KERNEL_RW);
    pte(PDPT_K + idx(30n) * 8, PD_K | PTE_KERNEL_RW);
    pte(PD_K + idx(21n) * 8, PT_K | PTE_KERNEL_RW);
    pte(PT_K + idx(12n) * 8, PHYS_GDT | PTE_KERNEL_RW, NX_HI);
  }

  run(c: NativeCase, budget = 1_000_000): EmulatedResult {
    const cpu = this.cpu;
    const i32 = cpu.i32;
    // As Linux runs user space: FPU and SSE enabled, x87 errors as #MF (NE), WAIT honours TS (MP),
    // alignment checking available to code that sets EFLAGS.AC (AM).
    i32[CR0 >> 2] = CR0_PE | CR0_PG | CR0_WP | CR0_NE | CR0_MP | CR0_AM;
    i32[CR4 >> 2] = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    i32[EFER >> 2] = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    i32[CR3 >> 2] = PML4;
    // GDT (rewritten each time: the accessed bits and anything a case may have changed).
    const dv = cpu.dv;
    cpu.u8.fill(0, RAM_OFFSET + PHYS_GDT, RAM_OFFSET + PHYS_GDT + 4096);
    for (const [index, lo, hi] of GDT_ENTRIES) {
      dv.setUint32(RAM_OFFSET + PHYS_GDT + index * 8, lo, true);
      dv.setUint32(RAM_OFFSET + PHYS_GDT + index * 8 + 4, hi, true);
    }
    i32[GDTR_BASE >> 2] = Number(GDT_LINEAR & 0xffffffffn) | 0;
    i32[(GDTR_BASE >> 2) + 1] = Number(GDT_LINEAR >> 32n) | 0;
    i32[GDTR_LIMIT >> 2] = GDT_LIMIT;
    setSegment(cpu, SEG_LDTR_INDEX, 0, 0, 0, 0, 0);
    cpu.cpl = 3;
    if (c.bits === 32) {
      // Compatibility mode: a 32-bit code segment while EFER.LMA stays set.
      setSegment(cpu, SEG_CS, NATIVE_USER32_CS, 0, 0, -1, USER_CODE32);
      for (const seg of [SEG_SS, SEG_DS, SEG_ES]) setSegment(cpu, seg, NATIVE_USER_DS, 0, 0, -1, USER_DATA);
      // FS and GS hold null selectors in a 64-bit process (its TLS is in the FS base MSR).
      setSegment(cpu, SEG_FS, 0, 0, 0, 0, 0);
      setSegment(cpu, SEG_GS, 0, 0, 0, 0, 0);
    } else {
      setSegment(cpu, SEG_CS, NATIVE_USER_CS, 0, 0, -1, USER_CODE64);
      setSegment(cpu, SEG_SS, NATIVE_USER_DS, 0, 0, -1, USER_DATA);
      // A 64-bit Linux process runs with null DS and ES.
      setSegment(cpu, SEG_DS, 0, 0, 0, 0, 0);
      setSegment(cpu, SEG_ES, 0, 0, 0, 0, 0);
    }
    if (cpu.codeBits !== (c.bits ?? 64)) throw new Error(`code size ${cpu.codeBits}, expected ${c.bits ?? 64}`);
    cpu.halted = false;
    cpu.flushTlb(true);
    // Code (the rest of the window is int3, as in the native harness) and data.
    const u8 = cpu.u8;
    u8.fill(0xcc, RAM_OFFSET + PHYS_CODE, RAM_OFFSET + PHYS_CODE + NATIVE_CODE_SIZE);
    u8.set(c.code, RAM_OFFSET + PHYS_CODE);
    u8.fill(0, RAM_OFFSET + PHYS_DATA, RAM_OFFSET + PHYS_DATA + NATIVE_DATA_SIZE);
    u8.set(c.data, RAM_OFFSET + PHYS_DATA);
    cpu.codePages = [];
    cpu.hasCode.fill(0);
    for (let r = 0; r < 16; r++) {
      const v = c.state.gpr[r]!;
      cpu.set64(r, Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0);
    }
    loadSimd(cpu, c.state);
    // The harness honours only the arithmetic flags and DF; IF is set in user mode.
    cpu.setFlags((Number(c.state.rflags) & 0xcd5) | IF);
    cpu.rip = NATIVE_CODE_ADDR;
    const end = NATIVE_CODE_ADDR + BigInt(c.code.length);
    cpu.endLo = Number(end & 0xffffffffn) | 0;
    cpu.endHi = Number(end >> 32n) | 0;
    const stop = cpu.run(budget);
    const gpr: bigint[] = [];
    for (let r = 0; r < 16; r++) {
      gpr.push((BigInt(i32[(GPR >> 2) + 2 * r + 1]! >>> 0) << 32n) | BigInt(i32[(GPR >> 2) + 2 * r]! >>> 0));
    }
    const state: X86UserState = { gpr, rflags: BigInt(cpu.getFlags() >>> 0), ...storeSimd(cpu) };
    const data = u8.slice(RAM_OFFSET + PHYS_DATA, RAM_OFFSET + PHYS_DATA + NATIVE_DATA_SIZE);
    let fault: EmulatedResult['fault'] = null;
    if (stop === STOP_FAULT) {
      const address = cpu.stopVector === 14
        ? (BigInt(i32[(CR2 >> 2) + 1]! >>> 0) << 32n) | BigInt(i32[CR2 >> 2]! >>> 0)
        : 0n;
      fault = {
        vector: cpu.stopVector, errorCode: cpu.stopError < 0 ? 0 : cpu.stopError,
        ripOffset: Number(cpu.rip - NATIVE_CODE_ADDR), address,
      };
    } else if (stop !== STOP_END) {
      fault = { vector: -1, errorCode: 0, ripOffset: Number(cpu.rip - NATIVE_CODE_ADDR) };
    }
    return { state, data, fault };
  }
}

/** Loads XMM0-15, MXCSR and the x87/MMX state of a harness state into the CPU. */
export function loadSimd(cpu: Cpu, s: X86UserState): void {
  const i32 = cpu.i32;
  cpu.u8.set(s.xmm, XMM);
  i32[MXCSR >> 2] = s.mxcsr;
  const x: X87UserState = s.x87 ?? x87Init();
  i32[FPU_FCW >> 2] = x.fcw;
  i32[FPU_FSW >> 2] = x.fsw;
  i32[FPU_TAGS >> 2] = x.ftw;
  i32[FPU_FOP >> 2] = 0;
  for (const at of [FPU_FIP, FPU_FDP]) i32[at >> 2] = i32[(at >> 2) + 1] = 0;
  // ST(i) of the image is physical register (TOP + i) & 7.
  const top = (x.fsw >> 11) & 7;
  cpu.u8.fill(0, FPU_REGS, FPU_REGS + 128);
  for (let i = 0; i < 8; i++) cpu.u8.set(x.st.subarray(i * 10, i * 10 + 10), FPU_REGS + ((top + i) & 7) * 16);
}

/** XMM0-15, MXCSR and the x87/MMX state of the CPU, as the harness reports them. */
export function storeSimd(cpu: Cpu): { xmm: Uint8Array; mxcsr: number; x87: X87UserState } {
  const i32 = cpu.i32;
  const fsw = i32[FPU_FSW >> 2]! & 0xffff;
  const top = (fsw >> 11) & 7;
  const st = new Uint8Array(80);
  for (let i = 0; i < 8; i++) {
    const at = FPU_REGS + ((top + i) & 7) * 16;
    st.set(cpu.u8.subarray(at, at + 10), i * 10);
  }
  return {
    xmm: cpu.u8.slice(XMM, XMM + 256),
    mxcsr: i32[MXCSR >> 2]! >>> 0,
    x87: { fcw: i32[FPU_FCW >> 2]! & 0xffff, fsw, ftw: i32[FPU_TAGS >> 2]! & 0xff, st },
  };
}

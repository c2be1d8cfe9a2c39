/**
 * Runs a native-harness case (src/emu/testing/native.ts) in the emulator: a 64-bit CPL-3
 * process whose page tables map the same code and data windows at the same linear addresses,
 * so that the final state can be compared with what the host CPU produced.
 */
import { Cpu, STOP_END, STOP_FAULT } from '../cpu.ts';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE } from '../mmu.ts';
import { CR0, CR3, CR4, EFER, RAM_OFFSET, GPR } from '../../state-layout.ts';
import {
  NATIVE_CODE_ADDR, NATIVE_CODE_SIZE, NATIVE_DATA_ADDR, NATIVE_DATA_SIZE, type NativeCase, type X86UserState,
} from '../../testing/native.ts';
import { IF } from '../flags.ts';

const RAM_SIZE = 1 << 20;
const PML4 = 0x1000;
const PDPT = 0x2000;
const PD = 0x3000;
const PT_DATA = 0x4000;
const PT_CODE = 0x5000;
const PHYS_DATA = 0x10000;
const PHYS_CODE = 0x20000;
const PTE_USER_RW = 0x7; // present, writable, user
const NX_HI = 0x8000_0000;

export interface EmulatedResult {
  state: X86UserState;
  /** The data window after the run (NATIVE_DATA_SIZE bytes). */
  data: Uint8Array;
  fault: { vector: number; errorCode: number; ripOffset: number } | null;
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
  }

  run(c: NativeCase, budget = 1_000_000): EmulatedResult {
    const cpu = this.cpu;
    const i32 = cpu.i32;
    i32[CR0 >> 2] = CR0_PE | CR0_PG | CR0_WP;
    i32[CR4 >> 2] = CR4_PAE;
    i32[EFER >> 2] = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    i32[CR3 >> 2] = PML4;
    cpu.codeBits = 64;
    cpu.cpl = 3;
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
    const state: X86UserState = { gpr, rflags: BigInt(cpu.getFlags() >>> 0), xmm: new Uint8Array(256), mxcsr: 0x1f80 };
    const data = u8.slice(RAM_OFFSET + PHYS_DATA, RAM_OFFSET + PHYS_DATA + NATIVE_DATA_SIZE);
    let fault: EmulatedResult['fault'] = null;
    if (stop === STOP_FAULT) {
      fault = { vector: cpu.stopVector, errorCode: cpu.stopError < 0 ? 0 : cpu.stopError, ripOffset: Number(cpu.rip - NATIVE_CODE_ADDR) };
    } else if (stop !== STOP_END) {
      fault = { vector: -1, errorCode: 0, ripOffset: Number(cpu.rip - NATIVE_CODE_ADDR) };
    }
    return { state, data, fault };
  }
}

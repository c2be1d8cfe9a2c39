/**
 * The local APIC of the virt machine's vCPU in xAPIC mode: registers at 0xFEE00000 (4 KiB),
 * priorities, EOI, IPIs through the ICR, the local vector table and the APIC timer (one-shot,
 * periodic and TSC-deadline).
 *
 * Spec: Intel SDM Vol. 3A, chapter "Advanced Programmable Interrupt Controller (APIC)"
 * (chapter 11 since 2023, chapter 10 before): 11.4 (global/software enable, register map
 * Table 11-1, APIC_BASE MSR), 11.5 (LVT, ESR, timer incl. 11.5.4.1 TSC-deadline mode),
 * 11.6 (ICR and IPIs), 11.8 (PPR, IRR/ISR/TMR, EOI), 11.9 (spurious interrupt).
 *
 * Design (STYLE.md points 3 and 4):
 * - Effects are injected: the LAPIC never calls the CPU or the IOAPIC. `onPending()` tells the
 *   machine that `hasInterrupt()` may have become true (raise the CPU's attention word, wake a
 *   halted CPU); `onEoi(vector)` is the EOI broadcast of a level-triggered vector; `onNmi`,
 *   `onSmi`, `onInit` are the non-vectored deliveries; `onIpi(msg)` carries IPIs to the other
 *   CPUs (none yet: with one CPU they go nowhere).
 * - Counters are computed from the clock (`clock.now()` in ns), never ticked. The APIC timer
 *   runs at the bus frequency of 1 GHz (one tick per ns before the divider), as KVM's
 *   APIC_BUS_CYCLE_NS = 1; the TSC also runs at 1 GHz, so `tsc()` and `clock.now()` move together.
 * - MMIO access: the SDM requires aligned 32-bit accesses and calls narrower ones model-specific.
 *   As KVM does, reads of 1, 2 or 4 bytes within the low dword of a 16-byte register slot
 *   return those bytes; any other read returns 0; writes other than aligned 32-bit are ignored.
 *   While the APIC is globally disabled (APIC_BASE bit 11 = 0) the page reads as unmapped
 *   (all ones) and writes are dropped.
 *
 * Not supported:
 * - x2APIC (APIC_BASE.EXTD = 1 is refused: the machine raises #GP) and the x2APIC MSRs.
 * - Relocating the APIC page: the base field of an APIC_BASE write is accepted and ignored,
 *   the MSR always reads 0xFEE00000 | flags.
 * - Other CPUs: INIT/SIPI and IPIs addressed to other APICs go to `onIpi` (unconnected with one
 *   CPU). A SIPI addressed to this APIC is ignored: the BSP is never in wait-for-SIPI state.
 * - Level-triggered fixed IPIs (the ICR trigger bit is ignored, as on Pentium 4 and later);
 *   INIT level de-assert IPIs are accepted and do nothing. Shorthand/mode combinations the SDM
 *   calls invalid are delivered like the valid ones.
 * - EOI-broadcast suppression (version bit 24 = 0), CMCI LVT (max LVT entry 5: 0x2F0 is
 *   reserved), remote read (0x0C0 reads 0), focus processor checking (SVR bit 9 is stored only),
 *   thermal and performance-counter interrupt sources (their LVT registers exist, nothing fires
 *   them), checksum/accept errors in the ESR (no APIC bus).
 * - Lowest-priority delivery is fixed delivery to this APIC when the destination matches.
 * - ExtINT needs an external 8259 (`extIntAck`): without one, ExtINT requests are dropped.
 * - LINT0/LINT1 input pins: nothing drives them in the virt machine (no 8259, no NMI button);
 *   their LVT entries are stored (remote IRR reads 0) but never fire.
 * - The TSC-deadline value is a number: deadlines above 2^53 lose precision (they are ~104 days
 *   away at 1 GHz). A write to the TSC MSR does not move an armed deadline.
 */
import type { InterruptController } from '../emu/x86/cpu.ts';
import type { Clock, Timer } from '../machine/clock.ts';
import { LAPIC_ADDR } from '../machine/layout.ts';
import { allOnes, type AccessSize, type Device } from './device.ts';
import {
  DELIVERY_EXTINT, DELIVERY_FIXED, DELIVERY_INIT, DELIVERY_LOWEST_PRIORITY, DELIVERY_NMI, DELIVERY_SMI,
  isDeliveryMode, type InterruptMessage,
} from './msi.ts';

// ---- Register offsets (SDM Table "Local APIC Register Address Map") ----------------------------
export const APIC_ID_OFFSET = 0x020;
export const APIC_VERSION_OFFSET = 0x030;
export const APIC_TPR_OFFSET = 0x080;
export const APIC_APR_OFFSET = 0x090;
export const APIC_PPR_OFFSET = 0x0a0;
export const APIC_EOI_OFFSET = 0x0b0;
export const APIC_RRD_OFFSET = 0x0c0;
export const APIC_LDR_OFFSET = 0x0d0;
export const APIC_DFR_OFFSET = 0x0e0;
export const APIC_SVR_OFFSET = 0x0f0;
/** ISR, TMR and IRR: eight 32-bit registers each, 16 bytes apart, vectors 32*i .. 32*i+31. */
export const APIC_ISR_OFFSET = 0x100;
export const APIC_TMR_OFFSET = 0x180;
export const APIC_IRR_OFFSET = 0x200;
export const APIC_ESR_OFFSET = 0x280;
export const APIC_ICR_LOW_OFFSET = 0x300;
export const APIC_ICR_HIGH_OFFSET = 0x310;
export const APIC_LVT_TIMER_OFFSET = 0x320;
export const APIC_LVT_THERMAL_OFFSET = 0x330;
export const APIC_LVT_PERF_OFFSET = 0x340;
export const APIC_LVT_LINT0_OFFSET = 0x350;
export const APIC_LVT_LINT1_OFFSET = 0x360;
export const APIC_LVT_ERROR_OFFSET = 0x370;
export const APIC_TIMER_INITIAL_COUNT_OFFSET = 0x380;
export const APIC_TIMER_CURRENT_COUNT_OFFSET = 0x390;
export const APIC_TIMER_DIVIDE_OFFSET = 0x3e0;

/** Version register: integrated APIC version 0x14, max LVT entry 5 (six LVTs, no CMCI). */
export const APIC_VERSION = 0x14;
export const APIC_MAX_LVT_ENTRY = 5;
export const APIC_VERSION_VALUE = APIC_VERSION | (APIC_MAX_LVT_ENTRY << 16);

/** APIC timer input: the bus clock, 1 GHz (1 ns per tick before the divider). */
export const APIC_TIMER_FREQUENCY_HZ = 1_000_000_000;
const BUS_CYCLE_NS = 1e9 / APIC_TIMER_FREQUENCY_HZ;
/** The TSC runs at 1 GHz: one TSC tick per guest ns. */
const NS_PER_TSC_TICK = 1;

// ---- IA32_APIC_BASE MSR (0x1B) ---------------------------------------------------------------
//   63  MAXPHY  35            12 11  10   9  8   7     0
//  +------------+---------------+---+----+---+---+------+
//  |  reserved  |  APIC base    | EN|EXTD| r |BSP| rsvd |
//  +------------+---------------+---+----+---+---+------+
export const MSR_IA32_APIC_BASE = 0x1b;
export const APIC_BASE_BSP_BIT = 1 << 8;
export const APIC_BASE_EXTD_BIT = 1 << 10;
export const APIC_BASE_ENABLE_BIT = 1 << 11;
/** Bits that must be 0 in the low dword: 7:0, 9 and EXTD (x2APIC is not supported). */
const APIC_BASE_RESERVED_LO_MASK = 0xff | (1 << 9) | APIC_BASE_EXTD_BIT;
/** Physical address bits of the base: 52 at most, so the high dword's bits 31:20 are reserved. */
const APIC_BASE_RESERVED_HI_MASK = 0xfff0_0000;
/** The TSC-deadline MSR the machine routes to read/writeTscDeadline(). */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;

// ---- Spurious-interrupt vector register ------------------------------------------------------
export const SVR_VECTOR_MASK = 0xff;
export const SVR_APIC_ENABLED_BIT = 1 << 8;
export const SVR_FOCUS_DISABLED_BIT = 1 << 9;
const SVR_WRITABLE_MASK = 0x3ff;

// ---- Error status register -------------------------------------------------------------------
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const ESR_ILLEGAL_REGISTER_ADDRESS = 1 << 7;

// ---- Interrupt command register --------------------------------------------------------------
//   31    20 19 18 17 16 15 14 13 12 11 10    8 7       0      (ICR high: 31:24 destination)
//  +--------+-----+-----+--+--+--+--+--+-------+---------+
//  |  rsvd  |short| rsvd|TM|LV|  |DS|DM|  mode | vector  |
//  +--------+-----+-----+--+--+--+--+--+-------+---------+
export const ICR_DELIVERY_MODE_SHIFT = 8;
export const ICR_DEST_LOGICAL_BIT = 1 << 11;
/** Delivery status: always 0 (idle) here, delivery is instantaneous. */
export const ICR_DELIVERY_STATUS_BIT = 1 << 12;
export const ICR_LEVEL_ASSERT_BIT = 1 << 14;
export const ICR_TRIGGER_LEVEL_BIT = 1 << 15;
export const ICR_SHORTHAND_SHIFT = 18;
export const ICR_SHORTHAND_NONE = 0;
export const ICR_SHORTHAND_SELF = 1;
export const ICR_SHORTHAND_ALL_INCLUDING_SELF = 2;
export const ICR_SHORTHAND_ALL_EXCLUDING_SELF = 3;
const ICR_LOW_WRITABLE_MASK = 0x000c_cfff;
const ICR_HIGH_DEST_SHIFT = 24;
/** Destination 0xFF in physical mode addresses every APIC. */
const BROADCAST_DESTINATION = 0xff;

// ---- Local vector table entries --------------------------------------------------------------
//   31      19 18 17 16 15 14 13 12 11 10    8 7       0
//  +----------+-----+--+--+--+--+--+--+-------+---------+
//  |   rsvd   |tmode|M |TM|RI|PL|DS|  | mode  | vector  |
//  +----------+-----+--+--+--+--+--+--+-------+---------+
export const LVT_VECTOR_MASK = 0xff;
export const LVT_DELIVERY_MODE_SHIFT = 8;
export const LVT_POLARITY_LOW_BIT = 1 << 13;
export const LVT_REMOTE_IRR_BIT = 1 << 14;
export const LVT_TRIGGER_LEVEL_BIT = 1 << 15;
export const LVT_MASKED_BIT = 1 << 16;
export const LVT_TIMER_MODE_SHIFT = 17;
export const TIMER_MODE_ONE_SHOT = 0;
export const TIMER_MODE_PERIODIC = 1;
export const TIMER_MODE_TSC_DEADLINE = 2;
/** LVT indexes (offset 0x320 + 16 * index). */
const LVT_TIMER = 0;
const LVT_ERROR = 5;
const LVT_COUNT = 6;
/** Writable bits per LVT: timer (vector, mask, mode), thermal, perf, LINT0, LINT1, error. */
const LVT_WRITABLE_MASK = [0x700ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff] as const;

/** Timer divide configuration: bits 3, 1, 0 (bit 2 reserved). */
const DCR_WRITABLE_MASK = 0xb;

/** Reset value of the DFR: flat model, reserved bits 27:0 read as ones. */
const DFR_RESET = 0xffff_ffff;
const DFR_MODEL_FLAT = 0xf;
const DFR_MODEL_CLUSTER = 0x0;

export interface LapicOptions {
  clock: Clock;
  /** The guest TSC (default: clock.now(), the TSC runs at 1 GHz). */
  tsc?: () => number;
  /** This APIC's hardware ID (default 0; must match the MADT). */
  apicId?: number;
  /** Bootstrap processor flag in APIC_BASE (default true). */
  bsp?: boolean;
  /** hasInterrupt() may have become true: raise the CPU's attention word, wake it from HLT. */
  onPending?: () => void;
  /** EOI of a level-triggered vector: forward to the IOAPIC's eoi(vector). */
  onEoi?: (vector: number) => void;
  onNmi?: () => void;
  onSmi?: () => void;
  /** An INIT was accepted (the LAPIC has already done its own INIT reset). */
  onInit?: () => void;
  /** An IPI this APIC sent that may address other CPUs (already delivered here if it matched). */
  onIpi?: (msg: InterruptMessage) => void;
  /** INTA cycle of an external 8259 for ExtINT; without it ExtINT requests are dropped. */
  extIntAck?: () => number;
}

/** A snapshot of the LAPIC (plain data). */
export interface LapicState {
  /** IA32_APIC_BASE, then the registers as the guest reads them. */
  apicBase: number; id: number; tpr: number; ldr: number; dfr: number; svr: number;
  /** The ESR as read, and the errors logged since the last ESR write (write-then-read). */
  esr: number; esrPending: number;
  icrLow: number; icrHigh: number; initialCount: number; dcr: number;
  /** Timer counting: the count was `timerBaseCount` at time `timerBase` (ns). */
  timerRunning: boolean; timerBase: number; timerBaseCount: number;
  /** The clock deadline of the armed timer (ns), or null. */
  timerDeadline: number | null;
  /** IA32_TSC_DEADLINE (0 = disarmed). */
  tscDeadline: number;
  extIntPending: boolean;
  lvt: number[]; isr: number[]; tmr: number[]; irr: number[];
}

/** The scalar registers and timer state, kept in one object so that snapshots are a copy. */
type Registers = Omit<LapicState, 'timerDeadline' | 'lvt' | 'isr' | 'tmr' | 'irr'>;

/** Highest vector set in a 256-bit register (eight 32-bit words), or -1. */
function highestVector(bits: Uint32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = bits[i]!;
    if (w !== 0) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

export class Lapic implements Device, InterruptController {
  readonly name = 'lapic';
  private readonly clock: Clock;
  private readonly options: LapicOptions;
  private readonly tsc: () => number;
  private readonly timer: Timer;
  private readonly hardwareId: number;
  private readonly bsp: boolean;
  private r: Registers;
  private readonly lvt = new Uint32Array(LVT_COUNT);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private readonly irr = new Uint32Array(8);

  constructor(options: LapicOptions) {
    this.options = options;
    this.clock = options.clock;
    this.tsc = options.tsc ?? (() => options.clock.now());
    this.hardwareId = (options.apicId ?? 0) & 0xff;
    this.bsp = options.bsp ?? true;
    this.timer = this.clock.timer((now) => this.timerExpired(now));
    this.r = this.powerUpRegisters(0, 0);
    this.reset();
  }

  /** Power-up state (SDM "Local APIC State After Power-Up or Reset"). */
  reset(): void {
    const apicBase = LAPIC_ADDR | APIC_BASE_ENABLE_BIT | (this.bsp ? APIC_BASE_BSP_BIT : 0);
    this.resetRegisters(apicBase >>> 0, (this.hardwareId << 24) >>> 0);
    this.updateIrq();
  }

  private powerUpRegisters(apicBase: number, id: number): Registers {
    return {
      apicBase, id, tpr: 0, ldr: 0, dfr: DFR_RESET, svr: SVR_VECTOR_MASK, esr: 0, esrPending: 0, icrLow: 0,
      icrHigh: 0, initialCount: 0, dcr: 0, timerRunning: false, timerBase: 0, timerBaseCount: 0, tscDeadline: 0,
      extIntPending: false,
    };
  }

  /** Power-up values for everything but APIC_BASE and the ID register (INIT keeps those). */
  private resetRegisters(apicBase = this.r.apicBase, id = this.r.id): void {
    this.r = this.powerUpRegisters(apicBase, id);
    this.lvt.fill(LVT_MASKED_BIT);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.irr.fill(0);
    this.timer.cancel();
  }

  // ---- Predicates and the CPU's view -------------------------------------------------------

  /** APIC_BASE bit 11: the APIC is globally enabled. */
  isHardwareEnabled(): boolean {
    return (this.r.apicBase & APIC_BASE_ENABLE_BIT) !== 0;
  }

  /** SVR bit 8: the APIC is software enabled (and globally enabled). */
  isSoftwareEnabled(): boolean {
    return this.isHardwareEnabled() && (this.r.svr & SVR_APIC_ENABLED_BIT) !== 0;
  }

  /** A maskable interrupt is deliverable: an ExtINT, or an IRR vector of a class above the PPR. */
  hasInterrupt(): boolean {
    if (!this.isHardwareEnabled()) return false;
    if (this.r.extIntPending) return true;
    return this.isSoftwareEnabled() && this.deliverableVector() >= 0;
  }

  /** INTA: moves the highest deliverable vector from IRR to ISR and returns it (else spurious). */
  acknowledge(): number {
    let vector: number;
    if (this.r.extIntPending) {
      // ExtINT bypasses IRR/ISR: the vector comes from the 8259 (SDM "Interrupt Acceptance").
      this.r.extIntPending = false;
      vector = this.options.extIntAck ? this.options.extIntAck() & 0xff : this.r.svr & SVR_VECTOR_MASK;
    } else {
      vector = this.isSoftwareEnabled() ? this.deliverableVector() : -1;
      if (vector < 0) {
        // Nothing deliverable any more (TPR raised, or the request went away): spurious vector,
        // ISR untouched and no EOI expected (SDM "Spurious Interrupt").
        vector = this.r.svr & SVR_VECTOR_MASK;
      } else {
        this.irr[vector >> 5]! &= ~(1 << (vector & 31));
        this.isr[vector >> 5]! |= 1 << (vector & 31);
      }
    }
    this.updateIrq();
    return vector;
  }

  /** The IA32_APIC_BASE MSR value. */
  get apicBase(): number {
    return this.r.apicBase;
  }

  /**
   * WRMSR IA32_APIC_BASE; false means the value is invalid and the CPU must raise #GP
   * (reserved bits, or EXTD: x2APIC is not supported). Clearing bit 11 disables the APIC and
   * returns it to its power-up state; the BSP flag is read-only; relocation is ignored.
   */
  writeApicBase(value: number): boolean {
    if (!Number.isSafeInteger(value) || value < 0) return false;
    const lo = value % 2 ** 32;
    const hi = Math.floor(value / 2 ** 32);
    if (lo & APIC_BASE_RESERVED_LO_MASK || hi & APIC_BASE_RESERVED_HI_MASK) return false;
    const wasEnabled = this.isHardwareEnabled();
    const enable = (lo & APIC_BASE_ENABLE_BIT) !== 0;
    this.r.apicBase = (LAPIC_ADDR | (enable ? APIC_BASE_ENABLE_BIT : 0) | (this.bsp ? APIC_BASE_BSP_BIT : 0)) >>> 0;
    if (wasEnabled && !enable) this.resetRegisters();
    this.updateIrq();
    return true;
  }

  /** MOV from CR8: TPR bits 7:4 (SDM "Task Priority in IA-32e Mode"). */
  readCr8(): number {
    return this.r.tpr >>> 4;
  }

  /** MOV to CR8: sets TPR bits 7:4 and clears 3:0. */
  writeCr8(value: number): void {
    this.r.tpr = (value & 0xf) << 4;
    this.updateIrq();
  }

  // ---- MMIO --------------------------------------------------------------------------------

  read(offset: number, size: AccessSize): number {
    return this.access(offset, size, true);
  }

  peek(offset: number, size: AccessSize): number {
    return this.access(offset, size, false);
  }

  private access(offset: number, size: AccessSize, sideEffects: boolean): number {
    if (!this.isHardwareEnabled()) return allOnes(size);
    const within = offset & 0xf;
    if (offset < 0 || offset >= 0x1000 || within + size > 4) return 0;
    const value = this.readRegister(offset - within, sideEffects);
    return size === 4 ? value : (value >>> (within * 8)) & ((1 << (size * 8)) - 1);
  }

  private readRegister(reg: number, sideEffects: boolean): number {
    switch (reg) {
      case APIC_ID_OFFSET: return this.r.id;
      case APIC_VERSION_OFFSET: return APIC_VERSION_VALUE;
      case APIC_TPR_OFFSET: return this.r.tpr;
      case APIC_APR_OFFSET: return this.apr();
      case APIC_PPR_OFFSET: return this.ppr();
      case APIC_EOI_OFFSET: return 0; // write-only
      case APIC_RRD_OFFSET: return 0; // remote read: never valid
      case APIC_LDR_OFFSET: return this.r.ldr;
      case APIC_DFR_OFFSET: return this.r.dfr;
      case APIC_SVR_OFFSET: return this.r.svr;
      case APIC_ESR_OFFSET: return this.r.esr;
      case APIC_ICR_LOW_OFFSET: return this.r.icrLow; // delivery status (bit 12) always idle
      case APIC_ICR_HIGH_OFFSET: return this.r.icrHigh;
      case APIC_TIMER_INITIAL_COUNT_OFFSET: return this.r.initialCount;
      case APIC_TIMER_CURRENT_COUNT_OFFSET: return this.currentCount(this.clock.now());
      case APIC_TIMER_DIVIDE_OFFSET: return this.r.dcr;
    }
    const index = (reg >> 4) & 7;
    if (reg >= APIC_ISR_OFFSET && reg < APIC_ISR_OFFSET + 0x80) return this.isr[index]!;
    if (reg >= APIC_TMR_OFFSET && reg < APIC_TMR_OFFSET + 0x80) return this.tmr[index]!;
    if (reg >= APIC_IRR_OFFSET && reg < APIC_IRR_OFFSET + 0x80) return this.irr[index]!;
    if (reg >= APIC_LVT_TIMER_OFFSET && reg <= APIC_LVT_ERROR_OFFSET) {
      return this.lvt[(reg - APIC_LVT_TIMER_OFFSET) >> 4]!;
    }
    if (sideEffects) {
      this.signalError(ESR_ILLEGAL_REGISTER_ADDRESS);
      this.updateIrq();
    }
    return 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (!this.isHardwareEnabled() || size !== 4 || (offset & 0xf) !== 0) return;
    if (offset < 0 || offset >= 0x1000) return;
    value >>>= 0;
    switch (offset) {
      case APIC_ID_OFFSET: this.r.id = (value & 0xff00_0000) >>> 0; break;
      case APIC_TPR_OFFSET: this.r.tpr = value & 0xff; break;
      case APIC_EOI_OFFSET: this.eoi(); break;
      case APIC_LDR_OFFSET: this.r.ldr = (value & 0xff00_0000) >>> 0; break;
      case APIC_DFR_OFFSET: this.r.dfr = (value | 0x0fff_ffff) >>> 0; break;
      case APIC_SVR_OFFSET: this.writeSvr(value); break;
      case APIC_ESR_OFFSET:
        // Write-then-read: a write latches the errors logged since the previous write.
        this.r.esr = this.r.esrPending;
        this.r.esrPending = 0;
        break;
      case APIC_ICR_LOW_OFFSET:
        this.r.icrLow = value & ICR_LOW_WRITABLE_MASK;
        this.sendIpi();
        break;
      case APIC_ICR_HIGH_OFFSET: this.r.icrHigh = (value & 0xff00_0000) >>> 0; break;
      case APIC_TIMER_INITIAL_COUNT_OFFSET: this.writeInitialCount(value); break;
      case APIC_TIMER_DIVIDE_OFFSET: this.writeDivide(value); break;
      case APIC_VERSION_OFFSET:
      case APIC_APR_OFFSET:
      case APIC_PPR_OFFSET:
      case APIC_RRD_OFFSET:
      case APIC_TIMER_CURRENT_COUNT_OFFSET:
        break; // read-only
      default:
        if (offset >= APIC_LVT_TIMER_OFFSET && offset <= APIC_LVT_ERROR_OFFSET) {
          this.writeLvt((offset - APIC_LVT_TIMER_OFFSET) >> 4, value);
        } else if (offset < APIC_ISR_OFFSET || offset >= APIC_IRR_OFFSET + 0x80) {
          this.signalError(ESR_ILLEGAL_REGISTER_ADDRESS);
        } // ISR, TMR, IRR: read-only
    }
    this.updateIrq();
  }

  // ---- Priorities, acceptance and EOI ------------------------------------------------------

  /** PPR = TPR if its class is at least the highest in-service class, else that class. */
  private ppr(): number {
    const isrv = Math.max(highestVector(this.isr), 0);
    return (this.r.tpr & 0xf0) >= (isrv & 0xf0) ? this.r.tpr : isrv & 0xf0;
  }

  /**
   * APR (SDM "Arbitration Priority Register"): TPR if it is at least the highest IRR class and
   * above the highest ISR class, else the highest of the three classes.
   */
  private apr(): number {
    const tprClass = this.r.tpr >> 4;
    const irrClass = Math.max(highestVector(this.irr), 0) >> 4;
    const isrClass = Math.max(highestVector(this.isr), 0) >> 4;
    if (tprClass >= irrClass && tprClass > isrClass) return this.r.tpr;
    return Math.max(tprClass, irrClass, isrClass) << 4;
  }

  /** The highest IRR vector whose priority class is above the PPR's, or -1. */
  private deliverableVector(): number {
    const irrv = highestVector(this.irr);
    return irrv >= 0 && (irrv & 0xf0) > (this.ppr() & 0xf0) ? irrv : -1;
  }

  /** Fixed interrupt acceptance into the IRR; the TMR records the trigger mode. */
  private acceptInterrupt(vector: number, levelTriggered: boolean): void {
    if (!this.isSoftwareEnabled()) return; // a software-disabled APIC takes no fixed interrupts
    if (vector < 16) return this.signalError(ESR_RECEIVE_ILLEGAL_VECTOR);
    const bit = 1 << (vector & 31);
    this.irr[vector >> 5]! |= bit;
    if (levelTriggered) this.tmr[vector >> 5]! |= bit;
    else this.tmr[vector >> 5]! &= ~bit;
  }

  /** EOI: retire the highest in-service vector; broadcast it to the IOAPIC if level-triggered. */
  private eoi(): void {
    const vector = highestVector(this.isr);
    if (vector < 0) return;
    const bit = 1 << (vector & 31);
    this.isr[vector >> 5]! &= ~bit;
    // The broadcast may bring a new delivery (IOAPIC remote IRR): our state is consistent by now.
    if (this.tmr[vector >> 5]! & bit) this.options.onEoi?.(vector);
  }

  /** Logs an error in the ESR and raises the LVT error interrupt. */
  private signalError(bits: number): void {
    this.r.esrPending |= bits;
    const entry = this.lvt[LVT_ERROR]!;
    if (entry & LVT_MASKED_BIT) return;
    const vector = entry & LVT_VECTOR_MASK;
    // An illegal error vector is itself an error, logged without a second interrupt.
    if (vector < 16) this.r.esrPending |= ESR_RECEIVE_ILLEGAL_VECTOR;
    else this.acceptInterrupt(vector, false);
  }

  /** Whether an 8-bit destination in physical or logical mode addresses this APIC. */
  matchesDestination(destination: number, logical: boolean): boolean {
    if (!logical) return destination === BROADCAST_DESTINATION || destination === this.r.id >>> 24;
    const logicalId = this.r.ldr >>> 24;
    switch (this.r.dfr >>> 28) {
      case DFR_MODEL_FLAT: return (logicalId & destination) !== 0;
      case DFR_MODEL_CLUSTER:
        return destination >>> 4 === logicalId >>> 4 && (destination & logicalId & 0xf) !== 0;
      default: return false; // reserved model
    }
  }

  /** A message from the IOAPIC, an MSI, or another APIC's IPI, if it addresses this APIC. */
  deliver(msg: InterruptMessage): void {
    if (!this.isHardwareEnabled() || !this.matchesDestination(msg.destination & 0xff, msg.logical)) return;
    this.receive(msg);
    this.updateIrq();
  }

  private receive(msg: InterruptMessage): void {
    switch (msg.deliveryMode) {
      case DELIVERY_FIXED:
      case DELIVERY_LOWEST_PRIORITY: // the only candidate with one CPU
        this.acceptInterrupt(msg.vector & 0xff, msg.levelTriggered);
        break;
      case DELIVERY_NMI: this.options.onNmi?.(); break;
      case DELIVERY_SMI: this.options.onSmi?.(); break;
      case DELIVERY_INIT:
        this.resetRegisters(); // INIT keeps APIC_BASE and the ID register
        this.options.onInit?.();
        break;
      case DELIVERY_EXTINT:
        if (this.options.extIntAck && this.isSoftwareEnabled()) this.r.extIntPending = true;
        break;
      default: break; // start-up: the BSP ignores SIPIs
    }
  }

  /** ICR low was written: send the IPI it describes (instantaneous, so never "send pending"). */
  private sendIpi(): void {
    const icr = this.r.icrLow;
    const mode = (icr >>> ICR_DELIVERY_MODE_SHIFT) & 7;
    const vector = icr & 0xff;
    const shorthand = (icr >>> ICR_SHORTHAND_SHIFT) & 3;
    if (!isDeliveryMode(mode)) return; // 011: remote read, not on xAPICs
    // INIT level de-assert only synchronises arbitration IDs: nothing to do.
    if (mode === DELIVERY_INIT && (icr & ICR_TRIGGER_LEVEL_BIT) && !(icr & ICR_LEVEL_ASSERT_BIT)) return;
    if ((mode === DELIVERY_FIXED || mode === DELIVERY_LOWEST_PRIORITY) && vector < 16) {
      return this.signalError(ESR_SEND_ILLEGAL_VECTOR); // not sent
    }
    const all = shorthand === ICR_SHORTHAND_ALL_INCLUDING_SELF || shorthand === ICR_SHORTHAND_ALL_EXCLUDING_SELF;
    const msg: InterruptMessage = {
      vector,
      deliveryMode: mode,
      logical: all ? false : (icr & ICR_DEST_LOGICAL_BIT) !== 0,
      destination: all ? BROADCAST_DESTINATION : shorthand === ICR_SHORTHAND_SELF ? this.r.id >>> 24 : this.r.icrHigh >>> ICR_HIGH_DEST_SHIFT,
      levelTriggered: false,
    };
    const toSelf = shorthand === ICR_SHORTHAND_SELF || shorthand === ICR_SHORTHAND_ALL_INCLUDING_SELF ||
      (shorthand === ICR_SHORTHAND_NONE && this.matchesDestination(msg.destination, msg.logical));
    if (toSelf) this.receive(msg);
    if (shorthand !== ICR_SHORTHAND_SELF) this.options.onIpi?.(msg);
  }

  private writeSvr(value: number): void {
    this.r.svr = value & SVR_WRITABLE_MASK;
    // Software disable masks every LVT entry (SDM "Software Enabling and Disabling").
    if (!(this.r.svr & SVR_APIC_ENABLED_BIT)) for (let i = 0; i < LVT_COUNT; i++) this.lvt[i]! |= LVT_MASKED_BIT;
  }

  // ---- Local vector table ----------------------------------------------------------------

  private writeLvt(index: number, value: number): void {
    const old = this.lvt[index]!;
    let entry = value & LVT_WRITABLE_MASK[index]!;
    if (!(this.r.svr & SVR_APIC_ENABLED_BIT)) entry |= LVT_MASKED_BIT; // cannot unmask while disabled
    if (index === LVT_TIMER) return this.writeLvtTimer(old, entry >>> 0);
    this.lvt[index] = entry;
  }

  // ---- Timer -------------------------------------------------------------------------------

  private timerMode(entry = this.lvt[LVT_TIMER]!): number {
    return (entry >>> LVT_TIMER_MODE_SHIFT) & 3;
  }

  /** Divide value: DCR bits 3,1,0 = 000 -> 2, 001 -> 4, ... 110 -> 128, 111 -> 1. */
  private divisor(): number {
    const code = ((this.r.dcr & 8) >>> 1) | (this.r.dcr & 3);
    return code === 7 ? 1 : 2 << code;
  }

  private tickNs(): number {
    return this.divisor() * BUS_CYCLE_NS;
  }

  /** The current-count register at time `now` (one-shot and periodic; 0 otherwise). */
  private currentCount(now: number): number {
    const mode = this.timerMode();
    if (!this.r.timerRunning || mode === TIMER_MODE_TSC_DEADLINE || this.r.initialCount === 0) return 0;
    const ticks = Math.floor(Math.max(0, now - this.r.timerBase) / this.tickNs());
    if (ticks < this.r.timerBaseCount) return this.r.timerBaseCount - ticks;
    if (mode !== TIMER_MODE_PERIODIC) return 0;
    return this.r.initialCount - ((ticks - this.r.timerBaseCount) % this.r.initialCount);
  }

  /** Counting restarts at `now` from `count` (0 = stopped). */
  private restartCount(count: number, now: number): void {
    this.r.timerBase = now;
    this.r.timerBaseCount = count;
    this.r.timerRunning = count > 0;
  }

  /** Arms the clock timer at the next expiry (after `now` for periodic reloads). */
  private armTimer(now: number): void {
    if (this.timerMode() === TIMER_MODE_TSC_DEADLINE) {
      if (this.r.tscDeadline === 0) return this.timer.cancel();
      return this.timer.arm(now + Math.max(0, (this.r.tscDeadline - this.tsc()) * NS_PER_TSC_TICK));
    }
    if (!this.r.timerRunning) return this.timer.cancel();
    const first = this.r.timerBase + this.r.timerBaseCount * this.tickNs();
    if (this.timerMode() !== TIMER_MODE_PERIODIC || now < first) return this.timer.arm(first);
    const period = this.r.initialCount * this.tickNs();
    this.timer.arm(first + (Math.floor((now - first) / period) + 1) * period);
  }

  private writeInitialCount(value: number): void {
    if (this.timerMode() === TIMER_MODE_TSC_DEADLINE) return; // ignored in TSC-deadline mode
    const now = this.clock.now();
    this.r.initialCount = value;
    this.restartCount(value, now); // a write of 0 stops the timer
    this.armTimer(now);
  }

  private writeDivide(value: number): void {
    const now = this.clock.now();
    // The count continues from where it is, at the new rate.
    if (this.r.timerRunning) {
      const count = this.currentCount(now);
      this.r.dcr = value & DCR_WRITABLE_MASK;
      this.restartCount(count, now);
      this.armTimer(now);
    } else this.r.dcr = value & DCR_WRITABLE_MASK;
  }

  private writeLvtTimer(old: number, entry: number): void {
    const oldMode = this.timerMode(old);
    const newMode = this.timerMode(entry);
    if (oldMode === newMode) {
      this.lvt[LVT_TIMER] = entry;
      return;
    }
    const now = this.clock.now();
    if ((oldMode === TIMER_MODE_TSC_DEADLINE) !== (newMode === TIMER_MODE_TSC_DEADLINE)) {
      // Switching to or from TSC-deadline mode disarms the timer (SDM 11.5.4.1).
      this.lvt[LVT_TIMER] = entry;
      this.r.initialCount = this.r.tscDeadline = 0;
      this.r.timerRunning = false;
    } else {
      // One-shot <-> periodic (mode 3 is reserved and acts as one-shot): keep counting.
      const count = this.currentCount(now);
      this.lvt[LVT_TIMER] = entry;
      if (this.r.timerRunning) this.restartCount(count, now);
    }
    this.armTimer(now);
  }

  private timerExpired(now: number): void {
    const mode = this.timerMode();
    if (mode === TIMER_MODE_TSC_DEADLINE) this.r.tscDeadline = 0; // the MSR clears on expiry
    else if (mode === TIMER_MODE_PERIODIC && this.r.timerRunning) this.armTimer(now);
    else this.r.timerRunning = false;
    this.timerInterrupt();
    this.updateIrq();
  }

  private timerInterrupt(): void {
    const entry = this.lvt[LVT_TIMER]!;
    if (!(entry & LVT_MASKED_BIT)) this.acceptInterrupt(entry & LVT_VECTOR_MASK, false);
  }

  /** RDMSR IA32_TSC_DEADLINE: the armed deadline; 0 when disarmed or not in TSC-deadline mode. */
  readTscDeadline(): number {
    return this.timerMode() === TIMER_MODE_TSC_DEADLINE ? this.r.tscDeadline : 0;
  }

  /** WRMSR IA32_TSC_DEADLINE: arm (or, with 0, disarm); ignored outside TSC-deadline mode. */
  writeTscDeadline(value: number): void {
    if (!this.isHardwareEnabled() || this.timerMode() !== TIMER_MODE_TSC_DEADLINE) return;
    this.r.tscDeadline = Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
    if (this.r.tscDeadline !== 0 && this.r.tscDeadline <= this.tsc()) {
      // Already due: the interrupt is immediate and the MSR clears.
      this.r.tscDeadline = 0;
      this.timer.cancel();
      this.timerInterrupt();
    } else this.armTimer(this.clock.now());
    this.updateIrq();
  }

  // ---- Interrupt output and snapshots ------------------------------------------------------

  /** Derives the CPU-facing state from the registers; called after every mutation. */
  private updateIrq(): void {
    if (this.hasInterrupt()) this.options.onPending?.();
  }

  state(): LapicState {
    return {
      ...this.r, timerDeadline: this.timer.deadline ?? null, lvt: [...this.lvt], isr: [...this.isr],
      tmr: [...this.tmr], irr: [...this.irr],
    };
  }

  /** Restores a snapshot; re-arms the timer and re-announces a pending interrupt. */
  static fromState(state: LapicState, options: LapicOptions): Lapic {
    const lapic = new Lapic(options);
    const { timerDeadline, lvt, isr, tmr, irr, ...registers } = state;
    lapic.r = { ...registers };
    lapic.lvt.set(lvt.slice(0, LVT_COUNT));
    lapic.isr.set(isr.slice(0, 8));
    lapic.tmr.set(tmr.slice(0, 8));
    lapic.irr.set(irr.slice(0, 8));
    if (timerDeadline !== null) lapic.timer.arm(timerDeadline);
    lapic.updateIrq();
    return lapic;
  }
}

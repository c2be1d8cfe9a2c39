/**
 * The HPET of the virt machine (MMIO at HPET_ADDR = 0xFED0_0000): a 64-bit main counter at
 * 100 MHz and three comparators ("timers") that interrupt through the IOAPIC.
 *
 * Spec: IA-PC HPET (High Precision Event Timers) Specification rev. 1.0a (Intel, 2004):
 * 2.3.4 General Capabilities and ID, 2.3.5 General Configuration (LegacyReplacement route),
 * 2.3.6 General Interrupt Status, 2.3.7 Main Counter, 2.3.8 Timer N Configuration and
 * Capabilities, 2.3.9 Timer N Comparator (periodic accumulator, Tn_VAL_SET_CNF), 2.4.2
 * interrupt mapping, 2.4.3 periodic vs non-periodic modes. Checked against the client, Linux's
 * arch/x86/kernel/hpet.c (hpet_enable, hpet_counting, the legacy clockevent's periodic and
 * one-shot programming, the 32-bit clocksource) and drivers/char/hpet.c (route capabilities).
 *
 *   offset        register (64 bits; 32-bit halves at +0 and +4)
 *   0x000         GCAP_ID: 63:32 COUNTER_CLK_PERIOD | 31:16 VENDOR_ID | 15 LEG_RT_CAP |
 *                          13 COUNT_SIZE_CAP | 12:8 NUM_TIM_CAP | 7:0 REV_ID        (read only)
 *   0x010         GEN_CONF: 1 LEG_RT_CNF | 0 ENABLE_CNF
 *   0x020         GINTR_STA: bit n = Tn_INT_STS (level mode; write 1 to clear)
 *   0x0F0         MAIN_CNT
 *   0x100 + 0x20n Tn_CONF_CAP: 63:32 INT_ROUTE_CAP | 15 FSB_INT_DEL_CAP | 14 FSB_EN_CNF |
 *                          13:9 INT_ROUTE_CNF | 8 32MODE_CNF | 6 VAL_SET_CNF | 5 SIZE_CAP |
 *                          4 PER_INT_CAP | 3 TYPE_CNF (periodic) | 2 INT_ENB_CNF | 1 INT_TYPE_CNF
 *   0x108 + 0x20n Tn_COMPARATOR
 *   0x110 + 0x20n Tn_FSB_INT_ROUTE (FSB delivery is not supported: reads 0, writes dropped)
 *
 * Design decisions:
 * - Counter rate: COUNTER_CLK_PERIOD = 10,000,000 fs (10 ns, 100 MHz), well inside the
 *   spec's limit of 100 ns and Linux's sanity range; guest time is integer nanoseconds, so a
 *   tick is exactly 10 ns. The counter is computed from the injected Clock, never ticked:
 *   counter = base + floor((now - t0) / 10 ns) while ENABLE_CNF is set, frozen when clear.
 * - Timers as on Intel ICH chipsets: timer 0 is 64-bit and periodic capable; timers 1 and 2
 *   are 32-bit, one-shot only (their 32MODE_CNF and TYPE_CNF bits read 0). Linux drives only
 *   timer 0 (legacy clockevent, 32-bit mode) and reads the counter 32 bits at a time.
 * - Interrupt routing: LEG_RT_CAP is set. With LEG_RT_CNF, timer 0 drives ISA IRQ 0, which the
 *   MADT overrides to GSI 2 (IRQ0_OVERRIDE_GSI), and timer 1 drives IRQ 8 = GSI 8 (spec
 *   2.4.2.1). Otherwise INT_ROUTE_CNF selects the GSI, limited by INT_ROUTE_CAP to GSI 2, 8
 *   and 20-23 (as QEMU's pc machine: the legacy pins plus pins no other device uses; PCI INTx
 *   owns 16-19; Linux's /dev/hpet driver skips 0-15 in IOAPIC mode and picks from 20-23).
 *   Writing a route outside the capability leaves the field unchanged (spec: "the value read
 *   back will not match"). The reset route 0 is not in the capability: such a timer
 *   delivers nothing until the guest routes it.
 * - Interrupt output: `setIrq(gsi, asserted)`. Edge mode pulses (true then false) per event;
 *   level mode sets Tn_INT_STS and holds the line while the status bit, INT_ENB_CNF and
 *   ENABLE_CNF are all set. Status bits are set in level mode even with INT_ENB_CNF clear
 *   (spec 2.3.8 bit 2); in edge mode they stay 0 (spec 2.3.6: "should be ignored"). An edge
 *   on a line already held by a level-mode timer is not pulsed (the line is already high).
 *   Lines are logical: polarity belongs to the IOAPIC redirection entry.
 * - Matches happen when the counter *becomes* equal to the comparator (the compare is done on
 *   the low 32 bits in 32-bit mode). A comparator equal to or behind the counter therefore
 *   matches only after the counter wraps (2^32 ticks, about 43 s, in 32-bit mode), which is
 *   what Linux's hpet_clkevt_set_next_event guards against with its -ETIME check.
 * - A one-shot timer in 32-bit mode also interrupts when the low 32 bits of the counter wrap
 *   to 0 (spec 2.3.9.2.1 / 2.4.3.1: "it will generate another interrupt when the main counter
 *   wraps around"); one event when both coincide.
 * - Periodic mode: a comparator write sets the period (the accumulator "last value written");
 *   with Tn_VAL_SET_CNF it also sets the comparator, and VAL_SET clears itself (Linux writes
 *   the comparator twice: first with VAL_SET, then the period). Because the CPU splits a
 *   64-bit write into two 32-bit writes, a VAL_SET low-half write is remembered until the very
 *   next register write: if that is the high half of the same comparator, it too goes to the
 *   comparator, as a single 64-bit write would. At each match the comparator grows by the
 *   period; events missed while the host was late coalesce into one interrupt and the
 *   comparator skips ahead (no interrupt storm).
 * - A timer is armed on the Clock only when its events are observable (INT_ENB_CNF set, or
 *   level mode, which sets status bits). A periodic timer with interrupts disabled keeps its
 *   comparator moving by computation on read, so an idle guest costs no host wakeups.
 *   Events more than 2^49 ticks (65 days) ahead are not armed.
 * - Events that fell due inside a CPU slice, before the machine ran the clock's timers, are
 *   delivered first when the guest next reads or writes a register, so a register access
 *   never observes a state that skipped a due event.
 * - Access sizes: 4-byte accesses at 4-byte aligned offsets (both halves of every 64-bit
 *   register); 1- and 2-byte reads return the bytes of the containing registers; writes of 1
 *   or 2 bytes and unaligned 4-byte writes are ignored (the spec allows only 32/64-bit
 *   accesses). Reserved registers and the unimplemented timers 3-31 read 0, writes dropped.
 * - Main counter writes are honoured only while the counter is halted (spec 2.3.7: "Writes to
 *   this register should only be done while the counter is halted"); while running they are
 *   ignored.
 * - VENDOR_ID 0x8086, REV_ID 1, as ICH HPETs and QEMU report; no software checks them.
 *
 * Not supported:
 * - FSB (MSI-style) delivery: Tn_FSB_INT_DEL_CAP = 0, Tn_FSB_EN_CNF reads 0, the FSB route
 *   register reads 0 and ignores writes. Linux then uses no per-CPU HPET clockevents.
 * - 8259 PIC routing (the machine has no PIC): legacy mode drives only the IOAPIC pins.
 * - 1- and 2-byte writes; "reserved for manufacturer" GEN_CONF bits 15:8 (read 0).
 * - The 2-cycle comparator write latency of some chipsets (writes take effect at once).
 */
import type { Clock, Timer } from '../machine/clock.ts';
import { IRQ0_OVERRIDE_GSI } from '../machine/layout.ts';
import type { AccessSize, Device } from './device.ts';

// ---- Register offsets (32-bit halves of the 64-bit registers) ------------------------------

/** Size of the register block the spec defines; the rest of the mapping reads 0. */
export const HPET_REGISTER_BLOCK_SIZE = 0x400;
export const HPET_GCAP_ID_OFFSET = 0x000;
/** High half of GCAP_ID: COUNTER_CLK_PERIOD (Linux: HPET_PERIOD). */
export const HPET_COUNTER_CLK_PERIOD_OFFSET = 0x004;
export const HPET_GEN_CONF_OFFSET = 0x010;
export const HPET_GINTR_STA_OFFSET = 0x020;
export const HPET_MAIN_CNT_OFFSET = 0x0f0;
/** Timer n's registers start at HPET_TIMER_OFFSET + n * HPET_TIMER_STRIDE. */
export const HPET_TIMER_OFFSET = 0x100;
export const HPET_TIMER_STRIDE = 0x20;
export const HPET_TN_CONF_CAP_OFFSET = 0x00;
export const HPET_TN_COMPARATOR_OFFSET = 0x08;
export const HPET_TN_FSB_ROUTE_OFFSET = 0x10;

// ---- Capabilities -------------------------------------------------------------------------

/** Number of comparators (NUM_TIM_CAP holds the last index, 2). */
export const HPET_NUM_TIMERS = 3;
/** COUNTER_CLK_PERIOD in femtoseconds: 10 ns, a 100 MHz counter. */
export const HPET_COUNTER_CLK_PERIOD_FS = 10_000_000;
/** The same period in guest nanoseconds. */
export const HPET_TICK_NS = HPET_COUNTER_CLK_PERIOD_FS / 1_000_000;
export const HPET_VENDOR_ID = 0x8086;
export const HPET_REV_ID = 1;

// GCAP_ID low half: 31:16 VENDOR_ID | 15 LEG_RT_CAP | 13 COUNT_SIZE_CAP | 12:8 NUM_TIM_CAP | 7:0 REV_ID
export const GCAP_NUM_TIM_CAP_SHIFT = 8;
export const GCAP_COUNT_SIZE_CAP = 1 << 13;
export const GCAP_LEG_RT_CAP = 1 << 15;
export const GCAP_VENDOR_ID_SHIFT = 16;
/** The low half of GCAP_ID as the guest reads it. */
export const HPET_GCAP_ID_LOW =
  (HPET_REV_ID | ((HPET_NUM_TIMERS - 1) << GCAP_NUM_TIM_CAP_SHIFT) | GCAP_COUNT_SIZE_CAP | GCAP_LEG_RT_CAP |
    (HPET_VENDOR_ID << GCAP_VENDOR_ID_SHIFT)) >>> 0;

// GEN_CONF: 1 LEG_RT_CNF | 0 ENABLE_CNF
export const GEN_CONF_ENABLE_CNF = 1 << 0;
export const GEN_CONF_LEG_RT_CNF = 1 << 1;
const GEN_CONF_MASK = GEN_CONF_ENABLE_CNF | GEN_CONF_LEG_RT_CNF;

// Tn_CONF_CAP low half.
export const TN_INT_TYPE_CNF = 1 << 1; // 1 = level triggered
export const TN_INT_ENB_CNF = 1 << 2;
export const TN_TYPE_CNF = 1 << 3; // 1 = periodic
export const TN_PER_INT_CAP = 1 << 4;
export const TN_SIZE_CAP = 1 << 5; // 1 = 64-bit comparator
export const TN_VAL_SET_CNF = 1 << 6;
export const TN_32MODE_CNF = 1 << 8;
export const TN_INT_ROUTE_CNF_SHIFT = 9;
export const TN_INT_ROUTE_CNF_MASK = 0x1f << TN_INT_ROUTE_CNF_SHIFT;
export const TN_FSB_EN_CNF = 1 << 14;
export const TN_FSB_INT_DEL_CAP = 1 << 15;

/** Tn_INT_ROUTE_CAP (high half of Tn_CONF_CAP): GSI 2, 8 and 20-23, for every timer. */
export const HPET_INT_ROUTE_CAP = ((1 << 2) | (1 << 8) | (0xf << 20)) >>> 0;
/** LegacyReplacement route of timer 0: ISA IRQ 0, overridden to GSI 2 by the MADT. */
export const HPET_LEGACY_TIMER0_GSI = IRQ0_OVERRIDE_GSI;
/** LegacyReplacement route of timer 1: ISA IRQ 8 (the RTC's line) = GSI 8. */
export const HPET_LEGACY_TIMER1_GSI = 8;

const MASK32 = 0xffff_ffffn;
const MASK64 = 0xffff_ffff_ffff_ffffn;
const HIGH32 = MASK64 ^ MASK32;
/** Events further ahead than this many ticks are not armed (keeps deadlines exact doubles). */
const MAX_ARM_TICKS = 2 ** 49;

/** Per-comparator snapshot. 64-bit values are bigints (structured-clone friendly). */
export interface HpetTimerState {
  /** Tn_CONF_CAP low half, writable bits only (route included). */
  config: number;
  comparator: bigint;
  /** Periodic accumulator: the last value written to the comparator in periodic mode. */
  period: bigint;
}

export interface HpetState {
  /** GEN_CONF (ENABLE_CNF, LEG_RT_CNF). */
  config: number;
  /** GINTR_STA. */
  status: number;
  /** Main counter value when the snapshot was taken. */
  counter: bigint;
  timers: HpetTimerState[];
}

export interface HpetOptions {
  clock: Clock;
  /** Drives IOAPIC input `gsi`: true = asserted. */
  setIrq(gsi: number, level: boolean): void;
}

/** One comparator and its interrupt logic. */
class Comparator {
  /** Tn_CONF_CAP low half, writable bits only: capability bits are added on read. */
  config = 0;
  comparator: bigint;
  period = 0n;
  /** Counter tick (since t0) of the next match or wrap event; undefined when none is due. */
  eventTick: number | undefined = undefined;
  readonly timer: Timer;

  constructor(
    readonly index: number,
    readonly periodicCapable: boolean,
    readonly wide: boolean,
    fire: (now: number) => void,
    clock: Clock,
  ) {
    this.comparator = wide ? MASK64 : MASK32; // spec 2.3.9.1: all ones
    this.timer = clock.timer(fire);
  }

  /** Bits the guest can change in the config register (route handled separately). */
  get writableMask(): number {
    return (
      TN_INT_TYPE_CNF | TN_INT_ENB_CNF | TN_VAL_SET_CNF |
      (this.periodicCapable ? TN_TYPE_CNF : 0) | (this.wide ? TN_32MODE_CNF : 0)
    );
  }
  /** Comparisons use 32 bits (32-bit timer or 32MODE_CNF). */
  get is32(): boolean {
    return !this.wide || (this.config & TN_32MODE_CNF) !== 0;
  }
  get mask(): bigint {
    return this.is32 ? MASK32 : MASK64;
  }
  get isPeriodic(): boolean {
    return (this.config & TN_TYPE_CNF) !== 0;
  }
  get isLevel(): boolean {
    return (this.config & TN_INT_TYPE_CNF) !== 0;
  }
  get route(): number {
    return (this.config & TN_INT_ROUTE_CNF_MASK) >>> TN_INT_ROUTE_CNF_SHIFT;
  }
  /** Whether an event has an effect worth a host wakeup (an interrupt or a status bit). */
  get isObservable(): boolean {
    return (this.config & TN_INT_ENB_CNF) !== 0 || this.isLevel;
  }
  /** The register low half as the guest reads it. */
  get configRegister(): number {
    return (this.config | (this.periodicCapable ? TN_PER_INT_CAP : 0) | (this.wide ? TN_SIZE_CAP : 0)) >>> 0;
  }
}

export class Hpet implements Device {
  readonly name = 'hpet';
  private readonly clock: Clock;
  private readonly setIrq: (gsi: number, level: boolean) => void;
  private config = 0;
  private status = 0;
  /** Counter value at t0 (running) or the frozen value (halted). */
  private base = 0n;
  /** Guest time at which the counter was last started. */
  private t0 = 0;
  private readonly timers: Comparator[];
  /** GSIs this device currently holds asserted (bit n = GSI n). */
  private highLines = 0;
  /** Timer whose comparator took a VAL_SET low-half write just before (see header), or -1. */
  private valSetLatch = -1;

  constructor(options: HpetOptions) {
    this.clock = options.clock;
    this.setIrq = options.setIrq;
    this.timers = [];
    for (let n = 0; n < HPET_NUM_TIMERS; n++) {
      const t: Comparator = new Comparator(n, n === 0, n === 0, (now) => this.fire(t, now), this.clock);
      this.timers.push(t);
    }
  }

  private get running(): boolean {
    return (this.config & GEN_CONF_ENABLE_CNF) !== 0;
  }

  // ---- Guest accesses ---------------------------------------------------------------------

  read(offset: number, size: AccessSize): number {
    this.deliverDue();
    return this.peek(offset, size);
  }

  peek(offset: number, size: AccessSize): number {
    const now = this.clock.now();
    if (size === 4 && (offset & 3) === 0) return this.readDword(offset, now);
    // 1/2-byte or unaligned reads: the bytes of the containing 32-bit halves.
    let value = 0;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      value |= ((this.readDword(at - (at & 3), now) >>> ((at & 3) * 8)) & 0xff) << (i * 8);
    }
    return value >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    const latch = this.valSetLatch;
    this.valSetLatch = -1;
    if (size !== 4 || (offset & 3) !== 0) return; // see header: 32-bit writes only
    this.deliverDue();
    value >>>= 0;
    if (offset >= HPET_TIMER_OFFSET && offset < HPET_TIMER_OFFSET + HPET_NUM_TIMERS * HPET_TIMER_STRIDE) {
      const t = this.timers[(offset - HPET_TIMER_OFFSET) >>> 5]!;
      this.writeTimer(t, (offset - HPET_TIMER_OFFSET) & (HPET_TIMER_STRIDE - 1), value, latch);
      return;
    }
    switch (offset) {
      case HPET_GEN_CONF_OFFSET:
        this.writeGenConf(value);
        break;
      case HPET_GINTR_STA_OFFSET:
        this.status &= ~value; // write 1 to clear
        this.updateIrq();
        break;
      case HPET_MAIN_CNT_OFFSET:
      case HPET_MAIN_CNT_OFFSET + 4:
        if (this.running) return; // only while halted (see header)
        this.base =
          offset === HPET_MAIN_CNT_OFFSET
            ? (this.base & HIGH32) | BigInt(value)
            : (BigInt(value) << 32n) | (this.base & MASK32);
        break;
      // GCAP_ID, the high halves of GEN_CONF and GINTR_STA, reserved space: read only.
    }
  }

  private readDword(offset: number, now: number): number {
    if (offset >= HPET_TIMER_OFFSET && offset < HPET_TIMER_OFFSET + HPET_NUM_TIMERS * HPET_TIMER_STRIDE) {
      const t = this.timers[(offset - HPET_TIMER_OFFSET) >>> 5]!;
      switch ((offset - HPET_TIMER_OFFSET) & (HPET_TIMER_STRIDE - 1)) {
        case HPET_TN_CONF_CAP_OFFSET: return t.configRegister;
        case HPET_TN_CONF_CAP_OFFSET + 4: return HPET_INT_ROUTE_CAP;
        case HPET_TN_COMPARATOR_OFFSET: return Number(this.comparatorAt(t, this.tickAt(now)) & MASK32);
        case HPET_TN_COMPARATOR_OFFSET + 4: return Number(this.comparatorAt(t, this.tickAt(now)) >> 32n);
        default: return 0; // FSB route (not supported) and reserved
      }
    }
    switch (offset) {
      case HPET_GCAP_ID_OFFSET: return HPET_GCAP_ID_LOW;
      case HPET_COUNTER_CLK_PERIOD_OFFSET: return HPET_COUNTER_CLK_PERIOD_FS;
      case HPET_GEN_CONF_OFFSET: return this.config;
      case HPET_GINTR_STA_OFFSET: return this.status;
      case HPET_MAIN_CNT_OFFSET: return Number(this.counterAt(now) & MASK32);
      case HPET_MAIN_CNT_OFFSET + 4: return Number(this.counterAt(now) >> 32n);
      default: return 0;
    }
  }

  private writeGenConf(value: number): void {
    const now = this.clock.now();
    const enable = (value & GEN_CONF_ENABLE_CNF) !== 0;
    // Settle periodic comparators at the current tick before anything changes.
    const tick = this.tickAt(now);
    for (const t of this.timers) t.comparator = this.comparatorAt(t, tick);
    if (this.running && !enable) this.base = this.counterAt(now); // halt: freeze the counter
    else if (!this.running && enable) this.t0 = now; // start counting from the frozen value
    this.config = value & GEN_CONF_MASK;
    for (const t of this.timers) this.schedule(t, this.tickAt(now));
    this.updateIrq();
  }

  private writeTimer(t: Comparator, reg: number, value: number, latch: number): void {
    if (reg !== HPET_TN_CONF_CAP_OFFSET && reg !== HPET_TN_COMPARATOR_OFFSET) {
      // Capabilities, FSB route and reserved are read only; 32-bit comparators have no high half.
      if (reg !== HPET_TN_COMPARATOR_OFFSET + 4 || t.is32) return;
    }
    const tick = this.tickAt(this.clock.now());
    // Settle periodic progress first so that the change applies from now on.
    t.comparator = this.comparatorAt(t, tick);
    switch (reg) {
      case HPET_TN_CONF_CAP_OFFSET: {
        const wasLevel = t.isLevel;
        const route = (value & TN_INT_ROUTE_CNF_MASK) >>> TN_INT_ROUTE_CNF_SHIFT;
        const keptRoute = (HPET_INT_ROUTE_CAP >>> route) & 1 ? route : t.route;
        t.config = (value & t.writableMask) | (keptRoute << TN_INT_ROUTE_CNF_SHIFT);
        if (wasLevel && !t.isLevel) this.status &= ~(1 << t.index);
        if (t.is32) {
          t.comparator &= MASK32;
          t.period &= MASK32;
        }
        break;
      }
      case HPET_TN_COMPARATOR_OFFSET: {
        const v = BigInt(value);
        const setValue = !t.isPeriodic || (t.config & TN_VAL_SET_CNF) !== 0;
        if (setValue) t.comparator = t.is32 ? v : (t.comparator & HIGH32) | v;
        if (t.isPeriodic) t.period = t.is32 ? v : (t.period & HIGH32) | v;
        if (t.isPeriodic && setValue && !t.is32) this.valSetLatch = t.index;
        t.config &= ~TN_VAL_SET_CNF;
        break;
      }
      case HPET_TN_COMPARATOR_OFFSET + 4: {
        const v = BigInt(value) << 32n;
        const setValue = !t.isPeriodic || (t.config & TN_VAL_SET_CNF) !== 0 || latch === t.index;
        if (setValue) t.comparator = v | (t.comparator & MASK32);
        if (t.isPeriodic) t.period = v | (t.period & MASK32);
        t.config &= ~TN_VAL_SET_CNF;
        break;
      }
    }
    this.schedule(t, tick);
    this.updateIrq();
  }

  // ---- Counter and events -----------------------------------------------------------------

  /** Counter ticks since t0 at guest time `now` (0 while halted). */
  private tickAt(now: number): number {
    return this.running ? Math.floor((now - this.t0) / HPET_TICK_NS) : 0;
  }

  private counterAt(now: number): bigint {
    return this.running ? (this.base + BigInt(this.tickAt(now))) & MASK64 : this.base;
  }

  /**
   * The comparator value at `tick`: a periodic comparator has grown by one period per match
   * since its last settled value (pure: used by reads and peek).
   */
  private comparatorAt(t: Comparator, tick: number): bigint {
    if (!t.isPeriodic || t.eventTick === undefined || tick < t.eventTick || t.period === 0n) return t.comparator;
    const missed = Math.floor((tick - t.eventTick) / Number(t.period));
    return (t.comparator + BigInt(missed + 1) * t.period) & t.mask;
  }

  /** Computes the next event after `fromTick` and arms the clock timer if it is observable. */
  private schedule(t: Comparator, fromTick: number): void {
    t.timer.cancel();
    t.eventTick = undefined;
    if (!this.running) return;
    const counter = (this.base + BigInt(fromTick)) & MASK64;
    const modulus = t.mask + 1n;
    let ticks = (t.comparator - counter) & t.mask; // until the counter becomes the comparator
    if (ticks === 0n) ticks = modulus;
    if (t.is32 && !t.isPeriodic) {
      const toWrap = modulus - (counter & MASK32); // one-shot 32-bit: also at the wrap
      if (toWrap < ticks) ticks = toWrap;
    }
    if (ticks > BigInt(MAX_ARM_TICKS)) return;
    t.eventTick = fromTick + Number(ticks);
    if (t.isObservable) t.timer.arm(this.t0 + t.eventTick * HPET_TICK_NS);
  }

  /** A timer's event is due at `now`. */
  private fire(t: Comparator, now: number): void {
    if (!this.running) return;
    const tick = this.tickAt(now);
    t.comparator = this.comparatorAt(t, tick); // periodic: add the period (once per match passed)
    this.schedule(t, tick);
    if (t.isLevel) {
      this.status |= 1 << t.index;
      this.updateIrq();
      return;
    }
    if (!(t.config & TN_INT_ENB_CNF)) return;
    const gsi = this.gsiOf(t);
    if (gsi === undefined || this.highLines & (1 << gsi)) return;
    this.setIrq(gsi, true); // edge: one pulse per event
    this.setIrq(gsi, false);
  }

  /** Fires the events that fell due before the clock's timer queue ran (see header). */
  private deliverDue(): void {
    let now: number | undefined;
    for (const t of this.timers) {
      const deadline = t.timer.deadline;
      if (deadline === undefined) continue;
      now ??= this.clock.now();
      if (deadline <= now) {
        t.timer.cancel();
        this.fire(t, now);
      }
    }
  }

  /** The IOAPIC input of a timer, or undefined if it is not routed anywhere. */
  private gsiOf(t: Comparator): number | undefined {
    if (this.config & GEN_CONF_LEG_RT_CNF && t.index < 2) {
      return t.index === 0 ? HPET_LEGACY_TIMER0_GSI : HPET_LEGACY_TIMER1_GSI;
    }
    return (HPET_INT_ROUTE_CAP >>> t.route) & 1 ? t.route : undefined;
  }

  /** Level-mode lines: asserted while status, INT_ENB_CNF and ENABLE_CNF are all set. */
  private updateIrq(): void {
    let want = 0;
    if (this.running) {
      for (const t of this.timers) {
        if (!t.isLevel || !(t.config & TN_INT_ENB_CNF) || !(this.status & (1 << t.index))) continue;
        const gsi = this.gsiOf(t);
        if (gsi !== undefined) want |= 1 << gsi;
      }
    }
    const changed = want ^ this.highLines;
    this.highLines = want;
    for (let gsi = 0; changed >>> gsi; gsi++) {
      if ((changed >>> gsi) & 1) this.setIrq(gsi, ((want >>> gsi) & 1) === 1);
    }
  }

  // ---- Reset and snapshots ----------------------------------------------------------------

  /** Power-on state: counter halted at 0, comparators all ones, lines released. */
  reset(): void {
    this.config = 0;
    this.status = 0;
    this.base = 0n;
    this.valSetLatch = -1;
    for (const t of this.timers) {
      t.config = 0;
      t.comparator = t.wide ? MASK64 : MASK32;
      t.period = 0n;
      this.schedule(t, 0);
    }
    this.updateIrq();
  }

  state(): HpetState {
    const now = this.clock.now();
    const tick = this.tickAt(now);
    return {
      config: this.config,
      status: this.status,
      counter: this.counterAt(now),
      timers: this.timers.map((t) => ({ config: t.config, comparator: this.comparatorAt(t, tick), period: t.period })),
    };
  }

  /** Restores a snapshot: the counter continues from its saved value; level lines re-assert. */
  static fromState(state: HpetState, options: HpetOptions): Hpet {
    const hpet = new Hpet(options);
    const big = (v: unknown, mask: bigint): bigint => (typeof v === 'bigint' ? v & mask : 0n);
    hpet.config = (Number(state.config) & GEN_CONF_MASK) >>> 0;
    hpet.status = (Number(state.status) & ((1 << HPET_NUM_TIMERS) - 1)) >>> 0;
    hpet.base = big(state.counter, MASK64);
    hpet.t0 = options.clock.now();
    hpet.timers.forEach((t, n) => {
      const s = state.timers[n];
      if (!s) return;
      const route = ((Number(s.config) & TN_INT_ROUTE_CNF_MASK) >>> TN_INT_ROUTE_CNF_SHIFT) & 0x1f;
      const keptRoute = (HPET_INT_ROUTE_CAP >>> route) & 1 ? route : 0;
      t.config = (Number(s.config) & t.writableMask) | (keptRoute << TN_INT_ROUTE_CNF_SHIFT);
      t.comparator = big(s.comparator, t.mask);
      t.period = big(s.period, t.mask);
    });
    for (const t of hpet.timers) hpet.schedule(t, 0);
    hpet.updateIrq();
    return hpet;
  }
}

/**
 * The I/O APIC of the virt machine: 24 interrupt pins (GSI 0-23) turned into interrupt
 * messages for the local APIC, at 0xFEC00000.
 *
 * Spec: Intel 82093AA I/O APIC datasheet (290566-001), 3.0 "Register Description"; the EOI
 * register of version 0x20 from the Intel ICH/PCH datasheets ("I/O APIC EOI Register", 0x40).
 * We model version 0x20: Linux then clears a stuck remote IRR through the EOI register.
 *
 * Memory-mapped registers (direct): IOREGSEL at 0x00 (index), IOWIN at 0x10 (data of the
 * selected register), EOI at 0x40 (write a vector: clears remote IRR of the level-triggered
 * entries with that vector). Accesses of 1, 2 or 4 bytes at those offsets work (narrow values
 * are zero-extended on write, truncated on read); everything else in the page reads 0 and
 * ignores writes. Indirect registers (through IOREGSEL/IOWIN): 0x00 IOAPICID, 0x01 IOAPICVER,
 * 0x02 IOAPICARB, 0x10 + 2n / 0x11 + 2n the low / high dword of redirection entry n.
 *
 * Redirection entry (64 bits):
 *   63    56 55            17 16 15 14 13 12 11 10     8 7        0
 *  +--------+----------------+--+--+--+--+--+--+--------+----------+
 *  |  dest  |    reserved    |M |TM|RI|PL|DS|DM|  mode  |  vector  |
 *  +--------+----------------+--+--+--+--+--+--+--------+----------+
 *  M mask, TM trigger (1 = level), RI remote IRR (RO), PL polarity (1 = active low),
 *  DS delivery status (RO), DM destination mode (1 = logical).
 *
 * Inputs: `setIrq(gsi, level)` gives a pin's electrical level (the machine's IrqLine for pin N).
 * - Edge-triggered pins deliver on the asserting edge (after polarity) while unmasked. An edge
 *   arriving while the pin is masked is dropped, as the 82093AA datasheet says ("edge-sensitive
 *   interrupts signaled on a masked interrupt pin are ignored"); Linux resends interrupts it
 *   lazily masked itself.
 * - Level-triggered pins deliver while asserted, unmasked and remote IRR is clear, and set
 *   remote IRR. `eoi(vector)` (the local APIC's EOI broadcast, or the EOI register) clears it
 *   and the pin delivers again if it is still asserted.
 *
 * Output: messages go to the injected `deliver(msg)` (the machine connects it to
 * `Lapic.deliver`); the IOAPIC never calls the local APIC itself (STYLE.md point 4).
 *
 * Not supported:
 * - The delivery status bit (always 0: delivery is instantaneous, nothing waits on a busy bus).
 * - The IRQ pin assertion register (0x20, version bit 15 = 0) and extended destination IDs
 *   (bits 55:48 are reserved and read 0).
 * - Arbitration: IOAPICARB reads back the ID, as after a reset of the APIC bus.
 * - Start-up delivery mode in an entry (reserved): such an entry delivers nothing.
 */
import type { AccessSize, Device, IrqLine } from './device.ts';
import { DELIVERY_STARTUP, isDeliveryMode, type InterruptMessage } from './msi.ts';

/** Direct (MMIO) registers. */
export const IOAPIC_IOREGSEL_OFFSET = 0x00;
export const IOAPIC_IOWIN_OFFSET = 0x10;
export const IOAPIC_EOI_OFFSET = 0x40;

/** Indirect registers (IOREGSEL values). */
export const IOAPIC_ID_INDEX = 0x00;
export const IOAPIC_VER_INDEX = 0x01;
export const IOAPIC_ARB_INDEX = 0x02;
export const IOAPIC_REDTBL_BASE_INDEX = 0x10;

/** Version 0x20 (with the EOI register), 24 pins: maximum redirection entry 23. */
export const IOAPIC_VERSION = 0x20;
export const IOAPIC_NUM_PINS = 24;
export const IOAPIC_VER_VALUE = IOAPIC_VERSION | ((IOAPIC_NUM_PINS - 1) << 16);
/** IOAPICID / IOAPICARB: the 4-bit ID in bits 27:24. */
export const IOAPIC_ID_SHIFT = 24;
export const IOAPIC_ID_MASK = 0xf;

/** Redirection entry, low dword. */
export const REDTBL_VECTOR_MASK = 0xff;
export const REDTBL_DELIVERY_MODE_SHIFT = 8;
export const REDTBL_DEST_LOGICAL_BIT = 1 << 11;
export const REDTBL_DELIVERY_STATUS_BIT = 1 << 12;
export const REDTBL_POLARITY_LOW_BIT = 1 << 13;
export const REDTBL_REMOTE_IRR_BIT = 1 << 14;
export const REDTBL_TRIGGER_LEVEL_BIT = 1 << 15;
export const REDTBL_MASKED_BIT = 1 << 16;
/** Writable bits of the low dword: all but delivery status and remote IRR, up to the mask. */
const REDTBL_LOW_WRITABLE_MASK = 0x1_afff;
/** Redirection entry, high dword: destination in bits 63:56. */
export const REDTBL_DEST_SHIFT = 24;
const REDTBL_HIGH_WRITABLE_MASK = 0xff00_0000;

export interface IoapicOptions {
  /** Where interrupt messages go (the machine: `(msg) => lapic.deliver(msg)`). */
  deliver: (msg: InterruptMessage) => void;
  /** IOAPIC ID (0-15, default 0; must match the MADT). */
  id?: number;
}

/** A snapshot of the IOAPIC (plain data). */
export interface IoapicState {
  id: number;
  ioregsel: number;
  /** Redirection entries as [low, high] dwords. */
  redirection: [number, number][];
  /** Electrical level of each input pin (before polarity). */
  levels: boolean[];
}

export class Ioapic implements Device {
  readonly name = 'ioapic';
  private readonly deliverMessage: (msg: InterruptMessage) => void;
  private readonly initialId: number;
  private id = 0;
  private ioregsel = 0;
  private readonly redLow = new Uint32Array(IOAPIC_NUM_PINS);
  private readonly redHigh = new Uint32Array(IOAPIC_NUM_PINS);
  /** Input pin levels as the devices drive them. */
  private readonly levels: boolean[] = new Array<boolean>(IOAPIC_NUM_PINS).fill(false);

  constructor(options: IoapicOptions) {
    this.deliverMessage = options.deliver;
    this.initialId = (options.id ?? 0) & IOAPIC_ID_MASK;
    this.reset();
  }

  /** Power-up state: every entry masked, edge, active high, vector 0. Pin levels are kept. */
  reset(): void {
    this.id = this.initialId;
    this.ioregsel = 0;
    this.redLow.fill(REDTBL_MASKED_BIT);
    this.redHigh.fill(0);
    this.updateIrq();
  }

  /**
   * An IrqLine for a device on pin `gsi` (`set(true)` = the device requests an interrupt).
   * An `activeLow` wire (PCI INTx) is electrically low when asserted and idles high: the pin
   * is driven high here, and the guest programs the entry's polarity low to match (ACPI: a
   * _PRT entry naming a GSI is level-triggered, active low). ISA wires (COM1) are active high.
   */
  irqLine(gsi: number, activeLow = false): IrqLine {
    if (activeLow) this.setIrq(gsi, true);
    return { set: (asserted) => this.setIrq(gsi, asserted !== activeLow) };
  }

  /** Drives input pin `gsi` to `level` (true = electrically high). Unknown pins are ignored. */
  setIrq(gsi: number, level: boolean): void {
    if (!Number.isInteger(gsi) || gsi < 0 || gsi >= IOAPIC_NUM_PINS) return;
    const wasAsserted = this.isAsserted(gsi);
    this.levels[gsi] = level;
    const low = this.redLow[gsi]!;
    // Edge-triggered: the asserting edge is the interrupt; masked edges are lost.
    if (!(low & REDTBL_TRIGGER_LEVEL_BIT) && !wasAsserted && this.isAsserted(gsi) && !(low & REDTBL_MASKED_BIT)) {
      this.send(gsi);
    }
    this.updateIrq();
  }

  /** EOI broadcast from a local APIC (or the EOI register): level entries with `vector` rearm. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      const low = this.redLow[pin]!;
      if ((low & REDTBL_VECTOR_MASK) === (vector & 0xff) && low & REDTBL_REMOTE_IRR_BIT) {
        this.redLow[pin] = low & ~REDTBL_REMOTE_IRR_BIT;
      }
    }
    this.updateIrq();
  }

  /** The pin's input is active, after the polarity inversion of its entry. */
  private isAsserted(pin: number): boolean {
    return this.levels[pin]! !== ((this.redLow[pin]! & REDTBL_POLARITY_LOW_BIT) !== 0);
  }

  /** Sends pin's redirection entry as a message; level-triggered entries set remote IRR. */
  private send(pin: number): void {
    const low = this.redLow[pin]!;
    const mode = (low >>> REDTBL_DELIVERY_MODE_SHIFT) & 7;
    if (!isDeliveryMode(mode) || mode === DELIVERY_STARTUP) return; // reserved modes
    const levelTriggered = (low & REDTBL_TRIGGER_LEVEL_BIT) !== 0;
    if (levelTriggered) this.redLow[pin] = low | REDTBL_REMOTE_IRR_BIT;
    this.deliverMessage({
      vector: low & REDTBL_VECTOR_MASK,
      deliveryMode: mode,
      logical: (low & REDTBL_DEST_LOGICAL_BIT) !== 0,
      destination: this.redHigh[pin]! >>> REDTBL_DEST_SHIFT,
      levelTriggered,
    });
  }

  /**
   * Level-triggered pins: every asserted, unmasked entry without remote IRR delivers. Called
   * after every mutation (a level pin never needs an edge to be noticed).
   */
  private updateIrq(): void {
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      const low = this.redLow[pin]!;
      if ((low & (REDTBL_TRIGGER_LEVEL_BIT | REDTBL_MASKED_BIT | REDTBL_REMOTE_IRR_BIT)) !== REDTBL_TRIGGER_LEVEL_BIT) continue;
      if (this.isAsserted(pin)) this.send(pin);
    }
  }

  // ---- MMIO --------------------------------------------------------------------------------

  read(offset: number, size: AccessSize): number {
    return this.peek(offset, size); // reads have no side effects on an IOAPIC
  }

  peek(offset: number, size: AccessSize): number {
    let value: number;
    switch (offset) {
      case IOAPIC_IOREGSEL_OFFSET: value = this.ioregsel; break;
      case IOAPIC_IOWIN_OFFSET: value = this.readIndirect(this.ioregsel); break;
      default: return 0; // including EOI: write-only
    }
    return size === 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1);
  }

  write(offset: number, size: AccessSize, value: number): void {
    const v = size === 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1);
    switch (offset) {
      case IOAPIC_IOREGSEL_OFFSET: this.ioregsel = v & 0xff; break;
      case IOAPIC_IOWIN_OFFSET: this.writeIndirect(this.ioregsel, v); break;
      case IOAPIC_EOI_OFFSET: this.eoi(v & 0xff); return;
      default: return;
    }
    this.updateIrq();
  }

  private readIndirect(index: number): number {
    switch (index) {
      case IOAPIC_ID_INDEX:
      case IOAPIC_ARB_INDEX:
        return (this.id << IOAPIC_ID_SHIFT) >>> 0;
      case IOAPIC_VER_INDEX: return IOAPIC_VER_VALUE;
    }
    const pin = (index - IOAPIC_REDTBL_BASE_INDEX) >> 1;
    if (index < IOAPIC_REDTBL_BASE_INDEX || pin >= IOAPIC_NUM_PINS) return 0; // unimplemented
    return index & 1 ? this.redHigh[pin]! : this.redLow[pin]!;
  }

  private writeIndirect(index: number, value: number): void {
    if (index === IOAPIC_ID_INDEX) {
      this.id = (value >>> IOAPIC_ID_SHIFT) & IOAPIC_ID_MASK;
      return;
    }
    const pin = (index - IOAPIC_REDTBL_BASE_INDEX) >> 1;
    if (index < IOAPIC_REDTBL_BASE_INDEX || pin >= IOAPIC_NUM_PINS) return; // read-only or absent
    if (index & 1) {
      this.redHigh[pin] = value & REDTBL_HIGH_WRITABLE_MASK;
      return;
    }
    const old = this.redLow[pin]!;
    let low = value & REDTBL_LOW_WRITABLE_MASK;
    // Remote IRR is read-only for level entries; switching to edge clears it (Linux relies on
    // this to unstick a pin on IOAPICs without the EOI register).
    if (low & REDTBL_TRIGGER_LEVEL_BIT) low |= old & REDTBL_REMOTE_IRR_BIT;
    this.redLow[pin] = low >>> 0;
  }

  // ---- Snapshots ---------------------------------------------------------------------------

  state(): IoapicState {
    const redirection: [number, number][] = [];
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) redirection.push([this.redLow[pin]!, this.redHigh[pin]!]);
    return { id: this.id, ioregsel: this.ioregsel, redirection, levels: [...this.levels] };
  }

  /**
   * Restores a snapshot. Level-triggered pins that are asserted without remote IRR deliver
   * again, so restore the local APIC first.
   */
  static fromState(state: IoapicState, options: IoapicOptions): Ioapic {
    const ioapic = new Ioapic(options);
    ioapic.id = state.id & IOAPIC_ID_MASK;
    ioapic.ioregsel = state.ioregsel & 0xff;
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      const entry = state.redirection[pin];
      if (entry) {
        ioapic.redLow[pin] = entry[0] & (REDTBL_LOW_WRITABLE_MASK | REDTBL_REMOTE_IRR_BIT);
        ioapic.redHigh[pin] = entry[1] & REDTBL_HIGH_WRITABLE_MASK;
      }
      ioapic.levels[pin] = state.levels[pin] ?? false;
    }
    ioapic.updateIrq();
    return ioapic;
  }
}

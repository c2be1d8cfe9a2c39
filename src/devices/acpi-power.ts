/**
 * The ACPI power registers of the HW-reduced virt machine, three I/O ports at 0x600: the FADT
 * SLEEP_CONTROL_REG (0x600), SLEEP_STATUS_REG (0x601) and RESET_REG (0x602). They are how the
 * guest turns the machine off (`poweroff`: S5) and resets it (`reboot`).
 *
 * Spec: ACPI 6.5, 4.8.3.7 "Sleep Control and Status Registers" (HW-reduced ACPI platforms),
 * 4.8.3.6 "Reset Register", 5.2.9 FADT fields SLEEP_CONTROL_REG / SLEEP_STATUS_REG /
 * RESET_REG / RESET_VALUE, 7.4.2 "\_Sx (System States)" (the SLP_TYPx values come from the
 * DSDT's \_S5 package). Client: ACPICA's acpi_hw_extended_sleep (drivers/acpi/acpica/hwesleep.c:
 * clear WAK_STS, write SLP_TYP << 2 | SLP_EN, poll WAK_STS) and acpi_reset (hwxface.c).
 *
 *   0x600 SLEEP_CONTROL_REG   7:6 reserved | 5 SLP_EN (write only) | 4:2 SLP_TYPx | 1:0 reserved
 *   0x601 SLEEP_STATUS_REG    7 WAK_STS (write 1 to clear) | 6:0 reserved
 *   0x602 RESET_REG           write RESET_VALUE (layout.ts ACPI_RESET_VALUE) to reset
 *
 * Design decisions:
 * - Writing SLP_EN with SLP_TYPx equal to the DSDT's \_S5 value (`s5SleepType`, default 5)
 *   calls `onPowerOff()`; the machine stops. The value must match what the ACPI builder puts
 *   in \_S5.
 * - Any other sleep type does not sleep (the machine has no S1-S4: no \_S1-\_S4 objects in the
 *   DSDT). So that OSPM's wait loop (poll WAK_STS after SLP_EN) cannot spin forever, WAK_STS
 *   is set at once, as if the machine had woken immediately; ACPICA then returns normally.
 * - Writing RESET_VALUE to RESET_REG calls `onReset()`; other values are ignored.
 * - Register reads: SLEEP_CONTROL returns the last SLP_TYPx (SLP_EN reads 0), SLEEP_STATUS
 *   returns WAK_STS, RESET_REG reads 0. The FADT declares 8-bit registers; wider accesses are
 *   split into bytes at consecutive ports (low byte first), as an ISA-style bus would; bytes
 *   beyond the three ports read 0xFF and their writes are dropped.
 * - No interrupt: HW-reduced sleep/wake has no SCI here (no GPE block, no Generic Event
 *   Device), so there is no `updateIrq()`.
 *
 * Not supported:
 * - Sleep states S1-S4 (no suspend to RAM or disk); wake events; the reserved bits.
 */
import { ACPI_RESET_PORT, ACPI_RESET_VALUE, ACPI_SLEEP_CONTROL_PORT, ACPI_SLEEP_STATUS_PORT } from '../machine/layout.ts';
import type { AccessSize, Device } from './device.ts';

/** Ports the device decodes, from ACPI_SLEEP_CONTROL_PORT. */
export const ACPI_POWER_PORT_COUNT = 3;
export const SLEEP_CONTROL_OFFSET = ACPI_SLEEP_CONTROL_PORT - ACPI_SLEEP_CONTROL_PORT; // 0
export const SLEEP_STATUS_OFFSET = ACPI_SLEEP_STATUS_PORT - ACPI_SLEEP_CONTROL_PORT; // 1
export const RESET_REG_OFFSET = ACPI_RESET_PORT - ACPI_SLEEP_CONTROL_PORT; // 2

// SLEEP_CONTROL_REG fields (ACPICA: ACPI_X_SLEEP_TYPE_MASK / _POSITION, ACPI_X_SLEEP_ENABLE).
export const SLP_TYP_SHIFT = 2;
export const SLP_TYP_MASK = 0x7 << SLP_TYP_SHIFT;
export const SLP_EN = 1 << 5;
// SLEEP_STATUS_REG (ACPICA: ACPI_X_WAKE_STATUS).
export const WAK_STS = 1 << 7;

/** SLP_TYPx of \_S5 that the DSDT advertises by default. */
export const DEFAULT_S5_SLEEP_TYPE = 5;

export interface AcpiPowerOptions {
  /** The guest entered S5 (soft off). */
  onPowerOff(): void;
  /** The guest wrote RESET_VALUE to the reset register. */
  onReset(): void;
  /** SLP_TYPa of the DSDT's \_S5 package (0-7, default 5). */
  s5SleepType?: number;
}

export interface AcpiPowerState {
  /** SLP_TYPx last written (0-7). */
  sleepType: number;
  wakeStatus: boolean;
}

export class AcpiPower implements Device {
  readonly name = 'acpi-power';
  private readonly onPowerOff: () => void;
  private readonly onReset: () => void;
  private readonly s5SleepType: number;
  private sleepType = 0;
  private wakeStatus = false;

  constructor(options: AcpiPowerOptions) {
    const s5 = options.s5SleepType ?? DEFAULT_S5_SLEEP_TYPE;
    if (!Number.isInteger(s5) || s5 < 0 || s5 > 7) throw new RangeError(`acpi-power: \\_S5 sleep type ${s5} is not 0-7`);
    this.s5SleepType = s5;
    this.onPowerOff = options.onPowerOff;
    this.onReset = options.onReset;
  }

  read(offset: number, size: AccessSize): number {
    return this.peek(offset, size); // reads have no side effects
  }

  peek(offset: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByte(offset + i) << (8 * i);
    return value >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
  }

  private readByte(offset: number): number {
    switch (offset) {
      case SLEEP_CONTROL_OFFSET: return this.sleepType << SLP_TYP_SHIFT; // SLP_EN is write only
      case SLEEP_STATUS_OFFSET: return this.wakeStatus ? WAK_STS : 0;
      case RESET_REG_OFFSET: return 0; // write only
      default: return 0xff; // not decoded
    }
  }

  private writeByte(offset: number, value: number): void {
    switch (offset) {
      case SLEEP_CONTROL_OFFSET:
        this.sleepType = (value & SLP_TYP_MASK) >>> SLP_TYP_SHIFT;
        if (!(value & SLP_EN)) return;
        if (this.sleepType === this.s5SleepType) this.onPowerOff();
        else this.wakeStatus = true; // no such sleep state: "woke" at once (see header)
        return;
      case SLEEP_STATUS_OFFSET:
        if (value & WAK_STS) this.wakeStatus = false; // write 1 to clear
        return;
      case RESET_REG_OFFSET:
        if (value === ACPI_RESET_VALUE) this.onReset();
        return;
    }
  }

  /** Power-on state. */
  reset(): void {
    this.sleepType = 0;
    this.wakeStatus = false;
  }

  state(): AcpiPowerState {
    return { sleepType: this.sleepType, wakeStatus: this.wakeStatus };
  }

  static fromState(state: AcpiPowerState, options: AcpiPowerOptions): AcpiPower {
    const device = new AcpiPower(options);
    device.sleepType = (Number(state.sleepType) & 7) >>> 0;
    device.wakeStatus = state.wakeStatus === true;
    return device;
  }
}

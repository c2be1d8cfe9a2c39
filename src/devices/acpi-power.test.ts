import { describe, expect, it } from 'vitest';
import { ACPI_RESET_PORT, ACPI_RESET_VALUE, ACPI_SLEEP_CONTROL_PORT, ACPI_SLEEP_STATUS_PORT } from '../machine/layout.ts';
import { ACPI_POWER_PORT_COUNT, AcpiPower, SLP_EN, WAK_STS, type AcpiPowerOptions } from './acpi-power.ts';
import { Bus } from './bus.ts';

/** The device on a port bus at 0x600, with its effects logged. */
function setup(s5SleepType?: number) {
  const events: string[] = [];
  const options: AcpiPowerOptions = {
    onPowerOff: () => void events.push('off'),
    onReset: () => void events.push('reset'),
    s5SleepType,
  };
  const device = new AcpiPower(options);
  const bus = new Bus('port');
  bus.register(ACPI_SLEEP_CONTROL_PORT, ACPI_POWER_PORT_COUNT, device);
  return { device, bus, events, options };
}

/** ACPICA acpi_hw_extended_sleep: clear WAK_STS, write SLP_TYP | SLP_EN, poll WAK_STS. */
function acpicaSleep(bus: Bus, sleepType: number, events: string[]): 'woke' | 'off' {
  bus.write(ACPI_SLEEP_STATUS_PORT, 1, WAK_STS);
  bus.write(ACPI_SLEEP_CONTROL_PORT, 1, ((sleepType << 2) & 0x1c) | SLP_EN);
  for (let i = 0; i < 1000; i++) {
    if (events.includes('off')) return 'off'; // the machine stopped the CPU
    if (bus.read(ACPI_SLEEP_STATUS_PORT, 1) & WAK_STS) return 'woke';
  }
  throw new Error('OSPM would spin forever waiting for WAK_STS');
}

describe('acpi power registers', () => {
  it('powers off on SLP_EN with the \\_S5 sleep type (default 5)', () => {
    const { bus, events } = setup();
    expect(acpicaSleep(bus, 5, events)).toBe('off');
    expect(events).toEqual(['off']);
  });

  it('uses the \\_S5 value given by the DSDT', () => {
    const { bus, events } = setup(0);
    expect(acpicaSleep(bus, 5, events)).toBe('woke'); // not S5 on this machine
    expect(events).toEqual([]);
    expect(acpicaSleep(bus, 0, events)).toBe('off');
    expect(() => setup(8)).toThrow(RangeError);
    expect(() => setup(-1)).toThrow(RangeError);
  });

  it('does not sleep for other sleep types but sets WAK_STS so that OSPM returns', () => {
    const { bus, events } = setup();
    for (const type of [0, 1, 2, 3, 4, 6, 7]) {
      expect(acpicaSleep(bus, type, events)).toBe('woke');
    }
    expect(events).toEqual([]);
    bus.write(ACPI_SLEEP_STATUS_PORT, 1, 0x7f); // writing 0 to WAK_STS keeps it
    expect(bus.read(ACPI_SLEEP_STATUS_PORT, 1)).toBe(WAK_STS);
    bus.write(ACPI_SLEEP_STATUS_PORT, 1, WAK_STS); // write 1 to clear
    expect(bus.read(ACPI_SLEEP_STATUS_PORT, 1)).toBe(0);
  });

  it('stores SLP_TYPx without SLP_EN and reads SLP_EN as 0', () => {
    const { bus, events } = setup();
    bus.write(ACPI_SLEEP_CONTROL_PORT, 1, 0xff & ~SLP_EN);
    expect(bus.read(ACPI_SLEEP_CONTROL_PORT, 1)).toBe(7 << 2);
    bus.write(ACPI_SLEEP_CONTROL_PORT, 1, (5 << 2) | 0xc3); // reserved bits ignored, no SLP_EN
    expect(bus.read(ACPI_SLEEP_CONTROL_PORT, 1)).toBe(5 << 2);
    expect(events).toEqual([]);
    expect(bus.read(ACPI_SLEEP_STATUS_PORT, 1)).toBe(0);
  });

  it('resets on RESET_VALUE only', () => {
    const { bus, events } = setup();
    for (const v of [0, 2, 0x0e, 0xfe, 0xff]) bus.write(ACPI_RESET_PORT, 1, v);
    expect(events).toEqual([]);
    bus.write(ACPI_RESET_PORT, 1, ACPI_RESET_VALUE);
    expect(events).toEqual(['reset']);
    expect(bus.read(ACPI_RESET_PORT, 1)).toBe(0);
  });

  it('splits wider accesses into bytes at consecutive ports', () => {
    const { bus, events, device } = setup();
    bus.write(ACPI_SLEEP_CONTROL_PORT, 2, (3 << 2) | SLP_EN); // S3 request: sets WAK_STS
    expect(bus.read(ACPI_SLEEP_CONTROL_PORT, 4)).toBe(0xff_00_80_0c); // 0x603 is not decoded
    bus.write(ACPI_SLEEP_STATUS_PORT, 2, WAK_STS | (ACPI_RESET_VALUE << 8));
    expect(events).toEqual(['reset']);
    expect(device.peek(ACPI_SLEEP_STATUS_PORT - ACPI_SLEEP_CONTROL_PORT, 1)).toBe(0);
  });

  it('round-trips its state and resets to power-on values', () => {
    const a = setup();
    a.bus.write(ACPI_SLEEP_CONTROL_PORT, 1, (2 << 2) | SLP_EN);
    const state = a.device.state();
    expect(state).toEqual({ sleepType: 2, wakeStatus: true });
    const b = AcpiPower.fromState(structuredClone(state), a.options);
    expect(b.state()).toEqual(state);
    expect(b.read(0, 2)).toBe((2 << 2) | (WAK_STS << 8));
    b.reset();
    expect(b.state()).toEqual({ sleepType: 0, wakeStatus: false });
  });
});

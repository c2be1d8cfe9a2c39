import { describe, expect, it } from 'vitest';
import { FakeClock } from '../machine/clock.ts';
import { COM1_GSI, IOAPIC_PINS, PCI_INTX_GSI_BASE } from '../machine/layout.ts';
import type { AccessSize } from './device.ts';
import {
  IOAPIC_EOI_OFFSET, IOAPIC_IOREGSEL_OFFSET, IOAPIC_IOWIN_OFFSET, IOAPIC_NUM_PINS, Ioapic, type IoapicState,
} from './ioapic.ts';
import { APIC_EOI_OFFSET, APIC_LDR_OFFSET, APIC_SVR_OFFSET, Lapic } from './lapic.ts';
import { DELIVERY_EXTINT, DELIVERY_FIXED, DELIVERY_NMI, type InterruptMessage } from './msi.ts';
import { xorshift32 } from './testing/contract.ts';

const MASKED = 1 << 16;
const LEVEL = 1 << 15;
const REMOTE_IRR = 1 << 14;
const ACTIVE_LOW = 1 << 13;
const LOGICAL = 1 << 11;

function setup(id?: number) {
  const sent: InterruptMessage[] = [];
  const ioapic = new Ioapic({ deliver: (msg) => sent.push(msg), ...(id === undefined ? {} : { id }) });
  const select = (index: number) => ioapic.write(IOAPIC_IOREGSEL_OFFSET, 4, index);
  const readReg = (index: number) => {
    select(index);
    return ioapic.read(IOAPIC_IOWIN_OFFSET, 4);
  };
  const writeReg = (index: number, value: number) => {
    select(index);
    ioapic.write(IOAPIC_IOWIN_OFFSET, 4, value);
  };
  /** Programs pin `pin` the way Linux does: high dword first, then low. */
  const route = (pin: number, low: number, destination = 0) => {
    writeReg(0x11 + 2 * pin, destination << 24);
    writeReg(0x10 + 2 * pin, low);
  };
  const low = (pin: number) => readReg(0x10 + 2 * pin);
  return { ioapic, sent, readReg, writeReg, route, low };
}

describe('IOAPIC registers', () => {
  it('identifies itself and masks every pin at reset', () => {
    const { ioapic, readReg, writeReg } = setup(2);
    expect(IOAPIC_NUM_PINS).toBe(IOAPIC_PINS);
    expect(readReg(0x00)).toBe(0x0200_0000);
    expect(readReg(0x01)).toBe(0x0017_0020); // version 0x20, max redirection entry 23
    expect(readReg(0x02)).toBe(0x0200_0000);
    writeReg(0x00, 0xffff_ffff);
    expect(readReg(0x00)).toBe(0x0f00_0000);
    writeReg(0x01, 0); // read-only
    writeReg(0x02, 0);
    expect(readReg(0x01)).toBe(0x0017_0020);
    expect(readReg(0x02)).toBe(0x0f00_0000);
    for (let pin = 0; pin < 24; pin++) {
      expect(readReg(0x10 + 2 * pin)).toBe(MASKED);
      expect(readReg(0x11 + 2 * pin)).toBe(0);
    }
    expect(readReg(0x03)).toBe(0);
    expect(readReg(0x40)).toBe(0); // past entry 23
    expect(ioapic.read(IOAPIC_IOREGSEL_OFFSET, 4)).toBe(0x40);
    ioapic.reset();
    expect(readReg(0x00)).toBe(0x0200_0000);
  });

  it('keeps writable bits only; delivery status and remote IRR are read-only', () => {
    const { readReg, writeReg } = setup();
    writeReg(0x10, 0xffff_ffff);
    expect(readReg(0x10)).toBe(0x1_afff);
    writeReg(0x11, 0xffff_ffff);
    expect(readReg(0x11)).toBe(0xff00_0000);
  });

  it('accepts narrow accesses at the register offsets and ignores the rest of the page', () => {
    const { ioapic, readReg } = setup();
    ioapic.write(IOAPIC_IOREGSEL_OFFSET, 1, 0x101); // byte write: 0x01
    expect(ioapic.read(IOAPIC_IOWIN_OFFSET, 1)).toBe(0x20);
    expect(ioapic.read(IOAPIC_IOWIN_OFFSET, 2)).toBe(0x0020);
    expect(ioapic.read(IOAPIC_IOREGSEL_OFFSET, 2)).toBe(0x01);
    ioapic.write(0x20, 4, 0x1234);
    ioapic.write(0x04, 4, 0x10);
    expect(ioapic.read(0x20, 4)).toBe(0);
    expect(ioapic.read(IOAPIC_EOI_OFFSET, 4)).toBe(0);
    expect(ioapic.read(IOAPIC_IOREGSEL_OFFSET, 4)).toBe(0x01);
    expect(readReg(0x10)).toBe(MASKED);
  });
});

describe('IOAPIC pins', () => {
  it('delivers edge-triggered pins on the asserting edge only', () => {
    const { ioapic, sent, route } = setup();
    route(COM1_GSI, 0x24);
    ioapic.setIrq(COM1_GSI, true);
    ioapic.setIrq(COM1_GSI, true);
    expect(sent).toEqual([{ vector: 0x24, deliveryMode: DELIVERY_FIXED, logical: false, destination: 0, levelTriggered: false }]);
    ioapic.eoi(0x24); // nothing to do for edge entries
    ioapic.setIrq(COM1_GSI, false);
    expect(sent.length).toBe(1);
    ioapic.setIrq(COM1_GSI, true);
    expect(sent.length).toBe(2);
  });

  it('drops edges that arrive while masked', () => {
    const { ioapic, sent, route } = setup();
    route(5, MASKED | 0x25);
    ioapic.setIrq(5, true);
    route(5, 0x25); // unmasking does not replay the lost edge
    expect(sent).toEqual([]);
    ioapic.setIrq(5, false);
    ioapic.setIrq(5, true);
    expect(sent.map((m) => m.vector)).toEqual([0x25]);
  });

  it('holds level-triggered pins with remote IRR until EOI and re-delivers while asserted', () => {
    const { ioapic, sent, route, low } = setup();
    route(10, LEVEL | 0x30);
    ioapic.setIrq(10, true);
    expect(sent.length).toBe(1);
    expect(sent[0]!.levelTriggered).toBe(true);
    expect(low(10) & REMOTE_IRR).toBe(REMOTE_IRR);
    ioapic.setIrq(10, false);
    ioapic.setIrq(10, true);
    expect(sent.length).toBe(1); // remote IRR blocks
    ioapic.eoi(0x31); // another vector
    expect(sent.length).toBe(1);
    ioapic.eoi(0x30); // still asserted: again
    expect(sent.length).toBe(2);
    ioapic.setIrq(10, false);
    ioapic.write(IOAPIC_EOI_OFFSET, 4, 0x30); // the version 0x20 EOI register
    expect(low(10) & REMOTE_IRR).toBe(0);
    expect(sent.length).toBe(2);
    // Switching the entry to edge clears a stuck remote IRR.
    ioapic.setIrq(10, true);
    expect(low(10) & REMOTE_IRR).toBe(REMOTE_IRR);
    route(10, 0x30);
    expect(low(10) & REMOTE_IRR).toBe(0);
  });

  it('delivers a level pin asserted while masked once it is unmasked', () => {
    const { ioapic, sent, route, low } = setup();
    route(11, MASKED | LEVEL | 0x31);
    ioapic.setIrq(11, true);
    expect(sent).toEqual([]);
    expect(low(11) & REMOTE_IRR).toBe(0);
    route(11, LEVEL | 0x31);
    expect(sent.map((m) => m.vector)).toEqual([0x31]);
  });

  it('inverts active-low pins and passes destination and mode through', () => {
    const { ioapic, sent, route } = setup();
    ioapic.setIrq(12, true); // idle-high wire
    route(12, ACTIVE_LOW | LEVEL | LOGICAL | 0x32, 0x03);
    expect(sent).toEqual([]);
    ioapic.setIrq(12, false); // pulled low: asserted
    expect(sent).toEqual([{ vector: 0x32, deliveryMode: DELIVERY_FIXED, logical: true, destination: 3, levelTriggered: true }]);
    route(13, (DELIVERY_NMI << 8), 0xff);
    ioapic.setIrq(13, true);
    route(14, (DELIVERY_EXTINT << 8));
    ioapic.setIrq(14, true);
    route(15, (6 << 8) | 0x40); // start-up is reserved in an entry
    ioapic.setIrq(15, true);
    route(16, (3 << 8) | 0x40); // 011 is reserved
    ioapic.setIrq(16, true);
    expect(sent.slice(1).map((m) => [m.deliveryMode, m.destination])).toEqual([[DELIVERY_NMI, 0xff], [DELIVERY_EXTINT, 0]]);
    ioapic.setIrq(99, true); // no such pin
    ioapic.setIrq(-1, true);
    expect(sent.length).toBe(3);
  });
});

describe('IOAPIC with a local APIC', () => {
  /** The machine's wiring: IOAPIC -> LAPIC.deliver, LAPIC EOI broadcast -> IOAPIC.eoi. */
  function machine() {
    const clock = new FakeClock();
    let ioapic: Ioapic | undefined;
    const lapic = new Lapic({ clock, onEoi: (v) => ioapic!.eoi(v) });
    ioapic = new Ioapic({ deliver: (msg) => lapic.deliver(msg) });
    lapic.write(APIC_SVR_OFFSET, 4, 0x1ff);
    lapic.write(APIC_LDR_OFFSET, 4, 0x0100_0000); // Linux flat logical mode: CPU 0 is bit 0
    const program = (pin: number, low: number, destination: number) => {
      ioapic!.write(IOAPIC_IOREGSEL_OFFSET, 4, 0x11 + 2 * pin);
      ioapic!.write(IOAPIC_IOWIN_OFFSET, 4, destination << 24);
      ioapic!.write(IOAPIC_IOREGSEL_OFFSET, 4, 0x10 + 2 * pin);
      ioapic!.write(IOAPIC_IOWIN_OFFSET, 4, low);
    };
    return { lapic, ioapic, program };
  }

  it('routes COM1 (GSI 4, edge, active high)', () => {
    const { lapic, ioapic, program } = machine();
    const uart = ioapic.irqLine(COM1_GSI);
    program(COM1_GSI, 0x24, 0);
    uart.set(true);
    expect(lapic.hasInterrupt()).toBe(true);
    expect(lapic.acknowledge()).toBe(0x24);
    lapic.write(APIC_EOI_OFFSET, 4, 0);
    expect(lapic.hasInterrupt()).toBe(false); // edge: the line staying high does not repeat
    uart.set(false);
    uart.set(true);
    expect(lapic.acknowledge()).toBe(0x24);
  });

  it('routes PCI INTA-INTD (GSI 16-19, level, active low) with EOI broadcast and re-delivery', () => {
    const { lapic, ioapic, program } = machine();
    const lines = [0, 1, 2, 3].map((i) => ioapic.irqLine(PCI_INTX_GSI_BASE + i, true));
    for (let i = 0; i < 4; i++) program(PCI_INTX_GSI_BASE + i, ACTIVE_LOW | LEVEL | LOGICAL | (0x50 + 0x10 * i), 0x01);
    expect(lapic.hasInterrupt()).toBe(false); // idle-high wires are not asserted
    lines[2]!.set(true); // INTC
    expect(lapic.acknowledge()).toBe(0x70);
    lapic.write(APIC_EOI_OFFSET, 4, 0); // the device still asserts: the IOAPIC sends it again
    expect(lapic.hasInterrupt()).toBe(true);
    expect(lapic.acknowledge()).toBe(0x70);
    lines[2]!.set(false); // the driver serviced the device
    lapic.write(APIC_EOI_OFFSET, 4, 0);
    expect(lapic.hasInterrupt()).toBe(false);
    lines[0]!.set(true);
    lines[3]!.set(true);
    expect(lapic.acknowledge()).toBe(0x80);
    lines[3]!.set(false);
    lapic.write(APIC_EOI_OFFSET, 4, 0);
    expect(lapic.acknowledge()).toBe(0x50);
  });
});

describe('IOAPIC state and robustness', () => {
  it('round-trips its state; restoring re-delivers an asserted level pin without remote IRR', () => {
    const a = setup(1);
    a.route(3, 0x23, 0);
    a.route(17, ACTIVE_LOW | LEVEL | 0x61, 0);
    a.ioapic.setIrq(17, true);
    a.ioapic.setIrq(17, false);
    a.ioapic.write(IOAPIC_IOREGSEL_OFFSET, 4, 0x12);
    const saved = a.ioapic.state();
    const snapshot: IoapicState = JSON.parse(JSON.stringify(saved));
    const sent: InterruptMessage[] = [];
    const b = Ioapic.fromState(snapshot, { deliver: (m) => sent.push(m) });
    expect(b.state()).toEqual(saved);
    expect(sent).toEqual([]); // remote IRR is set: nothing to re-deliver
    b.eoi(0x61);
    expect(sent.map((m) => m.vector)).toEqual([0x61]); // still asserted (low)
    // A snapshot with the pin asserted and remote IRR clear delivers on restore.
    const fresh = { ...snapshot, redirection: snapshot.redirection.map(([lo, hi]) => [lo & ~REMOTE_IRR, hi] as [number, number]) };
    const resent: InterruptMessage[] = [];
    Ioapic.fromState(fresh, { deliver: (m) => resent.push(m) });
    expect(resent.map((m) => m.vector)).toEqual([0x61]);
  });

  it('never throws on random register traffic', () => {
    const next = xorshift32(0x9e37_79b9);
    const random = (): number => next() / 2 ** 32;
    const { ioapic, sent } = setup();
    const sizes: AccessSize[] = [1, 2, 4];
    for (let i = 0; i < 20_000; i++) {
      const offset = random() < 0.7 ? [0, 0x10, 0x40][Math.floor(random() * 3)]! : Math.floor(random() * 0x1000);
      const size = sizes[Math.floor(random() * 3)]!;
      const value = Math.floor(random() * 2 ** 32);
      const choice = random();
      if (choice < 0.4) ioapic.write(offset, size, value);
      else if (choice < 0.7) {
        const v = ioapic.read(offset, size);
        expect(v >= 0 && v < 2 ** (8 * size)).toBe(true);
      } else if (choice < 0.9) ioapic.setIrq(Math.floor(random() * 26), random() < 0.5);
      else ioapic.eoi(value & 0xff);
    }
    for (const m of sent) expect(m.vector >= 0 && m.vector <= 0xff && m.destination <= 0xff).toBe(true);
  });
});

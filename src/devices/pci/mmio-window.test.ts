import { describe, expect, it } from 'vitest';
import { PCI_MMIO_SIZE, PCI_MMIO_START } from '../../machine/layout.ts';
import { Bus } from '../bus.ts';
import type { AccessSize, Device } from '../device.ts';
import { BarAllocator } from './bar-allocator.ts';
import { PciFunction } from './function.ts';
import { PciMmioWindow } from './mmio-window.ts';
import { PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_MSIX_FLAGS_ENABLE } from './regs.ts';

function tagged(tag: number, log: string[]): Device {
  return {
    name: `dev${tag}`,
    read: (offset: number) => tag * 0x1_0000 + offset,
    write: (offset: number, size: AccessSize, value: number) => void log.push(`${tag} w${size} ${offset.toString(16)}=${value.toString(16)}`),
  };
}

function setup(): { bus: Bus; window: PciMmioWindow; fn: PciFunction; other: PciFunction; log: string[]; sent: string[] } {
  const log: string[] = [];
  const sent: string[] = [];
  const fn = new PciFunction({ name: 'a', vendorId: 0x1af4, deviceId: 0x1041, classCode: 0x02_00_00 });
  fn.addMemoryBar(0, { size: 0x1000, device: tagged(1, log) });
  fn.addMemoryBar(2, { size: 0x4000, is64Bit: true, device: tagged(2, log) });
  fn.addMsix({ vectors: 2, bar: 2, tableOffset: 0x3000, pbaOffset: 0x3800, msi: (a, d) => sent.push(`${a.toString(16)}:${d}`) });
  const other = new PciFunction({ name: 'b', vendorId: 0x1af4, deviceId: 0x1042, classCode: 0x01_00_00 });
  other.addMemoryBar(0, { size: 0x1000, device: tagged(3, log) });
  const window = new PciMmioWindow();
  window.add(fn);
  window.add(other);
  const alloc = new BarAllocator();
  alloc.assign(fn); // BAR 2 at +0, BAR 0 at +0x4000
  alloc.assign(other); // BAR 0 at +0x5000
  const bus = new Bus('mmio');
  bus.register(PCI_MMIO_START, PCI_MMIO_SIZE, window);
  return { bus, window, fn, other, log, sent };
}

describe('PCI MMIO window', () => {
  it('forwards accesses to the BAR that decodes the address', () => {
    const { bus, log } = setup();
    expect(bus.read(PCI_MMIO_START + 0x10, 4)).toBe(0x2_0010);
    expect(bus.read(PCI_MMIO_START + 0x4008, 2)).toBe(0x1_0008);
    expect(bus.read(PCI_MMIO_START + 0x5ffc, 4)).toBe(0x3_0ffc);
    expect(bus.read(PCI_MMIO_START + 0x6000, 4)).toBe(0xffff_ffff); // nothing there
    bus.write(PCI_MMIO_START + 0x4004, 4, 0xabc);
    bus.write(PCI_MMIO_START + 0x7000, 4, 1);
    expect(log).toEqual(['1 w4 4=abc']);
  });

  it('follows a BAR the guest moves, and stops decoding when memory space is disabled', () => {
    const { bus, window, fn, other } = setup();
    fn.writeConfig(0x10, 4, PCI_MMIO_START + 0x10_0000);
    expect(bus.read(PCI_MMIO_START + 0x4000, 4)).toBe(0xffff_ffff);
    expect(bus.read(PCI_MMIO_START + 0x10_0004, 4)).toBe(0x1_0004);
    expect(window.find(PCI_MMIO_START + 0x10_0004)).toEqual({ fn, bar: 0, offset: 4 });
    other.writeConfig(0x04, 2, 0);
    expect(bus.read(PCI_MMIO_START + 0x5000, 4)).toBe(0xffff_ffff);
    other.writeConfig(0x04, 2, PCI_COMMAND_MEMORY);
    expect(bus.read(PCI_MMIO_START + 0x5000, 4)).toBe(0x3_0000);
    // Moved outside the window: no longer reachable through it.
    other.writeConfig(0x10, 4, 0x8000_0000);
    expect(window.find(0x8000_0000)).toBeUndefined();
    expect(bus.read(PCI_MMIO_START + 0x5000, 4)).toBe(0xffff_ffff);
  });

  it('reaches the MSI-X table through the BAR', () => {
    const { bus, fn, sent } = setup();
    fn.writeConfig(0x04, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    const table = PCI_MMIO_START + 0x3000;
    bus.write(table + 16, 4, 0xfee0_0000);
    bus.write(table + 24, 4, 0x31);
    bus.write(table + 28, 4, 0);
    expect(bus.read(table + 28, 4)).toBe(0);
    expect(bus.read(table + 12, 4)).toBe(1); // vector 0 still masked
    fn.writeConfig(fn.msix!.cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
    fn.msix!.notify(1);
    fn.msix!.notify(0);
    expect(sent).toEqual(['fee00000:49']);
    expect(bus.read(PCI_MMIO_START + 0x3800, 4)).toBe(0b01); // vector 0 pending
    expect(bus.read(PCI_MMIO_START + 0x2ffc, 4)).toBe(0x2_2ffc); // below the table: the device
  });
});

import { describe, expect, it } from 'vitest';
import { PCI_MMIO_SIZE, PCI_MMIO_START } from '../../machine/layout.ts';
import type { Device } from '../device.ts';
import { BarAllocator } from './bar-allocator.ts';
import { PciFunction } from './function.ts';
import { PCI_COMMAND_MEMORY } from './regs.ts';

const nullDevice: Device = { name: 'null', read: () => 0, write: () => {} };

describe('BarAllocator', () => {
  it('hands out naturally aligned ranges inside the window and fills alignment gaps', () => {
    const alloc = new BarAllocator();
    const a = alloc.allocate(0x1000);
    const b = alloc.allocate(0x10_0000); // 1 MiB: skips to the next MiB boundary
    const c = alloc.allocate(0x4000); // goes into the gap left before b
    expect(a).toBe(PCI_MMIO_START);
    expect(b).toBe(PCI_MMIO_START + 0x10_0000);
    expect(c).toBe(PCI_MMIO_START + 0x4000);
    for (const [addr, size] of [[a, 0x1000], [b, 0x10_0000], [c, 0x4000]] as const) {
      expect(addr % size).toBe(0);
      expect(addr + size).toBeLessThanOrEqual(PCI_MMIO_START + PCI_MMIO_SIZE);
    }
    expect(alloc.allocate(0x1000)).toBe(PCI_MMIO_START + 0x1000);
  });

  it('throws when the window is full or the size is not a power of two', () => {
    const alloc = new BarAllocator();
    expect(alloc.allocate(PCI_MMIO_SIZE / 2)).toBe(PCI_MMIO_START);
    expect(alloc.allocate(PCI_MMIO_SIZE / 4)).toBe(PCI_MMIO_START + PCI_MMIO_SIZE / 2);
    expect(() => alloc.allocate(PCI_MMIO_SIZE / 2)).toThrow(/full/);
    expect(() => alloc.allocate(0x3000)).toThrow(/power of two/);
    const small = new BarAllocator(0x1000, 0x1000);
    expect(() => small.allocate(0x2000)).toThrow(/full/);
  });

  it('programs a function through its config space and enables decoding', () => {
    const fn = new PciFunction({ name: 'f', vendorId: 0x1af4, deviceId: 0x1042, classCode: 0x01_00_00 });
    fn.addMemoryBar(0, { size: 0x1000, device: nullDevice });
    fn.addMemoryBar(4, { size: 0x4000, is64Bit: true, prefetchable: true, device: nullDevice });
    const mapped: string[] = [];
    fn.setBarListener((bar, address) => mapped.push(`${bar}:${address?.toString(16)}`));
    const placed = new BarAllocator().assign(fn);
    expect([...placed]).toEqual([[4, PCI_MMIO_START], [0, PCI_MMIO_START + 0x4000]]); // largest first
    expect(fn.readConfig(0x20, 4)).toBe(PCI_MMIO_START + 0xc);
    expect(fn.readConfig(0x24, 4)).toBe(0);
    expect(fn.readConfig(0x10, 4)).toBe(PCI_MMIO_START + 0x4000);
    expect(fn.readConfig(0x04, 2) & PCI_COMMAND_MEMORY).toBe(PCI_COMMAND_MEMORY);
    expect(mapped.sort()).toEqual(['0:c0004000', '4:c0000000']);
  });
});

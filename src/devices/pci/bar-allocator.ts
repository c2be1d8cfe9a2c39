/**
 * Assigns guest-physical addresses to memory BARs inside the host bridge's 32-bit MMIO window
 * (PCI_MMIO_START..+PCI_MMIO_SIZE, layout.ts), as firmware does before the OS runs. Each BAR gets
 * a naturally aligned range (a BAR of size S sits at a multiple of S: PCI 3.0 section 6.2.5.1),
 * first fit over the gaps left so far, so small BARs fill the holes that alignment leaves.
 *
 * `assign(fn)` programs the BARs through the function's config space, largest first, and then
 * sets Memory Space Enable, as SeaBIOS and OVMF do; Linux keeps assignments that lie inside the
 * DSDT _CRS window (arch/x86/pci/i386.c, pcibios_resource_survey) and re-enables decoding in
 * pci_enable_device() anyway.
 *
 * Not supported: I/O BARs, a window above 4 GiB for 64-bit BARs (64-bit BARs are placed in the
 * 32-bit window with a zero upper half), freeing ranges (hot-unplug).
 */
import { PCI_MMIO_SIZE, PCI_MMIO_START } from '../../machine/layout.ts';
import type { PciFunction } from './function.ts';
import { PCI_BASE_ADDRESS_0_OFFSET, PCI_COMMAND_MEMORY, PCI_COMMAND_OFFSET } from './regs.ts';

interface Range {
  readonly start: number;
  readonly size: number;
}

export class BarAllocator {
  /** Allocated ranges, sorted by start. */
  private readonly used: Range[] = [];

  constructor(
    readonly start = PCI_MMIO_START,
    readonly size = PCI_MMIO_SIZE,
  ) {}

  /** A naturally aligned range of `size` bytes (a power of two). Throws when the window is full. */
  allocate(size: number): number {
    if (!Number.isSafeInteger(size) || size <= 0 || 2 ** Math.round(Math.log2(size)) !== size) {
      throw new RangeError(`BAR size ${size} is not a power of two`);
    }
    const end = this.start + this.size;
    let candidate = alignUp(this.start, size);
    for (const r of this.used) {
      if (candidate + size <= r.start) break; // fits in the gap before r
      candidate = Math.max(candidate, alignUp(r.start + r.size, size));
    }
    if (candidate + size > end) {
      throw new RangeError(`PCI MMIO window full: no room for a 0x${size.toString(16)}-byte BAR`);
    }
    this.used.push({ start: candidate, size });
    this.used.sort((a, b) => a.start - b.start);
    return candidate;
  }

  /** Places every BAR of `fn` and enables memory decoding. Returns the addresses by BAR index. */
  assign(fn: PciFunction): Map<number, number> {
    const placed = new Map<number, number>();
    const bars = fn.barInfo().sort((a, b) => b.size - a.size);
    for (const bar of bars) {
      const address = this.allocate(bar.size);
      const reg = PCI_BASE_ADDRESS_0_OFFSET + 4 * bar.index;
      fn.writeConfig(reg, 4, address >>> 0);
      if (bar.is64Bit) fn.writeConfig(reg + 4, 4, Math.floor(address / 2 ** 32));
      placed.set(bar.index, address);
    }
    if (bars.length > 0) fn.writeConfig(PCI_COMMAND_OFFSET, 2, fn.command | PCI_COMMAND_MEMORY);
    return placed;
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

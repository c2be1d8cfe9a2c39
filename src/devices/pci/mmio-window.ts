/**
 * The host bridge's 32-bit MMIO window (PCI_MMIO_START..+PCI_MMIO_SIZE, layout.ts) as one device
 * on the machine's MMIO bus: it forwards each access to the BAR that currently decodes the
 * address, the way a root complex forwards the memory ranges of its window to PCI (PCI Firmware
 * Specification 3.2 section 4.1; the window is the DSDT _CRS of the PNP0A08 device).
 *
 * Functions report their BAR mappings through `PciFunction.setBarListener`; `add(fn)` installs
 * that listener, so BARs the guest moves, sizes or stops decoding are followed without touching
 * the MMIO bus (which maps fixed ranges).
 *
 * - An address no enabled BAR decodes reads as all ones and ignores writes (master abort).
 * - A BAR programmed (partly) outside the window is decoded only for the part inside it.
 * - If the guest programs two BARs to overlap, which one answers inside the overlap is
 *   unspecified (undefined on hardware too); each BAR still answers outside it.
 *
 * Not supported: a second window above 4 GiB, I/O space, peer-to-peer or DMA into BARs.
 */
import { PCI_MMIO_SIZE, PCI_MMIO_START } from '../../machine/layout.ts';
import { allOnes, type AccessSize, type Device } from '../device.ts';
import type { PciFunction } from './function.ts';

interface Mapping {
  readonly start: number;
  readonly size: number;
  readonly fn: PciFunction;
  readonly bar: number;
}

export class PciMmioWindow implements Device {
  readonly name = 'pci-mmio-window';
  /** Enabled BAR mappings, sorted by start address. */
  private mappings: Mapping[] = [];
  /** Last hit, checked first: accesses come in runs to one BAR. */
  private last: Mapping | undefined;

  constructor(
    readonly base = PCI_MMIO_START,
    readonly size = PCI_MMIO_SIZE,
  ) {}

  /** Follows the BARs of `fn` from now on (replaces any BAR listener it had). */
  add(fn: PciFunction): void {
    fn.setBarListener((bar, address, size) => this.remap(fn, bar, address, size));
  }

  /** The BAR mapped at guest-physical `address`, if any (diagnostics and tests). */
  find(address: number): { fn: PciFunction; bar: number; offset: number } | undefined {
    const m = this.lookup(address);
    return m && { fn: m.fn, bar: m.bar, offset: address - m.start };
  }

  read(offset: number, size: AccessSize): number {
    const address = this.base + offset;
    const m = this.lookup(address);
    return m ? m.fn.barRead(m.bar, address - m.start, size) : allOnes(size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    const address = this.base + offset;
    const m = this.lookup(address);
    if (m) m.fn.barWrite(m.bar, address - m.start, size, value);
  }

  // No peek: reading a BAR may have side effects (virtio ISR), so there is no side-effect-free read.

  private remap(fn: PciFunction, bar: number, address: number | undefined, size: number): void {
    this.mappings = this.mappings.filter((m) => m.fn !== fn || m.bar !== bar);
    this.last = undefined;
    const end = this.base + this.size;
    if (address !== undefined && address < end && address + size > this.base) {
      this.mappings.push({ start: address, size, fn, bar });
      this.mappings.sort((a, b) => a.start - b.start); // stable: equal starts keep mapping order
    }
  }

  private lookup(address: number): Mapping | undefined {
    const last = this.last;
    if (last && address >= last.start && address < last.start + last.size) return last;
    for (const m of this.mappings) {
      if (m.start > address) break;
      if (address < m.start + m.size) return (this.last = m);
    }
    return undefined;
  }
}

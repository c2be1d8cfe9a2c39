/**
 * The I/O port bus and the MMIO bus: devices registered at non-overlapping ranges, addressed by
 * offset (STYLE.md point 3). Unmapped reads return all ones and unmapped writes are dropped
 * (shared/MACHINE.md: Linux detects the absent PIC by reading 0xFF from port 0x21).
 *
 * A device never throws out of the bus: a host exception inside a device is caught, reported
 * once through `onError`, and the access behaves as unmapped. The guest may break its devices;
 * it must not break the emulator.
 */
import type { IoBus } from '../emu/x86/cpu.ts';
import type { PhysBus } from '../emu/x86/mmu.ts';
import { allOnes, type AccessSize, type Device } from './device.ts';

interface Mapping {
  readonly start: number;
  readonly size: number;
  readonly device: Device;
}

/** Devices at address ranges; lookups scan a short sorted list (a machine has a handful). */
export class Bus {
  private readonly mappings: Mapping[] = [];
  /** Last hit, checked first: accesses come in runs to one device. */
  private last: Mapping | undefined;
  /** Called when a device throws (an emulator bug); the access then acts as unmapped. */
  onError: (device: Device, error: unknown) => void = (device, error) => {
    console.error(`virtlite: device ${device.name} failed:`, error);
  };

  constructor(readonly kind: 'port' | 'mmio') {}

  /** Maps `device` at [start, start + size). Throws if the range overlaps another device. */
  register(start: number, size: number, device: Device): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || start < 0 || size <= 0) {
      throw new RangeError(`${this.kind} bus: bad range for ${device.name}: ${start}+${size}`);
    }
    for (const m of this.mappings) {
      if (start < m.start + m.size && m.start < start + size) {
        throw new Error(`${this.kind} bus: ${device.name} at 0x${start.toString(16)} overlaps ${m.device.name}`);
      }
    }
    this.mappings.push({ start, size, device });
    this.mappings.sort((a, b) => a.start - b.start);
  }

  /** The device mapped at `addr`, if any. */
  find(addr: number): { device: Device; offset: number } | undefined {
    const m = this.lookup(addr);
    return m && { device: m.device, offset: addr - m.start };
  }

  private lookup(addr: number): Mapping | undefined {
    const last = this.last;
    if (last && addr >= last.start && addr < last.start + last.size) return last;
    for (const m of this.mappings) {
      if (addr >= m.start && addr < m.start + m.size) return (this.last = m);
    }
    return undefined;
  }

  read(addr: number, size: AccessSize): number {
    const m = this.lookup(addr);
    if (!m) return allOnes(size);
    try {
      return m.device.read(addr - m.start, size);
    } catch (error) {
      this.onError(m.device, error);
      return allOnes(size);
    }
  }

  write(addr: number, size: AccessSize, value: number): void {
    const m = this.lookup(addr);
    if (!m) return;
    try {
      m.device.write(addr - m.start, size, size === 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1));
    } catch (error) {
      this.onError(m.device, error);
    }
  }
}

/** The CPU's view of a port bus (IN/OUT). */
export function asIoBus(bus: Bus): IoBus {
  return {
    read: (port, size) => bus.read(port & 0xffff, size as AccessSize),
    write: (port, size, value) => bus.write(port & 0xffff, size as AccessSize, value),
  };
}

/** The CPU's view of an MMIO bus (physical addresses outside RAM). */
export function asPhysBus(bus: Bus): PhysBus {
  return {
    read: (addr, size) => bus.read(addr, size as AccessSize),
    write: (addr, size, value) => bus.write(addr, size as AccessSize, value),
  };
}

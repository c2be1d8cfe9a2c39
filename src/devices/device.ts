/**
 * The device ABI of the virt machine (STYLE.md point 3): devices are small synchronous state
 * machines addressed by register offset, with their side effects injected as capabilities
 * (an interrupt line, a clock, a byte sink, guest memory). The buses in ./bus.ts turn absolute
 * port numbers and physical addresses into offsets.
 *
 * Values are unsigned numbers of `size` bytes (size 1, 2 or 4). The CPU splits 8-byte MMIO
 * accesses into two 4-byte accesses, low half first.
 */

/** Access width in bytes. */
export type AccessSize = 1 | 2 | 4;

/** A device on the I/O port bus or the MMIO bus. */
export interface Device {
  /** Short name for diagnostics ("uart", "ioapic"). */
  readonly name: string;
  /** A guest read at `offset` from the device's base. Returns the value (unsigned). */
  read(offset: number, size: AccessSize): number;
  /** A guest write at `offset` from the device's base. */
  write(offset: number, size: AccessSize, value: number): void;
  /** The value a read would return, without side effects (debuggers, tests). */
  peek?(offset: number, size: AccessSize): number;
}

/**
 * An interrupt line from a device to the interrupt controller. Lines are levels: a device
 * recomputes its level in one place after every state change (`updateIrq()`), and an
 * edge-triggered controller input reacts to the rising edge.
 */
export interface IrqLine {
  set(level: boolean): void;
}

/** An interrupt line that goes nowhere (a device not wired to a controller). */
export const NO_IRQ: IrqLine = { set: () => {} };

/** Guest physical memory as devices see it (DMA, kvmclock, virtqueues). */
export interface GuestMemory {
  /** Guest RAM size in bytes; valid physical addresses are [0, size). */
  readonly size: number;
  /** Bytes [addr, addr + length) of guest RAM, or undefined if any byte is outside RAM. */
  slice(addr: number, length: number): Uint8Array | undefined;
  /** Tells the CPU that guest RAM [addr, addr + length) was written behind its back (code cache). */
  written(addr: number, length: number): void;
}

/** The all-ones value of an unmapped read of `size` bytes. */
export function allOnes(size: AccessSize): number {
  return size === 4 ? 0xffff_ffff : (1 << (size * 8)) - 1;
}

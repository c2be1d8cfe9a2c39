/**
 * The storage of one PCI function's 4 KiB configuration space with per-bit write semantics, as
 * QEMU and crosvm model it: every byte has a value, a read-write mask and a write-1-to-clear
 * mask. A guest write changes only the read-write bits, clears the W1C bits written as one and
 * leaves every other (read-only) bit alone (PCI Local Bus Specification 3.0 section 6.1,
 * "reserved bits ... read-only"; PCIe 4.0 section 7.4, "Configuration Register Types").
 *
 * The function model (./function.ts) builds the header and capabilities on top of this class
 * with the device-side setters (`set8/16/32`, which ignore the masks), declares the masks, and
 * reacts to guest writes after they landed.
 *
 * Values are little-endian, like all PCI registers. Accesses of 1, 2 or 4 bytes at any offset
 * inside the space are served byte by byte; the ECAM layer decides which alignments the guest
 * may use.
 *
 * Not supported: sticky (RWS) bits that survive a reset, hardware-initialised (HwInit) bits
 * that firmware may write once.
 */
import { allOnes } from '../device.ts';
import { PCI_CONFIG_SPACE_SIZE } from './regs.ts';

/** The size of a config access in bytes. */
export type ConfigAccessSize = 1 | 2 | 4;

export class ConfigSpace {
  /** Current register values. */
  readonly bytes = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Bits the guest may write (read-write). */
  readonly writeMask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Bits the guest clears by writing one (write-1-to-clear). */
  readonly w1cMask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);

  /** True if [offset, offset + size) lies inside the configuration space. */
  static inRange(offset: number, size: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset + size <= PCI_CONFIG_SPACE_SIZE;
  }

  // -------------------------------------------------------------------------------------------
  // Device side: set values and masks regardless of the guest write semantics
  // -------------------------------------------------------------------------------------------

  get8(offset: number): number {
    return this.bytes[offset] ?? 0;
  }

  get16(offset: number): number {
    return this.get8(offset) | (this.get8(offset + 1) << 8);
  }

  get32(offset: number): number {
    return (this.get16(offset) | (this.get16(offset + 2) << 16)) >>> 0;
  }

  set8(offset: number, value: number): void {
    this.bytes[offset] = value;
  }

  set16(offset: number, value: number): void {
    this.set8(offset, value & 0xff);
    this.set8(offset + 1, (value >>> 8) & 0xff);
  }

  set32(offset: number, value: number): void {
    this.set16(offset, value & 0xffff);
    this.set16(offset + 2, (value >>> 16) & 0xffff);
  }

  /** Declares which bits of [offset, offset + size) are read-write and which are W1C. */
  setMasks(offset: number, size: ConfigAccessSize, readWrite: number, writeOneToClear = 0): void {
    for (let i = 0; i < size; i++) {
      const rw = (readWrite >>> (8 * i)) & 0xff;
      const w1c = (writeOneToClear >>> (8 * i)) & 0xff;
      if (rw & w1c) throw new Error(`config 0x${(offset + i).toString(16)}: a bit cannot be RW and W1C`);
      this.writeMask[offset + i] = rw;
      this.w1cMask[offset + i] = w1c;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Guest side
  // -------------------------------------------------------------------------------------------

  /** A guest read: the current value; all ones outside the space. No side effects. */
  read(offset: number, size: ConfigAccessSize): number {
    if (!ConfigSpace.inRange(offset, size)) return allOnes(size);
    if (size === 1) return this.get8(offset);
    if (size === 2) return this.get16(offset);
    return this.get32(offset);
  }

  /**
   * A guest write: per byte, new = (old & ~(RW | W1C)) | (value & RW) | (old & W1C & ~value).
   * Returns false (and changes nothing) if the access falls outside the space.
   */
  write(offset: number, size: ConfigAccessSize, value: number): boolean {
    if (!ConfigSpace.inRange(offset, size)) return false;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const v = (value >>> (8 * i)) & 0xff;
      const old = this.bytes[at] ?? 0;
      const rw = this.writeMask[at] ?? 0;
      const w1c = this.w1cMask[at] ?? 0;
      this.bytes[at] = (old & ~(rw | w1c)) | (v & rw) | (old & w1c & ~v);
    }
    return true;
  }
}

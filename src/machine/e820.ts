/**
 * The e820 memory map of the virt machine: what a BIOS would report through INT 15h/E820, here
 * handed to Linux directly in boot_params.e820_table (Linux arch/x86/include/uapi/asm/bootparam.h
 * `struct boot_e820_entry`, Documentation/arch/x86/zero-page.rst offset 0x2D0; type values from
 * ACPI 6.5 section 15, "System Address Map Interfaces"; ranges from MACHINE.md "Memory map").
 *
 * The map, by address:
 *   0x0000_0000 - 0x0009_EFFF  usable     low RAM (real-mode trampoline, zero page, command line)
 *   0x0009_F000 - 0x000F_FFFF  reserved   boot GDT and page tables, ACPI tables at 0xE0000
 *   0x0010_0000 - min(top, 3G) usable     RAM; the kernel runs here
 *   0xE000_0000 - 0xEFFF_FFFF  reserved   PCIe ECAM (the kernel also wants it in the DSDT)
 *   0x1_0000_0000 - ...        usable     RAM beyond 3 GiB continues above the PCI hole
 * The PCI MMIO window, the IOAPIC, HPET and LAPIC pages are not listed, as on QEMU: the kernel
 * learns them from ACPI and keeps RAM away from them because they are not "usable".
 *
 * Not supported: ACPI (type 3) and NVS (type 4) ranges (our ACPI tables sit in the reserved low
 * range, which Linux leaves alone), more than E820_MAX_ENTRIES_ZEROPAGE entries (setup_data
 * SETUP_E820_EXT), persistent-memory ranges.
 */
import { BOOT_DATA_START, LOW_RAM_END, LOW_RAM_START, LOW_RESERVED_END, PCIE_ECAM_SIZE, PCIE_ECAM_START, highRamRegions } from './layout.ts';

/** e820 range types (ACPI 6.5 Table 15.1 "Address Range Types"; Linux E820_TYPE_*). */
export const E820_TYPE_RAM = 1;
export const E820_TYPE_RESERVED = 2;
export const E820_TYPE_ACPI = 3;
export const E820_TYPE_NVS = 4;
export const E820_TYPE_UNUSABLE = 5;

/** sizeof(struct boot_e820_entry): u64 addr, u64 size, u32 type, packed. */
export const E820_ENTRY_SIZE = 20;
/** Entries that fit in boot_params.e820_table (bootparam.h E820_MAX_ENTRIES_ZEROPAGE). */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;

export interface E820Entry {
  /** Guest-physical start (a plain number: every address of the map is below 2^53). */
  readonly addr: number;
  readonly size: number;
  readonly type: number;
}

/** The e820 map for `ramSize` bytes of guest RAM, sorted by address, without empty ranges. */
export function e820Map(ramSize: number): E820Entry[] {
  // highRamRegions() validates the size (an integer, at least 1 MiB) and splits it at the hole.
  const high = highRamRegions(ramSize);
  const entries: E820Entry[] = [
    { addr: LOW_RAM_START, size: LOW_RAM_END - LOW_RAM_START, type: E820_TYPE_RAM },
    { addr: BOOT_DATA_START, size: LOW_RESERVED_END - BOOT_DATA_START, type: E820_TYPE_RESERVED },
  ];
  const [belowHole, aboveHole] = high;
  if (belowHole !== undefined && belowHole.size > 0) {
    entries.push({ addr: belowHole.start, size: belowHole.size, type: E820_TYPE_RAM });
  }
  entries.push({ addr: PCIE_ECAM_START, size: PCIE_ECAM_SIZE, type: E820_TYPE_RESERVED });
  if (aboveHole !== undefined) entries.push({ addr: aboveHole.start, size: aboveHole.size, type: E820_TYPE_RAM });
  return entries;
}

/** End (exclusive) of the highest usable RAM range: what the boot page tables must cover. */
export function e820RamTop(entries: readonly E820Entry[]): number {
  let top = 0;
  for (const e of entries) if (e.type === E820_TYPE_RAM) top = Math.max(top, e.addr + e.size);
  return top;
}

/**
 * Writes `entries` as packed boot_e820_entry records into `out` at `offset` (the zero page's
 * e820_table) and returns how many were written (the value of boot_params.e820_entries).
 */
export function encodeE820(entries: readonly E820Entry[], out: Uint8Array, offset: number): number {
  if (entries.length > E820_MAX_ENTRIES_ZEROPAGE) {
    throw new RangeError(`${entries.length} e820 entries do not fit in the zero page (at most ${E820_MAX_ENTRIES_ZEROPAGE})`);
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  entries.forEach((e, i) => {
    const at = offset + i * E820_ENTRY_SIZE;
    setU64(view, at, e.addr);
    setU64(view, at + 8, e.size);
    view.setUint32(at + 16, e.type, true);
  });
  return entries.length;
}

/** Reads `count` boot_e820_entry records back (logs, tests, snapshots). */
export function decodeE820(bytes: Uint8Array, offset: number, count: number): E820Entry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: E820Entry[] = [];
  for (let i = 0; i < count; i++) {
    const at = offset + i * E820_ENTRY_SIZE;
    entries.push({ addr: getU64(view, at), size: getU64(view, at + 8), type: view.getUint32(at + 16, true) });
  }
  return entries;
}

const TYPE_NAMES: Record<number, string> = {
  [E820_TYPE_RAM]: 'usable',
  [E820_TYPE_RESERVED]: 'reserved',
  [E820_TYPE_ACPI]: 'ACPI data',
  [E820_TYPE_NVS]: 'ACPI NVS',
  [E820_TYPE_UNUSABLE]: 'unusable',
};

/** One line per entry in the kernel's own format: "[mem 0x0000000000100000-0x000000000fffffff] usable". */
export function formatE820(entries: readonly E820Entry[]): string[] {
  const hex = (n: number) => `0x${n.toString(16).padStart(16, '0')}`;
  return entries.map((e) => `[mem ${hex(e.addr)}-${hex(e.addr + e.size - 1)}] ${TYPE_NAMES[e.type] ?? `type ${e.type}`}`);
}

// A u64 as two little-endian u32 halves: exact for every value below 2^53.
function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % 0x1_0000_0000, true);
  view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}

function getU64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * 0x1_0000_0000 + view.getUint32(at, true);
}

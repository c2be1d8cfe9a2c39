/**
 * The memory map of the virtlite "virt" machine: every guest-physical address, size, I/O port,
 * interrupt line and window, in one place (shared/MACHINE.md, "Memory map"). Devices, the
 * loader and the ACPI builders import these constants; nothing else writes a literal address.
 *
 * Constants are ordered by address. Every value fits in 2^53, so plain numbers are exact here;
 * guest RAM above 4 GiB (RAM_HIGH_START) is still below 2^53.
 */

// ---------------------------------------------------------------------------------------------
// Low memory (below 1 MiB)
// ---------------------------------------------------------------------------------------------

/** Conventional RAM starts at 0; Linux uses it for the real-mode trampoline and early data. */
export const LOW_RAM_START = 0x0000_0000;
/** boot_params ("zero page") handed to the kernel in RSI/ESI (Linux boot protocol). */
export const ZERO_PAGE_ADDR = 0x0000_7000;
/** Kernel command line, NUL-terminated (boot protocol: cmd_line_ptr). */
export const CMDLINE_ADDR = 0x0002_0000;
/** Longest command line we accept (the kernel's COMMAND_LINE_SIZE on x86 is 2048). */
export const CMDLINE_MAX = 2048;
/** End of usable low RAM: from here to 1 MiB is reserved (boot data, ACPI). */
export const LOW_RAM_END = 0x0009_f000;
/** Boot GDT and identity page tables for the 64-bit entry live in the reserved area. */
export const BOOT_DATA_START = 0x0009_f000;
/** ACPI tables, RSDP first so that a scan of 0xE0000-0xFFFFF also finds it. */
export const ACPI_TABLES_START = 0x000e_0000;
/** End of the reserved low area; high RAM starts here. */
export const LOW_RESERVED_END = 0x0010_0000;

// ---------------------------------------------------------------------------------------------
// High memory
// ---------------------------------------------------------------------------------------------

/** The protected-mode kernel is loaded at 1 MiB (boot protocol: code32_start). */
export const KERNEL_LOAD_ADDR = 0x0010_0000;
/** RAM between 1 MiB and the PCI hole (or the top of RAM, if lower). */
export const HIGH_RAM_START = 0x0010_0000;
/** PCI 32-bit MMIO window: BARs of PCIe devices are assigned here by the machine. */
export const PCI_MMIO_START = 0xc000_0000;
export const PCI_MMIO_SIZE = 0x2000_0000;
/** PCIe ECAM (enhanced configuration access), buses 0-255, 1 MiB per bus (MCFG). */
export const PCIE_ECAM_START = 0xe000_0000;
export const PCIE_ECAM_SIZE = 0x1000_0000;
/** IOAPIC registers (MADT). */
export const IOAPIC_ADDR = 0xfec0_0000;
export const IOAPIC_SIZE = 0x1000;
/** HPET registers (HPET table). */
export const HPET_ADDR = 0xfed0_0000;
export const HPET_SIZE = 0x1000;
/** Local APIC registers; MSI writes land in this page too. */
export const LAPIC_ADDR = 0xfee0_0000;
export const LAPIC_SIZE = 0x1000;
/** RAM that does not fit below the PCI hole continues at 4 GiB. */
export const RAM_HIGH_START = 0x1_0000_0000;

/** Default guest RAM: 256 MiB. */
export const DEFAULT_RAM_SIZE = 256 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// I/O ports (everything else is unmapped: reads return all ones, writes are dropped)
// ---------------------------------------------------------------------------------------------

/** COM1, a 16550A UART: the console. */
export const COM1_PORT = 0x3f8;
export const COM1_PORT_COUNT = 8;
/** ACPI HW-reduced sleep control and status registers, and the reset register (FADT). */
export const ACPI_SLEEP_CONTROL_PORT = 0x600;
export const ACPI_SLEEP_STATUS_PORT = 0x601;
export const ACPI_RESET_PORT = 0x602;
/** Value written to the reset register to reset the machine (FADT RESET_VALUE). */
export const ACPI_RESET_VALUE = 0x1;
/**
 * SLP_TYP of S5 (DSDT \_S5): the guest powers off by writing SLP_EN (bit 5) | SLP_TYP << 2
 * = 0x34 to the sleep control port (ACPI 6.5 section 4.8.3.7). 5 is QEMU's choice as well.
 */
export const ACPI_SLP_TYP_S5 = 5;

// ---------------------------------------------------------------------------------------------
// Interrupts
// ---------------------------------------------------------------------------------------------

/** IOAPIC pins, GSI base 0 (MADT). */
export const IOAPIC_PINS = 24;
/** IOAPIC ID (MADT, and the reset value of the IOAPIC's ID register). */
export const IOAPIC_ID = 0;
/** COM1 uses ISA IRQ 4 = GSI 4, edge-triggered, active high (DSDT PNP0501). */
export const COM1_GSI = 4;
/** PCI INTA-INTD are routed to GSI 16-19, level-triggered, active low (DSDT _PRT). */
export const PCI_INTX_GSI_BASE = 16;
/** ISA IRQ 0 is overridden to GSI 2 (MADT interrupt source override), as on PCs. */
export const IRQ0_OVERRIDE_GSI = 2;

/** A named guest-physical range, for the e820 map and for overlap checks. */
export interface Region {
  readonly name: string;
  readonly start: number;
  readonly size: number;
}

/** Fixed (RAM-size independent) regions of the map, by address. */
export const FIXED_REGIONS: readonly Region[] = [
  { name: 'low RAM', start: LOW_RAM_START, size: LOW_RAM_END - LOW_RAM_START },
  { name: 'boot data and ACPI', start: BOOT_DATA_START, size: LOW_RESERVED_END - BOOT_DATA_START },
  { name: 'PCI MMIO window', start: PCI_MMIO_START, size: PCI_MMIO_SIZE },
  { name: 'PCIe ECAM', start: PCIE_ECAM_START, size: PCIE_ECAM_SIZE },
  { name: 'IOAPIC', start: IOAPIC_ADDR, size: IOAPIC_SIZE },
  { name: 'HPET', start: HPET_ADDR, size: HPET_SIZE },
  { name: 'LAPIC', start: LAPIC_ADDR, size: LAPIC_SIZE },
];

/** Guest RAM of a given size split around the PCI hole: [1 MiB, min(top, hole)) and [4 GiB, ...). */
export function highRamRegions(ramSize: number): Region[] {
  if (!Number.isSafeInteger(ramSize) || ramSize < LOW_RESERVED_END) {
    throw new RangeError(`RAM size ${ramSize} is below the 1 MiB minimum`);
  }
  const belowHole = Math.min(ramSize, PCI_MMIO_START) - HIGH_RAM_START;
  const regions: Region[] = [{ name: 'high RAM', start: HIGH_RAM_START, size: belowHole }];
  if (ramSize > PCI_MMIO_START) {
    regions.push({ name: 'RAM above 4 GiB', start: RAM_HIGH_START, size: ramSize - PCI_MMIO_START });
  }
  return regions;
}

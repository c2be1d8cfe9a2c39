/**
 * The Multiple APIC Description Table: the interrupt controllers of the machine. One Processor
 * Local APIC entry per CPU (ACPI processor UID = APIC id = CPU index), the I/O APICs with their
 * GSI bases, ISA interrupt source overrides, and the LINT pin wired to NMI.
 *
 * Spec: ACPI 6.5 section 5.2.12 "Multiple APIC Description Table (MADT)"
 * (https://uefi.org/specs/ACPI/6.5/05_ACPI_Software_Programming_Model.html#multiple-apic-description-table-madt),
 * entries from 5.2.12.2 (Processor Local APIC), 5.2.12.3 (I/O APIC), 5.2.12.5 (Interrupt Source
 * Override) and 5.2.12.7 (Local APIC NMI); flags from Table 5.26 "MPS INTI Flags".
 *
 * The MADT Flags word has no PCAT_COMPAT bit: the virt machine has no 8259 PICs.
 *
 * Not supported: x2APIC entries (APIC ids above 254), NMI sources, local APIC address override,
 * disabled or hot-pluggable (online capable) processors.
 */
import { TableWriter, type OemInfo } from './sdt.ts';

/** ACPI 6.5 defines MADT revision 6. */
export const MADT_REVISION = 6;
/** Byte offsets (Table 5.19). */
export const MADT_LAPIC_ADDRESS_OFFSET = 36;
export const MADT_FLAGS_OFFSET = 40;
export const MADT_ENTRIES_OFFSET = 44;
/** MADT Flags bit 0: the system also has dual 8259 PICs. Never set here. */
export const MADT_PCAT_COMPAT = 1 << 0;

/** Interrupt controller structure types and lengths (Table 5.21). */
export const MADT_TYPE_LOCAL_APIC = 0;
export const MADT_TYPE_IO_APIC = 1;
export const MADT_TYPE_INTERRUPT_OVERRIDE = 2;
export const MADT_TYPE_LOCAL_APIC_NMI = 4;
export const MADT_LOCAL_APIC_SIZE = 8;
export const MADT_IO_APIC_SIZE = 12;
export const MADT_INTERRUPT_OVERRIDE_SIZE = 10;
export const MADT_LOCAL_APIC_NMI_SIZE = 6;

/** Local APIC Flags (Table 5.23): bit 0 Enabled. */
export const LOCAL_APIC_ENABLED = 1 << 0;

/**
 * MPS INTI Flags (Table 5.26):
 *   bits 1:0 polarity: 00 bus default, 01 active high, 11 active low
 *   bits 3:2 trigger:  00 bus default, 01 edge, 11 level
 */
export const MPS_INTI_POLARITY_ACTIVE_HIGH = 0b01;
export const MPS_INTI_POLARITY_ACTIVE_LOW = 0b11;
export const MPS_INTI_TRIGGER_EDGE = 0b01 << 2;
export const MPS_INTI_TRIGGER_LEVEL = 0b11 << 2;

/** ACPI processor UID 0xFF in a Local APIC NMI entry means "every processor". */
export const MADT_ALL_PROCESSORS = 0xff;

export interface InterruptSourceOverride {
  /** ISA IRQ number (bus 0 = ISA). */
  readonly source: number;
  readonly gsi: number;
  /** MPS_INTI_* flags. */
  readonly flags: number;
}

export interface MadtParams {
  /** Local APIC base address, identical for every CPU. */
  readonly lapicAddr: number;
  /** Number of CPUs: APIC ids and processor UIDs 0 .. cpus-1 (1-255). */
  readonly cpus: number;
  readonly ioApic: { readonly id: number; readonly address: number; readonly gsiBase: number };
  readonly overrides: readonly InterruptSourceOverride[];
  /** The local APIC pin (0 or 1) that receives NMIs on every CPU, if any. */
  readonly lapicNmi?: { readonly lint: number; readonly flags: number };
}

export function buildMadt(p: MadtParams, oem?: OemInfo): Uint8Array {
  if (!Number.isInteger(p.cpus) || p.cpus < 1 || p.cpus > 255) throw new RangeError(`MADT with ${p.cpus} CPUs (xAPIC ids 0-254)`);
  const t = new TableWriter('APIC', MADT_REVISION, oem).u32(p.lapicAddr).u32(0 /* Flags: no PCAT_COMPAT */);
  for (let cpu = 0; cpu < p.cpus; cpu++) {
    t.u8(MADT_TYPE_LOCAL_APIC).u8(MADT_LOCAL_APIC_SIZE).u8(cpu /* ACPI Processor UID */).u8(cpu /* APIC ID */).u32(LOCAL_APIC_ENABLED);
  }
  t.u8(MADT_TYPE_IO_APIC).u8(MADT_IO_APIC_SIZE).u8(p.ioApic.id).u8(0 /* Reserved */).u32(p.ioApic.address).u32(p.ioApic.gsiBase);
  for (const o of p.overrides) {
    t.u8(MADT_TYPE_INTERRUPT_OVERRIDE).u8(MADT_INTERRUPT_OVERRIDE_SIZE).u8(0 /* Bus: ISA */).u8(o.source).u32(o.gsi).u16(o.flags);
  }
  if (p.lapicNmi) {
    t.u8(MADT_TYPE_LOCAL_APIC_NMI).u8(MADT_LOCAL_APIC_NMI_SIZE).u8(MADT_ALL_PROCESSORS).u16(p.lapicNmi.flags).u8(p.lapicNmi.lint);
  }
  return t.finish();
}

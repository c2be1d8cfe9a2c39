/**
 * The PCI Express memory-mapped configuration table: where each PCI segment's ECAM window lives
 * and which buses it decodes (1 MiB per bus: 32 devices x 8 functions x 4 KiB).
 *
 * Spec: ACPI 6.5 section 5.2.6 Table 5.6 reserves the "MCFG" signature for the PCI Firmware
 * Specification 3.2, section 4.1.2 "MCFG Table Description"
 * (https://uefi.org/specs/ACPI/6.5/05_ACPI_Software_Programming_Model.html#description-header-signatures-for-tables-defined-by-other-specifications).
 * Linux accepts the window only if it is also reserved by a PNP0C02 device in the DSDT
 * (MACHINE.md, "Facts"); dsdt.ts does that.
 *
 * Not supported: nothing beyond the table format (any number of allocations is accepted).
 */
import { TableWriter, type OemInfo } from './sdt.ts';

export const MCFG_REVISION = 1;
/** Header (36) + 8 reserved bytes, then 16-byte allocation entries. */
export const MCFG_ALLOCATIONS_OFFSET = 44;
export const MCFG_ALLOCATION_SIZE = 16;

/** One "Configuration Space Base Address Allocation Structure". */
export interface EcamAllocation {
  /** Base of the ECAM window: the address of bus 0 even when startBus > 0. */
  readonly base: number;
  readonly segment: number;
  readonly startBus: number;
  readonly endBus: number;
}

export function buildMcfg(allocations: readonly EcamAllocation[], oem?: OemInfo): Uint8Array {
  const t = new TableWriter('MCFG', MCFG_REVISION, oem).zeros(8); // Reserved
  for (const a of allocations) {
    if (a.startBus > a.endBus) throw new RangeError(`MCFG bus range ${a.startBus}-${a.endBus} is empty`);
    t.u64(a.base).u16(a.segment).u8(a.startBus).u8(a.endBus).zeros(4);
  }
  return t.finish();
}

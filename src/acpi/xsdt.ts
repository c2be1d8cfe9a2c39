/**
 * The Extended and Root System Description Tables: the lists of every other table's address
 * (except the DSDT, reached through the FADT). The XSDT holds 64-bit entries; the RSDT, kept
 * for ACPI 1.0 readers, holds 32-bit ones. Both list the same tables in the same order.
 *
 * Spec: ACPI 6.5 section 5.2.8 "Extended System Description Table (XSDT)"
 * (https://uefi.org/specs/ACPI/6.5/05_ACPI_Software_Programming_Model.html#extended-system-description-table-xsdt)
 * and section 5.2.7 "Root System Description Table (RSDT)".
 *
 * Not supported: RSDT entries above 4 GiB (they throw; the XSDT has no such limit).
 */
import { TableWriter, type OemInfo } from './sdt.ts';

export const XSDT_REVISION = 1;
export const RSDT_REVISION = 1;
/** The entries start right after the 36-byte header. */
export const XSDT_ENTRIES_OFFSET = 36;

/** The XSDT: a header and one 64-bit address per table. */
export function buildXsdt(tableAddrs: readonly number[], oem?: OemInfo): Uint8Array {
  const t = new TableWriter('XSDT', XSDT_REVISION, oem);
  for (const addr of tableAddrs) t.u64(addr);
  return t.finish();
}

/** The RSDT: a header and one 32-bit address per table. */
export function buildRsdt(tableAddrs: readonly number[], oem?: OemInfo): Uint8Array {
  const t = new TableWriter('RSDT', RSDT_REVISION, oem);
  for (const addr of tableAddrs) t.u32(addr);
  return t.finish();
}

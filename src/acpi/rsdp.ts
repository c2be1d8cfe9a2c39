/**
 * The Root System Description Pointer: where the OS starts (the zero page's acpi_rsdp_addr, or a
 * scan of 0xE0000-0xFFFFF on 16-byte boundaries). Revision 2 points to both the XSDT and the
 * RSDT and carries two checksums: one over the ACPI 1.0 part (first 20 bytes) and an extended
 * one over the whole 36-byte structure.
 *
 * Spec: ACPI 6.5 section 5.2.5.3 "Root System Description Pointer (RSDP) Structure"
 * (https://uefi.org/specs/ACPI/6.5/05_ACPI_Software_Programming_Model.html#root-system-description-pointer-rsdp-structure).
 *
 * Not supported: revision 0 (ACPI 1.0, RSDT only).
 */
import { FieldWriter, VIRTLITE_OEM, byteSum } from './sdt.ts';

export const RSDP_SIGNATURE = 'RSD PTR ';
export const RSDP_REVISION = 2;
/** Size of the revision 2 structure (Table 5.3 "Length"). */
export const RSDP_SIZE = 36;
/** Byte offsets (Table 5.3). */
export const RSDP_CHECKSUM_OFFSET = 8;
export const RSDP_REVISION_OFFSET = 15;
export const RSDP_RSDT_ADDRESS_OFFSET = 16;
export const RSDP_LENGTH_OFFSET = 20;
export const RSDP_XSDT_ADDRESS_OFFSET = 24;
export const RSDP_EXTENDED_CHECKSUM_OFFSET = 32;
/** The ACPI 1.0 checksum covers bytes [0, 20). */
export const RSDP_V1_SIZE = 20;

export interface RsdpParams {
  /** Guest-physical address of the RSDT (must be below 4 GiB). */
  readonly rsdtAddr: number;
  /** Guest-physical address of the XSDT. */
  readonly xsdtAddr: number;
  readonly oemId?: string;
}

/** The 36-byte RSDP with both checksums. */
export function buildRsdp(p: RsdpParams): Uint8Array {
  const bytes = new FieldWriter()
    .ascii(RSDP_SIGNATURE, 8)
    .u8(0) // Checksum of the first 20 bytes, below
    .ascii(p.oemId ?? VIRTLITE_OEM.oemId, 6)
    .u8(RSDP_REVISION)
    .u32(p.rsdtAddr)
    .u32(RSDP_SIZE)
    .u64(p.xsdtAddr)
    .u8(0) // Extended checksum of all 36 bytes, below
    .zeros(3) // Reserved
    .toBytes();
  bytes[RSDP_CHECKSUM_OFFSET] = -byteSum(bytes, 0, RSDP_V1_SIZE) & 0xff;
  bytes[RSDP_EXTENDED_CHECKSUM_OFFSET] = -byteSum(bytes) & 0xff;
  return bytes;
}

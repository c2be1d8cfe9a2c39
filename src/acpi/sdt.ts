/**
 * What every ACPI system description table shares: the 36-byte header with its length and
 * checksum, little-endian field writers, and the Generic Address Structure.
 *
 * Spec: ACPI 6.5 section 5.2.6 "System Description Table Header"
 * (https://uefi.org/specs/ACPI/6.5/05_ACPI_Software_Programming_Model.html#system-description-table-header)
 * and section 5.2.3.2 "Generic Address Structure (GAS)".
 *
 * Not supported: tables larger than 4 GiB (the length is a 32-bit field anyway); GAS address
 * spaces other than what the callers pass through unchanged.
 */
import { ByteSink, ChecksumSink } from './aml.ts';

/** Byte offsets in the table header (Table 5.4). */
export const SDT_SIGNATURE_OFFSET = 0;
export const SDT_LENGTH_OFFSET = 4;
export const SDT_REVISION_OFFSET = 8;
export const SDT_CHECKSUM_OFFSET = 9;
export const SDT_OEM_ID_OFFSET = 10;
export const SDT_OEM_TABLE_ID_OFFSET = 16;
export const SDT_OEM_REVISION_OFFSET = 24;
export const SDT_CREATOR_ID_OFFSET = 28;
export const SDT_CREATOR_REVISION_OFFSET = 32;
export const SDT_HEADER_SIZE = 36;

/** Who made the table: the header's OEM and creator fields. */
export interface OemInfo {
  /** 6 ASCII characters, space padded. */
  readonly oemId: string;
  /** 8 ASCII characters; by default "VLTE" followed by the table signature. */
  readonly oemTableId?: string;
  readonly oemRevision: number;
  /** 4 ASCII characters: the vendor of the tool that built the table. */
  readonly creatorId: string;
  readonly creatorRevision: number;
}

/** virtlite's identity in every table header. */
export const VIRTLITE_OEM: OemInfo = {
  oemId: 'VIRTLT',
  oemRevision: 1,
  creatorId: 'VLTE',
  creatorRevision: 1,
};

/** GAS Address Space ID values (Table 5.2). */
export const GAS_SYSTEM_MEMORY = 0;
export const GAS_SYSTEM_IO = 1;
/** GAS Access Size values: 0 undefined (legacy), 1 byte, 2 word, 3 dword, 4 qword. */
export const GAS_ACCESS_UNDEFINED = 0;
export const GAS_ACCESS_BYTE = 1;
export const GAS_ACCESS_DWORD = 3;
export const GAS_ACCESS_QWORD = 4;
export const GAS_SIZE = 12;

/** Generic Address Structure: where a register lives (Table 5.1). */
export interface GenericAddress {
  readonly spaceId: number;
  readonly bitWidth: number;
  readonly bitOffset: number;
  readonly accessSize: number;
  readonly address: number;
}

/** An 8-bit register in I/O port space, accessed with byte accesses. */
export function ioPort8(port: number): GenericAddress {
  return { spaceId: GAS_SYSTEM_IO, bitWidth: 8, bitOffset: 0, accessSize: GAS_ACCESS_BYTE, address: port };
}

/** The byte sum of `bytes` modulo 256; a valid table sums to 0. */
export function byteSum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const sum = new ChecksumSink();
  sum.bytes(bytes.subarray(start, end));
  return sum.total;
}

/** Little-endian field writer for a table body (the header is added by `TableWriter`). */
export class FieldWriter {
  private readonly sink = new ByteSink();

  get length(): number {
    return this.sink.length;
  }

  u8(value: number): this {
    checkUnsigned(value, 8);
    this.sink.byte(value);
    return this;
  }

  u16(value: number): this {
    checkUnsigned(value, 16);
    this.sink.bytes([value & 0xff, value >>> 8]);
    return this;
  }

  u32(value: number): this {
    checkUnsigned(value, 32);
    this.sink.bytes([value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24]);
    return this;
  }

  /** A 64-bit field from a safe integer (every guest address is below 2^53). */
  u64(value: number): this {
    checkUnsigned(value, 53);
    const lo = value % 2 ** 32;
    return this.u32(lo).u32((value - lo) / 2 ** 32);
  }

  /** `text` as ASCII, padded with `pad` to exactly `size` bytes. */
  ascii(text: string, size: number, pad = ' '): this {
    if (text.length > size || !/^[\x20-\x7e]*$/.test(text)) throw new RangeError(`bad ACPI ASCII field "${text}" (max ${size})`);
    const padded = text.padEnd(size, pad);
    for (let i = 0; i < size; i++) this.sink.byte(padded.charCodeAt(i));
    return this;
  }

  raw(bytes: ArrayLike<number>): this {
    this.sink.bytes(bytes);
    return this;
  }

  zeros(count: number): this {
    for (let i = 0; i < count; i++) this.sink.byte(0);
    return this;
  }

  gas(g: GenericAddress): this {
    return this.u8(g.spaceId).u8(g.bitWidth).u8(g.bitOffset).u8(g.accessSize).u64(g.address);
  }

  toBytes(): Uint8Array {
    return this.sink.toBytes();
  }
}

function checkUnsigned(value: number, bits: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** bits) throw new RangeError(`ACPI field value ${value} does not fit in ${bits} bits`);
}

/**
 * A system description table: a header followed by the body written through `FieldWriter`
 * methods; `finish()` fills in the length and the checksum.
 */
export class TableWriter extends FieldWriter {
  constructor(signature: string, revision: number, oem: OemInfo = VIRTLITE_OEM) {
    super();
    if (!/^[A-Z0-9]{4}$/.test(signature)) throw new RangeError(`bad ACPI table signature "${signature}"`);
    this.ascii(signature, 4)
      .u32(0) // Length, patched by finish()
      .u8(revision)
      .u8(0) // Checksum, patched by finish()
      .ascii(oem.oemId, 6)
      .ascii(oem.oemTableId ?? `VLTE${signature}`, 8)
      .u32(oem.oemRevision)
      .ascii(oem.creatorId, 4)
      .u32(oem.creatorRevision);
  }

  /** The finished table: Length = byte count, Checksum makes the sum zero. */
  finish(): Uint8Array {
    const bytes = this.toBytes();
    new DataView(bytes.buffer).setUint32(SDT_LENGTH_OFFSET, bytes.length, true);
    bytes[SDT_CHECKSUM_OFFSET] = -byteSum(bytes) & 0xff;
    return bytes;
  }
}

/** The signature of a table in `bytes` (its first four characters). */
export function tableSignature(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes.subarray(0, 4));
}

/**
 * Test helpers for ACPI tables: hex golden bytes with comments, and the checks every system
 * description table must pass (ACPI 6.5 section 5.2.6: Length is the byte count, the bytes
 * sum to zero, Signature and Revision as specified).
 */
import { expect } from 'vitest';
import { SDT_CHECKSUM_OFFSET, SDT_LENGTH_OFFSET, SDT_REVISION_OFFSET, byteSum, tableSignature } from '../sdt.ts';

/** Bytes from hex text; `//` starts a comment that runs to the end of the line. */
export function hexBytes(text: string): Uint8Array {
  const digits = text
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, ''))
    .join(' ')
    .trim();
  if (digits === '') return new Uint8Array();
  const parts = digits.split(/\s+/);
  for (const p of parts) if (!/^[0-9a-fA-F]{2}$/.test(p)) throw new Error(`bad hex byte "${p}"`);
  return new Uint8Array(parts.map((p) => Number.parseInt(p, 16)));
}

/** Header checks shared by every table. */
export function expectValidTable(bytes: Uint8Array, signature: string, revision: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(tableSignature(bytes)).toBe(signature);
  expect(view.getUint32(SDT_LENGTH_OFFSET, true)).toBe(bytes.length);
  expect(bytes[SDT_REVISION_OFFSET]).toBe(revision);
  expect(byteSum(bytes)).toBe(0);
  // the stored checksum is the one that zeroes the sum of the other bytes
  const copy = bytes.slice();
  copy[SDT_CHECKSUM_OFFSET] = 0;
  expect(-byteSum(copy) & 0xff).toBe(bytes[SDT_CHECKSUM_OFFSET]);
}

/**
 * An iasl data-table source for an RSDP, with the fields of `rsdp` and both checksums zero, so
 * that iasl computes them itself (iasl cannot disassemble an RSDP, but compiles one).
 */
export function rsdpDataTableSource(rsdp: Uint8Array): string {
  const view = new DataView(rsdp.buffer, rsdp.byteOffset, rsdp.byteLength);
  const h = (v: number | bigint, digits: number) => v.toString(16).toUpperCase().padStart(digits, '0');
  const text = (from: number, to: number) => String.fromCharCode(...rsdp.subarray(from, to));
  return [
    ` * RSDP: fields as built by src/acpi/rsdp.ts; iasl computes both checksums`,
    `[0008]                          Signature : "${text(0, 8)}"`,
    `[0001]                           Checksum : 00`,
    `[0006]                             Oem ID : "${text(9, 15)}"`,
    `[0001]                           Revision : ${h(rsdp[15]!, 2)}`,
    `[0004]                       RSDT Address : ${h(view.getUint32(16, true), 8)}`,
    `[0004]                             Length : ${h(view.getUint32(20, true), 8)}`,
    `[0008]                       XSDT Address : ${h(view.getBigUint64(24, true), 16)}`,
    `[0001]                  Extended Checksum : 00`,
    `[0003]                           Reserved : 000000`,
    '',
  ]
    .map((l, i) => (i === 0 ? `/*\n${l}\n */` : l))
    .join('\n');
}

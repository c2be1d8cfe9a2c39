import { describe, expect, it } from 'vitest';
import { RSDT_REVISION, XSDT_REVISION, buildRsdt, buildXsdt } from './xsdt.ts';
import { expectValidTable, hexBytes } from './testing/tables.ts';

describe('XSDT and RSDT', () => {
  it('XSDT matches the golden bytes', () => {
    const xsdt = buildXsdt([0xe07e0, 0xe0900, 0xe0950, 0xe0990]);
    expectValidTable(xsdt, 'XSDT', XSDT_REVISION);
    // [004] Table Length : 00000044  [008] Revision : 01  [009] Checksum : BE
    // [024] ACPI Table Address 0 : 00000000000E07E0 ... 3 : 00000000000E0990
    expect(xsdt).toEqual(
      hexBytes(`
        58 53 44 54  44 00 00 00  01  be  56 49 52 54 4c 54   // "XSDT", 68, rev 1, checksum, "VIRTLT"
        56 4c 54 45 58 53 44 54  01 00 00 00  56 4c 54 45      // "VLTEXSDT", 1, "VLTE"
        01 00 00 00
        e0 07 0e 00 00 00 00 00   00 09 0e 00 00 00 00 00
        50 09 0e 00 00 00 00 00   90 09 0e 00 00 00 00 00`),
    );
  });

  it('RSDT matches the golden bytes', () => {
    const rsdt = buildRsdt([0xe07e0, 0xe0900]);
    expectValidTable(rsdt, 'RSDT', RSDT_REVISION);
    // [004] Table Length : 0000002C  [024] ACPI Table Address 0 : 000E07E0, 1 : 000E0900
    expect(rsdt).toEqual(
      hexBytes(`
        52 53 44 54  2c 00 00 00  01  f0  56 49 52 54 4c 54
        56 4c 54 45 52 53 44 54  01 00 00 00  56 4c 54 45
        01 00 00 00
        e0 07 0e 00  00 09 0e 00`),
    );
  });

  it('an empty list is just a header; the RSDT refuses 64-bit addresses', () => {
    expect(buildXsdt([]).length).toBe(36);
    expect(buildXsdt([2 ** 40]).length).toBe(44);
    expect(() => buildRsdt([2 ** 32])).toThrow(RangeError);
  });
});

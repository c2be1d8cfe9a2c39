import { describe, expect, it } from 'vitest';
import { FieldWriter, TableWriter, byteSum, ioPort8, tableSignature } from './sdt.ts';
import { expectValidTable, hexBytes } from './testing/tables.ts';

describe('table header', () => {
  it('writes the 36-byte header with length and checksum', () => {
    const t = new TableWriter('TEST', 3).u8(0xaa).finish();
    expect(t).toEqual(
      hexBytes(`
        54 45 53 54  25 00 00 00  03 51   // "TEST", length 37, revision 3, checksum
        56 49 52 54 4c 54                 // OEM ID "VIRTLT"
        56 4c 54 45 54 45 53 54           // OEM Table ID "VLTETEST"
        01 00 00 00  56 4c 54 45  01 00 00 00  // OEM revision, Creator "VLTE", revision
        aa`),
    );
    expectValidTable(t, 'TEST', 3);
    expect(tableSignature(t)).toBe('TEST');
  });

  it('writes little-endian fields and a Generic Address Structure', () => {
    const b = new FieldWriter().u16(0x1234).u32(0xdeadbeef).u64(0x1_2345_6789).gas(ioPort8(0x600)).toBytes();
    expect(b).toEqual(
      hexBytes(`
        34 12  ef be ad de  89 67 45 23 01 00 00 00
        01 08 00 01  00 06 00 00 00 00 00 00   // SystemIO, 8 bits, offset 0, byte access, 0x600`),
    );
  });

  it('rejects values that do not fit their fields', () => {
    const w = new FieldWriter();
    expect(() => w.u8(256)).toThrow(RangeError);
    expect(() => w.u16(-1)).toThrow(RangeError);
    expect(() => w.u32(2 ** 32)).toThrow(RangeError);
    expect(() => w.u64(2 ** 53)).toThrow(RangeError);
    expect(() => w.ascii('TOOLONG', 4)).toThrow(RangeError);
    expect(() => new TableWriter('bad!', 1)).toThrow(RangeError);
  });

  it('sums bytes modulo 256', () => {
    expect(byteSum(new Uint8Array([0x80, 0x80, 0x01]))).toBe(1);
  });
});

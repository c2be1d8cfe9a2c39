import { describe, expect, it } from 'vitest';
import { RSDP_SIZE, RSDP_V1_SIZE, buildRsdp } from './rsdp.ts';
import { byteSum } from './sdt.ts';
import { findIasl, iaslCompile } from './testing/iasl.ts';
import { hexBytes } from './testing/tables.ts';

const PARAMS = { rsdtAddr: 0xe0a20, xsdtAddr: 0xe09d0 };

describe('RSDP', () => {
  it('matches the golden bytes', () => {
    // [0008] Signature : "RSD PTR "      [0001] Checksum : C2
    // [0006] Oem ID : "VIRTLT"           [0001] Revision : 02
    // [0004] RSDT Address : 000E0A20     [0004] Length : 00000024
    // [0008] XSDT Address : 00000000000E09D0
    // [0001] Extended Checksum : F5      [0003] Reserved : 000000
    expect(buildRsdp(PARAMS)).toEqual(
      hexBytes(`
        52 53 44 20 50 54 52 20  c2  56 49 52 54 4c 54  02
        20 0a 0e 00  24 00 00 00  d0 09 0e 00 00 00 00 00
        f5 00 00 00`),
    );
  });

  it('has both checksums right for any addresses', () => {
    for (const [rsdtAddr, xsdtAddr] of [[0, 0], [0xffff_ffff, 2 ** 52 + 3], [0x12345, 0xabcdef]] as const) {
      const b = buildRsdp({ rsdtAddr, xsdtAddr });
      expect(b.length).toBe(RSDP_SIZE);
      expect(byteSum(b, 0, RSDP_V1_SIZE)).toBe(0);
      expect(byteSum(b)).toBe(0);
    }
  });

  it('rejects an RSDT above 4 GiB', () => {
    expect(() => buildRsdp({ rsdtAddr: 2 ** 32, xsdtAddr: 0 })).toThrow(RangeError);
  });

  // iasl cannot disassemble an RSDP file, but it compiles one: the same fields must give the
  // same bytes, checksums included.
  it.skipIf(!findIasl())('equals what iasl compiles from the same fields', () => {
    const r = iaslCompile(`
      [0008]  Signature : "RSD PTR "
      [0001]  Checksum : 00
      [0006]  Oem ID : "VIRTLT"
      [0001]  Revision : 02
      [0004]  RSDT Address : 000E0A20
      [0004]  Length : 00000024
      [0008]  XSDT Address : 00000000000E09D0
      [0001]  Extended Checksum : 00
      [0003]  Reserved : 000000
    `);
    expect(r.problems, r.log).toEqual([]);
    expect(r.output).toEqual(buildRsdp(PARAMS));
  });
});

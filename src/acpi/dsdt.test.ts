import { describe, expect, it } from 'vitest';
import { amlBytes } from './aml.ts';
import {
  DSDT_REVISION,
  buildDsdt,
  pciHostBridge,
  pciOscMethod,
  pciRoutingTable,
  processorDevices,
  serialPort,
  sleepStates,
  type DsdtParams,
} from './dsdt.ts';
import { SDT_HEADER_SIZE, byteSum } from './sdt.ts';
import { findIasl, iaslCompile, iaslDisassemble, isEndTagChecksum, tableDifferences } from './testing/iasl.ts';
import { expectValidTable, hexBytes } from './testing/tables.ts';

const PCI = {
  segment: 0,
  busStart: 0,
  busEnd: 255,
  mmioStart: 0xc000_0000,
  mmioSize: 0x2000_0000,
  ecamStart: 0xe000_0000,
  ecamSize: 0x1000_0000,
  intxGsiBase: 16,
};
const COM1 = { name: 'COM1', uid: 0, port: 0x3f8, portCount: 8, gsi: 4 };
const PARAMS: DsdtParams = { cpus: 1, pci: PCI, serial: [COM1], s5SleepType: 5 };

describe('DSDT pieces', () => {
  it('processor device', () => {
    // Device (C000) { Name (_HID, "ACPI0007")  Name (_UID, Zero) }
    expect(amlBytes(...processorDevices(1))).toEqual(
      hexBytes(`
        5b 82 1a  43 30 30 30                      // Device (C000), PkgLength 26
        08 5f 48 49 44  0d 41 43 50 49 30 30 30 37 00   // Name (_HID, "ACPI0007")
        08 5f 55 49 44  00                          // Name (_UID, Zero)`),
    );
    // names count in hex: the 11th CPU is Device (C00A) { ... Name (_UID, 0x0A) }
    expect(amlBytes(...processorDevices(11)).subarray(-29)).toEqual(
      hexBytes('5b 82 1b  43 30 30 41  08 5f 48 49 44 0d 41 43 50 49 30 30 30 37 00  08 5f 55 49 44 0a 0a'),
    );
  });

  it('COM1', () => {
    // Device (COM1) {
    //   Name (_HID, EisaId ("PNP0501"))  Name (_UID, Zero)
    //   Name (_CRS, ResourceTemplate () {
    //     IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
    //     Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 4 } }) }
    const bytes = amlBytes(serialPort(COM1));
    expect(bytes).toEqual(
      hexBytes(`
        5b 82 31  43 4f 4d 31                       // Device (COM1), PkgLength 49
        08 5f 48 49 44  0c 41 d0 05 01              // Name (_HID, EisaId ("PNP0501"))
        08 5f 55 49 44  00                          // Name (_UID, Zero)
        08 5f 43 52 53  11 16 0a 13                 // Name (_CRS, Buffer (0x13) {
        47 01 f8 03 f8 03 01 08                     //   IO (Decode16, 0x3F8, 0x3F8, 1, 8)
        89 06 00 03 01 04 00 00 00                  //   Interrupt (Consumer, Edge, High, Exclusive) {4}
        79 a9                                       //   EndTag, checksum })`),
    );
    expect(byteSum(bytes, bytes.length - 19)).toBe(0); // the template sums to zero
  });

  it('sleep states', () => {
    // Name (_S0, Package (0x04) { Zero, Zero, Zero, Zero })
    // Name (_S5, Package (0x04) { 0x05, Zero, Zero, Zero })
    expect(amlBytes(...sleepStates(5))).toEqual(
      hexBytes(`
        08 5f 53 30 5f  12 06 04  00 00 00 00
        08 5f 53 35 5f  12 07 04  0a 05 00 00 00`),
    );
    expect(() => sleepStates(0)).toThrow(RangeError); // 0 is S0's value
    expect(() => sleepStates(8)).toThrow(RangeError); // SLP_TYP is a 3-bit field
  });

  it('_OSC', () => {
    expect(amlBytes(pciOscMethod())).toEqual(
      hexBytes(`
        14 46 04  5f 4f 53 43  0c                   // Method (_OSC, 4, Serialized)
        8a 6b 00 43 44 57 31                        //   CreateDWordField (Arg3, Zero, CDW1)
        a0 28  93 68                                //   If (LEqual (Arg0,
        11 13 0a 10  5b 4d db 33 f7 1f 1c 40 96 57 74 41 c0 3d d7 66   // ToUUID ("33DB4D5B-...")))
        a0 10  92 93 69 01                          //     If (LNotEqual (Arg1, One))
        7d 43 44 57 31 0a 08 43 44 57 31            //       Or (CDW1, 0x08, CDW1)
        a1 0c  7d 43 44 57 31 0a 04 43 44 57 31     //   Else { Or (CDW1, 0x04, CDW1) }
        a4 6b                                       //   Return (Arg3)`),
    );
  });

  it('_PRT: 128 direct GSI entries with the (slot + pin) mod 4 swizzle', () => {
    const prt = amlBytes(pciRoutingTable(16));
    // Name (_PRT, Package (0x80) {
    //   Package (0x04) { 0xFFFF, Zero, Zero, 0x10 }, Package (0x04) { 0xFFFF, One, Zero, 0x11 },
    //   Package (0x04) { 0xFFFF, 0x02, Zero, 0x12 }, Package (0x04) { 0xFFFF, 0x03, Zero, 0x13 },
    //   Package (0x04) { 0x0001FFFF, Zero, Zero, 0x11 }, ...
    expect(prt.subarray(0, 64)).toEqual(
      hexBytes(`
        08 5f 50 52 54  12 4b 63  80                // Name (_PRT, Package (0x80)), PkgLength 0x63B
        12 09 04  0b ff ff  00  00  0a 10           // { 0xFFFF, Zero, Zero, 0x10 }
        12 09 04  0b ff ff  01  00  0a 11           // { 0xFFFF, One, Zero, 0x11 }
        12 0a 04  0b ff ff  0a 02  00  0a 12        // { 0xFFFF, 0x02, Zero, 0x12 }
        12 0a 04  0b ff ff  0a 03  00  0a 13        // { 0xFFFF, 0x03, Zero, 0x13 }
        12 0b 04  0c ff ff 01 00  00  00  0a 11     // { 0x0001FFFF, Zero, Zero, 0x11 }
        12`),
    );
    // the last entry: slot 31, pin INTD -> 16 + (31 + 3) % 4 = 18
    expect(prt.subarray(-13)).toEqual(hexBytes('12 0c 04  0c ff ff 1f 00  0a 03  00  0a 12'));
    expect(prt.length).toBe(1601);
  });

  it('PCI0 _CRS and RES0', () => {
    const pci = amlBytes(pciHostBridge(PCI));
    const head = hexBytes(`
        5b 82 41 71  50 43 49 30                    // Device (PCI0), PkgLength 0x711
        08 5f 48 49 44  0c 41 d0 0a 08              // Name (_HID, EisaId ("PNP0A08"))
        08 5f 43 49 44  0c 41 d0 0a 03              // Name (_CID, EisaId ("PNP0A03"))
        08 5f 53 45 47  00                          // Name (_SEG, Zero)
        08 5f 42 42 4e  00                          // Name (_BBN, Zero)
        08 5f 55 49 44  00                          // Name (_UID, Zero)
        08 5f 43 52 53  11 2f 0a 2c                 // Name (_CRS, ResourceTemplate () {
        88 0d 00 02 0c 00  00 00  00 00  ff 00  00 00  00 01   // WordBusNumber (ResourceProducer,
                                                    //   MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
        87 17 00 00 0c 01  00 00 00 00  00 00 00 c0  ff ff ff df  00 00 00 00  00 00 00 20
                                                    // DWordMemory (ResourceProducer, PosDecode, MinFixed,
                                                    //   MaxFixed, NonCacheable, ReadWrite,
                                                    //   0, 0xC0000000, 0xDFFFFFFF, 0, 0x20000000)
        79 7d                                       // EndTag })`);
    expect(pci.subarray(0, head.length)).toEqual(head);
    // Device (RES0) { Name (_HID, EisaId ("PNP0C02"))
    //   Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xE0000000, 0x10000000) }) }
    expect(pci.subarray(-40)).toEqual(
      hexBytes(`
        5b 82 26  52 45 53 30
        08 5f 48 49 44  0c 41 d0 0c 02
        08 5f 43 52 53  11 11 0a 0e
        86 09 00 01  00 00 00 e0  00 00 00 10
        79 07`),
    );
  });
});

describe('DSDT table', () => {
  it('has a valid header and grows by one processor device per CPU', () => {
    const one = buildDsdt(PARAMS);
    expectValidTable(one, 'DSDT', DSDT_REVISION);
    expect(Array.from(one.subarray(SDT_HEADER_SIZE, SDT_HEADER_SIZE + 7))).toEqual([0x10, 0x49, 0x76, 0x5c, 0x5f, 0x53, 0x42]); // Scope (\_SB
    const four = buildDsdt({ ...PARAMS, cpus: 4 });
    expectValidTable(four, 'DSDT', DSDT_REVISION);
    // _UID One takes one byte, 0x02 and 0x03 two (BytePrefix)
    expect(four.length - one.length).toBe(28 + 29 + 29);
  });

  // The whole DSDT written as ASL, compiled by iasl, must give our bytes (up to the resource
  // template End Tag checksums, which iasl leaves at zero).
  it.skipIf(!findIasl())('equals iasl compiling the same ASL, and disassembles cleanly', () => {
    const prt: string[] = [];
    for (let slot = 0; slot < 32; slot++) {
      for (let pin = 0; pin < 4; pin++) {
        const pinName = ['Zero', 'One', '0x02', '0x03'][pin];
        prt.push(`Package () { 0x${(slot * 0x10000 + 0xffff).toString(16)}, ${pinName}, Zero, ${16 + ((slot + pin) % 4)} }`);
      }
    }
    const asl = `
      DefinitionBlock ("", "DSDT", 2, "VIRTLT", "VLTEDSDT", 1) {
        Scope (\\_SB) {
          Device (C000) { Name (_HID, "ACPI0007") Name (_UID, Zero) }
          Device (PCI0) {
            Name (_HID, EisaId ("PNP0A08"))
            Name (_CID, EisaId ("PNP0A03"))
            Name (_SEG, Zero)
            Name (_BBN, Zero)
            Name (_UID, Zero)
            Name (_CRS, ResourceTemplate () {
              WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
              DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                           0, 0xC0000000, 0xDFFFFFFF, 0, 0x20000000)
            })
            Name (_PRT, Package () { ${prt.join(',\n')} })
            Method (_OSC, 4, Serialized) {
              CreateDWordField (Arg3, Zero, CDW1)
              If (LEqual (Arg0, ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"))) {
                If (LNotEqual (Arg1, One)) { Or (CDW1, 0x08, CDW1) }
              } Else {
                Or (CDW1, 0x04, CDW1)
              }
              Return (Arg3)
            }
            Device (RES0) {
              Name (_HID, EisaId ("PNP0C02"))
              Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xE0000000, 0x10000000) })
            }
          }
          Device (COM1) {
            Name (_HID, EisaId ("PNP0501"))
            Name (_UID, Zero)
            Name (_CRS, ResourceTemplate () {
              IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
              Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 4 }
            })
          }
        }
        Name (_S0, Package () { Zero, Zero, Zero, Zero })
        Name (_S5, Package () { 5, Zero, Zero, Zero })
      }`;
    const ours = buildDsdt(PARAMS);
    const r = iaslCompile(asl, 'dsdt');
    expect(r.problems, r.log).toEqual([]);
    const theirs = r.output!;
    expect(tableDifferences(ours, theirs, (i) => isEndTagChecksum(ours, theirs, i))).toEqual([]);

    const d = iaslDisassemble(ours, 'dsdt');
    expect(d.problems, d.log).toEqual([]);
    expect(d.output).toContain('Name (_S5, Package (0x04)');
  });
});

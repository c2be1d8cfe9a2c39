import { describe, expect, it } from 'vitest';
import {
  And,
  AmlBuffer,
  ByteSink,
  ChecksumSink,
  CreateDWordField,
  DWordMemory,
  Device,
  EisaId,
  Else,
  If,
  Integer,
  Interrupt,
  IoPort,
  LAnd,
  LEqual,
  LNot,
  LNotEqual,
  LOr,
  Memory32Fixed,
  Method,
  Name,
  ONE,
  ONES,
  Or,
  Package,
  QWordMemory,
  ResourceTemplate,
  Return,
  Scope,
  Store,
  WordBusNumber,
  ZERO,
  amlBytes,
  arg,
  eisaId,
  encodePkgLength,
  int,
  intPackage,
  local,
  name,
  str,
  toUuid,
  uuidBytes,
  type Aml,
} from './aml.ts';
import { findIasl, iaslCompile } from './testing/iasl.ts';

const hex = (bytes: ArrayLike<number>): string =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** Reference decoder for PkgLength (ACPI 6.5 section 20.2.4), written from the spec text. */
function decodePkgLength(bytes: ArrayLike<number>): { total: number; size: number } {
  const lead = bytes[0]!;
  const follow = lead >> 6;
  if (follow === 0) return { total: lead & 0x3f, size: 1 };
  let total = lead & 0x0f;
  for (let i = 0; i < follow; i++) total += bytes[1 + i]! * 2 ** (4 + 8 * i);
  return { total, size: 1 + follow };
}

describe('AML package length', () => {
  it.each([
    // content length, encoding (the encoded value counts the PkgLength bytes too)
    [0, [0x01]],
    [62, [0x3f]], // total 63: the largest one-byte length
    [63, [0x41, 0x04]], // total 65 = 0x041
    [64, [0x42, 0x04]],
    [4093, [0x4f, 0xff]], // total 4095 = 0xFFF: the largest two-byte length
    [4094, [0x81, 0x00, 0x01]], // total 4097 = 0x01001
    [1048572, [0x8f, 0xff, 0xff]], // total 0xFFFFF: the largest three-byte length
    [1048573, [0xc1, 0x00, 0x00, 0x01]], // total 0x100001
    [2 ** 28 - 5, [0xcf, 0xff, 0xff, 0xff]], // total 2^28 - 1: the largest of all
  ])('content %i bytes -> %j', (content, encoding) => {
    expect(encodePkgLength(content)).toEqual(encoding);
  });

  it('round-trips through the reference decoder at every size up to 70000', () => {
    const bad: number[] = [];
    for (let n = 0; n < 70000; n++) {
      const enc = encodePkgLength(n);
      const { total, size } = decodePkgLength(enc);
      // bits 5:4 of the lead byte are reserved (zero) in the multi-byte forms
      if (size !== enc.length || total !== n + size || (enc.length > 1 && (enc[0]! & 0x30) !== 0)) bad.push(n);
    }
    expect(bad).toEqual([]);
  });

  it('rejects what the four-byte form cannot hold', () => {
    expect(() => encodePkgLength(2 ** 28 - 4)).toThrow(RangeError);
    expect(() => encodePkgLength(-1)).toThrow(RangeError);
  });

  it('wraps a Buffer of 60/61 and 4090/4091 bytes in one, two and three PkgLength bytes', () => {
    // Buffer (n): BufferOp PkgLength BufferSize(BytePrefix/WordPrefix n) bytes
    expect(amlBytes(new AmlBuffer(new Uint8Array(60))).subarray(0, 4)).toEqual(new Uint8Array([0x11, 0x3f, 0x0a, 60]));
    expect(amlBytes(new AmlBuffer(new Uint8Array(61))).subarray(0, 5)).toEqual(new Uint8Array([0x11, 0x41, 0x04, 0x0a, 61]));
    expect(amlBytes(new AmlBuffer(new Uint8Array(4090))).subarray(0, 3)).toEqual(new Uint8Array([0x11, 0x4f, 0xff]));
    expect(amlBytes(new AmlBuffer(new Uint8Array(4091))).subarray(0, 4)).toEqual(new Uint8Array([0x11, 0x81, 0x00, 0x01]));
  });
});

describe('AML integers', () => {
  it.each<[string, bigint | number, number[]]>([
    ['Zero', 0, [0x00]],
    ['One', 1, [0x01]],
    ['BytePrefix 2', 2, [0x0a, 0x02]],
    ['BytePrefix 0xFF', 0xff, [0x0a, 0xff]],
    ['WordPrefix 0x100', 0x100, [0x0b, 0x00, 0x01]],
    ['WordPrefix 0xFFFF', 0xffff, [0x0b, 0xff, 0xff]],
    ['DWordPrefix 0x10000', 0x1_0000, [0x0c, 0x00, 0x00, 0x01, 0x00]],
    ['DWordPrefix 0xFFFFFFFF', 0xffff_ffff, [0x0c, 0xff, 0xff, 0xff, 0xff]],
    ['QWordPrefix 2^32', 2 ** 32, [0x0e, 0, 0, 0, 0, 1, 0, 0, 0]],
    ['QWordPrefix 2^53-1', Number.MAX_SAFE_INTEGER, [0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0]],
    ['QWordPrefix 2^64-1 (bigint)', (1n << 64n) - 1n, [0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ])('%s', (_label, value, bytes) => {
    expect(Array.from(amlBytes(int(value)))).toEqual(bytes);
  });

  it('has the Zero, One and Ones constant objects', () => {
    expect(Array.from(amlBytes(ZERO, ONE, ONES))).toEqual([0x00, 0x01, 0xff]);
  });

  it('rejects negative, fractional, unsafe and 65-bit values', () => {
    for (const v of [-1, 1.5, 2 ** 53, -1n, 1n << 64n]) expect(() => new Integer(v)).toThrow(RangeError);
  });
});

describe('AML names', () => {
  it.each<[string, number[]]>([
    ['\\', [0x5c, 0x00]], // the root: RootChar NullName
    ['_HID', ascii('_HID')],
    ['_S5', ascii('_S5_')], // short segments are padded with '_'
    ['\\_SB', [0x5c, ...ascii('_SB_')]],
    ['\\_SB.PCI0', [0x5c, 0x2e, ...ascii('_SB_PCI0')]], // DualNamePrefix
    ['\\_SB.PCI0.RES0', [0x5c, 0x2f, 3, ...ascii('_SB_PCI0RES0')]], // MultiNamePrefix count
    ['PCI0.RES0', [0x2e, ...ascii('PCI0RES0')]],
    ['^COM1', [0x5e, ...ascii('COM1')]],
    ['^^_SB.C000', [0x5e, 0x5e, 0x2e, ...ascii('_SB_C000')]],
    ['^', [0x5e, 0x00]],
  ])('%s', (path, bytes) => {
    expect(Array.from(amlBytes(name(path)))).toEqual(bytes);
  });

  it('rejects malformed segments', () => {
    for (const bad of ['pci0', '1ABC', 'TOOLONG', '\\_SB..X', '\\^X', 'A-B', '\\_SB.']) expect(() => name(bad)).toThrow(RangeError);
  });
});

describe('AML objects', () => {
  it('encodes strings, packages, EISA ids and UUIDs', () => {
    // "ACPI0007"
    expect(hex(amlBytes(str('ACPI0007')))).toBe('0d 41 43 50 49 30 30 30 37 00');
    // Package (0x04) { 0x05, Zero, Zero, Zero }
    expect(hex(amlBytes(intPackage([5, 0, 0, 0])))).toBe('12 07 04 0a 05 00 00 00');
    // Package () {}
    expect(hex(amlBytes(new Package([])))).toBe('12 02 00');
    // EisaId ("PNP0A03"): the well-known 0x030AD041
    expect(eisaId('PNP0A03')).toBe(0x030ad041);
    expect(eisaId('PNP0A08')).toBe(0x080ad041);
    expect(eisaId('PNP0501')).toBe(0x0105d041);
    expect(eisaId('PNP0C02')).toBe(0x020cd041);
    expect(hex(amlBytes(new EisaId('PNP0C02')))).toBe('0c 41 d0 0c 02');
    // ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"): groups 1-3 little-endian
    expect(hex(uuidBytes('33DB4D5B-1FF7-401C-9657-7441C03DD766'))).toBe('5b 4d db 33 f7 1f 1c 40 96 57 74 41 c0 3d d7 66');
    expect(() => eisaId('pnp0a03')).toThrow(RangeError);
    expect(() => str('caf\u00e9')).toThrow(RangeError);
  });

  it('encodes Name, Device, Scope and Method flags', () => {
    // Name (_UID, Zero)
    expect(hex(amlBytes(new Name('_UID', ZERO)))).toBe('08 5f 55 49 44 00');
    // Device (RES0) { Name (_UID, One) }
    expect(hex(amlBytes(new Device('RES0', [new Name('_UID', ONE)])))).toBe('5b 82 0b 52 45 53 30 08 5f 55 49 44 01');
    // Scope (\_SB) {}
    expect(hex(amlBytes(new Scope('\\_SB', [])))).toBe('10 06 5c 5f 53 42 5f');
    // Method (_OSC, 4, Serialized) {}: flags = 4 args | SerializeFlag
    expect(hex(amlBytes(new Method('_OSC', 4, true, [])))).toBe('14 06 5f 4f 53 43 0c');
    // Method (FOO, 1, NotSerialized, 3) {}: SyncLevel in bits 7:4
    expect(hex(amlBytes(new Method('FOO', 1, false, [], 3)))).toBe('14 06 46 4f 4f 5f 31');
    expect(() => new Method('BAD', 8, false, [])).toThrow(RangeError);
  });

  it('encodes the statements _OSC uses', () => {
    // If (LNotEqual (Arg1, One)) { Or (CDW1, 0x08, CDW1) } Else { Return (Arg3) }
    const cdw1 = name('CDW1');
    const bytes = amlBytes(
      CreateDWordField(arg(3), ZERO, 'CDW1'),
      new If(LNotEqual(arg(1), ONE), [Or(cdw1, int(8), cdw1)]),
      new Else([Return(arg(3))]),
    );
    expect(hex(bytes)).toBe(
      [
        '8a 6b 00 43 44 57 31', // CreateDWordField (Arg3, Zero, CDW1)
        'a0 10 92 93 69 01', // If (LNot (LEqual (Arg1, One)))
        '7d 43 44 57 31 0a 08 43 44 57 31', //   Or (CDW1, 0x08, CDW1)
        'a1 03 a4 6b', // Else { Return (Arg3) }
      ].join(' '),
    );
    // Store (Local7, Arg6); And (Arg0, Ones) with the NullName target
    expect(hex(amlBytes(Store(local(7), arg(6)), And(arg(0), ONES)))).toBe('70 67 6e 7b 68 ff 00');
    expect(() => arg(7)).toThrow(RangeError);
    expect(() => local(8)).toThrow(RangeError);
  });
});

describe('AML resource templates', () => {
  it('encodes each descriptor as ACPI 6.5 chapter 6.4 lays it out', () => {
    // IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
    expect(hex(amlBytes(new IoPort({ min: 0x3f8, max: 0x3f8, alignment: 1, length: 8 })))).toBe('47 01 f8 03 f8 03 01 08');
    // Memory32Fixed (ReadWrite, 0xE0000000, 0x10000000)
    expect(hex(amlBytes(new Memory32Fixed({ base: 0xe000_0000, length: 0x1000_0000 })))).toBe('86 09 00 01 00 00 00 e0 00 00 00 10');
    // Interrupt (ResourceConsumer, Level, ActiveLow, Shared) { 16, 17 }
    expect(hex(amlBytes(new Interrupt({ gsis: [16, 17], edge: false, activeLow: true, shared: true })))).toBe(
      '89 0a 00 0d 02 10 00 00 00 11 00 00 00',
    );
    // WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
    expect(hex(amlBytes(new WordBusNumber({ min: 0, max: 0xff })))).toBe('88 0d 00 02 0c 00 00 00 00 00 ff 00 00 00 00 01');
    // DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
    //              0, 0xC0000000, 0xDFFFFFFF, 0, 0x20000000)
    expect(hex(amlBytes(new DWordMemory({ min: 0xc000_0000, max: 0xdfff_ffff })))).toBe(
      '87 17 00 00 0c 01 00 00 00 00 00 00 00 c0 ff ff ff df 00 00 00 00 00 00 00 20',
    );
    // QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed, Prefetchable, ReadOnly,
    //              0, 0x8000000000, 0xFFFFFFFFFF, 0, 0x8000000000)
    expect(
      hex(amlBytes(new QWordMemory({ min: 0x80_0000_0000, max: 0xff_ffff_ffff, consumer: true, caching: 'prefetchable', readWrite: false }))),
    ).toBe(
      '8a 2b 00 00 0d 06 ' +
        '00 00 00 00 00 00 00 00 00 00 00 00 80 00 00 00 ff ff ff ff ff 00 00 00 ' +
        '00 00 00 00 00 00 00 00 00 00 00 00 80 00 00 00',
    );
  });

  it('ends with an End Tag whose checksum makes the template sum to zero', () => {
    const t = new ResourceTemplate([new IoPort({ min: 0x3f8, max: 0x3f8, alignment: 1, length: 8 })]);
    const contents = t.contents();
    expect(hex(contents.subarray(-2, -1))).toBe('79');
    const sum = new ChecksumSink();
    sum.bytes(contents);
    expect(sum.total).toBe(0);
    // Buffer (0x0A) { ... }: BufferOp PkgLength BytePrefix 10, then the 10 bytes
    expect(hex(amlBytes(t).subarray(0, 4))).toBe('11 0d 0a 0a');
  });

  it('rejects descriptors that do not fit their fields', () => {
    expect(() => new WordBusNumber({ min: 0, max: 0x1_0000 })).toThrow(RangeError);
    expect(() => new DWordMemory({ min: 0, max: 2 ** 32 })).toThrow(RangeError);
    expect(() => new DWordMemory({ min: 2, max: 1 })).toThrow(RangeError);
    expect(() => new IoPort({ min: 0x1_0000, max: 0, alignment: 1, length: 1 })).toThrow(RangeError);
    expect(() => new Interrupt({ gsis: [], edge: true, activeLow: false, shared: false })).toThrow(RangeError);
  });
});

describe('ByteSink', () => {
  it('grows past its initial capacity and returns copies', () => {
    const s = new ByteSink();
    for (let i = 0; i < 1000; i++) s.byte(i);
    const a = s.toBytes();
    s.byte(0xaa);
    expect(a.length).toBe(1000);
    expect(a[999]).toBe(999 & 0xff);
    expect(s.length).toBe(1001);
  });
});

// iasl as an independent encoder: the same ASL compiled by ACPICA must give the same bytes.
const iasl = findIasl();
const describeIasl = iasl ? describe : describe.skip;
if (!iasl) console.warn('iasl (acpica-tools) not installed: skipping the AML-vs-iasl comparisons');

/** Compiles `asl` inside a DefinitionBlock and returns the AML after the 36-byte header. */
function iaslBody(asl: string): Uint8Array {
  const r = iaslCompile(`DefinitionBlock ("", "SSDT", 2, "VIRTLT", "VLTETEST", 1) {\n${asl}\n}\n`);
  expect(r.problems, r.log).toEqual([]);
  return r.output!.subarray(36);
}

/** Our bytes equal iasl's, except End Tag checksums, which iasl leaves at zero. */
function expectSameAsIasl(ours: Aml[], asl: string): void {
  const mine = amlBytes(...ours);
  const theirs = iaslBody(asl);
  expect(mine.length).toBe(theirs.length);
  for (let i = 0; i < mine.length; i++) {
    if (mine[i] !== theirs[i] && !(mine[i - 1] === 0x79 && theirs[i] === 0)) {
      expect.fail(`byte ${i}: ours 0x${mine[i]!.toString(16)}, iasl 0x${theirs[i]!.toString(16)}`);
    }
  }
}

describeIasl('AML compared with iasl', () => {
  it('encodes buffers across the PkgLength size boundaries as iasl does', () => {
    const sizes = [58, 59, 60, 61, 62, 4089, 4090, 4091, 4092];
    expectSameAsIasl(
      sizes.map((n, i) => new Name(`B${i.toString().padStart(3, '0')}`, new AmlBuffer(new Uint8Array(n)))),
      sizes.map((n, i) => `Name (B${i.toString().padStart(3, '0')}, Buffer () { ${new Array(n).fill('0').join(', ')} })`).join('\n'),
    );
  });

  it('encodes integers of every width as iasl does', () => {
    const values = [2, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff, 2 ** 32, 2 ** 52];
    expectSameAsIasl(
      [new Name('IZER', ZERO), new Name('IONE', ONE), new Name('IONS', ONES), ...values.map((v, i) => new Name(`I00${i}`, int(v)))],
      ['Name (IZER, Zero)', 'Name (IONE, One)', 'Name (IONS, Ones)', ...values.map((v, i) => `Name (I00${i}, 0x${v.toString(16)})`)].join('\n'),
    );
  });

  it('encodes devices, methods, control flow and a full resource template as iasl does', () => {
    const fld = name('FLD0');
    expectSameAsIasl(
      [
        new Scope('\\_SB', [
          new Device('DEV0', [
            new Name('_HID', new EisaId('PNP0C02')),
            new Name('_UID', str('dev-0')),
            new Name(
              '_CRS',
              new ResourceTemplate([
                new IoPort({ min: 0x600, max: 0x600, alignment: 1, length: 3 }),
                new Memory32Fixed({ base: 0xfed0_0000, length: 0x1000, readWrite: false }),
                new Interrupt({ gsis: [9], edge: false, activeLow: true, shared: true }),
                new WordBusNumber({ min: 0, max: 0x7f }),
                new DWordMemory({ min: 0xc000_0000, max: 0xdfff_ffff, caching: 'write-combining' }),
                new QWordMemory({ min: 0x80_0000_0000, max: 0xff_ffff_ffff, caching: 'prefetchable' }),
              ]),
            ),
            new Name('PKG0', new Package([int(1), str('x'), new Package([ONES])])),
            new Method('TST0', 2, true, [
              CreateDWordField(arg(1), int(4), 'FLD0'),
              Store(arg(0), local(0)),
              new If(LAnd(LEqual(local(0), int(0x1234)), LOr(LNot(arg(0)), LNotEqual(arg(0), ONES))), [And(fld, int(0xff), fld)]),
              new Else([Or(fld, int(0x100), local(0))]),
              Return(local(0)),
            ]),
          ]),
          new Device('DEV0.SUB0', [new Name('_ADR', ZERO)]),
        ]),
        new Scope('\\_SB.DEV0', [new Name('^^NAM0', toUuid('33db4d5b-1ff7-401c-9657-7441c03dd766'))]),
      ],
      `
      Scope (\\_SB) {
        Device (DEV0) {
          Name (_HID, EisaId ("PNP0C02"))
          Name (_UID, "dev-0")
          Name (_CRS, ResourceTemplate () {
            IO (Decode16, 0x0600, 0x0600, 0x01, 0x03)
            Memory32Fixed (ReadOnly, 0xFED00000, 0x00001000)
            Interrupt (ResourceConsumer, Level, ActiveLow, Shared) { 9 }
            WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0x7F, 0, 0x80)
            DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, WriteCombining, ReadWrite,
                         0, 0xC0000000, 0xDFFFFFFF, 0, 0x20000000)
            QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Prefetchable, ReadWrite,
                         0, 0x8000000000, 0xFFFFFFFFFF, 0, 0x8000000000)
          })
          Name (PKG0, Package () { One, "x", Package () { Ones } })
          Method (TST0, 2, Serialized) {
            CreateDWordField (Arg1, 0x04, FLD0)
            Store (Arg0, Local0)
            If (LAnd (LEqual (Local0, 0x1234), LOr (LNot (Arg0), LNotEqual (Arg0, Ones)))) {
              And (FLD0, 0xFF, FLD0)
            } Else {
              Or (FLD0, 0x100, Local0)
            }
            Return (Local0)
          }
        }
        Device (DEV0.SUB0) { Name (_ADR, Zero) }
      }
      Scope (\\_SB.DEV0) { Name (^^NAM0, ToUUID ("33db4d5b-1ff7-401c-9657-7441c03dd766")) }
      `,
    );
  });
});

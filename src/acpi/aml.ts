/**
 * A small AML (ACPI Machine Language) encoder: the bytes of a DSDT, built from composable
 * objects that each write themselves into a sink (`toAml(sink)`), as rust-vmm's acpi_tables does
 * (STYLE.md point 11). Devices may import this leaf module to describe themselves.
 *
 * Spec: ACPI 6.5, chapter 20 "ACPI Machine Language (AML) Specification"
 * (https://uefi.org/specs/ACPI/6.5/20_AML_Specification.html): 20.2.2 name objects, 20.2.3 data
 * objects, 20.2.4 package length, 20.2.5 term objects; resource descriptors from chapter 6.4
 * "Resource Data Types for ACPI" (https://uefi.org/specs/ACPI/6.5/06_Device_Configuration.html);
 * EISAID and ToUUID from 19.6.35 and 19.6.142.
 *
 * Integers are written in the shortest encoding (ZeroOp, OneOp, BytePrefix, WordPrefix,
 * DWordPrefix, QWordPrefix); `ONES` is the OnesOp constant, which in a revision-2 table means
 * 0xFFFFFFFFFFFFFFFF. Integers are non-negative `number`s (safe integers) or `bigint`s below
 * 2^64. Bad arguments (a malformed name, an out-of-range integer) are programming errors of the
 * table builder and throw a RangeError; no guest input ever reaches this module.
 *
 * Not supported: Field/OperationRegion/Mutex/Event and other named objects besides Name, Method,
 * Device and Scope; arithmetic beyond And/Or; While/Break; method invocation with arguments;
 * VarPackage (packages of more than 255 elements); Buffer contents computed at run time;
 * resource descriptors besides IO, Memory32Fixed, Extended Interrupt (without a resource
 * source), Word/DWord/QWord address spaces (without a resource source) and the End Tag.
 */

// ---------------------------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------------------------

/** Where AML objects write their bytes. */
export interface AmlSink {
  byte(value: number): void;
  bytes(values: ArrayLike<number>): void;
}

/** Anything that can encode itself as AML. */
export interface Aml {
  toAml(sink: AmlSink): void;
}

/** A sink that collects bytes in a growing buffer. */
export class ByteSink implements AmlSink {
  private buf = new Uint8Array(256);
  private len = 0;

  byte(value: number): void {
    this.reserve(1);
    this.buf[this.len++] = value & 0xff;
  }

  bytes(values: ArrayLike<number>): void {
    this.reserve(values.length);
    for (let i = 0; i < values.length; i++) this.buf[this.len++] = values[i]! & 0xff;
  }

  get length(): number {
    return this.len;
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }
}

/**
 * A sink that only sums what is written, modulo 256: the ACPI checksum rule (a table, the RSDP
 * and a resource template each sum to zero including their checksum byte).
 */
export class ChecksumSink implements AmlSink {
  private sum = 0;

  byte(value: number): void {
    this.sum = (this.sum + value) & 0xff;
  }

  bytes(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.sum = (this.sum + values[i]!) & 0xff;
  }

  /** The byte sum so far, modulo 256 (0 for a valid table). */
  get total(): number {
    return this.sum;
  }

  /** The byte that, added to what was written, makes the sum zero. */
  get checksum(): number {
    return -this.sum & 0xff;
  }
}

/** The bytes of a sequence of AML objects. */
export function amlBytes(...items: Aml[]): Uint8Array {
  const sink = new ByteSink();
  for (const item of items) item.toAml(sink);
  return sink.toBytes();
}

// ---------------------------------------------------------------------------------------------
// Opcodes (ACPI 6.5 section 20.3, "AML Byte Stream Byte Values")
// ---------------------------------------------------------------------------------------------

export const ZERO_OP = 0x00;
export const ONE_OP = 0x01;
export const NAME_OP = 0x08;
export const BYTE_PREFIX = 0x0a;
export const WORD_PREFIX = 0x0b;
export const DWORD_PREFIX = 0x0c;
export const STRING_PREFIX = 0x0d;
export const QWORD_PREFIX = 0x0e;
export const SCOPE_OP = 0x10;
export const BUFFER_OP = 0x11;
export const PACKAGE_OP = 0x12;
export const METHOD_OP = 0x14;
export const DUAL_NAME_PREFIX = 0x2e;
export const MULTI_NAME_PREFIX = 0x2f;
export const EXT_OP_PREFIX = 0x5b;
export const ROOT_CHAR = 0x5c;
export const PARENT_PREFIX_CHAR = 0x5e;
export const LOCAL0_OP = 0x60;
export const ARG0_OP = 0x68;
export const STORE_OP = 0x70;
export const AND_OP = 0x7b;
export const OR_OP = 0x7d;
export const CREATE_DWORD_FIELD_OP = 0x8a;
export const LAND_OP = 0x90;
export const LOR_OP = 0x91;
export const LNOT_OP = 0x92;
export const LEQUAL_OP = 0x93;
export const IF_OP = 0xa0;
export const ELSE_OP = 0xa1;
export const RETURN_OP = 0xa4;
export const ONES_OP = 0xff;
/** Second byte after EXT_OP_PREFIX. */
export const DEVICE_OP = 0x82;

// ---------------------------------------------------------------------------------------------
// Package length (20.2.4)
// ---------------------------------------------------------------------------------------------

/**
 * The PkgLength encoding for an object whose contents (after the PkgLength) are
 * `contentLength` bytes. The encoded length counts the PkgLength bytes themselves:
 *
 *   1 byte : bits 5:0 = length (max 63)
 *   2-4 bytes: byte 0 bits 7:6 = number of following bytes, bits 3:0 = length bits 3:0;
 *              each following byte holds the next 8 bits (max 2^12-1, 2^20-1, 2^28-1).
 */
export function encodePkgLength(contentLength: number): number[] {
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
    throw new RangeError(`bad AML package content length ${contentLength}`);
  }
  if (contentLength + 1 <= 0x3f) return [contentLength + 1];
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const out = [(extra << 6) | (total & 0x0f)];
      for (let i = 0; i < extra; i++) out.push(Math.floor(total / 2 ** (4 + 8 * i)) & 0xff);
      return out;
    }
  }
  throw new RangeError(`AML package of ${contentLength} bytes exceeds the 2^28 PkgLength limit`);
}

/** Writes `prefix`, the PkgLength of the body, then the body. */
function withPkgLength(sink: AmlSink, prefix: readonly number[], body: (s: AmlSink) => void): void {
  const inner = new ByteSink();
  body(inner);
  sink.bytes(prefix);
  sink.bytes(encodePkgLength(inner.length));
  sink.bytes(inner.toBytes());
}

// ---------------------------------------------------------------------------------------------
// Names (20.2.2)
// ---------------------------------------------------------------------------------------------

const NAME_SEG = /^[A-Z_][A-Z0-9_]{0,3}$/;

/**
 * A NameString: an optional root (`\`) or parent prefixes (`^`), then zero or more 4-character
 * NameSegs separated by dots. Short segments are padded with '_' ("_S5" is "_S5_").
 * Examples: `\_SB.PCI0`, `^^COM1`, `_HID`, `\` (the root itself).
 */
export class NamePath implements Aml {
  readonly prefix: string;
  readonly segments: readonly string[];

  constructor(path: string) {
    const m = /^(\\|\^*)(.*)$/.exec(path)!;
    this.prefix = m[1]!;
    const rest = m[2]!;
    this.segments = rest === '' ? [] : rest.split('.');
    for (const seg of this.segments) {
      if (!NAME_SEG.test(seg)) throw new RangeError(`bad AML NameSeg "${seg}" in "${path}"`);
    }
    if (this.segments.length > 255) throw new RangeError(`AML name path "${path}" is too long`);
  }

  toAml(sink: AmlSink): void {
    for (const c of this.prefix) sink.byte(c === '\\' ? ROOT_CHAR : PARENT_PREFIX_CHAR);
    const segs = this.segments;
    if (segs.length === 0) sink.byte(ZERO_OP); // NullName
    else if (segs.length === 2) sink.byte(DUAL_NAME_PREFIX);
    else if (segs.length > 2) sink.bytes([MULTI_NAME_PREFIX, segs.length]);
    for (const seg of segs) {
      const padded = seg.padEnd(4, '_');
      for (let i = 0; i < 4; i++) sink.byte(padded.charCodeAt(i));
    }
  }
}

/** A name (for declarations and references alike). */
export function name(path: string): NamePath {
  return new NamePath(path);
}

// ---------------------------------------------------------------------------------------------
// Data objects (20.2.3)
// ---------------------------------------------------------------------------------------------

/** A non-negative integer below 2^64: a safe `number` or a `bigint`. */
export type AmlInteger = number | bigint;

function toBigInt(value: AmlInteger): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad AML integer ${value}`);
    return BigInt(value);
  }
  if (value < 0n || value >= 1n << 64n) throw new RangeError(`bad AML integer ${value}`);
  return value;
}

function littleEndian(value: bigint, size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < size; i++) out.push(Number((value >> BigInt(8 * i)) & 0xffn));
  return out;
}

/** An integer constant in its shortest encoding. */
export class Integer implements Aml {
  readonly value: bigint;

  constructor(value: AmlInteger) {
    this.value = toBigInt(value);
  }

  toAml(sink: AmlSink): void {
    const v = this.value;
    if (v === 0n) sink.byte(ZERO_OP);
    else if (v === 1n) sink.byte(ONE_OP);
    else if (v <= 0xffn) sink.bytes([BYTE_PREFIX, Number(v)]);
    else if (v <= 0xffffn) sink.bytes([WORD_PREFIX, ...littleEndian(v, 2)]);
    else if (v <= 0xffff_ffffn) sink.bytes([DWORD_PREFIX, ...littleEndian(v, 4)]);
    else sink.bytes([QWORD_PREFIX, ...littleEndian(v, 8)]);
  }
}

export function int(value: AmlInteger): Integer {
  return new Integer(value);
}

/** A fixed one-byte constant object. */
class ConstObj implements Aml {
  constructor(private readonly op: number) {}
  toAml(sink: AmlSink): void {
    sink.byte(this.op);
  }
}

export const ZERO: Aml = new ConstObj(ZERO_OP);
export const ONE: Aml = new ConstObj(ONE_OP);
/** All bits set: 0xFFFFFFFF in a revision-1 table, 0xFFFFFFFFFFFFFFFF in revision 2. */
export const ONES: Aml = new ConstObj(ONES_OP);

/** A string constant: ASCII characters 0x01-0x7F, NUL-terminated. */
export class AmlString implements Aml {
  constructor(readonly value: string) {
    for (const c of value) {
      const code = c.charCodeAt(0);
      if (c.length !== 1 || code < 0x01 || code > 0x7f) throw new RangeError(`non-ASCII AML string "${value}"`);
    }
  }
  toAml(sink: AmlSink): void {
    sink.byte(STRING_PREFIX);
    for (let i = 0; i < this.value.length; i++) sink.byte(this.value.charCodeAt(i));
    sink.byte(0);
  }
}

export function str(value: string): AmlString {
  return new AmlString(value);
}

/** Buffer (n) { bytes }: BufferOp PkgLength BufferSize ByteList. */
export class AmlBuffer implements Aml {
  constructor(readonly data: ArrayLike<number>) {}
  toAml(sink: AmlSink): void {
    withPkgLength(sink, [BUFFER_OP], (s) => {
      new Integer(this.data.length).toAml(s);
      s.bytes(this.data);
    });
  }
}

/** Package (n) { elements }: PackageOp PkgLength NumElements PackageElementList. */
export class Package implements Aml {
  constructor(readonly elements: readonly Aml[]) {
    if (elements.length > 255) throw new RangeError(`AML Package of ${elements.length} elements (VarPackage not supported)`);
  }
  toAml(sink: AmlSink): void {
    withPkgLength(sink, [PACKAGE_OP], (s) => {
      s.byte(this.elements.length);
      for (const e of this.elements) e.toAml(s);
    });
  }
}

/** A package of integers, the common case (_S5, _PRT entries). */
export function intPackage(values: readonly AmlInteger[]): Package {
  return new Package(values.map((v) => new Integer(v)));
}

/**
 * EISAID ("PNP0A03"): three uppercase letters and four hex digits compressed into 32 bits
 * (letters as 5-bit values 'A' = 1, then the 16-bit product number), stored big-endian as
 * ACPI 6.5 section 19.6.35 specifies. The numeric value is the little-endian DWord of those bytes.
 */
export function eisaId(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`bad EISA id "${id}"`);
  const c = (i: number): number => id.charCodeAt(i) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = Number.parseInt(id.slice(3), 16);
  const bytes = [vendor >> 8, vendor & 0xff, product >> 8, product & 0xff];
  return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
}

/** EisaId ("PNP0A03") as AML: always a DWordPrefix constant, as iasl writes it. */
export class EisaId implements Aml {
  readonly value: number;
  constructor(readonly id: string) {
    this.value = eisaId(id);
  }
  toAml(sink: AmlSink): void {
    sink.bytes([DWORD_PREFIX, ...littleEndian(BigInt(this.value), 4)]);
  }
}

/**
 * ToUUID ("aabbccdd-eeff-gghh-iijj-kkllmmnnoopp") as a 16-byte buffer: the first three groups
 * little-endian, the last two in string order (ACPI 6.5 section 19.6.142).
 */
export function uuidBytes(uuid: string): number[] {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(uuid);
  if (!m) throw new RangeError(`bad UUID "${uuid}"`);
  const hexBytes = (h: string): number[] => h.match(/../g)!.map((b) => Number.parseInt(b, 16));
  return [
    ...hexBytes(m[1]!).reverse(),
    ...hexBytes(m[2]!).reverse(),
    ...hexBytes(m[3]!).reverse(),
    ...hexBytes(m[4]!),
    ...hexBytes(m[5]!),
  ];
}

export function toUuid(uuid: string): AmlBuffer {
  return new AmlBuffer(uuidBytes(uuid));
}

// ---------------------------------------------------------------------------------------------
// Named objects and scopes (20.2.5.1, 20.2.5.2)
// ---------------------------------------------------------------------------------------------

/** Name (path, value): NameOp NameString DataRefObject. */
export class Name implements Aml {
  private readonly path: NamePath;
  constructor(path: string, readonly value: Aml) {
    this.path = new NamePath(path);
  }
  toAml(sink: AmlSink): void {
    sink.byte(NAME_OP);
    this.path.toAml(sink);
    this.value.toAml(sink);
  }
}

/** Scope (path) { children }. */
export class Scope implements Aml {
  private readonly path: NamePath;
  constructor(path: string, readonly children: readonly Aml[]) {
    this.path = new NamePath(path);
  }
  toAml(sink: AmlSink): void {
    withPkgLength(sink, [SCOPE_OP], (s) => {
      this.path.toAml(s);
      for (const c of this.children) c.toAml(s);
    });
  }
}

/** Device (path) { children }: ExtOpPrefix DeviceOp PkgLength NameString TermList. */
export class Device implements Aml {
  private readonly path: NamePath;
  constructor(path: string, readonly children: readonly Aml[]) {
    this.path = new NamePath(path);
  }
  toAml(sink: AmlSink): void {
    withPkgLength(sink, [EXT_OP_PREFIX, DEVICE_OP], (s) => {
      this.path.toAml(s);
      for (const c of this.children) c.toAml(s);
    });
  }
}

/**
 * Method (path, argCount, Serialized|NotSerialized, syncLevel) { body }.
 * MethodFlags: bits 2:0 ArgCount, bit 3 SerializeFlag, bits 7:4 SyncLevel.
 */
export class Method implements Aml {
  private readonly path: NamePath;
  constructor(
    path: string,
    readonly argCount: number,
    readonly serialized: boolean,
    readonly body: readonly Aml[],
    readonly syncLevel = 0,
  ) {
    this.path = new NamePath(path);
    if (!Number.isInteger(argCount) || argCount < 0 || argCount > 7) throw new RangeError(`bad method argument count ${argCount}`);
    if (!Number.isInteger(syncLevel) || syncLevel < 0 || syncLevel > 15) throw new RangeError(`bad method sync level ${syncLevel}`);
  }
  toAml(sink: AmlSink): void {
    withPkgLength(sink, [METHOD_OP], (s) => {
      this.path.toAml(s);
      s.byte(this.argCount | (this.serialized ? 0x08 : 0) | (this.syncLevel << 4));
      for (const b of this.body) b.toAml(s);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Arguments, locals and statements (20.2.5.3, 20.2.5.4, 20.2.6)
// ---------------------------------------------------------------------------------------------

/** Arg0-Arg6. */
export function arg(n: number): Aml {
  if (!Number.isInteger(n) || n < 0 || n > 6) throw new RangeError(`bad method argument Arg${n}`);
  return new ConstObj(ARG0_OP + n);
}

/** Local0-Local7. */
export function local(n: number): Aml {
  if (!Number.isInteger(n) || n < 0 || n > 7) throw new RangeError(`bad method local Local${n}`);
  return new ConstObj(LOCAL0_OP + n);
}

/** An opcode followed by its operands, without a package length. */
class Op implements Aml {
  constructor(private readonly opcode: readonly number[], private readonly operands: readonly Aml[]) {}
  toAml(sink: AmlSink): void {
    sink.bytes(this.opcode);
    for (const o of this.operands) o.toAml(sink);
  }
}

/** The NullName target: the result is discarded. */
const NO_TARGET: Aml = new ConstObj(ZERO_OP);

export const Return = (value: Aml): Aml => new Op([RETURN_OP], [value]);
export const Store = (source: Aml, target: Aml): Aml => new Op([STORE_OP], [source, target]);
export const And = (a: Aml, b: Aml, target: Aml = NO_TARGET): Aml => new Op([AND_OP], [a, b, target]);
export const Or = (a: Aml, b: Aml, target: Aml = NO_TARGET): Aml => new Op([OR_OP], [a, b, target]);
export const LEqual = (a: Aml, b: Aml): Aml => new Op([LEQUAL_OP], [a, b]);
export const LAnd = (a: Aml, b: Aml): Aml => new Op([LAND_OP], [a, b]);
export const LOr = (a: Aml, b: Aml): Aml => new Op([LOR_OP], [a, b]);
export const LNot = (a: Aml): Aml => new Op([LNOT_OP], [a]);
/** LNotEqual (a, b) is encoded as LNot (LEqual (a, b)) (20.2.5.4). */
export const LNotEqual = (a: Aml, b: Aml): Aml => new Op([LNOT_OP, LEQUAL_OP], [a, b]);

/** CreateDWordField (source, byteIndex, name). */
export const CreateDWordField = (source: Aml, byteIndex: Aml, fieldName: string): Aml =>
  new Op([CREATE_DWORD_FIELD_OP], [source, byteIndex, new NamePath(fieldName)]);

/** If (predicate) { body }: IfOp PkgLength Predicate TermList. */
export class If implements Aml {
  constructor(readonly predicate: Aml, readonly body: readonly Aml[]) {}
  toAml(sink: AmlSink): void {
    withPkgLength(sink, [IF_OP], (s) => {
      this.predicate.toAml(s);
      for (const b of this.body) b.toAml(s);
    });
  }
}

/** Else { body }: ElseOp PkgLength TermList. Must directly follow an If. */
export class Else implements Aml {
  constructor(readonly body: readonly Aml[]) {}
  toAml(sink: AmlSink): void {
    withPkgLength(sink, [ELSE_OP], (s) => {
      for (const b of this.body) b.toAml(s);
    });
  }
}

/** Raw bytes, already encoded. */
export class RawAml implements Aml {
  constructor(readonly data: ArrayLike<number>) {}
  toAml(sink: AmlSink): void {
    sink.bytes(this.data);
  }
}

// ---------------------------------------------------------------------------------------------
// Resource templates (ACPI 6.5 section 6.4)
// ---------------------------------------------------------------------------------------------

/** Small resource tags: (item name << 3) | length (6.4.2). */
export const IO_PORT_DESCRIPTOR = 0x47;
export const END_TAG_DESCRIPTOR = 0x79;
/** Large resource tags: 0x80 | item name, then a 16-bit length (6.4.3). */
export const MEMORY32_FIXED_DESCRIPTOR = 0x86;
export const DWORD_ADDRESS_DESCRIPTOR = 0x87;
export const WORD_ADDRESS_DESCRIPTOR = 0x88;
export const EXTENDED_INTERRUPT_DESCRIPTOR = 0x89;
export const QWORD_ADDRESS_DESCRIPTOR = 0x8a;

/** Address space descriptor Resource Type (6.4.3.5, Table 6.49 and friends). */
export const ADDRESS_SPACE_MEMORY = 0;
export const ADDRESS_SPACE_IO = 1;
export const ADDRESS_SPACE_BUS_NUMBER = 2;

/**
 * Address space General Flags:
 *   bit 3 _MAF (max address fixed), bit 2 _MIF (min address fixed),
 *   bit 1 _DEC (1 = subtractive decode), bit 0 (1 = consumer, 0 = producer and consumer).
 */
export const ADDRESS_FLAG_MAX_FIXED = 1 << 3;
export const ADDRESS_FLAG_MIN_FIXED = 1 << 2;
export const ADDRESS_FLAG_SUBTRACTIVE = 1 << 1;
export const ADDRESS_FLAG_CONSUMER = 1 << 0;

/**
 * Memory Type Specific Flags: bit 5 _TTP, bits 4:3 _MTP, bits 2:1 _MEM, bit 0 _RW.
 */
export const MEMORY_FLAG_READ_WRITE = 1 << 0;
export type MemoryCaching = 'non-cacheable' | 'cacheable' | 'write-combining' | 'prefetchable';
const MEMORY_CACHING_BITS: Record<MemoryCaching, number> = {
  'non-cacheable': 0 << 1,
  cacheable: 1 << 1,
  'write-combining': 2 << 1,
  prefetchable: 3 << 1,
};

/** Extended interrupt flags: bit 4 wake, bit 3 shared, bit 2 active low, bit 1 edge, bit 0 consumer. */
export const INTERRUPT_FLAG_CONSUMER = 1 << 0;
export const INTERRUPT_FLAG_EDGE = 1 << 1;
export const INTERRUPT_FLAG_ACTIVE_LOW = 1 << 2;
export const INTERRUPT_FLAG_SHARED = 1 << 3;
export const INTERRUPT_FLAG_WAKE = 1 << 4;

function pushLe(out: number[], value: bigint, size: number): void {
  out.push(...littleEndian(value, size));
}

function checkRange(what: string, value: bigint, bytes: number): void {
  if (value >= 1n << BigInt(8 * bytes)) throw new RangeError(`${what} ${value} does not fit in ${bytes} bytes`);
}

/** IO (Decode16|Decode10, min, max, alignment, length): 6.4.2.5. */
export class IoPort implements Aml {
  constructor(readonly opts: { min: number; max: number; alignment: number; length: number; decode16?: boolean }) {
    const { min, max, alignment, length } = opts;
    for (const [what, v, limit] of [['min', min, 0xffff], ['max', max, 0xffff], ['alignment', alignment, 0xff], ['length', length, 0xff]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > limit) throw new RangeError(`bad IO descriptor ${what} ${v}`);
    }
  }
  toAml(sink: AmlSink): void {
    const { min, max, alignment, length, decode16 = true } = this.opts;
    sink.bytes([IO_PORT_DESCRIPTOR, decode16 ? 1 : 0, min & 0xff, min >> 8, max & 0xff, max >> 8, alignment, length]);
  }
}

/** Memory32Fixed (ReadWrite|ReadOnly, base, length): 6.4.3.4. */
export class Memory32Fixed implements Aml {
  constructor(readonly opts: { base: number; length: number; readWrite?: boolean }) {
    checkRange('Memory32Fixed base', toBigInt(opts.base), 4);
    checkRange('Memory32Fixed length', toBigInt(opts.length), 4);
  }
  toAml(sink: AmlSink): void {
    const out = [MEMORY32_FIXED_DESCRIPTOR, 9, 0, this.opts.readWrite === false ? 0 : MEMORY_FLAG_READ_WRITE];
    pushLe(out, BigInt(this.opts.base), 4);
    pushLe(out, BigInt(this.opts.length), 4);
    sink.bytes(out);
  }
}

/**
 * Interrupt (ResourceConsumer|ResourceProducer, Edge|Level, ActiveHigh|ActiveLow,
 * Exclusive|Shared) { gsis }: the Extended Interrupt Descriptor, 6.4.3.6.
 */
export class Interrupt implements Aml {
  constructor(
    readonly opts: { gsis: readonly number[]; edge: boolean; activeLow: boolean; shared: boolean; consumer?: boolean; wake?: boolean },
  ) {
    if (opts.gsis.length < 1 || opts.gsis.length > 255) throw new RangeError(`bad interrupt count ${opts.gsis.length}`);
    for (const g of opts.gsis) checkRange('interrupt number', toBigInt(g), 4);
  }
  toAml(sink: AmlSink): void {
    const o = this.opts;
    const flags =
      (o.consumer === false ? 0 : INTERRUPT_FLAG_CONSUMER) |
      (o.edge ? INTERRUPT_FLAG_EDGE : 0) |
      (o.activeLow ? INTERRUPT_FLAG_ACTIVE_LOW : 0) |
      (o.shared ? INTERRUPT_FLAG_SHARED : 0) |
      (o.wake ? INTERRUPT_FLAG_WAKE : 0);
    const length = 2 + 4 * o.gsis.length;
    const out = [EXTENDED_INTERRUPT_DESCRIPTOR, length & 0xff, length >> 8, flags, o.gsis.length];
    for (const g of o.gsis) pushLe(out, BigInt(g), 4);
    sink.bytes(out);
  }
}

/** Common fields of the Word/DWord/QWord address space descriptors (6.4.3.5). */
export interface AddressSpaceOptions {
  min: AmlInteger;
  max: AmlInteger;
  /** Defaults to max - min + 1. */
  length?: AmlInteger;
  /** Defaults to 0 (required when both ends are fixed, Table 6.44). */
  granularity?: AmlInteger;
  translation?: AmlInteger;
  /** Defaults to false: the device produces the range (a bridge window). */
  consumer?: boolean;
  /** Default true. */
  minFixed?: boolean;
  maxFixed?: boolean;
  subtractiveDecode?: boolean;
}

/** Word/DWord/QWord address space descriptors share one layout with a field size of 2, 4 or 8. */
class AddressSpace implements Aml {
  private readonly fields: bigint[];
  private readonly generalFlags: number;

  constructor(
    private readonly tag: number,
    private readonly fieldSize: 2 | 4 | 8,
    private readonly resourceType: number,
    private readonly typeFlags: number,
    opts: AddressSpaceOptions,
  ) {
    const min = toBigInt(opts.min);
    const max = toBigInt(opts.max);
    if (max < min) throw new RangeError(`address space max ${max} below min ${min}`);
    const length = opts.length === undefined ? max - min + 1n : toBigInt(opts.length);
    this.fields = [toBigInt(opts.granularity ?? 0), min, max, toBigInt(opts.translation ?? 0), length];
    for (const f of this.fields) checkRange('address space field', f, fieldSize);
    this.generalFlags =
      (opts.maxFixed === false ? 0 : ADDRESS_FLAG_MAX_FIXED) |
      (opts.minFixed === false ? 0 : ADDRESS_FLAG_MIN_FIXED) |
      (opts.subtractiveDecode ? ADDRESS_FLAG_SUBTRACTIVE : 0) |
      (opts.consumer ? ADDRESS_FLAG_CONSUMER : 0);
  }

  toAml(sink: AmlSink): void {
    const length = 3 + 5 * this.fieldSize;
    const out = [this.tag, length & 0xff, length >> 8, this.resourceType, this.generalFlags, this.typeFlags];
    for (const f of this.fields) pushLe(out, f, this.fieldSize);
    sink.bytes(out);
  }
}

/** Memory ranges add caching and read/write flags to the common fields. */
export interface MemoryRangeOptions extends AddressSpaceOptions {
  /** Default 'non-cacheable' (MMIO). */
  caching?: MemoryCaching;
  /** Default true. */
  readWrite?: boolean;
}

function memoryTypeFlags(opts: MemoryRangeOptions): number {
  return MEMORY_CACHING_BITS[opts.caching ?? 'non-cacheable'] | (opts.readWrite === false ? 0 : MEMORY_FLAG_READ_WRITE);
}

/** WordBusNumber (...): a Word Address Space Descriptor of Resource Type 2. */
export class WordBusNumber extends AddressSpace {
  constructor(opts: AddressSpaceOptions) {
    super(WORD_ADDRESS_DESCRIPTOR, 2, ADDRESS_SPACE_BUS_NUMBER, 0, opts);
  }
}

/** DWordMemory (...): a DWord Address Space Descriptor of Resource Type 0. */
export class DWordMemory extends AddressSpace {
  constructor(opts: MemoryRangeOptions) {
    super(DWORD_ADDRESS_DESCRIPTOR, 4, ADDRESS_SPACE_MEMORY, memoryTypeFlags(opts), opts);
  }
}

/** QWordMemory (...): a QWord Address Space Descriptor of Resource Type 0. */
export class QWordMemory extends AddressSpace {
  constructor(opts: MemoryRangeOptions) {
    super(QWORD_ADDRESS_DESCRIPTOR, 8, ADDRESS_SPACE_MEMORY, memoryTypeFlags(opts), opts);
  }
}

/**
 * ResourceTemplate () { descriptors }: a Buffer holding the descriptors and an End Tag whose
 * checksum byte makes the whole template sum to zero (6.4.2.9).
 */
export class ResourceTemplate implements Aml {
  constructor(readonly descriptors: readonly Aml[]) {}

  /** The descriptor bytes including the End Tag (the Buffer's contents). */
  contents(): Uint8Array {
    const bytes = new ByteSink();
    const sum = new ChecksumSink();
    const both: AmlSink = {
      byte: (v) => (bytes.byte(v), sum.byte(v)),
      bytes: (v) => (bytes.bytes(v), sum.bytes(v)),
    };
    for (const d of this.descriptors) d.toAml(both);
    both.byte(END_TAG_DESCRIPTOR);
    bytes.byte(sum.checksum);
    return bytes.toBytes();
  }

  toAml(sink: AmlSink): void {
    new AmlBuffer(this.contents()).toAml(sink);
  }
}

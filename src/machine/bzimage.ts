/**
 * Parser of the Linux x86 bzImage setup header (Linux boot protocol, Documentation/arch/x86/boot.rst,
 * "The real-mode kernel header"). It validates the image and reports what the loader needs; it
 * never touches guest memory. Every malformed image gives a BzImageError with a sentence a user
 * can act on.
 *
 * Not supported: zImage (protocol < 2.00, "LOADED_HIGH" clear) and boot protocols older than
 * 2.12, which lack the fields a direct 64-bit boot relies on (xloadflags).
 */

/** Offsets in the image file of the setup header fields we read (boot.rst, table of fields). */
const SETUP_SECTS_OFFSET = 0x1f1;
const SYSSIZE_OFFSET = 0x1f4;
const BOOT_FLAG_OFFSET = 0x1fe;
const JUMP_OFFSET = 0x200;
const HEADER_MAGIC_OFFSET = 0x202;
const VERSION_OFFSET = 0x206;
const KERNEL_VERSION_OFFSET = 0x20e;
const LOADFLAGS_OFFSET = 0x211;
const CODE32_START_OFFSET = 0x214;
const INITRD_ADDR_MAX_OFFSET = 0x22c;
const KERNEL_ALIGNMENT_OFFSET = 0x230;
const RELOCATABLE_KERNEL_OFFSET = 0x234;
const XLOADFLAGS_OFFSET = 0x236;
const CMDLINE_SIZE_OFFSET = 0x238;
const PAYLOAD_OFFSET_OFFSET = 0x248;
const PAYLOAD_LENGTH_OFFSET = 0x24c;
const PREF_ADDRESS_OFFSET = 0x258;
const INIT_SIZE_OFFSET = 0x260;
/** The last field we read ends here; a shorter file cannot be a 2.12+ image. */
const MIN_HEADER_END = 0x264;

const BOOT_FLAG = 0xaa55;
const HEADER_MAGIC = 0x5372_6448; // "HdrS", little-endian
const MIN_PROTOCOL = 0x020c; // 2.12
const LOADFLAGS_LOADED_HIGH = 0x01;
const XLF_KERNEL_64 = 0x01;
const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
const SECTOR = 512;

export class BzImageError extends Error {
  override readonly name = 'BzImageError';
}

export interface BzImage {
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  readonly protocol: number;
  /** "2.15" */
  readonly protocolText: string;
  /** The kernel's own version string (may be empty if the image has none). */
  readonly kernelVersion: string;
  /** Bytes of the real-mode setup (boot sector included); the protected-mode kernel follows. */
  readonly setupSize: number;
  /** The protected-mode kernel: what the loader copies to the load address. */
  readonly kernel: Uint8Array;
  /** The setup header bytes (from 0x1f1 to its self-declared end), copied into the zero page. */
  readonly setupHeader: Uint8Array;
  /** Offset of the setup header in the image and in boot_params (both 0x1f1). */
  readonly setupHeaderOffset: number;
  readonly loadFlags: number;
  readonly xloadFlags: number;
  /** The image has a 64-bit entry point at load address + 0x200 (XLF_KERNEL_64). */
  readonly has64BitEntry: boolean;
  readonly canLoadAbove4G: boolean;
  /** 32-bit entry point of the protected-mode kernel (normally 0x100000). */
  readonly code32Start: number;
  /** Highest address the initrd may occupy (inclusive). */
  readonly initrdAddrMax: number;
  readonly kernelAlignment: number;
  readonly relocatable: boolean;
  /** Longest command line the kernel accepts, without the NUL. */
  readonly cmdlineSize: number;
  /** Where the kernel prefers to run (it relocates itself there if not relocatable). */
  readonly prefAddress: number;
  /** Memory the kernel needs from its run address for its in-place decompression. */
  readonly initSize: number;
  /** The compressed vmlinux inside the protected-mode code (empty if the header is inconsistent). */
  readonly payload: Uint8Array;
}

function readCString(bytes: Uint8Array, offset: number, max: number): string {
  let end = offset;
  while (end < bytes.length && end < offset + max && bytes[end] !== 0) end++;
  return new TextDecoder('latin1').decode(bytes.subarray(offset, end));
}

/** Parses and validates a bzImage. Throws BzImageError for anything a loader must refuse. */
export function parseBzImage(image: Uint8Array): BzImage {
  if (image.length < MIN_HEADER_END) {
    throw new BzImageError(
      `not a Linux kernel image: ${image.length} bytes is too short for a bzImage setup header`,
    );
  }
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (view.getUint32(HEADER_MAGIC_OFFSET, true) !== HEADER_MAGIC) {
    const elf = image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46;
    throw new BzImageError(
      elf
        ? 'this is an ELF file (vmlinux?), not a bzImage: pass arch/x86/boot/bzImage'
        : 'not a Linux kernel image: the "HdrS" boot-protocol magic is missing',
    );
  }
  if (view.getUint16(BOOT_FLAG_OFFSET, true) !== BOOT_FLAG) {
    throw new BzImageError('malformed bzImage: boot flag 0xAA55 is missing');
  }
  const protocol = view.getUint16(VERSION_OFFSET, true);
  const protocolText = `${protocol >> 8}.${protocol & 0xff}`;
  if (protocol < MIN_PROTOCOL) {
    throw new BzImageError(
      `kernel boot protocol ${protocolText} is too old: virtlite needs 2.12 or newer (Linux 3.8+)`,
    );
  }
  const loadFlags = view.getUint8(LOADFLAGS_OFFSET);
  if ((loadFlags & LOADFLAGS_LOADED_HIGH) === 0) {
    throw new BzImageError('this is a zImage (loaded low), not a bzImage: it is not supported');
  }

  const setupSects = view.getUint8(SETUP_SECTS_OFFSET) || 4;
  const setupSize = (setupSects + 1) * SECTOR;
  const headerEnd = HEADER_MAGIC_OFFSET + view.getUint8(JUMP_OFFSET + 1);
  if (headerEnd < MIN_HEADER_END) {
    // (The header cannot run past the setup code: it ends by 0x301, setup is at least 0x400.)
    throw new BzImageError(
      `malformed bzImage: its setup header ends at 0x${headerEnd.toString(16)}, before the protocol ${protocolText} fields`,
    );
  }
  const syssize = view.getUint32(SYSSIZE_OFFSET, true) * 16;
  if (image.length <= setupSize) {
    throw new BzImageError(
      `truncated bzImage: setup_sects = ${setupSects} puts the protected-mode kernel at offset 0x${setupSize.toString(16)}, ` +
        `but the file has only ${image.length} bytes`,
    );
  }
  if (image.length < setupSize + syssize) {
    throw new BzImageError(
      `truncated bzImage: ${image.length} bytes, but its header describes ${setupSize + syssize} ` +
        `(the protected-mode kernel has ${image.length - setupSize} of the ${syssize} bytes syssize declares)`,
    );
  }
  if (syssize === 0) throw new BzImageError('malformed bzImage: the protected-mode kernel is empty');

  const xloadFlags = view.getUint16(XLOADFLAGS_OFFSET, true);
  const versionPtr = view.getUint16(KERNEL_VERSION_OFFSET, true);
  const kernelVersion =
    versionPtr !== 0 && versionPtr + JUMP_OFFSET < setupSize
      ? readCString(image, versionPtr + JUMP_OFFSET, 256)
      : '';
  const prefAddress =
    view.getUint32(PREF_ADDRESS_OFFSET + 4, true) * 0x1_0000_0000 + view.getUint32(PREF_ADDRESS_OFFSET, true);

  return {
    protocol,
    protocolText,
    kernelVersion,
    setupSize,
    kernel: image.subarray(setupSize),
    setupHeader: image.subarray(SETUP_SECTS_OFFSET, headerEnd),
    setupHeaderOffset: SETUP_SECTS_OFFSET,
    loadFlags,
    xloadFlags,
    has64BitEntry: (xloadFlags & XLF_KERNEL_64) !== 0,
    canLoadAbove4G: (xloadFlags & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0,
    code32Start: view.getUint32(CODE32_START_OFFSET, true),
    initrdAddrMax: view.getUint32(INITRD_ADDR_MAX_OFFSET, true),
    kernelAlignment: view.getUint32(KERNEL_ALIGNMENT_OFFSET, true),
    relocatable: view.getUint8(RELOCATABLE_KERNEL_OFFSET) !== 0,
    cmdlineSize: view.getUint32(CMDLINE_SIZE_OFFSET, true),
    prefAddress,
    initSize: view.getUint32(INIT_SIZE_OFFSET, true),
    payload: payloadOf(image.subarray(setupSize), view),
  };
}

function payloadOf(kernel: Uint8Array, view: DataView): Uint8Array {
  const offset = view.getUint32(PAYLOAD_OFFSET_OFFSET, true);
  const length = view.getUint32(PAYLOAD_LENGTH_OFFSET, true);
  return offset + length <= kernel.length ? kernel.subarray(offset, offset + length) : new Uint8Array(0);
}

/** One line about a parsed kernel, for the CLI and the page. */
export function describeBzImage(k: BzImage): string {
  const entry = k.has64BitEntry ? '64-bit and 32-bit entry' : '32-bit entry only';
  const version = k.kernelVersion ? `Linux ${k.kernelVersion.split(' ')[0]}` : 'Linux (no version string)';
  return `${version}, boot protocol ${k.protocolText}, ${entry}, ${k.kernel.length} bytes protected-mode code`;
}

/**
 * Builds the "zero page" (struct boot_params, 4 KiB) that a 32-bit or 64-bit boot-protocol
 * loader hands to Linux in ESI/RSI (Linux Documentation/arch/x86/boot.rst, "32-bit Boot
 * Protocol" and "Details of Header Fields"; Documentation/arch/x86/zero-page.rst; field offsets
 * from arch/x86/include/uapi/asm/bootparam.h).
 *
 * As boot.rst asks, the page starts all zero, the setup header is copied from the image (from
 * 0x1F1 to 0x202 + byte[0x201]), then the loader's fields are written:
 *   - type_of_loader 0xFF (no assigned loader id);
 *   - loadflags: LOADED_HIGH kept; CAN_USE_HEAP and KEEP_SEGMENTS cleared, because the
 *     real-mode setup code (the only user of the heap, heap_end_ptr) never runs with a 32/64-bit
 *     entry and KEEP_SEGMENTS is obsolete (our GDT has __BOOT_CS/__BOOT_DS, which the kernel
 *     reloads); QUIET_FLAG cleared so early messages print;
 *   - vid_mode 0xFFFF ("normal": the value of vga=normal; no video hardware, no mode switch);
 *   - code32_start = where the protected-mode kernel was loaded;
 *   - cmd_line_ptr / ext_cmd_line_ptr, ramdisk_image / ramdisk_size and their ext_ halves;
 *   - e820_entries and e820_table, and alt_mem_k (the RAM above 1 MiB, in KiB) for the
 *     kernel's fallback when a map has fewer than two entries;
 *   - acpi_rsdp_addr (boot_params 0x070, read by kernels with protocol 2.14+; older kernels
 *     ignore it and find the RSDP by scanning 0xE0000-0xFFFFF, where it also is).
 * screen_info stays zero: no video (orig_video_isVGA = 0), so the kernel uses no VGA console.
 * The sentinel (0x1EF) stays zero, telling the kernel the loader filled boot_params properly.
 *
 * Not supported: the vga=/mem= command-line options a 16-bit loader interprets, setup_data
 * chains (hdr.setup_data stays as the image has it, normally 0), EFI, EDD and EDID information,
 * a setup header longer than its room in boot_params (it is cut at 0x290).
 */
import type { BzImage } from './bzimage.ts';
import { E820_TYPE_RAM, type E820Entry, encodeE820 } from './e820.ts';
import { HIGH_RAM_START } from './layout.ts';

/** sizeof(struct boot_params). */
export const BOOT_PARAMS_SIZE = 0x1000;

// struct boot_params fields (byte offsets, bootparam.h names).
export const BP_ACPI_RSDP_ADDR_OFFSET = 0x070; // u64
export const BP_EXT_RAMDISK_IMAGE_OFFSET = 0x0c0; // u32: ramdisk_image bits 63:32
export const BP_EXT_RAMDISK_SIZE_OFFSET = 0x0c4; // u32: ramdisk_size bits 63:32
export const BP_EXT_CMD_LINE_PTR_OFFSET = 0x0c8; // u32: cmd_line_ptr bits 63:32
export const BP_ALT_MEM_K_OFFSET = 0x1e0; // u32: KiB of memory above 1 MiB (pre-e820 fallback)
export const BP_E820_ENTRIES_OFFSET = 0x1e8; // u8
export const BP_SENTINEL_OFFSET = 0x1ef; // u8: must stay 0
export const BP_HDR_OFFSET = 0x1f1; // struct setup_header
/** End of the room for the setup header (edd_mbr_sig_buffer follows). */
export const BP_HDR_END = 0x290;
export const BP_E820_TABLE_OFFSET = 0x2d0; // struct boot_e820_entry[128]

// struct setup_header fields, as offsets in boot_params (the same as in the bzImage file).
export const HDR_VID_MODE_OFFSET = 0x1fa; // u16
export const HDR_VERSION_OFFSET = 0x206; // u16
export const HDR_TYPE_OF_LOADER_OFFSET = 0x210; // u8
export const HDR_LOADFLAGS_OFFSET = 0x211; // u8
export const HDR_CODE32_START_OFFSET = 0x214; // u32
export const HDR_RAMDISK_IMAGE_OFFSET = 0x218; // u32
export const HDR_RAMDISK_SIZE_OFFSET = 0x21c; // u32
export const HDR_HEAP_END_PTR_OFFSET = 0x224; // u16
export const HDR_CMD_LINE_PTR_OFFSET = 0x228; // u32
export const HDR_CMDLINE_SIZE_OFFSET = 0x238; // u32

/** type_of_loader: "Special, 0xFF = undefined" (boot.rst, assigned boot loader ids). */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** vid_mode for vga=normal (boot.rst, "Special Command Line Options"). */
export const VID_MODE_NORMAL = 0xffff;

// loadflags bits (bootparam.h).
export const LOADFLAGS_LOADED_HIGH = 1 << 0;
export const LOADFLAGS_KASLR_FLAG = 1 << 1;
export const LOADFLAGS_QUIET_FLAG = 1 << 5;
export const LOADFLAGS_KEEP_SEGMENTS = 1 << 6;
export const LOADFLAGS_CAN_USE_HEAP = 1 << 7;

export interface ZeroPageOptions {
  /** Where the protected-mode kernel was loaded (written to code32_start). */
  readonly kernelAddr: number;
  /** Guest-physical address of the NUL-terminated command line. */
  readonly cmdlineAddr: number;
  /** The initrd in guest memory, if any. */
  readonly ramdisk?: { readonly addr: number; readonly size: number } | undefined;
  readonly e820: readonly E820Entry[];
  /** Guest-physical address of the ACPI RSDP, or 0 to let the kernel scan for it. */
  readonly rsdpAddr: number;
}

/** The 4 KiB boot_params for `image`, ready to copy to the zero page address. */
export function buildZeroPage(image: BzImage, options: ZeroPageOptions): Uint8Array {
  const page = new Uint8Array(BOOT_PARAMS_SIZE);
  const view = new DataView(page.buffer);
  // The header copy: what the kernel declared, cut at its room in boot_params.
  const header = image.setupHeader.subarray(0, BP_HDR_END - BP_HDR_OFFSET);
  page.set(header, BP_HDR_OFFSET);

  page[HDR_TYPE_OF_LOADER_OFFSET] = LOADER_TYPE_UNDEFINED;
  const flags = page[HDR_LOADFLAGS_OFFSET]!;
  page[HDR_LOADFLAGS_OFFSET] =
    (flags | LOADFLAGS_LOADED_HIGH) & ~(LOADFLAGS_CAN_USE_HEAP | LOADFLAGS_KEEP_SEGMENTS | LOADFLAGS_QUIET_FLAG);
  view.setUint16(HDR_VID_MODE_OFFSET, VID_MODE_NORMAL, true);
  view.setUint32(HDR_CODE32_START_OFFSET, options.kernelAddr, true);

  setSplitU64(view, HDR_CMD_LINE_PTR_OFFSET, BP_EXT_CMD_LINE_PTR_OFFSET, options.cmdlineAddr);
  if (options.ramdisk !== undefined) {
    setSplitU64(view, HDR_RAMDISK_IMAGE_OFFSET, BP_EXT_RAMDISK_IMAGE_OFFSET, options.ramdisk.addr);
    setSplitU64(view, HDR_RAMDISK_SIZE_OFFSET, BP_EXT_RAMDISK_SIZE_OFFSET, options.ramdisk.size);
  } else {
    // The header of an image may carry leftovers; no initrd means both fields zero.
    setSplitU64(view, HDR_RAMDISK_IMAGE_OFFSET, BP_EXT_RAMDISK_IMAGE_OFFSET, 0);
    setSplitU64(view, HDR_RAMDISK_SIZE_OFFSET, BP_EXT_RAMDISK_SIZE_OFFSET, 0);
  }

  page[BP_E820_ENTRIES_OFFSET] = encodeE820(options.e820, page, BP_E820_TABLE_OFFSET);
  // alt_mem_k: KiB of contiguous RAM above 1 MiB, for code that looks before the e820 table.
  const extended = options.e820.find((e) => e.type === E820_TYPE_RAM && e.addr === HIGH_RAM_START);
  view.setUint32(BP_ALT_MEM_K_OFFSET, extended === undefined ? 0 : Math.floor(extended.size / 1024), true);

  view.setUint32(BP_ACPI_RSDP_ADDR_OFFSET, options.rsdpAddr % 0x1_0000_0000, true);
  view.setUint32(BP_ACPI_RSDP_ADDR_OFFSET + 4, Math.floor(options.rsdpAddr / 0x1_0000_0000), true);
  return page;
}

/** A 64-bit value whose low half lives in the setup header and high half in an ext_ field. */
function setSplitU64(view: DataView, loOffset: number, hiOffset: number, value: number): void {
  view.setUint32(loOffset, value % 0x1_0000_0000, true);
  view.setUint32(hiOffset, Math.floor(value / 0x1_0000_0000), true);
}

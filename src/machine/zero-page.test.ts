import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBzImage } from './bzimage.ts';
import { decodeE820, e820Map } from './e820.ts';
import {
  BOOT_PARAMS_SIZE, BP_ACPI_RSDP_ADDR_OFFSET, BP_ALT_MEM_K_OFFSET, BP_E820_ENTRIES_OFFSET, BP_E820_TABLE_OFFSET,
  BP_EXT_CMD_LINE_PTR_OFFSET, BP_EXT_RAMDISK_IMAGE_OFFSET, BP_EXT_RAMDISK_SIZE_OFFSET, BP_HDR_END, BP_HDR_OFFSET,
  BP_SENTINEL_OFFSET, HDR_CMD_LINE_PTR_OFFSET, HDR_CODE32_START_OFFSET, HDR_LOADFLAGS_OFFSET, HDR_RAMDISK_IMAGE_OFFSET,
  HDR_RAMDISK_SIZE_OFFSET, HDR_TYPE_OF_LOADER_OFFSET, HDR_VERSION_OFFSET, HDR_VID_MODE_OFFSET, LOADFLAGS_CAN_USE_HEAP,
  LOADFLAGS_KEEP_SEGMENTS, LOADFLAGS_LOADED_HIGH, LOADFLAGS_QUIET_FLAG, buildZeroPage,
} from './zero-page.ts';

const KERNEL = new Uint8Array(readFileSync(new URL('../../public/kernels/bzImage', import.meta.url)));
const MiB = 0x10_0000;

/** A 2.15 header (setup header up to `headerEnd`) with every loadflags bit a loader may change set. */
function headerImage(headerEnd = 0x26c): Uint8Array {
  const image = new Uint8Array(5 * 512 + 4096);
  const v = new DataView(image.buffer);
  v.setUint8(0x1f1, 4);
  v.setUint32(0x1f4, 4096 / 16, true);
  v.setUint16(0x1fa, 0x0f04, true); // a vid_mode the loader must replace
  v.setUint16(0x1fe, 0xaa55, true);
  v.setUint8(0x200, 0xeb);
  v.setUint8(0x201, headerEnd - 0x202);
  v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, 0x020f, true);
  v.setUint8(0x211, LOADFLAGS_LOADED_HIGH | LOADFLAGS_QUIET_FLAG | LOADFLAGS_KEEP_SEGMENTS | LOADFLAGS_CAN_USE_HEAP);
  v.setUint32(0x218, 0xdead000, true); // stale ramdisk_image
  v.setUint32(0x21c, 0x1234, true);
  v.setUint32(0x22c, 0x7fffffff, true);
  v.setUint32(0x238, 2047, true);
  v.setUint32(0x260, 0x100000, true);
  image.fill(0xaa, headerEnd, 0x300); // bytes past the header: must not be copied
  return image;
}

function fields(page: Uint8Array) {
  const v = new DataView(page.buffer, page.byteOffset);
  const u64 = (lo: number, hi: number) => v.getUint32(hi, true) * 2 ** 32 + v.getUint32(lo, true);
  return {
    typeOfLoader: page[HDR_TYPE_OF_LOADER_OFFSET],
    loadflags: page[HDR_LOADFLAGS_OFFSET],
    vidMode: v.getUint16(HDR_VID_MODE_OFFSET, true),
    version: v.getUint16(HDR_VERSION_OFFSET, true),
    code32Start: v.getUint32(HDR_CODE32_START_OFFSET, true),
    cmdLinePtr: u64(HDR_CMD_LINE_PTR_OFFSET, BP_EXT_CMD_LINE_PTR_OFFSET),
    ramdiskImage: u64(HDR_RAMDISK_IMAGE_OFFSET, BP_EXT_RAMDISK_IMAGE_OFFSET),
    ramdiskSize: u64(HDR_RAMDISK_SIZE_OFFSET, BP_EXT_RAMDISK_SIZE_OFFSET),
    rsdp: u64(BP_ACPI_RSDP_ADDR_OFFSET, BP_ACPI_RSDP_ADDR_OFFSET + 4),
    altMemK: v.getUint32(BP_ALT_MEM_K_OFFSET, true),
    e820: decodeE820(page, BP_E820_TABLE_OFFSET, page[BP_E820_ENTRIES_OFFSET]!),
    sentinel: page[BP_SENTINEL_OFFSET],
  };
}

describe('buildZeroPage', () => {
  it('fills the loader fields for the default kernel', () => {
    const image = parseBzImage(KERNEL);
    const e820 = e820Map(256 * MiB);
    const page = buildZeroPage(image, {
      kernelAddr: 0x100000, cmdlineAddr: 0x20000, ramdisk: { addr: 0xfe00000, size: 0x1ee000 }, e820, rsdpAddr: 0xe0000,
    });
    expect(page.length).toBe(BOOT_PARAMS_SIZE);
    expect(fields(page)).toEqual({
      typeOfLoader: 0xff,
      loadflags: LOADFLAGS_LOADED_HIGH,
      vidMode: 0xffff,
      version: image.protocol,
      code32Start: 0x100000,
      cmdLinePtr: 0x20000,
      ramdiskImage: 0xfe00000,
      ramdiskSize: 0x1ee000,
      rsdp: 0xe0000,
      altMemK: 255 * 1024,
      e820,
      sentinel: 0,
    });
    // Apart from the fields above, the header is the image's, byte for byte.
    const copy = page.slice(BP_HDR_OFFSET, BP_HDR_OFFSET + image.setupHeader.length);
    const expected = image.setupHeader.slice();
    for (const [at, size] of [[0x1fa, 2], [0x210, 2], [0x214, 12], [0x228, 4]] as const) {
      copy.fill(0, at - BP_HDR_OFFSET, at - BP_HDR_OFFSET + size);
      expected.fill(0, at - BP_HDR_OFFSET, at - BP_HDR_OFFSET + size);
    }
    expect(copy).toEqual(expected);
    // Everything outside the header and the fields we own is zero (screen_info: no video).
    expect(page.subarray(0, BP_ACPI_RSDP_ADDR_OFFSET).every((b) => b === 0)).toBe(true);
    expect(page.subarray(BP_E820_TABLE_OFFSET + e820.length * 20).every((b) => b === 0)).toBe(true);
  });

  it('clears CAN_USE_HEAP, KEEP_SEGMENTS and QUIET_FLAG, replaces vid_mode and stale ramdisk fields', () => {
    const page = buildZeroPage(parseBzImage(headerImage()), { kernelAddr: 0x100000, cmdlineAddr: 0x20000, e820: [], rsdpAddr: 0 });
    const f = fields(page);
    expect(f.loadflags).toBe(LOADFLAGS_LOADED_HIGH);
    expect(f.vidMode).toBe(0xffff);
    expect([f.ramdiskImage, f.ramdiskSize, f.rsdp, f.altMemK, f.e820.length]).toEqual([0, 0, 0, 0, 0]);
    // The copy stops where the header says it ends (0x26c): the 0xaa filler stays out.
    expect(page[0x26b]).toBe(0);
    expect(page[0x26c]).toBe(0);
  });

  it('splits 64-bit addresses into the ext_ fields', () => {
    const page = buildZeroPage(parseBzImage(headerImage()), {
      kernelAddr: 0x100000, cmdlineAddr: 0x1_2345_6000, ramdisk: { addr: 0x2_0000_1000, size: 0x1_0000_0010 }, e820: [],
      rsdpAddr: 0x3_0000_0040,
    });
    const v = new DataView(page.buffer);
    expect(v.getUint32(HDR_CMD_LINE_PTR_OFFSET, true)).toBe(0x2345_6000);
    expect(v.getUint32(BP_EXT_CMD_LINE_PTR_OFFSET, true)).toBe(1);
    expect(v.getUint32(BP_EXT_RAMDISK_IMAGE_OFFSET, true)).toBe(2);
    expect(v.getUint32(BP_EXT_RAMDISK_SIZE_OFFSET, true)).toBe(1);
    expect(fields(page)).toMatchObject({ cmdLinePtr: 0x1_2345_6000, ramdiskImage: 0x2_0000_1000, ramdiskSize: 0x1_0000_0010, rsdp: 0x3_0000_0040 });
  });

  it('cuts a setup header that claims more room than boot_params has', () => {
    const image = headerImage(0x301); // jump byte 0xff: the largest header the format can declare
    image.fill(0x55, 0x26c, 0x301);
    const page = buildZeroPage(parseBzImage(image), { kernelAddr: 0x100000, cmdlineAddr: 0x20000, e820: [], rsdpAddr: 0 });
    expect(page[BP_HDR_END - 1]).toBe(0x55);
    expect(page.subarray(BP_HDR_END, BP_E820_TABLE_OFFSET).every((b) => b === 0)).toBe(true);
  });
});

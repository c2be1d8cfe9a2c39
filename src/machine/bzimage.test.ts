import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BzImageError, parseBzImage } from './bzimage.ts';

const KERNEL_PATH = new URL('../../public/kernels/bzImage', import.meta.url);

/** A minimal well-formed 2.15 image: 4 setup sectors and a 4 KiB protected-mode part. */
function syntheticImage(): Uint8Array {
  const setupSects = 4;
  const image = new Uint8Array((setupSects + 1) * 512 + 4096);
  const v = new DataView(image.buffer);
  v.setUint8(0x1f1, setupSects);
  v.setUint32(0x1f4, 4096 / 16, true); // syssize
  v.setUint16(0x1fe, 0xaa55, true);
  v.setUint8(0x200, 0xeb); // jmp short
  v.setUint8(0x201, 0x6a); // header ends at 0x26c
  v.setUint32(0x202, 0x53726448, true); // "HdrS"
  v.setUint16(0x206, 0x020f, true);
  v.setUint16(0x20e, 0x300, true); // kernel_version -> 0x500
  image.set(new TextEncoder().encode('6.1.0-test (synthetic)\0'), 0x500);
  v.setUint8(0x211, 0x01); // LOADED_HIGH
  v.setUint32(0x214, 0x100000, true);
  v.setUint32(0x22c, 0x7fffffff, true);
  v.setUint32(0x230, 0x200000, true);
  v.setUint16(0x236, 0x0003, true);
  v.setUint32(0x238, 2047, true);
  v.setUint32(0x258, 0x1000000, true);
  v.setUint32(0x260, 0x800000, true);
  return image;
}

function expectRefused(image: Uint8Array, message: RegExp): void {
  expect(() => parseBzImage(image)).toThrow(BzImageError);
  expect(() => parseBzImage(image)).toThrow(message);
}

describe('parseBzImage', () => {
  it('reads the header of a well-formed image', () => {
    const k = parseBzImage(syntheticImage());
    expect(k.protocolText).toBe('2.15');
    expect(k.kernelVersion).toBe('6.1.0-test (synthetic)');
    expect(k.setupSize).toBe(5 * 512);
    expect(k.kernel.length).toBe(4096);
    expect(k.has64BitEntry).toBe(true);
    expect(k.canLoadAbove4G).toBe(true);
    expect(k.code32Start).toBe(0x100000);
    expect(k.prefAddress).toBe(0x1000000);
    expect(k.setupHeader.length).toBe(0x26c - 0x1f1);
  });

  it('treats setup_sects = 0 as 4', () => {
    const image = syntheticImage();
    image[0x1f1] = 0;
    expect(parseBzImage(image).setupSize).toBe(5 * 512);
  });

  it('refuses an empty or tiny file', () => {
    expectRefused(new Uint8Array(0), /too short/);
    expectRefused(new Uint8Array(100), /too short/);
  });

  it('refuses a file without the HdrS magic, and names an ELF file', () => {
    const image = syntheticImage();
    image[0x202] = 0;
    expectRefused(image, /"HdrS" boot-protocol magic is missing/);
    const elf = new Uint8Array(4096);
    elf.set([0x7f, 0x45, 0x4c, 0x46]);
    expectRefused(elf, /ELF file/);
  });

  it('refuses a missing boot flag, an old protocol and a zImage', () => {
    const noFlag = syntheticImage();
    noFlag[0x1fe] = 0;
    expectRefused(noFlag, /boot flag/);
    const old = syntheticImage();
    new DataView(old.buffer).setUint16(0x206, 0x020a, true);
    expectRefused(old, /protocol 2\.10 is too old/);
    const zImage = syntheticImage();
    zImage[0x211] = 0;
    expectRefused(zImage, /zImage/);
  });

  it('refuses a truncated image and a header too short for its protocol', () => {
    expectRefused(syntheticImage().subarray(0, 5 * 512 + 100), /truncated bzImage: 2660 bytes.*has 100 of the 4096 bytes syssize declares/);
    const setupPastEnd = syntheticImage();
    setupPastEnd[0x1f1] = 200; // 201 sectors of setup: the kernel would start at 0x19200
    expectRefused(setupPastEnd, /setup_sects = 200 puts the protected-mode kernel at offset 0x19200, but the file has only 6656 bytes/);
    const badHeader = syntheticImage();
    badHeader[0x201] = 0x20; // the jump says the header ends at 0x222
    expectRefused(badHeader, /setup header ends at 0x222, before the protocol 2\.15 fields/);
  });

  it('accepts the committed default guest kernel', () => {
    const k = parseBzImage(new Uint8Array(readFileSync(KERNEL_PATH)));
    expect(k.protocol).toBeGreaterThanOrEqual(0x020f);
    expect(k.kernelVersion).toMatch(/^6\.1\.\d+/);
    expect(k.has64BitEntry).toBe(true);
    expect(k.relocatable).toBe(false); // guest/linux.fragment: no KASLR, no relocation work
  });
});

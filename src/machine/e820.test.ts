import { describe, expect, it } from 'vitest';
import {
  E820_ENTRY_SIZE, E820_MAX_ENTRIES_ZEROPAGE, E820_TYPE_RAM, E820_TYPE_RESERVED, type E820Entry, decodeE820, e820Map,
  e820RamTop, encodeE820, formatE820,
} from './e820.ts';

const MiB = 0x10_0000;
const GiB = 0x4000_0000;

describe('e820Map', () => {
  it('describes 256 MiB: low RAM, reserved boot data and ACPI, RAM from 1 MiB, reserved ECAM', () => {
    expect(e820Map(256 * MiB)).toEqual([
      { addr: 0, size: 0x9f000, type: E820_TYPE_RAM },
      { addr: 0x9f000, size: 0x61000, type: E820_TYPE_RESERVED },
      { addr: 0x100000, size: 255 * MiB, type: E820_TYPE_RAM },
      { addr: 0xe000_0000, size: 0x1000_0000, type: E820_TYPE_RESERVED },
    ]);
    expect(e820RamTop(e820Map(256 * MiB))).toBe(256 * MiB);
  });

  it('splits 3.5 GiB around the PCI hole, the rest at 4 GiB', () => {
    const map = e820Map(3.5 * GiB);
    expect(map).toEqual([
      { addr: 0, size: 0x9f000, type: E820_TYPE_RAM },
      { addr: 0x9f000, size: 0x61000, type: E820_TYPE_RESERVED },
      { addr: 0x100000, size: 0xc000_0000 - 0x100000, type: E820_TYPE_RAM },
      { addr: 0xe000_0000, size: 0x1000_0000, type: E820_TYPE_RESERVED },
      { addr: 0x1_0000_0000, size: 0.5 * GiB, type: E820_TYPE_RAM },
    ]);
    // Usable RAM adds up to the RAM size minus the reserved low pages.
    const usable = map.filter((e) => e.type === E820_TYPE_RAM).reduce((sum, e) => sum + e.size, 0);
    expect(usable).toBe(3.5 * GiB - 0x61000);
    expect(e820RamTop(map)).toBe(4.5 * GiB);
  });

  it('ends exactly at the hole for 3 GiB, and has no empty range for 1 MiB', () => {
    expect(e820Map(3 * GiB).at(-1)).toEqual({ addr: 0xe000_0000, size: 0x1000_0000, type: E820_TYPE_RESERVED });
    expect(e820Map(3 * GiB)[2]).toEqual({ addr: MiB, size: 3 * GiB - MiB, type: E820_TYPE_RAM });
    const tiny = e820Map(MiB);
    expect(tiny.every((e) => e.size > 0)).toBe(true);
    expect(tiny.map((e) => e.addr)).toEqual([0, 0x9f000, 0xe000_0000]);
  });

  it('is sorted and has no overlaps for many sizes', () => {
    for (const size of [2 * MiB, 64 * MiB, 1 * GiB, 3 * GiB + 4096, 16 * GiB]) {
      const map = e820Map(size);
      for (let i = 1; i < map.length; i++) {
        expect(map[i]!.addr).toBeGreaterThanOrEqual(map[i - 1]!.addr + map[i - 1]!.size);
      }
    }
  });

  it('refuses a RAM size below 1 MiB', () => {
    expect(() => e820Map(512 * 1024)).toThrow(/below the 1 MiB minimum/);
  });
});

describe('e820 encoding', () => {
  it('writes packed 20-byte boot_e820_entry records and reads them back, 64-bit values included', () => {
    const map = e820Map(3.5 * GiB);
    const out = new Uint8Array(8 + map.length * E820_ENTRY_SIZE);
    expect(encodeE820(map, out, 8)).toBe(5);
    const v = new DataView(out.buffer);
    // The fifth entry: addr 0x1_0000_0000 (lo 0, hi 1), size 0x2000_0000, type 1.
    const at = 8 + 4 * E820_ENTRY_SIZE;
    expect([v.getUint32(at, true), v.getUint32(at + 4, true)]).toEqual([0, 1]);
    expect([v.getUint32(at + 8, true), v.getUint32(at + 12, true)]).toEqual([0x2000_0000, 0]);
    expect(v.getUint32(at + 16, true)).toBe(E820_TYPE_RAM);
    expect(decodeE820(out, 8, 5)).toEqual(map);
  });

  it('refuses more entries than the zero page holds', () => {
    const many: E820Entry[] = Array.from({ length: E820_MAX_ENTRIES_ZEROPAGE + 1 }, (_, i) => ({ addr: i * 4096, size: 4096, type: 1 }));
    expect(() => encodeE820(many, new Uint8Array(4096), 0)).toThrow(/129 e820 entries do not fit/);
  });

  it('formats entries like the kernel log', () => {
    expect(formatE820(e820Map(256 * MiB))).toEqual([
      '[mem 0x0000000000000000-0x000000000009efff] usable',
      '[mem 0x000000000009f000-0x00000000000fffff] reserved',
      '[mem 0x0000000000100000-0x000000000fffffff] usable',
      '[mem 0x00000000e0000000-0x00000000efffffff] reserved',
    ]);
  });
});

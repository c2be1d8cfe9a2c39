import { describe, expect, it } from 'vitest';
import * as L from './layout.ts';

function overlaps(a: L.Region, b: L.Region): boolean {
  return a.start < b.start + b.size && b.start < a.start + a.size;
}

describe('machine layout', () => {
  it('has no overlapping fixed regions, listed in address order', () => {
    const regions = L.FIXED_REGIONS;
    for (let i = 1; i < regions.length; i++) {
      expect(regions[i]!.start).toBeGreaterThanOrEqual(regions[i - 1]!.start + regions[i - 1]!.size);
    }
  });

  it('keeps RAM out of the fixed regions for every RAM size up to 16 GiB', () => {
    for (const mib of [1, 64, 256, 3072, 3073, 4096, 16384]) {
      const ram = L.highRamRegions(mib * 1024 * 1024);
      const total = ram.reduce((sum, r) => sum + r.size, 0) + L.HIGH_RAM_START;
      expect(total).toBe(mib * 1024 * 1024);
      for (const r of ram) {
        for (const f of L.FIXED_REGIONS.slice(1)) expect(overlaps(r, f), `${r.name} vs ${f.name}`).toBe(false);
      }
    }
  });

  it('rejects a RAM size below 1 MiB', () => {
    expect(() => L.highRamRegions(4096)).toThrow(/below the 1 MiB minimum/);
  });

  it('places boot data where the boot protocol expects it', () => {
    expect(L.ZERO_PAGE_ADDR + 4096).toBeLessThanOrEqual(L.CMDLINE_ADDR);
    expect(L.CMDLINE_ADDR + L.CMDLINE_MAX).toBeLessThanOrEqual(L.LOW_RAM_END);
    expect(L.ACPI_TABLES_START % 16).toBe(0); // the RSDP scan walks 16-byte boundaries
    expect(L.KERNEL_LOAD_ADDR).toBe(L.HIGH_RAM_START);
  });
});

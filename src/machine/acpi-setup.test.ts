import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DSDT_REVISION } from '../acpi/dsdt.ts';
import { FADT_DSDT_OFFSET, FADT_REVISION, FADT_X_DSDT_OFFSET } from '../acpi/fadt.ts';
import { HPET_TABLE_REVISION } from '../acpi/hpet.ts';
import { MADT_ENTRIES_OFFSET, MADT_REVISION } from '../acpi/madt.ts';
import { MCFG_REVISION } from '../acpi/mcfg.ts';
import { RSDP_RSDT_ADDRESS_OFFSET, RSDP_SIZE, RSDP_V1_SIZE, RSDP_XSDT_ADDRESS_OFFSET } from '../acpi/rsdp.ts';
import { byteSum, tableSignature } from '../acpi/sdt.ts';
import {
  disassemblerVersion,
  findIasl,
  iaslCompile,
  iaslDisassemble,
  isEndTagChecksum,
  stableDisassembly,
  tableDifferences,
} from '../acpi/testing/iasl.ts';
import { expectValidTable, rsdpDataTableSource } from '../acpi/testing/tables.ts';
import { RSDT_REVISION, XSDT_REVISION } from '../acpi/xsdt.ts';
import { ACPI_TABLE_ALIGN, buildAcpi, type AcpiLayout } from './acpi-setup.ts';
import * as L from './layout.ts';

const REVISIONS: Record<string, number> = {
  DSDT: DSDT_REVISION,
  FACP: FADT_REVISION,
  APIC: MADT_REVISION,
  HPET: HPET_TABLE_REVISION,
  MCFG: MCFG_REVISION,
  XSDT: XSDT_REVISION,
  RSDT: RSDT_REVISION,
};

/** Guest memory holding the layout, read the way an OS does: by physical address. */
function memory(layout: AcpiLayout) {
  const view = new DataView(layout.bytes.buffer, layout.bytes.byteOffset, layout.bytes.byteLength);
  const off = (addr: number) => addr - layout.base;
  return {
    u32: (addr: number) => view.getUint32(off(addr), true),
    u64: (addr: number) => Number(view.getBigUint64(off(addr), true)),
    table: (addr: number) => layout.bytes.subarray(off(addr), off(addr) + view.getUint32(off(addr) + 4, true)),
  };
}

const layout = buildAcpi({ ramSize: L.DEFAULT_RAM_SIZE });

describe('buildAcpi layout', () => {
  it('puts the RSDP first at ACPI_TABLES_START and every table, aligned, inside 0xE0000-0xFFFFF', () => {
    expect(layout.base).toBe(L.ACPI_TABLES_START);
    expect(layout.rsdpAddr).toBe(L.ACPI_TABLES_START);
    expect(layout.tables.map((t) => t.signature)).toEqual(['RSDP', 'DSDT', 'FACP', 'APIC', 'HPET', 'MCFG', 'XSDT', 'RSDT']);
    let end = layout.base;
    for (const t of layout.tables) {
      expect(t.addr % ACPI_TABLE_ALIGN, t.signature).toBe(0);
      expect(t.addr, t.signature).toBeGreaterThanOrEqual(end); // in order, no overlap
      end = t.addr + t.bytes.length;
      expect(layout.bytes.subarray(t.addr - layout.base, end - layout.base)).toEqual(t.bytes);
    }
    expect(layout.base + layout.bytes.length).toBe(end);
    expect(end).toBeLessThanOrEqual(0x10_0000);
  });

  it('is found by a scan of 0xE0000-0xFFFFF on 16-byte boundaries', () => {
    const found: number[] = [];
    for (let off = 0; off + RSDP_SIZE <= layout.bytes.length; off += 16) {
      const b = layout.bytes.subarray(off, off + RSDP_SIZE);
      if (String.fromCharCode(...b.subarray(0, 8)) === 'RSD PTR ' && byteSum(b, 0, RSDP_V1_SIZE) === 0) found.push(layout.base + off);
    }
    expect(found).toEqual([layout.rsdpAddr]);
  });

  it('links RSDP -> XSDT and RSDT -> FACP, APIC, HPET, MCFG and FACP -> DSDT', () => {
    const mem = memory(layout);
    const byName = Object.fromEntries(layout.tables.map((t) => [t.signature, t.addr]));
    const rsdp = layout.tables[0]!.bytes;
    expect(byteSum(rsdp, 0, RSDP_V1_SIZE)).toBe(0);
    expect(byteSum(rsdp)).toBe(0);
    const xsdt = mem.table(mem.u64(layout.rsdpAddr + RSDP_XSDT_ADDRESS_OFFSET));
    const rsdt = mem.table(mem.u32(layout.rsdpAddr + RSDP_RSDT_ADDRESS_OFFSET));
    expect(tableSignature(xsdt)).toBe('XSDT');
    expect(tableSignature(rsdt)).toBe('RSDT');
    const xEntries = Array.from({ length: (xsdt.length - 36) / 8 }, (_, i) => mem.u64(byName.XSDT! + 36 + 8 * i));
    const rEntries = Array.from({ length: (rsdt.length - 36) / 4 }, (_, i) => mem.u32(byName.RSDT! + 36 + 4 * i));
    expect(rEntries).toEqual(xEntries);
    expect(xEntries.map((a) => tableSignature(mem.table(a)))).toEqual(['FACP', 'APIC', 'HPET', 'MCFG']);
    const fadt = byName.FACP!;
    expect(mem.u32(fadt + FADT_DSDT_OFFSET)).toBe(byName.DSDT);
    expect(mem.u64(fadt + FADT_X_DSDT_OFFSET)).toBe(byName.DSDT);
  });

  it('builds valid tables with the addresses of layout.ts', () => {
    for (const t of layout.tables.slice(1)) expectValidTable(t.bytes, t.signature, REVISIONS[t.signature]!);
    const get = (sig: string) => layout.tables.find((t) => t.signature === sig)!.bytes;
    const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
    expect(u32(get('APIC'), 36 /* Local Interrupt Controller Address */)).toBe(L.LAPIC_ADDR);
    expect(u32(get('APIC'), MADT_ENTRIES_OFFSET + 8 + 4 /* I/O APIC Address after one LAPIC */)).toBe(L.IOAPIC_ADDR);
    expect(u32(get('HPET'), 44 /* Base Address GAS .Address */)).toBe(L.HPET_ADDR);
    expect(u32(get('MCFG'), 44 /* first allocation's Base Address */)).toBe(L.PCIE_ECAM_START);
    expect(u32(get('FACP'), 120 /* RESET_REG.Address */)).toBe(L.ACPI_RESET_PORT);
    expect(get('FACP')[128 /* RESET_VALUE */]).toBe(L.ACPI_RESET_VALUE);
    expect(u32(get('FACP'), 248 /* SLEEP_CONTROL_REG.Address */)).toBe(L.ACPI_SLEEP_CONTROL_PORT);
    expect(u32(get('FACP'), 260 /* SLEEP_STATUS_REG.Address */)).toBe(L.ACPI_SLEEP_STATUS_PORT);
  });

  it('describes every CPU in the MADT and the DSDT', () => {
    const four = buildAcpi({ ramSize: L.DEFAULT_RAM_SIZE, cpus: 4 });
    const madt = four.tables.find((t) => t.signature === 'APIC')!.bytes;
    const lapics = [];
    for (let off = MADT_ENTRIES_OFFSET; off < madt.length; off += madt[off + 1]!) if (madt[off] === 0) lapics.push(madt[off + 3]);
    expect(lapics).toEqual([0, 1, 2, 3]);
    const dsdt = four.tables.find((t) => t.signature === 'DSDT')!.bytes;
    const text = String.fromCharCode(...dsdt);
    expect(['C000', 'C001', 'C002', 'C003'].every((n) => text.includes(n))).toBe(true);
    expect(text.includes('C004')).toBe(false);
  });

  it('is deterministic and refuses RAM that does not hold the tables', () => {
    expect(buildAcpi({ ramSize: L.DEFAULT_RAM_SIZE }).bytes).toEqual(layout.bytes);
    expect(() => buildAcpi({ ramSize: 512 * 1024 })).toThrow(RangeError);
    expect(() => buildAcpi({ ramSize: L.DEFAULT_RAM_SIZE, cpus: 0 })).toThrow(RangeError);
  });
});

const iasl = findIasl();
if (!iasl) console.warn('iasl (acpica-tools) is not installed: skipping the iasl checks of the ACPI tables');

describe.skipIf(!iasl)('buildAcpi tables through iasl', () => {
  for (const sig of ['DSDT', 'FACP', 'APIC', 'HPET', 'MCFG', 'XSDT', 'RSDT']) {
    it(`${sig}: iasl -d reports nothing and recompiles the disassembly to the same bytes`, () => {
      const ours = layout.tables.find((t) => t.signature === sig)!.bytes;
      const d = iaslDisassemble(ours, sig);
      expect(d.problems, d.log).toEqual([]);
      const c = iaslCompile(d.output!, sig);
      expect(c.problems, c.log).toEqual([]);
      expect(tableDifferences(ours, c.output!, (i) => isEndTagChecksum(ours, c.output!, i))).toEqual([]);
    });
  }

  it('RSDP: iasl compiles the same fields to the same bytes, checksums included', () => {
    const rsdp = layout.tables[0]!.bytes;
    const c = iaslCompile(rsdpDataTableSource(rsdp), 'RSDP');
    expect(c.problems, c.log).toEqual([]);
    expect(c.output).toEqual(rsdp);
  });
});

// The full-machine golden set (src/acpi/__golden__/README.md): UPDATE_GOLDEN=1 rewrites it.
const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '../acpi/__golden__/virt');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

describe('buildAcpi golden tables', () => {
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    for (const t of layout.tables) {
      writeFileSync(join(GOLDEN_DIR, `${t.signature}.aml`), t.bytes);
      const dsl = t.signature === 'RSDP' ? rsdpDataTableSource(t.bytes) : iasl ? iaslDisassemble(t.bytes, t.signature).output : undefined;
      if (dsl !== undefined) writeFileSync(join(GOLDEN_DIR, `${t.signature}.dsl`), stableDisassembly(dsl));
    }
  }

  for (const t of layout.tables) {
    it(`${t.signature} equals __golden__/virt/${t.signature}.aml`, () => {
      const path = join(GOLDEN_DIR, `${t.signature}.aml`);
      expect(existsSync(path), `${path} is missing: run UPDATE_GOLDEN=1 npx vitest run src/machine/acpi-setup.test.ts`).toBe(true);
      expect(t.bytes).toEqual(new Uint8Array(readFileSync(path)));
    });
  }

  it.skipIf(!iasl)('the reviewable .dsl files match the .aml files', () => {
    for (const t of layout.tables.slice(1)) {
      const golden = readFileSync(join(GOLDEN_DIR, `${t.signature}.dsl`), 'utf8');
      const fresh = stableDisassembly(iaslDisassemble(t.bytes, t.signature).output!);
      // another iasl version formats differently: only the same version can be compared
      if (disassemblerVersion(golden) === disassemblerVersion(fresh)) expect(fresh, t.signature).toBe(golden);
    }
    expect(readFileSync(join(GOLDEN_DIR, 'RSDP.dsl'), 'utf8')).toBe(rsdpDataTableSource(layout.tables[0]!.bytes));
  });
});

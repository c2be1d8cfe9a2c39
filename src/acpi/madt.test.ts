import { describe, expect, it } from 'vitest';
import { MADT_ENTRIES_OFFSET, MADT_REVISION, MPS_INTI_POLARITY_ACTIVE_HIGH, MPS_INTI_TRIGGER_EDGE, buildMadt } from './madt.ts';
import { expectValidTable, hexBytes } from './testing/tables.ts';

const EDGE_HIGH = MPS_INTI_POLARITY_ACTIVE_HIGH | MPS_INTI_TRIGGER_EDGE;
const params = (cpus: number) => ({
  lapicAddr: 0xfee0_0000,
  cpus,
  ioApic: { id: 0, address: 0xfec0_0000, gsiBase: 0 },
  overrides: [{ source: 0, gsi: 2, flags: EDGE_HIGH }],
  lapicNmi: { lint: 1, flags: EDGE_HIGH },
});

describe('MADT', () => {
  it('matches the golden bytes for two CPUs', () => {
    const madt = buildMadt(params(2));
    expectValidTable(madt, 'APIC', MADT_REVISION);
    expect(madt).toEqual(
      hexBytes(`
        41 50 49 43  58 00 00 00  06  2c  56 49 52 54 4c 54   // "APIC", 88, rev 6
        56 4c 54 45 41 50 49 43  01 00 00 00  56 4c 54 45
        01 00 00 00
        00 00 e0 fe              // Local Apic Address : FEE00000
        00 00 00 00              // Flags : 0 (no PC-AT compatibility)
        00 08 00 00 01 00 00 00  // Processor Local APIC: Processor ID 0, APIC ID 0, Enabled
        00 08 01 01 01 00 00 00  // Processor Local APIC: Processor ID 1, APIC ID 1, Enabled
        01 0c 00 00 00 00 c0 fe 00 00 00 00     // I/O APIC: ID 0, Address FEC00000, GSI base 0
        02 0a 00 00 02 00 00 00 05 00           // Interrupt Source Override: ISA IRQ 0 -> GSI 2, edge, high
        04 06 ff 05 00 01                       // Local APIC NMI: all processors, edge, high, LINT1`),
    );
  });

  it('has one Local APIC entry per CPU with UID = APIC id, and no NMI entry if none is given', () => {
    const madt = buildMadt({ ...params(5), lapicNmi: undefined });
    expect(madt.length).toBe(MADT_ENTRIES_OFFSET + 5 * 8 + 12 + 10);
    for (let cpu = 0; cpu < 5; cpu++) {
      expect(Array.from(madt.subarray(MADT_ENTRIES_OFFSET + 8 * cpu, MADT_ENTRIES_OFFSET + 8 * cpu + 8))).toEqual([0, 8, cpu, cpu, 1, 0, 0, 0]);
    }
    expect(() => buildMadt(params(0))).toThrow(RangeError);
    expect(() => buildMadt(params(256))).toThrow(RangeError);
  });
});

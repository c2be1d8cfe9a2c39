import { describe, expect, it } from 'vitest';
import { MCFG_ALLOCATION_SIZE, MCFG_ALLOCATIONS_OFFSET, MCFG_REVISION, buildMcfg } from './mcfg.ts';
import { expectValidTable, hexBytes } from './testing/tables.ts';

describe('MCFG', () => {
  it('matches the golden bytes for one segment, buses 0-255', () => {
    const mcfg = buildMcfg([{ base: 0xe000_0000, segment: 0, startBus: 0, endBus: 255 }]);
    expectValidTable(mcfg, 'MCFG', MCFG_REVISION);
    // [024] Reserved : 0000000000000000
    // [02C] Base Address : 00000000E0000000   [034] Segment Group Number : 0000
    // [036] Start Bus Number : 00   [037] End Bus Number : FF   [038] Reserved : 00000000
    expect(mcfg).toEqual(
      hexBytes(`
        4d 43 46 47  3c 00 00 00  01  4d  56 49 52 54 4c 54
        56 4c 54 45 4d 43 46 47  01 00 00 00  56 4c 54 45
        01 00 00 00
        00 00 00 00 00 00 00 00
        00 00 00 e0 00 00 00 00  00 00  00  ff  00 00 00 00`),
    );
  });

  it('lays out several allocations and rejects an empty bus range', () => {
    const m = buildMcfg([
      { base: 0xe000_0000, segment: 0, startBus: 0, endBus: 15 },
      { base: 0x10_0000_0000, segment: 1, startBus: 0x10, endBus: 0x1f },
    ]);
    expect(m.length).toBe(MCFG_ALLOCATIONS_OFFSET + 2 * MCFG_ALLOCATION_SIZE);
    const second = m.subarray(MCFG_ALLOCATIONS_OFFSET + MCFG_ALLOCATION_SIZE);
    expect(Array.from(second)).toEqual([0, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0x10, 0x1f, 0, 0, 0, 0]);
    expect(() => buildMcfg([{ base: 0, segment: 0, startBus: 2, endBus: 1 }])).toThrow(RangeError);
  });
});

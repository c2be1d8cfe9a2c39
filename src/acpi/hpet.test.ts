import { describe, expect, it } from 'vitest';
import { HPET_TABLE_REVISION, HPET_TABLE_SIZE, buildHpet, hpetEventTimerBlockId } from './hpet.ts';
import { expectValidTable, hexBytes } from './testing/tables.ts';

const CAPS = { vendorId: 0x8086, timers: 3, counter64: true, legacyReplacement: true, revisionId: 1 };

describe('HPET table', () => {
  it('encodes the Event Timer Block ID like GCAP_ID bits 31:0', () => {
    // vendor 8086 | LEG_RT_CAP | COUNT_SIZE_CAP | NUM_TIM_CAP = 2 | REV_ID 1
    expect(hpetEventTimerBlockId(CAPS)).toBe(0x8086_a201);
    expect(hpetEventTimerBlockId({ ...CAPS, timers: 32, counter64: false, legacyReplacement: false, revisionId: 0xff })).toBe(0x8086_1fff);
    expect(() => hpetEventTimerBlockId({ ...CAPS, timers: 0 })).toThrow(RangeError);
    expect(() => hpetEventTimerBlockId({ ...CAPS, timers: 33 })).toThrow(RangeError);
  });

  it('matches the golden bytes', () => {
    const hpet = buildHpet({ address: 0xfed0_0000, capabilities: CAPS, minimumTick: 0x80 });
    expectValidTable(hpet, 'HPET', HPET_TABLE_REVISION);
    expect(hpet.length).toBe(HPET_TABLE_SIZE);
    // [024] Hardware Block ID : 8086A201
    // [028] Timer Block Register : [Generic Address Structure]
    //       Space ID : 00 [SystemMemory]  Bit Width : 40  Bit Offset : 00  Access Width : 00
    //       Address : 00000000FED00000
    // [034] Sequence Number : 00   [035] Minimum Clock Ticks : 0080   [037] Flags : 01 (4K Page Protect)
    expect(hpet).toEqual(
      hexBytes(`
        48 50 45 54  38 00 00 00  01  d0  56 49 52 54 4c 54
        56 4c 54 45 48 50 45 54  01 00 00 00  56 4c 54 45
        01 00 00 00
        01 a2 86 80
        00 40 00 00  00 00 d0 fe 00 00 00 00
        00  80 00  01`),
    );
  });
});

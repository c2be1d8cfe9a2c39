import { describe, expect, it } from 'vitest';
import {
  FADT_DSDT_OFFSET,
  FADT_FLAGS_OFFSET,
  FADT_HW_REDUCED_ACPI,
  FADT_RESET_REG_SUP,
  FADT_REVISION,
  FADT_SIZE,
  FADT_X_DSDT_OFFSET,
  buildFadt,
} from './fadt.ts';
import { ioPort8 } from './sdt.ts';
import { expectValidTable, hexBytes } from './testing/tables.ts';

const PARAMS = {
  dsdtAddr: 0xe0030,
  resetReg: ioPort8(0x602),
  resetValue: 1,
  sleepControlReg: ioPort8(0x600),
  sleepStatusReg: ioPort8(0x601),
  hypervisorVendor: 'virtlite',
};

describe('FADT', () => {
  it('matches the golden bytes', () => {
    const fadt = buildFadt(PARAMS);
    expectValidTable(fadt, 'FACP', FADT_REVISION);
    expect(fadt.length).toBe(FADT_SIZE);
    expect(fadt).toEqual(
      hexBytes(`
        46 41 43 50  14 01 00 00  06  a3  56 49 52 54 4c 54   // "FACP", 276, rev 6
        56 4c 54 45 46 41 43 50  01 00 00 00  56 4c 54 45
        01 00 00 00
        00 00 00 00              // [024] FACS Address : 0
        30 00 0e 00              // [028] DSDT Address : 000E0030
        00 00  00 00             // [02C] Model, PM Profile : Unspecified, [02E] SCI Interrupt : 0
        00 00 00 00  00 00 00 00 // [030] SMI Command Port, ACPI Enable/Disable, S4BIOS, P-State
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00   // [038] PM1A/B event, PM1A/B control,
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00   //       PM2, PM timer, GPE0, GPE1: none
        00 00 00 00 00 00 00 00  // [058] block lengths, GPE1 base, _CST support
        ff 0f  ff 0f             // [060] C2 Latency : 0FFF, C3 Latency : 0FFF (not supported)
        00 00 00 00  00 00 00 00 00   // [064] flush size/stride, duty cycle, RTC alarm/century
        24 00                    // [06D] Boot Flags : VGA Not Present, CMOS RTC Not Present
        00                       // [06F] Reserved
        35 04 10 00              // [070] Flags : WBINVD, C1, control-method power and sleep
                                 //       buttons, Reset Register Supported, Hardware Reduced
        01 08 00 01 02 06 00 00 00 00 00 00   // [074] Reset Register : SystemIO 0x602, 8 bits, byte
        01                       // [080] Value to cause reset : 01
        00 00                    // [081] ARM Flags
        05                       // [083] FADT Minor Revision : 05
        00 00 00 00 00 00 00 00  // [084] X FACS Address : 0
        30 00 0e 00 00 00 00 00  // [08C] X DSDT Address : 00000000000E0030
        00 00 00 00 00 00 00 00 00 00 00 00   // [094] X PM1A Event Block
        00 00 00 00 00 00 00 00 00 00 00 00   // [0A0] X PM1B Event Block
        00 00 00 00 00 00 00 00 00 00 00 00   // [0AC] X PM1A Control Block
        00 00 00 00 00 00 00 00 00 00 00 00   // [0B8] X PM1B Control Block
        00 00 00 00 00 00 00 00 00 00 00 00   // [0C4] X PM2 Control Block
        00 00 00 00 00 00 00 00 00 00 00 00   // [0D0] X PM Timer Block
        00 00 00 00 00 00 00 00 00 00 00 00   // [0DC] X GPE0 Block
        00 00 00 00 00 00 00 00 00 00 00 00   // [0E8] X GPE1 Block
        01 08 00 01 00 06 00 00 00 00 00 00   // [0F4] Sleep Control Register : SystemIO 0x600
        01 08 00 01 01 06 00 00 00 00 00 00   // [100] Sleep Status Register : SystemIO 0x601
        76 69 72 74 6c 69 74 65  // [10C] Hypervisor ID : "virtlite"`),
    );
  });

  it('points DSDT and X_DSDT at the same table and sets the HW-reduced flags', () => {
    const fadt = buildFadt({ ...PARAMS, dsdtAddr: 0x1234_5678, hypervisorVendor: undefined });
    const view = new DataView(fadt.buffer);
    expect(view.getUint32(FADT_DSDT_OFFSET, true)).toBe(0x1234_5678);
    expect(view.getBigUint64(FADT_X_DSDT_OFFSET, true)).toBe(0x1234_5678n);
    const flags = view.getUint32(FADT_FLAGS_OFFSET, true);
    expect(flags & FADT_HW_REDUCED_ACPI).not.toBe(0);
    expect(flags & FADT_RESET_REG_SUP).not.toBe(0);
    expect(Array.from(fadt.subarray(268))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => buildFadt({ ...PARAMS, hypervisorVendor: 'too long!' })).toThrow(RangeError);
  });
});

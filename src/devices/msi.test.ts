import { describe, expect, it } from 'vitest';
import {
  DELIVERY_EXTINT, DELIVERY_FIXED, DELIVERY_INIT, DELIVERY_LOWEST_PRIORITY, DELIVERY_NMI, DELIVERY_SMI,
  decodeMsi, encodeMsi, type InterruptMessage,
} from './msi.ts';

describe('MSI decode', () => {
  it('decodes destination, mode, vector and trigger', () => {
    // Linux's usual MSI: physical destination APIC 0, fixed, edge, vector 0x41.
    expect(decodeMsi(0xfee0_0000, 0x0041)).toEqual({
      vector: 0x41, deliveryMode: DELIVERY_FIXED, logical: false, destination: 0, levelTriggered: false,
    });
    // Destination 0x5a in bits 19:12, logical (DM bit 2), redirection hint (bit 3) set.
    expect(decodeMsi(0xfee5_a00c, 0x01ef)).toEqual({
      vector: 0xef, deliveryMode: DELIVERY_LOWEST_PRIORITY, logical: true, destination: 0x5a, levelTriggered: false,
    });
    // Level-triggered assert, NMI.
    expect(decodeMsi(0xfeef_f000, 0xc400)).toEqual({
      vector: 0, deliveryMode: DELIVERY_NMI, logical: false, destination: 0xff, levelTriggered: true,
    });
    // The low two address bits and data bits 31:16 are don't-care.
    expect(decodeMsi(0xfee0_1003, 0xabcd_0030)).toEqual(decodeMsi(0xfee0_1000, 0x30));
  });

  it('ignores writes that are not interrupts', () => {
    expect(decodeMsi(0xfed0_0000, 0x41)).toBeUndefined(); // HPET page, not 0xFEE
    expect(decodeMsi(0xfff0_0000, 0x41)).toBeUndefined();
    expect(decodeMsi(0x1_fee0_0000, 0x41)).toBeUndefined(); // above 4 GiB
    expect(decodeMsi(-0x11_2000, 0x41)).toBeUndefined();
    expect(decodeMsi(Number.NaN, 0x41)).toBeUndefined();
    expect(decodeMsi(0xfee0_0000, 0x0341)).toBeUndefined(); // delivery mode 011 reserved
    expect(decodeMsi(0xfee0_0000, 0x0641)).toBeUndefined(); // start-up: ICR only
    expect(decodeMsi(0xfee0_0000, 0x8041)).toBeUndefined(); // level deassert
  });

  it('round-trips every deliverable mode through encode', () => {
    const modes = [DELIVERY_FIXED, DELIVERY_LOWEST_PRIORITY, DELIVERY_SMI, DELIVERY_NMI, DELIVERY_INIT, DELIVERY_EXTINT] as const;
    for (const deliveryMode of modes) {
      for (const logical of [false, true]) {
        const msg: InterruptMessage = { vector: 0x80 + deliveryMode, deliveryMode, logical, destination: 0x12 + deliveryMode, levelTriggered: logical };
        const { address, data } = encodeMsi(msg);
        expect(address >>> 20).toBe(0xfee);
        expect(decodeMsi(address, data)).toEqual(msg);
      }
    }
  });
});

import { describe, expect, it } from 'vitest';
import type { Device } from '../device.ts';
import { PciFunction } from './function.ts';
import type { Msix } from './msix.ts';
import {
  PCI_CAP_ID_MSIX,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_OFFSET,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
} from './regs.ts';

const BAR = 2;
const TABLE = 0x2000;
const PBA = 0x3000;
const nullDevice: Device = { name: 'null', read: () => 0, write: () => {} };

/** A function with 70 vectors (two PBA qwords) in a 64-bit BAR 2, bus mastering on. */
function setup(vectors = 70): { fn: PciFunction; msix: Msix; sent: string[] } {
  const sent: string[] = [];
  const fn = new PciFunction({ name: 'msix', vendorId: 0x1af4, deviceId: 0x1041, classCode: 0x02_00_00 });
  fn.addMemoryBar(BAR, { size: 0x4000, is64Bit: true, device: nullDevice });
  const msix = fn.addMsix({
    vectors,
    bar: BAR,
    tableOffset: TABLE,
    pbaOffset: PBA,
    msi: (address, data) => sent.push(`${address.toString(16)}:${data.toString(16)}`),
  });
  fn.writeConfig(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  return { fn, msix, sent };
}

/** What Linux's msix_setup_msi_descs/msix_prepare_msi_desc do for one entry: address, data, unmask. */
function program(fn: PciFunction, vector: number, address: number, data: number, masked = false): void {
  const entry = TABLE + 16 * vector;
  fn.barWrite(BAR, entry, 4, address >>> 0);
  fn.barWrite(BAR, entry + 4, 4, Math.floor(address / 2 ** 32));
  fn.barWrite(BAR, entry + 8, 4, data);
  fn.barWrite(BAR, entry + 12, 4, masked ? 1 : 0);
}

function control(fn: PciFunction, msix: Msix, bits: number): void {
  fn.writeConfig(msix.cap + 2, 2, bits);
}

function pbaBit(fn: PciFunction, vector: number): number {
  return (fn.barRead(BAR, PBA + 4 * (vector >>> 5), 4) >>> (vector & 31)) & 1;
}

describe('MSI-X', () => {
  it('describes table and PBA in the capability', () => {
    const { fn, msix } = setup();
    expect(fn.readConfig(msix.cap, 1)).toBe(PCI_CAP_ID_MSIX);
    expect(fn.readConfig(msix.cap + 2, 2)).toBe(69); // table size - 1, disabled, unmasked
    expect(fn.readConfig(msix.cap + 4, 4)).toBe(TABLE | BAR);
    expect(fn.readConfig(msix.cap + 8, 4)).toBe(PBA | BAR);
    fn.writeConfig(msix.cap + 2, 2, 0xffff); // only ENABLE and MASKALL are writable
    expect(fn.readConfig(msix.cap + 2, 2)).toBe(0xc000 | 69);
    fn.writeConfig(msix.cap + 4, 4, 0);
    expect(fn.readConfig(msix.cap + 4, 4)).toBe(TABLE | BAR);
  });

  it('resets entries to masked and keeps reserved bits zero', () => {
    const { fn } = setup();
    expect(fn.barRead(BAR, TABLE + 12, 4)).toBe(1);
    expect(fn.barRead(BAR, TABLE + 16 * 69 + 12, 4)).toBe(1);
    fn.barWrite(BAR, TABLE, 4, 0xfee0_1003);
    expect(fn.barRead(BAR, TABLE, 4)).toBe(0xfee0_1000); // address bits 1:0 read as zero
    fn.barWrite(BAR, TABLE + 12, 4, 0xffff_fffe);
    expect(fn.barRead(BAR, TABLE + 12, 4)).toBe(0);
    fn.barWrite(BAR, TABLE + 8, 2, 0x4041);
    fn.barWrite(BAR, TABLE + 10, 1, 0x7f);
    expect(fn.barRead(BAR, TABLE + 8, 4)).toBe(0x007f_4041);
    expect(fn.barRead(BAR, TABLE + 9, 2)).toBe(0xffff_ffff & 0xffff); // misaligned read: all ones
    fn.barWrite(BAR, TABLE + 9, 2, 0); // misaligned write: ignored
    expect(fn.barRead(BAR, TABLE + 8, 4)).toBe(0x007f_4041);
  });

  it('is not used while disabled: notify says so and nothing is sent or pending', () => {
    const { fn, msix, sent } = setup();
    program(fn, 0, 0xfee0_0000, 0x41);
    expect(msix.notify(0)).toBe(false);
    expect(sent).toEqual([]);
    expect(pbaBit(fn, 0)).toBe(0);
  });

  it('sends the message of an unmasked vector', () => {
    const { fn, msix, sent } = setup();
    program(fn, 3, 0xfee0_1000, 0x4023);
    program(fn, 68, 0x1_fee0_0000, 0x30); // a 64-bit address is passed whole
    control(fn, msix, PCI_MSIX_FLAGS_ENABLE);
    expect(msix.notify(3)).toBe(true);
    expect(msix.notify(68)).toBe(true);
    expect(msix.notify(70)).toBe(true); // outside the table: ignored
    expect(sent).toEqual(['fee01000:4023', '1fee00000:30']);
  });

  it('holds a masked vector pending and sends it on unmask, with the current message', () => {
    const { fn, msix, sent } = setup();
    program(fn, 65, 0xfee0_0000, 0x50, true);
    control(fn, msix, PCI_MSIX_FLAGS_ENABLE);
    msix.notify(65);
    msix.notify(65); // coalesced into one pending bit
    expect(sent).toEqual([]);
    expect(pbaBit(fn, 65)).toBe(1);
    expect(fn.barRead(BAR, PBA + 8, 4)).toBe(0b10); // second qword, bit 1
    fn.barWrite(BAR, PBA + 8, 4, 0); // the PBA is read-only
    expect(pbaBit(fn, 65)).toBe(1);
    fn.barWrite(BAR, TABLE + 16 * 65 + 8, 4, 0x51); // data changed while pending
    fn.barWrite(BAR, TABLE + 16 * 65 + 12, 4, 0); // unmask
    expect(sent).toEqual(['fee00000:51']);
    expect(pbaBit(fn, 65)).toBe(0);
  });

  it('holds every vector while the function is masked', () => {
    const { fn, msix, sent } = setup();
    program(fn, 0, 0xfee0_0000, 0x40);
    program(fn, 1, 0xfee0_0000, 0x41);
    program(fn, 2, 0xfee0_0000, 0x42, true);
    control(fn, msix, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    msix.notify(1);
    msix.notify(2);
    expect(sent).toEqual([]);
    expect(pbaBit(fn, 1) + pbaBit(fn, 2)).toBe(2);
    control(fn, msix, PCI_MSIX_FLAGS_ENABLE); // clear MASKALL: vector 1 goes, 2 is still masked
    expect(sent).toEqual(['fee00000:41']);
    expect(pbaBit(fn, 1)).toBe(0);
    expect(pbaBit(fn, 2)).toBe(1);
    // Pending bits survive a disable and are delivered after re-enabling and unmasking.
    control(fn, msix, 0);
    fn.barWrite(BAR, TABLE + 16 * 2 + 12, 4, 0);
    expect(sent).toEqual(['fee00000:41']);
    control(fn, msix, PCI_MSIX_FLAGS_ENABLE);
    expect(sent).toEqual(['fee00000:41', 'fee00000:42']);
  });

  it('drops messages while bus mastering is off', () => {
    const { fn, msix, sent } = setup();
    program(fn, 0, 0xfee0_0000, 0x40);
    control(fn, msix, PCI_MSIX_FLAGS_ENABLE);
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_MEMORY);
    expect(msix.notify(0)).toBe(true);
    expect(sent).toEqual([]);
    expect(pbaBit(fn, 0)).toBe(0);
  });

  it('restores table and pending bits and sends what became deliverable', () => {
    const { fn, msix } = setup();
    program(fn, 5, 0xfee0_0000, 0x45, true);
    control(fn, msix, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    msix.notify(5);
    const state = fn.state();

    const other = setup();
    other.fn.restore(state);
    expect(other.sent).toEqual([]);
    expect(pbaBit(other.fn, 5)).toBe(1);
    expect(other.fn.barRead(BAR, TABLE + 16 * 5 + 8, 4)).toBe(0x45);
    other.fn.barWrite(BAR, TABLE + 16 * 5 + 12, 4, 0);
    control(other.fn, other.msix, PCI_MSIX_FLAGS_ENABLE);
    expect(other.sent).toEqual(['fee00000:45']);

    // A snapshot taken with a deliverable pending vector sends it on restore.
    const third = setup();
    const s = fn.state();
    s.config[msix.cap + 3] = PCI_MSIX_FLAGS_ENABLE >> 8; // enabled, function unmasked
    s.msix!.table[16 * 5 + 12] = 0; // vector unmasked
    third.fn.restore(s);
    expect(third.sent).toEqual(['fee00000:45']);
  });

  it('refuses layouts that do not fit', () => {
    const fn = new PciFunction({ name: 'x', vendorId: 1, deviceId: 2, classCode: 0 });
    fn.addMemoryBar(0, { size: 0x1000, device: nullDevice });
    const msi = (): void => {};
    expect(() => fn.addMsix({ vectors: 300, bar: 0, tableOffset: 0, pbaOffset: 0xf00, msi })).toThrow(/outside/);
    expect(() => fn.addMsix({ vectors: 4, bar: 0, tableOffset: 0, pbaOffset: 0x20, msi })).toThrow(/overlaps/);
    expect(() => fn.addMsix({ vectors: 4, bar: 1, tableOffset: 0, pbaOffset: 0x800, msi })).toThrow(/undeclared/);
    expect(() => fn.addMsix({ vectors: 0, bar: 0, tableOffset: 0, pbaOffset: 0x800, msi })).toThrow(/vectors/);
  });
});

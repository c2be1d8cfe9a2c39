import { describe, expect, it } from 'vitest';
import type { AccessSize, Device, IrqLine } from '../device.ts';
import { PciFunction, type PciFunctionOptions } from './function.ts';
import {
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_VNDR,
  PCI_CAPABILITY_LIST_OFFSET,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_OFFSET,
  PCI_EXP_DEVCAP_OFFSET,
  PCI_EXP_DEVCTL_OFFSET,
  PCI_EXP_DEVCAP2_OFFSET,
  PCI_EXP_DEVSTA_OFFSET,
  PCI_EXP_FLAGS_OFFSET,
  PCI_EXP_LNKCAP_OFFSET,
  PCI_EXP_LNKCTL_OFFSET,
  PCI_EXP_LNKSTA_OFFSET,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_OFFSET,
  PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_SIG_TARGET_ABORT,
} from './regs.ts';

const VIRTIO_LIKE: PciFunctionOptions = {
  name: 'test',
  vendorId: 0x1af4,
  deviceId: 0x1042,
  classCode: 0x01_80_00,
  revisionId: 1,
  subsystemVendorId: 0x1af4,
  subsystemId: 0x0002,
  interruptPin: 1,
};

/** A BAR backend that stores what it is written, per offset. */
function ramDevice(): Device & { cells: Map<number, number> } {
  const cells = new Map<number, number>();
  return {
    name: 'ram',
    cells,
    read: (offset: number) => cells.get(offset) ?? 0,
    write: (offset: number, _size: AccessSize, value: number) => void cells.set(offset, value),
  };
}

function levelLine(): IrqLine & { level: boolean; changes: number } {
  const line = {
    level: false,
    changes: 0,
    set(level: boolean) {
      line.level = level;
      line.changes++;
    },
  };
  return line;
}

/** Linux's __pci_find_next_cap_ttl walk: ids and offsets of the standard capabilities. */
function walkCapabilities(fn: PciFunction): [number, number][] {
  const found: [number, number][] = [];
  if ((fn.readConfig(PCI_STATUS_OFFSET, 2) & PCI_STATUS_CAP_LIST) === 0) return found;
  let pos = fn.readConfig(PCI_CAPABILITY_LIST_OFFSET, 1);
  for (let ttl = 48; ttl > 0; ttl--) {
    if (pos < 0x40) break;
    pos &= ~3;
    const ent = fn.readConfig(pos, 2);
    const id = ent & 0xff;
    if (id === 0xff) break;
    found.push([id, pos]);
    pos = ent >> 8;
  }
  return found;
}

describe('PciFunction header', () => {
  it('presents the ids and class code', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    expect(fn.readConfig(0x00, 4)).toBe(0x1042_1af4);
    expect(fn.readConfig(0x08, 4)).toBe(0x0180_0001); // class 01 80 00, revision 1
    expect(fn.readConfig(0x0e, 1)).toBe(0); // header type 0, single function
    expect(fn.readConfig(0x2c, 4)).toBe(0x0002_1af4);
    expect(fn.readConfig(0x3d, 1)).toBe(1); // INTA
  });

  it('keeps read-only bits read-only', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    const before = fn.config.bytes.slice();
    for (const reg of [0x00, 0x08, 0x0c, 0x28, 0x2c, 0x30, 0x34, 0x3c]) fn.writeConfig(reg, 4, 0xffff_ffff);
    expect(fn.readConfig(0x00, 4)).toBe(0x1042_1af4);
    expect(fn.readConfig(0x08, 4)).toBe(0x0180_0001);
    expect(fn.readConfig(0x0c, 4)).toBe(0x0000_00ff); // only the cache line size is writable
    expect(fn.readConfig(0x2c, 4)).toBe(0x0002_1af4);
    expect(fn.readConfig(0x30, 4)).toBe(0); // no expansion ROM
    expect(fn.readConfig(0x34, 1)).toBe(before[0x34]);
    expect(fn.readConfig(0x3c, 4)).toBe(0x0000_01ff); // line writable, pin 1 fixed
    // The command register takes only IO, MEMORY, MASTER and INTX_DISABLE.
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, 0xffff);
    expect(fn.readConfig(PCI_COMMAND_OFFSET, 2)).toBe(0x0407);
  });

  it('clears status error bits by writing one, and only those', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    fn.signalStatus(PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_INTERRUPT);
    fn.setIntx(true);
    const status = fn.readConfig(PCI_STATUS_OFFSET, 2);
    expect(status).toBe(PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_INTERRUPT | PCI_STATUS_CAP_LIST);
    fn.writeConfig(PCI_STATUS_OFFSET, 2, 0); // writing zeros changes nothing
    expect(fn.readConfig(PCI_STATUS_OFFSET, 2)).toBe(status);
    fn.writeConfig(PCI_STATUS_OFFSET, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_INTERRUPT | PCI_STATUS_CAP_LIST);
    expect(fn.readConfig(PCI_STATUS_OFFSET, 2)).toBe(PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_INTERRUPT | PCI_STATUS_CAP_LIST);
    // A dword write to the command register with zero status bits leaves the status alone.
    fn.writeConfig(PCI_COMMAND_OFFSET, 4, PCI_COMMAND_MEMORY);
    expect(fn.readConfig(PCI_STATUS_OFFSET, 2)).toBe(PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_INTERRUPT | PCI_STATUS_CAP_LIST);
  });

  it('reports an empty extended capability list at 0x100', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    expect(fn.readConfig(0x100, 4)).toBe(0);
    expect(fn.readConfig(0xffc, 4)).toBe(0);
  });
});

describe('PciFunction BARs', () => {
  it('sizes a 32-bit BAR: all ones read back as the size mask', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    fn.addMemoryBar(1, { size: 0x1000, prefetchable: true, device: ramDevice() });
    expect(fn.readConfig(0x14, 4)).toBe(0x8); // prefetchable, 32-bit, address 0
    fn.writeConfig(0x14, 4, 0xffff_ffff);
    expect(fn.readConfig(0x14, 4)).toBe(0xffff_f008);
    fn.writeConfig(0x14, 4, 0xc000_1234); // low bits below the size are not writable
    expect(fn.readConfig(0x14, 4)).toBe(0xc000_1008);
    // Undeclared BARs read as zero and cannot be written.
    fn.writeConfig(0x10, 4, 0xffff_ffff);
    expect(fn.readConfig(0x10, 4)).toBe(0);
  });

  it('sizes a 64-bit BAR across both dwords', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    fn.addMemoryBar(4, { size: 0x4000, is64Bit: true, prefetchable: true, device: ramDevice() });
    expect(fn.readConfig(0x20, 4)).toBe(0xc); // 64-bit, prefetchable
    fn.writeConfig(0x20, 4, 0xffff_ffff);
    fn.writeConfig(0x24, 4, 0xffff_ffff);
    expect(fn.readConfig(0x20, 4)).toBe(0xffff_c00c);
    expect(fn.readConfig(0x24, 4)).toBe(0xffff_ffff);
    // A BAR of 8 GiB: the size bits spill into the upper dword.
    const big = new PciFunction(VIRTIO_LIKE);
    big.addMemoryBar(0, { size: 2 ** 33, is64Bit: true, device: ramDevice() });
    big.writeConfig(0x10, 4, 0xffff_ffff);
    big.writeConfig(0x14, 4, 0xffff_ffff);
    expect(big.readConfig(0x10, 4)).toBe(0x4);
    expect(big.readConfig(0x14, 4)).toBe(0xffff_fffe);
  });

  it('refuses BAR layouts that cannot exist', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    expect(() => fn.addMemoryBar(0, { size: 0x1800, device: ramDevice() })).toThrow(/power of two/);
    expect(() => fn.addMemoryBar(0, { size: 8, device: ramDevice() })).toThrow(/power of two/);
    expect(() => fn.addMemoryBar(5, { size: 0x1000, is64Bit: true, device: ramDevice() })).toThrow(RangeError);
    fn.addMemoryBar(2, { size: 0x1000, is64Bit: true, device: ramDevice() });
    expect(() => fn.addMemoryBar(3, { size: 0x1000, device: ramDevice() })).toThrow(/in use/);
  });

  it('tells the listener when a BAR is enabled, moved, sized and disabled', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    fn.addMemoryBar(0, { size: 0x1000, device: ramDevice() });
    fn.addMemoryBar(2, { size: 0x4000, is64Bit: true, device: ramDevice() });
    const log: string[] = [];
    fn.setBarListener((bar, address, size) => log.push(`${bar}:${address?.toString(16)}/${size.toString(16)}`));
    fn.writeConfig(0x10, 4, 0xc000_0000);
    fn.writeConfig(0x18, 4, 0xc000_4000);
    expect(log).toEqual([]); // decoding still off
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_MEMORY);
    expect(log).toEqual(['0:c0000000/1000', '2:c0004000/4000']);
    log.length = 0;
    fn.writeConfig(0x10, 4, 0xc000_8000); // the guest moves BAR 0
    expect(log).toEqual(['0:c0008000/1000']);
    expect(fn.barAddress(0)).toBe(0xc000_8000);
    log.length = 0;
    // Linux sizes with decoding off: no mapping changes until it is re-enabled.
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, 0);
    expect(log).toEqual(['0:undefined/1000', '2:undefined/4000']);
    log.length = 0;
    fn.writeConfig(0x18, 4, 0xffff_ffff);
    fn.writeConfig(0x1c, 4, 0xffff_ffff);
    fn.writeConfig(0x18, 4, 0xc000_4000);
    fn.writeConfig(0x1c, 4, 0x1);
    expect(log).toEqual([]);
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_MEMORY);
    expect(log).toEqual(['0:c0008000/1000', '2:1c0004000/4000']);
    // Writing the same value again reports nothing; address 0 means unmapped.
    log.length = 0;
    fn.writeConfig(0x10, 4, 0xc000_8000);
    fn.writeConfig(0x10, 4, 0);
    expect(log).toEqual(['0:undefined/1000']);
  });

  it('routes BAR accesses to the BAR device within its size', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    const dev = ramDevice();
    fn.addMemoryBar(0, { size: 0x100, device: dev });
    fn.barWrite(0, 0x10, 4, 0xdead_beef);
    expect(dev.cells.get(0x10)).toBe(0xdead_beef);
    expect(fn.barRead(0, 0x10, 4)).toBe(0xdead_beef);
    expect(fn.barRead(0, 0xfe, 4)).toBe(0xffff_ffff); // crosses the end
    expect(fn.barRead(3, 0, 2)).toBe(0xffff); // no such BAR
    fn.barWrite(0, 0x100, 1, 1);
    expect(dev.cells.size).toBe(1);
  });
});

describe('PciFunction capabilities', () => {
  function richFunction(): PciFunction {
    const fn = new PciFunction(VIRTIO_LIKE);
    fn.addMemoryBar(4, { size: 0x4000, is64Bit: true, device: ramDevice() });
    for (let type = 1; type <= 5; type++) fn.addVendorCapability([type, 4, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]);
    fn.addMsix({ vectors: 3, bar: 4, tableOffset: 0x3000, pbaOffset: 0x3800, msi: () => {} });
    return fn;
  }

  it('chains the capabilities from 0x34 the way Linux walks them', () => {
    const fn = richFunction();
    const caps = walkCapabilities(fn);
    expect(caps.map(([id]) => id)).toEqual([PCI_CAP_ID_EXP, PCI_CAP_ID_VNDR, PCI_CAP_ID_VNDR, PCI_CAP_ID_VNDR, PCI_CAP_ID_VNDR, PCI_CAP_ID_VNDR, PCI_CAP_ID_MSIX]);
    expect(caps[0]?.[1]).toBe(0x40);
    for (const [, pos] of caps) expect(pos % 4).toBe(0);
    // Vendor capabilities carry their length at byte 2 and the body after it.
    const vndr = caps[1]?.[1] ?? 0;
    expect(fn.readConfig(vndr + 2, 1)).toBe(16);
    expect(fn.readConfig(vndr + 3, 1)).toBe(1); // cfg_type
    expect(fn.readConfig(vndr + 12, 4)).toBe(0x10); // length field
    // Capabilities do not overlap.
    const starts = caps.map(([, pos]) => pos);
    expect(new Set(starts).size).toBe(starts.length);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(16);
  });

  it('has no list without capabilities', () => {
    const fn = new PciFunction({ ...VIRTIO_LIKE, pcie: 'none' });
    expect(fn.readConfig(PCI_STATUS_OFFSET, 2) & PCI_STATUS_CAP_LIST).toBe(0);
    expect(fn.readConfig(PCI_CAPABILITY_LIST_OFFSET, 1)).toBe(0);
    expect(walkCapabilities(fn)).toEqual([]);
  });

  it('runs out of room below 0x100 with an error, not a corrupt list', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    expect(() => {
      for (let i = 0; i < 20; i++) fn.addVendorCapability(new Array(13).fill(0));
    }).toThrow(/no room/);
    const caps = walkCapabilities(fn);
    expect(caps.at(-1)![1] + 16).toBeLessThanOrEqual(0x100);
  });

  it('describes a root-complex integrated endpoint in the PCIe capability', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    const cap = fn.pcieCapability!;
    expect(cap).toBe(0x40);
    expect(fn.readConfig(cap, 1)).toBe(PCI_CAP_ID_EXP);
    const flags = fn.readConfig(cap + PCI_EXP_FLAGS_OFFSET, 2);
    expect(flags & 0xf).toBe(2); // capability version 2
    expect((flags >> 4) & 0xf).toBe(9); // PCI_EXP_TYPE_RC_END
    expect(fn.readConfig(cap + PCI_EXP_DEVCAP_OFFSET, 4)).toBe(0x8000); // RBER, 128-byte payload
    expect(fn.readConfig(cap + PCI_EXP_DEVCTL_OFFSET, 2)).toBe(0x2810); // RO, no snoop, 512-byte reads
    expect(fn.readConfig(cap + PCI_EXP_LNKCAP_OFFSET, 4)).toBe(0); // no link registers
    expect(fn.readConfig(cap + PCI_EXP_DEVCAP2_OFFSET, 4)).toBe(0);
    // Linux's pcie_set_mps / pcie_set_readrq: payload and read request size are writable.
    fn.writeConfig(cap + PCI_EXP_DEVCTL_OFFSET, 2, 0xffff);
    expect(fn.readConfig(cap + PCI_EXP_DEVCTL_OFFSET, 2)).toBe(0x78ff);
    fn.writeConfig(cap + PCI_EXP_DEVCTL_OFFSET, 2, 0x1020);
    expect(fn.readConfig(cap + PCI_EXP_DEVCTL_OFFSET, 2)).toBe(0x1020);
    // Device status error bits are W1C.
    fn.config.set16(cap + PCI_EXP_DEVSTA_OFFSET, 0x000f);
    fn.writeConfig(cap + PCI_EXP_DEVSTA_OFFSET, 2, 0x0005);
    expect(fn.readConfig(cap + PCI_EXP_DEVSTA_OFFSET, 2)).toBe(0x000a);
  });

  it('describes an x1 2.5 GT/s link for a plain endpoint', () => {
    const fn = new PciFunction({ ...VIRTIO_LIKE, pcie: 'endpoint' });
    const cap = fn.pcieCapability!;
    expect((fn.readConfig(cap + PCI_EXP_FLAGS_OFFSET, 2) >> 4) & 0xf).toBe(0); // PCI_EXP_TYPE_ENDPOINT
    expect(fn.readConfig(cap + PCI_EXP_LNKCAP_OFFSET, 4)).toBe(0x11);
    expect(fn.readConfig(cap + PCI_EXP_LNKSTA_OFFSET, 2)).toBe(0x11);
    fn.writeConfig(cap + PCI_EXP_LNKCTL_OFFSET, 2, 0xffff);
    expect(fn.readConfig(cap + PCI_EXP_LNKCTL_OFFSET, 2)).toBe(0xc3);
  });

  it('calls config hooks: reads inside the range, writes after the masks', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    const writes: string[] = [];
    let window = 0x1234_5678;
    const cap = fn.addVendorCapability(new Array(17).fill(0), {
      read: (offset, size) => (offset === cap + 16 && size === 4 ? window : 0),
      write: (offset, size, value) => writes.push(`${offset - cap}/${size}=${value.toString(16)}`),
    });
    fn.config.setMasks(cap + 16, 4, 0xffff_ffff);
    expect(fn.readConfig(cap + 16, 4)).toBe(0x1234_5678);
    expect(fn.peekConfig(cap + 16, 4)).toBe(0); // peek sees the stored bytes, no side effects
    fn.writeConfig(cap + 16, 4, 0xabcd);
    expect(writes).toEqual(['16/4=abcd']);
    expect(fn.config.get32(cap + 16)).toBe(0xabcd);
    window = 7;
    expect(fn.readConfig(cap + 16, 4)).toBe(7);
  });
});

describe('PciFunction INTx', () => {
  it('drives the pin from the device condition, INTX_DISABLE and MSI-X enable', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    fn.addMemoryBar(0, { size: 0x4000, device: ramDevice() });
    const msix = fn.addMsix({ vectors: 1, bar: 0, tableOffset: 0, pbaOffset: 0x800, msi: () => {} });
    const line = levelLine();
    fn.connectIntx(line);
    fn.setIntx(true);
    expect(line.level).toBe(true);
    expect(fn.readConfig(PCI_STATUS_OFFSET, 2) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT);
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_INTX_DISABLE);
    expect(line.level).toBe(false);
    expect(fn.readConfig(PCI_STATUS_OFFSET, 2) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT); // status still shows it
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, 0);
    expect(line.level).toBe(true);
    fn.writeConfig(msix.cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
    expect(line.level).toBe(false);
    fn.writeConfig(msix.cap + 2, 2, 0);
    expect(line.level).toBe(true);
    fn.setIntx(false);
    expect(line.level).toBe(false);
    expect(fn.readConfig(PCI_STATUS_OFFSET, 2) & PCI_STATUS_INTERRUPT).toBe(0);
  });

  it('snapshots config and INTx and re-raises them on restore', () => {
    const fn = new PciFunction(VIRTIO_LIKE);
    fn.addMemoryBar(0, { size: 0x1000, device: ramDevice() });
    fn.writeConfig(0x10, 4, 0xc000_1000);
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    fn.setIntx(true);
    const state = fn.state();

    const copy = new PciFunction(VIRTIO_LIKE);
    copy.addMemoryBar(0, { size: 0x1000, device: ramDevice() });
    const line = levelLine();
    copy.connectIntx(line);
    const mapped: string[] = [];
    copy.setBarListener((bar, address) => mapped.push(`${bar}:${address?.toString(16)}`));
    copy.restore(state);
    expect(line.level).toBe(true);
    expect(mapped).toEqual(['0:c0001000']);
    expect(copy.readConfig(0, 4)).toBe(0x1042_1af4);
    expect(copy.state()).toEqual(state);
  });
});

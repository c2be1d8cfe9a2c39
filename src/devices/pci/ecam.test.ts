import { describe, expect, it } from 'vitest';
import { PCIE_ECAM_SIZE, PCIE_ECAM_START } from '../../machine/layout.ts';
import { Bus } from '../bus.ts';
import type { AccessSize, Device, IrqLine } from '../device.ts';
import { PciEcam, ecamOffset, intxGsi } from './ecam.ts';
import { PciFunction } from './function.ts';
import { createHostBridge, hostBridgeFromState } from './host-bridge.ts';
import { PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from './regs.ts';
import { xorshift32 } from '../testing/contract.ts';

const nullDevice: Device = { name: 'null', read: () => 0, write: () => {} };

function endpoint(name: string, pin = 1): PciFunction {
  return new PciFunction({ name, vendorId: 0x1af4, deviceId: 0x1041, classCode: 0x02_00_00, interruptPin: pin });
}

/** The machine's view: the ECAM on an MMIO bus at PCIE_ECAM_START. */
function machine(lines: Map<number, boolean> = new Map()): { bus: Bus; ecam: PciEcam } {
  const ecam = new PciEcam({
    gsi: (gsi): IrqLine => ({ set: (level) => void lines.set(gsi, level) }),
  });
  ecam.attach(0, 0, 0, createHostBridge());
  const bus = new Bus('mmio');
  bus.register(PCIE_ECAM_START, PCIE_ECAM_SIZE, ecam);
  return { bus, ecam };
}

const cfg = (bus: number, dev: number, fn: number, reg: number): number => PCIE_ECAM_START + ecamOffset(bus, dev, fn, reg);

describe('ECAM', () => {
  it('reads the host bridge at 00:00.0 by address', () => {
    const { bus } = machine();
    expect(bus.read(cfg(0, 0, 0, 0x00), 4)).toBe(0x0008_1b36);
    expect(bus.read(cfg(0, 0, 0, 0x00), 2)).toBe(0x1b36);
    expect(bus.read(cfg(0, 0, 0, 0x02), 2)).toBe(0x0008);
    expect(bus.read(cfg(0, 0, 0, 0x0b), 1)).toBe(0x06); // base class: bridge
    expect(bus.read(cfg(0, 0, 0, 0x08), 4) >>> 8).toBe(0x06_00_00); // host bridge
    expect(bus.read(cfg(0, 0, 0, 0x0e), 1)).toBe(0); // type 0, single function
    expect(bus.read(cfg(0, 0, 0, 0x06), 2) & 0x10).toBe(0); // no capabilities
    for (let bar = 0x10; bar < 0x28; bar += 4) {
      bus.write(cfg(0, 0, 0, bar), 4, 0xffff_ffff);
      expect(bus.read(cfg(0, 0, 0, bar), 4)).toBe(0); // no BARs
    }
    expect(bus.read(cfg(0, 0, 0, 0x3d), 1)).toBe(0); // no interrupt pin
    expect(bus.read(cfg(0, 0, 0, 0x100), 4)).toBe(0); // extended space present and empty
  });

  it('reads all ones for absent functions and ignores writes to them', () => {
    const { bus, ecam } = machine();
    expect(bus.read(cfg(0, 1, 0, 0), 4)).toBe(0xffff_ffff);
    expect(bus.read(cfg(0, 0, 1, 0), 2)).toBe(0xffff); // host bridge has no function 1
    expect(bus.read(cfg(1, 0, 0, 0), 2)).toBe(0xffff);
    expect(bus.read(cfg(255, 31, 7, 0xffc), 4)).toBe(0xffff_ffff); // the last dword of the window
    bus.write(cfg(0, 1, 0, 4), 2, 0xffff);
    expect(ecam.peek(ecamOffset(0, 1, 0, 0), 2)).toBe(0xffff);
  });

  it('decodes bus, device, function and register', () => {
    const { bus, ecam } = machine();
    const a = endpoint('a');
    const b = new PciFunction({ name: 'b', vendorId: 0x1234, deviceId: 0x5678, classCode: 0 });
    ecam.attach(0, 31, 7, a);
    ecam.attach(200, 3, 0, b);
    expect(bus.read(cfg(0, 31, 7, 0), 4)).toBe(0x1041_1af4);
    expect(bus.read(cfg(200, 3, 0, 0), 4)).toBe(0x5678_1234);
    expect(bus.read(cfg(200, 3, 1, 0), 4)).toBe(0xffff_ffff);
    expect(bus.read(cfg(201, 3, 0, 0), 4)).toBe(0xffff_ffff);
    bus.write(cfg(200, 3, 0, 0x3c), 1, 0x5a);
    expect(b.readConfig(0x3c, 1)).toBe(0x5a);
    expect(a.readConfig(0x3c, 1)).not.toBe(0x5a);
    expect(ecam.lookup(200, 3, 0)).toBe(b);
  });

  it('ignores misaligned accesses', () => {
    const { bus } = machine();
    expect(bus.read(cfg(0, 0, 0, 1), 2)).toBe(0xffff);
    expect(bus.read(cfg(0, 0, 0, 2), 4)).toBe(0xffff_ffff);
    bus.write(cfg(0, 0, 0, 0x3b), 2, 0x1234); // would hit the interrupt line register
    expect(bus.read(cfg(0, 0, 0, 0x3c), 1)).toBe(0);
    bus.write(cfg(0, 0, 0, 0x3c), 1, 0x12);
    expect(bus.read(cfg(0, 0, 0, 0x3c), 1)).toBe(0x12);
  });

  it('sets the multi-function bit when a device has more than function 0', () => {
    const { bus, ecam } = machine();
    ecam.attach(0, 2, 0, endpoint('f0'));
    expect(bus.read(cfg(0, 2, 0, 0x0e), 1)).toBe(0x00);
    ecam.attach(0, 2, 3, endpoint('f3'));
    expect(bus.read(cfg(0, 2, 0, 0x0e), 1)).toBe(0x80);
    expect(bus.read(cfg(0, 2, 3, 0x0e), 1)).toBe(0x80);
    // Attaching function 0 after another function also marks it.
    ecam.attach(0, 4, 1, endpoint('g1'));
    ecam.attach(0, 4, 0, endpoint('g0'));
    expect(bus.read(cfg(0, 4, 0, 0x0e), 1)).toBe(0x80);
    expect(bus.read(cfg(0, 0, 0, 0x0e), 1)).toBe(0x00);
  });

  it('refuses bad or taken addresses', () => {
    const { ecam } = machine();
    expect(() => ecam.attach(0, 0, 0, endpoint('x'))).toThrow(/taken/);
    expect(() => ecam.attach(256, 0, 0, endpoint('x'))).toThrow(RangeError);
    expect(() => ecam.attach(0, 32, 0, endpoint('x'))).toThrow(RangeError);
    expect(() => ecam.attach(0, 0, 8, endpoint('x'))).toThrow(RangeError);
  });

  it('routes INTx by the _PRT swizzle and wire-ORs shared GSIs', () => {
    expect([0, 1, 2, 3, 4].map((slot) => intxGsi(slot, 1))).toEqual([16, 17, 18, 19, 16]);
    expect([1, 2, 3, 4].map((pin) => intxGsi(2, pin))).toEqual([18, 19, 16, 17]);

    const lines = new Map<number, boolean>();
    const { bus, ecam } = machine(lines);
    const a = endpoint('a', 1); // slot 1 INTA -> 17
    const b = endpoint('b', 4); // slot 2 INTD -> 17 as well
    const c = endpoint('c', 2); // slot 3 INTB -> 16
    ecam.attach(0, 1, 0, a);
    ecam.attach(0, 2, 0, b);
    ecam.attach(0, 3, 0, c);
    expect(bus.read(cfg(0, 1, 0, 0x3c), 1)).toBe(17); // interrupt line preset to the GSI
    expect(bus.read(cfg(0, 2, 0, 0x3c), 1)).toBe(17);
    expect(bus.read(cfg(0, 3, 0, 0x3c), 1)).toBe(16);
    a.setIntx(true);
    b.setIntx(true);
    expect(lines.get(17)).toBe(true);
    a.setIntx(false);
    expect(lines.get(17)).toBe(true); // b still asserts
    b.setIntx(false);
    expect(lines.get(17)).toBe(false);
    c.setIntx(true);
    expect(lines.get(16)).toBe(true);
    expect(lines.has(18)).toBe(false);
  });

  it('never throws on random guest accesses and keeps read-only identity intact', () => {
    const { bus, ecam } = machine();
    const fn = endpoint('rich');
    fn.addMemoryBar(0, { size: 0x1000, device: nullDevice });
    fn.addMemoryBar(2, { size: 0x4000, is64Bit: true, device: nullDevice });
    for (let i = 0; i < 5; i++) fn.addVendorCapability([i + 1, 2, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]);
    fn.addMsix({ vectors: 4, bar: 2, tableOffset: 0x3000, pbaOffset: 0x3800, msi: () => {} });
    ecam.attach(0, 1, 0, fn);
    const errors: unknown[] = [];
    bus.onError = (_device, error) => void errors.push(error);
    // Reproducible pseudo-random accesses, biased to the populated functions.
    const next = xorshift32(0x2545_f491);
    const sizes: AccessSize[] = [1, 2, 4];
    for (let i = 0; i < 20000; i++) {
      const r = next();
      const size = sizes[r % 3]!;
      const reg = next() & 0xfff;
      const target = r & 0x100 ? ecamOffset(0, (r >>> 9) & 1, 0, reg) : next() % PCIE_ECAM_SIZE;
      if (r & 0x200) bus.write(PCIE_ECAM_START + target, size, next());
      else bus.read(PCIE_ECAM_START + target, size);
      if (i % 1000 === 0) fn.msix!.notify(next() % 8);
    }
    expect(errors).toEqual([]);
    expect(bus.read(cfg(0, 0, 0, 0), 4)).toBe(0x0008_1b36);
    expect(bus.read(cfg(0, 1, 0, 0), 4)).toBe(0x1041_1af4);
    expect(bus.read(cfg(0, 1, 0, 0x08), 4) >>> 8).toBe(0x02_00_00);
  });

  it('keeps a host bridge snapshot', () => {
    const bridge = createHostBridge();
    bridge.writeConfig(0x04, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    bridge.writeConfig(0x0c, 1, 0x10);
    const copy = hostBridgeFromState(bridge.state());
    expect(copy.readConfig(0x04, 2)).toBe(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    expect(copy.readConfig(0x0c, 1)).toBe(0x10);
    expect(copy.state()).toEqual(bridge.state());
  });
});

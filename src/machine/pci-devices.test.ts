import { describe, expect, it } from 'vitest';
import { PciEcam, ecamOffset } from '../devices/pci/ecam.ts';
import { PciMmioWindow } from '../devices/pci/mmio-window.ts';
import { PCI_INTERRUPT_LINE_OFFSET } from '../devices/pci/regs.ts';
import { CowOverlay, MemoryBackend } from '../devices/virtio/disk.ts';
import { flatMemory } from '../devices/virtio/mock-driver.ts';
import { PCI_MMIO_SIZE, PCI_MMIO_START } from './layout.ts';
import { attachPciDevices, openDisks, openNics } from './pci-devices.ts';

describe('openDisks', () => {
  it('puts a copy-on-write overlay in front of each image unless write-through is asked', () => {
    const image = new MemoryBackend(new Uint8Array(4096));
    const [cow, through] = openDisks([{ backend: image }, { backend: image, writeThrough: true, readOnly: true }]);
    expect(cow!.overlay).toBeInstanceOf(CowOverlay);
    expect(cow!.backend).toBe(cow!.overlay);
    cow!.overlay!.write(0, Uint8Array.of(1)); // the same object as cow.backend
    expect(image.bytes[0]).toBe(0);
    expect(through).toEqual({ backend: image, overlay: undefined, readOnly: true });
  });

  it('refuses an overlay over another image and write-through to an unwritable image', () => {
    const a = new MemoryBackend(new Uint8Array(4096));
    const b = new MemoryBackend(new Uint8Array(4096));
    expect(() => openDisks([{ backend: a, overlay: new CowOverlay(b) }])).toThrow(/does not sit over/);
    expect(() => openDisks([{ backend: { size: 512, read: () => {} }, writeThrough: true }])).toThrow(/not writable/);
  });
});

describe('attachPciDevices', () => {
  it('puts disk i at 00:(i+1).0 with its BARs decoding inside the window and INTA on the _PRT GSI', () => {
    const gsis: number[] = [];
    const ecam = new PciEcam({ gsi: (gsi) => (gsis.push(gsi), { set: () => {} }) });
    const window = new PciMmioWindow();
    const disks = openDisks([{ backend: new MemoryBackend(new Uint8Array(8192)) }, { backend: new MemoryBackend(new Uint8Array(8192)) }]);
    const [first, second] = attachPciDevices({ ecam, window, memory: flatMemory(1 << 16), msi: () => {} }, disks);
    expect(ecam.read(ecamOffset(0, 1, 0), 4)).toBe(0x1042_1af4);
    expect(ecam.read(ecamOffset(0, 2, 0), 4)).toBe(0x1042_1af4);
    expect(gsis).toEqual([17, 18]); // slot 1 INTA -> GSI 17, slot 2 INTA -> GSI 18
    expect(first!.function.readConfig(PCI_INTERRUPT_LINE_OFFSET, 1)).toBe(17);
    for (const t of [first!, second!]) {
      for (const bar of [0, 1]) {
        const at = t.function.barAddress(bar)!;
        expect(at).toBeGreaterThanOrEqual(PCI_MMIO_START);
        expect(at).toBeLessThan(PCI_MMIO_START + PCI_MMIO_SIZE);
        expect(window.find(at)).toMatchObject({ fn: t.function, bar, offset: 0 });
      }
    }
    // The common config's num_queues through the window: one request queue.
    expect(window.read(first!.function.barAddress(0)! + 0x12 - PCI_MMIO_START, 2)).toBe(1);
  });
});

describe('attachPciDevices with NICs', () => {
  it('puts NIC i after the disks with the virtio-net id, and keeps a given MAC or makes a random one', () => {
    const ecam = new PciEcam({ gsi: () => ({ set: () => {} }) });
    const window = new PciMmioWindow();
    const disks = openDisks([{ backend: new MemoryBackend(new Uint8Array(8192)) }]);
    const backend = { send: () => {}, onReceive: () => {} };
    const nics = openNics([{ backend, mac: Uint8Array.of(0x52, 0x54, 0, 1, 2, 3) }, { backend }]);
    expect(Array.from(nics[1]!.mac.subarray(0, 3))).toEqual([0x52, 0x54, 0]);
    const all = attachPciDevices({ ecam, window, memory: flatMemory(1 << 16), msi: () => {} }, disks, nics);
    expect(all).toHaveLength(3);
    expect(ecam.read(ecamOffset(0, 1, 0), 4)).toBe(0x1042_1af4);
    expect(ecam.read(ecamOffset(0, 2, 0), 4)).toBe(0x1041_1af4);
    expect(ecam.read(ecamOffset(0, 3, 0), 4)).toBe(0x1041_1af4);
    // Device config: the MAC's first four bytes, then the link status.
    const bar0 = all[1]!.function.barAddress(0)! - PCI_MMIO_START;
    expect(window.read(bar0 + 0x2000, 4)).toBe(0x0100_5452);
    expect(window.read(bar0 + 0x2006, 2)).toBe(1);
    expect(() => openNics([{ backend, mac: new Uint8Array(4) }])).toThrow(/6 bytes/);
  });
});

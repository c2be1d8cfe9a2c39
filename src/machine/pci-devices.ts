/**
 * The machine's PCI devices beyond the host bridge: today the virtio-blk disks. Each disk is a
 * virtio 1.x PCI function on bus 0, slot 1, 2, ... (00:01.0 for the first disk: Linux names it
 * vda), its BARs pre-assigned inside the host window as firmware would, its INTA# wired by the
 * ECAM to the GSI the DSDT _PRT gives, and its MSI-X messages sent to the LAPIC.
 *
 * Disks outlive the devices: the machine opens them once (`openDisks`), so the guest's writes,
 * kept in a copy-on-write overlay, survive a guest reboot, and the caller can export them.
 *
 * Not supported: hot-plug, more disks than free slots (31), virtio-net (the next increment).
 */
import type { GuestMemory } from '../devices/device.ts';
import { BarAllocator } from '../devices/pci/bar-allocator.ts';
import type { PciEcam } from '../devices/pci/ecam.ts';
import type { PciMmioWindow } from '../devices/pci/mmio-window.ts';
import { CowOverlay, isAsyncBackend, type DiskBackend } from '../devices/virtio/disk.ts';
import { VirtioBlk } from '../devices/virtio/virtio-blk.ts';
import { VirtioPci } from '../devices/virtio/virtio-pci.ts';

/** A disk as the machine's user describes it. */
export interface DiskConfig {
  /** The image (synchronous, or asynchronous: a Blob, a URL). Never written unless `writeThrough` is set. */
  backend: DiskBackend;
  /** The guest sees a read-only disk (VIRTIO_BLK_F_RO; writes fail). */
  readOnly?: boolean;
  /** Continue from an earlier run's overlay (CowOverlay.import). Must sit over `backend`. */
  overlay?: CowOverlay;
  /** Write straight into `backend` (it must have `write`) instead of an overlay. */
  writeThrough?: boolean;
}

/** A disk opened by the machine: what the device reads and writes, and the overlay if any. */
export interface OpenDisk {
  readonly backend: DiskBackend;
  readonly overlay: CowOverlay | undefined;
  readonly readOnly: boolean;
}

export function openDisks(disks: readonly DiskConfig[] = []): OpenDisk[] {
  return disks.map((d) => {
    if (d.overlay && d.overlay.base !== d.backend) throw new Error('disk overlay does not sit over the disk backend');
    if (d.writeThrough) {
      if (isAsyncBackend(d.backend) ? !d.backend.writeAsync : !d.backend.write) throw new Error('write-through disk backend is not writable');
      return { backend: d.backend, overlay: undefined, readOnly: d.readOnly === true };
    }
    const overlay = d.overlay ?? new CowOverlay(d.backend);
    return { backend: overlay, overlay, readOnly: d.readOnly === true };
  });
}

export interface PciDeviceWiring {
  ecam: PciEcam;
  window: PciMmioWindow;
  memory: GuestMemory;
  /** An MSI/MSI-X memory write (address, data) towards the LAPIC. */
  msi(address: number, data: number): void;
  /** A device finished work outside the machine's run() (an asynchronous disk request). */
  wake?(): void;
}

/** First slot on bus 0 for devices (00:00.0 is the host bridge). */
const FIRST_DEVICE_SLOT = 1;

/** Creates one virtio-blk function per disk, attaches it and assigns its BARs. */
export function attachPciDevices(wiring: PciDeviceWiring, disks: readonly OpenDisk[]): VirtioPci[] {
  const bars = new BarAllocator();
  return disks.map((disk, i) => {
    const blk = new VirtioBlk({
      memory: wiring.memory,
      backend: disk.backend,
      readOnly: disk.readOnly,
      serial: `virtlite-disk-${i}`,
      // An asynchronous request finished: the transport pushes it and interrupts.
      onAsyncComplete: () => {
        transport.notify(0);
        wiring.wake?.();
      },
    });
    const transport: VirtioPci = new VirtioPci(blk, { memory: wiring.memory, msi: wiring.msi });
    wiring.ecam.attach(0, FIRST_DEVICE_SLOT + i, 0, transport.function);
    wiring.window.add(transport.function);
    bars.assign(transport.function);
    return transport;
  });
}

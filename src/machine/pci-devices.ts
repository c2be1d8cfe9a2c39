/**
 * The machine's PCI devices beyond the host bridge: today the virtio-blk disks. Each disk is a
 * virtio 1.x PCI function on bus 0, slot 1, 2, ... (00:01.0 for the first disk: Linux names it
 * vda), its BARs pre-assigned inside the host window as firmware would, its INTA# wired by the
 * ECAM to the GSI the DSDT _PRT gives, and its MSI-X messages sent to the LAPIC.
 *
 * Disks outlive the devices: the machine opens them once (`openDisks`), so the guest's writes,
 * kept in a copy-on-write overlay, survive a guest reboot, and the caller can export them.
 *
 * Network cards (virtio-net) follow the disks: with two disks the first NIC is 00:03.0 (Linux
 * names NICs eth0, eth1, ... in probe order). Each NIC is plugged into its `NetBackend` (a
 * switch port, a WebSocket, ...), which outlives resets as disks do; its MAC is the given one or
 * a random locally administered 52:54:00:xx:xx:xx chosen once per machine.
 *
 * Not supported: hot-plug, more disks and NICs than free slots (31).
 */
import type { GuestMemory } from '../devices/device.ts';
import { BarAllocator } from '../devices/pci/bar-allocator.ts';
import type { PciEcam } from '../devices/pci/ecam.ts';
import type { PciMmioWindow } from '../devices/pci/mmio-window.ts';
import { CowOverlay, isAsyncBackend, type DiskBackend } from '../devices/virtio/disk.ts';
import { randomMac, type NetBackend } from '../devices/net/backend.ts';
import { VirtioBlk } from '../devices/virtio/virtio-blk.ts';
import { VirtioNet } from '../devices/virtio/virtio-net.ts';
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

/** A network card as the machine's user describes it. */
export interface NicConfig {
  /** What the card is plugged into. */
  backend: NetBackend;
  /** The MAC address (6 bytes; default: random 52:54:00:xx:xx:xx). */
  mac?: Uint8Array;
}

/** A NIC opened by the machine: its backend and fixed MAC, kept across resets. */
export interface OpenNic {
  readonly backend: NetBackend;
  readonly mac: Uint8Array;
}

export function openNics(nics: readonly NicConfig[] = []): OpenNic[] {
  return nics.map((n) => {
    if (n.mac && n.mac.length !== 6) throw new Error('a MAC address has 6 bytes');
    return { backend: n.backend, mac: n.mac ? n.mac.slice() : randomMac() };
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

/**
 * Creates one virtio-blk function per disk, then one virtio-net function per NIC, attaches
 * them and assigns their BARs.
 */
export function attachPciDevices(wiring: PciDeviceWiring, disks: readonly OpenDisk[], nics: readonly OpenNic[] = []): VirtioPci[] {
  const bars = new BarAllocator();
  const blks = disks.map((disk, i) => {
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
  const nets = nics.map((nic, i) => {
    // A received frame waits in the NIC until the machine polls it between CPU slices.
    const net = new VirtioNet({ memory: wiring.memory, backend: nic.backend, mac: nic.mac, onFrameQueued: () => wiring.wake?.() });
    const transport = new VirtioPci(net, { memory: wiring.memory, msi: wiring.msi });
    net.onConfigChange = () => transport.configChanged();
    wiring.ecam.attach(0, FIRST_DEVICE_SLOT + disks.length + i, 0, transport.function);
    wiring.window.add(transport.function);
    bars.assign(transport.function);
    return transport;
  });
  return [...blks, ...nets];
}

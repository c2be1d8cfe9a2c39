import { describe, expect, it } from 'vitest';
import { PCI_MSIX_FLAGS_ENABLE } from '../pci/regs.ts';
import { CowOverlay, type AsyncBlockBackend } from './disk.ts';
import { flatMemory, MockDriver } from './mock-driver.ts';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlk } from './virtio-blk.ts';
import { COMMON_MSIX_OFFSET, COMMON_STATUS_OFFSET, MSIX_BAR, VIRTIO_STATUS_FEATURES_OK, VirtioPci } from './virtio-pci.ts';

// virtio-blk over an asynchronous backend, driven by the mock driver: requests complete when
// the backend's promise settles, in order, one at a time; a device reset drops them.

const MEM = 1 << 20;
const RING = 0x1000;
const SECTORS = 64;

/** A backend whose reads wait until the test releases them. */
class HeldBackend implements AsyncBlockBackend {
  readonly async = true;
  readonly size = SECTORS * 512;
  readonly bytes = Uint8Array.from({ length: SECTORS * 512 }, (_, i) => (i * 5 + 1) & 0xff);
  readonly waiting: (() => void)[] = [];
  fail = false;
  reads = 0;
  readAsync(offset: number, dest: Uint8Array): Promise<void> {
    this.reads++;
    return new Promise((resolve, reject) => {
      this.waiting.push(() => {
        if (this.fail) return reject(new Error('host I/O error'));
        dest.set(this.bytes.subarray(offset, offset + dest.length));
        resolve();
      });
    });
  }
  release(): void {
    for (const r of this.waiting.splice(0)) r();
  }
}

/** Lets settled promises run their callbacks. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function rig(backend = new HeldBackend()) {
  const mem = flatMemory(MEM);
  const flushes: number[] = [];
  const overlay = new CowOverlay(backend, { onFlush: async (o) => void flushes.push(o.version) });
  let wakes = 0;
  const blk: VirtioBlk = new VirtioBlk({
    memory: mem,
    backend: overlay,
    onAsyncComplete: () => {
      t.notify(0);
      wakes++;
    },
  });
  const msis: number[] = [];
  const t = new VirtioPci(blk, { memory: mem, msi: (_a, d) => void msis.push(d) });
  const d = new MockDriver(t, mem);
  expect(d.negotiate() & VIRTIO_STATUS_FEATURES_OK).toBe(VIRTIO_STATUS_FEATURES_OK);
  for (const v of [0, 1]) {
    t.function.barWrite(MSIX_BAR, 16 * v, 4, 0xfee0_0000);
    t.function.barWrite(MSIX_BAR, 16 * v + 8, 4, 0x40 + v);
    t.function.barWrite(MSIX_BAR, 16 * v + 12, 4, 0); // unmasked
  }
  t.function.writeConfig(t.function.msix!.cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
  d.setCommon(COMMON_MSIX_OFFSET, 2, 0);
  d.setupQueue(0, RING, 16, 1);
  d.driverOk();
  return { mem, backend, overlay, blk, t, d, msis, flushes, wakes: () => wakes };
}

type Rig = ReturnType<typeof rig>;

/** Queues one request (header at hdr, data at data, status at hdr + 0x100); returns its head. */
function add(r: Rig, hdr: number, type: number, sector: number, data?: { addr: number; len: number; writable: boolean }): number {
  r.d.view.setUint32(hdr, type, true);
  r.d.view.setUint32(hdr + 8, sector, true);
  r.mem.bytes[hdr + 0x100] = 0xee;
  const bufs: { addr: number; len: number; writable?: boolean }[] = [{ addr: hdr, len: 16 }];
  if (data) bufs.push(data);
  bufs.push({ addr: hdr + 0x100, len: 1, writable: true });
  return r.d.addChain(0, bufs);
}

describe('virtio-blk with an asynchronous backend', () => {
  it('completes a read when the data arrives: guest memory, used ring, MSI-X and a wake', async () => {
    const r = rig();
    const head = add(r, 0x10000, VIRTIO_BLK_T_IN, 3, { addr: 0x20000, len: 1024, writable: true });
    r.d.kick(0);
    expect(r.d.takeUsed(0)).toEqual([]); // nothing yet: the machine goes on running
    expect(r.blk.inFlight).toBe(1);
    expect(r.mem.bytes[0x10100]).toBe(0xee);
    await settle();
    r.backend.release();
    await settle();
    expect(r.d.takeUsed(0)).toEqual([{ id: head, len: 1025 }]);
    expect(r.mem.bytes[0x10100]).toBe(VIRTIO_BLK_S_OK);
    expect(r.mem.bytes.subarray(0x20000, 0x20000 + 1024)).toEqual(r.backend.bytes.subarray(3 * 512, 5 * 512));
    expect(r.msis).toEqual([0x41]);
    expect(r.wakes()).toBe(1);
    expect(r.blk.inFlight).toBe(0);
  });

  it('runs requests one at a time in ring order: a write, a flush that saves it, a read of it, GET_ID', async () => {
    const r = rig();
    r.mem.bytes.fill(0x77, 0x30000, 0x30000 + 512);
    const w = add(r, 0x10000, VIRTIO_BLK_T_OUT, 5, { addr: 0x30000, len: 512, writable: false });
    const f = add(r, 0x11000, VIRTIO_BLK_T_FLUSH, 0);
    const rd = add(r, 0x12000, VIRTIO_BLK_T_IN, 5, { addr: 0x40000, len: 512, writable: true });
    const id = add(r, 0x13000, VIRTIO_BLK_T_GET_ID, 0, { addr: 0x50000, len: 20, writable: true });
    r.d.kick(0);
    await settle();
    // The write covers a whole sector but only part of a 4 KiB overlay chunk: the overlay reads
    // the chunk from the base first, and nothing else starts meanwhile.
    expect(r.backend.waiting).toHaveLength(1);
    r.backend.release();
    for (let i = 0; i < 5; i++) await settle();
    expect(r.d.takeUsed(0).map((u) => u.id)).toEqual([w, f, rd, id]);
    expect(r.flushes).toEqual([1]); // the flush ran after the write
    expect([r.mem.bytes[0x10100], r.mem.bytes[0x11100], r.mem.bytes[0x12100], r.mem.bytes[0x13100]]).toEqual([0, 0, 0, 0]);
    expect(r.mem.bytes.subarray(0x40000, 0x40000 + 512).every((b) => b === 0x77)).toBe(true);
    expect(new TextDecoder().decode(r.mem.bytes.subarray(0x50000, 0x5000d))).toBe('virtlite-disk');
    expect(r.backend.bytes[5 * 512]).toBe((5 * 512 * 5 + 1) & 0xff); // the base is unchanged
  });

  it('a device reset drops the request in flight: nothing reaches guest memory or the used ring', async () => {
    const r = rig();
    add(r, 0x10000, VIRTIO_BLK_T_IN, 0, { addr: 0x20000, len: 512, writable: true });
    r.d.kick(0);
    await settle();
    r.d.setCommon(COMMON_STATUS_OFFSET, 1, 0); // the driver resets the device
    r.backend.release();
    await settle();
    expect(r.mem.bytes.subarray(0x20000, 0x20200).every((b) => b === 0)).toBe(true);
    expect(r.mem.bytes[0x10100]).toBe(0xee);
    expect(r.msis).toEqual([]);
    expect(r.wakes()).toBe(0);
  });

  it('a failed read and a failed flush complete with IOERR', async () => {
    const r = rig();
    r.backend.fail = true;
    const rd = add(r, 0x10000, VIRTIO_BLK_T_IN, 0, { addr: 0x20000, len: 512, writable: true });
    r.d.kick(0);
    await settle();
    r.backend.release();
    await settle();
    expect(r.d.takeUsed(0)).toEqual([{ id: rd, len: 1 }]);
    expect(r.mem.bytes[0x10100]).toBe(VIRTIO_BLK_S_IOERR);

    const mem = flatMemory(MEM);
    const overlay = new CowOverlay(new HeldBackend(), { onFlush: () => Promise.reject(new Error('quota exceeded')) });
    const blk = new VirtioBlk({ memory: mem, backend: overlay });
    const t = new VirtioPci(blk, { memory: mem, msi: () => {} });
    const d = new MockDriver(t, mem);
    d.negotiate();
    d.setupQueue(0, RING, 16);
    d.driverOk();
    mem.bytes[0x10100] = 0xee;
    d.view.setUint32(0x10000, VIRTIO_BLK_T_FLUSH, true);
    d.addChain(0, [{ addr: 0x10000, len: 16 }, { addr: 0x10100, len: 1, writable: true }]);
    d.kick(0);
    await settle();
    t.notify(0); // no onAsyncComplete here: the next notification pushes the completion
    expect(d.takeUsed(0)).toHaveLength(1);
    expect(mem.bytes[0x10100]).toBe(VIRTIO_BLK_S_IOERR);
  });
});

/**
 * Test support: the driver side of virtio over PCI, playing what Linux's virtio_pci_modern and
 * virtio_ring do, against a VirtioPci transport and a flat guest memory (STYLE.md point 14:
 * "virtio devices are driven by a driver-side mock virtqueue in guest memory", as Firecracker's
 * `VirtQueue` and rust-vmm's `MockSplitQueue`). Used by the unit and fuzz tests only.
 *
 * Not supported: packed rings, more than one chain in flight per call of `submit` (callers
 * queue several with `addChain` and one `kick`).
 */
import type { GuestMemory } from '../device.ts';
import { PCI_CAP_ID_VNDR, PCI_CAPABILITY_LIST_OFFSET, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_COMMAND_OFFSET } from '../pci/regs.ts';
import {
  COMMON_DF_OFFSET, COMMON_DFSELECT_OFFSET, COMMON_GF_OFFSET, COMMON_GFSELECT_OFFSET, COMMON_Q_AVAILLO_OFFSET,
  COMMON_Q_DESCLO_OFFSET, COMMON_Q_ENABLE_OFFSET, COMMON_Q_MSIX_OFFSET, COMMON_Q_NOFF_OFFSET, COMMON_Q_SELECT_OFFSET,
  COMMON_Q_SIZE_OFFSET, COMMON_Q_USEDLO_OFFSET, COMMON_STATUS_OFFSET, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK, type VirtioPci,
} from './virtio-pci.ts';
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './virtqueue.ts';

/** Guest RAM as a plain byte array. */
export function flatMemory(size: number): GuestMemory & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    size,
    bytes,
    slice: (addr, length) =>
      Number.isSafeInteger(addr) && Number.isSafeInteger(length) && addr >= 0 && length >= 0 && addr + length <= size
        ? bytes.subarray(addr, addr + length)
        : undefined,
    written: () => {},
  };
}

/** A parsed virtio_pci_cap. */
export interface VirtioCap {
  at: number;
  type: number;
  bar: number;
  offset: number;
  length: number;
  multiplier?: number;
}

export interface DriverBuffer {
  addr: number;
  len: number;
  writable?: boolean;
}

export class MockDriver {
  readonly caps = new Map<number, VirtioCap>();
  readonly view: DataView;
  /** Ring addresses of each queue set up. */
  readonly rings: { desc: number; avail: number; used: number; size: number; nextDesc: number; availIdx: number; lastUsed: number }[] = [];

  constructor(
    readonly t: VirtioPci,
    readonly mem: GuestMemory & { bytes: Uint8Array },
  ) {
    this.view = new DataView(mem.bytes.buffer, mem.bytes.byteOffset, mem.bytes.byteLength);
    const fn = t.function;
    for (let pos = fn.readConfig(PCI_CAPABILITY_LIST_OFFSET, 1), ttl = 48; pos >= 0x40 && ttl > 0; ttl--) {
      if (fn.readConfig(pos, 1) === PCI_CAP_ID_VNDR) {
        const cap: VirtioCap = {
          at: pos,
          type: fn.readConfig(pos + 3, 1),
          bar: fn.readConfig(pos + 4, 1),
          offset: fn.readConfig(pos + 8, 4),
          length: fn.readConfig(pos + 12, 4),
        };
        if (cap.type === VIRTIO_PCI_CAP_NOTIFY_CFG) cap.multiplier = fn.readConfig(pos + 16, 4);
        if (!this.caps.has(cap.type)) this.caps.set(cap.type, cap);
      }
      pos = fn.readConfig(pos + 1, 1);
    }
  }

  private region(type: number): VirtioCap {
    const cap = this.caps.get(type);
    if (!cap) throw new Error(`no virtio capability of type ${type}`);
    return cap;
  }

  common(offset: number, size: 1 | 2 | 4): number {
    const c = this.region(VIRTIO_PCI_CAP_COMMON_CFG);
    return this.t.function.barRead(c.bar, c.offset + offset, size);
  }

  setCommon(offset: number, size: 1 | 2 | 4, value: number): void {
    const c = this.region(VIRTIO_PCI_CAP_COMMON_CFG);
    this.t.function.barWrite(c.bar, c.offset + offset, size, value);
  }

  deviceConfig(offset: number, size: 1 | 2 | 4): number {
    const c = this.region(VIRTIO_PCI_CAP_DEVICE_CFG);
    return this.t.function.barRead(c.bar, c.offset + offset, size);
  }

  readIsr(): number {
    const c = this.region(VIRTIO_PCI_CAP_ISR_CFG);
    return this.t.function.barRead(c.bar, c.offset, 1);
  }

  /** Device features as a bigint. */
  deviceFeatures(): bigint {
    this.setCommon(COMMON_DFSELECT_OFFSET, 4, 0);
    const lo = this.common(COMMON_DF_OFFSET, 4);
    this.setCommon(COMMON_DFSELECT_OFFSET, 4, 1);
    return (BigInt(this.common(COMMON_DF_OFFSET, 4)) << 32n) | BigInt(lo);
  }

  /** Resets, negotiates `features` (default: everything offered) and returns the status read back. */
  negotiate(features?: bigint): number {
    const fn = this.t.function;
    fn.writeConfig(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    this.setCommon(COMMON_STATUS_OFFSET, 1, 0);
    this.setCommon(COMMON_STATUS_OFFSET, 1, VIRTIO_STATUS_ACKNOWLEDGE);
    this.setCommon(COMMON_STATUS_OFFSET, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    const want = features ?? this.deviceFeatures();
    this.setCommon(COMMON_GFSELECT_OFFSET, 4, 0);
    this.setCommon(COMMON_GF_OFFSET, 4, Number(want & 0xffff_ffffn));
    this.setCommon(COMMON_GFSELECT_OFFSET, 4, 1);
    this.setCommon(COMMON_GF_OFFSET, 4, Number(want >> 32n));
    this.setCommon(COMMON_STATUS_OFFSET, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return this.common(COMMON_STATUS_OFFSET, 1);
  }

  /** Sets up queue `index` with `size` entries at `base` (desc, avail, used laid out there). */
  setupQueue(index: number, base: number, size: number, vector = 0xffff): void {
    this.setCommon(COMMON_Q_SELECT_OFFSET, 2, index);
    this.setCommon(COMMON_Q_SIZE_OFFSET, 2, size);
    const desc = base;
    const avail = desc + 16 * size;
    const used = (avail + 6 + 2 * size + 3) & ~3;
    const set64 = (off: number, v: number) => {
      this.setCommon(off, 4, v);
      this.setCommon(off + 4, 4, 0);
    };
    set64(COMMON_Q_DESCLO_OFFSET, desc);
    set64(COMMON_Q_AVAILLO_OFFSET, avail);
    set64(COMMON_Q_USEDLO_OFFSET, used);
    this.setCommon(COMMON_Q_MSIX_OFFSET, 2, vector);
    this.setCommon(COMMON_Q_ENABLE_OFFSET, 2, 1);
    this.rings[index] = { desc, avail, used, size, nextDesc: 0, availIdx: 0, lastUsed: 0 };
  }

  driverOk(): void {
    this.setCommon(COMMON_STATUS_OFFSET, 1, this.common(COMMON_STATUS_OFFSET, 1) | VIRTIO_STATUS_DRIVER_OK);
  }

  /** Writes descriptor `i` of a table at `table`. */
  writeDesc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    const v = this.view;
    const at = table + 16 * i;
    v.setUint32(at, addr % 2 ** 32, true);
    v.setUint32(at + 4, Math.floor(addr / 2 ** 32), true);
    v.setUint32(at + 8, len, true);
    v.setUint16(at + 12, flags, true);
    v.setUint16(at + 14, next, true);
  }

  /** Puts a chain of `buffers` in the descriptor table and the available ring; returns the head. */
  addChain(q: number, buffers: DriverBuffer[]): number {
    const r = this.rings[q]!;
    const head = r.nextDesc % r.size;
    buffers.forEach((b, k) => {
      const i = (head + k) % r.size;
      const last = k === buffers.length - 1;
      this.writeDesc(r.desc, i, b.addr, b.len, (b.writable ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT), (i + 1) % r.size);
    });
    r.nextDesc += buffers.length;
    this.publish(q, head);
    return head;
  }

  /** Makes descriptor `head` available (the caller wrote the descriptors). */
  publish(q: number, head: number): void {
    const r = this.rings[q]!;
    this.view.setUint16(r.avail + 4 + 2 * (r.availIdx % r.size), head, true);
    r.availIdx = (r.availIdx + 1) & 0xffff;
    this.view.setUint16(r.avail + 2, r.availIdx, true);
  }

  /** Writes the notification register of queue `q`. */
  kick(q: number): void {
    const c = this.region(VIRTIO_PCI_CAP_NOTIFY_CFG);
    this.setCommon(COMMON_Q_SELECT_OFFSET, 2, q);
    const off = this.common(COMMON_Q_NOFF_OFFSET, 2);
    this.t.function.barWrite(c.bar, c.offset + off * (c.multiplier ?? 0), 2, q);
  }

  /** Used elements returned since the last call. */
  takeUsed(q: number): { id: number; len: number }[] {
    const r = this.rings[q]!;
    const idx = this.view.getUint16(r.used + 2, true);
    const out: { id: number; len: number }[] = [];
    while (r.lastUsed !== idx) {
      const at = r.used + 4 + 8 * (r.lastUsed % r.size);
      out.push({ id: this.view.getUint32(at, true), len: this.view.getUint32(at + 4, true) });
      r.lastUsed = (r.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** Sets used_event (the avail ring's last field) for event-index suppression. */
  setUsedEvent(q: number, value: number): void {
    const r = this.rings[q]!;
    this.view.setUint16(r.avail + 4 + 2 * r.size, value, true);
  }

  /** The device's avail_event (the used ring's last field). */
  availEvent(q: number): number {
    const r = this.rings[q]!;
    return this.view.getUint16(r.used + 4 + 8 * r.size, true);
  }
}

/**
 * Flat guest memory, and a view of it for the device under test that counts refused
 * (out-of-range) slices (fuzz tests). The driver side uses `flat` directly.
 */
export function countingMemory(size: number): {
  flat: GuestMemory & { bytes: Uint8Array };
  memory: GuestMemory & { bytes: Uint8Array };
  refused: () => number;
} {
  const flat = flatMemory(size);
  let refused = 0;
  const memory = {
    ...flat,
    slice: (addr: number, length: number) => {
      const s = flat.slice(addr, length);
      if (!s) refused++;
      return s;
    },
  };
  return { flat, memory, refused: () => refused };
}

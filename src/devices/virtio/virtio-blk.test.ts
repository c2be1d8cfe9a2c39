import { describe, expect, it } from 'vitest';
import { PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_COMMAND_OFFSET, PCI_MSIX_FLAGS_ENABLE } from '../pci/regs.ts';
import { CowOverlay, MemoryBackend } from './disk.ts';
import { flatMemory, MockDriver } from './mock-driver.ts';
import {
  BLK_CFG_BLK_SIZE_OFFSET, BLK_CFG_CAPACITY_OFFSET, BLK_CFG_SEG_MAX_OFFSET, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT, VirtioBlk,
} from './virtio-blk.ts';
import {
  COMMON_MSIX_OFFSET, COMMON_NUMQ_OFFSET, COMMON_Q_ENABLE_OFFSET, COMMON_Q_MSIX_OFFSET, COMMON_Q_SELECT_OFFSET,
  COMMON_Q_SIZE_OFFSET, COMMON_STATUS_OFFSET, MSIX_BAR, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_VERSION_1,
  VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_CAP_PCI_CFG, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_FEATURES_OK, VirtioPci,
} from './virtio-pci.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './virtqueue.ts';

const MEM = 1 << 20;
const RING = 0x1000;
const HDR = 0x10000;
const DATA = 0x20000;
const STATUS = 0x30000;
const DISK_SECTORS = 64;

interface Rig {
  mem: ReturnType<typeof flatMemory>;
  base: Uint8Array;
  overlay: CowOverlay;
  blk: VirtioBlk;
  t: VirtioPci;
  d: MockDriver;
  msis: [number, number][];
  intx: boolean[];
}

function rig(options: { readOnly?: boolean; msix?: boolean } = {}): Rig {
  const mem = flatMemory(MEM);
  const base = new Uint8Array(DISK_SECTORS * 512);
  for (let i = 0; i < base.length; i++) base[i] = (i * 7 + (i >> 9)) & 0xff;
  const overlay = new CowOverlay(new MemoryBackend(base));
  const blk = new VirtioBlk({ memory: mem, backend: overlay, readOnly: options.readOnly, serial: 'serial-1234' });
  const msis: [number, number][] = [];
  const t = new VirtioPci(blk, { memory: mem, msi: (a, d) => void msis.push([a, d]) });
  const intx: boolean[] = [];
  t.function.connectIntx({ set: (level) => void intx.push(level) });
  const d = new MockDriver(t, mem);
  expect(d.negotiate() & VIRTIO_STATUS_FEATURES_OK).toBe(VIRTIO_STATUS_FEATURES_OK);
  if (options.msix !== false) {
    // Linux: program entries 0 (config) and 1 (queue 0), enable MSI-X, map the vectors.
    for (const v of [0, 1]) {
      t.function.barWrite(MSIX_BAR, 16 * v, 4, 0xfee0_0000);
      t.function.barWrite(MSIX_BAR, 16 * v + 8, 4, 0x40 + v);
      t.function.barWrite(MSIX_BAR, 16 * v + 12, 4, 0);
    }
    const cap = t.function.msix!.cap;
    t.function.writeConfig(cap + 2, 2, PCI_MSIX_FLAGS_ENABLE);
    d.setCommon(COMMON_MSIX_OFFSET, 2, 0);
  }
  d.setupQueue(0, RING, 16, options.msix !== false ? 1 : 0xffff);
  d.driverOk();
  return { mem, base, overlay, blk, t, d, msis, intx };
}

/** Writes a request header and submits header / data / status; returns status byte and used length. */
function request(r: Rig, type: number, sector: number, data: { len: number; writable: boolean } | undefined): { status: number; len: number } {
  const v = r.d.view;
  v.setUint32(HDR, type, true);
  v.setUint32(HDR + 4, 0, true);
  v.setUint32(HDR + 8, sector, true);
  v.setUint32(HDR + 12, 0, true);
  r.mem.bytes[STATUS] = 0xee;
  const bufs = [{ addr: HDR, len: 16 }];
  if (data) bufs.push({ addr: DATA, len: data.len, writable: data.writable } as never);
  bufs.push({ addr: STATUS, len: 1, writable: true } as never);
  const head = r.d.addChain(0, bufs);
  r.d.kick(0);
  const used = r.d.takeUsed(0);
  expect(used).toHaveLength(1);
  expect(used[0]!.id).toBe(head);
  return { status: r.mem.bytes[STATUS]!, len: used[0]!.len };
}

describe('virtio-pci transport', () => {
  it('presents the modern virtio-blk ids and the five vendor capabilities', () => {
    const { t, d } = rig();
    expect(t.function.readConfig(0x00, 4)).toBe(0x1042_1af4);
    expect(t.function.readConfig(0x08, 1)).toBe(1); // revision 1: modern
    expect(t.function.readConfig(0x2c, 4)).toBe(0x0002_1af4); // subsystem: virtio type 2
    expect([...d.caps.keys()].sort()).toEqual(
      [VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_CAP_PCI_CFG].sort(),
    );
    expect(d.caps.get(VIRTIO_PCI_CAP_NOTIFY_CFG)!.multiplier).toBe(4);
    expect(d.common(COMMON_NUMQ_OFFSET, 2)).toBe(1);
  });

  it('offers VERSION_1, EVENT_IDX, INDIRECT_DESC and the blk features; refuses FEATURES_OK without VERSION_1 or with unknown bits', () => {
    const { d } = rig();
    const f = d.deviceFeatures();
    for (const bit of [VIRTIO_F_VERSION_1, VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_BLK_F_FLUSH]) expect((f >> BigInt(bit)) & 1n).toBe(1n);
    expect((f >> BigInt(VIRTIO_BLK_F_RO)) & 1n).toBe(0n);
    expect(d.negotiate(f & ~(1n << 32n)) & VIRTIO_STATUS_FEATURES_OK).toBe(0);
    expect(d.negotiate(f | (1n << 40n)) & VIRTIO_STATUS_FEATURES_OK).toBe(0);
    expect(d.negotiate(1n << 32n) & VIRTIO_STATUS_FEATURES_OK).toBe(VIRTIO_STATUS_FEATURES_OK);
  });

  it('resets queues and status when 0 is written to device_status', () => {
    const { d } = rig();
    d.setCommon(COMMON_Q_SELECT_OFFSET, 2, 0);
    expect(d.common(COMMON_Q_ENABLE_OFFSET, 2)).toBe(1);
    expect(d.common(COMMON_Q_SIZE_OFFSET, 2)).toBe(16);
    d.setCommon(COMMON_STATUS_OFFSET, 1, 0);
    expect(d.common(COMMON_STATUS_OFFSET, 1)).toBe(0);
    expect(d.common(COMMON_Q_ENABLE_OFFSET, 2)).toBe(0);
    expect(d.common(COMMON_Q_SIZE_OFFSET, 2)).toBe(256);
    expect(d.common(COMMON_Q_MSIX_OFFSET, 2)).toBe(0xffff);
  });

  it('maps vectors inside the MSI-X table and answers NO_VECTOR for others', () => {
    const { d } = rig();
    d.setCommon(COMMON_MSIX_OFFSET, 2, 5);
    expect(d.common(COMMON_MSIX_OFFSET, 2)).toBe(0xffff);
    d.setCommon(COMMON_MSIX_OFFSET, 2, 1);
    expect(d.common(COMMON_MSIX_OFFSET, 2)).toBe(1);
  });

  it('completes a request with an MSI-X message on the queue vector', () => {
    const r = rig();
    expect(request(r, VIRTIO_BLK_T_IN, 0, { len: 512, writable: true }).status).toBe(VIRTIO_BLK_S_OK);
    expect(r.msis).toEqual([[0xfee0_0000, 0x41]]);
    expect(r.intx.filter(Boolean)).toHaveLength(0);
  });

  it('falls back to INTx with the ISR when MSI-X is off; reading the ISR deasserts', () => {
    const r = rig({ msix: false });
    request(r, VIRTIO_BLK_T_IN, 0, { len: 512, writable: true });
    expect(r.msis).toHaveLength(0);
    expect(r.intx.at(-1)).toBe(true);
    expect(r.d.readIsr()).toBe(1);
    expect(r.intx.at(-1)).toBe(false);
    expect(r.d.readIsr()).toBe(0);
    // INTX_DISABLE keeps the pin low.
    r.t.function.writeConfig(PCI_COMMAND_OFFSET, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    request(r, VIRTIO_BLK_T_IN, 0, { len: 512, writable: true });
    expect(r.intx.at(-1)).toBe(false);
  });

  it('reaches BAR registers through the PCI_CFG capability window', () => {
    const { t, d } = rig();
    const cap = d.caps.get(VIRTIO_PCI_CAP_PCI_CFG)!;
    const common = d.caps.get(VIRTIO_PCI_CAP_COMMON_CFG)!;
    t.function.writeConfig(cap.at + 4, 1, common.bar);
    t.function.writeConfig(cap.at + 8, 4, common.offset + COMMON_NUMQ_OFFSET);
    t.function.writeConfig(cap.at + 12, 4, 2);
    expect(t.function.readConfig(cap.at + 16, 4)).toBe(1);
    t.function.writeConfig(cap.at + 8, 4, common.offset + COMMON_MSIX_OFFSET);
    t.function.writeConfig(cap.at + 16, 4, 0);
    expect(d.common(COMMON_MSIX_OFFSET, 2)).toBe(0);
  });

  it('round-trips its state and re-raises INTx from the ISR', () => {
    const r = rig({ msix: false });
    request(r, VIRTIO_BLK_T_IN, 0, { len: 512, writable: true });
    const s = r.t.state();
    const levels: boolean[] = [];
    const blk2 = new VirtioBlk({ memory: r.mem, backend: r.overlay });
    const t2 = VirtioPci.fromState(blk2, { memory: r.mem, msi: () => {} }, structuredClone(s));
    t2.function.connectIntx({ set: (l) => void levels.push(l) });
    expect(levels.at(-1)).toBe(true);
    expect(t2.state()).toEqual(s);
  });
});

describe('virtio-blk', () => {
  it('reports capacity, blk_size and seg_max', () => {
    const { d } = rig();
    expect(d.deviceConfig(BLK_CFG_CAPACITY_OFFSET, 4)).toBe(DISK_SECTORS);
    expect(d.deviceConfig(BLK_CFG_CAPACITY_OFFSET + 4, 4)).toBe(0);
    expect(d.deviceConfig(BLK_CFG_BLK_SIZE_OFFSET, 4)).toBe(512);
    expect(d.deviceConfig(BLK_CFG_SEG_MAX_OFFSET, 4)).toBe(254);
  });

  it('reads sectors into guest memory', () => {
    const r = rig();
    const res = request(r, VIRTIO_BLK_T_IN, 3, { len: 1024, writable: true });
    expect(res).toEqual({ status: VIRTIO_BLK_S_OK, len: 1025 });
    expect(r.mem.bytes.subarray(DATA, DATA + 1024)).toEqual(r.base.subarray(3 * 512, 5 * 512));
  });

  it('writes into the overlay, never into the base image, and reads the data back', () => {
    const r = rig();
    const before = r.base.slice();
    r.mem.bytes.fill(0xab, DATA, DATA + 512);
    expect(request(r, VIRTIO_BLK_T_OUT, 5, { len: 512, writable: false })).toEqual({ status: VIRTIO_BLK_S_OK, len: 1 });
    expect(r.base).toEqual(before);
    expect(r.overlay.chunkCount).toBe(1);
    r.mem.bytes.fill(0, DATA, DATA + 2048);
    request(r, VIRTIO_BLK_T_IN, 4, { len: 2048, writable: true });
    expect(r.mem.bytes.subarray(DATA, DATA + 512)).toEqual(before.subarray(4 * 512, 5 * 512));
    expect(r.mem.bytes.subarray(DATA + 512, DATA + 1024).every((b) => b === 0xab)).toBe(true);
    expect(r.mem.bytes.subarray(DATA + 1024, DATA + 2048)).toEqual(before.subarray(6 * 512, 8 * 512));
  });

  it('refuses writes on a read-only disk and advertises RO', () => {
    const r = rig({ readOnly: true });
    expect((r.d.deviceFeatures() >> BigInt(VIRTIO_BLK_F_RO)) & 1n).toBe(1n);
    expect(request(r, VIRTIO_BLK_T_OUT, 0, { len: 512, writable: false }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(r.overlay.chunkCount).toBe(0);
  });

  it('answers IOERR beyond the disk or for partial sectors, UNSUPP for unknown types', () => {
    const r = rig();
    expect(request(r, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, { len: 1024, writable: true }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(request(r, VIRTIO_BLK_T_IN, 0, { len: 100, writable: true }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(request(r, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, { len: 512, writable: true }).status).toBe(VIRTIO_BLK_S_OK);
    expect(request(r, 99, 0, undefined).status).toBe(VIRTIO_BLK_S_UNSUPP);
  });

  it('answers IOERR when the backend fails, and goes on serving requests', () => {
    const r = rig();
    const read = r.overlay.read.bind(r.overlay);
    r.overlay.read = () => {
      throw new Error('EIO');
    };
    expect(request(r, VIRTIO_BLK_T_IN, 0, { len: 512, writable: true })).toEqual({ status: VIRTIO_BLK_S_IOERR, len: 1 });
    r.overlay.read = read;
    expect(request(r, VIRTIO_BLK_T_IN, 0, { len: 512, writable: true }).status).toBe(VIRTIO_BLK_S_OK);
  });

  it('flushes and returns the serial for GET_ID', () => {
    const r = rig();
    expect(request(r, VIRTIO_BLK_T_FLUSH, 0, undefined)).toEqual({ status: VIRTIO_BLK_S_OK, len: 1 });
    const res = request(r, VIRTIO_BLK_T_GET_ID, 0, { len: 20, writable: true });
    expect(res).toEqual({ status: VIRTIO_BLK_S_OK, len: 21 });
    expect(new TextDecoder().decode(r.mem.bytes.subarray(DATA, DATA + 11))).toBe('serial-1234');
    expect(r.mem.bytes[DATA + 11]).toBe(0);
  });

  it('follows an indirect table with data split over several buffers', () => {
    const r = rig();
    const table = 0x40000;
    const v = r.d.view;
    v.setUint32(HDR, VIRTIO_BLK_T_IN, true);
    v.setUint32(HDR + 8, 2, true);
    r.d.writeDesc(table, 0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
    r.d.writeDesc(table, 1, DATA, 300, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    r.d.writeDesc(table, 2, DATA + 0x1000, 212, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
    r.d.writeDesc(table, 3, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
    const ring = r.d.rings[0]!;
    r.d.writeDesc(ring.desc, 0, table, 64, VIRTQ_DESC_F_INDIRECT, 0);
    r.d.publish(0, 0);
    r.d.kick(0);
    expect(r.d.takeUsed(0)).toEqual([{ id: 0, len: 513 }]);
    expect(r.mem.bytes[STATUS]).toBe(VIRTIO_BLK_S_OK);
    expect(r.mem.bytes.subarray(DATA, DATA + 300)).toEqual(r.base.subarray(1024, 1324));
    expect(r.mem.bytes.subarray(DATA + 0x1000, DATA + 0x1000 + 212)).toEqual(r.base.subarray(1324, 1536));
  });

  it('suppresses notifications with the event index and publishes avail_event', () => {
    const r = rig();
    // used_event = 1: the driver wants an interrupt only when the used index passes 1.
    r.d.setUsedEvent(0, 1);
    request(r, VIRTIO_BLK_T_IN, 0, { len: 512, writable: true });
    expect(r.msis).toHaveLength(0);
    expect(r.d.availEvent(0)).toBe(1);
    request(r, VIRTIO_BLK_T_IN, 0, { len: 512, writable: true });
    expect(r.msis).toHaveLength(1);
  });

  it('sets DEVICE_NEEDS_RESET on a chain without a status byte and sends a config interrupt', () => {
    const r = rig();
    r.d.addChain(0, [{ addr: HDR, len: 16 }]);
    r.d.kick(0);
    expect(r.d.takeUsed(0)).toEqual([]);
    expect(r.d.common(COMMON_STATUS_OFFSET, 1) & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    expect(r.msis).toEqual([[0xfee0_0000, 0x40]]);
  });
});

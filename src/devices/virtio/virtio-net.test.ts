import { describe, expect, it } from 'vitest';
import type { NetBackend } from '../net/backend.ts';
import { flatMemory, MockDriver } from './mock-driver.ts';
import {
  NET_CFG_MAC_OFFSET, NET_CFG_STATUS_OFFSET, NET_RX_QUEUE, NET_TX_QUEUE, RX_BACKLOG_FRAMES, VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_STATUS, VIRTIO_NET_HDR_SIZE, VIRTIO_NET_S_LINK_UP, VirtioNet,
} from './virtio-net.ts';
import { VIRTIO_ISR_CONFIG, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_FEATURES_OK, VirtioPci, COMMON_STATUS_OFFSET } from './virtio-pci.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT } from './virtqueue.ts';

const MEM = 1 << 20;
const RX_RING = 0x1000;
const TX_RING = 0x4000;
const BUF = 0x10000;
const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc);

/** A backend that records what the device sends and lets the test inject frames. */
class TestBackend implements NetBackend {
  sent: Uint8Array[] = [];
  private cb: ((frame: Uint8Array) => void) | undefined;
  send(frame: Uint8Array): void {
    this.sent.push(frame);
  }
  onReceive(cb: (frame: Uint8Array) => void): void {
    this.cb = cb;
  }
  inject(frame: Uint8Array): void {
    this.cb?.(frame);
  }
}

function frame(length: number, seed: number): Uint8Array {
  const f = new Uint8Array(length).map((_, i) => (i * 13 + seed) & 0xff);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0); // broadcast
  return f;
}

function rig() {
  const mem = flatMemory(MEM);
  const backend = new TestBackend();
  let wakes = 0;
  const net = new VirtioNet({ memory: mem, backend, mac: MAC, onFrameQueued: () => void wakes++ });
  const t = new VirtioPci(net, { memory: mem, msi: () => {} });
  net.onConfigChange = () => t.configChanged();
  const intx: boolean[] = [];
  t.function.connectIntx({ set: (level) => void intx.push(level) });
  const d = new MockDriver(t, mem);
  expect(d.negotiate() & VIRTIO_STATUS_FEATURES_OK).toBe(VIRTIO_STATUS_FEATURES_OK);
  d.setupQueue(NET_RX_QUEUE, RX_RING, 16);
  d.setupQueue(NET_TX_QUEUE, TX_RING, 16);
  d.driverOk();
  return { mem, backend, net, t, d, intx, wakes: () => wakes };
}

/** The machine's poll between CPU slices. */
function poll(r: ReturnType<typeof rig>): void {
  if (r.net.hasPendingRx) r.t.notify(NET_RX_QUEUE);
}

describe('virtio-net', () => {
  it('offers MAC and STATUS and shows the MAC and LINK_UP in its configuration', () => {
    const r = rig();
    const features = r.d.deviceFeatures();
    expect((features >> BigInt(VIRTIO_NET_F_MAC)) & 1n).toBe(1n);
    expect((features >> BigInt(VIRTIO_NET_F_STATUS)) & 1n).toBe(1n);
    expect((features >> 0n) & 1n).toBe(0n); // no CSUM
    expect(r.t.function.readConfig(2, 2)).toBe(0x1041);
    expect(Array.from({ length: 6 }, (_, i) => r.d.deviceConfig(NET_CFG_MAC_OFFSET + i, 1))).toEqual(Array.from(MAC));
    expect(r.d.deviceConfig(NET_CFG_MAC_OFFSET, 4)).toBe(0xaa005452);
    expect(r.d.deviceConfig(NET_CFG_STATUS_OFFSET, 2)).toBe(VIRTIO_NET_S_LINK_UP);
  });

  it('transmits: strips the 12-byte header, gathers split buffers and returns the chain', () => {
    const r = rig();
    const f = frame(100, 1);
    r.mem.bytes.fill(0x77, BUF, BUF + VIRTIO_NET_HDR_SIZE);
    r.mem.bytes.set(f.subarray(0, 30), BUF + VIRTIO_NET_HDR_SIZE);
    r.mem.bytes.set(f.subarray(30), BUF + 0x1000);
    const head = r.d.addChain(NET_TX_QUEUE, [{ addr: BUF, len: VIRTIO_NET_HDR_SIZE + 30 }, { addr: BUF + 0x1000, len: 70 }]);
    r.d.kick(NET_TX_QUEUE);
    expect(r.backend.sent).toEqual([f]);
    expect(r.d.takeUsed(NET_TX_QUEUE)).toEqual([{ id: head, len: 0 }]);
    expect(r.net.stats).toMatchObject({ txFrames: 1, txBytes: 100, txErrors: 0 });
  });

  it('drops a transmit chain shorter than header + Ethernet header, still returning it', () => {
    const r = rig();
    const head = r.d.addChain(NET_TX_QUEUE, [{ addr: BUF, len: VIRTIO_NET_HDR_SIZE + 13 }]);
    r.d.kick(NET_TX_QUEUE);
    expect(r.backend.sent).toEqual([]);
    expect(r.d.takeUsed(NET_TX_QUEUE)).toEqual([{ id: head, len: 0 }]);
    expect(r.net.stats.txErrors).toBe(1);
    expect(r.d.common(COMMON_STATUS_OFFSET, 1) & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
  });

  it('a backend that throws costs a tx error, never an exception', () => {
    const r = rig();
    r.backend.send = () => {
      throw new Error('socket closed');
    };
    r.d.addChain(NET_TX_QUEUE, [{ addr: BUF, len: VIRTIO_NET_HDR_SIZE + 60 }]);
    expect(() => r.d.kick(NET_TX_QUEUE)).not.toThrow();
    expect(r.net.stats.txErrors).toBe(1);
    expect(r.d.takeUsed(NET_TX_QUEUE)).toHaveLength(1);
  });

  it('receives into posted buffers with a zero header and num_buffers = 1, frames waiting for buffers', () => {
    const r = rig();
    const a = frame(60, 2);
    const b = frame(1514, 3);
    r.backend.inject(a);
    expect(r.wakes()).toBe(1);
    expect(r.net.hasPendingRx).toBe(true);
    poll(r); // no buffer posted yet: the frame waits
    expect(r.d.takeUsed(NET_RX_QUEUE)).toEqual([]);
    const h1 = r.d.addChain(NET_RX_QUEUE, [{ addr: BUF, len: 1526, writable: true }]);
    r.mem.bytes.fill(0xee, BUF, BUF + VIRTIO_NET_HDR_SIZE);
    r.d.kick(NET_RX_QUEUE); // posting buffers delivers the waiting frame
    expect(r.d.takeUsed(NET_RX_QUEUE)).toEqual([{ id: h1, len: VIRTIO_NET_HDR_SIZE + 60 }]);
    expect(Array.from(r.mem.bytes.subarray(BUF, BUF + VIRTIO_NET_HDR_SIZE))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(r.mem.bytes.subarray(BUF + VIRTIO_NET_HDR_SIZE, BUF + VIRTIO_NET_HDR_SIZE + 60)).toEqual(a);
    // A frame split over two writable descriptors.
    const h2 = r.d.addChain(NET_RX_QUEUE, [{ addr: BUF + 0x1000, len: 100, writable: true }, { addr: BUF + 0x2000, len: 1426, writable: true }]);
    r.backend.inject(b);
    poll(r);
    expect(r.d.takeUsed(NET_RX_QUEUE)).toEqual([{ id: h2, len: VIRTIO_NET_HDR_SIZE + 1514 }]);
    const got = new Uint8Array(1514);
    got.set(r.mem.bytes.subarray(BUF + 0x1000 + VIRTIO_NET_HDR_SIZE, BUF + 0x1000 + 100));
    got.set(r.mem.bytes.subarray(BUF + 0x2000, BUF + 0x2000 + 1514 - 88), 88);
    expect(got).toEqual(b);
    expect(r.net.stats).toMatchObject({ rxFrames: 2, rxBytes: 1574, rxDropped: 0 });
    expect(r.net.hasPendingRx).toBe(false);
  });

  it('drops (counting) beyond the backlog, and returns a too-small buffer empty', () => {
    const r = rig();
    for (let i = 0; i < RX_BACKLOG_FRAMES + 5; i++) r.backend.inject(frame(60, i));
    expect(r.net.stats.rxDropped).toBe(5);
    r.backend.inject(new Uint8Array(10)); // a runt from the backend
    expect(r.net.stats.rxDropped).toBe(6);
    const small = r.d.addChain(NET_RX_QUEUE, [{ addr: BUF, len: VIRTIO_NET_HDR_SIZE + 59, writable: true }]);
    const ok = r.d.addChain(NET_RX_QUEUE, [{ addr: BUF + 0x1000, len: 1526, writable: true }]);
    poll(r);
    expect(r.d.takeUsed(NET_RX_QUEUE)).toEqual([{ id: small, len: 0 }, { id: ok, len: VIRTIO_NET_HDR_SIZE + 60 }]);
    expect(r.net.stats.rxErrors).toBe(1);
    // The second buffer got the second frame.
    expect(r.mem.bytes.subarray(BUF + 0x1000 + VIRTIO_NET_HDR_SIZE, BUF + 0x1000 + VIRTIO_NET_HDR_SIZE + 60)).toEqual(frame(60, 1));
  });

  it('takes an indirect transmit chain', () => {
    const r = rig();
    const table = BUF + 0x8000;
    const f = frame(64, 9);
    r.mem.bytes.set(f, BUF + 0x100);
    r.d.writeDesc(table, 0, BUF, VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, 1);
    r.d.writeDesc(table, 1, BUF + 0x100, 64, 0, 0);
    r.d.writeDesc(TX_RING, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    r.d.publish(NET_TX_QUEUE, 0);
    r.d.kick(NET_TX_QUEUE);
    expect(r.backend.sent).toEqual([f]);
  });

  it('a looping chain breaks the queue (DEVICE_NEEDS_RESET) without throwing; a reset recovers', () => {
    const r = rig();
    r.d.writeDesc(TX_RING, 0, BUF, 100, VIRTQ_DESC_F_NEXT, 1);
    r.d.writeDesc(TX_RING, 1, BUF, 100, VIRTQ_DESC_F_NEXT, 0);
    r.d.publish(NET_TX_QUEUE, 0);
    expect(() => r.d.kick(NET_TX_QUEUE)).not.toThrow();
    expect(r.d.common(COMMON_STATUS_OFFSET, 1) & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
    expect(r.backend.sent).toEqual([]);
    r.mem.bytes.fill(0, RX_RING, BUF); // a driver allocates fresh (zeroed) rings
    r.d.negotiate();
    r.d.setupQueue(NET_RX_QUEUE, RX_RING, 16);
    r.d.setupQueue(NET_TX_QUEUE, TX_RING, 16);
    r.d.driverOk();
    r.d.addChain(NET_TX_QUEUE, [{ addr: BUF, len: VIRTIO_NET_HDR_SIZE + 60 }]);
    r.d.kick(NET_TX_QUEUE);
    expect(r.backend.sent).toHaveLength(1);
  });

  it('link down: config status clears with a configuration interrupt, frames are dropped', () => {
    const r = rig();
    r.net.link = false;
    expect(r.d.deviceConfig(NET_CFG_STATUS_OFFSET, 2)).toBe(0);
    expect(r.intx.at(-1)).toBe(true);
    expect(r.d.readIsr() & VIRTIO_ISR_CONFIG).toBe(VIRTIO_ISR_CONFIG);
    r.backend.inject(frame(60, 0));
    expect(r.net.hasPendingRx).toBe(false);
    r.d.addChain(NET_TX_QUEUE, [{ addr: BUF, len: VIRTIO_NET_HDR_SIZE + 60 }]);
    r.d.kick(NET_TX_QUEUE);
    expect(r.backend.sent).toEqual([]);
    r.net.link = true;
    expect(r.d.deviceConfig(NET_CFG_STATUS_OFFSET, 2)).toBe(VIRTIO_NET_S_LINK_UP);
    expect(r.net.state()).toEqual({ linkUp: true });
  });

  it('refuses a MAC that is not 6 bytes', () => {
    expect(() => new VirtioNet({ memory: flatMemory(4096), backend: new TestBackend(), mac: new Uint8Array(5) })).toThrow(/6 bytes/);
  });
});

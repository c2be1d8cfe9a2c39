import { describe, expect, it } from 'vitest';
import type { AccessSize } from '../device.ts';
import type { NetBackend } from '../net/backend.ts';
import { xorshift32 } from '../testing/contract.ts';
import { countingMemory, MockDriver } from './mock-driver.ts';
import { NET_RX_QUEUE, NET_TX_QUEUE, VirtioNet } from './virtio-net.ts';
import { MSIX_BAR, VIRTIO_BAR, VIRTIO_BAR_SIZE, VirtioPci } from './virtio-pci.ts';

// Seeded storms at virtio-net over virtio-pci: random register writes (config space, common
// config, notify, ISR, device config, MSI-X table), random ring and descriptor bytes for both
// queues, and frames arriving from the backend at random moments, after a normal driver setup
// so that the device consumes the garbage. The device must never throw, must touch guest
// memory only through in-range slices, and its state must still round-trip.

const MEM = 1 << 18;
const SIZES: AccessSize[] = [1, 2, 4];
const RINGS = [0x1000, 0x2000];

function storm(seed: number, steps: number) {
  const rnd = xorshift32(seed);
  const pick = <T,>(items: readonly T[]): T => items[rnd() % items.length]!;
  const { flat, memory, refused } = countingMemory(MEM);
  let receive: (frame: Uint8Array) => void = () => {};
  let sent = 0;
  const backend: NetBackend = {
    send: () => void sent++,
    onReceive: (cb) => {
      receive = cb;
    },
  };
  const net = new VirtioNet({ memory, backend, mac: Uint8Array.of(0x52, 0x54, 0, 1, 2, 3) });
  const t = new VirtioPci(net, { memory, msi: () => {} });
  net.onConfigChange = () => t.configChanged();
  t.function.connectIntx({ set: () => {} });
  const d = new MockDriver(t, flat);
  const setup = () => {
    d.negotiate();
    d.setupQueue(NET_RX_QUEUE, RINGS[0]!, pick([1, 2, 4, 8, 16]));
    d.setupQueue(NET_TX_QUEUE, RINGS[1]!, pick([1, 2, 4, 8, 16]));
    d.driverOk();
  };
  setup();
  const fn = t.function;
  let broken = 0;
  for (let i = 0; i < steps; i++) {
    const size = pick(SIZES);
    const value = rnd();
    const q = rnd() % 2;
    switch (rnd() % 11) {
      case 0: // scribble on the rings
      case 1:
        flat.bytes[RINGS[q]! + (rnd() % 0x400)] = value & 0xff;
        break;
      case 2: // a plausible descriptor: address in or just beyond RAM, any flags
        d.writeDesc(RINGS[q]!, rnd() % 16, rnd() % 2 ? rnd() % MEM : MEM - (rnd() % 64), rnd() % 0x3000, rnd() % 8, rnd() % 20);
        break;
      case 3:
        d.publish(q, rnd() % 20);
        d.kick(q);
        d.takeUsed(q);
        if (t.queues[q]!.error !== undefined) broken++;
        break;
      case 4: // a frame from the backend, then the machine's poll
        receive(new Uint8Array(rnd() % 1600));
        if (net.hasPendingRx) t.notify(NET_RX_QUEUE);
        break;
      case 5:
        if (rnd() % 2) fn.barWrite(VIRTIO_BAR, (rnd() % VIRTIO_BAR_SIZE) & ~(size - 1), size, value);
        else fn.barRead(VIRTIO_BAR, (rnd() % VIRTIO_BAR_SIZE) & ~(size - 1), size);
        break;
      case 6:
        fn.barWrite(MSIX_BAR, (rnd() % 0x1000) & ~(size - 1), size, value);
        break;
      case 7:
        if (rnd() % 2) fn.writeConfig((rnd() % 0x100) & ~(size - 1), size, value);
        else fn.readConfig((rnd() % 0x100) & ~(size - 1), size);
        break;
      case 8:
        if (rnd() % 64 === 0) net.link = !net.link;
        break;
      case 9: // a well-formed receive buffer or frame to send among the garbage
        d.addChain(q, [{ addr: 0x10000 + (rnd() % 0x1000), len: rnd() % 2000, writable: q === NET_RX_QUEUE }]);
        d.kick(q);
        d.takeUsed(q);
        break;
      default:
        if (rnd() % 16 === 0) setup();
    }
  }
  const s = t.state();
  const again = VirtioPci.fromState(new VirtioNet({ memory, backend, mac: net.mac }), { memory, msi: () => {} }, structuredClone(s));
  expect(again.state()).toEqual(s);
  return { sent, received: net.stats.rxFrames, broken, refused: refused() };
}

describe('virtio-net fuzz', () => {
  for (const seed of [1, 2, 3, 0xdead, 0xbeef]) {
    it(`survives a storm of random rings, register writes and incoming frames (seed ${seed})`, () => {
      const r = storm(seed, 20_000);
      // The storm reached the interesting paths: frames went both ways, chains were rejected,
      // and out-of-RAM accesses were refused by the memory (never served).
      expect(r.sent).toBeGreaterThan(0);
      expect(r.received).toBeGreaterThan(0);
      expect(r.broken).toBeGreaterThan(0);
      expect(r.refused).toBeGreaterThan(0);
    });
  }
});

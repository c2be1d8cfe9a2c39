import { describe, expect, it } from 'vitest';
import type { AccessSize } from '../device.ts';
import { CowOverlay, MemoryBackend } from './disk.ts';
import { xorshift32 } from '../testing/contract.ts';
import { countingMemory, MockDriver } from './mock-driver.ts';
import { VirtioBlk } from './virtio-blk.ts';
import { MSIX_BAR, VIRTIO_BAR, VIRTIO_BAR_SIZE, VirtioPci } from './virtio-pci.ts';

// Seeded storms at virtio-blk over virtio-pci: random register writes (config space, common
// config, notify, ISR, device config, MSI-X table) mixed with random ring and descriptor bytes
// in guest memory, after a normal driver setup so that the device does consume the garbage.
// The device must never throw, must touch guest memory only through in-range slices, must never
// write the base image, and its state must still round-trip.

const MEM = 1 << 18;
const SIZES: AccessSize[] = [1, 2, 4];

/** Runs a storm; returns how often requests completed and how often the device asked for a reset. */
function storm(seed: number, steps: number): { completed: number; broken: number; refused: number } {
  const rnd = xorshift32(seed);
  const pick = <T,>(items: readonly T[]): T => items[rnd() % items.length]!;
  const { flat, memory, refused } = countingMemory(MEM);
  const base = new Uint8Array(64 * 512).map((_, i) => i & 0xff);
  const original = base.slice();
  const overlay = new CowOverlay(new MemoryBackend(base));
  const blk = new VirtioBlk({ memory, backend: overlay });
  const t = new VirtioPci(blk, { memory, msi: () => {} });
  t.function.connectIntx({ set: () => {} });
  const d = new MockDriver(t, flat);
  d.negotiate();
  d.setupQueue(0, 0x1000, 16);
  d.driverOk();
  const fn = t.function;
  let completed = 0;
  let broken = 0;
  for (let i = 0; i < steps; i++) {
    const size = pick(SIZES);
    const value = rnd();
    switch (rnd() % 8) {
      case 0: // scribble on the rings and the first pages, where descriptors point
      case 1:
        flat.bytes[0x1000 + (rnd() % 0x400)] = value & 0xff;
        break;
      case 2: // a plausible descriptor: address in or just beyond RAM, any flags
        d.writeDesc(0x1000, rnd() % 16, rnd() % 2 ? rnd() % MEM : MEM - (rnd() % 64), rnd() % 0x3000, rnd() % 8, rnd() % 20);
        break;
      case 3:
        d.publish(0, rnd() % 20);
        d.kick(0);
        completed += d.takeUsed(0).length;
        if (t.queues[0]!.error !== undefined) broken++;
        break;
      case 4: // BAR 0 anywhere (common, ISR, device config, notify)
        if (rnd() % 2) fn.barWrite(VIRTIO_BAR, (rnd() % VIRTIO_BAR_SIZE) & ~(size - 1), size, value);
        else fn.barRead(VIRTIO_BAR, (rnd() % VIRTIO_BAR_SIZE) & ~(size - 1), size);
        break;
      case 5: // the MSI-X table and PBA
        fn.barWrite(MSIX_BAR, (rnd() % 0x1000) & ~(size - 1), size, value);
        break;
      case 6: // config space, including the PCI_CFG window
        if (rnd() % 2) fn.writeConfig((rnd() % 0x100) & ~(size - 1), size, value);
        else fn.readConfig((rnd() % 0x100) & ~(size - 1), size);
        break;
      default: // reset and set up again now and then
        if (rnd() % 16 === 0) {
          d.negotiate();
          d.setupQueue(0, 0x1000, pick([1, 2, 4, 8, 16]));
          d.driverOk();
        }
    }
  }
  expect(base).toEqual(original);
  const s = t.state();
  const again = VirtioPci.fromState(new VirtioBlk({ memory, backend: overlay }), { memory, msi: () => {} }, structuredClone(s));
  expect(again.state()).toEqual(s);
  return { completed, broken, refused: refused() };
}

describe('virtio-blk fuzz', () => {
  for (const seed of [1, 2, 3, 0xdead, 0xbeef]) {
    it(`survives a storm of random rings and register writes (seed ${seed})`, () => {
      const r = storm(seed, 20_000);
      // The storm reached the interesting paths: requests completed, chains were rejected, and
      // out-of-RAM accesses were refused by the memory (never served).
      expect(r.completed).toBeGreaterThan(0);
      expect(r.broken).toBeGreaterThan(0);
      expect(r.refused).toBeGreaterThan(0);
    });
  }
});

/**
 * A contract test suite every device model passes (STYLE.md point 14, after crosvm's
 * `suspendable_tests!`): call `describeDeviceContract(...)` from a device's own test file.
 *
 * What it checks, for the registers the device lists:
 * - state round-trip: `fromState(state(d))` has the same state, reads the same through `peek`,
 *   and the state is plain data (survives JSON and structuredClone unchanged);
 * - reset idempotence (when the device has a reset): resetting twice equals resetting once;
 * - unmapped offsets read harmlessly: in range, no exception, no state change; writes to them
 *   change nothing either;
 * - `peek` has no side effects, and returns what `read` would (checked on a restored copy);
 * - robustness: a seeded random storm of reads and writes at every offset (mapped or not) and
 *   size never throws, reads stay in range, and the final state still round-trips.
 *
 * The device gets its capabilities from the factories, so the suite knows nothing about
 * interrupt lines, clocks or memory; it only uses the `Device` ABI and the state functions.
 */
import { describe, expect, it } from 'vitest';
import type { AccessSize, Device } from '../device.ts';

/** A register window: `offset` and the access sizes the device accepts there. */
export interface RegisterSpan {
  offset: number;
  sizes: readonly AccessSize[];
}

export interface DeviceContract<D extends Device, S> {
  /** Suite title. */
  name: string;
  /** A fresh device with fresh fake capabilities. */
  create(): D;
  /**
   * Named ways to drive a fresh device into non-trivial states (pending interrupts, buffered
   * data, armed timers, ...). Every check runs on a fresh device and on each of these.
   */
  scenarios?: Record<string, (device: D) => void>;
  state(device: D): S;
  /** A device restored from `state`, with fresh fake capabilities. */
  fromState(state: S): D;
  /** The device's reset, if it has one. */
  reset?(device: D): void;
  /** Mapped registers: read through `peek` and `read` in the listed sizes. */
  registers: readonly RegisterSpan[];
  /** Offsets where nothing is mapped (holes, or just past the end). */
  unmapped: readonly number[];
  /** Seed and length of the random access storm (defaults 1, 2000). */
  storm?: { seed?: number; accesses?: number };
}

const ALL_SIZES: readonly AccessSize[] = [1, 2, 4];

function inRange(value: number, size: AccessSize): boolean {
  return Number.isInteger(value) && value >= 0 && value < 2 ** (8 * size);
}

/** A small deterministic PRNG (xorshift32), so a failing storm can be replayed. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Every register value visible through `peek`, in every listed size. */
function peekAll<D extends Device>(device: D, registers: readonly RegisterSpan[]): number[] {
  const values: number[] = [];
  for (const { offset, sizes } of registers) {
    for (const size of sizes) values.push(device.peek!(offset, size));
  }
  return values;
}

export function describeDeviceContract<D extends Device, S>(contract: DeviceContract<D, S>): void {
  const { create, state, fromState, registers, unmapped } = contract;
  const scenarios: [string, (device: D) => void][] = [
    ['fresh', () => {}],
    ...Object.entries(contract.scenarios ?? {}),
  ];
  const devices = (): [string, D][] =>
    scenarios.map(([name, drive]) => {
      const device = create();
      drive(device);
      return [name, device];
    });

  describe(`${contract.name}: device contract`, () => {
    it('round-trips its state through fromState', () => {
      for (const [name, device] of devices()) {
        const snapshot = state(device);
        expect(JSON.parse(JSON.stringify(snapshot)), name).toEqual(snapshot);
        const restored = fromState(structuredClone(snapshot));
        expect(state(restored), name).toEqual(snapshot);
        if (device.peek) expect(peekAll(restored, registers), name).toEqual(peekAll(device, registers));
      }
    });

    it.runIf(contract.reset !== undefined)('reset is idempotent', () => {
      for (const [name, device] of devices()) {
        contract.reset!(device);
        const once = state(device);
        contract.reset!(device);
        expect(state(device), name).toEqual(once);
      }
    });

    it('reads unmapped offsets harmlessly and ignores writes to them', () => {
      for (const [name, device] of devices()) {
        const before = state(device);
        for (const offset of unmapped) {
          for (const size of ALL_SIZES) {
            expect(inRange(device.read(offset, size), size), name).toBe(true);
            if (device.peek) expect(inRange(device.peek(offset, size), size), name).toBe(true);
            device.write(offset, size, size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1);
            device.write(offset, size, 0);
          }
        }
        expect(state(device), name).toEqual(before);
      }
    });

    it.runIf(create().peek !== undefined)('peek has no side effects and returns what read would', () => {
      for (const [name, device] of devices()) {
        const before = state(device);
        for (const { offset, sizes } of registers) {
          for (const size of sizes) {
            const where = `${name}: offset ${offset} size ${size}`;
            const peeked = device.peek!(offset, size);
            expect(inRange(peeked, size), where).toBe(true);
            expect(state(device), where).toEqual(before);
            // A copy takes the read, with its side effects, and must see the peeked value.
            expect(fromState(structuredClone(before)).read(offset, size), where).toBe(peeked);
          }
        }
      }
    });

    it('survives a random storm of guest accesses', () => {
      const next = xorshift32(contract.storm?.seed ?? 1);
      const offsets = [...registers.map((r) => r.offset), ...unmapped];
      const accesses = contract.storm?.accesses ?? 2000;
      for (const [name, device] of devices()) {
        for (let i = 0; i < accesses; i++) {
          const offset = offsets[next() % offsets.length]!;
          const size = ALL_SIZES[next() % 3]!;
          if (next() & 1) {
            expect(inRange(device.read(offset, size), size), name).toBe(true);
          } else {
            device.write(offset, size, size === 4 ? next() : next() & ((1 << (8 * size)) - 1));
          }
        }
        const snapshot = state(device);
        expect(state(fromState(structuredClone(snapshot))), name).toEqual(snapshot);
      }
    });
  });
}

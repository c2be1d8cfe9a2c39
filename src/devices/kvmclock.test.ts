import { describe, expect, it } from 'vitest';
import { FakeClock } from '../machine/clock.ts';
import type { GuestMemory } from './device.ts';
import {
  KVMCLOCK_CPUID_FEATURES,
  KvmClock,
  PVCLOCK_TSC_STABLE_BIT,
  PVTI_FLAGS_OFFSET,
  pvclockScale,
  type KvmClockOptions,
} from './kvmclock.ts';

const MASK64 = (1n << 64n) - 1n;
const RAM_SIZE = 64 * 1024;

/** Guest RAM as a byte array, recording written() calls. */
function ram(size = RAM_SIZE) {
  const bytes = new Uint8Array(size);
  const written: string[] = [];
  const memory: GuestMemory = {
    size,
    slice: (addr, length) =>
      Number.isSafeInteger(addr) && addr >= 0 && length >= 0 && addr + length <= size
        ? bytes.subarray(addr, addr + length)
        : undefined,
    written: (addr, length) => void written.push(`${addr.toString(16)}+${length}`),
  };
  return { bytes, memory, written };
}

/**
 * The guest side: Linux's pvclock read (arch/x86/include/asm/pvclock.h) on the bytes of a
 * pvclock_vcpu_time_info. Returns guest nanoseconds for the TSC value `tsc`.
 */
function guestPvclockRead(bytes: Uint8Array, addr: number, tsc: bigint): bigint {
  const v = new DataView(bytes.buffer, bytes.byteOffset + addr, 32);
  const version = v.getUint32(0, true);
  if (version & 1) throw new Error('update in progress');
  const tscTimestamp = v.getBigUint64(8, true);
  const systemTime = v.getBigUint64(16, true);
  const mul = BigInt(v.getUint32(24, true));
  const shift = v.getInt8(28);
  if (v.getUint32(0, true) !== version) throw new Error('version changed');
  // pvclock_scale_delta: shift the delta, then a 64x32-bit multiply keeping bits 95:32.
  let delta = (tsc - tscTimestamp) & MASK64;
  delta = shift >= 0 ? (delta << BigInt(shift)) & MASK64 : delta >> BigInt(-shift);
  return (systemTime + ((delta * mul) >> 32n)) & MASK64;
}

/** The guest side of the wall clock: sec * 1e9 + nsec, after checking the version. */
function guestWallClock(bytes: Uint8Array, addr: number): bigint {
  const v = new DataView(bytes.buffer, bytes.byteOffset + addr, 12);
  expect(v.getUint32(0, true) % 2).toBe(0);
  return BigInt(v.getUint32(4, true)) * 1_000_000_000n + BigInt(v.getUint32(8, true));
}

describe('pvclock scaling', () => {
  it('is exact at 1 GHz and within 2^-31 elsewhere', () => {
    expect(pvclockScale(1_000_000_000)).toEqual({ mul: 2 ** 31, shift: 1 });
    for (const hz of [1_000_000, 33_333_333, 999_999_999, 1_000_000_001, 2_500_000_000, 3_000_000_000, 4_200_000_000, 100e9]) {
      const { mul, shift } = pvclockScale(hz);
      expect(mul).toBeGreaterThanOrEqual(2 ** 31); // normalised: full precision
      expect(mul).toBeLessThan(2 ** 32);
      const ratio = (mul / 2 ** 32) * 2 ** shift;
      expect(Math.abs(ratio * hz - 1e9) / 1e9).toBeLessThan(2 ** -31);
    }
    expect(() => pvclockScale(0)).toThrow(RangeError);
    expect(() => pvclockScale(1.5e9 + 0.5)).toThrow(RangeError);
  });

  it('advertises CLOCKSOURCE2 (bit 3) and CLOCKSOURCE_STABLE_BIT (bit 24)', () => {
    expect(KVMCLOCK_CPUID_FEATURES).toBe(0x0100_0008);
  });
});

describe('kvmclock system time', () => {
  const ADDR = 0x2040;

  function setup(tscHz?: number, tscOf: (now: number) => number = (now) => now) {
    const clock = new FakeClock();
    const mem = ram();
    let tscOffset = 0;
    const options: KvmClockOptions = { clock, memory: mem.memory, tsc: () => tscOf(clock.now()) + tscOffset, tscHz };
    const kvm = new KvmClock(options);
    return { clock, ...mem, kvm, options, setTscOffset: (o: number) => void (tscOffset = o) };
  }

  it('fills pvclock_vcpu_time_info so that the guest reads clock.now() (1 GHz TSC)', () => {
    const { clock, bytes, kvm, written } = setup();
    clock.set(123_456_789);
    kvm.writeSystemTime(ADDR | 1, 0);
    expect(written).toEqual(['2040+32']);
    const v = new DataView(bytes.buffer, ADDR, 32);
    expect(v.getUint32(0, true) % 2).toBe(0);
    expect(v.getUint8(PVTI_FLAGS_OFFSET)).toBe(PVCLOCK_TSC_STABLE_BIT);
    expect(v.getUint32(24, true)).toBe(2 ** 31);
    expect(v.getInt8(28)).toBe(1);
    for (const t of [123_456_789, 123_456_790, 2e9, 3_600e9 + 17, 86_400e9 * 30 + 3]) {
      clock.set(t);
      expect(guestPvclockRead(bytes, ADDR, BigInt(t))).toBe(BigInt(t));
    }
  });

  it('scales a TSC at another rate (2.5 GHz) to the same guest time', () => {
    const hz = 2_500_000_000;
    const { clock, bytes, kvm } = setup(hz, (now) => Math.floor((now * hz) / 1e9));
    clock.set(5_000_001);
    kvm.writeSystemTime(ADDR | 1, 0);
    expect(new DataView(bytes.buffer, ADDR, 32).getInt8(28)).toBe(-1);
    for (const t of [5_000_001, 5_000_002, 5_123_457, 1e9 + 7, 10e9 + 3, 3_600e9]) {
      clock.set(t);
      const tsc = BigInt(Math.floor((t * hz) / 1e9));
      const guest = Number(guestPvclockRead(bytes, ADDR, tsc));
      // TSC truncation (< 0.4 ns) plus the multiplier's rounding (< 2^-31 relative).
      expect(Math.abs(guest - t)).toBeLessThanOrEqual(1 + t * 2 ** -31);
    }
  });

  it('marks the update in progress with an odd version and ends even, from any old version', () => {
    const clock = new FakeClock();
    const mem = ram();
    const view = new DataView(mem.bytes.buffer);
    const seen: number[] = [];
    const kvm = new KvmClock({
      clock,
      memory: mem.memory,
      tsc: () => {
        seen.push(view.getUint32(ADDR, true)); // the guest would see this mid-update
        return clock.now();
      },
    });
    view.setUint32(ADDR, 7, true); // odd junk left by the guest
    kvm.writeSystemTime(ADDR | 1, 0);
    expect(view.getUint32(ADDR, true)).toBe(10);
    kvm.update();
    expect(view.getUint32(ADDR, true)).toBe(12);
    expect(seen).toEqual([9, 11]);
  });

  it('stays correct after the TSC moves once update() is called', () => {
    const { clock, bytes, kvm, setTscOffset } = setup();
    clock.set(1_000);
    kvm.writeSystemTime(ADDR | 1, 0);
    clock.set(50_000);
    setTscOffset(1_000_000_000); // the guest wrote IA32_TSC
    const tsc = BigInt(clock.now() + 1_000_000_000);
    expect(guestPvclockRead(bytes, ADDR, tsc)).not.toBe(50_000n);
    kvm.update();
    expect(guestPvclockRead(bytes, ADDR, tsc)).toBe(50_000n);
  });

  it('does nothing while disabled, and stops updating once bit 0 is cleared', () => {
    const { clock, bytes, kvm, written } = setup();
    kvm.writeSystemTime(ADDR, 0); // enable bit clear
    kvm.update();
    expect(kvm.enabled).toBe(false);
    expect(bytes.every((b) => b === 0)).toBe(true);
    kvm.writeSystemTime(ADDR | 1, 0);
    const snapshot = bytes.slice();
    kvm.writeSystemTime(ADDR, 0);
    clock.set(99);
    kvm.update();
    expect(bytes).toEqual(snapshot);
    expect(written).toEqual(['2040+32']);
  });

  it('ignores structures outside RAM or crossing its end, never writing out of bounds', () => {
    const { bytes, kvm, written } = setup();
    for (const [lo, hi] of [
      [(RAM_SIZE - 8) | 1, 0], // crosses the end of RAM (both structures)
      [RAM_SIZE | 1, 0],
      [0xfee0_0001, 0], // the LAPIC page
      [-0x0fff, 0], // 0xFFFFF001 as a signed 32-bit value
      [1, 1], // 4 GiB
      [1, 0xffff_ffff],
    ] as const) {
      kvm.writeSystemTime(lo, hi);
      kvm.update();
      kvm.writeWallClock(lo & ~1, hi);
    }
    expect(written).toEqual([]);
    expect(bytes.every((b) => b === 0)).toBe(true);
    kvm.writeSystemTime((RAM_SIZE - 32) | 1, 0); // the last 32 bytes fit
    expect(written).toEqual([`${(RAM_SIZE - 32).toString(16)}+32`]);
  });

  it('round-trips its registration and re-fills the structure for the new clock', () => {
    const a = setup();
    a.clock.set(777);
    a.kvm.writeSystemTime(ADDR | 1, 0);
    const state = a.kvm.state();
    expect(state).toEqual({ systemTimeLo: ADDR | 1, systemTimeHi: 0 });

    const b = setup();
    b.bytes.set(a.bytes); // guest RAM restored first
    b.clock.set(5_000_000);
    const restored = KvmClock.fromState(state, b.options);
    expect(restored.enabled).toBe(true);
    b.clock.set(5_000_123);
    expect(guestPvclockRead(b.bytes, ADDR, 5_000_123n)).toBe(5_000_123n);
    restored.reset();
    expect(restored.enabled).toBe(false);
  });
});

describe('kvmclock wall clock', () => {
  const WALL = 0x3000;
  const PVTI = 0x3040;

  it('gives the Unix time at boot, so that wall clock + system time = current Unix time', () => {
    const clock = new FakeClock();
    const mem = ram();
    const kvm = new KvmClock({ clock, memory: mem.memory, tsc: () => clock.now() });
    clock.set(42_000_000_123);
    kvm.writeSystemTime(PVTI | 1, 0);
    kvm.writeWallClock(WALL, 0);
    expect(mem.written).toEqual(['3040+32', '3000+12']);
    const boot = guestWallClock(mem.bytes, WALL);
    expect(boot).toBe(BigInt(clock.wallClockAtZero)); // 2026-01-01: whole seconds, exact
    for (const t of [42_000_000_123, 43_500_000_000, 1e12 + 1]) {
      clock.set(t);
      const unixNs = boot + guestPvclockRead(mem.bytes, PVTI, BigInt(clock.now()));
      expect(unixNs).toBe(BigInt(clock.wallClockAtZero) + BigInt(t));
    }
  });

  it('splits a fractional boot time into sec and nsec, and bumps the version per write', () => {
    const clock = new FakeClock();
    clock.wallClockAtZero = 1_767_225_600_123_456_789; // a double: exact to 256 ns
    const mem = ram();
    const kvm = new KvmClock({ clock, memory: mem.memory, tsc: () => clock.now() });
    kvm.writeWallClock(WALL, 0);
    const v = new DataView(mem.bytes.buffer, WALL, 12);
    expect(v.getUint32(0, true)).toBe(2);
    expect(v.getUint32(4, true)).toBe(1_767_225_600);
    expect(Math.abs(v.getUint32(8, true) - 123_456_789)).toBeLessThanOrEqual(256);
    kvm.writeWallClock(WALL, 0);
    expect(v.getUint32(0, true)).toBe(4);
  });
});

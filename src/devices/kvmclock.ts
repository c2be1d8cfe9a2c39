/**
 * kvmclock: the KVM paravirtual clock. The guest registers two structures in its RAM through
 * MSRs and the hypervisor (this class) fills them, so that the guest knows the time since boot
 * from its TSC without calibration, and the date without a CMOS RTC.
 *
 * Spec: Linux Documentation/virt/kvm/x86/msr.rst (MSR_KVM_WALL_CLOCK_NEW 0x4b564d00,
 * MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01) and arch/x86/include/asm/pvclock-abi.h (struct
 * pvclock_vcpu_time_info, struct pvclock_wall_clock, PVCLOCK_TSC_STABLE_BIT); the guest's read
 * algorithm is arch/x86/include/asm/pvclock.h (pvclock_scale_delta, __pvclock_read_cycles).
 *
 *   pvclock_vcpu_time_info (32 bytes)        pvclock_wall_clock (12 bytes, packed)
 *     0  u32 version                           0  u32 version
 *     4  u32 pad0                              4  u32 sec    \ Unix time at guest time 0
 *     8  u64 tsc_timestamp                     8  u32 nsec   /
 *    16  u64 system_time (guest ns)
 *    24  u32 tsc_to_system_mul
 *    28  s8  tsc_shift
 *    29  u8  flags (PVCLOCK_TSC_STABLE_BIT)
 *    30  u8  pad[2]
 *
 * The guest computes: ns = system_time + (((tsc - tsc_timestamp) << tsc_shift) * mul) >> 32
 * (a right shift for a negative tsc_shift), and Unix time = wall clock + ns.
 *
 * Wiring: the CPU stores both MSRs itself and reports writes through `onMsrWrite(msr, lo, hi)`;
 * the machine calls `writeWallClock(lo, hi)` / `writeSystemTime(lo, hi)` from there, and
 * advertises `KVMCLOCK_CPUID_FEATURES` in CPUID leaf 0x40000001 EAX.
 *
 * Design decisions:
 * - One write at registration is enough: the TSC and guest time advance together at a fixed
 *   rate (the TSC is derived from the machine's Clock), so (tsc_timestamp, system_time) with the
 *   fixed mul/shift stays correct forever. `update()` rewrites the structure; the machine must
 *   call it when the TSC-to-time relation changes (the guest wrote IA32_TSC, a snapshot was
 *   restored onto another clock). `tsc()` must return the TSC the guest reads with RDTSC.
 * - The TSC runs at `tscHz` (default 1 GHz: TSC value = guest ns, and the scaling is exact:
 *   mul = 2^31, shift = 1). Other rates use the largest 32-bit multiplier that fits (relative
 *   error below 2^-31, rounded to nearest).
 * - system_time and tsc_timestamp are read one after the other (clock, then TSC); with the host
 *   clock the pair can be a few ns apart. PVCLOCK_TSC_STABLE_BIT is set (one vCPU, one
 *   clock), so Linux skips its cross-CPU monotonicity fix-up.
 * - Version: as KVM does, the update starts from the version already in guest memory, makes it
 *   odd (+1, or +2 if the guest left junk that was odd), writes the fields, then makes it even.
 * - The wall clock is `clock.wallClockAtZero` split into sec/nsec (a double: 256 ns precision at
 *   today's dates). sec is a u32, as in the ABI (good until 2106).
 * - Guest addresses: the structures are written only if they lie wholly inside guest RAM
 *   (`GuestMemory.slice`); otherwise the write is ignored, and nothing outside RAM is touched.
 *   Alignment (the doc asks for 4 bytes) is not enforced: any address inside RAM works.
 *   After writing, `GuestMemory.written()` tells the CPU's code cache.
 *
 * Not supported:
 * - The deprecated MSRs MSR_KVM_WALL_CLOCK (0x11) and MSR_KVM_SYSTEM_TIME (0x12): the same
 *   methods serve them if the machine routes them and advertises KVM_FEATURE_CLOCKSOURCE (bit 0);
 *   by default only CLOCKSOURCE2 is advertised and those MSRs #GP as unknown.
 * - PVCLOCK_GUEST_STOPPED_BIT (the VM is never paused behind the guest's back), per-vCPU
 *   structures for SMP (one instance per vCPU would be needed), steal time, async PF, PV EOI.
 */
import type { Clock } from '../machine/clock.ts';
import type { GuestMemory } from './device.ts';

/** MSR: guest physical address of a pvclock_wall_clock (written once per MSR write). */
export const MSR_KVM_WALL_CLOCK_NEW = 0x4b56_4d00;
/** MSR: guest physical address of a pvclock_vcpu_time_info, bit 0 = enable. */
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b56_4d01;
/** Deprecated aliases (see "Not supported"). */
export const MSR_KVM_WALL_CLOCK = 0x11;
export const MSR_KVM_SYSTEM_TIME = 0x12;

// CPUID leaf 0x40000001 (KVM_CPUID_FEATURES) EAX bit numbers, as in Linux's kvm_para.h.
export const KVM_CPUID_FEATURES_LEAF = 0x4000_0001;
export const KVM_FEATURE_CLOCKSOURCE = 0;
export const KVM_FEATURE_CLOCKSOURCE2 = 3;
export const KVM_FEATURE_CLOCKSOURCE_STABLE_BIT = 24;
/** What the machine should put in CPUID 0x40000001 EAX for kvmclock: bits 3 and 24. */
export const KVMCLOCK_CPUID_FEATURES = ((1 << KVM_FEATURE_CLOCKSOURCE2) | (1 << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT)) >>> 0;

/** MSR_KVM_SYSTEM_TIME_NEW bit 0: the structure is registered. */
export const KVM_SYSTEM_TIME_ENABLE = 1;
/** pvclock flags: TSC readings across CPUs are monotonic. */
export const PVCLOCK_TSC_STABLE_BIT = 1 << 0;

// struct pvclock_vcpu_time_info
export const PVTI_SIZE = 32;
export const PVTI_VERSION_OFFSET = 0;
export const PVTI_TSC_TIMESTAMP_OFFSET = 8;
export const PVTI_SYSTEM_TIME_OFFSET = 16;
export const PVTI_TSC_TO_SYSTEM_MUL_OFFSET = 24;
export const PVTI_TSC_SHIFT_OFFSET = 28;
export const PVTI_FLAGS_OFFSET = 29;
// struct pvclock_wall_clock
export const WALL_CLOCK_SIZE = 12;
export const WALL_CLOCK_VERSION_OFFSET = 0;
export const WALL_CLOCK_SEC_OFFSET = 4;
export const WALL_CLOCK_NSEC_OFFSET = 8;

/** The TSC rate by default: 1 GHz, so that the TSC value equals guest nanoseconds. */
export const DEFAULT_TSC_HZ = 1_000_000_000;
const MIN_TSC_HZ = 1_000_000;
const MAX_TSC_HZ = 100_000_000_000;

/**
 * tsc_to_system_mul and tsc_shift for a TSC of `tscHz`: mul / 2^32 * 2^shift = 1e9 / tscHz,
 * with the smallest shift (largest mul below 2^32) for precision.
 */
export function pvclockScale(tscHz: number): { mul: number; shift: number } {
  if (!Number.isSafeInteger(tscHz) || tscHz < MIN_TSC_HZ || tscHz > MAX_TSC_HZ) {
    throw new RangeError(`kvmclock: TSC rate ${tscHz} Hz is outside [${MIN_TSC_HZ}, ${MAX_TSC_HZ}]`);
  }
  const hz = BigInt(tscHz);
  let best = { mul: 0, shift: 31 };
  for (let shift = 31; shift >= -31; shift--) {
    const mul = ((1_000_000_000n << BigInt(32 - shift)) + hz / 2n) / hz; // rounded
    if (mul >= 1n << 32n) break;
    best = { mul: Number(mul), shift };
  }
  return best;
}

export interface KvmClockOptions {
  clock: Clock;
  memory: GuestMemory;
  /** The guest's current TSC value (what RDTSC returns). */
  tsc(): number;
  /** TSC rate in Hz (default 1 GHz). */
  tscHz?: number;
}

/** MSR values the guest wrote (lo/hi halves, unsigned). */
export interface KvmClockState {
  systemTimeLo: number;
  systemTimeHi: number;
}

export class KvmClock {
  private readonly clock: Clock;
  private readonly memory: GuestMemory;
  private readonly tsc: () => number;
  private readonly mul: number;
  private readonly shift: number;
  private systemTimeLo = 0;
  private systemTimeHi = 0;

  constructor(options: KvmClockOptions) {
    this.clock = options.clock;
    this.memory = options.memory;
    this.tsc = options.tsc;
    ({ mul: this.mul, shift: this.shift } = pvclockScale(options.tscHz ?? DEFAULT_TSC_HZ));
  }

  /** Whether a pvclock_vcpu_time_info is registered (bit 0 of the last MSR value). */
  get enabled(): boolean {
    return (this.systemTimeLo & KVM_SYSTEM_TIME_ENABLE) !== 0;
  }

  /** The guest wrote MSR_KVM_SYSTEM_TIME_NEW = hi:lo. */
  writeSystemTime(lo: number, hi: number): void {
    this.systemTimeLo = lo >>> 0;
    this.systemTimeHi = hi >>> 0;
    this.update();
  }

  /** Rewrites the registered pvclock_vcpu_time_info from the clock and the TSC, if any. */
  update(): void {
    if (!this.enabled) return;
    const addr = physicalAddress(this.systemTimeLo & ~KVM_SYSTEM_TIME_ENABLE, this.systemTimeHi);
    const bytes = addr === undefined ? undefined : this.memory.slice(addr, PVTI_SIZE);
    if (!bytes || addr === undefined) return; // outside RAM: ignored
    const view = new DataView(bytes.buffer, bytes.byteOffset, PVTI_SIZE);
    const version = beginUpdate(view, PVTI_VERSION_OFFSET);
    const now = Math.max(0, Math.floor(this.clock.now()));
    const tsc = Math.max(0, Math.floor(this.tsc()));
    view.setUint32(4, 0, true); // pad0
    view.setBigUint64(PVTI_TSC_TIMESTAMP_OFFSET, BigInt(tsc), true);
    view.setBigUint64(PVTI_SYSTEM_TIME_OFFSET, BigInt(now), true);
    view.setUint32(PVTI_TSC_TO_SYSTEM_MUL_OFFSET, this.mul, true);
    view.setInt8(PVTI_TSC_SHIFT_OFFSET, this.shift);
    view.setUint8(PVTI_FLAGS_OFFSET, PVCLOCK_TSC_STABLE_BIT);
    view.setUint16(30, 0, true); // pad
    view.setUint32(PVTI_VERSION_OFFSET, (version + 1) >>> 0, true); // even: consistent again
    this.memory.written(addr, PVTI_SIZE);
  }

  /**
   * The guest wrote MSR_KVM_WALL_CLOCK_NEW = hi:lo: fill the pvclock_wall_clock at that address
   * with the Unix time at guest time 0 (the structure is written only now, per msr.rst).
   */
  writeWallClock(lo: number, hi: number): void {
    const addr = physicalAddress(lo >>> 0, hi >>> 0);
    const bytes = addr === undefined ? undefined : this.memory.slice(addr, WALL_CLOCK_SIZE);
    if (!bytes || addr === undefined) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, WALL_CLOCK_SIZE);
    const version = beginUpdate(view, WALL_CLOCK_VERSION_OFFSET);
    const wall = Math.max(0, this.clock.wallClockAtZero);
    const sec = Math.floor(wall / 1e9);
    const nsec = Math.min(999_999_999, Math.max(0, Math.round(wall - sec * 1e9)));
    view.setUint32(WALL_CLOCK_SEC_OFFSET, sec >>> 0, true);
    view.setUint32(WALL_CLOCK_NSEC_OFFSET, nsec, true);
    view.setUint32(WALL_CLOCK_VERSION_OFFSET, (version + 1) >>> 0, true);
    this.memory.written(addr, WALL_CLOCK_SIZE);
  }

  /** Power-on state: no structure registered (the CPU resets the MSRs alike). */
  reset(): void {
    this.systemTimeLo = 0;
    this.systemTimeHi = 0;
  }

  state(): KvmClockState {
    return { systemTimeLo: this.systemTimeLo, systemTimeHi: this.systemTimeHi };
  }

  /**
   * Restores the registration and rewrites the structure for the new clock (call it after
   * guest RAM has been restored).
   */
  static fromState(state: KvmClockState, options: KvmClockOptions): KvmClock {
    const kvmclock = new KvmClock(options);
    kvmclock.writeSystemTime(Number(state.systemTimeLo) >>> 0, Number(state.systemTimeHi) >>> 0);
    return kvmclock;
  }
}

/** hi:lo as a number, or undefined above 2^53 (far outside any guest RAM). */
function physicalAddress(lo: number, hi: number): number | undefined {
  return hi >= 2 ** 21 ? undefined : hi * 2 ** 32 + (lo >>> 0);
}

/** Makes the version field odd (an update is in progress) and returns the odd value. */
function beginUpdate(view: DataView, offset: number): number {
  const old = view.getUint32(offset, true);
  const odd = (old & 1 ? old + 2 : old + 1) >>> 0;
  view.setUint32(offset, odd, true);
  return odd;
}

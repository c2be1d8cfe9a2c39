/**
 * The CPUID model (Intel SDM Vol. 2, CPUID; shared/MACHINE.md "CPU"). It advertises exactly the
 * features the emulator implements: each feature names the bit it sets and whether it works
 * yet. The hypervisor leaves say "KVMKVMKVM" so Linux looks for the paravirtual clock there.
 */

export interface CpuidFeature {
  readonly name: string;
  /** Leaf (1 or 0x80000001), register and bit. */
  readonly leaf: number;
  readonly reg: 'ecx' | 'edx';
  readonly bit: number;
  /** Whether the emulator implements it (only those are advertised). */
  readonly implemented: boolean;
}

/** Feature bits of leaves 1 and 0x80000001. Flip `implemented` only with passing tests. */
export const FEATURES: readonly CpuidFeature[] = [
  { name: 'fpu', leaf: 1, reg: 'edx', bit: 0, implemented: true },
  { name: 'pse', leaf: 1, reg: 'edx', bit: 3, implemented: true },
  { name: 'tsc', leaf: 1, reg: 'edx', bit: 4, implemented: true },
  { name: 'msr', leaf: 1, reg: 'edx', bit: 5, implemented: true },
  { name: 'pae', leaf: 1, reg: 'edx', bit: 6, implemented: true },
  { name: 'cx8', leaf: 1, reg: 'edx', bit: 8, implemented: true },
  { name: 'apic', leaf: 1, reg: 'edx', bit: 9, implemented: true },
  { name: 'sep', leaf: 1, reg: 'edx', bit: 11, implemented: true },
  { name: 'pge', leaf: 1, reg: 'edx', bit: 13, implemented: true },
  { name: 'cmov', leaf: 1, reg: 'edx', bit: 15, implemented: true },
  { name: 'pat', leaf: 1, reg: 'edx', bit: 16, implemented: true },
  { name: 'clflush', leaf: 1, reg: 'edx', bit: 19, implemented: true },
  { name: 'mmx', leaf: 1, reg: 'edx', bit: 23, implemented: true },
  { name: 'fxsr', leaf: 1, reg: 'edx', bit: 24, implemented: true },
  { name: 'sse', leaf: 1, reg: 'edx', bit: 25, implemented: true },
  { name: 'sse2', leaf: 1, reg: 'edx', bit: 26, implemented: true },
  { name: 'sse3', leaf: 1, reg: 'ecx', bit: 0, implemented: true },
  { name: 'ssse3', leaf: 1, reg: 'ecx', bit: 9, implemented: true },
  { name: 'cx16', leaf: 1, reg: 'ecx', bit: 13, implemented: true },
  { name: 'sse4_1', leaf: 1, reg: 'ecx', bit: 19, implemented: true },
  { name: 'sse4_2', leaf: 1, reg: 'ecx', bit: 20, implemented: true },
  { name: 'popcnt', leaf: 1, reg: 'ecx', bit: 23, implemented: true },
  // The LAPIC timer's TSC-deadline mode (MSR 0x6E0): Linux then skips its timer calibration.
  { name: 'tsc_deadline_timer', leaf: 1, reg: 'ecx', bit: 24, implemented: true },
  { name: 'hypervisor', leaf: 1, reg: 'ecx', bit: 31, implemented: true },
  { name: 'syscall', leaf: 0x8000_0001, reg: 'edx', bit: 11, implemented: true },
  { name: 'nx', leaf: 0x8000_0001, reg: 'edx', bit: 20, implemented: true },
  { name: 'rdtscp', leaf: 0x8000_0001, reg: 'edx', bit: 27, implemented: true },
  { name: 'lm', leaf: 0x8000_0001, reg: 'edx', bit: 29, implemented: true },
  { name: 'lahf_lm', leaf: 0x8000_0001, reg: 'ecx', bit: 0, implemented: true },
];

function bits(leaf: number, reg: 'ecx' | 'edx'): number {
  let v = 0;
  for (const f of FEATURES) if (f.implemented && f.leaf === leaf && f.reg === reg) v |= 1 << f.bit;
  return v;
}

function str4(s: string, at: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= (s.charCodeAt(at + i) || 0) << (8 * i);
  return v;
}

const VENDOR = 'GenuineIntel';
const BRAND = 'virtlite x86-64 virtual CPU'.padEnd(48, '\0');
/** Family 6, model 0, stepping 0: no model-specific quirks apply. */
const SIGNATURE = 6 << 8;
/** Physical and linear address bits (leaf 0x80000008). */
export const PHYS_ADDR_BITS = 36;
export const VIRT_ADDR_BITS = 48;

/**
 * KVM paravirtual features (leaf 0x40000001 EAX): KVM_FEATURE_CLOCKSOURCE2 (bit 3, kvmclock at
 * MSRs 0x4b564d00/01) and KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (bit 24: the TSC-based clock is
 * stable, so Linux uses kvm-clock without per-read corrections).
 */
const KVM_FEATURES = (1 << 3) | (1 << 24);

/** Leaf 6 EAX bit 2: the APIC timer keeps running in every C-state. */
const LEAF6_ARAT = 1 << 2;

const LEAF1_ECX = bits(1, 'ecx');
const LEAF1_EDX = bits(1, 'edx');
const EXT1_ECX = bits(0x8000_0001, 'ecx');
const EXT1_EDX = bits(0x8000_0001, 'edx');

/** Result registers of CPUID(leaf, subleaf) written into `out` as [eax, ebx, ecx, edx]. */
export function cpuid(leaf: number, _subleaf: number, out: Int32Array): void {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  switch (leaf >>> 0) {
    case 0:
      a = 6; // leaves 2-5 are zero (no cache or MONITOR descriptors)
      b = str4(VENDOR, 0);
      d = str4(VENDOR, 4);
      c = str4(VENDOR, 8);
      break;
    case 1:
      a = SIGNATURE;
      b = (8 << 8) | (1 << 16); // CLFLUSH line 8 qwords, 1 logical processor, APIC ID 0
      c = LEAF1_ECX;
      d = LEAF1_EDX;
      break;
    case 6:
      // Thermal and power management: only ARAT, "APIC timer always running" (there are no
      // deep C-states that stop it). Without ARAT Linux marks the LAPIC timer C3STOP, finds no
      // broadcast timer on a HW-reduced machine and never stops the idle tick (NO_HZ).
      a = LEAF6_ARAT;
      break;
    case 0x4000_0000:
      a = 0x4000_0001;
      b = str4('KVMKVMKVM\0\0\0', 0);
      c = str4('KVMKVMKVM\0\0\0', 4);
      d = str4('KVMKVMKVM\0\0\0', 8);
      break;
    case 0x4000_0001:
      a = KVM_FEATURES;
      break;
    case 0x8000_0000:
      a = 0x8000_0008;
      break;
    case 0x8000_0001:
      c = EXT1_ECX;
      d = EXT1_EDX;
      break;
    case 0x8000_0002:
    case 0x8000_0003:
    case 0x8000_0004: {
      const at = ((leaf >>> 0) - 0x8000_0002) * 16;
      a = str4(BRAND, at);
      b = str4(BRAND, at + 4);
      c = str4(BRAND, at + 8);
      d = str4(BRAND, at + 12);
      break;
    }
    case 0x8000_0008:
      a = PHYS_ADDR_BITS | (VIRT_ADDR_BITS << 8);
      break;
    default:
      // Real Intel CPUs repeat the highest basic leaf for leaves above the maximum; we return
      // zeros (as AMD does), which no well-behaved guest reads anyway.
      break;
  }
  out[0] = a;
  out[1] = b;
  out[2] = c;
  out[3] = d;
}

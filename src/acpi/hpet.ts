/**
 * The HPET description table: where the High Precision Event Timer block lives and what it can
 * do. Its Event Timer Block ID repeats the low 32 bits of the block's General Capabilities and
 * ID register, so it must match the HPET device (vendor, number of timers, 64-bit counter,
 * legacy replacement routing).
 *
 * Spec: ACPI 6.5 section 5.2.6 Table 5.6 reserves the "HPET" signature for the IA-PC HPET
 * (High Precision Event Timers) Specification 1.0a, section 3.2.4 "The ACPI 2.0 HPET
 * Description Table (HPET)"
 * (https://uefi.org/specs/ACPI/6.5/05_ACPI_Software_Programming_Model.html#description-header-signatures-for-tables-defined-by-other-specifications).
 *
 * Not supported: more than one timer block (one table each, with increasing HPET numbers).
 */
import { GAS_ACCESS_UNDEFINED, GAS_SYSTEM_MEMORY, TableWriter, type OemInfo } from './sdt.ts';

export const HPET_TABLE_REVISION = 1;
/** Byte offsets (HPET spec Table 3). */
export const HPET_EVENT_TIMER_BLOCK_ID_OFFSET = 36;
export const HPET_BASE_ADDRESS_OFFSET = 40;
export const HPET_NUMBER_OFFSET = 52;
export const HPET_MIN_TICK_OFFSET = 53;
export const HPET_PAGE_PROTECTION_OFFSET = 55;
export const HPET_TABLE_SIZE = 56;

/**
 * Event Timer Block ID = General Capabilities and ID register bits 31:0:
 *
 *   31            16  15   14   13   12      8 7        0
 *  +----------------+----+----+----+---------+----------+
 *  | PCI vendor id  |LEG | -  |CNT | NUM_TIM | REV_ID   |
 *  +----------------+----+----+----+---------+----------+
 *   LEG = LEG_RT_CAP, CNT = COUNT_SIZE_CAP (64-bit), NUM_TIM = number of timers - 1
 */
export const HPET_ID_VENDOR_SHIFT = 16;
export const HPET_ID_LEG_RT_CAP_BIT = 1 << 15;
export const HPET_ID_COUNT_SIZE_CAP_BIT = 1 << 13;
export const HPET_ID_NUM_TIM_CAP_SHIFT = 8;
export const HPET_ID_NUM_TIM_CAP_MASK = 0x1f << 8;
export const HPET_ID_REV_ID_MASK = 0xff;

/** Page protection values (bits 3:0): the block sits alone in a 4 KiB page. */
export const HPET_PAGE_PROTECTION_NONE = 0;
export const HPET_PAGE_PROTECTION_4K = 1;
export const HPET_PAGE_PROTECTION_64K = 2;

export interface HpetCapabilities {
  readonly vendorId: number;
  /** Number of comparators (timers), 1-32. */
  readonly timers: number;
  readonly counter64: boolean;
  readonly legacyReplacement: boolean;
  readonly revisionId: number;
}

/** The Event Timer Block ID (GCAP_ID bits 31:0) of a block with these capabilities. */
export function hpetEventTimerBlockId(c: HpetCapabilities): number {
  if (c.timers < 1 || c.timers > 32) throw new RangeError(`HPET with ${c.timers} timers`);
  return (
    ((c.vendorId & 0xffff) * 2 ** HPET_ID_VENDOR_SHIFT +
      (c.legacyReplacement ? HPET_ID_LEG_RT_CAP_BIT : 0) +
      (c.counter64 ? HPET_ID_COUNT_SIZE_CAP_BIT : 0) +
      ((c.timers - 1) << HPET_ID_NUM_TIM_CAP_SHIFT) +
      (c.revisionId & HPET_ID_REV_ID_MASK)) >>>
    0
  );
}

export interface HpetParams {
  /** Guest-physical base of the register block. */
  readonly address: number;
  readonly capabilities: HpetCapabilities;
  /** Sequence number of this block (0 for the first). */
  readonly hpetNumber?: number;
  /** Smallest period, in counter ticks, the block supports in periodic mode without lost interrupts. */
  readonly minimumTick: number;
  /** HPET_PAGE_PROTECTION_*; default 4 KiB. */
  readonly pageProtection?: number;
}

export function buildHpet(p: HpetParams, oem?: OemInfo): Uint8Array {
  return new TableWriter('HPET', HPET_TABLE_REVISION, oem)
    .u32(hpetEventTimerBlockId(p.capabilities))
    .gas({ spaceId: GAS_SYSTEM_MEMORY, bitWidth: 64, bitOffset: 0, accessSize: GAS_ACCESS_UNDEFINED, address: p.address })
    .u8(p.hpetNumber ?? 0)
    .u16(p.minimumTick)
    .u8(p.pageProtection ?? HPET_PAGE_PROTECTION_4K)
    .finish();
}

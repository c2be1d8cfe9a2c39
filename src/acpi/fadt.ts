/**
 * The Fixed ACPI Description Table of a hardware-reduced platform: no SCI, no PM1/PM2/GPE
 * register blocks, no PM timer, no FACS. What remains: the DSDT pointer (32- and 64-bit), the
 * reset register, the sleep control/status registers that replace PM1 for entering S5, the
 * IA-PC boot architecture flags that tell the OS which legacy devices are absent, and the
 * hypervisor vendor identity.
 *
 * Spec: ACPI 6.5 section 5.2.9 "Fixed ACPI Description Table (FADT)"
 * (https://uefi.org/specs/ACPI/6.5/05_ACPI_Software_Programming_Model.html#fixed-acpi-description-table-fadt),
 * Table 5.9 (fields), 5.10 (Flags), 5.11 (IA-PC boot architecture flags); HW-reduced ACPI in
 * section 4.1; the sleep registers in 4.8.3.7 and 4.8.3.8.
 *
 * Not supported: a FACS (FIRMWARE_CTRL = 0: no global lock, no waking vector, so no S3),
 * fixed-feature hardware of any kind, C2/C3 (latencies above 100/1000 say so).
 */
import { TableWriter, type GenericAddress, type OemInfo } from './sdt.ts';

/** FADT major version 6, minor version 5: ACPI 6.5. */
export const FADT_REVISION = 6;
export const FADT_MINOR_REVISION = 5;
/** Size of a revision 6 FADT (through Hypervisor Vendor Identity). */
export const FADT_SIZE = 276;

/** Byte offsets of the fields this builder fills (Table 5.9). */
export const FADT_DSDT_OFFSET = 40;
export const FADT_P_LVL2_LAT_OFFSET = 96;
export const FADT_IAPC_BOOT_ARCH_OFFSET = 109;
export const FADT_FLAGS_OFFSET = 112;
export const FADT_RESET_REG_OFFSET = 116;
export const FADT_RESET_VALUE_OFFSET = 128;
export const FADT_MINOR_VERSION_OFFSET = 131;
export const FADT_X_DSDT_OFFSET = 140;
export const FADT_SLEEP_CONTROL_REG_OFFSET = 244;
export const FADT_SLEEP_STATUS_REG_OFFSET = 256;
export const FADT_HYPERVISOR_VENDOR_OFFSET = 268;

/** Fixed feature flags (Table 5.10). */
export const FADT_WBINVD = 1 << 0;
export const FADT_PROC_C1 = 1 << 2;
export const FADT_PWR_BUTTON = 1 << 4;
export const FADT_SLP_BUTTON = 1 << 5;
export const FADT_RESET_REG_SUP = 1 << 10;
export const FADT_HW_REDUCED_ACPI = 1 << 20;

/**
 * The flags of the virt machine:
 * - WBINVD: the CPU implements WBINVD (spec: "must be set" on new systems);
 * - PROC_C1: HLT (C1) works on every CPU;
 * - PWR_BUTTON, SLP_BUTTON: no fixed-feature buttons (HW-reduced has no PM1 event block);
 * - RESET_REG_SUP: RESET_REG/RESET_VALUE reset the machine;
 * - HW_REDUCED_ACPI.
 */
export const FADT_VIRT_FLAGS =
  FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP | FADT_HW_REDUCED_ACPI;

/**
 * IA-PC Boot Architecture Flags (Table 5.11):
 *   bit 0 LEGACY_DEVICES, bit 1 8042, bit 2 VGA Not Present, bit 3 MSI Not Supported,
 *   bit 4 PCIe ASPM Controls, bit 5 CMOS RTC Not Present.
 */
export const IAPC_BOOT_ARCH_LEGACY_DEVICES = 1 << 0;
export const IAPC_BOOT_ARCH_8042 = 1 << 1;
export const IAPC_BOOT_ARCH_VGA_NOT_PRESENT = 1 << 2;
export const IAPC_BOOT_ARCH_MSI_NOT_SUPPORTED = 1 << 3;
export const IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT = 1 << 5;

/** No VGA, no 8042 (bit clear), no CMOS RTC; MSI works; COM1 is described in the DSDT instead. */
export const IAPC_BOOT_ARCH_VIRT = IAPC_BOOT_ARCH_VGA_NOT_PRESENT | IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT;

/** P_LVL2_LAT > 100 and P_LVL3_LAT > 1000 mean "C2/C3 not supported". */
export const FADT_C2_NOT_SUPPORTED = 0x0fff;
export const FADT_C3_NOT_SUPPORTED = 0x0fff;

export interface FadtParams {
  /** Guest-physical address of the DSDT (below 4 GiB: it goes in both DSDT and X_DSDT). */
  readonly dsdtAddr: number;
  readonly resetReg: GenericAddress;
  readonly resetValue: number;
  readonly sleepControlReg: GenericAddress;
  readonly sleepStatusReg: GenericAddress;
  /** Up to 8 ASCII characters, stored as the 64-bit Hypervisor Vendor Identity. */
  readonly hypervisorVendor?: string;
}

export function buildFadt(p: FadtParams, oem?: OemInfo): Uint8Array {
  const t = new TableWriter('FACP', FADT_REVISION, oem)
    .u32(0) // [36] FIRMWARE_CTRL: no FACS
    .u32(p.dsdtAddr) // [40] DSDT
    .u8(0) // [44] Reserved
    .u8(0) // [45] Preferred_PM_Profile: unspecified
    .u16(0) // [46] SCI_INT: none on HW-reduced platforms
    .u32(0) // [48] SMI_CMD: no SMM, ACPI is always enabled
    .zeros(4) // [52] ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
    .zeros(32) // [56] PM1a/b EVT, PM1a/b CNT, PM2 CNT, PM_TMR, GPE0, GPE1 blocks: none
    .zeros(8) // [88] their lengths, GPE1_BASE, CST_CNT
    .u16(FADT_C2_NOT_SUPPORTED) // [96] P_LVL2_LAT
    .u16(FADT_C3_NOT_SUPPORTED) // [98] P_LVL3_LAT
    .zeros(4) // [100] FLUSH_SIZE, FLUSH_STRIDE
    .zeros(5) // [104] DUTY_OFFSET, DUTY_WIDTH, DAY_ALRM, MON_ALRM, CENTURY: no RTC
    .u16(IAPC_BOOT_ARCH_VIRT) // [109] IAPC_BOOT_ARCH
    .u8(0) // [111] Reserved
    .u32(FADT_VIRT_FLAGS) // [112] Flags
    .gas(p.resetReg) // [116] RESET_REG
    .u8(p.resetValue) // [128] RESET_VALUE
    .u16(0) // [129] ARM_BOOT_ARCH
    .u8(FADT_MINOR_REVISION) // [131] FADT Minor Version
    .u64(0) // [132] X_FIRMWARE_CTRL
    .u64(p.dsdtAddr) // [140] X_DSDT
    .zeros(8 * 12) // [148] X_PM1a/b EVT, X_PM1a/b CNT, X_PM2 CNT, X_PM_TMR, X_GPE0, X_GPE1: none
    .gas(p.sleepControlReg) // [244] SLEEP_CONTROL_REG
    .gas(p.sleepStatusReg) // [256] SLEEP_STATUS_REG
    .ascii(p.hypervisorVendor ?? '', 8, '\0'); // [268] Hypervisor Vendor Identity
  if (t.length !== FADT_SIZE) throw new Error(`FADT layout error: ${t.length} bytes`);
  return t.finish();
}
